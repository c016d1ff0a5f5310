/**
 * `build.ts package [--target ...|--all]`: every package format for each target, from the binary
 * the build left in dist/<triple>/, into dist/packages/ (npm package directories under
 * dist/packages/npm/), plus SHA256SUMS over every artifact of this version. Each file is written
 * to a temporary name and renamed, so a reader sees the old file or the new one.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Context } from '../lib/context.ts';
import { UserError } from '../lib/errors.ts';
import { replaceDir, sha256, writeFileAtomic } from '../lib/fs.ts';
import { npmDirName, npmTarballName, releaseNames, SUMS_FILE, type BuildInfo, type Plan, type TargetPlan } from '../lib/plan.ts';
import type { Output } from '../lib/output.ts';
import { formatBytes, lineReporter, outputMode, type Reporter } from '../lib/progress.ts';
import { UPSTREAM_FACTS } from '../lib/project.ts';
import { NPM_MAIN, npmPackageName, type Target } from '../lib/targets.ts';
import { hostTriple } from '../lib/host.ts';
import { ciJob } from '../lib/ci-matrix.ts';
import { hostCannotBuild } from '../lib/route.ts';
import type { VersionInfo } from '../lib/version.ts';
import { apks } from './apk.ts';
import { releaseArchive } from './archive.ts';
import { wrongBinary } from './binformat.ts';
import { sha256sums } from './checksums.ts';
import { debianDeb, termuxDeb } from './deb.ts';
import { deflateShared } from './deflate.ts';
import { ipks } from './ipk.ts';
import { maintainer, readDocs } from './metadata.ts';
import { mainPackage, npmTarball, platformPackage, type NpmPackage } from './npm.ts';
import type { Artifact, Payload } from './payload.ts';
import { sourceDateEpoch } from './reproducible.ts';

export interface PackageOptions {
  /** Default: <root>/dist/packages. */
  outDir?: string;
  env?: NodeJS.ProcessEnv;
  /** Where compression is, for binaries of at least LARGE_BINARY bytes. */
  progress?: Reporter;
}

/** A binary this large takes seconds to compress (a release build is 100+ MB): its progress is shown. */
export const LARGE_BINARY = 32 * 1024 * 1024;

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
  versions: { npm: string; debian: string; opkg: string; apk: string };
  epoch: number;
  epochSource: string;
  artifacts: WrittenArtifact[];
  npmDirs: string[];
  warnings: string[];
  /** Milliseconds per phase, for the bench. */
  timings: Record<string, number>;
}

function howToGet(t: Target): string {
  const why = hostCannotBuild(t, hostTriple());
  return why
    ? `this machine cannot build it (${why}): take dist/${t.triple}/ from the CI job "${ciJob(t)}" (runner ${t.runner})`
    : `npx tsx build.ts --target ${t.triple}`;
}

/**
 * The version of the binary on disk, from the BUILDINFO.json the build wrote beside it. A binary
 * built for another version than upstream.lock names is refused (its packages would lie about
 * it); one built from an older patch series of the same version is packaged with a warning.
 */
