/**
 * `build.ts package [--target ...|--all]`: every package format for each target, from the binary
 * the build left in dist/<triple>/, into dist/packages/ (npm package directories under
 * dist/packages/npm/), plus SHA256SUMS over every artifact of this version. Each file is written
 * to a temporary name and renamed, so a reader sees the old file or the new one.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { contextVersion, type Context } from '../lib/context.ts';
import { UserError } from '../lib/errors.ts';
import { sha256, tmpName, writeFileAtomic } from '../lib/fs.ts';
import { UPSTREAM_FACTS } from '../lib/project.ts';
import { ciJob, hostCannotBuild, hostTriple, NPM_MAIN, npmPackageName, selectTargets, TARGETS, type Target } from '../lib/targets.ts';
import { debianVersion, opkgVersion, releaseOf, type Release, type VersionInfo } from '../lib/version.ts';
import { archiveName, releaseArchive } from './archive.ts';
import { wrongBinary } from './binformat.ts';
import { SUMS_FILE, sha256sums } from './checksums.ts';
import { debianDeb, debName, termuxDeb, termuxName } from './deb.ts';
import { deflateShared } from './deflate.ts';
import { ipkName, ipks } from './ipk.ts';
import { maintainer, readDocs } from './metadata.ts';
import { mainPackage, npmDirName, npmTarball, npmTarballName, platformPackage, type NpmPackage } from './npm.ts';
import type { Artifact, Payload } from './payload.ts';
import { sourceDateEpoch } from './reproducible.ts';

export interface PackageOptions {
  targets?: readonly string[];
  all?: boolean;
  /** Default: <root>/dist/packages. */
  outDir?: string;
  env?: NodeJS.ProcessEnv;
}

export interface WrittenArtifact {
  name: string;
  kind: Artifact['kind'] | 'sums';
  target?: string;
  bytes: number;
  sha256: string;
}

export interface PackageResult {
  outDir: string;
  version: string;
  versions: { npm: string; debian: string; opkg: string };
  epoch: number;
  epochSource: string;
  artifacts: WrittenArtifact[];
  npmDirs: string[];
  warnings: string[];
  /** Milliseconds per phase, for the bench. */
  timings: Record<string, number>;
}

export function binaryPath(ctx: Context, t: Target): string {
  return path.join(ctx.project.distDir, t.triple, `${UPSTREAM_FACTS.binName}${t.exe}`);
}

/** Every file name a target contributes to this version's release. */
export function artifactNames(version: VersionInfo, release: Release, t: Target): string[] {
  return [
    archiveName(version.version, t.triple, t.archive),
    npmTarballName(npmPackageName(t), version.version),
    ...(t.debian ? [debName(debianVersion(release), t.debian)] : []),
    ...(t.termux ? [termuxName(debianVersion(release), t.termux)] : []),
    ...t.openwrt.map((a) => ipkName(opkgVersion(release), a)),
  ];
}

function howToGet(t: Target): string {
  const why = hostCannotBuild(t, hostTriple());
  return why
    ? `this machine cannot build it (${why}): take dist/${t.triple}/ from the CI job "${ciJob(t)}" (runner ${t.runner})`
    : `npx tsx build.ts --target ${t.triple}`;
}

interface BuildInfo {
  target?: string;
  profile?: string;
  version?: string;
  upstreamTag?: string;
  upstreamCommit?: string;
  series?: string;
  substitutions?: VersionInfo['substitutions'];
  display?: string;
}

/**
 * The version of the binary on disk, from the BUILDINFO.json the build wrote beside it. A binary
 * built for another version than upstream.lock names is refused (its packages would lie about
 * it); one built from an older patch series of the same version is packaged with a warning.
 */
function binaryVersion(ctx: Context, t: Target, expected: VersionInfo, warnings: string[]): VersionInfo {
  const file = path.join(ctx.project.distDir, t.triple, 'BUILDINFO.json');
  let info: BuildInfo;
  try {
    info = JSON.parse(fs.readFileSync(file, 'utf8')) as BuildInfo;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      warnings.push(`${t.triple}: no BUILDINFO.json beside the binary; packaging it as ${expected.version} from upstream.lock`);
      return expected;
    }
    throw new UserError(`cannot read ${file}: ${(e as Error).message}`, `Rebuild: ${howToGet(t)}`);
  }
  if (info.target !== undefined && info.target !== t.triple) {
    throw new UserError(`${file} describes a build for ${info.target}, not ${t.triple}`, `Rebuild: ${howToGet(t)}`);
  }
  if (info.version !== expected.version) {
    throw new UserError(
      `dist/${t.triple}/${UPSTREAM_FACTS.binName}${t.exe} is version ${info.version ?? '(unknown)'}, but upstream.lock now makes ${expected.version}`,
      `Rebuild it so the packages describe the binary they hold: ${howToGet(t)}`,
    );
  }
  if (info.profile === 'dev') {
    warnings.push(`${t.triple}: this is a dev build (not optimised, not stripped: lintian reports unstripped-binary-or-object); release with --profile release`);
  }
  if (info.series && info.series !== expected.series) {
    warnings.push(`${t.triple}: the binary was built from patch series ${info.series}; the checkout is now at ${expected.series} (rebuild to package the current series)`);
  }
  const substitutions = info.substitutions ?? [];
  if (substitutions.length > 0) {
    warnings.push(`${t.triple}: this binary was built with substituted git dependencies (${substitutions.map((s) => `${s.name}: ${s.with}`).join('; ')}): fine for your own use, never for a release`);
  }
  return {
    version: expected.version,
    upstreamTag: info.upstreamTag ?? expected.upstreamTag,
    upstreamCommit: info.upstreamCommit ?? expected.upstreamCommit,
    series: info.series ?? expected.series,
    substitutions,
    display: info.display ?? expected.display,
  };
}

