/**
 * The writers under the packages: spliced DEFLATE and gzip, tar headers, ar, zip, ELF
 * dependencies and executable formats, each checked against an independent reader.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { ar, readAr } from '../scripts/package/ar.ts';
import { binaryKind, wrongBinary } from '../scripts/package/binformat.ts';
import { crc32, crc32Combine, deflateShared, deflateSmall, finishRaw, gzipMember, stored } from '../scripts/package/deflate.ts';
import { debianDepends, readElfDeps } from '../scripts/package/elf.ts';
import { parentDirs, sortEntries, tar, tarGz, type TarEntry } from '../scripts/package/tarball.ts';
import { dosDateTime, zip } from '../scripts/package/zip.ts';
import { findTarget, TARGETS } from '../scripts/lib/targets.ts';
import { tmpDir } from './helpers/fixture.ts';
import { compileStandIn, dressAs, hasCommand, listTar } from './helpers/package-fixture.ts';

/** Compressible but not trivial: text-like lines with a counter. */
function sample(bytes: number): Buffer {
  const parts: string[] = [];
  let n = 0;
  let len = 0;
  while (len < bytes) {
    const line = `line ${n} ${(n * 2654435761) % 1000003} ${'abcdefghij'.slice(n % 10)}\n`;
    parts.push(line);
    len += line.length;
    n += 1;
  }
  return Buffer.from(parts.join('')).subarray(0, bytes);
}

describe('spliced DEFLATE', () => {
  it('pieces compressed apart make one gzip member every reader accepts', async () => {
    const a = Buffer.from('header bytes\n'.repeat(100));
    const big = sample(9 * 1024 * 1024 + 12345); // crosses the 4 MiB chunk boundaries
    const b = Buffer.from('trailer');
    const shared = await deflateShared(big);
    const gz = gzipMember([deflateSmall(a), shared, stored(b), deflateSmall(b)]);
    expect(zlib.gunzipSync(gz).equals(Buffer.concat([a, big, b, b]))).toBe(true);
    // gzip -n: no name flag, no time, XFL 2 (best compression), OS 3 (Unix).
    expect([...gz.subarray(0, 10)]).toEqual([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 3]);
    if (hasCommand('gzip')) {
      const dir = tmpDir('gz');
      fs.writeFileSync(path.join(dir, 'x.gz'), gz);
      expect(execFileSync('gzip', ['-dc', path.join(dir, 'x.gz')], { maxBuffer: 64 * 1024 * 1024 }).equals(Buffer.concat([a, big, b, b]))).toBe(true);
    }
    // The same shared blocks finish a raw stream too (a zip entry).
    expect(zlib.inflateRawSync(finishRaw([shared]).data).equals(big)).toBe(true);
  });

  it('is deterministic and compresses like one stream', async () => {
    const big = sample(5 * 1024 * 1024);
    const [x, y] = [await deflateShared(big), await deflateShared(big)];
    expect(x.data.equals(y.data)).toBe(true);
    const oneStream = zlib.deflateRawSync(big, { level: 9 }).length;
    expect(x.data.length).toBeLessThan(oneStream * 1.01);
  });

  it('combines CRC-32s without the data', () => {
    const parts = [sample(1), sample(1000), Buffer.alloc(0), sample(70000)];
    let crc = 0;
    for (const p of parts) crc = crc32Combine(crc, crc32(p), p.length);
    expect(crc).toBe(crc32(Buffer.concat(parts)));
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
  });
});

