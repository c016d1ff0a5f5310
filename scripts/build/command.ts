/**
 * `build.ts [--target ...] [--profile ...]`: the whole pipeline for each target of the plan, as a
 * list of steps. The same list is printed by --dry-run and executed by a real run.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ciJob, ciMatrix } from '../lib/ci-matrix.ts';
import type { Context } from '../lib/context.ts';
import { UserError } from '../lib/errors.ts';
import type { Output } from '../lib/output.ts';
import type { BuildPlan, BuildTargetPlan } from '../lib/plan.ts';
import { acquireWithProgress, applyAll, lintOrThrow, treeToolchainFile, type Prepared } from '../lib/prepare.ts';
import type { Profile } from '../lib/profiles.ts';
import { formatBytes, formatDuration, plural } from '../lib/progress.ts';
import { UPSTREAM_FACTS } from '../lib/project.ts';
import { describeRoute, routeFor, type Route } from '../lib/route.ts';
import { outputMode, renderPlan, runSteps, type Step, type StepRecord } from '../lib/steps.ts';
import { describeReplaced, describeSubstitutions } from '../lib/substitutions.ts';
import { ANDROID_API, type Target } from '../lib/targets.ts';
import { pinnedChannel, settleToolchain, type Toolchain } from '../lib/toolchain.ts';
import type { Upstream } from '../lib/upstream-cache.ts';
import { cargoCommand, renderCommand, rustupRef, type CargoCommand, type ToolchainRef } from './cargo.ts';
import { runCargo, withMessageFormat, type CargoRun } from './cargo-run.ts';
import { ensureLibcap, LIBCAP, libcapPrefix } from './cdeps.ts';
import { copyBinary, writeBuildInfo } from './dist.ts';
import { buildStamp, isUpToDate, recordBuild } from './stamp.ts';
import { refreshLock, syncBuildTree } from './sync.ts';
import { checkAndroidElf, exportsOfDir } from './android/check.ts';
import { AOSP_SOURCES, ANDROID_LIBRARIES, ensureSysroot, sourceLocations, sysrootDir, sysrootTools } from './android/sysroot.ts';
import { readElfDeps } from '../package/elf.ts';

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
export async function buildCommand(ctx: Context, plan: BuildPlan, o: BuildOptions): Promise<Output> {
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
  const blocked = plan.targets.filter((tp) => tp.route.blocked);
  const blockedLines = blocked.map(({ target: t, route }) =>
    t.unbuildable
      ? `${t.triple}: cannot be built anywhere yet (not in --all, the release matrix or the packages): ${t.unbuildable}`
      : `${t.triple}: cannot build here: ${route.blocked}; CI job "${ciJob(t)}" on ${t.runner} builds it`,
  );
  // What CI runs instead, for a target this machine cannot build but CI can.
  const inCi = (tp: BuildTargetPlan): boolean => Boolean(tp.route.blocked && !tp.target.unbuildable);
  if (o.dryRun) {
    const header = [
      `Plan: codex-litellm ${version.display}`,
      `Targets: ${plan.targets.map(({ target: t, route }) => `${t.triple} (${route.tool})`).join(', ')}; profile ${profile.name}`,
      `Toolchain: ${plan.toolchain.label}`,
      ...plan.targets.flatMap((tp) => {
        const { target: t, route: r } = tp;
        return [
          `Route ${t.triple}: ${r.blocked ? `cannot build here (${r.blocked})` : describeRoute(r)}`,
          ...(inCi(tp) ? ciLines(t, profile).map((l) => `  ${l}`) : []),
          ...(t.notes ? [`  note: ${t.notes}`] : []),
        ];
      }),
      ...blockedLines.map((l) => `Note: ${l}`),
    ].join('\n');
    const doc = {
      dryRun: true,
      version,
      targets: targets.map((t) => t.triple),
      toolchain: plan.toolchain.label,
      routes: Object.fromEntries(
        plan.targets.map((tp) => [tp.target.triple, { ...tp.route, ...(inCi(tp) ? { ci: ciMatrix([tp.target], profile.name).include[0] } : {}) }]),
      ),
      cannotBuildHere: blockedLines,
      steps: steps.map((s) => ({ title: s.title, plan: s.plan })),
    };
    return { doc, text: renderPlan(steps, header) };
  }
  if (blocked.length) {
    throw new UserError(
      `this machine cannot build ${blocked.length === 1 ? 'this target' : 'these targets'}:\n  - ${blockedLines.join('\n  - ')}`,
      blocked.every((tp) => tp.target.unbuildable)
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
export function buildSteps(
  ctx: Context,
  plan: BuildPlan,
  tp: BuildTargetPlan,
  profile: Profile,
  results: BuildResult[],
  logFile: (t: Target) => string,
): Step[] {
  const s = new TargetState();
  const { target, binary: dist, buildInfo: infoFile, route: planRoute } = tp;
  const { version } = plan;
  const got = TargetState.got;
  const planRef: ToolchainRef = plan.toolchain.toolchain ?? rustupRef(plan.toolchain.label);
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
      plan: [`toolchain: ${plan.toolchain.label}`, `route: ${planRoute.blocked ? `cannot build here (${planRoute.blocked})` : describeRoute(planRoute)}`],
      run: () => {
        const pinned = pinnedChannel(treeToolchainFile(ctx, got(s.up, 'upstream'), s.prepared));
        const toolchain = settleToolchain(plan.toolchain, pinned);
        s.toolchain = toolchain;
        // The planned route holds for the planned toolchain; another one has a standard library of its own.
        const planned = plan.toolchain.toolchain;
        const route = toolchain.name === planned?.name && toolchain.sysroot === planned.sysroot ? planRoute : routeFor(target, plan.host, toolchain);
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
    ...(planRoute.cdeps.includes('android-sysroot')
      ? [
          {
            title: `Android sysroot for ${target.triple} (API ${ANDROID_API}, no NDK here)`,
            stage: 'sysroot',
            plan: [
              ...AOSP_SOURCES.map(
                (src) =>
                  `source: AOSP ${src.name} ${src.commit.slice(0, 12)} from ${sourceLocations(src, ctx.user.sources).join(' or ')} (${src.paths.length} paths; ${src.why})`,
              ),
              `make ${sysrootDir(ctx.cache, target.triple)}: headers, libc/libm/libdl/liblog/libz stubs from their symbol files, crtbegin/crtend from bionic's sources, zig wrappers (scratch dir, then renamed; kept for later builds)`,
              'why: there is no Android NDK on this machine (ANDROID_NDK_HOME, ANDROID_NDK_LATEST_HOME)',
            ],
            run: () => {
              const r = ensureSysroot(ctx.cache, target.triple, ctx.user.sources, () => {});
              return r.built
                ? `made ${r.dir} (${Object.entries(r.stubs ?? {})
                    .map(([k, v]) => `${k} ${v}`)
                    .join(', ')} symbols)`
                : 'cached';
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
    ...(planRoute.tool === 'android-ndk' || planRoute.tool === 'zig-android'
      ? [
          {
            title: `Check the Android binary (API ${ANDROID_API})`,
            stage: 'check',
            plan: [
              `read ${planCmd.output}: AArch64 PIE, interpreter /system/bin/linker64, DT_NEEDED only ${ANDROID_LIBRARIES.join(', ')}`,
              `every undefined symbol exported (with its version) by those libraries' API ${ANDROID_API} stubs in ${androidLibDir(ctx, target.triple, planRoute)}`,
            ],
            run: () => {
              const cmd = got(s.cmd, 'the cargo command');
              const route = got(s.route, 'the route');
              const elf = readElfDeps(fs.readFileSync(cmd.output));
              if (!elf) throw new UserError(`${cmd.output} is not a 64-bit ELF file`, `See ${logFile(target)}.`);
              const dir = androidLibDir(ctx, target.triple, route);
              const libs = exportsOfDir(dir, ANDROID_LIBRARIES);
              if (libs.size !== ANDROID_LIBRARIES.length)
                throw new UserError(`the stub libraries are not all in ${dir}`, 'Is the NDK (or the generated sysroot) complete?');
              const c = checkAndroidElf(elf, target.triple, libs);
              if (c.problems.length) {
                throw new UserError(
                  `${cmd.output} would not run on Android ${ANDROID_API}:\n  - ${c.problems.join('\n  - ')}`,
                  'A dependency uses an API newer than the target level or a library Android does not have; see the log and the route.',
                );
              }
              return `${c.interpreter}; NEEDED ${c.needed.join(', ')}; ${c.undefinedSymbols} undefined symbols, all exported at API ${ANDROID_API}${c.weakMissing.length ? ` (${c.weakMissing.length} weak ones absent: ${c.weakMissing.join(', ')})` : ''}`;
            },
          } satisfies Step,
        ]
      : []),
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

/** The API-level stub libraries an Android route links against: the NDK's or the generated sysroot's. */
function androidLibDir(ctx: Context, triple: string, route: Route): string {
  if (route.ndk) return path.join(route.ndk, 'toolchains', 'llvm', 'prebuilt', 'linux-x86_64', 'sysroot', 'usr', 'lib', triple, String(ANDROID_API));
  return sysrootTools(sysrootDir(ctx.cache, triple), triple).libDir;
}
