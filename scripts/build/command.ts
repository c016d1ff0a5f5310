/**
 * `build.ts [--target ...] [--profile ...]`: the whole pipeline for each target, as a list of
 * steps. The same list is printed by --dry-run and executed by a real run.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { digestChanges } from '../lib/apply.ts';
import { cargoCommand, renderCommand, type CargoCommand } from './cargo.ts';
import { contextVersion, type Context } from '../lib/context.ts';
import { UserError } from '../lib/errors.ts';
import { copyFileAtomic, fileSha256, sha256, writeFileAtomic } from '../lib/fs.ts';
import { acquire, applyAll, lintOrThrow, treeToolchainFile, type Prepared } from '../lib/prepare.ts';
import { refreshLock, syncBuildTree } from './sync.ts';
import type { Profile } from '../lib/profiles.ts';
import { UPSTREAM_FACTS } from '../lib/project.ts';
import type { Step } from '../lib/steps.ts';
import { describeSubstitutions } from '../lib/substitutions.ts';
import { hostCannotBuild, hostTriple, type Target } from '../lib/targets.ts';
import { chooseToolchain, pinnedChannel, type Toolchain } from './toolchain.ts';
import type { Upstream } from '../lib/upstream-cache.ts';
import type { VersionInfo } from '../lib/version.ts';

export interface BuildResult {
  target: string;
  binary: string;
  version: string;
  toolchain: string;
  toolchainReason: string;
  treeFilesWritten: number;
  lockRefreshed: boolean;
  binaryChanged: boolean;
  /** false when nothing changed since the last build and Cargo was not run at all. */
  cargoRan: boolean;
}

/** Why this machine cannot build a target, or undefined when it can. */
export function cannotBuildHere(target: Target, toolchain: string | undefined): string | undefined {
  const host = hostTriple();
  if (target.triple === host) return undefined;
  const hostProblem = hostCannotBuild(target, host);
  if (hostProblem) return hostProblem;
  if (target.tool === 'cross' || target.tool === 'cargo-zigbuild') {
    const prog = target.tool === 'cross' ? 'cross' : 'cargo-zigbuild';
    if (spawnSync(prog, ['--version']).status !== 0) return `it is built with ${prog}, which is not installed here`;
  }
  if (target.tool === 'android-ndk' && !process.env.ANDROID_NDK_HOME) return 'it needs the Android NDK (set ANDROID_NDK_HOME)';
  const installed = spawnSync('rustup', ['target', 'list', '--installed', ...(toolchain ? ['--toolchain', toolchain] : [])], { encoding: 'utf8' });
  if (installed.status === 0 && !installed.stdout.split('\n').includes(target.triple)) {
    return `the Rust standard library for ${target.triple} is not installed (rustup target add ${target.triple}; offline machines cannot)`;
  }
  if (target.tool === 'cargo' && target.triple.split('-')[2] !== host.split('-')[2]) return `it needs a ${target.triple.split('-')[2]} host`;
  return undefined;
}

interface TargetState {
  up?: Upstream;
  prepared?: Prepared;
  toolchain?: Toolchain;
  version?: VersionInfo;
  written?: number;
  lockRefreshed?: boolean;
  cargoRan?: boolean;
}