describe('tar', () => {
  const mtime = new Date(1767225600 * 1000);
  const entries: TarEntry[] = sortEntries([
    { path: './usr/bin/tool', mode: 0o755, content: Buffer.from('#!/bin/sh\n') },
    { path: './usr/share/doc/x/README', mode: 0o644, content: Buffer.from('read me\n') },
    { path: `./${'deep/'.repeat(25)}file`, mode: 0o644, content: Buffer.from('long path\n') },
    ...parentDirs(['./usr/bin/tool', './usr/share/doc/x/README']).map((d) => ({ path: d, mode: 0o755 })),
  ]);

  it('writes uid/gid 0 without names, the one mtime, explicit modes, in the given order', async () => {
    const listed = await listTar(tar(entries, mtime));
    expect(listed.map((e) => e.path)).toEqual(entries.map((e) => e.path));
    for (const e of listed) {
      expect(e).toMatchObject({ uid: 0, gid: 0, uname: '', gname: '', mtime: 1767225600 });
      expect(e.mode).toBe(e.path.endsWith('/') ? 0o755 : entries.find((x) => x.path === e.path)!.mode);
      expect(e.type).toBe(e.path.endsWith('/') ? 'Directory' : 'File');
    }
    expect(listed.find((e) => e.path.endsWith('deep/file'))!.data.toString()).toBe('long path\n');
  });

  it('gzip form equals gzip of the plain form, and GNU tar agrees', async () => {
    const gz = tarGz(entries, mtime);
    const plain = tar(entries, mtime);
    expect(zlib.gunzipSync(gz.data).equals(plain)).toBe(true);
    expect(gz.tarSize).toBe(plain.length);
    if (hasCommand('tar')) {
      const dir = tmpDir('tar');
      fs.writeFileSync(path.join(dir, 'x.tar.gz'), gz.data);
      const list = execFileSync('tar', ['--numeric-owner', '-tvzf', path.join(dir, 'x.tar.gz')], { encoding: 'utf8' });
      expect(list).toMatch(/^-rwxr-xr-x 0\/0 +10 2026-01-01 00:00 \.\/usr\/bin\/tool$/m);
    }
  });

  it('lists parent directories once, root first', () => {
    expect(parentDirs(['./a/b/c', './a/d'])).toEqual(['./', './a/', './a/b/']);
    expect(parentDirs(['x/y'], '')).toEqual(['x/']);
  });
});

describe('ar', () => {
  it("round-trips, pads odd members and uses dpkg-deb's header layout", () => {
    const a = ar(
      [
        { name: 'debian-binary', data: Buffer.from('2.0\n') },
        { name: 'odd', data: Buffer.from('abc') },
        { name: 'z', data: Buffer.from('zz') },
      ],
      1767225600,
    );
    expect(a.subarray(0, 8).toString()).toBe('!<arch>\n');
    expect(a.subarray(8, 68).toString('latin1')).toBe('debian-binary   1767225600  0     0     100644  4         `\n');
    expect(readAr(a).map((m) => [m.name, m.data.toString()])).toEqual([
      ['debian-binary', '2.0\n'],
      ['odd', 'abc'],
      ['z', 'zz'],
    ]);
    expect(() => ar([{ name: 'a-name-longer-than-16', data: Buffer.alloc(0) }], 0)).toThrow(/longer than 16/);
  });
});

describe('zip', () => {
  it('writes an archive unzip reads, with Unix modes and the fixed time', async () => {
    const big = sample(300000);
    const z = zip(
      [
        { path: 'pkg/', mode: 0o755 },
        { path: 'pkg/tool.exe', mode: 0o755, content: { raw: big, deflated: await deflateShared(big) } },
        { path: 'pkg/README.md', mode: 0o644, content: Buffer.from('hello\n') },
        { path: 'pkg/empty', mode: 0o644, content: Buffer.alloc(0) },
      ],
      1767225600,
    );
    expect(dosDateTime(1767225600)).toEqual({ date: ((2026 - 1980) << 9) | (1 << 5) | 1, time: 0 });
    if (!hasCommand('unzip', ['-v'])) return;
    const dir = tmpDir('zip');
    const f = path.join(dir, 'x.zip');
    fs.writeFileSync(f, z);
    expect(spawnSync('unzip', ['-tq', f], { encoding: 'utf8' }).stdout).toMatch(/No errors detected/);
    const info = execFileSync('zipinfo', [f], { encoding: 'utf8' });
    expect(info).toMatch(/^drwxr-xr-x .* unx +0 .* 26-Jan-01 00:00 pkg\/$/m);
    expect(info).toMatch(/^-rwxr-xr-x .* unx +300000 .* defN 26-Jan-01 00:00 pkg\/tool\.exe$/m);
    expect(execFileSync('unzip', ['-p', f, 'pkg/tool.exe'], { maxBuffer: 1 << 24 }).equals(big)).toBe(true);
  });
});

