/**
 * For the packaging suites: a small stand-in for the codex-litellm binary (a C program compiled
 * here: dynamic like the glibc build, or static like the musl one) and a project checkout whose
 * dist/<target>/ holds it with a BUILDINFO.json, the way `build.ts` leaves a real build.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Parser, type ReadEntry } from 'tar';
import { contextVersion, makeContext, type Context } from '../../scripts/lib/context.ts';
import { TARGETS, type Target } from '../../scripts/lib/targets.ts';
import { REPO, tmpDir } from './fixture.ts';

const STAND_IN = String.raw`
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void on_signal(int sig) {
  char msg[32];
  int n = snprintf(msg, sizeof msg, "got %d\n", sig);
  (void)!write(1, msg, (size_t)n);
  _exit(42);
}

/* --version; exit N; signal N (die by it); wait (print ready, exit 42 on SIGTERM/SIGINT/SIGHUP); args ... */
int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "--version") == 0) { printf("codex-litellm %s\n", DISPLAY); return 0; }
  if (argc > 2 && strcmp(argv[1], "exit") == 0) return atoi(argv[2]);
  if (argc > 2 && strcmp(argv[1], "signal") == 0) { signal(atoi(argv[2]), SIG_DFL); raise(atoi(argv[2])); return 99; }
  if (argc > 1 && strcmp(argv[1], "wait") == 0) {
    signal(SIGTERM, on_signal); signal(SIGINT, on_signal); signal(SIGHUP, on_signal);
    printf("ready\n"); fflush(stdout);
    for (;;) pause();
  }
  for (int i = 1; i < argc; i++) printf("%s\n", argv[i]);
  return 0;
}
`;

export { hasCommand } from './tools.ts';

/** Compile the stand-in; hardened and stripped like a release build, so lintian has nothing to say about it. */
export function compileStandIn(dir: string, display: string, opts: { static?: boolean } = {}): string {
  const src = path.join(dir, 'stand-in.c');
  fs.writeFileSync(src, STAND_IN);
  const out = path.join(dir, opts.static ? 'stand-in-static' : 'stand-in');
  const flags = ['-O2', '-s', '-std=c99', '-D_DEFAULT_SOURCE', '-D_FORTIFY_SOURCE=2', '-fstack-protector-strong', `-DDISPLAY="${display}"`];
  const link = opts.static ? ['-static'] : ['-fPIE', '-pie', '-Wl,-z,relro,-z,now'];
  execFileSync('cc', [...flags, ...link, '-o', out, src], { stdio: 'pipe' });
  return out;
}

/**
 * The stand-in dressed as another target's binary: the ELF machine field for aarch64, a Mach-O
 * or PE header for macOS and Windows. Only the host's copy runs; the others are for the packagers.
 */
export function dressAs(t: Target, elf: Buffer): Buffer {
  const arch = t.triple.split('-')[0];
  const out = Buffer.from(elf);
  if (t.triple.includes('-apple-')) {
    out.writeUInt32LE(0xfeedfacf, 0);
    out.writeUInt32LE(arch === 'aarch64' ? 0x0100000c : 0x01000007, 4);
  } else if (t.triple.includes('-windows-')) {
    out.fill(0, 0, 0x100);
    out.write('MZ', 0, 'latin1');
    out.writeUInt32LE(0x80, 0x3c);
    out.write('PE\0\0', 0x80, 'latin1');
    out.writeUInt16LE(arch === 'aarch64' ? 0xaa64 : 0x8664, 0x84);
  } else if (arch === 'aarch64') {
    out.writeUInt16LE(183, 18);
  } else if (arch?.startsWith('armv7')) {
    out.writeUInt16LE(40, 18);
  } else if (arch === 'mipsel') {
    out.writeUInt16LE(8, 18);
  }
  return out;
}

export interface PackageProject {
  root: string;
  ctx: Context;
  display: string;
  version: string;
  env: Record<string, string>;
}

/** A checkout with upstream.lock, LICENSE, NOTICE, README.md of this repo and stand-ins in dist/ for the given targets. */
export function makePackageProject(name: string, targets: readonly Target[] = TARGETS): PackageProject {
  const root = tmpDir(name);
  for (const f of ['upstream.lock', 'LICENSE', 'NOTICE', 'README.md']) fs.copyFileSync(path.join(REPO, f), path.join(root, f));
  fs.mkdirSync(path.join(root, 'patches'), { recursive: true });
  fs.writeFileSync(path.join(root, 'patches', 'series'), '# none\n');
  fs.mkdirSync(path.join(root, 'litellm', 'crates'), { recursive: true });
  const env = {
    CODEX_LITELLM_CONFIG: path.join(root, 'no-user-config.json'),
    CODEX_LITELLM_CACHE: path.join(root, '.cache'),
    SOURCE_DATE_EPOCH: '1767225600',
    CI: '1',
  };
  const ctx = makeContext({ root, gitMirror: [], offline: true }, { ...process.env, ...env });
  const info = contextVersion(ctx);
  const build = tmpDir(`${name}-cc`);
  const dynamic = compileStandIn(build, info.display);
  const fullyStatic = compileStandIn(build, info.display, { static: true });
  for (const t of targets) {
    const dir = path.join(root, 'dist', t.triple);
    fs.mkdirSync(dir, { recursive: true });
    // glibc targets get the dynamic build (Depends are computed from it); musl and Android the static one.
    const bin = path.join(dir, `codex-litellm${t.exe}`);
    fs.writeFileSync(bin, dressAs(t, fs.readFileSync(t.debian ? dynamic : fullyStatic)), { mode: 0o755 });
    fs.chmodSync(bin, 0o755);
    fs.writeFileSync(path.join(dir, 'BUILDINFO.json'), `${JSON.stringify({ target: t.triple, profile: 'release', ...info }, null, 2)}\n`);
  }
  return { root, ctx, display: info.display, version: info.version, env };
}

/** Every file below dir (relative path -> bytes), for byte-for-byte comparisons. */
export function readTree(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const walk = (rel: string): void => {
    for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(r);
      else out.set(r, fs.readFileSync(path.join(dir, r)));
    }
  };
  walk('');
  return out;
}

interface Listed {
  path: string;
  mode: number;
  uid: number;
  gid: number;
  uname: string;
  gname: string;
  mtime: number;
  type: string;
  data: Buffer;
}

/** Every entry of a tar (gzip'd or not) with its header fields, read by node-tar's parser. */
export async function listTar(buf: Buffer): Promise<Listed[]> {
  const out: Listed[] = [];
  await new Promise<void>((resolve, reject) => {
    const p = new Parser({
      onReadEntry: (e: ReadEntry) => {
        const chunks: Buffer[] = [];
        e.on('data', (c: Buffer) => chunks.push(c));
        e.on('end', () =>
          out.push({
            path: e.path,
            mode: e.mode ?? -1,
            uid: e.uid ?? -1,
            gid: e.gid ?? -1,
            uname: e.uname ?? '',
            gname: e.gname ?? '',
            mtime: e.mtime ? e.mtime.getTime() / 1000 : -1,
            type: e.type,
            data: Buffer.concat(chunks),
          }),
        );
      },
    });
    p.on('error', reject);
    p.on('end', () => resolve());
    p.end(buf);
  });
  return out;
}
