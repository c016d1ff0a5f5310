/**
 * The OpenWrt .apk (apk-tools v3 "adb") writer, checked two ways: by a small reader written here
 * from apk-tools' documentation (doc/apk-v3.5.scd, apk-package.5.scd) that shares no code with the
 * writer, and, when apk-tools 3 is installed, by the real apk: `apk mkpkg` makes the same bytes
 * from the same tree, `apk adbdump` prints it, `apk verify` checks it, and `apk add` installs it
 * into an empty root with the binary at /usr/bin/codex-litellm, mode 0755.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { apkPackage, apks, blockHeader, type ApkInput } from '../scripts/package/apk.ts';
import { makePlan } from '../scripts/lib/plan.ts';
import { packageTargets, type PackageResult } from '../scripts/package/command.ts';
import { deflateShared } from '../scripts/package/deflate.ts';
import { readDocs } from '../scripts/package/metadata.ts';
import type { Payload } from '../scripts/package/payload.ts';
import { contextVersion } from '../scripts/lib/context.ts';
import { readLock } from '../scripts/lib/lockfile.ts';
import { REPO_ROOT } from '../scripts/lib/project.ts';
import { findTarget } from '../scripts/lib/targets.ts';
import { apkVersion, npmVersion, releaseOf } from '../scripts/lib/version.ts';
import { main as apkToolsMain, parseAdbdump, verifyApk } from '../scripts/release/apk-tools.ts';
import { tmpDir } from './helpers/fixture.ts';
import { compileStandIn, makePackageProject, type PackageProject } from './helpers/package-fixture.ts';
import { apkTools } from './helpers/tools.ts';

const LOCK = readLock(path.join(REPO_ROOT, 'upstream.lock'));
const PIN = releaseOf(LOCK);
const V = npmVersion(PIN);
const APK_V = apkVersion(PIN);
const EPOCH = 1767225600;
const APK = apkTools();
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

// ---------------------------------------------------------------------------------------------
// The reader: apk-v3(5) as written there, nothing from scripts/package/apk.ts.

interface Block {
  type: number;
  /** Offset of the block header in the uncompressed stream. */
  at: number;
  payload: Buffer;
}

interface ApkFile {
  compression: 'deflate' | 'none';
  stream: Buffer;
  schema: string;
  blocks: Block[];
}

function readApk(file: Buffer): ApkFile {
  const marker = file.toString('latin1', 0, 4);
  let stream: Buffer;
  let compression: ApkFile['compression'];
  if (marker === 'ADBd') [stream, compression] = [zlib.inflateRawSync(file.subarray(4)), 'deflate'];
  else if (marker === 'ADB.') [stream, compression] = [file, 'none'];
  else throw new Error(`not an adb file: ${JSON.stringify(marker)}`);
  if (stream.toString('latin1', 0, 4) !== 'ADB.') throw new Error('the stream does not start with ADB.');
  const blocks: Block[] = [];
  let at = 8;
  while (at < stream.length) {
    if (at % 8 !== 0) throw new Error(`block at ${at} is not 8-aligned`);
    const word = stream.readUInt32LE(at);
    let type = word >>> 30;
    let size = word & 0x3fffffff;
    let head = 4;
    if (type === 3) {
      type = word & 0x3fffffff;
      if (stream.readUInt32LE(at + 4) !== 0) throw new Error('extended block header: reserved word not 0');
      size = Number(stream.readBigUInt64LE(at + 8));
      head = 16;
    }
    if (size < head || at + size > stream.length) throw new Error(`block at ${at}: size ${size} runs past the end`);
    const end = at + Math.ceil(size / 8) * 8;
    if (end > stream.length) throw new Error(`block at ${at}: padding runs past the end`);
    if (stream.subarray(at + size, end).some((b) => b !== 0)) throw new Error(`block at ${at}: padding is not zeros`);
    blocks.push({ type, at, payload: stream.subarray(at + head, at + size) });
    at = end;
  }
  return { compression, stream, schema: stream.toString('latin1', 4, 8), blocks };
}

type Val =
  | { t: 'null' }
  | { t: 'int'; n: number; indirect: boolean }
  | { t: 'blob'; b: Buffer; width: number }
  | { t: 'obj'; tag: 'array' | 'object'; slots: number[] };

