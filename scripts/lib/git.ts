/**
 * Git access through the git CLI, synchronously: the orchestrator's git work is plumbing
 * (temporary indexes, partial-clone fetches by object id, batched stdin) where exit status and raw
 * bytes matter, and a wrapper library adds nothing but an async boundary.
 */
import { spawnSync } from 'node:child_process';

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


export interface RawResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** Run git directly; never throws for a non-zero exit. */
export function gitRaw(args: string[], opts: { cwd?: string; env?: Record<string, string>; input?: string | Buffer } = {}): RawResult {
  const r = spawnSync('git', ['-c', 'gc.auto=0', '-c', 'maintenance.auto=false', ...args], {
    cwd: opts.cwd,
    env: gitEnv(opts.env),
    input: opts.input,
    maxBuffer: 1024 * 1024 * 512,
    encoding: 'buffer',
  });
  if (r.error) throw r.error;
  return { status: r.status ?? 1, stdout: r.stdout.toString('utf8'), stderr: r.stderr.toString('utf8') };
}

/** Like gitRaw, but stdout as bytes (file contents). */
export function gitBytes(args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): { status: number; stdout: Buffer; stderr: string } {
  const r = spawnSync('git', ['-c', 'gc.auto=0', ...args], { cwd: opts.cwd, env: gitEnv(opts.env), maxBuffer: 1024 * 1024 * 512 });
  if (r.error) throw r.error;
  return { status: r.status ?? 1, stdout: r.stdout, stderr: r.stderr.toString('utf8') };
}

/** First meaningful line of git's stderr, for error messages. */
export function gitReason(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('hint:'));
  const fatal = lines.find((l) => l.startsWith('fatal:') || l.startsWith('error:'));
  return (fatal ?? lines[0] ?? 'unknown git error').replace(/^(fatal|error): /, '');
}

/** Read many blobs in one `git cat-file --batch` process (one spawn, not one per file). */
export function readBlobs(oids: string[], opts: { env?: Record<string, string> } = {}): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  if (oids.length === 0) return out;
  const r = spawnSync('git', ['cat-file', '--batch'], { env: gitEnv(opts.env), input: oids.join('\n') + '\n', maxBuffer: 1024 * 1024 * 1024 });
  if (r.error) throw r.error;
  const buf = r.stdout;
  let pos = 0;
  for (const oid of oids) {
    const nl = buf.indexOf(0x0a, pos);
    const header = buf.subarray(pos, nl).toString('utf8');
    const m = /^([0-9a-f]+) (\w+) (\d+)$/.exec(header);
    if (!m) throw new Error(`git cat-file --batch: ${header || r.stderr.toString()} (for ${oid})`);
    const size = Number(m[3]);
    out.set(oid, buf.subarray(nl + 1, nl + 1 + size));
    pos = nl + 1 + size + 1;
  }
  return out;
}
