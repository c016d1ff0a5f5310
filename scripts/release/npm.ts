/**
 * npm publishing of one version: every platform package first, the main package (whose
 * optionalDependencies name them) last, so no user can ever install a main package whose
 * platform packages are not on the registry yet. Each `npm publish` carries `--provenance`
 * (a signed statement, made in CI through OIDC, of the workflow run that built it).
 *
 * A version on the registry is never overwritten (npm forbids it anyway, and a user may already
 * have it): before publishing anything, every package is looked up. One that is there with other
 * content than ours refuses the whole run; one that is there with the same content (the same
 * tarball integrity) is skipped, so a re-run after a partial failure finishes the job; and when
 * every package is already there the run is refused, since there is nothing left to publish.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from '../lib/errors.ts';

export interface NpmPackageFile {
  /** A .tgz from `npm pack` (or the packager), or a package directory. */
  file: string;
  name: string;
  version: string;
  optionalDependencies: Record<string, string>;
}

export type Runner = (cmd: string, args: string[]) => { status: number; stdout: string; stderr: string };

export const realRunner: Runner = (cmd, args) => {
  const r = spawnSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.error) throw r.error;
  return { status: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
};

function manifestOf(file: string, run: Runner): Record<string, unknown> {
  let text: string;
  if (fs.statSync(file).isDirectory()) text = fs.readFileSync(path.join(file, 'package.json'), 'utf8');
  else {
    const r = run('tar', ['-xzOf', file, 'package/package.json']);
    if (r.status !== 0) throw new UserError(`${file} is not an npm package tarball: ${r.stderr.trim()}`);
    text = r.stdout;
  }
  return JSON.parse(text) as Record<string, unknown>;
}

/** The npm packages among `entries` (tarballs *.tgz or directories with a package.json). */
export function findPackages(entries: string[], run: Runner = realRunner): NpmPackageFile[] {
  const out: NpmPackageFile[] = [];
  for (const file of entries) {
    const isDir = fs.statSync(file).isDirectory();
    if (isDir ? !fs.existsSync(path.join(file, 'package.json')) : !file.endsWith('.tgz')) continue;
    const m = manifestOf(file, run);
    if (typeof m.name !== 'string' || typeof m.version !== 'string') throw new UserError(`${file}: package.json has no name or version`);
    out.push({ file, name: m.name, version: m.version, optionalDependencies: (m.optionalDependencies ?? {}) as Record<string, string> });
  }
  return out;
}

/**
 * Publishing order: packages that others depend on (optionally) before those that depend on
 * them. All must be one version, and every optional dependency of a main package must be in the set.
 */
export function publishOrder(pkgs: NpmPackageFile[], opts: { allowMissing?: (missing: string[], main: string) => void } = {}): NpmPackageFile[] {
  if (pkgs.length === 0) throw new UserError('no npm packages to publish', 'Run `npx tsx build.ts package` for the targets first.');
  const names = new Map<string, NpmPackageFile>();
  for (const p of pkgs) {
    if (names.has(p.name)) throw new UserError(`npm package ${p.name} appears twice (${names.get(p.name)!.file}, ${p.file})`);
    names.set(p.name, p);
  }
  const versions = new Set(pkgs.map((p) => p.version));
  if (versions.size > 1) throw new UserError(`npm packages of different versions: ${[...versions].join(', ')}`, 'Publish one version at a time.');
  const mains = pkgs.filter((p) => Object.keys(p.optionalDependencies).some((d) => names.has(d)));
  for (const m of mains) {
    const missing = Object.keys(m.optionalDependencies).filter((d) => !names.has(d));
    if (missing.length && opts.allowMissing) opts.allowMissing(missing, m.name);
    else if (missing.length)
      throw new UserError(
        `${m.name} depends on ${missing.join(', ')}, which ${missing.length === 1 ? 'is' : 'are'} not among the packages to publish`,
        'Build and package every target first; a main package must never point at packages that do not exist.',
      );
  }
  const platforms = pkgs.filter((p) => !mains.includes(p)).sort((a, b) => (a.name < b.name ? -1 : 1));
  return [...platforms, ...mains.sort((a, b) => (a.name < b.name ? -1 : 1))];
}

export interface PublishStep {
  name: string;
  version: string;
  file: string;
  skipped: boolean;
  command: string[];
}

/** npm's integrity string of a tarball (what `npm view <pkg>@<v> dist.integrity` prints), or undefined for a directory. */
export function tarballIntegrity(file: string): string | undefined {
  if (fs.statSync(file).isDirectory()) return undefined;
  return `sha512-${createHash('sha512').update(fs.readFileSync(file)).digest('base64')}`;
}

/** Publish in order; `dryRun` passes --dry-run to npm (nothing leaves the machine). */
export function publishAll(
  pkgs: NpmPackageFile[],
  opts: {
    distTag: string;
    dryRun?: boolean;
    provenance?: boolean;
    run?: Runner;
    log?: (s: string) => void;
    /** Let a main package name platform packages that are not in the set (a local partial release); called with them. */
    allowMissing?: (missing: string[], main: string) => void;
  },
): PublishStep[] {
  const run = opts.run ?? realRunner;
  const log = opts.log ?? (() => {});
  const order = publishOrder(pkgs, { allowMissing: opts.allowMissing });
  const command = (p: NpmPackageFile): string[] => [
    'npm',
    'publish',
    p.file,
    '--access',
    'public',
    '--tag',
    opts.distTag,
    ...(opts.provenance === false ? [] : ['--provenance']),
    ...(opts.dryRun ? ['--dry-run'] : []),
  ];
  // Look every package up before publishing any: a clash must stop the run before it starts.
  const there = new Map<string, boolean>();
  const clashes: string[] = [];
  for (const p of opts.dryRun ? [] : order) {
    const seen = run('npm', ['view', `${p.name}@${p.version}`, 'dist.integrity']);
    const published = seen.status === 0 && seen.stdout.trim() !== '';
    if (!published) continue;
    const ours = tarballIntegrity(p.file);
    if (ours && seen.stdout.trim() === ours) there.set(p.name, true);
    else clashes.push(`${p.name}@${p.version}${ours ? '' : ` (${p.file} is a directory, so its content cannot be compared)`}`);
  }
  if (clashes.length) {
    throw new UserError(
      `already published with other content: ${clashes.join(', ')}; a published npm version is never overwritten`,
      'To release again, raise `release` in upstream.lock (with its CHANGELOG.md section) and tag that version.',
    );
  }
  if (order.length > 0 && there.size === order.length) {
    throw new UserError(
      `${order[0]!.version} is already published: every one of its ${order.length} npm package(s) is on the registry with this content; nothing to publish`,
      'A published version is never published again. To release again, raise `release` in upstream.lock (with its CHANGELOG.md section) and tag that version.',
    );
  }
  const steps: PublishStep[] = [];
  for (const p of order) {
    const cmd = command(p);
    if (there.get(p.name)) {
      log(`${p.name}@${p.version} is already published with this content (an earlier, interrupted run); skipped`);
      steps.push({ name: p.name, version: p.version, file: p.file, skipped: true, command: cmd });
      continue;
    }
    log(cmd.join(' '));
    const r = run(cmd[0]!, cmd.slice(1));
    if (r.status !== 0) {
      throw new UserError(
        `npm publish of ${p.name}@${p.version} failed: ${(r.stderr || r.stdout).trim().split('\n').slice(-5).join('\n')}`,
        'Fix the cause and re-run: packages already published with this content are skipped.',
      );
    }
    steps.push({ name: p.name, version: p.version, file: p.file, skipped: false, command: cmd });
  }
  return steps;
}