/** Values of one ADB block: the tag in the top 4 bits, offsets from the block's start. */
function decoder(adb: Buffer) {
  const seen: string[] = [];
  const need = (x: number, len: number, align: number, what: string): void => {
    if (x % align !== 0) throw new Error(`${what} at ${x} is not aligned to ${align}`);
    if (x + len > adb.length) throw new Error(`${what} at ${x} runs past the block`);
  };
  const val = (v: number): Val => {
    const type = v >>> 28;
    const x = v & 0x0fffffff;
    seen.push(type.toString(16));
    switch (type) {
      case 0x0:
        if (x !== 0) throw new Error(`special value ${x} (only null is used)`);
        return { t: 'null' };
      case 0x1:
        return { t: 'int', n: x, indirect: false };
      case 0x2:
        need(x, 4, 4, 'int32');
        return { t: 'int', n: adb.readUInt32LE(x), indirect: true };
      case 0x3:
        need(x, 8, 4, 'int64');
        return { t: 'int', n: Number(adb.readBigUInt64LE(x)), indirect: true };
      case 0x8:
      case 0x9:
      case 0xa: {
        const width = type === 0x8 ? 1 : type === 0x9 ? 2 : 4;
        need(x, width, width, 'blob length');
        const len = adb.readUIntLE(x, width);
        need(x + width, len, 1, 'blob');
        return { t: 'blob', b: adb.subarray(x + width, x + width + len), width };
      }
      case 0xd:
      case 0xe: {
        need(x, 4, 4, 'object');
        const n = adb.readUInt32LE(x);
        if (n < 1) throw new Error('object with no count slot');
        need(x, 4 * n, 4, 'object slots');
        return { t: 'obj', tag: type === 0xd ? 'array' : 'object', slots: Array.from({ length: n }, (_, i) => adb.readUInt32LE(x + 4 * i)) };
      }
      default:
        throw new Error(`value type 0x${type.toString(16)} is not defined`);
    }
  };
  return { val, seen };
}

/** The schemas as apk-package(5) and apk-v3(5) name the fields, slot 1 first. */
const FIELDS = {
  package: ['info', 'paths', 'scripts', 'triggers', 'replaces-priority'],
  info: 'name version hashes description arch license origin maintainer url repo-commit build-time installed-size file-size provider-priority depends provides replaces install-if recommends layer tags'.split(
    ' ',
  ),
  dir: ['name', 'acl', 'files'],
  file: ['name', 'acl', 'size', 'mtime', 'hash', 'target'],
  acl: ['mode', 'user', 'group', 'xattrs'],
};

interface PkgFile {
  name: string;
  mode: number;
  user: string;
  group: string;
  size: number;
  mtime: number;
  hash: Buffer;
}
interface PkgDir {
  name: string;
  mode: number;
  user: string;
  group: string;
  files: PkgFile[];
}
interface Pkg {
  adb: Buffer;
  info: Record<string, string | number | Buffer>;
  paths: PkgDir[];
  data: { path: number; file: number; bytes: Buffer }[];
  valueTypes: string[];
}

