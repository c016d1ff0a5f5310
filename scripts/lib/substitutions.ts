/**
 * Substitutions: a dependency of upstream that cannot be had here (a git fork with no snapshot or
 * mirror, or a crate whose build downloads a prebuilt library, like V8's) replaced by a named
 * crates.io version or a stub, plus a small compatibility patch of ours.
 *
 * Each one is a mail-format patch in patches/substitutions/<name>.patch whose trailers say what it
 * replaces and what Cargo.lock may gain because of it:
 *
 *   Substitutes: https://github.com/nornagon/crossterm 87db8bfa6dc99427fd3b071681b07fc31c6ce995
 *   With: crossterm 0.28.1 from crates.io
 *   Lock-Adds: crossterm 0.28.1
 *
 * or, for a crates.io crate that cannot be built here: `Substitutes: crate v8 146.4.0`.
 *
 * A substitution is never silent: it is only applied when asked for (--substitute, the
 * CODEX_LITELLM_SUBSTITUTE variable or `substitute` in the user file); the build output,
 * BUILDINFO.json and `codex-litellm --version` name it; the lock guard accepts exactly the packages
 * its Lock-Adds trailers list; and the release workflow refuses it (`--no-substitute`), since CI
 * reaches the real forks. Air-gapped users who cannot mirror a fork need exactly this.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from './errors.ts';
import { parsePatchFile, type PatchEntry } from './series.ts';

export interface Substitution {
  name: string;
  file: string;
  /** The git dependency (url, rev) or the crate (name, version) it replaces. */
  replaces: Replaced;
  /** What is used instead, in words (`crossterm 0.28.1 from crates.io`). */
  with: string;
  /** External packages Cargo.lock may gain (`name version`). */
  lockAdds: { name: string; version: string }[];
  /**
   * Upstream tests this substitution stops from working (`Disables-Tests: <crate> [<name substring>]`):
   * `npm run upstream-tests` records them as not run, substituted, instead of running them to fail.
   */
  disablesTests: { crate: string; filter?: string }[];
  subject: string;
}

export type Replaced = { kind: 'git'; url: string; rev: string } | { kind: 'crate'; name: string; version: string };

/** `https://github.com/nornagon/crossterm@87db8bfa6dc9`, or `v8 146.4.0 (crates.io)`. */
export function describeReplaced(r: Replaced): string {
  return r.kind === 'git' ? `${r.url}@${r.rev.slice(0, 12)}` : `${r.name} ${r.version} (crates.io)`;
}

/** What Cargo prints when it cannot get the replaced dependency: the fork's URL, or the crate's build failing. */
function cargoMentions(r: Replaced, cargoOutput: string): boolean {
  return r.kind === 'git' ? cargoOutput.includes(r.url.replace(/\.git$/, '')) : cargoOutput.includes(`${r.name} v${r.version}`);
}

export function substitutionsDir(patchesDir: string): string {
  return path.join(patchesDir, 'substitutions');
}

/** Every substitution the repo has, by name. A malformed one is an error: it would be asked for blind. */
export function availableSubstitutions(patchesDir: string): Substitution[] {
  const dir = substitutionsDir(patchesDir);
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.patch'))
    .sort()
    .map((f) => parseSubstitution(path.join(dir, f)));
}

export function parseSubstitution(file: string): Substitution {
  const name = path.basename(file, '.patch');
  const info = parsePatchFile(name, fs.readFileSync(file, 'utf8'));
  const trailer = (key: string): string[] => [...info.body.matchAll(new RegExp(`^${key}:\\s*(.+)$`, 'gm'))].map((m) => m[1]!.trim());
  const bad = (what: string): UserError =>
    new UserError(
      `patches/substitutions/${name}.patch: ${what}`,
      'A substitution patch needs `Substitutes: <git url> <rev>` (or `Substitutes: crate <name> <version>`), `With: <words>` and, for what Cargo.lock may gain, `Lock-Adds: <crate> <version>` trailers.',
    );
  const [subst] = trailer('Substitutes');
  const git = subst ? /^([a-z][a-z0-9+.-]*:\/\/\S+)\s+([0-9a-f]{7,40})$/.exec(subst) : null;
  const crate = subst ? /^crate\s+([A-Za-z0-9_-]+)\s+(\S+)$/.exec(subst) : null;
  if (!git && !crate) throw bad('no `Substitutes: <git url> <rev>` or `Substitutes: crate <name> <version>` trailer');
  const replaces: Replaced = git ? { kind: 'git', url: git[1]!, rev: git[2]! } : { kind: 'crate', name: crate![1]!, version: crate![2]! };
  const [withText] = trailer('With');
  if (!withText) throw bad('no `With:` trailer');
  const lockAdds = trailer('Lock-Adds').map((t) => {
    const parts = t.split(/\s+/);
    if (parts.length !== 2) throw bad(`\`Lock-Adds: ${t}\` is not \`<crate> <version>\``);
    return { name: parts[0]!, version: parts[1]! };
  });
  const disablesTests = trailer('Disables-Tests').map((t) => {
    const parts = t.split(/\s+/);
    if (parts.length > 2) throw bad(`\`Disables-Tests: ${t}\` is not \`<crate> [<test name substring>]\``);
    return parts[1] ? { crate: parts[0]!, filter: parts[1] } : { crate: parts[0]! };
  });
  return { name, file, replaces, with: withText, lockAdds, disablesTests, subject: info.subject };
}