/** The first 64 KiB of a file: enough for any executable header. */
function readHead(file: string): Buffer {
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.alloc(64 * 1024);
    return buf.subarray(0, fs.readSync(fd, buf, 0, buf.length, 0));
  } finally {
    fs.closeSync(fd);
  }
}

/** Replace a directory as a whole: build it beside, then swap it in with renames. */
function writeDirAtomic(dir: string, files: NpmPackage['files']): void {
  const tmp = tmpName(dir);
  try {
    for (const f of files) {
      const target = path.join(tmp, f.path);
      fs.mkdirSync(path.dirname(target), { recursive: true });
      fs.writeFileSync(target, Buffer.isBuffer(f.content) ? f.content : f.content.raw, { mode: f.mode });
      fs.chmodSync(target, f.mode);
    }
    const old = fs.existsSync(dir) ? tmpName(`${dir}.old`) : undefined;
    if (old) fs.renameSync(dir, old);
    fs.renameSync(tmp, dir);
    if (old) fs.rmSync(old, { recursive: true, force: true });
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}

export function resolveTargets(opts: PackageOptions): Target[] {
  if (opts.all || (opts.targets && opts.targets.length > 0)) return selectTargets(opts.targets, opts.all ?? false);
  const host = TARGETS.find((t) => t.triple === hostTriple());
  if (!host) throw new UserError(`this machine (${hostTriple()}) is not a release target`, `Pass --target; known: ${TARGETS.map((t) => t.alias).join(', ')}.`);
  return [host];
}

export async function packageTargets(ctx: Context, opts: PackageOptions = {}): Promise<PackageResult> {
  const env = opts.env ?? process.env;
  const targets = resolveTargets(opts);
  const outDir = opts.outDir ? path.resolve(opts.outDir) : path.join(ctx.project.distDir, 'packages');
  const release = releaseOf(ctx.lock);
  const expected = contextVersion(ctx);

  // Check every input before writing anything.
  const missing = targets.filter((t) => !fs.existsSync(binaryPath(ctx, t)));
  if (missing.length) {
    throw new UserError(
      `no binary to package for ${missing.map((t) => t.triple).join(', ')} (looked for ${missing.map((t) => path.relative(ctx.project.root, binaryPath(ctx, t))).join(', ')})`,
      missing.map((t) => `${t.triple}: ${howToGet(t)}`).join('\n  hint: '),
    );
  }
  for (const t of targets) {
    const wrong = wrongBinary(t, readHead(binaryPath(ctx, t)));
    if (wrong) throw new UserError(`${path.relative(ctx.project.root, binaryPath(ctx, t))} is not a ${t.triple} binary: ${wrong}`, `Put that target's build there: ${howToGet(t)}`);
  }
  const warnings: string[] = [];
  const binaries = targets.map((t) => ({ t, version: binaryVersion(ctx, t, expected, warnings) }));
  const epoch = sourceDateEpoch(ctx.project.root, env);
  const docs = readDocs(ctx.project.root);
  const who = maintainer(env);

  fs.mkdirSync(outDir, { recursive: true });
  const npmRoot = path.join(outDir, 'npm');
  const written: WrittenArtifact[] = [];
  const npmDirs: string[] = [];
  const timings: Record<string, number> = {};
  const time = <T>(phase: string, fn: () => T): T => {
    const t0 = performance.now();
    try {
      return fn();
    } finally {
      timings[phase] = (timings[phase] ?? 0) + performance.now() - t0;
    }
  };
  const emit = (a: Artifact): void => {
    writeFileAtomic(path.join(outDir, a.name), a.data);
    written.push({ name: a.name, kind: a.kind, ...(a.target ? { target: a.target } : {}), bytes: a.data.length, sha256: sha256(a.data) });
  };
  const emitNpm = (pkg: NpmPackage, tgz: Artifact): void => {
    const dir = path.join(npmRoot, npmDirName(pkg.name));
    writeDirAtomic(dir, pkg.files);
    npmDirs.push(dir);
    emit(tgz);
  };

  // One target at a time: only one binary (100+ MB) and its compressed form are in memory.
  for (const { t, version } of binaries) {
    const raw = fs.readFileSync(binaryPath(ctx, t));
    const t0 = performance.now();
    const deflated = await deflateShared(raw);
    timings.compress = (timings.compress ?? 0) + performance.now() - t0;
    const p: Payload = { target: t, version, release, binary: { raw, deflated }, docs, epoch: epoch.seconds, maintainer: who };
    // Everything for this target is made before any of it is written: a format that refuses the
    // binary (an unknown shared library, a dynamic build for OpenWrt) leaves no half-set behind.
    const made: Artifact[] = [];
    time('archive', () => made.push(releaseArchive(p)));
    const npmPkg = platformPackage(p);
    const npmTgz = time('npm', () => npmTarball(npmPkg, epoch.seconds));
    if (t.debian) time('deb', () => made.push(debianDeb(p)));
    if (t.termux) time('termux', () => made.push(termuxDeb(p)));
    if (t.openwrt.length) time('ipk', () => made.push(...ipks(p)));
    time('write', () => {
      made.forEach(emit);
      emitNpm(npmPkg, npmTgz);
    });
  }
  const main = mainPackage(binaries[0]?.version ?? expected, docs);
  time('npm', () => emitNpm(main, npmTarball(main, epoch.seconds)));

  // SHA256SUMS covers this version's artifacts in the directory: this run's and earlier runs'
  // (targets packaged one at a time, or downloaded from other CI jobs), never older versions'.
  time('sums', () => {
    const known = new Map(written.map((w) => [w.name, w.sha256]));
    const names = [npmTarballName(NPM_MAIN, expected.version), ...TARGETS.flatMap((t) => artifactNames(expected, release, t))].filter((n) => known.has(n) || fs.existsSync(path.join(outDir, n)));
    const text = sha256sums(outDir, [...new Set(names)], known);
    writeFileAtomic(path.join(outDir, SUMS_FILE), text);
    written.push({ name: SUMS_FILE, kind: 'sums', bytes: Buffer.byteLength(text), sha256: sha256(text) });
  });

  return {
    outDir,
    version: expected.version,
    versions: { npm: expected.version, debian: debianVersion(release), opkg: opkgVersion(release) },
    epoch: epoch.seconds,
    epochSource: epoch.source,
    artifacts: written,
    npmDirs,
    warnings,
    timings,
  };
}

/** What `package --dry-run` prints: inputs and the files that would be written. */
export function packagePlan(ctx: Context, opts: PackageOptions = {}): string {
  const targets = resolveTargets(opts);
  const outDir = opts.outDir ? path.resolve(opts.outDir) : path.join(ctx.project.distDir, 'packages');
  const release = releaseOf(ctx.lock);
  const v = contextVersion(ctx);
  const lines = [`Package codex-litellm ${v.version} (npm ${v.version}, Debian/Termux ${debianVersion(release)}, opkg ${opkgVersion(release)}) into ${outDir}`];
  for (const t of targets) {
    const bin = binaryPath(ctx, t);
    lines.push('', `${t.triple}: from ${bin}${fs.existsSync(bin) ? '' : ` (missing: ${howToGet(t)})`}`);
    for (const n of artifactNames(v, release, t)) lines.push(`  ${n}`);
    lines.push(`  npm/${npmDirName(npmPackageName(t))}/`);
  }
  lines.push('', `${npmTarballName(NPM_MAIN, v.version)} and npm/${npmDirName(NPM_MAIN)}/ (launcher)`, SUMS_FILE, '', 'Dry run: nothing was changed.');
  return `${lines.join('\n')}\n`;
}

/** The report `package` prints. */
export function formatResult(r: PackageResult, cwd = process.cwd()): string {
  const rel = path.relative(cwd, r.outDir) || '.';
  const mb = (n: number): string => (n >= 1024 * 1024 ? `${(n / 1024 / 1024).toFixed(1)} MiB` : `${(n / 1024).toFixed(1)} KiB`);
  const width = Math.max(...r.artifacts.map((a) => a.name.length));
  return [
    `codex-litellm ${r.version} (Debian/Termux ${r.versions.debian}, opkg ${r.versions.opkg}); timestamps ${new Date(r.epoch * 1000).toISOString()} (${r.epochSource})`,
    ...r.artifacts.map((a) => `  ${path.join(rel, a.name).padEnd(width + rel.length + 1)}  ${mb(a.bytes).padStart(10)}  ${a.sha256.slice(0, 16)}`),
    ...r.npmDirs.map((d) => `  ${path.relative(cwd, d)}/`),
    ...r.warnings.map((w) => `warning: ${w}`),
    `Publish npm with an explicit tag (the version is a semver prerelease): npm publish --tag latest <tgz> (platform packages first).`,
  ].join('\n');
}
