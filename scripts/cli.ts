/**
 * The command line of build.ts. Parses flags, dispatches, and turns errors into a clear message
 * plus a non-zero exit. `--json` gives one JSON document on stdout for machines.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { buildSteps, cannotBuildHere, type BuildResult } from './build/command.ts';
import { contextVersion, makeContext, type CommonOptions, type Context } from './lib/context.ts';
import { describeError, UserError } from './lib/errors.ts';
import { acquire, applyAll, lintOrThrow } from './lib/prepare.ts';
import { findProfile } from './lib/profiles.ts';
import { REPO_ROOT } from './lib/project.ts';
import { lintSeries } from './lib/series.ts';
import { availableSubstitutions } from './lib/substitutions.ts';
import { outputMode, printPlan, runSteps, type Step } from './lib/steps.ts';
import { ciJob, ciMatrix, findTarget, hostTriple, selectTargets, TARGETS, type Target } from './lib/targets.ts';
import { UPSTREAM_FACTS } from './lib/project.ts';
import { compareExport, defaultWorktree, formatPatches, makeWorktree, writeExport } from './patches/worktree.ts';
import { UPSTREAM_HELP } from './upstream/help.ts';

const HELP = `codex-litellm build orchestrator

Usage:
  npx tsx build.ts [options]                 build codex-litellm for the host (or --target)
  npx tsx build.ts patches check             apply the series to the locked commit in memory and lint it
  npx tsx build.ts patches apply [--force]   make a git worktree with the series as commits, for editing
  npx tsx build.ts patches export [--check]  write patches/ back from the worktree's commits
  npx tsx build.ts package [--target ...|--all]  archives, npm, .deb, Termux .deb, OpenWrt .ipk and SHA256SUMS
                                             from dist/<target>/ into dist/packages/ (default: this machine's target)
  npx tsx build.ts matrix [--target ...]     the release CI matrix as JSON ({"include": [...]}, one line)
${UPSTREAM_HELP}  npx tsx build.ts --help | --version

Build options:
  --target <triple|alias>   target to build (repeatable); default: this machine (${hostTriple()})
  --all                     every target in the table (scripts/lib/targets.ts)
  --profile <name>          dev | release | release-lite (default: release)
  --toolchain <name>        Rust toolchain (default: RUSTUP_TOOLCHAIN, else upstream's pin if installed, else stable)
  --dry-run                 print every step, command and path; change nothing
  --json                    machine-readable result on stdout (no progress display)
  --verbose                 more detail in errors

Sources (for machines without GitHub; none of this is ever committed):
  --upstream <path|url>     upstream openai/codex clone or mirror   (env CODEX_LITELLM_UPSTREAM)
  --git-mirror <url>=<path> mirror for a Cargo git dependency, repeatable (env CODEX_LITELLM_GIT_MIRRORS, ';'-separated)
  --offline                 never fetch; fail if something is missing from the caches
  --substitute <name>       replace a git dependency that cannot be mirrored by the crates.io version and patch in
                            patches/substitutions/<name>.patch (repeatable or comma-separated; env CODEX_LITELLM_SUBSTITUTE,
                            user file "substitute"); --version and BUILDINFO.json then say so
  --no-substitute           refuse every substitution (release builds)
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
  upstream: { type: 'string' },
  'git-mirror': { type: 'string', multiple: true },
  offline: { type: 'boolean', default: false },
  'cache-dir': { type: 'string' },
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
    upstream: v.upstream,
    gitMirror: v['git-mirror'] ?? [],
    toolchain: v.toolchain,
    offline: v.offline,
    substitute: v.substitute ?? [],
    noSubstitute: v['no-substitute'],
  };
}

function out(json: boolean, doc: unknown, text: string): void {
  process.stdout.write(json ? `${JSON.stringify(doc, null, 2)}\n` : text.endsWith('\n') ? text : `${text}\n`);
}

async function cmdBuild(v: Values): Promise<void> {
  const ctx = makeContext(common(v));
  const profile = findProfile(v.profile);
  let targets: Target[];
  if (v.all) targets = [...TARGETS];
  else if (v.target && v.target.length > 0) targets = [...new Set(v.target.map((t) => findTarget(t)))];
  else {
    const host = TARGETS.find((t) => t.triple === hostTriple());
    if (!host) throw new UserError(`this machine (${hostTriple()}) is not a release target`, `Pass --target; known: ${TARGETS.map((t) => t.alias).join(', ')}.`);
    targets = [host];
  }
  const results: BuildResult[] = [];
  const log = (t: Target): string => path.join(ctx.cache.logsDir, `build-${t.triple}-${profile.name}.log`);
  const steps: Step[] = targets.flatMap((t) => buildSteps(ctx, t, profile, results, log).map((s) => (targets.length > 1 ? { ...s, title: `[${t.alias}] ${s.title}` } : s)));
  const version = contextVersion(ctx);
  // Targets this machine cannot build, said before anything runs (and in the plan), with the CI job that can.
  const blocked = targets.map((t) => ({ t, why: cannotBuildHere(t, ctx.opts.toolchain ?? process.env.RUSTUP_TOOLCHAIN) })).filter((b) => b.why);
  const blockedLines = blocked.map((b) => `${b.t.triple}: cannot build here: ${b.why}; CI job "${ciJob(b.t)}" on ${b.t.runner} builds it`);
  if (v['dry-run']) {
    if (v.json) return out(true, { dryRun: true, version, targets: targets.map((t) => t.triple), cannotBuildHere: blockedLines, steps: steps.map((s) => ({ title: s.title, plan: s.plan })) }, '');
    printPlan(steps, `Plan: codex-litellm ${version.display}\nTargets: ${targets.map((t) => `${t.triple} (${t.tool})`).join(', ')}; profile ${profile.name}${blockedLines.map((l) => `\nNote: ${l}`).join('')}`);
    return;
  }
  if (blocked.length) {
    throw new UserError(`this machine cannot build ${blocked.length === 1 ? 'this target' : 'these targets'}:\n  - ${blockedLines.join('\n  - ')}`, 'Build them in CI (npx tsx build.ts matrix), or pass --target for the ones this machine can build.');
  }
  const started = Date.now();
  await runSteps(steps, outputMode(v.json));
  const seconds = (Date.now() - started) / 1000;
  out(v.json, { ok: true, seconds, results }, results.map((r) => `${path.relative(process.cwd(), r.binary) || r.binary}: ${r.version} [toolchain ${r.toolchain}: ${r.toolchainReason}] (${seconds.toFixed(1)} s)`).join('\n'));
}

async function cmdPatches(sub: string | undefined, v: Values): Promise<void> {
  const ctx = makeContext(common(v));
  const wtDir = v.worktree ? path.resolve(v.worktree) : defaultWorktree(ctx);
  switch (sub) {
    case 'check': {
      const started = performance.now();
      const problems = lintSeries(ctx.project.seriesFile, ctx.lock.workspace, UPSTREAM_FACTS.crateDir);
      if (problems.length > 0) lintOrThrow(ctx);
      const up = acquire(ctx);
      // Every substitution the repo has is checked too (on top of the series), asked for or not,
      // so a bump finds a stale one before an air-gapped user does.
      const prepared = applyAll({ ...ctx, substitutions: availableSubstitutions(ctx.project.patchesDir) }, up);
      const ms = performance.now() - started;
      const lines = prepared.applied.perPatch.map((p) => `  ok  ${p.name} (${p.files.length} file(s))`);
      out(
        v.json,
        { ok: true, tag: ctx.lock.tag, commit: ctx.lock.commit, upstream: up.fetched ? 'fetched' : 'cached', patches: prepared.applied.perPatch, tree: prepared.applied.tree, ms },
        `${lines.join('\n')}${lines.length ? '\n' : ''}${prepared.applied.perPatch.length} patch(es) apply cleanly to ${ctx.lock.tag} (${ctx.lock.commit.slice(0, 12)}); lint clean (${ms.toFixed(0)} ms)`,
      );
      return;
    }
    case 'apply': {
      acquire(ctx);
      const r = makeWorktree(ctx, wtDir, {
        force: v.force,
        isStale: () => {
          const d = compareExport(ctx, formatPatches(ctx, wtDir));
          return d.added.length + d.changed.length + d.removed.length > 0 || d.orderChanged;
        },
      });
      out(v.json, { ok: true, worktree: wtDir, commits: r.commits }, `worktree ${wtDir}: ${ctx.lock.tag} + ${r.commits} commit(s) on branch litellm-series\nEdit, commit (git commit / rebase -i), then: npx tsx build.ts patches export`);
      return;
    }
    case 'export': {
      const wanted = formatPatches(ctx, wtDir);
      if (v.check) {
        const d = compareExport(ctx, wanted);
        const stale = [...d.changed.map((n) => `changed: ${n}`), ...d.added.map((n) => `not in patches/: ${n}`), ...d.removed.map((n) => `no longer a commit: ${n}`), ...(d.orderChanged ? ['order differs from patches/series'] : [])];
        if (stale.length > 0) {
          throw new UserError(`stored patches are stale against ${wtDir}:\n  - ${stale.join('\n  - ')}`, 'Run `npx tsx build.ts patches export` and commit the result.');
        }
        out(v.json, { ok: true, upToDate: true }, `patches/ is up to date with ${wtDir} (${wanted.size} patch(es))`);
        return;
      }
      const d = writeExport(ctx, wanted);
      out(v.json, { ok: true, ...d }, `exported ${wanted.size} patch(es): ${d.added.length} new, ${d.changed.length} changed, ${d.removed.length} removed`);
      return;
    }
    default:
      throw new UserError(`unknown patches command \`${sub ?? ''}\``, 'Use: patches check | patches apply | patches export [--check].');
  }
}

function orchestratorVersion(): string {
  const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

export async function main(argv: string[]): Promise<number> {
  let json = argv.includes('--json');
  let verbose = argv.includes('--verbose');
  try {
    const { values: v, positionals } = parse(argv);
    json = v.json;
    verbose = v.verbose;
    if (v.help) {
      process.stdout.write(HELP);
      return 0;
    }
    if (v.version) {
      const ctx: Context = makeContext(common(v));
      const ver = contextVersion(ctx);
      out(json, { orchestrator: orchestratorVersion(), ...ver }, `codex-litellm ${ver.display}\nbuild orchestrator ${orchestratorVersion()}`);
      return 0;
    }
    const [cmd, sub, ...rest] = positionals;
    if (cmd === 'upstream') {
      // Loaded on demand: a plain build should not pay for the tracking or packaging code.
      const { cmdUpstream } = await import('./upstream/command.ts');
      return await cmdUpstream(makeContext(common(v)), sub, rest, { json, pre: v.pre, from: v.from, to: v.to, force: v.force, continue: v.continue, worktree: v.worktree });
    }
    if (rest.length > 0) throw new UserError(`unexpected argument \`${rest[0]}\``, 'See `npx tsx build.ts --help`.');
    switch (cmd) {
      case undefined:
      case 'build':
        if (sub !== undefined) throw new UserError(`unexpected argument \`${sub}\``, 'See `npx tsx build.ts --help`.');
        await cmdBuild(v);
        return 0;
      case 'patches':
        await cmdPatches(sub, v);
        return 0;
      case 'package': {
        if (sub !== undefined) throw new UserError(`unexpected argument \`${sub}\``, 'See `npx tsx build.ts --help`.');
        const ctx = makeContext(common(v));
        const opts = { targets: v.target ?? [], all: v.all };
        const { formatResult, packagePlan, packageTargets } = await import('./package/command.ts');
        if (v['dry-run']) {
          const plan = packagePlan(ctx, opts);
          out(v.json, { dryRun: true, plan }, plan);
          return 0;
        }
        const r = await packageTargets(ctx, opts);
        out(v.json, { ok: true, ...r }, formatResult(r));
        return 0;
      }
      case 'matrix':
        if (sub !== undefined) throw new UserError(`unexpected argument \`${sub}\``, 'See `npx tsx build.ts --help`.');
        process.stdout.write(`${JSON.stringify(ciMatrix(v.all || !v.target?.length ? undefined : selectTargets(v.target, false), v.profile))}\n`);
        return 0;
      default:
        throw new UserError(`unknown command \`${cmd}\``, 'Commands: build (default), patches check|apply|export, upstream check|try|bump|drift, package, matrix. See --help.');
    }
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
