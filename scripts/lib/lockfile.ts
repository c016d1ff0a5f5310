/**
 * upstream.lock: `key = "value"` lines (a TOML subset), comments with '#'. Parsed strictly, with
 * line numbers in errors, because every other step trusts it.
 *
 * Two kinds of pin. A release pins a tag (`tag`, `commit`). An edge pin pins a commit of upstream's
 * `main` past the newest tag we can verify (`branch = "main"`, `commit`, `date`, and `base`: the release
 * tag whose parent that commit descends from, which versions count from); only an explicit edge
 * release publishes it.
 */
import * as fs from 'node:fs';
import semver from 'semver';
import { UserError } from './errors.ts';

export interface UpstreamLock {
  repository: string;
  /**
   * The pin's name: the release tag, or for an edge pin `<branch>@<commit8>` (used in messages and
   * directory names; never a ref to fetch).
   */
  tag: string;
  commit: string;
  workspace: string;
  release: number;
  /** Set on an edge pin only. */
  edge?: EdgePin;
}

/** A commit of upstream's main that no tag we can verify names yet. */
export interface EdgePin {
  branch: string;
  /** The commit's date, YYYY-MM-DD (committer date, UTC). */
  date: string;
  /** The newest release tag whose commit's parent this commit descends from. */
  base: string;
}

const KEYS = ['repository', 'tag', 'branch', 'commit', 'date', 'base', 'workspace', 'release'] as const;
const REQUIRED = ['repository', 'commit', 'workspace', 'release'] as const;

export const isEdge = (lock: Pick<UpstreamLock, 'edge'>): boolean => lock.edge !== undefined;

/** `rust-v0.125.0 637f7dd6d737`, or `main @ 343074d4 (2026-08-22)`: what a binary says it was built from. */
export function describePin(lock: UpstreamLock): string {
  return lock.edge ? `${lock.edge.branch} @ ${lock.commit.slice(0, 8)} (${lock.edge.date})` : `${lock.tag} ${lock.commit.slice(0, 12)}`;
}

/** The release tag versions count from: the pinned tag, or an edge pin's base. */
export const versionTag = (lock: Pick<UpstreamLock, 'tag' | 'edge'>): string => lock.edge?.base ?? lock.tag;

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
  for (const key of REQUIRED) {
    if (!(key in values))
      throw new UserError(
        `${file}: missing \`${key}\``,
        `upstream.lock needs: ${REQUIRED.join(', ')}, and \`tag\` (a release) or \`branch\`, \`date\` and \`base\` (an edge pin).`,
      );
  }
  if (typeof values.release !== 'number') throw new UserError(`${file}: \`release\` must be a number`, 'e.g. release = 1');
  for (const key of KEYS.filter((k) => k !== 'release' && k in values)) {
    if (typeof values[key] !== 'string' || values[key] === '') {
      throw new UserError(`${file}: \`${key}\` must be a non-empty string`, `e.g. ${key} = "..."`);
    }
  }
  const str = (k: string): string | undefined => values[k] as string | undefined;
  const edgeKeys = (['branch', 'date', 'base'] as const).filter((k) => k in values);
  if ('tag' in values && edgeKeys.length > 0) {
    throw new UserError(
      `${file}: a pin is a release (\`tag\`) or an edge commit (\`branch\`, \`date\`, \`base\`), not both`,
      'Keep `tag` for a release, or `branch`/`date`/`base` for an edge pin of upstream main.',
    );
  }
  if (!('tag' in values) && edgeKeys.length < 3) {
    throw new UserError(
      `${file}: ${edgeKeys.length === 0 ? 'missing `tag`' : `an edge pin needs \`branch\`, \`date\` and \`base\` (missing ${(['branch', 'date', 'base'] as const).filter((k) => !(k in values)).join(', ')})`}`,
      'A release pins `tag = "rust-v0.125.0"`; an edge pin `branch = "main"`, `date = "2026-08-22"` and `base = "rust-v0.125.0"` (`upstream bump --to <commit>` writes them).',
    );
  }
  const commit = str('commit')!;
  const edge = 'tag' in values ? undefined : { branch: str('branch')!, date: str('date')!, base: str('base')! };
  if (edge && !/^\d{4}-\d{2}-\d{2}$/.test(edge.date)) throw new UserError(`${file}: date \`${edge.date}\` is not YYYY-MM-DD`, 'e.g. date = "2026-08-22"');
  if (edge && !/^[A-Za-z0-9._/-]+$/.test(edge.branch)) throw new UserError(`${file}: branch \`${edge.branch}\` is not a branch name`, 'e.g. branch = "main"');
  const lock: UpstreamLock = {
    repository: str('repository')!,
    tag: edge ? `${edge.branch}@${commit.slice(0, 8)}` : str('tag')!,
    commit,
    workspace: str('workspace')!,
    release: values.release as number,
    ...(edge ? { edge } : {}),
  };
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
  const pin = lock.edge
    ? [
        '# An EDGE pin: a commit of upstream main past the newest tag we can verify; only an explicit edge',
        '# release (`--channel edge`) publishes it. `base` is the tag whose parent it descends from.',
        `branch = "${lock.edge.branch}"`,
        `commit = "${lock.commit}"`,
        `date = "${lock.edge.date}"`,
        `base = "${lock.edge.base}"`,
      ]
    : [`tag = "${lock.tag}"`, `commit = "${lock.commit}"`];
  return [
    '# The one pin of upstream openai/codex. Everything (build, version, packages, release) reads it.',
    '# Change it with `npx tsx build.ts upstream bump <tag>` (or `--to <commit>` of main), which verifies the',
    '# commit and re-exports patches.',
    `repository = "${lock.repository}"`,
    ...pin,
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
