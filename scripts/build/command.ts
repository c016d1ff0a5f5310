/**
 * `build.ts [--target ...] [--profile ...]`: the whole pipeline for each target of the plan, as a
 * list of steps. The same list is printed by --dry-run and executed by a real run.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { digestChanges } from '../lib/apply.ts';
import { cargoCommand, renderCommand, rustupRef, type CargoCommand, type ToolchainRef } from './cargo.ts';
import { ensureLibcap, LIBCAP, libcapPrefix } from './cdeps.ts';
import { describeRoute, routeFor, type Route } from './route.ts';
import type { Context } from '../lib/context.ts';
import { UserError } from '../lib/errors.ts';
import { copyFileAtomic, fileSha256, sha256, writeFileAtomic } from '../lib/fs.ts';
import { acquireWithProgress, applyAll, lintOrThrow, treeToolchainFile, type Prepared } from '../lib/prepare.ts';
import { refreshLock, syncBuildTree } from './sync.ts';
import type { BuildInfo, Plan, TargetPlan } from '../lib/plan.ts';
import type { Profile } from '../lib/profiles.ts';
import { UPSTREAM_FACTS } from '../lib/project.ts';
import type { Output } from '../lib/output.ts';
import { formatBytes, formatDuration, plural } from '../lib/progress.ts';
import { outputMode, renderPlan, runSteps, type Step, type StepRecord } from '../lib/steps.ts';
import { describeReplaced, describeSubstitutions } from '../lib/substitutions.ts';
import { ciJob, ciMatrix, hostTriple, type Target } from '../lib/targets.ts';
import { chooseToolchain, pinnedChannel, type Toolchain } from './toolchain.ts';
import type { Upstream } from '../lib/upstream-cache.ts';
import { runCargo, withMessageFormat, type CargoRun } from './cargo-run.ts';

export interface BuildResult {
  target: string;
  binary: string;
  version: string;
  toolchain: string;
  toolchainReason: string;
  /** How it was built here: tool, std (prebuilt or from source), C compiler. */
  route: Route;
  treeFilesWritten: number;
  lockRefreshed: boolean;
  binaryChanged: boolean;
  /** false when nothing changed since the last build and Cargo was not run at all. */
  cargoRan: boolean;
  /** Bytes of the binary. */
  size: number;
  /** Cargo's full output (from the last run of Cargo, when this one did not need it). */
  log: string;
  /** What Cargo did, when it ran. */
  cargo?: CargoRun;
  /** Each step of this target and the seconds it took. */
  stages: StepRecord[];
}

/** Why this machine cannot build a target, or undefined when it can. */
export function cannotBuildHere(target: Target, toolchain: Toolchain | undefined): string | undefined {
  return routeFor(target, hostTriple(), toolchain).blocked;
}

/**
 * The toolchain a plan can name without fetching upstream: an explicit choice (flag, env, user
 * file) resolved for real, else rustup's stable standing in for "upstream's pin if installed".
 */
function planToolchain(ctx: Context): { toolchain: Toolchain | undefined; label: string } {
  const explicit = ctx.opts.toolchain ?? process.env.RUSTUP_TOOLCHAIN ?? ctx.user.toolchain;
  try {
    const toolchain = chooseToolchain({ flag: ctx.opts.toolchain, env: process.env.RUSTUP_TOOLCHAIN, userDefault: ctx.user.toolchain });
    return { toolchain, label: explicit ? `${toolchain.name} (${toolchain.reason}): ${toolchain.rustc}` : "upstream's pin if installed, else stable" };
  } catch {
    return { toolchain: undefined, label: explicit ?? "upstream's pin if installed, else stable" };
  }
}

