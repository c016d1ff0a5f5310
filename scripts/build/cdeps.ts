/**
 * C libraries a cross build needs for its target. Upstream's vendored bubblewrap (linux-sandbox's
 * build.rs) finds libcap with pkg-config and links it; the host's libcap is for the host, so a
 * cross build gets a static libcap compiled for the target with zig, as upstream's own release
 * workflow does with musl-gcc (.github/scripts/install-musl-build-tools.sh).
 *
 * The source tarball is pinned by SHA-256 and cached; its location can be a URL or a local file
 * (`sources.libcap` in the user file or CODEX_LITELLM_LIBCAP_SOURCE), for air-gapped machines.
 * The build happens in a scratch directory that is renamed into place, so a half-built prefix is
 * never mistaken for a finished one.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from '../lib/errors.ts';
import { fileSha256, writeFileAtomic } from '../lib/fs.ts';
import { zigTriple } from '../lib/route.ts';

export const LIBCAP = {
  version: '2.66',
  sha256: '15c40ededb3003d70a283fe587a36b7d19c8b3b554e33f86129c059a4bb466b2',
  /** The same tarball: kernel.org's release, and Debian's copy of it (its .orig.tar.xz). */
  urls: [
    'https://mirrors.edge.kernel.org/pub/linux/libs/security/linux-privs/libcap2/libcap-2.66.tar.xz',
    'https://deb.debian.org/debian/pool/main/libc/libcap2/libcap2_2.66.orig.tar.xz',
  ],
} as const;

export interface CDepPaths {
  /** ~/.cache/codex-litellm/sources */
  sourcesDir: string;
  /** ~/.cache/codex-litellm/cdeps */
  cdepsDir: string;
}

/** Where libcap for `triple` is installed (lib/libcap.a, include/, lib/pkgconfig/libcap.pc). */
export function libcapPrefix(p: CDepPaths, triple: string): string {
  return path.join(p.cdepsDir, triple, `libcap-${LIBCAP.version}`);
}

/** Environment that makes the target's pkg-config lookups find our libcap (and only for that target). */
export function libcapEnv(p: CDepPaths, triple: string): Record<string, string> {
  const dir = path.join(libcapPrefix(p, triple), 'lib', 'pkgconfig');
  const t = triple.replace(/-/g, '_');
  return {
    // The pkg-config crate refuses cross lookups unless allowed. LIBDIR (not just PATH) replaces
    // pkg-config's default search path for the target, so the target sees our libcap and nothing
    // of the host's: otherwise lzma-sys, say, finds the host's liblzma.a and the link fails with
    // "is incompatible with aarch64linux", where it should build its bundled copy for the target.
    PKG_CONFIG_ALLOW_CROSS: '1',
    // Only libcap.a is built: the pkg-config crate then asks rustc for a static link, which a glibc
    // target needs (its link is dynamic by default and would look for libcap.so).
    LIBCAP_STATIC: '1',
    [`PKG_CONFIG_LIBDIR_${t}`]: dir,
    [`PKG_CONFIG_PATH_${t}`]: dir,
  };
}

/** The zig command (zig on PATH, else the `ziglang` Python package, as cargo-zigbuild looks for it). */
export function zigCommand(probe: (cmd: string, args: string[]) => boolean = defaultProbe): string[] {
  if (probe('zig', ['version'])) return ['zig'];
  if (probe('python3', ['-m', 'ziglang', 'version'])) return ['python3', '-m', 'ziglang'];
  throw new UserError('zig is not installed (neither `zig` nor `python3 -m ziglang` runs)', 'pip install ziglang cargo-zigbuild');
}

function defaultProbe(cmd: string, args: string[]): boolean {
  return spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;
}

/** The tarball, from the cache or fetched from `source` (a URL or a file) and checked. */
export function libcapTarball(p: CDepPaths, source: string | undefined, log: (line: string) => void): string {
  const file = path.join(p.sourcesDir, `libcap-${LIBCAP.version}.tar.xz`);
  if (fs.existsSync(file) && fileSha256(file) === LIBCAP.sha256) return file;
  fs.mkdirSync(p.sourcesDir, { recursive: true });
  const tried: string[] = [];
  const candidates = source ? [source] : [...LIBCAP.urls];
  for (const from of candidates) {
    const tmp = `${file}.${process.pid}.tmp`;
    let ok: boolean;
    if (/^[a-z]+:\/\//.test(from)) {
      log(`fetch ${from}`);
      const r = spawnSync('curl', ['-fsSL', '--retry', '2', '-o', tmp, from], { encoding: 'utf8' });
      ok = r.status === 0;
      if (!ok) tried.push(`${from}: ${(r.stderr || r.error?.message || `exit ${r.status}`).trim()}`);
    } else {
      ok = fs.existsSync(from);
      if (ok) fs.copyFileSync(from, tmp);
      else tried.push(`${from}: no such file`);
    }
    if (!ok) {
      fs.rmSync(tmp, { force: true });
      continue;
    }
    const got = fileSha256(tmp);
    if (got !== LIBCAP.sha256) {
      fs.rmSync(tmp, { force: true });
      tried.push(`${from}: SHA-256 ${got}, expected ${LIBCAP.sha256}`);
      continue;
    }
    fs.renameSync(tmp, file);
    return file;
  }
  throw new UserError(
    `cannot get the libcap ${LIBCAP.version} source a cross build needs:\n  - ${tried.join('\n  - ')}`,
    `Download libcap-${LIBCAP.version}.tar.xz (SHA-256 ${LIBCAP.sha256}) and name it with "sources": {"libcap": "/path/to/it"} in the user file, or CODEX_LITELLM_LIBCAP_SOURCE.`,
  );
}

