/**
 * The real apk-tools, for checking our OpenWrt .apk packages (scripts/package/apk.ts) before a
 * release uploads them, and for the tests. apk-tools is not in Debian or Ubuntu, so it is built
 * from source at a pinned tag and commit with meson and ninja, into the cache (never the repo):
 *
 *   node --import tsx scripts/release/apk-tools.ts build [--repo <git url or path>] [--prefix <dir>]
 *   node --import tsx scripts/release/apk-tools.ts verify [--apk <path>] [--binary <file>] <file.apk>...
 *   node --import tsx scripts/release/apk-tools.ts where      the apk-tools 3 found (see findApk), exit 1 if none
 *
 * `build` needs git, meson, ninja, a C compiler, pkg-config and the OpenSSL and zlib headers
 * (Debian/Ubuntu: meson ninja-build libssl-dev zlib1g-dev). `verify` runs, for every file:
 * `apk adbdump` (the metadata parses: name, version, arch), `apk verify --allow-untrusted` (every
 * data block matches its hash), and `apk add --allow-untrusted --initdb --no-network --arch <its
 * arch>` into an empty root, then checks that usr/bin/codex-litellm is there, a regular file with
 * mode 0755, whose sha256 is the one the package declares (and the one of --binary when given).
 * Exit status 2 with a message for anything wrong.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { describeError, UserError } from '../lib/errors.ts';
import { defaultCacheDir } from '../lib/project.ts';

/** The apk-tools release we build and test against: the newest 3.0.x, pinned by commit too. */
export const APK_TOOLS = {
  version: '3.0.6',
  tag: 'v3.0.6',
  commit: '7e92634afe99db29e00037e6a134104ad9720b68',
  repo: 'https://github.com/alpinelinux/apk-tools',
} as const;

/** The meson options: the `apk` program alone, libapk linked in (no Lua, Python, manual pages, help text or zstd). */
const MESON_OPTIONS = [
  '-Ddefault_library=static',
  '-Dlua=disabled',
  '-Dpython=disabled',
  '-Ddocs=disabled',
  '-Dhelp=disabled',
  '-Dtests=disabled',
  '-Dzstd=disabled',
];

export function apkToolsPrefix(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(defaultCacheDir(env), 'tools', `apk-tools-${APK_TOOLS.version}`);
}

