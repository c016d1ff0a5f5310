/**
 * CHANGELOG.md in the Keep a Changelog style: one `## [version] - date` section per release. A
 * release's notes are its section, word for word; a tag whose version has no section (or an empty
 * one) is refused, so no release goes out without saying what changed.
 */
import * as fs from 'node:fs';
import { UserError } from '../lib/errors.ts';

export interface ChangelogSection {
  version: string;
  date?: string;
  /** The section's text without its heading, trimmed; link references at the end of the file left out. */
  body: string;
}

const HEADING = /^## \[?([^\]\s]+)\]?(?:\s+-\s+(\S+))?\s*$/;

export function parseChangelog(text: string): ChangelogSection[] {
  const out: ChangelogSection[] = [];
  let cur: { version: string; date?: string; lines: string[] } | undefined;
  const close = (): void => {
    if (!cur) return;
    // Link reference definitions ([0.53.0-litellm.1]: https://...) belong to the file, not the section.
    const lines = cur.lines.filter((l) => !/^\[[^\]]+\]:\s+\S+/.test(l));
    out.push({ version: cur.version, date: cur.date, body: lines.join('\n').trim() });
  };
  for (const line of text.split(/\r?\n/)) {
    const m = HEADING.exec(line);
    if (m) {
      close();
      cur = { version: m[1]!, date: m[2], lines: [] };
    } else if (/^# /.test(line)) {
      close();
      cur = undefined;
    } else if (cur) cur.lines.push(line);
  }
  close();
  return out;
}

/** The notes for `version` (without a leading `v`). */
export function releaseNotes(text: string, version: string, file = 'CHANGELOG.md'): ChangelogSection {
  const v = version.replace(/^v/, '');
  const s = parseChangelog(text).find((x) => x.version === v);
  if (!s) {
    throw new UserError(
      `${file} has no section for ${v}`,
      `Add \`## [${v}] - YYYY-MM-DD\` with what changed (Keep a Changelog: Added / Changed / Fixed ...), then tag again.`,
    );
  }
  if (!s.body) throw new UserError(`${file}: the section for ${v} is empty`, 'Say what changed in this release.');
  return s;
}

export function readReleaseNotes(file: string, version: string): ChangelogSection {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new UserError(`cannot read ${file}: ${(e as Error).message}`, 'The release notes come from CHANGELOG.md at the top of the repo.');
  }
  return releaseNotes(text, version, file);
}
