/**
 * `npm run release:local`: .github/workflows/release.yml, run on this machine as GitHub would run
 * it for the version tag, with every outside service replaced by a real local one:
 *
 *   - the runner: act (./act.ts) in self-hosted mode, every pinned action from a local mirror at its
 *     pinned commit (or a stand-in, named in the summary, where the mirror cannot serve it);
 *   - npm: verdaccio on 127.0.0.1 (./registry.ts), our scope sent to it;
 *   - GitHub releases: the local API (./github-api.ts), which keeps every upload;
 *   - attestations and npm provenance need GitHub's OIDC token: "skipped: needs GitHub OIDC".
 *
 * The workflow file is the only list of steps: act reads and runs it. The build matrix is cut to
 * the targets this machine has built (dist/<triple>/ with a BUILDINFO.json: the host and any other
 * Linux target), and the Build step takes those binaries (CODEX_LITELLM_PREBUILT) instead of a
 * second Cargo build. Afterwards the run checks the release against dist/ (each archive's binary is
 * dist's, SHA256SUMS matches every asset), installs @avikalpa/codex-litellm from the registry into a
 * fresh prefix and runs `codex-litellm --version`.
 *
 *   npm run release:local -- [--actions <mirrors dir>] [--targets <t,...>] [--dir <run dir>] [--fresh]
 *
 * The run directory (default ~/.cache/codex-litellm/release-local) keeps the registry's storage and
 * the local GitHub's releases between runs, like the real services: a second run of the same
 * version is refused (the release job says the release is already published). --fresh starts over.
 * It runs the committed tree (HEAD, in a clone): commit first.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { contextVersion, makeContext } from '../../lib/context.ts';
import { describeError, UserError } from '../../lib/errors.ts';
import type { BuildInfo } from '../../lib/plan.ts';
import { defaultCacheDir, REPO_ROOT } from '../../lib/project.ts';
import { ciMatrix } from '../../lib/ci-matrix.ts';
import { hostTriple } from '../../lib/host.ts';
import { NPM_MAIN, TARGETS, type Target } from '../../lib/targets.ts';
import { HOMEPAGE } from '../../package/metadata.ts';
import { LOCAL_RELEASE_ENV, NO_OIDC } from '../release.ts';
import { ensureAct, pinnedActions, STAND_INS_DIR, serveAction, type ServedAction } from './act.ts';
import { LocalGitHub } from './github-api.ts';
import { startRegistry } from './registry.ts';

const WORKFLOW = path.join('.github', 'workflows', 'release.yml');

export interface JobResult {
  job: string;
  ok: boolean;
}

/** The targets dist/ holds a build of (binary and BUILDINFO.json) that can run in this Linux job. */
export function builtTargets(distDir: string, only?: string[]): Target[] {
  const built = TARGETS.filter((t) => {
    const dir = path.join(distDir, t.triple);
    return fs.existsSync(path.join(dir, `codex-litellm${t.exe}`)) && fs.existsSync(path.join(dir, 'BUILDINFO.json'));
  });
  const usable = built.filter((t) => t.triple.includes('-linux-') || t.triple === hostTriple());
  if (!only?.length) return usable;
  const chosen = only.map((o) => TARGETS.find((t) => t.triple === o || t.alias === o));
  const unknown = only.filter((_, i) => !chosen[i]);
  if (unknown.length) throw new UserError(`unknown target ${unknown.join(', ')}`, `Targets: ${TARGETS.map((t) => t.alias).join(', ')}`);
  const notBuilt = chosen.filter((t) => !usable.includes(t!)).map((t) => t!.triple);
  if (notBuilt.length)
    throw new UserError(`not built in ${distDir}: ${notBuilt.join(', ')}`, 'Build them first: npx tsx build.ts --target <t> --profile release');
  return chosen as Target[];
}

/** act's log lines "[Release/<job name>] 🏁  Job succeeded|failed". */
export function jobResults(log: string): JobResult[] {
  const out = new Map<string, boolean>();
  for (const m of log.matchAll(/^\[[^/\]]+\/([^\]]+)\]\s+🏁\s+Job (succeeded|failed)/gmu)) out.set(m[1]!.trim(), m[2] === 'succeeded');
  return [...out].map(([job, ok]) => ({ job, ok }));
}

function sha256(buf: Buffer): string {
  return createHash('sha256').update(buf).digest('hex');
}

function must(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, ...opts });
  if (r.status !== 0)
    throw new UserError(`${cmd} ${args.join(' ')} failed (exit ${r.status}): ${(r.stderr || r.stdout).trim().split('\n').slice(-5).join('\n')}`);
  return r.stdout;
}

