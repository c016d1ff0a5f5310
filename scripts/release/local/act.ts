/**
 * act (nektos/act), the runner that executes a GitHub workflow file locally, and the pinned
 * actions it needs. act is built from its Go module, pinned, once per machine into the cache
 * (no registry ships its binary):
 *
 *   GOBIN=~/.cache/codex-litellm/tools/act-v0.2.89 go install github.com/nektos/act@v0.2.89
 *
 * CODEX_LITELLM_ACT=/path/to/act uses another binary. Each `uses: owner/name@<sha>` of the
 * workflow is served from a local mirror of that repository (a git directory, e.g. one brought by
 * `git clone --mirror`), exported at exactly the pinned commit into the run's directory and handed
 * to act with --local-repository. Where the mirror's commit lacks the action's own code (a snapshot
 * that leaves out large bundled files) and we have a stand-in (./actions/README.md), the stand-in
 * is used and the run says so.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';
import { UserError } from '../../lib/errors.ts';
import { defaultCacheDir, REPO_ROOT } from '../../lib/project.ts';

export const ACT = { version: 'v0.2.89', module: 'github.com/nektos/act' } as const;
export const STAND_INS_DIR = path.join(REPO_ROOT, 'scripts', 'release', 'local', 'actions');
/** Actions that can never run here, whatever the mirror holds: they need GitHub's OIDC token. */
export const NEEDS_OIDC = new Set(['actions/attest-build-provenance']);

export function actDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(defaultCacheDir(env), 'tools', `act-${ACT.version}`);
}

function actVersion(bin: string): string | undefined {
  const r = spawnSync(bin, ['--version'], { encoding: 'utf8' });
  const m = r.status === 0 ? /act version (\S+)/.exec(r.stdout) : null;
  return m ? `v${m[1]}` : undefined;
}

/** The act binary, installing the pinned one with Go when needed. */
export function ensureAct(env: NodeJS.ProcessEnv = process.env, log: (s: string) => void = () => {}): { bin: string; version: string } {
  if (env.CODEX_LITELLM_ACT) {
    const v = actVersion(env.CODEX_LITELLM_ACT);
    if (!v) throw new UserError(`CODEX_LITELLM_ACT=${env.CODEX_LITELLM_ACT} does not run`);
    return { bin: env.CODEX_LITELLM_ACT, version: v };
  }
  const bin = path.join(actDir(env), 'act');
  if (fs.existsSync(bin) && actVersion(bin) === ACT.version) return { bin, version: ACT.version };
  if (spawnSync('go', ['version'], { stdio: 'ignore' }).status !== 0)
    throw new UserError(
      `act ${ACT.version} is not installed and Go is not there to build it`,
      'Install Go (1.24 or newer), or set CODEX_LITELLM_ACT=/path/to/act.',
    );
  log(`building act ${ACT.version} from its Go module (once per machine, a few minutes)`);
  fs.mkdirSync(actDir(env), { recursive: true });
  const r = spawnSync('go', ['install', `${ACT.module}@${ACT.version}`], {
    encoding: 'utf8',
    env: { ...env, GOBIN: actDir(env), CGO_ENABLED: '0', GOFLAGS: '-mod=mod' },
    timeout: 1_200_000,
  });
  if (r.status !== 0 || actVersion(bin) !== ACT.version)
    throw new UserError(`go install ${ACT.module}@${ACT.version} failed:\n${(r.stderr || r.stdout).trim().split('\n').slice(-10).join('\n')}`);
  return { bin, version: ACT.version };
}

export interface PinnedAction {
  /** owner/name */
  action: string;
  sha: string;
  /** The `# vX.Y.Z` comment. */
  version: string;
}