function binaryVersion(tp: TargetPlan, expected: VersionInfo, warnings: string[]): VersionInfo {
  const { target: t, buildInfo: file } = tp;
  // Partial: a file from an older orchestrator may lack fields.
  let info: Partial<BuildInfo>;
  try {
    info = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<BuildInfo>;
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
    warnings.push(
      `${t.triple}: this is a dev build (not optimised, not stripped: lintian reports unstripped-binary-or-object); release with --profile release`,
    );
  }
  if (info.series && info.series !== expected.series) {
    warnings.push(
      `${t.triple}: the binary was built from patch series ${info.series}; the checkout is now at ${expected.series} (rebuild to package the current series)`,
    );
  }
  const substitutions = info.substitutions ?? [];
  if (substitutions.length > 0) {
    warnings.push(
      `${t.triple}: this binary was built with substituted git dependencies (${substitutions.map((s) => `${s.name}: ${s.with}`).join('; ')}): fine for your own use, never for a release`,
    );
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

/** An npm package directory, replaced as a whole. */
function writeDirAtomic(dir: string, files: NpmPackage['files']): void {
  replaceDir(dir, (tmp) => {
    for (const f of files) {
      const target = path.join(tmp, f.path);
      fs.mkdirSync(path.dirname(target), { recursive: true });
      fs.writeFileSync(target, Buffer.isBuffer(f.content) ? f.content : f.content.raw, { mode: f.mode });
      fs.chmodSync(target, f.mode);
    }
  });
}

/** Writes every package of the plan's targets, and SHA256SUMS. */
export async function packageTargets(ctx: Context, plan: Plan, opts: PackageOptions = {}): Promise<PackageResult> {
  const env = opts.env ?? process.env;
  const outDir = opts.outDir ? path.resolve(opts.outDir) : path.join(ctx.project.distDir, 'packages');
  const { release, version: expected } = plan;

  // Check every input before writing anything.
  const missing = plan.targets.filter((tp) => !fs.existsSync(tp.binary));
  if (missing.length) {
    throw new UserError(
      `no binary to package for ${missing.map((tp) => tp.target.triple).join(', ')} (looked for ${missing.map((tp) => path.relative(ctx.project.root, tp.binary)).join(', ')})`,
      missing.map((tp) => `${tp.target.triple}: ${howToGet(tp.target)}`).join('\n  hint: '),
    );
  }
  for (const { target: t, binary } of plan.targets) {
    const wrong = wrongBinary(t, readHead(binary));
    if (wrong)
      throw new UserError(`${path.relative(ctx.project.root, binary)} is not a ${t.triple} binary: ${wrong}`, `Put that target's build there: ${howToGet(t)}`);
  }
  const warnings: string[] = [];
  const binaries = plan.targets.map((tp) => ({ t: tp.target, binary: tp.binary, version: binaryVersion(tp, expected, warnings) }));
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
  for (const { t, binary, version } of binaries) {
    const raw = fs.readFileSync(binary);
    const t0 = performance.now();
    const progress = raw.length >= LARGE_BINARY ? opts.progress : undefined;
    const deflated = await deflateShared(
      raw,
      progress &&
        ((done, total) =>
          progress.update({
            text: `compressing the ${t.triple} binary: ${Math.floor((done / total) * 100)}% of ${formatBytes(total)}`,
            data: { stage: 'compress', target: t.triple, done, total },
            milestone: done === total,
          })),
    );
    timings.compress = (timings.compress ?? 0) + performance.now() - t0;
    const p: Payload = { target: t, version, release, binary: { raw, deflated }, docs, epoch: epoch.seconds, maintainer: who };
    // Everything for this target is made before any of it is written: a format that refuses the
    // binary (an unknown shared library, a dynamic build for OpenWrt) leaves no half-set behind.
    const made: Artifact[] = [];
    time('archive', () => made.push(releaseArchive(p)));
    const npmPkg = platformPackage(p);
    const npmTgz = npmPkg && time('npm', () => npmTarball(npmPkg, epoch.seconds));
    if (t.debian) time('deb', () => made.push(debianDeb(p)));
    if (t.termux) time('termux', () => made.push(termuxDeb(p)));
    if (t.openwrt.length) time('ipk', () => made.push(...ipks(p)));
    if (t.openwrt.length) time('apk', () => made.push(...apks(p)));
    time('write', () => {
      made.forEach(emit);
      if (npmPkg && npmTgz) emitNpm(npmPkg, npmTgz);
    });
  }
  const main = mainPackage(binaries[0]?.version ?? expected, docs);
  time('npm', () => emitNpm(main, npmTarball(main, epoch.seconds)));

  // SHA256SUMS covers this version's artifacts in the directory: this run's and earlier runs'
  // (targets packaged one at a time, or downloaded from other CI jobs), never older versions'.
  time('sums', () => {
    const known = new Map(written.map((w) => [w.name, w.sha256]));
    const names = releaseNames(plan).filter((n) => known.has(n) || fs.existsSync(path.join(outDir, n)));
    const text = sha256sums(outDir, [...new Set(names)], known);
    writeFileAtomic(path.join(outDir, SUMS_FILE), text);
    written.push({ name: SUMS_FILE, kind: 'sums', bytes: Buffer.byteLength(text), sha256: sha256(text) });
  });

  return {
    outDir,
    version: expected.version,
    versions: plan.versions,
    epoch: epoch.seconds,
    epochSource: epoch.source,
    artifacts: written,
    npmDirs,
    warnings,
    timings,
  };
}

export interface PackageCommandOptions {
  dryRun: boolean;
  json: boolean;
  outDir?: string;
}

/** The package command: with --dry-run the files it would write, else it writes them (progress on stderr: stdout is the result). */
export async function packageCommand(ctx: Context, plan: Plan, o: PackageCommandOptions): Promise<Output> {
  if (o.dryRun) {
    const text = packagePlan(ctx, plan, { outDir: o.outDir });
    return { doc: { dryRun: true, plan: text }, text };
  }
  const progress = lineReporter(outputMode(o.json, process.stderr), 'package', { fields: { command: 'package' } });
  const r = await packageTargets(ctx, plan, { progress, outDir: o.outDir }).finally(() => progress.done());
  return { doc: { ok: true, ...r }, text: formatResult(r) };
}

/** What `package --dry-run` prints: inputs and the files that would be written. */
export function packagePlan(ctx: Context, plan: Plan, opts: Pick<PackageOptions, 'outDir'> = {}): string {
  const outDir = opts.outDir ? path.resolve(opts.outDir) : path.join(ctx.project.distDir, 'packages');
  const v = plan.version;
  const lines = [
    `Package codex-litellm ${v.version} (npm ${v.version}, Debian/Termux ${plan.versions.debian}, opkg ${plan.versions.opkg}, apk ${plan.versions.apk}) into ${outDir}`,
  ];
  for (const { target: t, binary: bin, artifacts } of plan.targets) {
    lines.push('', `${t.triple}: from ${bin}${fs.existsSync(bin) ? '' : ` (missing: ${howToGet(t)})`}`);
    for (const n of artifacts) lines.push(`  ${n}`);
    if (t.npm) lines.push(`  npm/${npmDirName(npmPackageName(t))}/`);
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
    `codex-litellm ${r.version} (Debian/Termux ${r.versions.debian}, opkg ${r.versions.opkg}, apk ${r.versions.apk}); timestamps ${new Date(r.epoch * 1000).toISOString()} (${r.epochSource})`,
    ...r.artifacts.map((a) => `  ${path.join(rel, a.name).padEnd(width + rel.length + 1)}  ${mb(a.bytes).padStart(10)}  ${a.sha256.slice(0, 16)}`),
    ...r.npmDirs.map((d) => `  ${path.relative(cwd, d)}/`),
    ...r.warnings.map((w) => `warning: ${w}`),
    `Publish npm with an explicit tag (the version is a semver prerelease): npm publish --tag latest <tgz> (platform packages first).`,
  ].join('\n');
}
