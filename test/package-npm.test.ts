/**
 * The npm packages as users get them: `npm pack` of every package directory, `npm install -g`
 * from those tarballs with no registry (--offline), and the launcher: it runs the platform
 * package's binary, mirrors its exit code and signal, forwards signals, honours
 * CODEX_LITELLM_BINARY, and says what is missing when no binary fits.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { makePlan } from '../scripts/lib/plan.ts';
import { packageTargets } from '../scripts/package/command.ts';
import { readLock } from '../scripts/lib/lockfile.ts';
import { REPO_ROOT } from '../scripts/lib/project.ts';
import { npmVersion, releaseOf } from '../scripts/lib/version.ts';
import { hostTriple } from '../scripts/lib/host.ts';
import { findTarget } from '../scripts/lib/targets.ts';
import { tmpDir } from './helpers/fixture.ts';
import { hasCommand, listTar, makePackageProject, type PackageProject } from './helpers/package-fixture.ts';

// The versions the repo's own upstream.lock makes (the fixture copies it).
const PIN = releaseOf(readLock(path.join(REPO_ROOT, 'upstream.lock')));
const V = npmVersion(PIN);
const hasNpm = hasCommand('npm', ['--version']);
// The stand-ins only run here: the suite needs an x86_64 glibc Linux host, like CI.
const runnable = hasNpm && hostTriple() === 'x86_64-unknown-linux-gnu';

let p: PackageProject;
let packed: string;
const npmCache = tmpDir('npm-cache');
const npmEnv = (): Record<string, string> => {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.toLowerCase().startsWith('npm_config_')) env[k] = v;
  return {
    ...env,
    npm_config_cache: npmCache,
    npm_config_update_notifier: 'false',
    npm_config_fund: 'false',
    npm_config_audit: 'false',
    npm_config_loglevel: 'error',
  };
};

function npm(args: string[], cwd: string): { status: number; stdout: string; stderr: string } {
  const r = spawnSync('npm', args, { cwd, env: npmEnv(), encoding: 'utf8', timeout: 120_000 });
  return { status: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
}

/** `npm install -g --prefix <new dir> --offline <tarballs>`; returns the installed command. */
function installGlobal(tarballs: string[], extra: string[] = []): string {
  const prefix = tmpDir('npm-prefix');
  const r = npm(['install', '-g', '--prefix', prefix, '--offline', ...extra, ...tarballs], packed);
  expect(r.status, r.stderr).toBe(0);
  return path.join(prefix, 'bin', 'codex-litellm');
}

const tgz = (pkg: string): string => path.join(packed, `avikalpa-codex-litellm${pkg ? `-${pkg}` : ''}-${V}.tgz`);
const run = (cmd: string, args: string[], env: Record<string, string> = {}) =>
  spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 });

beforeAll(async () => {
  if (!runnable) return;
  p = makePackageProject('npm', ['linux-x64', 'linux-x64-musl', 'darwin-arm64'].map(findTarget));
  await packageTargets(p.ctx, makePlan(p.ctx, { targets: ['linux-x64', 'linux-x64-musl', 'darwin-arm64'] }), { env: { ...process.env, ...p.env } });
  packed = tmpDir('npm-packed');
  const npmDir = path.join(p.root, 'dist', 'packages', 'npm');
  for (const d of fs.readdirSync(npmDir)) {
    const r = npm(['pack', path.join(npmDir, d), '--pack-destination', packed], packed);
    expect(r.status, r.stderr).toBe(0);
  }
}, 300_000);

