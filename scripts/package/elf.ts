/**
 * Just enough ELF to compute a .deb's Depends the way dpkg-shlibdeps would, without needing
 * dpkg-dev: the shared libraries a binary needs (DT_NEEDED) and the symbol versions it needs
 * from each (GLIBC_2.34, GCC_4.2.0, OPENSSL_3.0.0 in .gnu.version_r). 64-bit little-endian only,
 * which covers every Linux target in the table.
 */
import { UserError } from '../lib/errors.ts';
import { compareDebianVersions } from '../lib/version.ts';

export interface ElfDeps {
  /** DT_NEEDED, in file order. */
  needed: string[];
  /** Version names needed, per library file. */
  versions: Map<string, string[]>;
  /** Has a symbol table (.symtab): not stripped, which Debian's lintian reports as an error. */
  symbols: boolean;
  /** e_machine: 62 x86-64, 183 AArch64. */
  machine: number;
  /** e_type: 2 ET_EXEC, 3 ET_DYN (a PIE or a shared library). */
  type: number;
  /** The program interpreter (PT_INTERP), e.g. /system/bin/linker64; undefined for a static binary. */
  interpreter: string | undefined;
  /** DT_SONAME, for a shared library. */
  soname: string | undefined;
  /** The dynamic symbol table (.dynsym), without the null entry. */
  dynamic: DynSymbol[];
}

export interface DynSymbol {
  name: string;
  /** Undefined here: to be found in a NEEDED library. */
  undefined: boolean;
  weak: boolean;
  /** The symbol version: needed (from .gnu.version_r) for an undefined one, defined (.gnu.version_d) otherwise. */
  version: string | undefined;
}

const SHT_SYMTAB = 2;
const SHT_DYNAMIC = 6;
const SHT_DYNSYM = 11;
const SHT_GNU_VERDEF = 0x6ffffffd;
const SHT_GNU_VERNEED = 0x6ffffffe;
const SHT_GNU_VERSYM = 0x6fffffff;
const PT_INTERP = 3;
const DT_NEEDED = 1;
const DT_SONAME = 14;
const STB_WEAK = 2;

/** undefined when the file is not a 64-bit little-endian ELF (a script, a Mach-O, a PE file). */
export function readElfDeps(buf: Buffer): ElfDeps | undefined {
  if (buf.length < 64 || buf.readUInt32BE(0) !== 0x7f454c46 || buf[4] !== 2 || buf[5] !== 1) return undefined;
  const shoff = Number(buf.readBigUInt64LE(0x28));
  const shentsize = buf.readUInt16LE(0x3a);
  const shnum = buf.readUInt16LE(0x3c);
  const sections = Array.from({ length: shnum }, (_, i) => {
    const o = shoff + i * shentsize;
    return {
      type: buf.readUInt32LE(o + 4),
      offset: Number(buf.readBigUInt64LE(o + 0x18)),
      size: Number(buf.readBigUInt64LE(o + 0x20)),
      link: buf.readUInt32LE(o + 0x28),
      info: buf.readUInt32LE(o + 0x2c),
    };
  });
  const str = (sec: number, off: number): string => {
    const base = sections[sec]!.offset + off;
    return buf.toString('latin1', base, buf.indexOf(0, base));
  };
  const needed: string[] = [];
  let soname: string | undefined;
  const versions = new Map<string, string[]>();
  /** Version index (vna_other / vd_ndx) -> name, needed and defined alike. */
  const versionNames = new Map<number, string>();
  for (const s of sections) {
    if (s.type === SHT_DYNAMIC) {
      for (let o = s.offset; o + 16 <= s.offset + s.size; o += 16) {
        const tag = buf.readBigInt64LE(o);
        if (tag === 0n) break;
        if (tag === BigInt(DT_NEEDED)) needed.push(str(s.link, Number(buf.readBigUInt64LE(o + 8))));
        if (tag === BigInt(DT_SONAME)) soname = str(s.link, Number(buf.readBigUInt64LE(o + 8)));
      }
    } else if (s.type === SHT_GNU_VERNEED) {
      let o = s.offset;
      for (let i = 0; i < s.info; i += 1) {
        const cnt = buf.readUInt16LE(o + 2);
        const file = str(s.link, buf.readUInt32LE(o + 4));
        const names: string[] = versions.get(file) ?? [];
        let a = o + buf.readUInt32LE(o + 8);
        for (let j = 0; j < cnt; j += 1) {
          const name = str(s.link, buf.readUInt32LE(a + 8));
          names.push(name);
          versionNames.set(buf.readUInt16LE(a + 6), name);
          a += buf.readUInt32LE(a + 12);
        }
        versions.set(file, names);
        const next = buf.readUInt32LE(o + 12);
        if (next === 0) break;
        o += next;
      }
    } else if (s.type === SHT_GNU_VERDEF) {
      let o = s.offset;
      for (let i = 0; i < s.info; i += 1) {
        const flags = buf.readUInt16LE(o + 2);
        const ndx = buf.readUInt16LE(o + 4);
        // The first verdaux names the version; VER_FLG_BASE (1) is the file's own name, not a version.
        if (!(flags & 1)) versionNames.set(ndx, str(s.link, buf.readUInt32LE(o + buf.readUInt32LE(o + 12))));
        const next = buf.readUInt32LE(o + 16);
        if (next === 0) break;
        o += next;
      }
    }
  }
  const dynamic: DynSymbol[] = [];
  const dynsym = sections.find((s) => s.type === SHT_DYNSYM);
  const versym = sections.find((s) => s.type === SHT_GNU_VERSYM);
  if (dynsym) {
    for (let i = 1; (i + 1) * 24 <= dynsym.size; i += 1) {
      const o = dynsym.offset + i * 24;
      const bind = buf[o + 4]! >> 4;
      const shndx = buf.readUInt16LE(o + 6);
      // Versym's top bit hides a version from binding; the index is the low 15 bits. 0 and 1 are local and global.
      const ndx = versym ? buf.readUInt16LE(versym.offset + i * 2) & 0x7fff : 0;
      dynamic.push({
        name: str(dynsym.link, buf.readUInt32LE(o)),
        undefined: shndx === 0,
        weak: bind === STB_WEAK,
        version: ndx > 1 ? versionNames.get(ndx) : undefined,
      });
    }
  }
  const phoff = Number(buf.readBigUInt64LE(0x20));
  const phentsize = buf.readUInt16LE(0x36);
  const phnum = buf.readUInt16LE(0x38);
  let interpreter: string | undefined;
  for (let i = 0; i < phnum; i += 1) {
    const o = phoff + i * phentsize;
    if (buf.readUInt32LE(o) !== PT_INTERP) continue;
    const off = Number(buf.readBigUInt64LE(o + 8));
    const size = Number(buf.readBigUInt64LE(o + 0x20));
    interpreter = buf.toString('latin1', off, off + size).replace(/\0+$/, '');
  }
  return {
    needed,
    versions,
    symbols: sections.some((s) => s.type === SHT_SYMTAB),
    machine: buf.readUInt16LE(0x12),
    type: buf.readUInt16LE(0x10),
    interpreter,
    soname,
    dynamic,
  };
}

