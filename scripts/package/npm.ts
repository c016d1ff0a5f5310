/**
 * npm packages, esbuild-style: the main package `@avikalpa/codex-litellm` (a small launcher,
 * README, LICENSE, NOTICE) lists every platform package `@avikalpa/codex-litellm-<os>-<cpu>[-musl]`
 * as an optional dependency; each platform package declares os/cpu (and libc on Linux), so npm
 * installs only the one that fits and the launcher runs its binary. Nothing runs at install time
 * and nothing is downloaded. Each package is written both as a directory (for `npm publish <dir>`
 * and `npm pack`) and as the .tgz `npm pack` would name, with the shared compressed binary.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { npmTarballName } from '../lib/plan.ts';
import { REPO_ROOT } from '../lib/project.ts';
import { NPM_MAIN, npmPackageName, npmTargets, TARGETS, type Target } from '../lib/targets.ts';
import type { VersionInfo } from '../lib/version.ts';
import { HOMEPAGE, SUMMARY, type Docs } from './metadata.ts';
import type { Artifact, Payload } from './payload.ts';
import { MODE } from './reproducible.ts';
import { sortEntries, tarGz, type Content, type TarEntry } from './tarball.ts';

export const LAUNCHER_SOURCE = path.join(REPO_ROOT, 'scripts', 'package', 'launcher.cjs');

/** A package as files: relative path -> content and mode. */
export interface NpmPackage {
  name: string;
  version: string;
  files: { path: string; mode: number; content: Content }[];
}

/** `npm pack`'s file name: the scope's `@` dropped and `/` turned into `-`. */

/** Launcher lookup key: `process.platform process.arch[ libc]`. */
export function platformKey(t: Target): string {
  const n = t.npm;
  if (!n) throw new Error(`internal: ${t.triple} has no npm package`);
  return [n.os, n.cpu, n.libc].filter(Boolean).join(' ');
}

const common = (version: string) => ({
  version,
  license: 'Apache-2.0',
  homepage: HOMEPAGE,
  repository: { type: 'git', url: `git+${HOMEPAGE}.git` },
});

const json = (v: unknown): Buffer => Buffer.from(`${JSON.stringify(v, null, 2)}\n`);

export function mainPackage(version: VersionInfo, docs: Docs, all: readonly Target[] = TARGETS): NpmPackage {
  const targets = npmTargets(all);
  const manifest = {
    name: NPM_MAIN,
    ...common(version.version),
    description: `${SUMMARY}: Codex's agent loop with any model behind a LiteLLM gateway`,
    keywords: ['codex', 'litellm', 'llm', 'cli', 'agent'],
    bin: { 'codex-litellm': 'bin/codex-litellm.js' },
    files: ['bin', 'README.md', 'LICENSE', 'NOTICE'],
    engines: { node: '>=16' },
    optionalDependencies: Object.fromEntries(targets.map((t) => [npmPackageName(t), version.version])),
    codexLitellm: {
      upstream: `${version.upstreamTag} ${version.upstreamCommit}`,
      platforms: Object.fromEntries(targets.map((t) => [platformKey(t), npmPackageName(t)])),
    },
  };
  return {
    name: NPM_MAIN,
    version: version.version,
    files: [
      { path: 'package.json', mode: MODE.file, content: json(manifest) },
      { path: 'bin/codex-litellm.js', mode: MODE.exec, content: fs.readFileSync(LAUNCHER_SOURCE) },
      { path: 'README.md', mode: MODE.file, content: docs.readme },
      { path: 'LICENSE', mode: MODE.file, content: docs.license },
      { path: 'NOTICE', mode: MODE.file, content: docs.notice },
    ],
  };
}

/** The npm platform package of the payload's target, or undefined for a target without one. */
export function platformPackage(p: Payload): NpmPackage | undefined {
  const t = p.target;
  if (!t.npm) return undefined;
  const name = npmPackageName(t);
  const manifest = {
    name,
    ...common(p.version.version),
    description: `The ${t.triple} binary of ${NPM_MAIN} (install that package, not this one)`,
    os: [t.npm.os],
    cpu: [t.npm.cpu],
    ...(t.npm.libc ? { libc: [t.npm.libc] } : {}),
    files: ['bin', 'README.md', 'LICENSE', 'NOTICE'],
    // Yarn PnP: a binary must exist on disk to be executed.
    preferUnplugged: true,
  };
  const readme = `# ${name}\n\nThe \`codex-litellm\` binary for ${t.triple} (${p.version.display}).\nInstall [${NPM_MAIN}](https://www.npmjs.com/package/${NPM_MAIN}), which picks the right one of these packages.\n`;
  return {
    name,
    version: p.version.version,
    files: [
      { path: 'package.json', mode: MODE.file, content: json(manifest) },
      { path: `bin/codex-litellm${t.exe}`, mode: MODE.exec, content: p.binary },
      { path: 'README.md', mode: MODE.file, content: Buffer.from(readme) },
      { path: 'LICENSE', mode: MODE.file, content: p.docs.license },
      { path: 'NOTICE', mode: MODE.file, content: p.docs.notice },
    ],
  };
}

/** The .tgz as `npm pack` lays it out: files under `package/`, no directory entries. */
export function npmTarball(pkg: NpmPackage, epoch: number): Artifact {
  const entries = sortEntries<TarEntry>(pkg.files.map((f) => ({ path: `package/${f.path}`, mode: f.mode, content: f.content })));
  return { name: npmTarballName(pkg.name, pkg.version), data: tarGz(entries, new Date(epoch * 1000)).data, kind: 'npm' };
}