/** Build libcap.a for `triple` with zig unless it is there already; returns the prefix. */
export function ensureLibcap(p: CDepPaths, triple: string, source: string | undefined, log: (line: string) => void): { prefix: string; built: boolean } {
  const prefix = libcapPrefix(p, triple);
  const stamp = path.join(prefix, '.complete');
  if (fs.existsSync(stamp)) return { prefix, built: false };
  const tarball = libcapTarball(p, source, log);
  const zig = zigCommand();
  const scratch = `${prefix}.${process.pid}.tmp`;
  fs.rmSync(scratch, { recursive: true, force: true });
  fs.mkdirSync(scratch, { recursive: true });
  try {
    const run = (cmd: string, args: string[], cwd: string): void => {
      const r = spawnSync(cmd, args, { cwd, encoding: 'utf8' });
      if (r.status !== 0) {
        const out = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n').slice(-20).join('\n');
        throw new UserError(
          `building libcap ${LIBCAP.version} for ${triple} failed (${cmd} ${args.slice(0, 3).join(' ')}):\n${out}`,
          'Check the zig installation (pip install ziglang).',
        );
      }
    };
    run('tar', ['-xJf', tarball, '-C', scratch], scratch);
    const src = path.join(scratch, `libcap-${LIBCAP.version}`);
    const cc = [...zig, 'cc', '-target', zigTriple(triple)].join(' ');
    log(`make -C libcap libcap.a CC="${cc}"`);
    // BUILD_CC stays the host's: libcap compiles a small generator (_makenames) it runs itself.
    run(
      'make',
      [
        '-C',
        'libcap',
        `-j${Math.max(1, Math.min(4, nprocs()))}`,
        `CC=${cc}`,
        'BUILD_CC=cc',
        `AR=${zig.join(' ')} ar`,
        `RANLIB=${zig.join(' ')} ranlib`,
        'libcap.a',
      ],
      src,
    );
    const out = path.join(scratch, 'prefix');
    fs.mkdirSync(path.join(out, 'lib', 'pkgconfig'), { recursive: true });
    fs.mkdirSync(path.join(out, 'include', 'sys'), { recursive: true });
    fs.mkdirSync(path.join(out, 'include', 'linux'), { recursive: true });
    fs.copyFileSync(path.join(src, 'libcap', 'libcap.a'), path.join(out, 'lib', 'libcap.a'));
    fs.copyFileSync(path.join(src, 'libcap', 'include', 'sys', 'capability.h'), path.join(out, 'include', 'sys', 'capability.h'));
    fs.copyFileSync(path.join(src, 'libcap', 'include', 'uapi', 'linux', 'capability.h'), path.join(out, 'include', 'linux', 'capability.h'));
    writeFileAtomic(
      path.join(out, 'lib', 'pkgconfig', 'libcap.pc'),
      [
        `prefix=${prefix}`,
        'libdir=${prefix}/lib',
        'includedir=${prefix}/include',
        '',
        'Name: libcap',
        `Description: Linux capabilities (static, ${triple}, built by codex-litellm's orchestrator with zig)`,
        `Version: ${LIBCAP.version}`,
        'Libs: -L${libdir} -lcap',
        'Cflags: -I${includedir}',
        '',
      ].join('\n'),
    );
    fs.writeFileSync(path.join(out, '.complete'), `${LIBCAP.sha256}\n`);
    fs.rmSync(prefix, { recursive: true, force: true });
    fs.mkdirSync(path.dirname(prefix), { recursive: true });
    fs.renameSync(out, prefix);
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
  return { prefix, built: true };
}

function nprocs(): number {
  const r = spawnSync('nproc', [], { encoding: 'utf8' });
  return Number.parseInt(r.stdout, 10) || 1;
}
