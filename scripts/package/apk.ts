/**
 * OpenWrt 25.12+ packages: apk-tools v3 ("adb") files, one per OpenWrt architecture name, written
 * from the format apk-tools itself defines (doc/apk-v3.5.scd, src/adb.h, src/adb.c, src/apk_adb.c,
 * src/app_mkpkg.c, src/extract_v3.c of apk-tools 3.0.x). No JavaScript library writes it.
 *
 * The file: `ADBd` and one raw DEFLATE stream (apk's default compression, what `apk mkpkg` and
 * OpenWrt's build write) of
 *
 *   "ADB." + schema "pckg"                 8-byte file header, both u32 little-endian
 *   ADB block                              the metadata: one tree of tagged values
 *   DATA block per non-empty regular file  u32 path index, u32 file index, the bytes
 *
 * Each block starts with a u32 whose top two bits are its type (0 ADB, 1 SIG, 2 DATA) and the rest
 * its size including that word; blocks are padded with zeros to 8 bytes. A payload too large for
 * 30 bits uses the extended header (type 3, then the real type, a reserved u32 and a u64 size).
 *
 * Inside the ADB block every value is a u32 whose top four bits are its type: 0 special (null),
 * 1 a 28-bit integer in the word itself, 2/3 an offset to a u32/u64, 8/9/a an offset to a blob with
 * a u8/u16/u32 length in front (aligned to that length's width), d/e an offset to an array/object:
 * u32 slots, the first being the slot count (trailing null slots are cut). Offsets are from the
 * start of the block, which begins with the adb header (compat 0, version 0, reserved, root).
 *
 * The bytes are what `apk mkpkg` writes for the same tree (test/package-apk.test.ts compares them
 * with apk-tools when it is installed): values in mkpkg's order, identical values stored once,
 * arrays committed as objects (tag e) the way mkpkg commits them, directories and files sorted by
 * name, every directory listed (mkpkg's default compatibility, which OpenWrt's build uses), and the
 * package's `hashes` a unique id: the first 20 bytes of the SHA-256 of the ADB block written with
 * zeros there. Packages are unsigned: OpenWrt installs them with `apk add --allow-untrusted`.
 */
import { createHash } from 'node:crypto';
import { UserError } from '../lib/errors.ts';
import { apkName } from '../lib/plan.ts';
import { apkVersion, isApkVersion } from '../lib/version.ts';
import { deflateSmall, finishRaw, type Deflated } from './deflate.ts';
import { refuseDynamic } from './ipk.ts';
import { HOMEPAGE, PACKAGE_NAME, SUMMARY } from './metadata.ts';
import type { Artifact, Payload } from './payload.ts';
import { MODE } from './reproducible.ts';
import { rawOf, type Content } from './tarball.ts';

/** Value types: the top four bits of a value word (adb.h ADB_TYPE_*). */
export const ADB_TYPE = { special: 0x0, int: 0x1, int32: 0x2, int64: 0x3, blob8: 0x8, blob16: 0x9, blob32: 0xa, array: 0xd, object: 0xe } as const;
export const ADB_NULL = 0;
/** Block types: the top two bits of a block's first word (adb.h ADB_BLOCK_*). */
export const ADB_BLOCK = { adb: 0, sig: 1, data: 2, ext: 3 } as const;
export const ADB_BLOCK_ALIGNMENT = 8;
/** "ADB." little-endian, and the package schema "pckg" (apk_adb.h ADB_SCHEMA_PACKAGE). */
export const ADB_FORMAT_MAGIC = 0x2e424441;
export const ADB_SCHEMA_PACKAGE = 0x676b6370;

/** Field names by slot (1-based, slot 0 is the count), from apk_adb.c's schemas. */
export const SCHEMA = {
  package: ['info', 'paths', 'scripts', 'triggers', 'replaces-priority'],
  info: [
    'name',
    'version',
    'hashes',
    'description',
    'arch',
    'license',
    'origin',
    'maintainer',
    'url',
    'repo-commit',
    'build-time',
    'installed-size',
    'file-size',
    'provider-priority',
    'depends',
    'provides',
    'replaces',
    'install-if',
    'recommends',
    'layer',
    'tags',
  ],
  dir: ['name', 'acl', 'files'],
  file: ['name', 'acl', 'size', 'mtime', 'hash', 'target'],
  acl: ['mode', 'user', 'group', 'xattrs'],
} as const;

/** Slot index of a field: SCHEMA[kind] position + 1. */
function slot<K extends keyof typeof SCHEMA>(kind: K, field: (typeof SCHEMA)[K][number]): number {
  return (SCHEMA[kind] as readonly string[]).indexOf(field) + 1;
}