/** Every distinct `uses: owner/name@<sha> # vX.Y.Z` of a workflow file. */
export function pinnedActions(workflowText: string): PinnedAction[] {
  const out = new Map<string, PinnedAction>();
  for (const m of workflowText.matchAll(/^\s*(?:-\s+)?uses:\s*["']?([\w.-]+\/[\w.-]+)@([0-9a-f]{40})["']?\s*(?:#\s*(\S+))?/gm)) {
    out.set(`${m[1]}@${m[2]}`, { action: m[1]!, sha: m[2]!, version: m[3] ?? '' });
  }
  return [...out.values()];
}

/** The git directory mirroring `owner/name` under `mirrors`, in any of the usual layouts. */
export function findMirror(mirrors: string, action: string): string | undefined {
  const [owner, name] = action.split('/') as [string, string];
  for (const c of [`${owner}+${name}/repo`, `${owner}+${name}`, `${owner}+${name}.git`, `${owner}/${name}`, `${owner}/${name}.git`]) {
    const dir = path.join(mirrors, c);
    if (fs.existsSync(dir) && spawnSync('git', ['--git-dir', dir, 'rev-parse', '--git-dir'], { stdio: 'ignore' }).status === 0) return dir;
    const work = path.join(dir, '.git');
    if (fs.existsSync(work)) return work;
  }
  return undefined;
}

function git(gitDir: string, args: string[], input?: string): string {
  const r = spawnSync('git', ['--git-dir', gitDir, ...args], { encoding: 'utf8', input, maxBuffer: 256 * 1024 * 1024 });
  if (r.status !== 0) throw new UserError(`git ${args.join(' ')} in ${gitDir} failed: ${r.stderr.trim()}`);
  return r.stdout;
}

export interface ServedAction extends PinnedAction {
  dir: string;
  how: 'mirror' | 'stand-in';
  why?: string;
}

/** The files an action.yml runs (main, pre, post of a JavaScript action). */
function entryPoints(actionYml: string): string[] {
  const doc = parse(actionYml) as { runs?: Record<string, unknown> };
  const runs = doc.runs ?? {};
  return ['main', 'pre', 'post'].map((k) => runs[k]).filter((v): v is string => typeof v === 'string');
}

/**
 * Export `a` at its pinned commit from the mirror into `outDir`, or choose its stand-in. Throws,
 * naming what to do, when neither can serve it.
 */
export function serveAction(a: PinnedAction, mirrors: string | undefined, outDir: string, standIns = STAND_INS_DIR): ServedAction {
  const standIn = path.join(standIns, a.action.split('/')[1]!);
  const hasStandIn = fs.existsSync(path.join(standIn, 'action.yml'));
  if (NEEDS_OIDC.has(a.action)) {
    if (!hasStandIn) throw new UserError(`${a.action} needs GitHub's OIDC token and has no local stand-in`);
    return { ...a, dir: standIn, how: 'stand-in', why: 'needs GitHub OIDC' };
  }
  const mirror = mirrors ? findMirror(mirrors, a.action) : undefined;
  const hint = `Put a git mirror of https://github.com/${a.action} (with commit ${a.sha}) under ${mirrors ?? 'a directory'} as ${a.action.replace('/', '+')}/repo or ${a.action}.git, and pass that directory with --actions (or CODEX_LITELLM_ACTION_MIRRORS).`;
  if (!mirror) throw new UserError(`no local mirror of ${a.action} (pinned ${a.version} ${a.sha})`, hint);
  if (spawnSync('git', ['--git-dir', mirror, 'cat-file', '-e', `${a.sha}^{commit}`], { stdio: 'ignore' }).status !== 0)
    throw new UserError(`the mirror ${mirror} of ${a.action} has no commit ${a.sha} (${a.version})`, hint);
  // Blobs the mirror lacks (snapshots leave out files of 4 MiB and more).
  const tree = git(mirror, ['ls-tree', '-r', '-z', a.sha])
    .split('\0')
    .filter(Boolean)
    .map((l) => {
      const [meta, file] = l.split('\t') as [string, string];
      return { oid: meta.split(' ')[2]!, type: meta.split(' ')[1]!, file };
    })
    .filter((e) => e.type === 'blob');
  const check = git(mirror, ['cat-file', '--batch-check'], `${tree.map((e) => e.oid).join('\n')}\n`).split('\n');
  const missingOids = new Set(check.filter((l) => l.endsWith(' missing')).map((l) => l.split(' ')[0]!));
  const missing = tree.filter((e) => missingOids.has(e.oid)).map((e) => e.file);
  const actionYml = ['action.yml', 'action.yaml'].find((f) => tree.some((e) => e.file === f) && !missing.includes(f));
  if (!actionYml) throw new UserError(`${a.action}@${a.sha} in ${mirror} has no action.yml`);
  const needed = entryPoints(git(mirror, ['show', `${a.sha}:${actionYml}`]));
  const lacking = needed.filter((f) => missing.includes(path.posix.normalize(f)));
  if (lacking.length) {
    const why = `the mirror lacks its bundled code at ${a.sha.slice(0, 12)} (${lacking.join(', ')})`;
    if (hasStandIn) return { ...a, dir: standIn, how: 'stand-in', why };
    throw new UserError(`${a.action} cannot be served: ${why}, and there is no local stand-in`, hint);
  }
  const dir = path.join(outDir, `${a.action.replace('/', '+')}@${a.sha}`);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const archive = spawnSync('git', ['--git-dir', mirror, 'archive', '--format=tar', a.sha, '--', '.', ...missing.map((f) => `:(exclude)${f}`)], {
    maxBuffer: 512 * 1024 * 1024,
  });
  if (archive.status !== 0) throw new UserError(`git archive of ${a.action}@${a.sha} failed: ${archive.stderr.toString().trim()}`);
  const untar = spawnSync('tar', ['-x', '-C', dir], { input: archive.stdout });
  if (untar.status !== 0) throw new UserError(`unpacking ${a.action}@${a.sha} failed: ${untar.stderr.toString().trim()}`);
  return { ...a, dir, how: 'mirror' };
}
