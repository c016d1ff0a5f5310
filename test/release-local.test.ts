/**
 * The cheap part of `npm run release:local`, on every test run: the npm job's own command
 * (`release.ts npm`, as release.yml runs it) publishes every platform package and the main one to
 * a real local registry (verdaccio, a devDependency), `npm i -g @avikalpa/codex-litellm` installs
 * from it into a fresh prefix, and the installed command runs. The binaries are the packaging
 * suites' stand-ins (test/helpers/package-fixture.ts): npm test needs no codex build. A second run
 * is refused with a clear error and leaves the registry as it was; so is other content under the
 * same version; and without GitHub's OIDC token the job refuses unless it is a local run, which
 * says "skipped: needs GitHub OIDC" in its summary.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { usePrebuilt } from '../scripts/build/prebuilt.ts';
import { makePlan } from '../scripts/lib/plan.ts';
import { packageTargets } from '../scripts/package/command.ts';
import { startRegistry, type LocalRegistry } from '../scripts/release/local/registry.ts';
import { tarballIntegrity } from '../scripts/release/npm.ts';
import { NO_OIDC } from '../scripts/release/release.ts';
import { hostTriple } from '../scripts/lib/host.ts';
import { NPM_MAIN, npmPackageName, npmTargets, TARGETS } from '../scripts/lib/targets.ts';
import { REPO, tmpDir } from './helpers/fixture.ts';
import { makePackageProject, type PackageProject } from './helpers/package-fixture.ts';

// The stand-ins only run here: the suite needs an x86_64 glibc Linux host, like CI.
const runnable = hostTriple() === 'x86_64-unknown-linux-gnu';
const TSX = path.join(REPO, 'node_modules', 'tsx', 'dist', 'loader.mjs');
const RELEASE = path.join(REPO, 'scripts', 'release', 'release.ts');
const targets = npmTargets(TARGETS);

let p: PackageProject;
let reg: LocalRegistry;
let assets: string;
let tag: string;
const npmCache = tmpDir('release-local-npm-cache');

/** The environment of the npm job: our scope sent to the local registry, its token only through NODE_AUTH_TOKEN as setup-node does. */
function jobEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.toLowerCase().startsWith('npm_config_') && !k.startsWith('ACTIONS_ID_TOKEN')) env[k] = v;
  return {
    ...env,
    ...reg.npmEnv('${NODE_AUTH_TOKEN}'),
    NODE_AUTH_TOKEN: reg.token,
    npm_config_cache: npmCache,
    npm_config_update_notifier: 'false',
    npm_config_fund: 'false',
    npm_config_audit: 'false',
    ...extra,
  };
}

function releaseNpm(extra: Record<string, string>): { status: number; out: string; err: string } {
  const r = spawnSync(process.execPath, ['--import', TSX, RELEASE, 'npm', tag, '--dir', assets, '--root', p.root], {
    cwd: p.root,
    env: jobEnv(extra),
    encoding: 'utf8',
    timeout: 300_000,
  });
  return { status: r.status ?? 1, out: r.stdout, err: r.stderr };
}

function npm(args: string[]): { status: number; out: string; err: string } {
  const r = spawnSync('npm', args, { cwd: p.root, env: jobEnv(), encoding: 'utf8', timeout: 120_000 });
  return { status: r.status ?? 1, out: r.stdout, err: r.stderr };
}

beforeAll(async () => {
  if (!runnable) return;
  p = makePackageProject('release-local', targets);
  fs.copyFileSync(path.join(REPO, 'CHANGELOG.md'), path.join(p.root, 'CHANGELOG.md'));
  tag = `v${p.version}`;
  const out = path.join(p.root, 'dist', 'packages');
  await packageTargets(p.ctx, makePlan(p.ctx, { targets: targets.map((t) => t.triple) }), { env: { ...process.env, ...p.env } });
  // What the release jobs download: dist/packages/ without npm/** and SHA256SUMS (release.yml's upload-artifact paths).
  assets = tmpDir('release-local-assets');
  for (const n of fs.readdirSync(out)) if (n !== 'npm' && n !== 'SHA256SUMS') fs.copyFileSync(path.join(out, n), path.join(assets, n));
  reg = await startRegistry(tmpDir('release-local-registry'));
}, 300_000);

afterAll(async () => {
  await reg?.stop();
});