/** What CI runs for a target this machine cannot build: its matrix row's setup and build. */
function ciLines(t: Target, profile: Profile): string[] {
  const row = ciMatrix([t], profile.name).include[0]!;
  return [
    `CI job "${ciJob(t)}" on ${row.runner}, tool ${row.tool}:`,
    ...row.setup.map((c) => `  setup: ${c}`),
    ...Object.entries(row.env).map(([k, v]) => `  env: ${k}=${v}`),
    `  build: ${row.build}`,
    `  package: ${row.package}`,
  ];
}

export interface BuildOptions {
  profile: Profile;
  dryRun: boolean;
  json: boolean;
}

/** The build command: refuse targets this machine cannot build, then run (or with --dry-run print) every step. */
export async function buildCommand(ctx: Context, plan: Plan, o: BuildOptions): Promise<Output> {
  const { profile } = o;
  const targets = plan.targets.map((tp) => tp.target);
  const results: BuildResult[] = [];
  const log = (t: Target): string => path.join(ctx.cache.logsDir, `build-${t.triple}-${profile.name}.log`);
  const steps: Step[] = plan.targets.flatMap((tp) =>
    buildSteps(ctx, plan, tp, profile, results, log).map((s) => ({
      ...s,
      target: tp.target.triple,
      ...(targets.length > 1 ? { title: `[${tp.target.alias}] ${s.title}` } : {}),
    })),
  );
  const { version } = plan;
  // Targets this machine cannot build, said before anything runs (and in the plan), with the CI job that can.
  const pt = planToolchain(ctx);
  const routes = new Map(targets.map((t) => [t, routeFor(t, hostTriple(), pt.toolchain)]));
  const blocked = targets.map((t) => ({ t, why: routes.get(t)!.blocked })).filter((b) => b.why);
  const blockedLines = blocked.map((b) =>
    b.t.unbuildable
      ? `${b.t.triple}: cannot be built anywhere yet (not in --all, the release matrix or the packages): ${b.t.unbuildable}`
      : `${b.t.triple}: cannot build here: ${b.why}; CI job "${ciJob(b.t)}" on ${b.t.runner} builds it`,
  );
  if (o.dryRun) {
    const header = [
      `Plan: codex-litellm ${version.display}`,
      `Targets: ${targets.map((t) => `${t.triple} (${routes.get(t)!.tool})`).join(', ')}; profile ${profile.name}`,
      `Toolchain: ${pt.label}`,
      ...targets.flatMap((t) => {
        const r = routes.get(t)!;
        return [
          `Route ${t.triple}: ${r.blocked ? `cannot build here (${r.blocked})` : describeRoute(r)}`,
          ...(r.blocked && !t.unbuildable ? ciLines(t, profile).map((l) => `  ${l}`) : []),
          ...(t.notes ? [`  note: ${t.notes}`] : []),
        ];
      }),
      ...blockedLines.map((l) => `Note: ${l}`),
    ].join('\n');
    const doc = {
      dryRun: true,
      version,
      targets: targets.map((t) => t.triple),
      toolchain: pt.label,
      routes: Object.fromEntries(
        targets.map((t) => [
          t.triple,
          { ...routes.get(t)!, ...(routes.get(t)!.blocked && !t.unbuildable ? { ci: ciMatrix([t], profile.name).include[0] } : {}) },
        ]),
      ),
      cannotBuildHere: blockedLines,
      steps: steps.map((s) => ({ title: s.title, plan: s.plan })),
    };
    return { doc, text: renderPlan(steps, header) };
  }
  if (blocked.length) {
    throw new UserError(
      `this machine cannot build ${blocked.length === 1 ? 'this target' : 'these targets'}:\n  - ${blockedLines.join('\n  - ')}`,
      blocked.every((b) => b.t.unbuildable)
        ? 'What it needs is in its row of scripts/lib/targets.ts (unbuildable) and in the README (Cross-building every Linux target).'
        : 'Build them in CI (npx tsx build.ts matrix), or pass --target for the ones this machine can build.',
    );
  }
  const started = Date.now();
  const records = await runSteps(steps, outputMode(o.json));
  const seconds = (Date.now() - started) / 1000;
  for (const r of results) r.stages = records.filter((x) => x.target === r.target);
  return { doc: { ok: true, seconds, results }, text: results.map((r) => summary(r, seconds)).join('\n') };
}