describe.skipIf(!runnable)('npm pack and install from local tarballs, offline', () => {
  it('npm pack gives the same files as our own .tgz', async () => {
    for (const pkg of ['', 'linux-x64', 'linux-x64-musl', 'darwin-arm64']) {
      const ours = await listTar(fs.readFileSync(path.join(p.root, 'dist', 'packages', path.basename(tgz(pkg)))));
      const theirs = await listTar(fs.readFileSync(tgz(pkg)));
      const files = (l: typeof ours) => Object.fromEntries(l.map((e) => [e.path, e.data.toString('base64')]));
      expect(files(theirs), pkg).toEqual(files(ours));
    }
  });

  it('installs the main and the platform package and runs the binary through the launcher', () => {
    const cmd = installGlobal([tgz(''), tgz('linux-x64')]);
    const r = run(cmd, ['--version']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`codex-litellm ${p.display}\n`);
    expect(run(cmd, ['args', 'a b', '--flag', '']).stdout).toBe('args\na b\n--flag\n\n');
  });

  it('our own .tgz files install the same way', () => {
    const ours = (pkg: string) => path.join(p.root, 'dist', 'packages', path.basename(tgz(pkg)));
    expect(run(installGlobal([ours(''), ours('linux-x64')]), ['--version']).stdout).toBe(`codex-litellm ${p.display}\n`);
  });

  it('mirrors the exit code and the signal the binary dies of', () => {
    const cmd = installGlobal([tgz(''), tgz('linux-x64')]);
    expect(run(cmd, ['exit', '7']).status).toBe(7);
    expect(run(cmd, ['exit', '0']).status).toBe(0);
    const killed = run(cmd, ['signal', '15']);
    expect(killed.status).toBeNull();
    expect(killed.signal).toBe('SIGTERM');
    expect(run(cmd, ['signal', '9']).signal).toBe('SIGKILL');
    // SIGPIPE cannot be re-raised in Node (it ignores it): the shell's 128+13 instead.
    expect(run(cmd, ['signal', '13']).status).toBe(141);
  });

  it('forwards SIGTERM and (without a terminal) SIGINT to the binary', async () => {
    const cmd = installGlobal([tgz(''), tgz('linux-x64')]);
    for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
      const child = spawn(cmd, ['wait'], { stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      await new Promise<void>((resolve) =>
        child.stdout.on('data', (d: Buffer) => {
          stdout += d.toString();
          if (stdout.includes('ready')) resolve();
        }),
      );
      child.kill(sig); // the launcher's pid, not the binary's
      const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
      expect(stdout, sig).toContain(`got ${({ SIGTERM: 15, SIGINT: 2, SIGHUP: 1 } as const)[sig]}`);
      expect(code, sig).toBe(42);
    }
  });

  it('says which package is missing and why, when optional dependencies were skipped', () => {
    const cmd = installGlobal([tgz('')]);
    const r = run(cmd, ['--version']);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(
      'codex-litellm: the binary for this platform (linux x64, glibc) is missing: expected the package @avikalpa/codex-litellm-linux-x64 (or @avikalpa/codex-litellm-linux-x64-musl)',
    );
    expect(r.stderr).toContain('--omit=optional');
    expect(r.stderr).toContain('node_modules was copied from another platform');
    expect(r.stderr).toContain(`npm install -g @avikalpa/codex-litellm@${V}`);
    expect(r.stderr).toContain('CODEX_LITELLM_BINARY');
  });

  it('names the package it found for another platform (node_modules copied between machines)', () => {
    const cmd = installGlobal([tgz(''), tgz('darwin-arm64')], ['--force']);
    const r = run(cmd, ['--version']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('(found @avikalpa/codex-litellm-darwin-arm64 for darwin arm64)');
  });

  it('falls back to the static musl build on glibc when only that one is installed', () => {
    // npm itself declines it here (libc: musl); an older npm, --force or a copied node_modules does not.
    const cmd = installGlobal([tgz(''), tgz('linux-x64-musl')], ['--force']);
    expect(run(cmd, ['--version']).stdout).toBe(`codex-litellm ${p.display}\n`);
  });

  it('CODEX_LITELLM_BINARY points the launcher at any binary', () => {
    const cmd = installGlobal([tgz('')]);
    const bin = path.join(p.root, 'dist', 'x86_64-unknown-linux-gnu', 'codex-litellm');
    expect(run(cmd, ['--version'], { CODEX_LITELLM_BINARY: bin }).stdout).toBe(`codex-litellm ${p.display}\n`);
    const missing = run(cmd, ['--version'], { CODEX_LITELLM_BINARY: '/nonexistent/codex-litellm' });
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain('CODEX_LITELLM_BINARY=/nonexistent/codex-litellm, which does not exist');
  });
});