describe.skipIf(!runnable)('release.ts npm against a local registry (verdaccio), then npm i -g from it', () => {
  it('without OIDC and outside a local run, refuses before publishing anything', () => {
    const r = releaseNpm({});
    expect(r.status, r.out + r.err).toBe(2);
    expect(r.err).toMatch(/npm publish --provenance needs GitHub's OIDC token/);
    expect(npm(['view', `${NPM_MAIN}@${p.version}`, 'version']).status).not.toBe(0);
  });

  it('publishes every platform package, then the main one; the summary says provenance was skipped', () => {
    const summary = path.join(tmpDir('release-local-summary'), 'SUMMARY.md');
    const r = releaseNpm({ CODEX_LITELLM_LOCAL_RELEASE: '1', GITHUB_STEP_SUMMARY: summary });
    expect(r.status, r.out + r.err).toBe(0);
    const order = [...r.out.matchAll(/^npm publish (\S+)/gm)].map((m) => path.basename(m[1]!));
    expect(order).toHaveLength(targets.length + 1);
    expect(order.at(-1)).toBe(`avikalpa-codex-litellm-${p.version}.tgz`);
    expect(r.out).not.toMatch(/^npm publish .*--provenance/m);
    expect(r.out).toContain(`${targets.length + 1} published, 0 already there (${p.version}`);
    expect(fs.readFileSync(summary, 'utf8')).toContain(`npm provenance: ${NO_OIDC}`);
    for (const name of [NPM_MAIN, ...targets.map(npmPackageName)]) {
      const v = npm(['view', `${name}@${p.version}`, 'version']);
      expect(v.out.trim(), `${name}: ${v.err}`).toBe(p.version);
    }
  });

  it('npm i -g @avikalpa/codex-litellm from the registry into a fresh prefix runs the host binary', () => {
    const prefix = tmpDir('release-local-prefix');
    const i = npm(['install', '-g', '--prefix', prefix, NPM_MAIN]);
    expect(i.status, i.err).toBe(0);
    const host = npmPackageName(targets.find((t) => t.triple === hostTriple())!);
    const installed = path.join(prefix, 'lib', 'node_modules', ...NPM_MAIN.split('/'), 'node_modules', ...host.split('/'), 'package.json');
    expect(JSON.parse(fs.readFileSync(installed, 'utf8')).version).toBe(p.version);
    const r = spawnSync(path.join(prefix, 'bin', 'codex-litellm'), ['--version'], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`codex-litellm ${p.display}\n`);
  });

  it('a second run is refused with a clear error, and the registry keeps what it had', () => {
    const before = npm(['view', `${NPM_MAIN}@${p.version}`, 'dist.integrity']).out.trim();
    const r = releaseNpm({ CODEX_LITELLM_LOCAL_RELEASE: '1' });
    expect(r.status).toBe(2);
    expect(r.err).toMatch(new RegExp(`${p.version.replace(/\./g, '\\.')} is already published: every one of its ${targets.length + 1} npm package`));
    expect(r.err).toMatch(/raise `release` in upstream\.lock/);
    expect(r.out).not.toMatch(/^npm publish/m);
    expect(npm(['view', `${NPM_MAIN}@${p.version}`, 'dist.integrity']).out.trim()).toBe(before);
  });

  it('other content under a published version is refused, never overwritten', () => {
    const main = path.join(assets, `avikalpa-codex-litellm-${p.version}.tgz`);
    const published = tarballIntegrity(main);
    const original = fs.readFileSync(main);
    try {
      // Same version, other bytes (gzip's OS byte): what a rebuild with another toolchain gives.
      const other = Buffer.from(original);
      other[9] = other[9] === 3 ? 255 : 3;
      fs.writeFileSync(main, other);
      const r = releaseNpm({ CODEX_LITELLM_LOCAL_RELEASE: '1' });
      expect(r.status).toBe(2);
      expect(r.err).toContain(`already published with other content: ${NPM_MAIN}@${p.version}; a published npm version is never overwritten`);
    } finally {
      fs.writeFileSync(main, original);
    }
    expect(npm(['view', `${NPM_MAIN}@${p.version}`, 'dist.integrity']).out.trim()).toBe(published);
  });
});

describe.skipIf(!runnable)('the Build step on prebuilt binaries (CODEX_LITELLM_PREBUILT)', () => {
  it('copies dist/<triple>/ from the given directory when its BUILDINFO.json fits, and refuses one that does not', () => {
    const other = tmpDir('prebuilt-dist');
    const t = 'x86_64-unknown-linux-gnu';
    fs.cpSync(path.join(p.root, 'dist', t), path.join(other, t), { recursive: true });
    fs.rmSync(path.join(p.root, 'dist', t, 'codex-litellm'));
    const plan = makePlan(p.ctx, { targets: [t] }, 'given');
    const r = usePrebuilt(p.ctx, plan, other, { profile: 'release', noSubstitute: true });
    expect('text' in r && r.text).toMatch(/x86_64-unknown-linux-gnu: prebuilt .* \(release, .*\), not compiled \(CODEX_LITELLM_PREBUILT\)/);
    expect(fs.readFileSync(path.join(p.root, 'dist', t, 'codex-litellm')).equals(fs.readFileSync(path.join(other, t, 'codex-litellm')))).toBe(true);
    expect(() => usePrebuilt(p.ctx, plan, other, { profile: 'dev', noSubstitute: true })).toThrow(
      /cannot stand for this build: it is a release build, dev was asked for/,
    );
    const info = path.join(other, t, 'BUILDINFO.json');
    fs.writeFileSync(info, JSON.stringify({ ...JSON.parse(fs.readFileSync(info, 'utf8')), sha256: '0'.repeat(64), series: 'other' }));
    expect(() => usePrebuilt(p.ctx, plan, other, { profile: 'release', noSubstitute: true })).toThrow(
      /built from patch series other, this checkout has .*; the binary is not the one BUILDINFO\.json describes/,
    );
    expect(() => usePrebuilt(p.ctx, plan, tmpDir('prebuilt-empty'), { profile: 'release', noSubstitute: true })).toThrow(
      /has no codex-litellm with a BUILDINFO\.json/,
    );
  });
});