/** Names asked for: flags > CODEX_LITELLM_SUBSTITUTE (comma-separated) > the user file. */
export function requestedSubstitutions(flags: string[], env: NodeJS.ProcessEnv, file: string[] | undefined): { names: string[]; origin: string } {
  const split = (list: string[]): string[] =>
    list
      .flatMap((s) => s.split(','))
      .map((s) => s.trim())
      .filter(Boolean);
  if (flags.length > 0) return { names: split(flags), origin: '--substitute' };
  if (env.CODEX_LITELLM_SUBSTITUTE) return { names: split([env.CODEX_LITELLM_SUBSTITUTE]), origin: 'CODEX_LITELLM_SUBSTITUTE' };
  if (file && file.length > 0) return { names: split(file), origin: 'the user file (`substitute`)' };
  return { names: [], origin: '' };
}

/** The substitutions to apply, checked against what exists; `forbid` is the release workflow's guard. */
export function resolveSubstitutions(patchesDir: string, requested: { names: string[]; origin: string }, forbid: boolean): Substitution[] {
  if (requested.names.length === 0) return [];
  if (forbid) {
    throw new UserError(
      `${requested.origin} asks for substitution(s) ${requested.names.join(', ')}, but --no-substitute forbids them`,
      'Release builds use the real git dependencies; unset the substitution (flag, CODEX_LITELLM_SUBSTITUTE, or `substitute` in the user file).',
    );
  }
  const available = availableSubstitutions(patchesDir);
  const out: Substitution[] = [];
  for (const name of [...new Set(requested.names)]) {
    const s = available.find((a) => a.name === name);
    if (!s) {
      throw new UserError(
        `${requested.origin}: there is no substitution \`${name}\``,
        available.length
          ? `Known: ${available.map((a) => `${a.name} (${a.with} for ${describeReplaced(a.replaces)})`).join('; ')}.`
          : 'This upstream pin needs none (patches/substitutions/ is empty).',
      );
    }
    out.push(s);
  }
  // One order whatever order they were asked in: the series hash and --version must not depend on it.
  return out.sort((a, b) => (a.name < b.name ? -1 : 1));
}

/** Patch entries to apply after the series (in name order; they touch disjoint lines). */
export function substitutionEntries(subs: Substitution[]): PatchEntry[] {
  return subs.map((s) => ({ name: `substitutions/${s.name}.patch`, file: s.file, line: 0 }));
}

/** The one line the build output and --version carry. */
export function describeSubstitutions(subs: Substitution[]): string {
  return subs.map((s) => `${s.name} (${s.with})`).join(', ');
}

/** When Cargo could not fetch a git dependency (or build a crate) that has a substitution: say how to use it. */
export function substitutionHint(patchesDir: string, cargoOutput: string): string | undefined {
  let available: Substitution[];
  try {
    available = availableSubstitutions(patchesDir);
  } catch {
    return undefined;
  }
  const hit = available.filter((s) => cargoMentions(s.replaces, cargoOutput));
  if (hit.length === 0) return undefined;
  const what = hit
    .map((s) => (s.replaces.kind === 'git' ? `a mirror of ${s.replaces.url}` : `what ${s.replaces.name} ${s.replaces.version} downloads`))
    .join(' or ');
  return `Without ${what}, build with ${hit.map((s) => `--substitute ${s.name} (${s.with})`).join(' and ')}; the build then says so in --version and BUILDINFO.json.`;
}