const VALUE_MASK = 0x0fffffff;
const tag = (type: number, value: number): number => ((type << 28) | value) >>> 0;

/**
 * The ADB block under construction, as adb.c's writer builds it: raw bytes appended at their
 * alignment (zero padding), identical byte runs at a suitable alignment stored once.
 */
class AdbWriter {
  private buf = Buffer.alloc(64 * 1024);
  private len = 0;
  private readonly seen = new Map<string, number>();

  constructor() {
    this.write(Buffer.alloc(8), 8, false); // adb_hdr: compat 0, version 0, reserved, root (set by finish)
  }

  /** Append at `align`, or return where the same bytes already are (adb_w_data). */
  write(data: Buffer, align: number, dedupe = true): number {
    const key = dedupe ? data.toString('latin1') : '';
    if (dedupe) {
      const at = this.seen.get(key);
      if (at !== undefined && at % align === 0) return at;
    }
    const start = Math.ceil(this.len / align) * align;
    if (start + data.length > VALUE_MASK) throw new UserError('apk metadata block larger than 256 MiB', 'Package fewer files.');
    while (start + data.length > this.buf.length) {
      const bigger = Buffer.alloc(this.buf.length * 2);
      this.buf.copy(bigger, 0, 0, this.len);
      this.buf = bigger;
    }
    this.buf.fill(0, this.len, start);
    data.copy(this.buf, start);
    this.len = start + data.length;
    if (dedupe) this.seen.set(key, start);
    return start;
  }

  /** A blob (string or bytes); empty is null. `unique` skips the sharing (mkpkg's adb_w_blob_raw). */
  blob(value: string | Buffer, unique = false): number {
    const b = Buffer.isBuffer(value) ? value : Buffer.from(value, 'utf8');
    if (b.length === 0) return ADB_NULL;
    const [type, width] = b.length > 0xffff ? [ADB_TYPE.blob32, 4] : b.length > 0xff ? [ADB_TYPE.blob16, 2] : [ADB_TYPE.blob8, 1];
    const head = Buffer.alloc(width);
    head.writeUIntLE(b.length, 0, width);
    return tag(type, this.write(Buffer.concat([head, b]), width, !unique));
  }

  /** An unsigned integer: in the word below 2^28, else a u32 or u64 elsewhere (aligned 4). */
  int(n: number): number {
    if (!Number.isSafeInteger(n) || n < 0) throw new Error(`apk integer out of range: ${n}`);
    if (n < 0x10000000) return tag(ADB_TYPE.int, n);
    if (n < 2 ** 32) {
      const b = Buffer.alloc(4);
      b.writeUInt32LE(n);
      return tag(ADB_TYPE.int32, this.write(b, 4));
    }
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(n));
    return tag(ADB_TYPE.int64, this.write(b, 4));
  }

  /**
   * An object or array from its slots (index 0 is the count, filled here): trailing nulls cut, and
   * null when nothing is left. apk's mkpkg commits arrays through adb_wo_obj too, so both are
   * tagged object by default; readers take either.
   */
  obj(slots: number[], type: number = ADB_TYPE.object): number {
    let n = slots.length;
    while (n > 1 && slots[n - 1] === ADB_NULL) n -= 1;
    if (n <= 1) return ADB_NULL;
    const b = Buffer.alloc(4 * n);
    b.writeUInt32LE(n, 0);
    for (let i = 1; i < n; i += 1) b.writeUInt32LE(slots[i] ?? ADB_NULL, 4 * i);
    return tag(type, this.write(b, 4));
  }

  /** The block's bytes with the root value set. */
  finish(root: number): Buffer {
    this.buf.writeUInt32LE(root, 4);
    return this.buf.subarray(0, this.len);
  }
}

/** One block: header word (or the extended header), payload, zero padding to 8 bytes. */
export function blockHeader(type: number, length: number): Buffer {
  if (length <= 0x3fffffff - 4) {
    const h = Buffer.alloc(4);
    h.writeUInt32LE(((type << 30) >>> 0) + 4 + length);
    return h;
  }
  const h = Buffer.alloc(16);
  h.writeUInt32LE(((ADB_BLOCK.ext << 30) >>> 0) + type, 0);
  h.writeBigUInt64LE(BigInt(16 + length), 8);
  return h;
}

const blockPadding = (headerAndLength: number): Buffer => Buffer.alloc((ADB_BLOCK_ALIGNMENT - (headerAndLength % ADB_BLOCK_ALIGNMENT)) % ADB_BLOCK_ALIGNMENT);

export interface ApkInfo {
  name: string;
  version: string;
  description: string;
  arch: string;
  license: string;
  origin: string;
  maintainer: string;
  url: string;
  /** Seconds since 1970 (SOURCE_DATE_EPOCH). */
  buildTime: number;
}

