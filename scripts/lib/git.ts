/**
 * Git access through the git CLI, synchronously: the orchestrator's git work is plumbing
 * (temporary indexes, partial-clone fetches by object id, batched stdin) where exit status and raw
 * bytes matter, and a wrapper library adds nothing but an async boundary. Every git process of
 * the orchestrator starts here (as Electron's script/lib/git.py owns am and format-patch).
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { UserError } from './errors.ts';

/** No background gc or maintenance in the caches and worktrees we drive. */
const QUIET_CONFIG = ['-c', 'gc.auto=0', '-c', 'maintenance.auto=false'];

/** Identity for commits we make, so `git am` works on machines with no git identity set. */
export const IDENTITY = {
  GIT_COMMITTER_NAME: 'codex-litellm',
  GIT_COMMITTER_EMAIL: 'codex-litellm@users.noreply.github.com',
};

/** Environment that keeps git quiet and deterministic: no prompts, no pager, no background gc. */
export function gitEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  return {
    ...env,
    GIT_TERMINAL_PROMPT: '0',
    GIT_PAGER: 'cat',
    GIT_AUTO_GC: '0',
    LC_ALL: 'C',
    ...extra,
  };
}

/** What a git process needs to work on a temporary index of a repository instead of its own (a type, so it is a Record of strings). */
export type ScratchIndex = { GIT_DIR: string; GIT_INDEX_FILE: string };

/**
 * Runs `fn` with a temporary index for `gitDir` (read-tree, apply --cached, write-tree without a
 * checkout). The index sits in a directory of its own, which `fn` may use for other scratch files;
 * the directory is removed afterwards, whatever happens.
 */
export function withScratchIndex<T>(gitDir: string, fn: (env: ScratchIndex, dir: string) => T): T {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'codex-litellm-index-'));
  try {
    return fn({ GIT_INDEX_FILE: path.join(dir, 'index'), GIT_DIR: gitDir }, dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export interface RawResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** Run git directly; never throws for a non-zero exit. */
export function gitRaw(args: string[], opts: { cwd?: string; env?: Record<string, string>; input?: string | Buffer } = {}): RawResult {
  const r = spawnSync('git', [...QUIET_CONFIG, ...args], {
    cwd: opts.cwd,
    env: gitEnv(opts.env),
    // With encoding 'buffer', spawnSync takes no string input.
    input: typeof opts.input === 'string' ? Buffer.from(opts.input) : opts.input,
    maxBuffer: 1024 * 1024 * 512,
    encoding: 'buffer',
  });
  if (r.error) throw r.error;
  return { status: r.status ?? 1, stdout: r.stdout.toString('utf8'), stderr: r.stderr.toString('utf8') };
}

/** Like gitRaw, but stdout as bytes (file contents, archives, merge results). */
export function gitBytes(
  args: string[],
  opts: { cwd?: string; env?: Record<string, string>; input?: string | Buffer; maxBuffer?: number } = {},
): { status: number; stdout: Buffer; stderr: string } {
  const r = spawnSync('git', [...QUIET_CONFIG, ...args], {
    cwd: opts.cwd,
    env: gitEnv(opts.env),
    input: opts.input,
    maxBuffer: opts.maxBuffer ?? 1024 * 1024 * 512,
  });
  if (r.error) throw r.error;
  return { status: r.status ?? 1, stdout: r.stdout, stderr: r.stderr.toString('utf8') };
}

/** Run git or throw a UserError `<what>: <git's reason>`; returns stdout. */
export function gitOk(args: string[], what: string, opts: { cwd?: string; env?: Record<string, string>; input?: string | Buffer; hint?: string } = {}): string {
  const r = gitRaw(args, opts);
  if (r.status !== 0) throw new UserError(`${what}: ${gitReason(r.stderr)}`, opts.hint);
  return r.stdout;
}

/**
 * Replay patch files as commits in the worktree `dir` (`git am`, carriage returns kept, committer
 * date = author date so the same series gives the same commits). `threeWay` lets patches that only
 * need a merge go in and stops on a conflict with markers. No patches: nothing runs, status 0.
 */
export function amPatches(dir: string, files: string[], opts: { threeWay?: boolean } = {}): RawResult {
  if (files.length === 0) return { status: 0, stdout: '', stderr: '' };
  const args = ['-C', dir, 'am', '--quiet', ...(opts.threeWay ? ['--3way'] : []), '--keep-cr', '--committer-date-is-author-date', ...files];
  return gitRaw(args, { env: IDENTITY });
}

/** First meaningful line of git's stderr, for error messages. */
export function gitReason(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('hint:'));
  const fatal = lines.find((l) => l.startsWith('fatal:') || l.startsWith('error:'));
  return (fatal ?? lines[0] ?? 'unknown git error').replace(/^(fatal|error): /, '');
}

/** Read many blobs in one `git cat-file --batch` process (one spawn, not one per file). */
export function readBlobs(oids: string[], opts: { env?: Record<string, string> } = {}): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  if (oids.length === 0) return out;
  const r = gitBytes(['cat-file', '--batch'], { env: opts.env, input: oids.join('\n') + '\n', maxBuffer: 1024 * 1024 * 1024 });
  const buf = r.stdout;
  let pos = 0;
  for (const oid of oids) {
    const nl = buf.indexOf(0x0a, pos);
    const header = buf.subarray(pos, nl).toString('utf8');
    const m = /^([0-9a-f]+) (\w+) (\d+)$/.exec(header);
    if (!m) throw new Error(`git cat-file --batch: ${header || r.stderr} (for ${oid})`);
    const size = Number(m[3]);
    out.set(oid, buf.subarray(nl + 1, nl + 1 + size));
    pos = nl + 1 + size + 1;
  }
  return out;
}

