/**
 * The plan: what one run is about, computed once from the context and the target flags, and read
 * by every command (build steps, packages, dry runs) instead of each working it out again, as
 * cargo-dist does. Per target: where the binary and its BUILDINFO.json go, and the file names it
 * contributes to the release. The names live here, not in the writers, so a plan needs no writer.
 * A build plan adds the Rust toolchain and, per target, its route on this machine (route.ts).
 */
import * as path from 'node:path';
import type { Context } from './context.ts';
import { contextVersion } from './context.ts';
import { hostTriple } from './host.ts';
import { UPSTREAM_FACTS } from './project.ts';
import { routeFor, type Route } from './route.ts';
import { NPM_MAIN, npmPackageName, selectTargets, TARGETS, type Target, type TargetSelection } from './targets.ts';
import { type PlannedToolchain, planToolchain } from './toolchain.ts';
import { apkVersion, debianVersion, opkgVersion, releaseOf, type Release, type VersionInfo } from './version.ts';

/** dist/<triple>/BUILDINFO.json: written by the build beside the binary, read by `package`. */
export interface BuildInfo extends VersionInfo {
  target: string;
  profile: string;
  /** rustc's version line. */
  toolchain: string;
  /** How it was built (route.ts): tool, std prebuilt or built from source, C compiler, target C libraries. */
  route?: { tool: string; std: 'prebuilt' | 'build-std'; cc: string; cdeps: string[]; openssl: string };
  /** Of the binary beside it. */
  sha256: string | undefined;
}

export const SUMS_FILE = 'SHA256SUMS';
export const archiveStem = (version: string, triple: string): string => `${UPSTREAM_FACTS.binName}-${version}-${triple}`;
export const archiveName = (version: string, triple: string, format: 'tar.gz' | 'zip'): string => `${archiveStem(version, triple)}.${format}`;
export const npmTarballName = (name: string, version: string): string => `${name.replace(/^@/, '').replace('/', '-')}-${version}.tgz`;
/** The directory name under dist/packages/npm/ (the name without its scope). */
export const npmDirName = (name: string): string => name.replace(/^@[^/]+\//, '');
export const debName = (version: string, arch: string): string => `${UPSTREAM_FACTS.binName}_${version}_${arch}.deb`;
export const termuxName = (version: string, arch: string): string => `${UPSTREAM_FACTS.binName}_${version}_termux-${arch}.deb`;
export const ipkName = (version: string, arch: string): string => `${UPSTREAM_FACTS.binName}_${version}_${arch}.ipk`;
/**
 * OpenWrt names an apk `<name>-<version>.apk` inside a directory per architecture; a release is
 * one flat list, so the architecture follows the version as in the .ipk name.
 */
export const apkName = (version: string, arch: string): string => `${UPSTREAM_FACTS.binName}-${version}_${arch}.apk`;

/** Every file name a target contributes to this version's release. */
export function artifactNames(version: VersionInfo, release: Release, t: Target): string[] {
  return [
    archiveName(version.version, t.triple, t.archive),
    ...(t.npm ? [npmTarballName(npmPackageName(t), version.version)] : []),
    ...(t.debian ? [debName(debianVersion(release), t.debian)] : []),
    ...(t.termux ? [termuxName(debianVersion(release), t.termux)] : []),
    ...t.openwrt.map((a) => ipkName(opkgVersion(release), a)),
    ...t.openwrt.map((a) => apkName(apkVersion(release), a)),
  ];
}

export function binaryPath(ctx: Context, t: Target): string {
  return path.join(ctx.project.distDir, t.triple, `${UPSTREAM_FACTS.binName}${t.exe}`);
}

export interface TargetPlan {
  target: Target;
  /** dist/<triple>/codex-litellm[.exe] */
  binary: string;
  /** dist/<triple>/BUILDINFO.json */
  buildInfo: string;
  /** Release file names (archive, npm tarball, .deb, Termux .deb, .ipk, .apk). */
  artifacts: string[];
}

export interface Plan {
  version: VersionInfo;
  release: Release;
  /** The same two numbers in each format's spelling. */
  versions: { npm: string; debian: string; opkg: string; apk: string };
  targets: TargetPlan[];
}

/** The plan of a command on the targets `sel` names (selectTargets), in table order unless `order` says otherwise. */
export function makePlan(ctx: Context, sel: TargetSelection, order: 'given' | 'table' = 'table'): Plan {
  const targets = selectTargets(sel, order);
  const release = releaseOf(ctx.lock);
  const version = contextVersion(ctx);
  return {
    version,
    release,
    versions: { npm: version.version, debian: debianVersion(release), opkg: opkgVersion(release), apk: apkVersion(release) },
    targets: targets.map((t) => {
      const binary = binaryPath(ctx, t);
      return { target: t, binary, buildInfo: path.join(path.dirname(binary), 'BUILDINFO.json'), artifacts: artifactNames(version, release, t) };
    }),
  };
}

export interface BuildTargetPlan extends TargetPlan {
  /** How this machine builds it with the planned toolchain (the dry run, the refusal before anything runs, the cargo command). */
  route: Route;
}

/** What the build works from: the plan, with the toolchain and each target's route, in the order the targets were named. */
export interface BuildPlan extends Plan {
  host: string;
  toolchain: PlannedToolchain;
  targets: BuildTargetPlan[];
}

/** The build's plan: the toolchain as far as it can be known now, and each target's route with it, worked out once. */
export function makeBuildPlan(ctx: Context, sel: TargetSelection): BuildPlan {
  const plan = makePlan(ctx, sel, 'given');
  const host = hostTriple();
  const toolchain = planToolchain({ flag: ctx.opts.toolchain, env: process.env.RUSTUP_TOOLCHAIN, userDefault: ctx.user.toolchain });
  return { ...plan, host, toolchain, targets: plan.targets.map((tp) => ({ ...tp, route: routeFor(tp.target, host, toolchain.toolchain) })) };
}

/** Every release file name of this version, for SHA256SUMS (the main npm package first). */
export function releaseNames(plan: Plan): string[] {
  return [npmTarballName(NPM_MAIN, plan.version.version), ...TARGETS.flatMap((t) => artifactNames(plan.version, plan.release, t))];
}
