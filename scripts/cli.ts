/**
 * The command line of build.ts: it parses flags, dispatches to a command, prints the command's
 * result (text, or one JSON document with --json) and turns errors into a clear message plus a
 * non-zero exit. Commands live in their folders and never print their result themselves.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { contextVersion, makeContext, type CommonOptions } from './lib/context.ts';
import { describeError, UserError } from './lib/errors.ts';
import { printResult, type Output } from './lib/output.ts';
import { makeBuildPlan, makePlan } from './lib/plan.ts';
import { findProfile } from './lib/profiles.ts';
import { currentChannel, projectPaths, REPO_ROOT } from './lib/project.ts';
import { selectTargets, type TargetSelection } from './lib/targets.ts';
import { hostTriple } from './lib/host.ts';
import { ciMatrix } from './lib/ci-matrix.ts';
import { UPSTREAM_HELP } from './upstream/help.ts';

const HELP = `codex-litellm build orchestrator

Usage:
  npx tsx build.ts [options]                 build codex-litellm for the host (or --target)
  npx tsx build.ts patches check             apply the series to the locked commit in memory and lint it
  npx tsx build.ts patches apply [--force]   make a git worktree with the series as commits, for editing
  npx tsx build.ts patches export [--check]  write patches/ back from the worktree's commits
  npx tsx build.ts package [--target ...|--all]  archives, npm, .deb, Termux .deb, OpenWrt .ipk/.apk, SHA256SUMS
                                             from dist/<target>/ into dist/packages/ (default: this machine's target;
                                             --out-dir <dir> writes elsewhere)
  npx tsx build.ts matrix [--target ...]     the release CI matrix as JSON ({"include": [...]}, one line)
${UPSTREAM_HELP}  npx tsx build.ts --help | --version

Build options:
  --target <triple|alias>   target to build (repeatable); default: this machine (${hostTriple()})
  --all                     every target in the table (scripts/lib/targets.ts)
  --profile <name>          dev | release | release-lite (default: release)
  --toolchain <name>        Rust toolchain (default: RUSTUP_TOOLCHAIN, else upstream's pin if installed, else stable)
  --dry-run                 print every step, command and path; change nothing
  --json                    machine-readable result on stdout; progress as JSON lines on stderr
  --verbose                 more detail in errors

Sources (for machines without GitHub; none of this is ever committed):
  --upstream <path|url>     upstream openai/codex clone or mirror; repeatable when each mirror carries some of the
                            tags (env CODEX_LITELLM_UPSTREAM, ';'-separated; user file "upstream": a string or a list)
  --upstream-main <path|url>  a mirror of upstream's main branch, for edge pins (its own tags are never read;
                            env CODEX_LITELLM_UPSTREAM_MAIN, user file "upstreamMain")
  --git-mirror <url>=<path> mirror for a Cargo git dependency, repeatable (env CODEX_LITELLM_GIT_MIRRORS, ';'-separated)
  --prebuilt-mirror <url|dir>  where V8's prebuilt library (code mode) comes from instead of GitHub, laid out
                            like denoland/rusty_v8 releases (RUSTY_V8_MIRROR; env CODEX_LITELLM_PREBUILT_MIRROR,
                            user file "prebuiltMirror"); RUSTY_V8_ARCHIVE in the environment names one file
  --channel release|edge    the pin to build: release (upstream.lock, patches/: a release tag, the default) or edge
                            (edge/upstream.lock, edge/patches/: a commit of upstream main; dist/edge/); env
                            CODEX_LITELLM_CHANNEL. The first \`--channel edge upstream bump --to <commit>\` seeds edge/
  --offline                 never fetch; fail if something is missing from the caches
  --substitute <name>       replace a git dependency that cannot be mirrored by the crates.io version and patch in
                            patches/substitutions/<name>.patch (repeatable or comma-separated; env CODEX_LITELLM_SUBSTITUTE,
                            user file "substitute"); --version and BUILDINFO.json then say so
  --no-substitute           refuse every substitution (release builds)
  env CODEX_LITELLM_PREBUILT=<dist dir>  take <dir>/<triple>/ (binary + BUILDINFO.json, checked) instead of compiling
                            (npm run release:local sets it for the workflow's Build step)
  --cache-dir <dir>         cache for upstream, trees and Cargo's target dir (env CODEX_LITELLM_CACHE; default ~/.cache/codex-litellm)
  --worktree <dir>          worktree for patches apply/export (default: under the cache)
  --root <dir>              project checkout to use (default: this one)

User file: ~/.config/codex-litellm/build.json (env CODEX_LITELLM_CONFIG), e.g.
  {"upstream": "/srv/mirrors/codex.git", "gitMirrors": {"https://github.com/nornagon/ratatui": "/srv/mirrors/ratatui.git"}}
`;

const OPTIONS = {
  target: { type: 'string', multiple: true },
  all: { type: 'boolean', default: false },
  profile: { type: 'string', default: 'release' },
  toolchain: { type: 'string' },
  substitute: { type: 'string', multiple: true },
  'no-substitute': { type: 'boolean', default: false },
  'dry-run': { type: 'boolean', default: false },
  json: { type: 'boolean', default: false },
  verbose: { type: 'boolean', default: false },
  upstream: { type: 'string', multiple: true },
  'git-mirror': { type: 'string', multiple: true },
  'prebuilt-mirror': { type: 'string' },
  'upstream-main': { type: 'string' },
  channel: { type: 'string' },
  offline: { type: 'boolean', default: false },
  'cache-dir': { type: 'string' },
  'out-dir': { type: 'string' },
  worktree: { type: 'string' },
  root: { type: 'string' },
  check: { type: 'boolean', default: false },
  force: { type: 'boolean', default: false },
  pre: { type: 'boolean', default: false },
  from: { type: 'string' },
  to: { type: 'string' },
  continue: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
  version: { type: 'boolean', short: 'V', default: false },
} as const;

type Values = ReturnType<typeof parse>['values'];

function parse(argv: string[]) {
  try {
    return parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UserError((e as Error).message.replace(/\. To specify a positional.*$/s, ''), 'See `npx tsx build.ts --help`.');
  }
}

function common(v: Values): CommonOptions {
  return {
    root: v.root,
    cacheDir: v['cache-dir'],
    upstream: v.upstream ?? [],
    gitMirror: v['git-mirror'] ?? [],
    prebuiltMirror: v['prebuilt-mirror'],
    upstreamMain: v['upstream-main'],
    toolchain: v.toolchain,
    offline: v.offline,
    substitute: v.substitute ?? [],
    noSubstitute: v['no-substitute'],
  };
}

/**
 * The edge channel starts as a copy of the release channel's pin and series: the first edge bump
 * moves that copy to a commit of main, and from then on the two series live side by side.
 */
