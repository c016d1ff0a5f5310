/**
 * upstream.lock: `key = "value"` lines (a TOML subset), comments with '#'. Parsed strictly, with
 * line numbers in errors, because every other step trusts it.
 */
import * as fs from 'node:fs';
import semver from 'semver';
import { UserError } from './errors.ts';

export interface UpstreamLock {
  repository: string;
  tag: string;
  commit: string;
  workspace: string;
  release: number;
}

const KEYS = ['repository', 'tag', 'commit', 'workspace', 'release'] as const;

export function parseLock(text: string, file = 'upstream.lock'): UpstreamLock {
  const values: Record<string, string | number> = {};
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    const line = raw.replace(/\s+#.*$/, '').trim();
    if (line === '' || line.startsWith('#')) return;
    const m = /^([a-z_]+)\s*=\s*(?:"([^"\\]*)"|(\d+))$/.exec(line);
    const where = `${file}:${i + 1}`;
    if (!m) {
      throw new UserError(`${where}: cannot parse \`${raw.trim()}\``, 'Each line is `key = "value"` (or `release = <number>`); comments start with #.');
    }
    const key = m[1]!;
    if (!(KEYS as readonly string[]).includes(key)) {
      throw new UserError(`${where}: unknown key \`${key}\``, `Known keys: ${KEYS.join(', ')}.`);
    }
    if (key in values) throw new UserError(`${where}: \`${key}\` is set twice`, 'Keep one line per key.');
    values[key] = m[2] !== undefined ? m[2] : Number(m[3]);
  });
  for (const key of KEYS) {
    if (!(key in values)) throw new UserError(`${file}: missing \`${key}\``, `upstream.lock needs: ${KEYS.join(', ')}.`);
  }
  const lock = values as unknown as UpstreamLock;
  if (typeof lock.release !== 'number') throw new UserError(`${file}: \`release\` must be a number`, 'e.g. release = 1');
  for (const key of ['repository', 'tag', 'commit', 'workspace'] as const) {
    if (typeof lock[key] !== 'string' || lock[key] === '') {
      throw new UserError(`${file}: \`${key}\` must be a non-empty string`, `e.g. ${key} = "..."`);
    }
  }
  if (!/^[0-9a-f]{40}$/.test(lock.commit)) {
    throw new UserError(`${file}: commit \`${lock.commit}\` is not a full 40-character hex SHA-1`, 'Pin the full commit hash the tag points to.');
  }
  if (lock.workspace.startsWith('/') || lock.workspace.split('/').includes('..')) {
    throw new UserError(`${file}: workspace \`${lock.workspace}\` must be a relative path inside the repository`, 'e.g. workspace = "codex-rs"');
  }
  return lock;
}

export function readLock(file: string): UpstreamLock {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new UserError(`cannot read ${file}: ${(e as Error).message}`, 'Run from a checkout of codex-litellm (upstream.lock is at its top level).');
  }
  return parseLock(text, file);
}

export function renderLock(lock: UpstreamLock): string {
  return [
    '# The one pin of upstream openai/codex. Everything (build, version, packages, release) reads it.',
    '# Change it with `npx tsx build.ts upstream bump <tag>`, which verifies the commit and re-exports patches.',
    `repository = "${lock.repository}"`,
    `tag = "${lock.tag}"`,
    `commit = "${lock.commit}"`,
    `workspace = "${lock.workspace}"`,
    `# Our own release counter on top of the upstream tag (0.53.0 + release 1 -> 0.53.0-litellm.1).`,
    `release = ${lock.release}`,
    '',
  ].join('\n');
}

/** Upstream's version from its tag: rust-v0.53.0 -> 0.53.0. */
export function upstreamVersion(tag: string): string {
  const v = semver.valid(semver.coerce(tag.replace(/^rust-v/, ''), { includePrerelease: true }) ?? '');
  const exact = tag.replace(/^rust-v/, '');
  if (semver.valid(exact)) return exact;
  if (!v) throw new UserError(`tag \`${tag}\` does not carry a version`, 'Upstream release tags look like rust-v0.53.0.');
  return v;
}