/** The closing report of one target: binary, size and version, the time of each step, Cargo's counts and its log. */
export function summary(r: BuildResult, seconds: number, cwd = process.cwd(), home = process.env.HOME): string {
  const rel = (p: string): string => {
    const relative = path.relative(cwd, p);
    if (relative && !relative.startsWith('..')) return relative;
    return home && p.startsWith(`${home}/`) ? `~/${p.slice(home.length + 1)}` : p;
  };
  const stages = r.stages.map((s) => `${s.stage ?? s.title} ${s.seconds < 10 ? s.seconds.toFixed(1) + 's' : formatDuration(s.seconds)}`).join(', ');
  const c = r.cargo;
  const cargo = c
    ? `cargo: ${c.units} units (${c.compiled} compiled, ${c.fresh} fresh), ${plural(c.warnings, 'warning')}${c.waitedSeconds >= 1 ? `, ${formatDuration(c.waitedSeconds)} waiting for a lock` : ''}; log ${rel(r.log)}`
    : `cargo: not needed (nothing changed since the last build); last log ${rel(r.log)}`;
  return [
    `${rel(r.binary)}: ${r.version} [toolchain ${r.toolchain}: ${r.toolchainReason}; ${r.route.tool}, std ${r.route.std === 'build-std' ? 'built from source' : 'prebuilt'}] (${seconds.toFixed(1)} s)`,
    `  ${formatBytes(r.size)}${r.binaryChanged ? '' : ', unchanged'}; steps: ${stages}`,
    `  ${cargo}`,
  ].join('\n');
}

/** What the steps of one target hand each other; each field is set by the step named beside it. */
class TargetState {
  up?: Upstream; // Upstream
  prepared?: Prepared; // Apply the patch series
  toolchain?: Toolchain; // Choose the Rust toolchain
  route?: Route; // Choose the Rust toolchain
  cmd?: CargoCommand; // Choose the Rust toolchain
  written = 0; // Sync the build tree
  lockRefreshed = false; // Sync the build tree
  cargoRan = true; // cargo build
  cargo?: CargoRun; // cargo build

  /** A value an earlier step set; steps run in order and stop at the first error, so a miss is a bug. */
  static got<T>(v: T | undefined, what: string): T {
    if (v === undefined) throw new Error(`internal: ${what} is not set (a step ran out of order)`);
    return v;
  }
}