function seedEdgeChannel(root: string): void {
  const edge = projectPaths(root, 'edge');
  if (fs.existsSync(edge.lockFile)) return;
  const release = projectPaths(root, 'release');
  fs.mkdirSync(path.dirname(edge.lockFile), { recursive: true });
  fs.cpSync(release.patchesDir, edge.patchesDir, { recursive: true });
  fs.copyFileSync(release.lockFile, edge.lockFile);
  process.stderr.write(`edge channel: seeded ${path.relative(root, edge.lockFile)} and ${path.relative(root, edge.patchesDir)}/ from the release channel\n`);
}

function orchestratorVersion(): string {
  const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

const see = 'See `npx tsx build.ts --help`.';

function noSub(sub: string | undefined): void {
  if (sub !== undefined) throw new UserError(`unexpected argument \`${sub}\``, see);
}

/** Runs one command; the heavier command folders load on demand, so a plain build does not pay for tracking or packaging code. */
async function dispatch(v: Values, cmd: string | undefined, sub: string | undefined, rest: string[]): Promise<Output> {
  if (v.help) return { raw: HELP };
  const ctx = () => makeContext(common(v));
  if (v.version) {
    const ver = contextVersion(ctx());
    return { doc: { orchestrator: orchestratorVersion(), ...ver }, text: `codex-litellm ${ver.display}\nbuild orchestrator ${orchestratorVersion()}` };
  }
  if (cmd === 'upstream') {
    const { upstreamCommand } = await import('./upstream/command.ts');
    return await upstreamCommand(ctx(), sub, rest, { pre: v.pre, from: v.from, to: v.to, force: v.force, continue: v.continue, worktree: v.worktree });
  }
  if (rest.length > 0) throw new UserError(`unexpected argument \`${rest[0]}\``, see);
  const selection: TargetSelection = { targets: v.target ?? [], all: v.all };
  switch (cmd) {
    case undefined:
    case 'build': {
      noSub(sub);
      const c = ctx();
      const profile = findProfile(v.profile);
      const prebuilt = process.env.CODEX_LITELLM_PREBUILT;
      if (prebuilt && !v['dry-run']) {
        const { usePrebuilt } = await import('./build/prebuilt.ts');
        return usePrebuilt(c, makePlan(c, selection, 'given'), prebuilt, { profile: profile.name, noSubstitute: v['no-substitute'] });
      }
      const { buildCommand } = await import('./build/command.ts');
      return await buildCommand(c, makeBuildPlan(c, selection), { profile, dryRun: v['dry-run'], json: v.json });
    }
    case 'patches': {
      const { patchesCommand } = await import('./patches/command.ts');
      return patchesCommand(ctx(), sub, { worktree: v.worktree, check: v.check, force: v.force });
    }
    case 'package': {
      noSub(sub);
      const c = ctx();
      const { packageCommand } = await import('./package/command.ts');
      return await packageCommand(c, makePlan(c, selection), { dryRun: v['dry-run'], json: v.json, outDir: v['out-dir'] });
    }
    case 'matrix': {
      noSub(sub);
      // Every buildable row unless --target narrows it (the build's default, this machine, means nothing to CI).
      const targets = selectTargets({ ...selection, all: v.all || !v.target?.length }, 'table');
      return { raw: `${JSON.stringify(ciMatrix(targets, v.profile))}\n` };
    }
    default:
      throw new UserError(
        `unknown command \`${cmd}\``,
        'Commands: build (default), patches check|apply|export, upstream check|try|bump|drift, package, matrix. See --help.',
      );
  }
}

export async function main(argv: string[]): Promise<number> {
  let json = argv.includes('--json');
  let verbose = argv.includes('--verbose');
  try {
    const { values: v, positionals } = parse(argv);
    json = v.json;
    verbose = v.verbose;
    const [cmd, sub, ...rest] = positionals;
    if (v.channel !== undefined) {
      if (v.channel !== 'release' && v.channel !== 'edge') throw new UserError(`unknown channel \`${v.channel}\``, 'Channels: release (the default) and edge.');
      // Every path (project.ts), and every process this one starts, reads the channel from here.
      process.env.CODEX_LITELLM_CHANNEL = v.channel;
    }
    if (currentChannel() === 'edge' && cmd === 'upstream' && sub === 'bump') seedEdgeChannel(v.root ? path.resolve(v.root) : REPO_ROOT);
    return printResult(json, await dispatch(v, cmd, sub, rest));
  } catch (e) {
    const d = describeError(e);
    const code = e instanceof UserError ? e.exitCode : 1;
    if (json) process.stdout.write(`${JSON.stringify({ ok: false, error: d.message, hint: d.hint }, null, 2)}\n`);
    else {
      process.stderr.write(`error: ${d.message}\n`);
      if (d.hint) process.stderr.write(`  hint: ${d.hint}\n`);
      if (verbose && e instanceof Error && e.stack && e instanceof UserError) process.stderr.write(`${e.stack}\n`);
    }
    return code;
  }
}