export interface ApkFile {
  /** Path below the root without a leading `/`: `usr/bin/codex-litellm`. */
  path: string;
  mode: number;
  content: Content;
}

export interface ApkInput {
  info: ApkInfo;
  files: readonly ApkFile[];
  /** Every file's mtime (SOURCE_DATE_EPOCH, as `apk mkpkg` records it when that is set). */
  mtime: number;
  /** Owner names in the ACLs (apk resolves them on the target); default root:root. */
  user?: string;
  group?: string;
}

/** The two parts of an apk: the ADB block and the stream after the compression marker. */
export interface ApkParts {
  adb: Buffer;
  /** Uncompressed pieces of the stream in order; a piece may carry its DEFLATE form already. */
  pieces: (Buffer | { raw: Buffer; deflated: Deflated })[];
}

const digests = new WeakMap<Buffer, Buffer>();
/** SHA-256 of file content, once per buffer (the same binary goes into several architectures' packages). */
function sha256Of(b: Buffer): Buffer {
  let d = digests.get(b);
  if (!d) {
    d = createHash('sha256').update(b).digest();
    digests.set(b, d);
  }
  return d;
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._+-]*$/;

function check(input: ApkInput): void {
  const { info } = input;
  if (!NAME_RE.test(info.name)) throw new UserError(`apk package name \`${info.name}\` is not valid`, 'apk names are [A-Za-z0-9][A-Za-z0-9._+-]*.');
  if (!isApkVersion(info.version))
    throw new UserError(`\`${info.version}\` is not a valid apk version`, 'apk versions look like 1.2.3_rc1-r1 (see apk-package(5)).');
  if (!info.arch || /\s/.test(info.arch))
    throw new UserError(`apk architecture \`${info.arch}\` is not valid`, 'Use an OpenWrt architecture name such as x86_64.');
  for (const [k, v] of Object.entries(info)) if (typeof v === 'string' && v.includes('\n')) throw new UserError(`apk ${k} must be one line`);
  const seen = new Set<string>();
  for (const f of input.files) {
    if (!/^[^/].*[^/]$/.test(f.path) || f.path.split('/').some((p) => p === '' || p === '.' || p === '..')) {
      throw new UserError(`apk file path \`${f.path}\` is not a plain relative path`);
    }
    if (seen.has(f.path)) throw new UserError(`apk file ${f.path} listed twice`);
    seen.add(f.path);
  }
  for (const f of input.files) {
    const parts = f.path.split('/');
    for (let i = 1; i < parts.length; i += 1) {
      if (seen.has(parts.slice(0, i).join('/'))) throw new UserError(`apk path ${parts.slice(0, i).join('/')} is both a file and a directory`);
    }
  }
}

const bytewise = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));