/** The steps for one target of the plan. `plan` strings are what --dry-run prints. */
export function buildSteps(ctx: Context, plan: Plan, tp: TargetPlan, profile: Profile, results: BuildResult[], logFile: (t: Target) => string): Step[] {
  const s = new TargetState();
  const { target, binary: dist, buildInfo: infoFile } = tp;
  const { version } = plan;
  const got = TargetState.got;
  const pt = planToolchain(ctx);
  const planRoute = routeFor(target, hostTriple(), pt.toolchain);
  const planRef: ToolchainRef = pt.toolchain ?? rustupRef(pt.label);
  // Cargo's JSON messages drive the progress display (cargo-run.ts); the dry run shows the flag too.
  const command = (ref: ToolchainRef, route: Route): CargoCommand => withMessageFormat(cargoCommand(ctx, target, profile, ref, route, version));
  const planCmd = command(planRef, planRoute);
  return [
    {
      title: `Upstream ${ctx.lock.tag} (${ctx.lock.commit.slice(0, 12)})`,
      stage: 'upstream',
      plan: [
        `source: ${ctx.upstreamSource}`,
        `cache: ${ctx.cache.upstreamGit} (bare, partial clone; fetched only when the commit is missing)`,
        `git fetch --filter=blob:none origin +refs/tags/${ctx.lock.tag} and verify it resolves to ${ctx.lock.commit}`,
      ],
      run: async (progress) => {
        s.up = await acquireWithProgress(ctx, progress);
        return s.up.fetched ? 'fetched' : 'cached';
      },
    },
    {
      title: 'Apply the patch series',
      stage: 'apply',
      plan: [
        `lint ${ctx.project.seriesFile}`,
        `git apply --cached each patch onto a temporary index at ${ctx.lock.commit.slice(0, 12)} (zero fuzz)`,
        ...ctx.substitutions.map((sub) => `substitute ${describeReplaced(sub.replaces)} with ${sub.with} (${path.relative(ctx.project.root, sub.file)})`),
        `place ${ctx.project.cratesDir}/* at ${ctx.lock.workspace}/${UPSTREAM_FACTS.crateDir}/`,
      ],
      run: () => {
        lintOrThrow(ctx);
        s.prepared = applyAll(ctx, got(s.up, 'upstream'));
        const substituted = ctx.substitutions.length ? `; SUBSTITUTED ${describeSubstitutions(ctx.substitutions)}` : '';
        return `${s.prepared.applied.perPatch.length - ctx.substitutions.length} patch(es), ${s.prepared.changes.size} file(s) differ from upstream${substituted}`;
      },
    },
    {
      title: 'Choose the Rust toolchain',
      stage: 'toolchain',
      plan: [`toolchain: ${pt.label}`, `route: ${planRoute.blocked ? `cannot build here (${planRoute.blocked})` : describeRoute(planRoute)}`],
      run: () => {
        const pinned = pinnedChannel(treeToolchainFile(ctx, got(s.up, 'upstream'), s.prepared));
        const toolchain = chooseToolchain({ flag: ctx.opts.toolchain, env: process.env.RUSTUP_TOOLCHAIN, pinned, userDefault: ctx.user.toolchain });
        s.toolchain = toolchain;
        const route = routeFor(target, hostTriple(), toolchain);
        if (route.blocked) {
          throw new UserError(
            `cannot build ${target.triple} on this machine: ${route.blocked}`,
            `Build it in CI (release workflow, job "build (${target.alias})", runner ${target.runner}, tool ${target.tool}), or install what is missing here.`,
          );
        }
        s.route = route;
        // The one cargo invocation of this target: the lock refresh reads its environment, the build runs it.
        s.cmd = command(toolchain, route);
        return `${toolchain.name}: ${toolchain.rustc} (${toolchain.reason}); ${route.tool}, std ${route.std === 'build-std' ? 'built from source' : 'prebuilt'}`;
      },
    },
    ...(planRoute.cdeps.includes('libcap')
      ? [
          {
            title: `libcap ${LIBCAP.version} for ${target.triple}`,
            stage: 'libcap',
            plan: [
              `source: ${ctx.user.sources?.libcap ?? process.env.CODEX_LITELLM_LIBCAP_SOURCE ?? LIBCAP.urls.join(' or ')} (SHA-256 ${LIBCAP.sha256.slice(0, 16)}…, cached in ${ctx.cache.sourcesDir})`,
              `make libcap.a with ${planRoute.cc.replace(/ \(cargo-zigbuild\)$/, '')} into ${libcapPrefix(ctx.cache, target.triple)} (scratch dir, then renamed; kept for later builds)`,
              "why: upstream's vendored bubblewrap links libcap through pkg-config, and the host's is not the target's",
            ],
            run: () => {
              const r = ensureLibcap(ctx.cache, target.triple, process.env.CODEX_LITELLM_LIBCAP_SOURCE ?? ctx.user.sources?.libcap, () => {});
              return r.built ? `built into ${r.prefix}` : 'cached';
            },
          } satisfies Step,
        ]
      : []),
    {
      title: 'Sync the build tree',
      stage: 'sync',
      plan: [
        `tree: ${ctx.treeDir} (only files whose content changed are written)`,
        `refresh ${ctx.lock.workspace}/Cargo.lock workspace entries (cargo update --workspace) when manifests changed; refuse new external packages`,
      ],
      run: () => {
        const up = got(s.up, 'upstream');
        const prepared = got(s.prepared, 'the applied series');
        const sync = syncBuildTree(ctx, up, prepared);
        const cmd = got(s.cmd, 'the cargo command');
        const lock = refreshLock(ctx, up, prepared, cmd.env, cmd.cargo);
        s.written = sync.written.length + sync.restored.length + sync.deleted.length;
        s.lockRefreshed = lock.refreshed;
        return `${sync.created ? 'new tree; ' : ''}${s.written} file(s) written${lock.refreshed ? ', Cargo.lock refreshed' : ''}`;
      },
    },
    {
      title: `cargo build ${target.triple} (${profile.name})`,
      stage: 'cargo',
      plan: [`cd ${planCmd.cwd}`, renderCommand(planCmd), `log: ${logFile(target)}`],
      run: async (progress) => {
        const cmd = got(s.cmd, 'the cargo command');
        const stampFile = path.join(ctx.treeDir, `.codex-litellm-build-${target.triple}-${profile.name}.json`);
        const stamp = buildStamp(cmd, got(s.toolchain, 'the toolchain').rustc, got(s.prepared, 'the applied series'));
        s.cargoRan = false;
        if (isUpToDate(stampFile, stamp, path.join(ctx.treeDir, ctx.lock.workspace), cmd.output)) return 'up to date, cargo not needed';
        s.cargoRan = true;
        const run = await runCargo(cmd, {
          log: logFile(target),
          historyFile: path.join(ctx.cache.progressDir, `cargo-${target.triple}-${profile.name}.json`),
          what: `${profile.name} build of ${target.triple}`,
          progress,
        });
        s.cargo = run;
        if (!fs.existsSync(cmd.output)) throw new UserError(`cargo finished but ${cmd.output} is missing`, `See ${logFile(target)}.`);
        recordBuild(stampFile, stamp, path.join(ctx.treeDir, ctx.lock.workspace), cmd.output);
        const warned = run.warnings ? `, ${plural(run.warnings, 'warning')}` : '';
        return `${run.units} units (${run.compiled} compiled, ${run.fresh} fresh)${warned} in ${formatDuration(run.seconds)}`;
      },
    },
    {
      title: `Write ${path.relative(ctx.project.root, dist)}`,
      stage: 'write',
      plan: [`copy ${planCmd.output} -> ${dist} (atomic; untouched when identical)`, `write ${infoFile}`],
      run: () => {
        const cmd = got(s.cmd, 'the cargo command');
        const toolchain = got(s.toolchain, 'the toolchain');
        const changed = copyBinary(cmd.output, dist);
        const route = got(s.route, 'the route');
        writeBuildInfo(infoFile, changed, dist, {
          target: target.triple,
          profile: profile.name,
          ...version,
          toolchain: toolchain.rustc,
          route: { tool: route.tool, std: route.std, cc: route.cc, cdeps: route.cdeps, openssl: route.openssl },
        });
        results.push({
          target: target.triple,
          binary: dist,
          version: version.display,
          toolchain: toolchain.name,
          toolchainReason: toolchain.reason,
          route,
          treeFilesWritten: s.written,
          lockRefreshed: s.lockRefreshed,
          binaryChanged: changed,
          cargoRan: s.cargoRan,
          size: fs.statSync(dist).size,
          log: logFile(target),
          ...(s.cargo ? { cargo: s.cargo } : {}),
          stages: [],
        });
        return changed ? 'updated' : 'unchanged';
      },
    },
  ];
}