function parsePackage(file: Buffer): Pkg & { raw: ApkFile } {
  const raw = readApk(file);
  expect(raw.schema).toBe('pckg');
  expect(raw.blocks[0]!.type).toBe(0); // ADB first
  expect(raw.blocks.slice(1).every((b) => b.type === 2)).toBe(true); // then DATA only (no SIG: unsigned)
  const adb = raw.blocks[0]!.payload;
  expect([adb[0], adb[1], adb.readUInt16LE(2)]).toEqual([0, 0, 0]); // compat 0, version 0, reserved
  const d = decoder(adb);
  const obj = (v: number, fields: string[], what: string): Record<string, number> => {
    const o = d.val(v);
    if (o.t !== 'obj') throw new Error(`${what} is not an object`);
    if (o.slots[0] !== o.slots.length) throw new Error(`${what}: count slot`);
    if (o.slots.length - 1 > fields.length) throw new Error(`${what} has ${o.slots.length - 1} slots, its schema ${fields.length}`);
    if (o.slots.length > 1 && o.slots[o.slots.length - 1] === 0) throw new Error(`${what} ends in a null slot`);
    return Object.fromEntries(fields.map((f, i) => [f, o.slots[i + 1] ?? 0]));
  };
  const arr = (v: number, what: string): number[] => {
    if (v === 0) return [];
    const o = d.val(v);
    if (o.t !== 'obj') throw new Error(`${what} is not an array`);
    return o.slots.slice(1);
  };
  const str = (v: number, what: string): string => {
    const x = d.val(v);
    if (x.t === 'null') return '';
    if (x.t !== 'blob') throw new Error(`${what} is not a string`);
    // The narrowest length prefix that fits.
    expect(x.width, what).toBe(x.b.length > 0xffff ? 4 : x.b.length > 0xff ? 2 : 1);
    return x.b.toString('utf8');
  };
  const int = (v: number, what: string): number => {
    const x = d.val(v);
    if (x.t !== 'int') throw new Error(`${what} is not an integer`);
    if (x.indirect) expect(x.n, `${what}: stored apart only when it does not fit 28 bits`).toBeGreaterThanOrEqual(0x10000000);
    return x.n;
  };
  const blob = (v: number, what: string): Buffer => {
    const x = d.val(v);
    if (x.t !== 'blob') throw new Error(`${what} is not a blob`);
    return x.b;
  };
  const acl = (v: number, what: string) => {
    const a = obj(v, FIELDS.acl, `${what} acl`);
    expect(a.xattrs, `${what}: no xattrs`).toBe(0);
    return { mode: int(a.mode!, `${what} mode`), user: str(a.user!, `${what} user`), group: str(a.group!, `${what} group`) };
  };

  const root = obj(adb.readUInt32LE(4), FIELDS.package, 'package');
  expect(root.scripts, 'no scripts').toBe(0);
  expect(root.triggers, 'no triggers').toBe(0);
  const pi = obj(root.info!, FIELDS.info, 'info');
  const info: Pkg['info'] = {};
  for (const f of ['name', 'version', 'description', 'arch', 'license', 'origin', 'maintainer', 'url'] as const) info[f] = str(pi[f]!, f);
  info.hashes = blob(pi.hashes!, 'hashes');
  for (const f of ['build-time', 'installed-size'] as const) info[f] = int(pi[f]!, f);
  for (const f of ['repo-commit', 'file-size', 'provider-priority', 'depends', 'provides', 'replaces', 'install-if', 'recommends', 'layer', 'tags']) {
    expect(pi[f], `info ${f} is not set`).toBe(0);
  }
  const paths = arr(root.paths!, 'paths').map((dv, i): PkgDir => {
    const dir = obj(dv, FIELDS.dir, `path ${i + 1}`);
    const name = str(dir.name!, `path ${i + 1} name`);
    const files = arr(dir.files!, `${name} files`).map((fv, j): PkgFile => {
      const f = obj(fv, FIELDS.file, `${name} file ${j + 1}`);
      const fname = str(f.name!, 'file name');
      expect(f.target, `${fname}: a regular file has no target`).toBe(0);
      return {
        name: fname,
        ...acl(f.acl!, fname),
        size: int(f.size!, `${fname} size`),
        mtime: int(f.mtime!, `${fname} mtime`),
        hash: blob(f.hash!, `${fname} hash`),
      };
    });
    return { name, ...acl(dir.acl!, name), files };
  });
  const data = raw.blocks.slice(1).map((b) => ({ path: b.payload.readUInt32LE(0), file: b.payload.readUInt32LE(4), bytes: b.payload.subarray(8) }));
  return { raw, adb, info, paths, data, valueTypes: [...new Set(d.seen)].sort() };
}