/** The ADB block and the file stream, before compression. */
export function apkParts(input: ApkInput): ApkParts {
  check(input);
  const { info } = input;
  const user = input.user ?? 'root';
  const group = input.group ?? 'root';
  const db = new AdbWriter();

  // 1. The package info fields mkpkg is given, in slot order (mkpkg's assign_fields).
  const pi: number[] = new Array(SCHEMA.info.length + 1).fill(ADB_NULL);
  const put = (f: (typeof SCHEMA.info)[number], v: number): void => {
    pi[slot('info', f)] = v;
  };
  put('name', db.blob(info.name));
  put('version', db.blob(info.version));
  put('description', db.blob(info.description));
  put('arch', db.blob(info.arch));
  put('license', db.blob(info.license));
  put('origin', db.blob(info.origin));
  put('maintainer', db.blob(info.maintainer));
  put('url', db.blob(info.url));
  put('build-time', db.int(info.buildTime));

  // 2. The tree: the root, then every directory in name order; in each, its files by name.
  const dirs = new Map<string, ApkFile[]>([['', []]]);
  for (const f of input.files) {
    const parts = f.path.split('/');
    for (let i = 1; i < parts.length; i += 1) if (!dirs.has(parts.slice(0, i).join('/'))) dirs.set(parts.slice(0, i).join('/'), []);
  }
  for (const f of input.files) dirs.get(f.path.split('/').slice(0, -1).join('/'))!.push(f);
  const dirNames = [...dirs.keys()].sort(bytewise);
  const dirVals: number[] = [];
  const order: { dir: number; file: number; content: Content; size: number }[] = [];
  let installedSize = 0;
  dirNames.forEach((name, di) => {
    const files = [...dirs.get(name)!].sort((a, b) => bytewise(a.path, b.path));
    const fileVals = files.map((f, fi) => {
      const raw = rawOf(f.content);
      const fo: number[] = new Array(SCHEMA.file.length + 1).fill(ADB_NULL);
      fo[slot('file', 'name')] = db.blob(f.path.split('/').pop()!);
      fo[slot('file', 'hash')] = db.blob(sha256Of(raw));
      fo[slot('file', 'mtime')] = db.int(input.mtime);
      fo[slot('file', 'size')] = db.int(raw.length);
      fo[slot('file', 'acl')] = db.obj([0, db.int(f.mode & 0o7777), db.blob(user), db.blob(group)]);
      installedSize += raw.length;
      if (raw.length > 0) order.push({ dir: di + 1, file: fi + 1, content: f.content, size: raw.length });
      return db.obj(fo);
    });
    const dn = db.blob(name);
    const acl = db.obj([0, db.int(MODE.dir), db.blob(user), db.blob(group)]);
    dirVals.push(db.obj([0, dn, acl, db.obj([0, ...fileVals])]));
  });

  // 3. Size, the unique id (zeros for now), the info object, the paths, the package: the root.
  put('installed-size', db.int(installedSize || 1));
  const hashes = db.blob(Buffer.alloc(20), true);
  put('hashes', hashes);
  const infoVal = db.obj(pi);
  const paths = db.obj([0, ...dirVals]);
  const adb = db.finish(db.obj([0, infoVal, paths]));
  // The unique id is the SHA-256 of the block as written, truncated to 20 bytes (mkpkg_main).
  const id = createHash('sha256').update(adb).digest().subarray(0, 20);
  id.copy(adb, (hashes & VALUE_MASK) + 1);

  const head = Buffer.alloc(8);
  head.writeUInt32LE(ADB_FORMAT_MAGIC, 0);
  head.writeUInt32LE(ADB_SCHEMA_PACKAGE, 4);
  const adbHead = blockHeader(ADB_BLOCK.adb, adb.length);
  const pieces: ApkParts['pieces'] = [head, adbHead, adb, blockPadding(adbHead.length + adb.length)];
  for (const o of order) {
    const index = Buffer.alloc(8);
    index.writeUInt32LE(o.dir, 0);
    index.writeUInt32LE(o.file, 4);
    const h = blockHeader(ADB_BLOCK.data, index.length + o.size);
    pieces.push(h, index, o.content, blockPadding(h.length + index.length + o.size));
  }
  return { adb, pieces };
}

/**
 * The .apk: `ADBd` and the stream as one raw DEFLATE stream, the shared binary's blocks spliced in
 * (deflate.ts); `none` writes the stream as it is (what `apk mkpkg --compression none` makes).
 */
export function apkPackage(input: ApkInput, compression: 'deflate' | 'none' = 'deflate'): Buffer {
  const { pieces } = apkParts(input);
  if (compression === 'none') return Buffer.concat(pieces.map((p) => (Buffer.isBuffer(p) ? p : p.raw)));
  const out: Deflated[] = [];
  let pending: Buffer[] = [];
  const flush = (): void => {
    if (pending.length) out.push(deflateSmall(Buffer.concat(pending)));
    pending = [];
  };
  for (const p of pieces) {
    if (Buffer.isBuffer(p)) pending.push(p);
    else {
      flush();
      out.push(p.deflated);
    }
  }
  flush();
  return Buffer.concat([Buffer.from('ADBd', 'latin1'), finishRaw(out).data]);
}

/** The .apk for each OpenWrt architecture of the target: the .ipk's files, no dependencies (static binary). */
export function apks(p: Payload): Artifact[] {
  refuseDynamic(p);
  const version = apkVersion(p.release);
  const lic = `usr/share/licenses/${PACKAGE_NAME}`;
  const files: ApkFile[] = [
    { path: `usr/bin/${PACKAGE_NAME}`, mode: MODE.exec, content: p.binary },
    { path: `${lic}/LICENSE`, mode: MODE.file, content: p.docs.license },
    { path: `${lic}/NOTICE`, mode: MODE.file, content: p.docs.notice },
  ];
  return p.target.openwrt.map((arch) => ({
    name: apkName(version, arch),
    data: apkPackage({
      info: {
        name: PACKAGE_NAME,
        version,
        description: `${SUMMARY} (codex-litellm ${p.version.version}, upstream ${p.version.upstreamTag})`,
        arch,
        license: 'Apache-2.0',
        origin: PACKAGE_NAME,
        maintainer: p.maintainer,
        url: HOMEPAGE,
        buildTime: p.epoch,
      },
      files,
      mtime: p.epoch,
    }),
    kind: 'apk' as const,
    target: p.target.triple,
  }));
}