describe('executables', () => {
  let standIn: Buffer;
  beforeAll(() => {
    standIn = fs.readFileSync(compileStandIn(tmpDir('elf'), 'x'));
  });

  it('reads DT_NEEDED and symbol versions and spells Depends like dpkg-shlibdeps', () => {
    const deps = readElfDeps(standIn)!;
    expect(deps.needed).toContain('libc.so.6');
    expect(deps.symbols).toBe(false); // compiled with -s
    expect(debianDepends(deps)).toMatch(/^libc6 \(>= 2\.\d+\)$/);
    expect(readElfDeps(Buffer.from('#!/bin/sh\n'))).toBeUndefined();
    expect(() => debianDepends({ needed: ['libfoo.so.9'], versions: new Map(), symbols: false })).toThrow(/needs libfoo\.so\.9/);
    expect(
      debianDepends({
        needed: ['libssl.so.3', 'libgcc_s.so.1', 'libc.so.6'],
        versions: new Map([
          ['libgcc_s.so.1', ['GCC_3.0', 'GCC_4.2.0']],
          ['libc.so.6', ['GLIBC_2.2.5', 'GLIBC_2.34', 'GLIBC_PRIVATE']],
          ['libssl.so.3', ['OPENSSL_3.0.0']],
        ]),
        symbols: false,
      }),
    ).toBe('libc6 (>= 2.34), libgcc-s1 (>= 4.2), libssl3 (>= 3.0.0)');
    // What upstream 0.115 links besides: bubblewrap's libcap, liblzma and zlib (as their symbols files say).
    expect(
      debianDepends({
        needed: ['libcap.so.2', 'liblzma.so.5', 'libz.so.1'],
        versions: new Map([
          ['liblzma.so.5', ['XZ_5.0']],
          ['libz.so.1', ['ZLIB_1.2.0', 'ZLIB_1.2.3.4']],
        ]),
        symbols: false,
      }),
    ).toBe('libcap2 (>= 1:2.10), liblzma5 (>= 5.1.1alpha+20120614), zlib1g (>= 1:1.2.3.4)');
  });

  it.skipIf(!hasCommand('dpkg-shlibdeps', ['--version']))('agrees with dpkg-shlibdeps on the stand-in', () => {
    const dir = tmpDir('shlibdeps');
    fs.mkdirSync(path.join(dir, 'debian'));
    fs.writeFileSync(path.join(dir, 'debian', 'control'), 'Source: x\n\nPackage: x\nArchitecture: any\n');
    fs.writeFileSync(path.join(dir, 'bin'), standIn);
    const r = spawnSync('dpkg-shlibdeps', ['-O', 'bin'], { cwd: dir, encoding: 'utf8' });
    expect(r.stdout.trim()).toBe(`shlibs:Depends=${debianDepends(readElfDeps(standIn)!)}`);
  });

  it('tells executable formats and CPUs apart', () => {
    for (const t of TARGETS) {
      expect(wrongBinary(t, dressAs(t, standIn)), t.triple).toBeUndefined();
    }
    expect(binaryKind(dressAs(findTarget('darwin-arm64'), standIn))).toEqual({ format: 'Mach-O', arch: 'aarch64' });
    expect(wrongBinary(findTarget('linux-arm64'), standIn)).toBe('it is ELF x86_64, not ELF aarch64');
    expect(wrongBinary(findTarget('win32-x64'), standIn)).toBe('it is ELF x86_64, not PE x86_64');
    expect(wrongBinary(findTarget('linux-x64'), Buffer.from('#!/bin/sh\n'))).toBe('it is not an executable (expected ELF x86_64)');
  });
});