/**
 * Shared libraries we know, the Debian package that ships each, and how a symbol version becomes
 * the minimum package version (what the packages' symbols files say for the symbols we use).
 * libssl3 is right on Debian 12 / Ubuntu 22.04 and also on Debian 13 / Ubuntu 24.04, whose
 * libssl3t64 Provides `libssl3 (= version)` on 64-bit architectures.
 */
const LIBRARIES: { soname: RegExp; pkg: string; prefix: string; min: (v: string) => string; fixed?: string }[] = [
  {
    soname: /^(libc\.so\.6|libm\.so\.6|libpthread\.so\.0|libdl\.so\.2|librt\.so\.1|libutil\.so\.1|libresolv\.so\.2|ld-linux[-\w.]*\.so\.\d)$/,
    pkg: 'libc6',
    prefix: 'GLIBC_',
    min: (v) => v,
  },
  { soname: /^libgcc_s\.so\.1$/, pkg: 'libgcc-s1', prefix: 'GCC_', min: (v) => v.split('.').slice(0, 2).join('.') },
  { soname: /^lib(ssl|crypto)\.so\.3$/, pkg: 'libssl3', prefix: 'OPENSSL_', min: (v) => v },
  // Since upstream vendors bubblewrap (about 0.100) and links liblzma and zlib (0.115). zlib1g's
  // versions carry the epoch 1: (its symbols file: ZLIB_1.2.3.4 -> 1:1.2.3.4). libcap's symbols are
  // unversioned (@Base) and liblzma's minimum depends on which XZ_5.0 symbols are used, so those two
  // are the minimums dpkg-shlibdeps derives from the symbols codex-rs 0.115 uses (checked against it
  // on the real binary; test/package-writers.test.ts holds the figures).
  { soname: /^libz\.so\.1$/, pkg: 'zlib1g', prefix: 'ZLIB_', min: (v) => `1:${v}` },
  { soname: /^liblzma\.so\.5$/, pkg: 'liblzma5', prefix: 'XZ_', min: () => '5.1.1alpha+20120614' },
  { soname: /^libcap\.so\.2$/, pkg: 'libcap2', prefix: 'LIBCAP_', min: (v) => v, fixed: '1:2.10' },
];

/** The Depends field for a dynamically linked glibc binary, e.g. `libc6 (>= 2.34), libssl3 (>= 3.0.0)`. */
export function debianDepends(deps: Pick<ElfDeps, 'needed' | 'versions' | 'symbols'>): string {
  const minimum = new Map<string, string | undefined>();
  for (const lib of deps.needed) {
    const known = LIBRARIES.find((l) => l.soname.test(lib));
    if (!known) {
      throw new UserError(
        `the binary needs ${lib}, and the .deb packager does not know which Debian package provides it`,
        'Add the library to LIBRARIES in scripts/package/elf.ts (dpkg -S <path from ldd> names the package).',
      );
    }
    const vers = (deps.versions.get(lib) ?? [])
      .filter((v) => v.startsWith(known.prefix) && /^\d+(\.\d+)*$/.test(v.slice(known.prefix.length)))
      .map((v) => known.min(v.slice(known.prefix.length)));
    let best = minimum.get(known.pkg);
    if (known.fixed) vers.push(known.fixed);
    for (const v of vers) if (best === undefined || compareDebianVersions(v, best) > 0) best = v;
    minimum.set(known.pkg, best);
  }
  return [...minimum.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([pkg, v]) => (v ? `${pkg} (>= ${v})` : pkg))
    .join(', ');
}