/** Every rule that ties the metadata to the data blocks. */
function checkTree(p: Pkg): void {
  const sortedBy = (xs: string[]): string[] => [...xs].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const dirNames = p.paths.map((d) => d.name);
  expect(dirNames[0], 'the root comes first, with no name').toBe('');
  expect(dirNames).toEqual(sortedBy(dirNames));
  expect(new Set(dirNames).size).toBe(dirNames.length);
  // Every directory's parent is listed too.
  for (const n of dirNames.filter(Boolean)) expect(dirNames, n).toContain(n.split('/').slice(0, -1).join('/'));
  const expected: { path: number; file: number; f: PkgFile }[] = [];
  p.paths.forEach((d, i) => {
    expect(d.files.map((f) => f.name)).toEqual(sortedBy(d.files.map((f) => f.name)));
    d.files.forEach((f, j) => {
      expect(f.hash.length, `${d.name}/${f.name}: a sha256`).toBe(32);
      if (f.size > 0) expect.soft(expected.push({ path: i + 1, file: j + 1, f })).toBeGreaterThan(0);
    });
  });
  // One DATA block per non-empty file, in path/file order, each the size the metadata says and the hash it declares.
  expect(p.data.map((b) => [b.path, b.file])).toEqual(expected.map((e) => [e.path, e.file]));
  p.data.forEach((b, k) => {
    const { f } = expected[k]!;
    expect(b.bytes.length, f.name).toBe(f.size);
    expect(sha(b.bytes), f.name).toBe(f.hash.toString('hex'));
  });
  for (const d of p.paths) for (const f of d.files) if (f.size === 0) expect(f.hash.toString('hex')).toBe(sha(Buffer.alloc(0)));
  expect(p.info['installed-size']).toBe(
    Math.max(
      1,
      p.paths.flatMap((d) => d.files).reduce((n, f) => n + f.size, 0),
    ),
  );
  // hashes: the package's unique id, the SHA-256 of the ADB block with those 20 bytes zeroed.
  const id = p.info.hashes as Buffer;
  expect(id.length).toBe(20);
  const at = p.adb.indexOf(id);
  const zeroed = Buffer.from(p.adb);
  zeroed.fill(0, at, at + 20);
  expect(createHash('sha256').update(zeroed).digest().subarray(0, 20).equals(id)).toBe(true);
}

// ---------------------------------------------------------------------------------------------

function sample(bytes: number): Buffer {
  const b = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i += 1) b[i] = (i * 2654435761) >>> 24;
  return b;
}

const INPUT: ApkInput = {
  info: {
    name: 'demo',
    version: '1.2.3_rc2-r4',
    description: `A description longer than 255 bytes so its length takes two bytes: ${'x'.repeat(260)}`,
    arch: 'aarch64_cortex-a53',
    license: 'Apache-2.0',
    origin: 'demo',
    maintainer: 'Someone <someone@example.invalid>',
    url: 'https://example.invalid/demo',
    buildTime: EPOCH,
  },
  files: [
    { path: 'usr/bin/demo', mode: 0o755, content: sample(70000) },
    { path: 'usr/share/demo/b', mode: 0o644, content: Buffer.from('bee\n') },
    { path: 'usr/share/demo/a', mode: 0o600, content: Buffer.from('ay\n') },
    { path: 'usr/share/demo/empty', mode: 0o644, content: Buffer.alloc(0) },
    { path: 'etc/demo.conf', mode: 0o644, content: Buffer.from('bee\n') },
  ],
  mtime: EPOCH,
};