/** The steps for one target. `plan` strings are what --dry-run prints. */
export function buildSteps(ctx: Context, target: Target, profile: Profile, results: BuildResult[], logFile: (t: Target) => string): Step[] {
  const s: TargetState = {};
  const version = contextVersion(ctx);
  const planToolchain = ctx.opts.toolchain ?? process.env.RUSTUP_TOOLCHAIN ?? ctx.user.toolchain ?? "upstream's pin if installed, else stable";
  const planCmd = cargoCommand(ctx, target, profile, planToolchain, version);
  const dist = path.join(ctx.project.distDir, target.triple, `${UPSTREAM_FACTS.binName}${target.exe}`);
  return [
    {
      title: `Upstream ${ctx.lock.tag} (${ctx.lock.commit.slice(0, 12)})`,
      plan: [
        `source: ${ctx.upstreamSource}`,
        `cache: ${ctx.cache.upstreamGit} (bare, partial clone; fetched only when the commit is missing)`,
        `git fetch --filter=blob:none origin +refs/tags/${ctx.lock.tag} and verify it resolves to ${ctx.lock.commit}`,
      ],
      run: () => {
        s.up = acquire(ctx);
        return s.up.fetched ? 'fetched' : 'cached';
      },
    },
    {
      title: 'Apply the patch series',
      plan: [
        `lint ${ctx.project.seriesFile}`,
        `git apply --cached each patch onto a temporary index at ${ctx.lock.commit.slice(0, 12)} (zero fuzz)`,
        ...ctx.substitutions.map((sub) => `substitute ${sub.replaces.url}@${sub.replaces.rev.slice(0, 12)} with ${sub.with} (${path.relative(ctx.project.root, sub.file)})`),
        `place ${ctx.project.cratesDir}/* at ${ctx.lock.workspace}/${UPSTREAM_FACTS.crateDir}/`,
      ],
      run: () => {
        lintOrThrow(ctx);
        s.prepared = applyAll(ctx, s.up!);
        const substituted = ctx.substitutions.length ? `; SUBSTITUTED ${describeSubstitutions(ctx.substitutions)}` : '';
        return `${s.prepared.applied.perPatch.length - ctx.substitutions.length} patch(es), ${s.prepared.changes.size} file(s) differ from upstream${substituted}`;
      },
    },
    {
      title: 'Choose the Rust toolchain',
      plan: [`RUSTUP_TOOLCHAIN=${planToolchain}`],
      run: () => {
        const pinned = pinnedChannel(treeToolchainFile(ctx, s.up!, s.prepared));
        s.toolchain = chooseToolchain({ flag: ctx.opts.toolchain, env: process.env.RUSTUP_TOOLCHAIN, pinned, userDefault: ctx.user.toolchain });
        const why = cannotBuildHere(target, s.toolchain.name);
        if (why) {
          throw new UserError(
            `cannot build ${target.triple} on this machine: ${why}`,
            `Build it in CI (release workflow, job "build (${target.alias})", runner ${target.runner}, tool ${target.tool}), or install the tool here.`,
          );
        }
        return `${s.toolchain.name}: ${s.toolchain.rustc} (${s.toolchain.reason})`;
      },
    },
    {
      title: 'Sync the build tree',
      plan: [`tree: ${ctx.treeDir} (only files whose content changed are written)`, `refresh ${ctx.lock.workspace}/Cargo.lock workspace entries (cargo update --workspace) when manifests changed; refuse new external packages`],
      run: () => {
        const sync = syncBuildTree(ctx, s.up!, s.prepared!);
        s.version = contextVersion(ctx);
        const env = cargoCommand(ctx, target, profile, s.toolchain!.name, s.version).env;
        const lock = refreshLock(ctx, s.up!, s.prepared!, env);
        s.written = sync.written.length + sync.restored.length + sync.deleted.length;
        s.lockRefreshed = lock.refreshed;
        return `${sync.created ? 'new tree; ' : ''}${s.written} file(s) written${lock.refreshed ? ', Cargo.lock refreshed' : ''}`;
      },
    },
    {
      title: `cargo build ${target.triple} (${profile.name})`,
      plan: [`cd ${planCmd.cwd}`, renderCommand(planCmd), `log: ${logFile(target)}`],
      run: async () => {
        const cmd = cargoCommand(ctx, target, profile, s.toolchain!.name, s.version!);
        const stampFile = path.join(ctx.treeDir, `.codex-litellm-build-${target.triple}-${profile.name}.json`);
        const stamp = buildStamp(cmd, s.toolchain!.rustc, s.prepared!);
        s.cargoRan = false;
        if (isUpToDate(stampFile, stamp, path.join(ctx.treeDir, ctx.lock.workspace), cmd.output)) return 'up to date, cargo not needed';
        s.cargoRan = true;
        await runLogged(cmd.program, cmd.args, cmd.cwd, cmd.env, logFile(target));
        if (!fs.existsSync(cmd.output)) throw new UserError(`cargo finished but ${cmd.output} is missing`, `See ${logFile(target)}.`);
        recordBuild(stampFile, stamp, path.join(ctx.treeDir, ctx.lock.workspace), cmd.output);
        return undefined;
      },
    },
    {
      title: `Write ${path.relative(ctx.project.root, dist)}`,
      plan: [`copy ${planCmd.output} -> ${dist} (atomic; untouched when identical)`, `write ${path.join(path.dirname(dist), 'BUILDINFO.json')}`],
      run: () => {
        const cmd = cargoCommand(ctx, target, profile, s.toolchain!.name, s.version!);
        const infoFile = path.join(path.dirname(dist), 'BUILDINFO.json');
        // The copy carries Cargo's mtime, so "same size and mtime" proves it is current without
        // hashing a binary of 100+ MB on every no-op run.
        const out = fs.statSync(cmd.output);
        const cur = fs.existsSync(dist) ? fs.statSync(dist) : undefined;
        // utimes keeps about a millisecond of precision, so "same" means within one.
        const changed = !cur || cur.size !== out.size || Math.abs(cur.mtimeMs - out.mtimeMs) >= 1;
        if (changed) {
          copyFileAtomic(cmd.output, dist);
          fs.utimesSync(dist, out.atimeMs / 1000, out.mtimeMs / 1000);
        }
        let previous: { sha256?: string } = {};
        try {
          previous = JSON.parse(fs.readFileSync(infoFile, 'utf8')) as { sha256?: string };
        } catch {
          previous = {};
        }
        const info = {
          target: target.triple,
          profile: profile.name,
          ...s.version!,
          toolchain: s.toolchain!.rustc,
          sha256: !changed && previous.sha256 ? previous.sha256 : fileSha256(dist),
        };
        const text = JSON.stringify(info, null, 2) + '\n';
        if (!fs.existsSync(infoFile) || fs.readFileSync(infoFile, 'utf8') !== text) writeFileAtomic(infoFile, text);
        results.push({
          target: target.triple,
          binary: dist,
          version: s.version!.display,
          toolchain: s.toolchain!.name,
          toolchainReason: s.toolchain!.reason,
          treeFilesWritten: s.written ?? 0,
          lockRefreshed: s.lockRefreshed ?? false,
          binaryChanged: changed,
          cargoRan: s.cargoRan ?? true,
        });
        return changed ? 'updated' : 'unchanged';
      },
    },
  ];
}

