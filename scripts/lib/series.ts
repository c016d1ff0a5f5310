/**
 * The patch series: `patches/series` is the order file (one patch name a line, '#' comments), each
 * patch is a mail-format file (git format-patch) whose message says why it exists and whether it
 * could go upstream (an `Upstream:` trailer).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parsePatch, type StructuredPatch } from 'diff';
import { UserError } from './errors.ts';
import { sha256 } from './fs.ts';

export interface PatchEntry {
  name: string;
  file: string;
  /** 1-based line in the series file. */
  line: number;
}

export interface PatchInfo {
  name: string;
  subject: string;
  author: string;
  body: string;
  upstream: string | undefined;
  files: string[];
  hunks: StructuredPatch[];
  sha256: string;
}

export interface LintProblem {
  kind: 'missing' | 'unused' | 'duplicate' | 'bad-name' | 'malformed' | 'outside-workspace' | 'touches-crates' | 'empty-series';
  message: string;
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*\.patch$/;

export function readSeries(seriesFile: string): PatchEntry[] {
  let text: string;
  try {
    text = fs.readFileSync(seriesFile, 'utf8');
  } catch {
    throw new UserError(`cannot read ${seriesFile}`, 'patches/series lists the patches in order; create it (it may list none).');
  }
  const dir = path.dirname(seriesFile);
  const out: PatchEntry[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const name = raw.replace(/#.*$/, '').trim();
    if (name) out.push({ name, file: path.join(dir, name), line: i + 1 });
  });
  return out;
}

/** The part of a mail-format patch that `diff` can parse: from the first `diff --git` line on. */
function diffPart(text: string): string {
  const i = text.search(/^diff --git /m);
  return i < 0 ? '' : text.slice(i).replace(/\n-- \n[\s\S]*$/, '\n');
}

export function parsePatchFile(name: string, text: string): PatchInfo {
  const head = text.search(/^diff --git /m) < 0 ? text : text.slice(0, text.search(/^diff --git /m));
  const subjectMatch = /^Subject: (?:\[PATCH[^\]]*\] )?(.+(?:\n [^\n]+)*)/m.exec(head);
  const authorMatch = /^From: (.+)$/m.exec(head);
  // The message body: after the header block's blank line, up to the '---' separator.
  const afterHeaders = head.split(/\n\n/).slice(1).join('\n\n');
  const body = afterHeaders
    .replace(/\n---\n[\s\S]*$/, '')
    .replace(/\n---$/, '')
    .trim();
  const upstream = /^Upstream:\s*(.+)$/m.exec(body)?.[1]?.trim();
  let hunks: StructuredPatch[] = [];
  try {
    hunks = parsePatch(diffPart(text));
  } catch (e) {
    throw new UserError(`patch ${name} cannot be parsed: ${(e as Error).message}`, 'Regenerate it with `npx tsx build.ts patches export`.');
  }
  const files = new Set<string>();
  for (const h of hunks) {
    for (const f of [h.oldFileName, h.newFileName]) {
      if (f && f !== '/dev/null') files.add(f.replace(/^[ab]\//, ''));
    }
  }
  // Binary and mode-only changes have no hunks for `diff`; take their paths from git's headers.
  for (const m of text.matchAll(/^diff --git a\/(\S+) b\/(\S+)$/gm)) files.add(m[2]!);
  return {
    name,
    subject: subjectMatch ? subjectMatch[1]!.replace(/\n /g, ' ').trim() : '',
    author: authorMatch?.[1]?.trim() ?? '',
    body,
    upstream,
    files: [...files].sort(),
    hunks,
    sha256: sha256(text),
  };
}

export interface Series {
  entries: PatchEntry[];
  patches: PatchInfo[];
}

/** Read the series and every patch it names; throws on a missing patch (the build cannot go on). */
export function loadSeries(seriesFile: string): Series {
  const entries = readSeries(seriesFile);
  const patches = entries.map((e) => {
    if (!fs.existsSync(e.file)) {
      throw new UserError(`patches/series:${e.line} names ${e.name}, which does not exist`, 'Add the patch, or remove the line from patches/series.');
    }
    return parsePatchFile(e.name, fs.readFileSync(e.file, 'utf8'));
  });
  return { entries, patches };
}

/** Lint the series without touching upstream: names, headers, paths. */
export function lintSeries(seriesFile: string, workspace: string, crateDir: string): LintProblem[] {
  const problems: LintProblem[] = [];
  const entries = readSeries(seriesFile);
  const dir = path.dirname(seriesFile);
  const seen = new Map<string, number>();
  for (const e of entries) {
    if (seen.has(e.name)) {
      problems.push({ kind: 'duplicate', message: `patches/series:${e.line}: ${e.name} is already listed at line ${seen.get(e.name)}` });
      continue;
    }
    seen.set(e.name, e.line);
    if (!NAME_RE.test(e.name)) {
      problems.push({
        kind: 'bad-name',
        message: `patches/series:${e.line}: \`${e.name}\` is not a patch file name (letters, digits, . _ -, ending in .patch)`,
      });
      continue;
    }
    if (!fs.existsSync(e.file)) {
      problems.push({ kind: 'missing', message: `patches/series:${e.line}: ${e.name} does not exist` });
      continue;
    }
    const text = fs.readFileSync(e.file, 'utf8');
    if (!/^From [0-9a-f]{40} /.test(text)) {
      problems.push({ kind: 'malformed', message: `${e.name}: not a mail-format patch (no leading \`From <sha>\` line); export it with \`patches export\`` });
      continue;
    }
    const info = parsePatchFile(e.name, text);
    if (!info.subject) problems.push({ kind: 'malformed', message: `${e.name}: no Subject: header` });
    if (!info.author) problems.push({ kind: 'malformed', message: `${e.name}: no From: header` });
    const why = info.body.replace(/^Upstream:.*$/m, '').trim();
    if (!why) problems.push({ kind: 'malformed', message: `${e.name}: the message does not say why the patch exists` });
    if (!info.upstream) problems.push({ kind: 'malformed', message: `${e.name}: no \`Upstream:\` trailer (say whether it could go upstream)` });
    if (info.files.length === 0) problems.push({ kind: 'malformed', message: `${e.name}: changes no file` });
    for (const f of info.files) {
      if (!f.startsWith(`${workspace}/`)) {
        problems.push({ kind: 'outside-workspace', message: `${e.name}: touches ${f}, outside the workspace ${workspace}/ that is built` });
      } else if (f.startsWith(`${workspace}/${crateDir}/`)) {
        problems.push({ kind: 'touches-crates', message: `${e.name}: touches ${f}; our crates live in litellm/crates/ and are placed there, not patched in` });
      }
    }
  }
  if (fs.existsSync(dir)) {
    for (const f of fs
      .readdirSync(dir)
      .filter((n) => n.endsWith('.patch'))
      .sort()) {
      if (!seen.has(f)) problems.push({ kind: 'unused', message: `patches/${f} is not listed in patches/series` });
    }
  }
  return problems;
}

/** Where in a patch a failure at `file:line` (old-file line, as git reports it) is. */
export function locateHunk(info: PatchInfo, file: string, line?: number): string {
  const fp = info.hunks.find((h) => [h.oldFileName, h.newFileName].some((n) => n?.replace(/^[ab]\//, '') === file));
  if (!fp || fp.hunks.length === 0) return file;
  const idx =
    line === undefined
      ? 0
      : Math.max(
          0,
          fp.hunks.findIndex((h) => h.oldStart === line),
        );
  const h = fp.hunks[idx]!;
  return `${file}, hunk #${idx + 1} (@@ -${h.oldStart},${h.oldLines} +${h.newStart},${h.newLines} @@)`;
}