/** Copy Cargo's output to dist/; returns whether the copy changed. */
function copyBinary(output: string, dist: string): boolean {
  // The copy carries Cargo's mtime, so "same size and mtime" proves it is current without
  // hashing a binary of 100+ MB on every no-op run.
  const out = fs.statSync(output);
  const cur = fs.existsSync(dist) ? fs.statSync(dist) : undefined;
  // utimes keeps about a millisecond of precision, so "same" means within one.
  const changed = !cur || cur.size !== out.size || Math.abs(cur.mtimeMs - out.mtimeMs) >= 1;
  if (changed) {
    copyFileAtomic(output, dist);
    fs.utimesSync(dist, out.atimeMs / 1000, out.mtimeMs / 1000);
  }
  return changed;
}

/** BUILDINFO.json beside the binary (plan.ts declares it; `package` reads it). Rewritten only when it differs. */
function writeBuildInfo(infoFile: string, changed: boolean, dist: string, fields: Omit<BuildInfo, 'sha256'>): void {
  let previous: Partial<BuildInfo> = {};
  try {
    previous = JSON.parse(fs.readFileSync(infoFile, 'utf8')) as Partial<BuildInfo>;
  } catch {
    previous = {};
  }
  const info: BuildInfo = { ...fields, sha256: !changed && previous.sha256 ? previous.sha256 : fileSha256(dist) };
  const text = JSON.stringify(info, null, 2) + '\n';
  if (!fs.existsSync(infoFile) || fs.readFileSync(infoFile, 'utf8') !== text) writeFileAtomic(infoFile, text);
}