describe('apk writer: the format', () => {
  it('ADBd and one raw DEFLATE stream of "ADB." + pckg, an ADB block, then DATA blocks, 8-aligned and zero-padded', () => {
    const file = apkPackage(INPUT);
    expect(file.toString('latin1', 0, 4)).toBe('ADBd');
    const p = parsePackage(file);
    expect(p.raw.compression).toBe('deflate');
    expect(p.raw.stream.readUInt32LE(4)).toBe(0x676b6370);
    expect(p.raw.blocks.map((b) => b.type)).toEqual([0, 2, 2, 2, 2]);
    // `none` is the same stream without compression.
    expect(apkPackage(INPUT, 'none').equals(p.raw.stream)).toBe(true);
    expect(apkPackage(INPUT).equals(file), 'reproducible').toBe(true);
  });

  it('values: only defined tags, aligned, inside the block; every field typed as its schema says', () => {
    const p = parsePackage(apkPackage(INPUT));
    // null, int, int32 (the mtime and build time are past 2^28), blob8, blob16 (the description), object.
    expect(p.valueTypes).toEqual(['0', '1', '2', '8', '9', 'e']);
    expect(p.info).toMatchObject({
      name: 'demo',
      version: '1.2.3_rc2-r4',
      arch: 'aarch64_cortex-a53',
      license: 'Apache-2.0',
      origin: 'demo',
      maintainer: 'Someone <someone@example.invalid>',
      url: 'https://example.invalid/demo',
      'build-time': EPOCH,
      'installed-size': 70000 + 4 + 3 + 4,
    });
    expect(p.info.description).toBe(INPUT.info.description);
  });

  it('paths: the root and every directory in name order, files by name, ACLs, sizes, mtimes and sha256 matching the DATA blocks', () => {
    const p = parsePackage(apkPackage(INPUT));
    checkTree(p);
    expect(p.paths.map((d) => [d.name, d.mode, d.user, d.group])).toEqual([
      ['', 0o755, 'root', 'root'],
      ['etc', 0o755, 'root', 'root'],
      ['usr', 0o755, 'root', 'root'],
      ['usr/bin', 0o755, 'root', 'root'],
      ['usr/share', 0o755, 'root', 'root'],
      ['usr/share/demo', 0o755, 'root', 'root'],
    ]);
    const files = p.paths.flatMap((d) => d.files.map((f) => [`${d.name}/${f.name}`, f.mode, f.size, f.mtime]));
    expect(files).toEqual([
      ['etc/demo.conf', 0o644, 4, EPOCH],
      ['usr/bin/demo', 0o755, 70000, EPOCH],
      ['usr/share/demo/a', 0o600, 3, EPOCH],
      ['usr/share/demo/b', 0o644, 4, EPOCH],
      ['usr/share/demo/empty', 0o644, 0, EPOCH],
    ]);
    // The empty file has no DATA block; the others one each, (path, file) indexed from 1.
    expect(p.data.map((b) => [b.path, b.file])).toEqual([
      [2, 1],
      [4, 1],
      [6, 1],
      [6, 2],
    ]);
    expect(p.data[1]!.bytes.equals(INPUT.files[0]!.content as Buffer)).toBe(true);
  });

  it('the shared binary blocks are spliced in, and give the same bytes as compressing the stream whole', async () => {
    const big = sample(5 * 1024 * 1024 + 17);
    const shared = { ...INPUT, files: [{ path: 'usr/bin/demo', mode: 0o755, content: { raw: big, deflated: await deflateShared(big) } }] };
    const plain = { ...INPUT, files: [{ path: 'usr/bin/demo', mode: 0o755, content: big }] };
    const a = apkPackage(shared);
    expect(zlib.inflateRawSync(a.subarray(4)).equals(apkPackage(plain, 'none'))).toBe(true);
    checkTree(parsePackage(a));
  });

  it('block headers: the size in 30 bits, and the extended header past that', () => {
    expect([...blockHeader(2, 8)]).toEqual([12, 0, 0, 0x80]);
    const ext = blockHeader(2, 0x40000000);
    expect(ext.length).toBe(16);
    expect(ext.readUInt32LE(0)).toBe(((3 << 30) >>> 0) + 2);
    expect(ext.readUInt32LE(4)).toBe(0);
    expect(ext.readBigUInt64LE(8)).toBe(BigInt(16 + 0x40000000));
  });

  it('refuses what apk would refuse', () => {
    const bad =
      (info: Partial<ApkInput['info']>, files = INPUT.files) =>
      () =>
        apkPackage({ ...INPUT, info: { ...INPUT.info, ...info }, files });
    expect(bad({ version: '0.115.0-litellm.1' })).toThrow(/not a valid apk version/);
    expect(bad({ version: '1.0-1' })).toThrow(/not a valid apk version/);
    expect(bad({ name: '-x' })).toThrow(/package name/);
    expect(bad({ arch: 'x 86' })).toThrow(/architecture/);
    expect(bad({ description: 'two\nlines' })).toThrow(/one line/);
    expect(bad({}, [...INPUT.files, { path: 'usr/bin/demo', mode: 0o755, content: Buffer.alloc(1) }])).toThrow(/listed twice/);
    expect(bad({}, [...INPUT.files, { path: 'usr/bin/demo/x', mode: 0o644, content: Buffer.alloc(1) }])).toThrow(/both a file and a directory/);
    expect(bad({}, [{ path: '/abs', mode: 0o644, content: Buffer.alloc(1) }])).toThrow(/plain relative path/);
    expect(bad({}, [{ path: 'a/../b', mode: 0o644, content: Buffer.alloc(1) }])).toThrow(/plain relative path/);
  });
});

// ---------------------------------------------------------------------------------------------

