/**
 * `build.ts package` for every target, from stand-in binaries: the release archives, Debian and
 * Termux .debs (dpkg-deb, lintian), OpenWrt .ipks (unpacked with tar, control parsed; the .apks
 * have their own suite, package-apk.test.ts), npm package directories and tarballs, SHA256SUMS,
 * byte-for-byte reproducibility, and the errors a user meets.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { readAr } from '../scripts/package/ar.ts';
import { makePlan } from '../scripts/lib/plan.ts';
import { LARGE_BINARY, packageTargets, type PackageResult } from '../scripts/package/command.ts';
import { debianDepends, readElfDeps } from '../scripts/package/elf.ts';
import { readLock } from '../scripts/lib/lockfile.ts';
import { REPO_ROOT } from '../scripts/lib/project.ts';
import { apkVersion, debianVersion, npmVersion, releaseOf } from '../scripts/lib/version.ts';
import { findTarget, npmTargets, TARGETS } from '../scripts/lib/targets.ts';
import { runBuild, tmpDir } from './helpers/fixture.ts';
import { hasCommand, listTar, makePackageProject, readTree, type PackageProject } from './helpers/package-fixture.ts';

// The versions the repo's own upstream.lock makes (the fixture copies it).
const PIN = releaseOf(readLock(path.join(REPO_ROOT, 'upstream.lock')));
const V = npmVersion(PIN);
const DEB_V = debianVersion(PIN);
const APK_V = apkVersion(PIN);
const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const EPOCH = 1767225600;
const hasDpkg = hasCommand('dpkg-deb', ['--version']);
const hasLintian = hasCommand('lintian', ['--version']);

let p: PackageProject;
let r: PackageResult;
let out: string;
const file = (name: string): Buffer => fs.readFileSync(path.join(out, name));
const envOf = (proj: PackageProject, extra: Record<string, string> = {}) => ({ ...process.env, ...proj.env, ...extra });
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const control = (text: string): Record<string, string> => {
  const fields: Record<string, string> = {};
  let last = '';
  for (const line of text.split('\n')) {
    if (/^\s/.test(line) && last) fields[last] += `\n${line}`;
    else if (line.includes(':')) {
      last = line.slice(0, line.indexOf(':'));
      fields[last] = line.slice(line.indexOf(':') + 1).trim();
    }
  }
  return fields;
};

beforeAll(async () => {
  p = makePackageProject('pkg');
  r = await packageTargets(p.ctx, makePlan(p.ctx, { all: true }), { env: envOf(p) });
  out = r.outDir;
});

describe('package --all', () => {
  it('writes every format for every target, and SHA256SUMS over all of them', () => {
    const expected = [
      ...TARGETS.map((t) => `codex-litellm-${V}-${t.triple}.${t.archive}`),
      ...npmTargets().map((t) => `avikalpa-codex-litellm-${t.npm!.pkg}-${V}.tgz`),
      `avikalpa-codex-litellm-${V}.tgz`,
      `codex-litellm_${DEB_V}_amd64.deb`,
      `codex-litellm_${DEB_V}_arm64.deb`,
      `codex-litellm_${DEB_V}_termux-aarch64.deb`,
      `codex-litellm_${DEB_V}_x86_64.ipk`,
      `codex-litellm_${DEB_V}_aarch64_generic.ipk`,
      `codex-litellm_${DEB_V}_aarch64_cortex-a53.ipk`,
      `codex-litellm_${DEB_V}_aarch64_cortex-a72.ipk`,
      `codex-litellm-${APK_V}_x86_64.apk`,
      `codex-litellm-${APK_V}_aarch64_generic.apk`,
      `codex-litellm-${APK_V}_aarch64_cortex-a53.apk`,
      `codex-litellm-${APK_V}_aarch64_cortex-a72.apk`,
    ].sort();
    const files = fs.readdirSync(out).filter((f) => fs.statSync(path.join(out, f)).isFile());
    expect(files.sort()).toEqual([...expected, 'SHA256SUMS'].sort());
    expect(fs.readdirSync(out).filter((f) => f.includes('.tmp-'))).toEqual([]);
    const sums = file('SHA256SUMS').toString().trim().split('\n');
    expect(sums.map((l) => l.split('  ')[1])).toEqual([...expected].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))));
    for (const line of sums) {
      const [hash, name] = line.split('  ');
      expect(sha(file(name!)), name).toBe(hash);
    }
    if (hasCommand('sha256sum')) expect(spawnSync('sha256sum', ['-c', 'SHA256SUMS'], { cwd: out }).status).toBe(0);
    expect(r.warnings).toEqual([]);
  });

  it('every gzip is `gzip -n` shaped and every tar entry has uid/gid 0, no names and the one mtime', async () => {
    const tars: [string, Buffer][] = [];
    for (const f of fs.readdirSync(out)) {
      if (f.endsWith('.tar.gz') || f.endsWith('.tgz') || f.endsWith('.ipk')) tars.push([f, file(f)]);
      if (f.endsWith('.deb')) for (const m of readAr(file(f)).filter((m) => m.name.endsWith('.tar.gz'))) tars.push([`${f}:${m.name}`, m.data]);
      if (f.endsWith('.ipk')) for (const e of await listTar(file(f))) if (e.path.endsWith('.tar.gz')) tars.push([`${f}:${e.path}`, e.data]);
    }
    const ipkCount = TARGETS.reduce((n, t) => n + t.openwrt.length, 0);
    const debCount = TARGETS.filter((t) => t.debian || t.termux).length;
    expect(tars.length).toBe(TARGETS.filter((t) => t.archive === 'tar.gz').length + npmTargets().length + 1 + ipkCount * 3 + debCount * 2);
    for (const [name, gz] of tars) {
      expect([...gz.subarray(0, 10)], name).toEqual([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 3]);
      for (const e of await listTar(gz)) {
        expect({ name, path: e.path, uid: e.uid, gid: e.gid, uname: e.uname, gname: e.gname, mtime: e.mtime }).toEqual({
          name,
          path: e.path,
          uid: 0,
          gid: 0,
          uname: '',
          gname: '',
          mtime: EPOCH,
        });
        const executable = /\/bin\/codex-litellm(\.exe|\.js)?$/.test(e.path) || /^codex-litellm-[^/]+\/codex-litellm(\.exe)?$/.test(e.path);
        expect(e.mode, `${name}:${e.path}`).toBe(e.type === 'Directory' || executable ? 0o755 : 0o644);
      }
    }
  });

  it('release archives hold the binary, LICENSE, NOTICE and README.md under one directory', async () => {
    for (const t of TARGETS.filter((x) => x.archive === 'tar.gz')) {
      const dir = `codex-litellm-${V}-${t.triple}`;
      const entries = await listTar(file(`${dir}.tar.gz`));
      expect(entries.map((e) => e.path)).toEqual([`${dir}/`, `${dir}/LICENSE`, `${dir}/NOTICE`, `${dir}/README.md`, `${dir}/codex-litellm`]);
      expect(entries[4]!.data.equals(fs.readFileSync(path.join(p.root, 'dist', t.triple, 'codex-litellm')))).toBe(true);
      expect(entries[1]!.data.equals(fs.readFileSync(path.join(p.root, 'LICENSE')))).toBe(true);
    }
  });

  it.skipIf(!hasCommand('unzip', ['-v']))('Windows archives are zips unzip reads, with the .exe', () => {
    for (const t of TARGETS.filter((x) => x.archive === 'zip')) {
      const f = path.join(out, `codex-litellm-${V}-${t.triple}.zip`);
      expect(spawnSync('unzip', ['-tq', f], { encoding: 'utf8' }).stdout).toMatch(/No errors detected/);
      const names = execFileSync('unzip', ['-Z1', f], { encoding: 'utf8' }).trim().split('\n');
      const dir = `codex-litellm-${V}-${t.triple}`;
      expect(names).toEqual([`${dir}/`, `${dir}/LICENSE`, `${dir}/NOTICE`, `${dir}/README.md`, `${dir}/codex-litellm.exe`]);
      expect(
        execFileSync('unzip', ['-p', f, `${dir}/codex-litellm.exe`], { maxBuffer: 1 << 26 }).equals(
          fs.readFileSync(path.join(p.root, 'dist', t.triple, 'codex-litellm.exe')),
        ),
      ).toBe(true);
      expect(execFileSync('zipinfo', [f], { encoding: 'utf8' })).toMatch(/^-rwxr-xr-x .* unx .* 26-Jan-01 00:00 .*codex-litellm\.exe$/m);
    }
  });
});

describe('Debian .deb', () => {
  const name = `codex-litellm_${DEB_V}_amd64.deb`;

  it('is ar(debian-binary, control.tar.gz, data.tar.gz) with policy-shaped control, md5sums and docs', async () => {
    const members = readAr(file(name));
    expect(members.map((m) => m.name)).toEqual(['debian-binary', 'control.tar.gz', 'data.tar.gz']);
    expect(members[0]!.data.toString()).toBe('2.0\n');
    const ctl = await listTar(members[1]!.data);
    expect(ctl.map((e) => e.path)).toEqual(['./', './control', './md5sums']);
    const c = control(ctl[1]!.data.toString());
    const binary = fs.readFileSync(path.join(p.root, 'dist', 'x86_64-unknown-linux-gnu', 'codex-litellm'));
    expect(c).toMatchObject({
      Package: 'codex-litellm',
      Version: DEB_V,
      Architecture: 'amd64',
      Section: 'devel',
      Priority: 'optional',
      Homepage: 'https://github.com/avikalpa/codex-litellm',
    });
    expect(c.Maintainer).toMatch(/^.+ <.+@.+\..+>$/);
    expect(c.Depends).toBe(debianDepends(readElfDeps(binary)!));
    expect(c.Depends).toMatch(/^libc6 \(>= 2\.\d+\)$/);
    expect(c.Description!.split('\n').length).toBeGreaterThan(2);
    const data = await listTar(members[2]!.data);
    const doc = './usr/share/doc/codex-litellm';
    expect(data.filter((e) => e.type === 'File').map((e) => e.path)).toEqual([
      './usr/bin/codex-litellm',
      `${doc}/NOTICE`,
      `${doc}/README.md.gz`,
      `${doc}/changelog.Debian.gz`,
      `${doc}/copyright`,
      './usr/share/lintian/overrides/codex-litellm',
      './usr/share/man/man1/codex-litellm.1.gz',
    ]);
    const files = data.filter((e) => e.type === 'File');
    expect(Number(c['Installed-Size'])).toBe(
      files.reduce((s, e) => s + Math.ceil(e.data.length / 1024), 0) + data.filter((e) => e.type === 'Directory').length,
    );
    expect(ctl[2]!.data.toString()).toBe(files.map((e) => `${createHash('md5').update(e.data).digest('hex')}  ${e.path.slice(2)}\n`).join(''));
    const changelog = zlib.gunzipSync(data.find((e) => e.path.endsWith('changelog.Debian.gz'))!.data).toString();
    expect(changelog).toMatch(new RegExp(`^codex-litellm \\(${DEB_V}\\) unstable; urgency=medium\\n`));
    expect(changelog).toContain(' -- codex-litellm maintainers <codex-litellm@users.noreply.github.com>  Thu, 01 Jan 2026 00:00:00 +0000\n');
    const copyright = data.find((e) => e.path.endsWith('/copyright'))!.data.toString();
    expect(copyright).toMatch(/^Format: https:\/\/www\.debian\.org\/doc\/packaging-manuals\/copyright-format\/1\.0\/\n/);
    expect(copyright).toContain('License: Apache-2.0\n');
    expect(copyright).toContain('/usr/share/common-licenses/Apache-2.0');
  });

  it.skipIf(!hasDpkg)('dpkg-deb reads it: --info and --contents', () => {
    const info = execFileSync('dpkg-deb', ['--info', path.join(out, name)], { encoding: 'utf8' });
    expect(info).toMatch(/^ Package: codex-litellm$/m);
    expect(info).toMatch(new RegExp(`^ Version: ${esc(DEB_V)}$`, 'm'));
    expect(execFileSync('dpkg-deb', ['--field', path.join(out, name), 'Architecture'], { encoding: 'utf8' }).trim()).toBe('amd64');
    const contents = execFileSync('dpkg-deb', ['--contents', path.join(out, name)], { encoding: 'utf8' });
    expect(contents).toMatch(/^-rwxr-xr-x 0\/0 +\d+ 2026-01-01 00:00 \.\/usr\/bin\/codex-litellm$/m);
    expect(contents).toMatch(/^drwxr-xr-x 0\/0 +0 2026-01-01 00:00 \.\/usr\/share\/doc\/codex-litellm\/$/m);
    const x = tmpDir('dpkg-x');
    execFileSync('dpkg-deb', ['-x', path.join(out, name), x]);
    expect(execFileSync(path.join(x, 'usr/bin/codex-litellm'), ['--version'], { encoding: 'utf8' })).toBe(`codex-litellm ${p.display}\n`);
  });

  it.skipIf(!hasLintian)(
    'lintian finds no errors or warnings',
    () => {
      const res = spawnSync('lintian', ['--tag-display-limit', '0', path.join(out, name)], { encoding: 'utf8', timeout: 180_000 });
      const tags = `${res.stdout}`.split('\n').filter((l) => /^[EW]: /.test(l));
      expect(tags).toEqual([]);
    },
    180_000,
  );
});

describe('Termux .deb', () => {
  const name = `codex-litellm_${DEB_V}_termux-aarch64.deb`;
  it('installs under the Termux prefix, architecture aarch64, license text as copyright', async () => {
    const [, ctl, data] = readAr(file(name));
    const c = control((await listTar(ctl!.data)).find((e) => e.path === './control')!.data.toString());
    expect(c).toMatchObject({ Package: 'codex-litellm', Version: DEB_V, Architecture: 'aarch64' });
    expect(c.Depends).toBeUndefined();
    const prefix = './data/data/com.termux/files/usr';
    const files = (await listTar(data!.data)).filter((e) => e.type === 'File');
    expect(files.map((e) => [e.path, e.mode])).toEqual([
      [`${prefix}/bin/codex-litellm`, 0o755],
      [`${prefix}/share/doc/codex-litellm/NOTICE`, 0o644],
      [`${prefix}/share/doc/codex-litellm/README.md`, 0o644],
      [`${prefix}/share/doc/codex-litellm/copyright`, 0o644],
    ]);
    expect(files[3]!.data.equals(fs.readFileSync(path.join(p.root, 'LICENSE')))).toBe(true);
  });
  it.skipIf(!hasDpkg)('dpkg-deb reads it', () => {
    expect(execFileSync('dpkg-deb', ['--field', path.join(out, name), 'Architecture'], { encoding: 'utf8' }).trim()).toBe('aarch64');
    expect(execFileSync('dpkg-deb', ['--contents', path.join(out, name)], { encoding: 'utf8' })).toMatch(
      /^-rwxr-xr-x 0\/0 +\d+ 2026-01-01 00:00 \.\/data\/data\/com\.termux\/files\/usr\/bin\/codex-litellm$/m,
    );
  });
});

describe('OpenWrt .ipk', () => {
  const arches = [...findTarget('linux-x64-musl').openwrt, ...findTarget('linux-arm64-musl').openwrt];

  it('one per OpenWrt architecture: debian-binary, data.tar.gz, control.tar.gz as ipkg-build lays them out', async () => {
    const datas = new Map<string, Buffer>();
    for (const arch of arches) {
      const outer = await listTar(file(`codex-litellm_${DEB_V}_${arch}.ipk`));
      expect(outer.map((e) => e.path)).toEqual(['./debian-binary', './data.tar.gz', './control.tar.gz']);
      expect(outer[0]!.data.toString()).toBe('2.0\n');
      const ctl = await listTar(outer[2]!.data);
      expect(ctl.map((e) => e.path)).toEqual(['./', './control']);
      const c = control(ctl[1]!.data.toString());
      expect(c).toMatchObject({ Package: 'codex-litellm', Version: DEB_V, Architecture: arch, License: 'Apache-2.0', Section: 'utils' });
      expect(c.Maintainer).toMatch(/<.+@.+>/);
      expect(c.Description).toContain('LiteLLM');
      expect(c.Depends).toBeUndefined();
      // ipkg-build: Installed-Size is the uncompressed data.tar in bytes.
      expect(Number(c['Installed-Size'])).toBe(zlib.gunzipSync(outer[1]!.data).length);
      const data = await listTar(outer[1]!.data);
      expect(data.map((e) => [e.path, e.mode])).toEqual([
        ['./', 0o755],
        ['./usr/', 0o755],
        ['./usr/bin/', 0o755],
        ['./usr/bin/codex-litellm', 0o755],
        ['./usr/share/', 0o755],
        ['./usr/share/licenses/', 0o755],
        ['./usr/share/licenses/codex-litellm/', 0o755],
        ['./usr/share/licenses/codex-litellm/LICENSE', 0o644],
        ['./usr/share/licenses/codex-litellm/NOTICE', 0o644],
      ]);
      datas.set(arch, outer[1]!.data);
    }
    // The three aarch64 names carry the very same data.tar.gz.
    expect(datas.get('aarch64_generic')!.equals(datas.get('aarch64_cortex-a72')!)).toBe(true);
  });

  it.skipIf(!hasCommand('tar'))('GNU tar unpacks it the way opkg does', () => {
    const x = tmpDir('ipk');
    execFileSync('tar', ['-xzf', path.join(out, `codex-litellm_${DEB_V}_x86_64.ipk`)], { cwd: x });
    fs.mkdirSync(path.join(x, 'root'));
    execFileSync('tar', ['-xzf', '../data.tar.gz'], { cwd: path.join(x, 'root') });
    expect(fs.statSync(path.join(x, 'root/usr/bin/codex-litellm')).mode & 0o777).toBe(0o755);
    expect(execFileSync(path.join(x, 'root/usr/bin/codex-litellm'), ['--version'], { encoding: 'utf8' })).toBe(`codex-litellm ${p.display}\n`);
    expect(execFileSync('tar', ['-xzOf', 'control.tar.gz', './control'], { cwd: x, encoding: 'utf8' })).toMatch(/^Architecture: x86_64$/m);
  });
});

describe('npm packages', () => {
  const pkgJson = (dir: string): Record<string, unknown> =>
    JSON.parse(fs.readFileSync(path.join(out, 'npm', dir, 'package.json'), 'utf8')) as Record<string, unknown>;

  it('the main package: launcher, docs, every platform package as an optional dependency, no install scripts', () => {
    const m = pkgJson('codex-litellm');
    expect(m).toMatchObject({ name: '@avikalpa/codex-litellm', version: V, license: 'Apache-2.0', bin: { 'codex-litellm': 'bin/codex-litellm.js' } });
    expect(m.scripts).toBeUndefined();
    expect(m.optionalDependencies).toEqual(Object.fromEntries(npmTargets().map((t) => [`@avikalpa/codex-litellm-${t.npm!.pkg}`, V])));
    expect(fs.readdirSync(path.join(out, 'npm', 'codex-litellm')).sort()).toEqual(['LICENSE', 'NOTICE', 'README.md', 'bin', 'package.json']);
    expect(fs.statSync(path.join(out, 'npm', 'codex-litellm', 'bin', 'codex-litellm.js')).mode & 0o777).toBe(0o755);
  });

  it('platform packages: os, cpu and libc as npm matches them; android for Termux', () => {
    for (const t of TARGETS) {
      if (!t.npm) {
        expect(
          fs.readdirSync(path.join(out, 'npm')).some((d) => d.includes(t.alias.replace(/^linux-/, ''))),
          `${t.triple} has no npm package`,
        ).toBe(false);
        continue;
      }
      const m = pkgJson(`codex-litellm-${t.npm.pkg}`);
      expect(m).toMatchObject({ name: `@avikalpa/codex-litellm-${t.npm.pkg}`, version: V, os: [t.npm.os], cpu: [t.npm.cpu] });
      expect(m.libc).toEqual(t.npm.libc ? [t.npm.libc] : undefined);
      expect(m.scripts).toBeUndefined();
      expect(m.bin).toBeUndefined();
      expect(fs.statSync(path.join(out, 'npm', `codex-litellm-${t.npm.pkg}`, 'bin', `codex-litellm${t.exe}`)).mode & 0o777).toBe(0o755);
    }
    expect(pkgJson('codex-litellm-android-arm64')).toMatchObject({ os: ['android'], cpu: ['arm64'] });
    expect(pkgJson('codex-litellm-linux-arm64-musl')).toMatchObject({ os: ['linux'], cpu: ['arm64'], libc: ['musl'] });
  });

  it('the .tgz files are the directories under package/', async () => {
    for (const dir of fs.readdirSync(path.join(out, 'npm'))) {
      const m = pkgJson(dir);
      const tgz = `${String(m.name).slice(1).replace('/', '-')}-${V}.tgz`;
      const tree = readTree(path.join(out, 'npm', dir));
      const entries = await listTar(file(tgz));
      expect(entries.map((e) => e.path).sort()).toEqual([...tree.keys()].map((k) => `package/${k}`).sort());
      for (const e of entries) expect(e.data.equals(tree.get(e.path.slice('package/'.length))!), e.path).toBe(true);
    }
  });
});

describe('reproducible', () => {
  it('two runs with the same SOURCE_DATE_EPOCH give identical bytes for every artifact', async () => {
    const again = await packageTargets(p.ctx, makePlan(p.ctx, { all: true }), { env: envOf(p), outDir: tmpDir('pkg-again') });
    const [a, b] = [readTree(out), readTree(again.outDir)];
    expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
    for (const [k, v] of a) expect(b.get(k)!.equals(v), k).toBe(true);
  }, 120_000);

  it('another SOURCE_DATE_EPOCH changes the timestamps (and so the bytes)', async () => {
    const other = await packageTargets(p.ctx, makePlan(p.ctx, { targets: ['linux-x64'] }), {
      env: envOf(p, { SOURCE_DATE_EPOCH: '1767312000' }),
      outDir: tmpDir('pkg-other'),
    });
    const name = `codex-litellm-${V}-x86_64-unknown-linux-gnu.tar.gz`;
    expect(fs.readFileSync(path.join(other.outDir, name)).equals(file(name))).toBe(false);
    expect((await listTar(fs.readFileSync(path.join(other.outDir, name))))[0]!.mtime).toBe(1767312000);
  });
});

describe('progress', () => {
  it('a large binary reports its compression; the packages are as for any binary', async () => {
    const q = makePackageProject('pkg-large', [findTarget('linux-x64')]);
    const bin = path.join(q.root, 'dist', 'x86_64-unknown-linux-gnu', 'codex-litellm');
    fs.appendFileSync(bin, Buffer.alloc(LARGE_BINARY));
    const size = fs.statSync(bin).size;
    const updates: { text: string; data?: Record<string, unknown> }[] = [];
    const res = await packageTargets(q.ctx, makePlan(q.ctx, {}), { env: envOf(q), progress: { update: (u) => updates.push(u) } });
    expect(updates.length).toBeGreaterThan(1);
    expect(updates.at(-1)).toMatchObject({ data: { stage: 'compress', target: 'x86_64-unknown-linux-gnu', done: size, total: size } });
    expect(updates.at(-1)!.text).toBe(`compressing the x86_64-unknown-linux-gnu binary: 100% of ${(size / 1024 / 1024).toFixed(1)} MiB`);
    expect(res.artifacts.some((a) => a.name === `codex-litellm-${V}-x86_64-unknown-linux-gnu.tar.gz`)).toBe(true);
  });
});

describe('errors', () => {
  it('a missing binary names the file and the build command (or the CI job)', async () => {
    const q = makePackageProject('pkg-missing', []);
    const err = (await packageTargets(q.ctx, makePlan(q.ctx, { targets: ['linux-x64', 'darwin-arm64'] }), { env: envOf(q) }).then(
      () => new Error('no error'),
      (e: unknown) => e,
    )) as Error & { hint?: string };
    expect(err.message).toMatch(
      /no binary to package for x86_64-unknown-linux-gnu, aarch64-apple-darwin \(looked for dist\/x86_64-unknown-linux-gnu\/codex-litellm, dist\/aarch64-apple-darwin\/codex-litellm\)/,
    );
    expect(err.hint).toContain('x86_64-unknown-linux-gnu: npx tsx build.ts --target x86_64-unknown-linux-gnu');
    expect(err.hint).toContain('aarch64-apple-darwin: this machine cannot build it');
    expect(err.hint).toContain('CI job "build (darwin-arm64)"');
    expect(fs.existsSync(path.join(q.root, 'dist', 'packages'))).toBe(false);
  });

  it('a binary built for another version is refused; another patch series is a warning', async () => {
    const q = makePackageProject('pkg-stale', [findTarget('linux-x64')]);
    const info = path.join(q.root, 'dist', 'x86_64-unknown-linux-gnu', 'BUILDINFO.json');
    const good = fs.readFileSync(info, 'utf8');
    fs.writeFileSync(info, good.replaceAll(V, '0.52.0-litellm.3'));
    await expect(packageTargets(q.ctx, makePlan(q.ctx, {}), { env: envOf(q) })).rejects.toThrow(
      new RegExp(`is version 0\\.52\\.0-litellm\\.3, but upstream\\.lock now makes ${esc(V)}`),
    );
    fs.writeFileSync(info, good.replace(/"series": "\w+"/, '"series": "0123456789ab"'));
    const res = await packageTargets(q.ctx, makePlan(q.ctx, {}), { env: envOf(q) });
    expect(res.warnings.join('\n')).toMatch(/built from patch series 0123456789ab; the checkout is now at/);
  });

  it('a binary for the wrong target is refused before anything is written', async () => {
    const q = makePackageProject('pkg-wrong', [findTarget('linux-x64'), findTarget('linux-arm64')]);
    fs.copyFileSync(
      path.join(q.root, 'dist', 'x86_64-unknown-linux-gnu', 'codex-litellm'),
      path.join(q.root, 'dist', 'aarch64-unknown-linux-gnu', 'codex-litellm'),
    );
    await expect(packageTargets(q.ctx, makePlan(q.ctx, { targets: ['linux-x64', 'linux-arm64'] }), { env: envOf(q) })).rejects.toThrow(
      /dist\/aarch64-unknown-linux-gnu\/codex-litellm is not a aarch64-unknown-linux-gnu binary: it is ELF x86_64, not ELF aarch64/,
    );
    expect(fs.existsSync(path.join(q.root, 'dist', 'packages'))).toBe(false);
  });

  it('a bad SOURCE_DATE_EPOCH or maintainer is a clear error', async () => {
    await expect(packageTargets(p.ctx, makePlan(p.ctx, {}), { env: envOf(p, { SOURCE_DATE_EPOCH: 'yesterday' }), outDir: tmpDir('bad') })).rejects.toThrow(
      /SOURCE_DATE_EPOCH=yesterday is not a number of seconds/,
    );
    await expect(packageTargets(p.ctx, makePlan(p.ctx, {}), { env: envOf(p, { CODEX_LITELLM_MAINTAINER: 'nobody' }), outDir: tmpDir('bad') })).rejects.toThrow(
      /CODEX_LITELLM_MAINTAINER=nobody is not `Name <email>`/,
    );
  });
});

describe('build.ts package (the command)', () => {
  const cli = (proj: PackageProject, args: string[]) => runBuild({ root: proj.root, cache: path.join(proj.root, '.cache'), env: proj.env }, args);

  it("packages this machine's target by default and prints what it wrote", () => {
    const q = makePackageProject('pkg-cli', [findTarget('linux-x64')]);
    const res = cli(q, ['package']);
    expect(res.status, res.stderr).toBe(0);
    expect(res.stdout).toMatch(
      new RegExp(
        `^codex-litellm ${esc(V)} \\(Debian/Termux ${esc(DEB_V)}, opkg ${esc(DEB_V)}, apk ${esc(APK_V)}\\); timestamps 2026-01-01T00:00:00\\.000Z \\(SOURCE_DATE_EPOCH\\)$`,
        'm',
      ),
    );
    for (const n of [
      `codex-litellm-${V}-x86_64-unknown-linux-gnu.tar.gz`,
      `codex-litellm_${DEB_V}_amd64.deb`,
      `avikalpa-codex-litellm-linux-x64-${V}.tgz`,
      `avikalpa-codex-litellm-${V}.tgz`,
      'SHA256SUMS',
    ]) {
      expect(res.stdout).toContain(n);
      expect(fs.existsSync(path.join(q.root, 'dist', 'packages', n)), n).toBe(true);
    }
    expect(res.stdout).toContain('npm publish --tag latest');
  });

  it('--dry-run lists the files and writes nothing; a missing binary is an error with the build command', () => {
    const q = makePackageProject('pkg-cli-dry', []);
    const dry = cli(q, ['package', '--dry-run', '--target', 'linux-arm64-musl']);
    expect(dry.status, dry.stderr).toBe(0);
    expect(dry.stdout).toContain(`codex-litellm_${DEB_V}_aarch64_cortex-a53.ipk`);
    expect(dry.stdout).toContain(`codex-litellm-${APK_V}_aarch64_cortex-a53.apk`);
    expect(dry.stdout).toContain('(missing: npx tsx build.ts --target aarch64-unknown-linux-musl)');
    expect(fs.existsSync(path.join(q.root, 'dist', 'packages'))).toBe(false);
    const real = cli(q, ['package', '--target', 'linux-arm64-musl']);
    expect(real.status).toBe(2);
    expect(real.stderr).toMatch(/^error: no binary to package for aarch64-unknown-linux-musl/m);
    expect(real.stderr).toMatch(/hint: aarch64-unknown-linux-musl: npx tsx build\.ts --target aarch64-unknown-linux-musl/);
  });
});