/**
 * Skipping Cargo when nothing can have changed. Cargo's own no-op check stats every source of
 * 700+ crates; ours compares one digest of everything we feed it (tree contents by git tree id,
 * toolchain, command, environment) plus a stat walk of the tree, which also catches hand edits.
 */
const STAMP_ENV = /^(CARGO|RUST|CC|CXX|AR|CFLAGS|CXXFLAGS|LDFLAGS|PKG_CONFIG|OPENSSL|TARGET_|HOST_)/;

function buildStamp(cmd: CargoCommand, rustc: string, prepared: Prepared): string {
  const env = Object.entries(process.env)
    .filter(([k]) => STAMP_ENV.test(k))
    .sort();
  // The digest of every change (patches and crates), so a crate edit counts too.
  const changes = digestChanges(prepared.changes);
  return sha256(JSON.stringify({ program: cmd.program, args: cmd.args, env: cmd.env, callerEnv: env, rustc, changes }));
}

function treeSignature(dir: string): string {
  let count = 0;
  let newest = 0;
  let bytes = 0;
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else {
        const st = fs.statSync(p);
        count += 1;
        bytes += st.size;
        newest = Math.max(newest, st.mtimeMs);
      }
    }
  };
  walk(dir);
  return `${count}:${bytes}:${newest}`;
}

interface BuildRecord {
  stamp: string;
  tree: string;
  output: string;
}

function outputSignature(file: string): string | undefined {
  try {
    const st = fs.statSync(file);
    return `${st.size}:${st.mtimeMs}`;
  } catch {
    return undefined;
  }
}

function isUpToDate(stampFile: string, stamp: string, treeDir: string, output: string): boolean {
  let rec: BuildRecord;
  try {
    rec = JSON.parse(fs.readFileSync(stampFile, 'utf8')) as BuildRecord;
  } catch {
    return false;
  }
  return rec.stamp === stamp && rec.output === outputSignature(output) && rec.tree === treeSignature(treeDir);
}

function recordBuild(stampFile: string, stamp: string, treeDir: string, output: string): void {
  const text = JSON.stringify({ stamp, tree: treeSignature(treeDir), output: outputSignature(output) } satisfies Partial<BuildRecord>, null, 2) + '\n';
  if (!fs.existsSync(stampFile) || fs.readFileSync(stampFile, 'utf8') !== text) writeFileAtomic(stampFile, text);
}