/** One reading of git's progress meter ("Receiving objects:  45% (1234/2742), 1.20 MiB | 2.40 MiB/s"). */
export interface GitProgress {
  /** "Receiving objects", "Resolving deltas", "Counting objects" (remote: left out)... */
  phase: string;
  percent?: number;
  done?: number;
  total?: number;
  /** "1.20 MiB", "2.40 MiB/s" as git prints them. */
  bytes?: string;
  rate?: string;
}

const PROGRESS = /^(?:remote: )?([A-Z][a-z]+(?: [a-z]+)*):\s+(?:(\d+)% \((\d+)\/(\d+)\)|(\d+))(?:, ([\d.]+ [KMGT]?i?B)(?: \| ([\d.]+ [KMGT]?i?B\/s))?)?/;

/**
 * git's progress meter, which it has only as text on stderr (each reading ends in `\r`, a phase's
 * last in `, done.\n`); undefined for any other line.
 */
export function parseGitProgress(line: string): GitProgress | undefined {
  const m = PROGRESS.exec(line.trim());
  if (!m) return undefined;
  const [, phase, pct, done, total, count, bytes, rate] = m;
  return {
    phase: phase!,
    ...(pct !== undefined ? { percent: Number(pct), done: Number(done), total: Number(total) } : { done: Number(count) }),
    ...(bytes ? { bytes } : {}),
    ...(rate ? { rate } : {}),
  };
}

/**
 * A git command that can take long (a fetch), asynchronously and with `--progress`, so its meter
 * reaches `onProgress` while the caller's display keeps drawing. The result is gitRaw's, with the
 * meter's lines left out of stderr so error messages read as they do without it.
 */
export function gitWithProgress(
  args: string[],
  onProgress: (p: GitProgress) => void,
  opts: { cwd?: string; env?: Record<string, string> } = {},
): Promise<RawResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', [...QUIET_CONFIG, ...args], { cwd: opts.cwd, env: gitEnv(opts.env), stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const kept: string[] = [];
    let rest = '';
    const take = (text: string): void => {
      const parts = (rest + text).split(/\r|\n/);
      rest = parts.pop() ?? '';
      for (const line of parts) {
        const p = parseGitProgress(line);
        if (p) onProgress(p);
        else if (line) kept.push(line);
      }
    };
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => take(c.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => {
      take('\n');
      resolve({ status: code ?? 1, stdout: Buffer.concat(out).toString('utf8'), stderr: kept.map((l) => `${l}\n`).join('') });
    });
  });
}