/**
 * Skipping Cargo when nothing can have changed. Cargo's own no-op check stats every source of
 * 700+ crates; ours compares one digest of everything we feed it (tree contents by git tree id,
 * toolchain, command, environment) plus a stat walk of the tree, which also catches hand edits.
 */
const STAMP_ENV = /^(CARGO|RUST|CC|CXX|AR|CFLAGS|CXXFLAGS|LDFLAGS|PKG_CONFIG|OPENSSL|TARGET_|HOST_)/;

function buildStamp(cmd: CargoCommand, rustc: string, prepared: Prepared): string {
  const env = Object.entries(process.env).filter(([k]) => STAMP_ENV.test(k)).sort();
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

/** Run a command with its output in a log file; on failure, show the log's tail. */
export function runLogged(program: string, args: string[], cwd: string, env: Record<string, string>, log: string): Promise<void> {
  fs.mkdirSync(path.dirname(log), { recursive: true });
  const fd = fs.openSync(log, 'w');
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', fd, fd] });
    child.on('error', (e) => {
      fs.closeSync(fd);
      reject(new UserError(`cannot run ${program}: ${e.message}`, `Is ${program} installed and on PATH?`));
    });
    child.on('close', (code, signal) => {
      fs.closeSync(fd);
      if (code === 0) return resolve();
      const tail = fs.readFileSync(log, 'utf8').trimEnd().split('\n').slice(-30).join('\n');
      reject(new UserError(`${program} ${args[0]} failed (${signal ?? `exit ${code}`}); last lines of ${log}:\n${tail}`, `The whole log is ${log}.`));
    });
  });
}