describe('build.ts package: the .apk files', () => {
  let proj: PackageProject;
  let r: PackageResult;
  const musl = [findTarget('linux-x64-musl'), findTarget('linux-arm64-musl')];
  const arches = musl.flatMap((t) => t.openwrt.map((arch) => ({ arch, t })));
  const file = (arch: string): string => path.join(r.outDir, `codex-litellm-${APK_V}_${arch}.apk`);
  const binary = (triple: string): Buffer => fs.readFileSync(path.join(proj.root, 'dist', triple, 'codex-litellm'));

  beforeAll(async () => {
    proj = makePackageProject('apk', musl);
    r = await packageTargets(proj.ctx, makePlan(proj.ctx, { targets: musl.map((t) => t.triple) }), { env: { ...process.env, ...proj.env } });
  });

  it('one per OpenWrt architecture, named <name>-<version>_<arch>.apk, in SHA256SUMS', () => {
    expect(APK_V).toMatch(/^\d+\.\d+\.\d+-r\d+$/);
    const names = r.artifacts.filter((a) => a.kind === 'apk').map((a) => a.name);
    expect(names).toEqual(arches.map((a) => path.basename(file(a.arch))));
    const sums = fs.readFileSync(path.join(r.outDir, 'SHA256SUMS'), 'utf8');
    for (const n of names) expect(sums).toContain(`${sha(fs.readFileSync(path.join(r.outDir, n)))}  ${n}\n`);
    expect(r.versions.apk).toBe(APK_V);
  });

  it('holds what the .ipk holds: the binary 0755 and LICENSE, NOTICE 0644, with OpenWrt metadata and no depends', () => {
    for (const { arch, t } of arches) {
      const p = parsePackage(fs.readFileSync(file(arch)));
      checkTree(p);
      expect(p.info).toMatchObject({
        name: 'codex-litellm',
        version: APK_V,
        arch,
        license: 'Apache-2.0',
        origin: 'codex-litellm',
        url: 'https://github.com/avikalpa/codex-litellm',
        'build-time': EPOCH,
      });
      expect(p.info.description).toBe(`OpenAI Codex CLI with a built-in LiteLLM provider (codex-litellm ${V}, upstream ${LOCK.tag})`);
      expect(String(p.info.maintainer)).toMatch(/^.+ <.+@.+>$/);
      expect(p.paths.map((d) => d.name)).toEqual(['', 'usr', 'usr/bin', 'usr/share', 'usr/share/licenses', 'usr/share/licenses/codex-litellm']);
      const files = p.paths.flatMap((d) => d.files.map((f) => [`${d.name}/${f.name}`, f.mode, f.user, f.group, f.mtime]));
      expect(files).toEqual([
        ['usr/bin/codex-litellm', 0o755, 'root', 'root', EPOCH],
        ['usr/share/licenses/codex-litellm/LICENSE', 0o644, 'root', 'root', EPOCH],
        ['usr/share/licenses/codex-litellm/NOTICE', 0o644, 'root', 'root', EPOCH],
      ]);
      expect(p.data[0]!.bytes.equals(binary(t.triple))).toBe(true);
      expect(p.data[1]!.bytes.equals(fs.readFileSync(path.join(proj.root, 'LICENSE')))).toBe(true);
    }
  });

  it('a dynamically linked binary is refused, as for the .ipk', async () => {
    const t = findTarget('linux-x64-musl');
    const raw = fs.readFileSync(compileStandIn(tmpDir('apk-dyn'), proj.display));
    const payload: Payload = {
      target: t,
      version: contextVersion(proj.ctx),
      release: PIN,
      binary: { raw, deflated: await deflateShared(raw) },
      docs: readDocs(proj.root),
      epoch: EPOCH,
      maintainer: 'A <a@example.invalid>',
    };
    expect(() => apks(payload)).toThrow(/is dynamically linked \(needs libc\.so\.6\); OpenWrt packages ship the static musl build/);
  });

  describe.skipIf(!APK)(`with the real apk-tools (${APK ?? 'not installed'})`, () => {
    const apk = (args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}) =>
      spawnSync(APK!, args, { encoding: 'utf8', env: { ...process.env, ...opts.env }, cwd: opts.cwd });

    it('apk mkpkg makes the same bytes from the same tree', () => {
      const p = parsePackage(fs.readFileSync(file('x86_64')));
      // The tree as the package describes it, written to disk.
      const tree = tmpDir('apk-tree');
      p.paths.forEach((d, i) => {
        fs.mkdirSync(path.join(tree, d.name), { recursive: true });
        fs.chmodSync(path.join(tree, d.name), d.mode);
        d.files.forEach((f, j) => {
          const target = path.join(tree, d.name, f.name);
          const block = p.data.find((b) => b.path === i + 1 && b.file === j + 1);
          fs.writeFileSync(target, block ? block.bytes : Buffer.alloc(0));
          fs.chmodSync(target, f.mode);
        });
      });
      const info = ['name', 'version', 'description', 'arch', 'license', 'origin', 'maintainer', 'url', 'build-time'].flatMap((k) => [
        '-I',
        `${k}:${p.info[k]}`,
      ]);
      const out = path.join(tmpDir('apk-mkpkg'), 'mkpkg.apk');
      const made = apk(['mkpkg', '--no-xattrs', '--compression', 'none', ...info, '-F', tree, '-o', out], { env: { SOURCE_DATE_EPOCH: String(EPOCH) } });
      expect(made.status, made.stderr).toBe(0);
      const theirs = fs.readFileSync(out);
      // mkpkg writes the owner it sees: root here, the user (and their group) elsewhere.
      const root = process.getuid?.() === 0;
      if (root) expect(theirs.equals(p.raw.stream), 'our .apk, uncompressed, is byte for byte what apk mkpkg writes').toBe(true);
      const user = root ? 'root' : os.userInfo().username;
      const group = root ? 'root' : execFileSync('id', ['-gn'], { encoding: 'utf8' }).trim();
      const ours = apkPackage(
        {
          info: {
            name: String(p.info.name),
            version: String(p.info.version),
            description: String(p.info.description),
            arch: String(p.info.arch),
            license: String(p.info.license),
            origin: String(p.info.origin),
            maintainer: String(p.info.maintainer),
            url: String(p.info.url),
            buildTime: Number(p.info['build-time']),
          },
          files: p.paths.flatMap((d, i) =>
            d.files.map((f, j) => ({
              path: `${d.name}/${f.name}`,
              mode: f.mode,
              content: p.data.find((b) => b.path === i + 1 && b.file === j + 1)?.bytes ?? Buffer.alloc(0),
            })),
          ),
          mtime: EPOCH,
          user,
          group,
        },
        'none',
      );
      expect(ours.equals(theirs)).toBe(true);
      // And mkpkg's default (deflate) output is the same stream compressed.
      const out2 = path.join(path.dirname(out), 'mkpkg-deflate.apk');
      expect(apk(['mkpkg', '--no-xattrs', ...info, '-F', tree, '-o', out2], { env: { SOURCE_DATE_EPOCH: String(EPOCH) } }).status).toBe(0);
      const d2 = fs.readFileSync(out2);
      expect(d2.toString('latin1', 0, 4)).toBe('ADBd');
      expect(zlib.inflateRawSync(d2.subarray(4)).equals(theirs)).toBe(true);
    });

    it('apk mkpkg agrees on a tree with an empty file, a 0600 file, a long description and several directories', () => {
      const root = process.getuid?.() === 0;
      const user = root ? 'root' : os.userInfo().username;
      const group = root ? 'root' : execFileSync('id', ['-gn'], { encoding: 'utf8' }).trim();
      const tree = tmpDir('apk-tree2');
      fs.chmodSync(tree, 0o755);
      for (const f of INPUT.files) {
        const parts = f.path.split('/');
        for (let i = 1; i < parts.length; i += 1) {
          fs.mkdirSync(path.join(tree, ...parts.slice(0, i)), { recursive: true });
          fs.chmodSync(path.join(tree, ...parts.slice(0, i)), 0o755);
        }
        fs.writeFileSync(path.join(tree, f.path), f.content as Buffer);
        fs.chmodSync(path.join(tree, f.path), f.mode);
      }
      const { info } = INPUT;
      const fields = { ...info, 'build-time': info.buildTime, buildTime: undefined };
      const args = Object.entries(fields).flatMap(([k, v]) => (v === undefined ? [] : ['-I', `${k}:${v}`]));
      const out = path.join(tmpDir('apk-mkpkg2'), 'demo.apk');
      const made = apk(['mkpkg', '--no-xattrs', '--compression', 'none', ...args, '-F', tree, '-o', out], { env: { SOURCE_DATE_EPOCH: String(EPOCH) } });
      expect(made.status, made.stderr).toBe(0);
      expect(apkPackage({ ...INPUT, user, group }, 'none').equals(fs.readFileSync(out))).toBe(true);
    });

    it('apk adbdump prints every package: info, paths with each hash, one data block per file', () => {
      for (const { arch, t } of arches) {
        const d = apk(['adbdump', file(arch)]);
        expect(d.status, d.stderr).toBe(0);
        expect(d.stderr).toBe('');
        expect(d.stdout).toMatch(/^#%SCHEMA: 676B6370\n# ADB block, size: \d+, compat: 0, ver: 0\ninfo:\n {2}name: codex-litellm\n/);
        const dump = parseAdbdump(d.stdout);
        expect({ name: dump.name, version: dump.version, arch: dump.arch }).toEqual({ name: 'codex-litellm', version: APK_V, arch });
        expect(dump.files.get('usr/bin/codex-litellm')).toBe(sha(binary(t.triple)));
        expect([...dump.files.keys()].sort()).toEqual([
          'usr/bin/codex-litellm',
          'usr/share/licenses/codex-litellm/LICENSE',
          'usr/share/licenses/codex-litellm/NOTICE',
        ]);
        expect(d.stdout).toMatch(/^ {2}installed-size: \d+$/m);
        expect(d.stdout).not.toMatch(/depends/);
        expect(d.stdout.match(/^# data block, size: \d+$/gm)).toHaveLength(3);
      }
    });

    it('apk add --allow-untrusted installs it into an empty root: /usr/bin/codex-litellm, mode 0755, the same bytes', () => {
      for (const { arch, t } of arches) {
        const root = tmpDir(`apk-root-${arch}`);
        const add = apk(['add', '--allow-untrusted', '--root', root, '--initdb', '--no-network', '--no-cache', '--arch', arch, file(arch)]);
        expect(add.status, `${add.stdout}${add.stderr}`).toBe(0);
        expect(add.stdout).toContain(`Installing codex-litellm (${APK_V})`);
        const bin = path.join(root, 'usr/bin/codex-litellm');
        expect(fs.statSync(bin).mode & 0o7777).toBe(0o755);
        expect(fs.readFileSync(bin).equals(binary(t.triple))).toBe(true);
        expect(fs.statSync(path.join(root, 'usr/share/licenses/codex-litellm/NOTICE')).mode & 0o7777).toBe(0o644);
        expect(fs.readFileSync(path.join(root, 'etc/apk/arch'), 'utf8').trim()).toBe(arch);
        if (arch === 'x86_64') expect(execFileSync(bin, ['--version'], { encoding: 'utf8' })).toBe(`codex-litellm ${proj.display}\n`);
        // The installed database knows the package and its files.
        const info = apk(['info', '--root', root, '-L', 'codex-litellm']);
        expect(info.status, info.stderr).toBe(0);
        expect(info.stdout).toContain('usr/bin/codex-litellm');
      }
    });

    it('the release check (apk-tools.ts verify) passes every package and catches a corrupt one', () => {
      for (const { arch, t } of arches) {
        const c = verifyApk(file(arch), { apk: APK!, binary: path.join(proj.root, 'dist', t.triple, 'codex-litellm') });
        expect(c).toMatchObject({ name: 'codex-litellm', version: APK_V, arch, sha256: sha(binary(t.triple)) });
      }
      // One byte of the binary changed in an uncompressed copy: its DATA block no longer matches its hash.
      const { raw } = parsePackage(fs.readFileSync(file('x86_64')));
      const bad = Buffer.from(raw.stream);
      const at = raw.blocks[1]!.at + 4 + 8 + 100; // inside the binary's DATA block
      bad[at] = bad[at]! ^ 0xff;
      const f = path.join(tmpDir('apk-bad'), 'bad.apk');
      fs.writeFileSync(f, bad);
      const errs: string[] = [];
      const write = process.stderr.write;
      process.stderr.write = ((s: string) => errs.push(s) > 0) as typeof process.stderr.write;
      let status: number;
      try {
        status = apkToolsMain(['verify', '--apk', APK!, f], {}, () => {});
      } finally {
        process.stderr.write = write;
      }
      expect(status).toBe(2);
      expect(errs.join('')).toMatch(/bad\.apk: apk verify --allow-untrusted failed/);
    });
  });
});