/** Run act, its output to the terminal and to `logFile`; resolves with the whole log and the exit code. */
function runAct(bin: string, args: string[], cwd: string, env: NodeJS.ProcessEnv, logFile: string): Promise<{ code: number; log: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out = fs.createWriteStream(logFile);
    let log = '';
    const take = (c: Buffer): void => {
      log += c.toString();
      out.write(c);
      process.stdout.write(c);
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.on('error', reject);
    child.on('close', (code) => {
      out.end();
      resolve({ code: code ?? 1, log });
    });
  });
}

export async function releaseLocal(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const started = performance.now();
  const { values: v } = parseArgs({
    args: argv,
    options: { actions: { type: 'string' }, targets: { type: 'string' }, dir: { type: 'string' }, fresh: { type: 'boolean', default: false } },
  });
  const say = (s: string): void => {
    process.stdout.write(`release:local: ${s}\n`);
  };
  const root = REPO_ROOT;
  const distDir = path.join(root, 'dist');
  const runDir = path.resolve(v.dir ?? path.join(defaultCacheDir(env), 'release-local'));
  const mirrors = v.actions ?? env.CODEX_LITELLM_ACTION_MIRRORS;
  const targets = builtTargets(distDir, v.targets?.split(',').filter(Boolean));
  if (targets.length === 0) {
    throw new UserError(
      `${distDir} holds no built target to release (looked for dist/<triple>/codex-litellm with its BUILDINFO.json, Linux targets and the host)`,
      'Build the host first: npx tsx build.ts --profile release',
    );
  }
  const ctx = makeContext({ root, gitMirror: [], offline: true }, env);
  const version = contextVersion(ctx).version;
  const tag = `v${version}`;
  const host = targets.find((t) => t.triple === hostTriple());

  // Everything act needs, before anything starts.
  const act = ensureAct(env, say);
  if (v.fresh) fs.rmSync(runDir, { recursive: true, force: true });
  for (const d of ['clone', 'act', 'home', 'artifacts', 'actions']) fs.rmSync(path.join(runDir, d), { recursive: true, force: true });
  fs.mkdirSync(runDir, { recursive: true });
  // The committed tree, tagged as the release tag, with GitHub's repository as origin (act reads it for github.repository).
  const dirty = must('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: root }).trim();
  if (dirty) say(`warning: uncommitted changes are not part of the run (it runs HEAD):\n${dirty}`);
  const clone = path.join(runDir, 'clone');
  must('git', ['clone', '--quiet', '--no-hardlinks', root, clone]);
  must('git', ['-C', clone, 'remote', 'set-url', 'origin', `${HOMEPAGE}.git`]);
  must('git', ['-C', clone, 'tag', '-f', tag]);
  const [owner, repo] = new URL(HOMEPAGE).pathname.slice(1).split('/') as [string, string];
  const head = must('git', ['-C', clone, 'rev-parse', 'HEAD']).trim();
  const workflowText = fs.readFileSync(path.join(clone, WORKFLOW), 'utf8');
  // The stand-ins come from the clone too: the run uses committed files only.
  const served: ServedAction[] = pinnedActions(workflowText).map((a) =>
    serveAction(a, mirrors, path.join(runDir, 'actions'), path.join(clone, path.relative(root, STAND_INS_DIR))),
  );

  // The runner's machine: a home of its own (nothing of ours leaks into caches), Node in act's tool cache for setup-node.
  const home = path.join(runDir, 'home');
  const actCache = path.join(runDir, 'act');
  const nodeDir = path.join(actCache, 'tool_cache', 'node', process.versions.node);
  fs.mkdirSync(nodeDir, { recursive: true });
  fs.symlinkSync(path.dirname(path.dirname(process.execPath)), path.join(nodeDir, 'x64'));
  fs.writeFileSync(path.join(nodeDir, 'x64.complete'), '');
  const shims = path.join(home, 'bin');
  fs.mkdirSync(shims, { recursive: true });
  // GitHub's runners have passwordless sudo; here the job already runs as root, and sudo may be absent.
  if (process.getuid?.() === 0 && spawnSync('sudo', ['true'], { stdio: 'ignore' }).status !== 0)
    fs.writeFileSync(path.join(shims, 'sudo'), '#!/bin/sh\n# local runner: already root\nexec "$@"\n', { mode: 0o755 });
  const event = path.join(runDir, 'event.json');
  fs.writeFileSync(
    event,
    JSON.stringify({
      ref: `refs/tags/${tag}`,
      after: head,
      repository: { full_name: `${owner}/${repo}`, name: repo, owner: { login: owner }, default_branch: 'main' },
      head_commit: { id: head },
    }),
  );

  const gh = new LocalGitHub(owner, repo, path.join(runDir, 'github'));
  const registry = await startRegistry(path.join(runDir, 'registry'));
  let actResult: { code: number; log: string } = { code: 1, log: '' };
  const summary: string[] = [];
  const problems: string[] = [];
  try {
    await gh.start();
    say(`${tag} for ${targets.map((t) => t.triple).join(', ')}: act ${act.version}, registry ${registry.url}, GitHub API ${gh.base}, run dir ${runDir}`);
    const runners = new Set(['ubuntu-24.04', ...ciMatrix(targets).include.map((e) => String(e.runner))]);
    const args = [
      'push',
      '-W',
      WORKFLOW,
      '-e',
      event,
      ...[...runners].flatMap((r) => ['-P', `${r}=-self-hosted`]),
      ...targets.flatMap((t) => ['--matrix', `target:${t.triple}`]),
      ...served.flatMap((a) => ['--local-repository', `${a.action}@${a.sha}=${a.dir}`]),
      '--action-offline-mode',
      '--action-cache-path',
      actCache,
      '--artifact-server-path',
      path.join(runDir, 'act-artifacts'),
      '--artifact-server-addr',
      '127.0.0.1',
      '--cache-server-addr',
      '127.0.0.1',
      '--cache-server-path',
      path.join(runDir, 'act-cache-server'),
      '--concurrent-jobs',
      '1',
      '-s',
      'GITHUB_TOKEN',
      '-s',
      'NPM_TOKEN',
      ...[
        `GITHUB_API_URL=${gh.base}`,
        `CODEX_LITELLM_PREBUILT=${distDir}`,
        `${LOCAL_RELEASE_ENV}=1`,
        `CODEX_LITELLM_ARTIFACTS=${path.join(runDir, 'artifacts')}`,
        ...Object.entries(registry.npmEnv('${NODE_AUTH_TOKEN}')).map(([k, val]) => `${k}=${val}`),
      ].flatMap((e) => ['--env', e]),
    ];
    // act's own environment becomes the jobs' (self-hosted): only what a runner has, none of ours.
    const actEnv: NodeJS.ProcessEnv = {
      PATH: `${shims}:${env.PATH ?? ''}`,
      HOME: home,
      LANG: 'C.UTF-8',
      TERM: 'dumb',
      RUSTUP_HOME: env.RUSTUP_HOME ?? path.join(os.homedir(), '.rustup'),
      CARGO_HOME: env.CARGO_HOME ?? path.join(os.homedir(), '.cargo'),
      // npm's download cache stays the machine's, so each job's `npm ci` is quick.
      npm_config_cache: env.npm_config_cache ?? path.join(os.homedir(), '.npm'),
      GITHUB_TOKEN: randomBytes(20).toString('hex'),
      NPM_TOKEN: registry.token,
    };
    actResult = await runAct(act.bin, args, clone, actEnv, path.join(runDir, 'act.log'));

    // What ran.
    const jobs = jobResults(actResult.log);
    summary.push(`## release:local ${tag}`, '', `Targets: ${targets.map((t) => t.triple).join(', ')}`, '', '### Jobs (act)', '');
    for (const j of jobs) summary.push(`- ${j.ok ? 'succeeded' : 'FAILED'}: ${j.job}`);
    if (jobs.length === 0 || jobs.some((j) => !j.ok) || actResult.code !== 0)
      problems.push(`act exited ${actResult.code}; see ${path.join(runDir, 'act.log')}`);
    // A version released before is refused by the release job (and by npm's): say so plainly.
    const refused = [...new Set([...actResult.log.matchAll(/\|\s+error: (.*already published.*)$/gm)].map((m) => m[1]!.trim()))];
    if (refused.length)
      summary.push('', '### Refused', '', ...refused.map((r) => `- ${r}`), '- (the run directory keeps what was published; --fresh starts over)');
    summary.push('', '### Actions', '');
    for (const a of served)
      summary.push(
        `- ${a.action}@${a.sha.slice(0, 12)} (${a.version}): ${a.how === 'mirror' ? 'pinned commit, from the local mirror' : `local stand-in (${a.why})`}`,
      );
    summary.push('- actions/checkout: act copies the clone into the workspace instead of running it (act does this for the repository itself)');
    const skipped = [...new Set([...actResult.log.matchAll(new RegExp(`\\|\\s+(.*${NO_OIDC}.*)$`, 'gm'))].map((m) => m[1]!.trim()))];
    summary.push('', '### Skipped', '', ...(skipped.length ? skipped.map((s) => `- ${s}`) : ['- nothing reported']));

    // The GitHub release against dist/.
    const rel = gh.release(tag);
    summary.push('', '### GitHub release (local API)', '');
    if (!rel) problems.push(`no release ${tag} on the local GitHub API`);
    else {
      if (rel.draft) problems.push(`release ${tag} is still a draft`);
      const byName = new Map(rel.assets.map((a) => [a.name, a.data]));
      const sums = byName.get('SHA256SUMS')?.toString() ?? '';
      if (!sums) problems.push('the release has no SHA256SUMS');
      const listed = new Map(
        sums
          .split('\n')
          .filter(Boolean)
          .map((l) => [l.slice(66).trim(), l.slice(0, 64)]),
      );
      for (const [name, data] of byName) {
        if (name === 'SHA256SUMS') continue;
        if (listed.get(name) !== sha256(data)) problems.push(`SHA256SUMS does not match asset ${name}`);
      }
      for (const n of listed.keys()) if (!byName.has(n)) problems.push(`SHA256SUMS lists ${n}, which is not an asset`);
      for (const t of targets) {
        const archive = [...byName.keys()].find((n) => n.endsWith(`-${t.triple}.tar.gz`) || n.endsWith(`-${t.triple}.zip`));
        if (!archive) {
          problems.push(`no release archive for ${t.triple}`);
          continue;
        }
        const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'release-local-'));
        try {
          fs.writeFileSync(path.join(tmp, archive), byName.get(archive)!);
          must('tar', ['-xzf', archive], { cwd: tmp });
          const inside = must('find', [tmp, '-type', 'f', '-name', `codex-litellm${t.exe}`])
            .trim()
            .split('\n')[0];
          const want = sha256(fs.readFileSync(path.join(distDir, t.triple, `codex-litellm${t.exe}`)));
          if (!inside || sha256(fs.readFileSync(inside)) !== want) problems.push(`${archive}: its binary is not dist/${t.triple}/codex-litellm`);
          else summary.push(`- ${archive}: binary = dist/${t.triple}/codex-litellm (sha256 ${want.slice(0, 16)}…)`);
        } finally {
          fs.rmSync(tmp, { recursive: true, force: true });
        }
      }
      const bytes = rel.assets.reduce((n, a) => n + a.data.length, 0);
      summary.push(
        `- ${rel.assets.length} asset(s), ${(bytes / 1048576).toFixed(1)} MiB, SHA256SUMS checked against every one; kept in ${path.join(runDir, 'github', tag)}`,
      );
      for (const a of rel.assets) summary.push(`  - ${a.name} (${a.data.length} bytes)`);
    }

    // npm: install from the registry into a fresh prefix and run it.
    summary.push('', '### npm (verdaccio)', '');
    if (!host) summary.push(`- install not verified: the host (${hostTriple()}) is not among the released targets`);
    else {
      const prefix = fs.mkdtempSync(path.join(os.tmpdir(), 'release-local-prefix-'));
      const npmEnv = { ...actEnv, ...registry.npmEnv(), npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' };
      const i = spawnSync('npm', ['install', '-g', '--prefix', prefix, `${NPM_MAIN}@${version}`], { env: npmEnv, encoding: 'utf8' });
      const info = JSON.parse(fs.readFileSync(path.join(distDir, host.triple, 'BUILDINFO.json'), 'utf8')) as BuildInfo;
      const r = i.status === 0 ? spawnSync(path.join(prefix, 'bin', 'codex-litellm'), ['--version'], { encoding: 'utf8', timeout: 60_000 }) : undefined;
      const got = r?.stdout.trim() ?? '';
      if (i.status !== 0) problems.push(`npm i -g ${NPM_MAIN}@${version} failed: ${i.stderr.trim().split('\n').slice(-3).join(' ')}`);
      else if (got !== `codex-litellm ${info.display}`)
        problems.push(`codex-litellm --version printed ${JSON.stringify(got)}, not ${JSON.stringify(`codex-litellm ${info.display}`)}`);
      else summary.push(`- npm i -g ${NPM_MAIN}@${version} into a fresh prefix, then \`codex-litellm --version\`: ${got}`);
      fs.rmSync(prefix, { recursive: true, force: true });
    }
  } finally {
    await gh.stop();
    await registry.stop();
  }
  summary.push('', `Time: ${((performance.now() - started) / 1000).toFixed(0)} s`);
  if (problems.length) summary.push('', '### Problems', '', ...problems.map((p) => `- ${p}`));
  const text = `${summary.join('\n')}\n`;
  fs.writeFileSync(path.join(runDir, 'summary.md'), text);
  process.stdout.write(`\n${text}`);
  say(
    problems.length
      ? `FAILED (${problems.length} problem(s)); summary in ${path.join(runDir, 'summary.md')}`
      : `ok; summary in ${path.join(runDir, 'summary.md')}`,
  );
  return problems.length ? 1 : 0;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    process.exitCode = await releaseLocal(process.argv.slice(2));
  } catch (e) {
    const d = describeError(e);
    process.stderr.write(`error: ${d.message}\n${d.hint ? `  hint: ${d.hint}\n` : ''}`);
    process.exitCode = e instanceof UserError ? e.exitCode : 1;
  }
}