function run(cmd: string, args: string[], opts: { cwd?: string; quiet?: boolean } = {}): SpawnSyncReturns<string> {
  const r = spawnSync(cmd, args, { cwd: opts.cwd, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw new UserError(`cannot run ${cmd}: ${r.error.message}`, `Install ${cmd}.`);
  return r;
}

function must(cmd: string, args: string[], opts: { cwd?: string } = {}): string {
  const r = run(cmd, args, opts);
  if (r.status !== 0) throw new UserError(`${cmd} ${args.join(' ')} failed (exit ${r.status}):\n${(r.stderr || r.stdout).trim()}`);
  return r.stdout;
}

/** `apk --version` when `file` is apk-tools 3, else undefined. */
function apkToolsVersion(file: string): string | undefined {
  const r = spawnSync(file, ['--version'], { encoding: 'utf8' });
  const m = r.status === 0 ? /^apk-tools (3\.[^\s,]+)/.exec(r.stdout) : null;
  return m?.[1];
}

/**
 * The apk-tools 3 to use: CODEX_LITELLM_APK, else `apk` on PATH when it is apk-tools 3 (Alpine,
 * OpenWrt), else the one `build` installed into the cache.
 */
export function findApk(env: NodeJS.ProcessEnv = process.env): { path: string; version: string } | undefined {
  const candidates = [
    ...(env.CODEX_LITELLM_APK ? [env.CODEX_LITELLM_APK] : []),
    'apk',
    path.join(apkToolsPrefix(env), 'bin', 'apk'),
    path.join(os.homedir(), '.cache', 'codex-litellm', 'tools', `apk-tools-${APK_TOOLS.version}`, 'bin', 'apk'),
  ];
  for (const c of candidates) {
    const version = apkToolsVersion(c);
    if (version) return { path: c, version };
  }
  return undefined;
}

/** Clone the pinned tag, check its commit, build with meson and ninja, install to `prefix`. */
export function buildApkTools(opts: { repo?: string; prefix?: string; env?: NodeJS.ProcessEnv; log?: (s: string) => void } = {}): string {
  const env = opts.env ?? process.env;
  const prefix = path.resolve(opts.prefix ?? apkToolsPrefix(env));
  const log = opts.log ?? ((s: string) => process.stderr.write(`${s}\n`));
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'apk-tools-'));
  try {
    const src = path.join(work, 'src');
    log(`apk-tools ${APK_TOOLS.tag}: cloning ${opts.repo ?? APK_TOOLS.repo}`);
    must('git', ['-c', 'advice.detachedHead=false', 'clone', '--quiet', '--depth', '1', '--branch', APK_TOOLS.tag, opts.repo ?? APK_TOOLS.repo, src]);
    const head = must('git', ['-C', src, 'rev-parse', 'HEAD']).trim();
    if (head !== APK_TOOLS.commit) {
      throw new UserError(
        `apk-tools ${APK_TOOLS.tag} is commit ${head}, not the pinned ${APK_TOOLS.commit}`,
        'A moved tag is not built; check the repository.',
      );
    }
    log(`apk-tools ${APK_TOOLS.tag}: meson setup, ninja, install into ${prefix}`);
    const build = path.join(work, 'build');
    must('meson', ['setup', build, src, `--prefix=${prefix}`, '--buildtype=release', ...MESON_OPTIONS]);
    must('ninja', ['-C', build]);
    must('meson', ['install', '-C', build, '--quiet']);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  const apk = path.join(prefix, 'bin', 'apk');
  const version = apkToolsVersion(apk);
  if (version !== APK_TOOLS.version) throw new UserError(`${apk} --version says ${version ?? 'nothing'}, not apk-tools ${APK_TOOLS.version}`);
  return apk;
}

export interface ApkDump {
  name?: string;
  version?: string;
  arch?: string;
  /** `dir/name` -> sha256 hex, for every regular file the package lists. */
  files: Map<string, string>;
}

/** The fields `verify` needs from `apk adbdump`'s YAML: info's name, version, arch and each file's hash. */
export function parseAdbdump(text: string): ApkDump {
  const out: ApkDump = { files: new Map() };
  let section = '';
  let dir = '';
  let file = '';
  for (const line of text.split('\n')) {
    let m: RegExpExecArray | null;
    if ((m = /^(\w[\w-]*):/.exec(line))) section = m[1]!;
    else if (section === 'info' && (m = /^ {2}(name|version|arch): (.*)$/.exec(line))) out[m[1] as 'name' | 'version' | 'arch'] = m[2]!;
    else if (section === 'paths' && (m = /^ {2}- (acl|name):(?: (.*))?$/.exec(line))) {
      dir = m[1] === 'name' ? m[2]! : '';
      file = '';
    } else if (section === 'paths' && (m = /^ {4}name: (.*)$/.exec(line))) dir = m[1]!;
    else if (section === 'paths' && (m = /^ {6}- name: (.*)$/.exec(line))) file = m[1]!;
    else if (section === 'paths' && (m = /^ {8}hash: ([0-9a-f]{64})$/.exec(line))) out.files.set(dir ? `${dir}/${file}` : file, m[1]!);
  }
  return out;
}

export interface ApkCheck {
  file: string;
  name: string;
  version: string;
  arch: string;
  sha256: string;
}

const BINARY = 'usr/bin/codex-litellm';
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** One .apk through the real apk-tools; throws a UserError saying what is wrong. */
export function verifyApk(file: string, opts: { apk: string; binary?: string }): ApkCheck {
  const fail = (what: string, r?: SpawnSyncReturns<string>): never => {
    throw new UserError(`${file}: ${what}${r ? `\n${`${r.stdout}${r.stderr}`.trim()}` : ''}`);
  };
  const dump = run(opts.apk, ['adbdump', file]);
  if (dump.status !== 0) fail('apk adbdump failed', dump);
  const d = parseAdbdump(dump.stdout);
  if (!d.name || !d.version || !d.arch) fail('apk adbdump shows no name, version or arch', dump);
  const declared = d.files.get(BINARY);
  if (!declared) fail(`the package lists no ${BINARY}`);
  const v = run(opts.apk, ['verify', '--allow-untrusted', file]);
  if (v.status !== 0) fail('apk verify --allow-untrusted failed', v);
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'apk-root-'));
  try {
    const add = run(opts.apk, ['add', '--allow-untrusted', '--root', root, '--initdb', '--no-network', '--no-cache', '--arch', d.arch!, path.resolve(file)]);
    if (add.status !== 0) fail(`apk add into an empty root (--arch ${d.arch}) failed`, add);
    const bin = path.join(root, BINARY);
    const st = fs.lstatSync(bin, { throwIfNoEntry: false });
    if (!st?.isFile()) fail(`apk add left no regular file at /${BINARY}`);
    if ((st!.mode & 0o7777) !== 0o755) fail(`/${BINARY} has mode ${(st!.mode & 0o7777).toString(8)}, not 755`);
    const got = sha256(fs.readFileSync(bin));
    if (got !== declared) fail(`the installed /${BINARY} has sha256 ${got}; the package declares ${declared}`);
    if (opts.binary) {
      const want = sha256(fs.readFileSync(opts.binary));
      if (got !== want) fail(`the installed /${BINARY} has sha256 ${got}, not that of ${opts.binary} (${want})`);
    }
    return { file, name: d.name!, version: d.version!, arch: d.arch!, sha256: got };
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

export function main(argv: string[], env: NodeJS.ProcessEnv = process.env, out: (s: string) => void = (s) => process.stdout.write(s)): number {
  try {
    const { values: v, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { repo: { type: 'string' }, prefix: { type: 'string' }, apk: { type: 'string' }, binary: { type: 'string' } },
    });
    const [cmd, ...files] = positionals;
    switch (cmd) {
      case 'build':
        out(`${buildApkTools({ repo: v.repo, prefix: v.prefix, env })}\n`);
        return 0;
      case 'where': {
        const found = findApk(env);
        if (found) out(`${found.path} (apk-tools ${found.version})\n`);
        return found ? 0 : 1;
      }
      case 'verify': {
        if (files.length === 0) throw new UserError('verify needs .apk files', 'e.g. verify dist/packages/*.apk');
        const apk = v.apk ?? findApk(env)?.path;
        if (!apk) throw new UserError('apk-tools 3 is not installed', 'Build it: node --import tsx scripts/release/apk-tools.ts build');
        for (const f of files) {
          const c = verifyApk(f, { apk, binary: v.binary });
          out(`ok ${path.basename(f)}: ${c.name} ${c.version} ${c.arch}, /${BINARY} installed with mode 755, sha256 ${c.sha256}\n`);
        }
        return 0;
      }
      default:
        throw new UserError('usage: apk-tools.ts build [--repo <url>] [--prefix <dir>] | verify [--apk <path>] [--binary <file>] <file.apk>... | where');
    }
  } catch (e) {
    const d = describeError(e);
    process.stderr.write(`error: ${d.message}\n${d.hint ? `  hint: ${d.hint}\n` : ''}`);
    return e instanceof UserError ? e.exitCode : 1;
  }
}

if (import.meta.url === `file://${process.argv[1]}`) process.exitCode = main(process.argv.slice(2));
