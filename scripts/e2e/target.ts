/**
 * `npm run e2e -- --target <triple> [build flags | --no-build]`: prove one release target on this machine.
 * The orchestrator builds it (cross-built where the host is another architecture: see
 * scripts/lib/route.ts), the binary runs under qemu-user against the real LiteLLM in front of
 * the fake backend (`--version`, `models`, `status`, an `exec` answer, the shell tool and an
 * apply_patch edit), then every package of the target is installed the way its users install it
 * and the installed binary is run again:
 *
 * - the release archive, unpacked with tar;
 * - each OpenWrt .ipk, unpacked as opkg does (outer gzip'd tar, then control and data tarballs)
 *   with busybox's tar into an empty OpenWrt-like root, and the binary run chrooted there;
 * - each OpenWrt .apk, installed with the real apk-tools into an empty root (when apk is here);
 * - the npm platform package with the main package, installed from their tarballs into a fresh
 *   prefix; the launcher picks the binary with its own libc detection, run by a Node.js of the
 *   target's architecture under qemu when one is given (E2E_NODE_<ARCH>, e.g. E2E_NODE_AARCH64);
 * - the Debian .deb: dpkg-deb --info, lintian, and its Depends.
 *
 * Codex runs itself again for apply_patch, so the kernel must know the foreign ELF: the harness
 * registers Debian's qemu-user-static binfmt entry for the run (root only) and removes it after.
 * qemu-user has no seccomp, so the agent runs with the sandbox off (as the host e2e does).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO_ROOT } from '../lib/project.ts';
import { findTarget, npmPackageName, NPM_MAIN, type Target } from '../lib/targets.ts';
import { hostTriple } from '../lib/host.ts';
import { readElfDeps } from '../package/elf.ts';
import { findApk, verifyApk } from '../release/apk-tools.ts';
import { CREATED_ANSWER, HELLO_FILE, HELLO_LINE, PARIS_ANSWER, startFakeBackend, type FakeBackend } from './fake-backend.ts';
import { ensureLitellm, startLitellm, type LitellmProxy } from './litellm-proxy.ts';
import { agentText, assert, checker, cleanEnv, codexHome, E2E_MODELS, events, runBinary, type Outcome } from './e2e.ts';

/** qemu-user's name for a target's CPU, or undefined when the host runs it natively. */
export function qemuArch(triple: string, host = hostTriple()): string | undefined {
  const arch = triple.split('-')[0]!;
  if (arch === host.split('-')[0]) return undefined;
  if (arch.startsWith('armv7')) return 'arm';
  return arch;
}

/** ELF e_machine values of the architectures we build. */
const ELF_MACHINE: Record<string, number> = { x86_64: 62, aarch64: 183, arm: 40, mipsel: 8 };

const BINFMT = '/proc/sys/fs/binfmt_misc';

/** Makes foreign ELF files runnable for the duration of the run; undoes exactly what it did. */
class Binfmt {
  private registered: string[] = [];
  private mounted = false;

  ensure(arch: string): void {
    if (!fs.existsSync(path.join(BINFMT, 'register'))) {
      const m = spawnSync('mount', ['-t', 'binfmt_misc', 'binfmt_misc', BINFMT], { encoding: 'utf8' });
      if (m.status !== 0)
        throw new Error(`cannot mount binfmt_misc (${m.stderr.trim()}); run as root, or mount it yourself: mount -t binfmt_misc binfmt_misc ${BINFMT}`);
      this.mounted = true;
    }
    const entry = path.join(BINFMT, `qemu-${arch}`);
    if (fs.existsSync(entry)) return;
    const conf = `/usr/lib/binfmt.d/qemu-${arch}.conf`;
    if (!fs.existsSync(conf)) throw new Error(`${conf} is missing: apt-get install qemu-user-static`);
    fs.writeFileSync(path.join(BINFMT, 'register'), fs.readFileSync(conf, 'utf8').trim());
    this.registered.push(entry);
  }

  cleanup(): void {
    for (const e of this.registered) fs.writeFileSync(e, '-1');
    this.registered = [];
    if (this.mounted) spawnSync('umount', [BINFMT]);
  }
}

/** Scratch directories of this run: packages and unpacked roots are hundreds of MB each, so they go at the end (E2E_KEEP=1 keeps them). */
const scratch: string[] = [];

function tmp(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  scratch.push(dir);
  return dir;
}

function removeScratch(): void {
  if (process.env.E2E_KEEP) {
    if (scratch.length) console.log(`kept (E2E_KEEP): ${scratch.join(' ')}`);
    return;
  }
  for (const d of scratch.splice(0)) fs.rmSync(d, { recursive: true, force: true });
}

function sh(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): { status: number; out: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', cwd: opts.cwd, env: opts.env ?? process.env, maxBuffer: 64 << 20 });
  return { status: r.status ?? 1, out: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? r.error.message : ''}` };
}

function orchestrator(args: string[]): void {
  const tsx = path.join(REPO_ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs');
  const r = spawnSync(process.execPath, [tsx, path.join(REPO_ROOT, 'build.ts'), ...args], { stdio: 'inherit', env: { ...process.env, CI: '1' } });
  if (r.status !== 0) throw new Error(`build.ts ${args.join(' ')} failed (exit ${r.status}); see its output above`);
}

/** `--target <t>` out of the e2e's arguments; the rest go to the build. */
export function splitTargetArgs(argv: string[]): { target: string | undefined; rest: string[] } {
  const rest: string[] = [];
  let target: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--target') target = argv[++i];
    else if (a.startsWith('--target=')) target = a.slice('--target='.length);
    else rest.push(a);
  }
  return { target, rest };
}

export async function runTargetE2E(triple: string, buildArgs: string[]): Promise<Outcome[]> {
  const target: Target = findTarget(triple);
  const outcomes: Outcome[] = [];
  const check = checker(outcomes);
  const tag = `[${target.triple}]`;
  const profile = process.env.E2E_PROFILE ?? 'dev';
  let t = performance.now();
  const bin = path.join(REPO_ROOT, 'dist', target.triple, `codex-litellm${target.exe}`);
  // --no-build: prove the binary already in dist/<triple>/ (a CI artifact, say) as it is.
  if (buildArgs.includes('--no-build')) {
    if (!fs.existsSync(bin))
      throw new Error(`--no-build, but ${bin} is missing: build it (npx tsx build.ts --target ${target.triple}) or put a CI artifact there`);
    console.log(`NOT REBUILT (--no-build): checking ${bin} as it is`);
  } else {
    orchestrator(['--profile', profile, '--target', target.triple, ...buildArgs]);
    console.log(`built ${bin} in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  }

  const arch = qemuArch(target.triple);
  const binfmt = new Binfmt();
  if (arch) binfmt.ensure(arch);
  const backend: FakeBackend = await startFakeBackend({});
  const masterKey = `sk-e2e-${Math.random().toString(36).slice(2)}`;
  let proxy: LitellmProxy | undefined;
  const slow = { timeoutMs: 600_000 };
  try {
    await check(`${tag} the binary is an ELF for ${target.triple.split('-')[0]}${target.triple.includes('musl') ? ', statically linked' : ''}`, () => {
      const raw = fs.readFileSync(bin);
      const machine = raw.readUInt16LE(18);
      const want = ELF_MACHINE[target.triple.startsWith('armv7') ? 'arm' : target.triple.split('-')[0]!];
      assert(raw.subarray(0, 4).toString('latin1') === '\x7fELF', 'not an ELF file');
      assert(machine === want, `e_machine ${machine}, expected ${want}`);
      const deps = readElfDeps(raw);
      if (target.triple.includes('musl')) assert(!deps || deps.needed.length === 0, `dynamically linked: ${deps?.needed.join(', ')}`);
      const stripped = strippedSize(bin);
      return `${(raw.length / 1e6).toFixed(1)} MB${stripped ? `, ${(stripped / 1e6).toFixed(1)} MB stripped` : ''}${deps?.needed.length ? `; needs ${deps.needed.join(', ')}` : ''}`;
    });
    await check(`${tag} --version${arch ? ` under qemu-${arch}` : ''}`, async () => {
      const r = await runBinary(bin, ['--version'], { env: cleanEnv({}), cwd: os.tmpdir(), ...slow });
      assert(r.status === 0 && /^codex-litellm \d+\.\d+\.\d+-litellm\.\d+ \(upstream /.test(r.stdout), `exit ${r.status}: ${r.stdout}${r.stderr}`);
      return r.stdout.trim().slice(0, 80);
    });

    t = performance.now();
    const install = await ensureLitellm();
    proxy = await startLitellm({ backendUrl: backend.url, masterKey, litellmBin: install.litellmBin, numRetries: 0, models: E2E_MODELS });
    console.log(`LiteLLM ${install.version} on ${proxy.url} in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    const home = codexHome(`[litellm]\napi_base = "${proxy.url}"\nmodel = "fake-model"\n`);
    const env = cleanEnv({ CODEX_HOME: home, LITELLM_API_KEY: masterKey });
    await check(`${tag} models lists the proxy's models`, async () => {
      const r = await runBinary(bin, ['models'], { env, cwd: os.tmpdir(), ...slow });
      assert(r.status === 0, `exit ${r.status}: ${r.stderr.slice(-600)}`);
      for (const m of E2E_MODELS) assert(r.stdout.includes(m.name), `${m.name} missing:\n${r.stdout}`);
      return `${r.stdout.trim().split('\n').length} lines`;
    });
    await check(`${tag} status shows a healthy proxy`, async () => {
      const r = await runBinary(bin, ['status'], { env, cwd: os.tmpdir(), ...slow });
      assert(r.status === 0 && /Health:\s+alive/.test(r.stdout), `exit ${r.status}:\n${r.stdout}${r.stderr.slice(-600)}`);
      return r.stdout
        .split('\n')
        .find((l) => /LiteLLM|Version/.test(l))
        ?.trim();
    });
    const work = tmp('cl-tgt-work-');
    const marker = `only-here-${Math.random().toString(36).slice(2, 8)}.txt`;
    fs.writeFileSync(path.join(work, marker), 'x\n');
    const exec = (prompt: string) =>
      runBinary(bin, ['exec', '--json', '--skip-git-repo-check', '--dangerously-bypass-approvals-and-sandbox', '-C', work, prompt], {
        env,
        cwd: work,
        ...slow,
      });
    await check(`${tag} exec answers through LiteLLM`, async () => {
      const r = await exec('What is the capital of France?');
      assert(r.status === 0 && agentText(events(r.stdout)).includes(PARIS_ANSWER), `exit ${r.status}: ${r.stderr.slice(-800)}`);
    });
    await check(`${tag} exec runs the shell tool`, async () => {
      const r = await exec('List files in current directory');
      const evs = events(r.stdout);
      assert(r.status === 0, `exit ${r.status}: ${r.stderr.slice(-800)}`);
      assert(
        evs.some((e) => e.type === 'item.completed' && e.item?.type === 'command_execution'),
        `no command ran: ${evs.map((e) => e.item?.type ?? e.type).join(', ')}`,
      );
      assert(agentText(evs).includes(marker), `the answer does not name ${marker}`);
    });
    await check(`${tag} exec makes an apply_patch edit`, async () => {
      const file = path.join(work, HELLO_FILE);
      const r = await exec(`Create ${HELLO_FILE} saying hello`);
      assert(r.status === 0, `exit ${r.status}: ${r.stderr.slice(-800)}`);
      assert(
        fs.existsSync(file) && fs.readFileSync(file, 'utf8').trim() === HELLO_LINE,
        `${HELLO_FILE}: ${fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : 'missing'}`,
      );
      assert(agentText(events(r.stdout)).includes(CREATED_ANSWER), 'no closing answer');
    });
    await proxy.stop();
    proxy = undefined;

    const out = tmp('cl-tgt-pkg-');
    orchestrator(['package', '--target', target.triple, '--out-dir', out]);
    await packageChecks(check, assert, target, out, bin, arch);
  } finally {
    await proxy?.stop();
    await backend.close();
    binfmt.cleanup();
    removeScratch();
  }
  return outcomes;
}

function strippedSize(bin: string): number | undefined {
  const copy = path.join(tmp('cl-tgt-strip-'), 'bin');
  fs.copyFileSync(bin, copy);
  // llvm-objcopy/strip of the host know every ELF machine; GNU strip of the host only its own.
  for (const tool of ['llvm-strip', 'strip']) {
    if (sh(tool, ['-o', `${copy}.s`, copy]).status === 0) return fs.statSync(`${copy}.s`).size;
  }
  const zig = sh('python3', ['-m', 'ziglang', 'objcopy', '--strip-all', copy, `${copy}.s`]);
  return zig.status === 0 ? fs.statSync(`${copy}.s`).size : undefined;
}

// biome-ignore lint/suspicious/noConfusingVoidType: as Check in e2e.ts
type CheckFn = (name: string, fn: () => Promise<string | undefined | void> | string | undefined | void) => Promise<void>;

async function packageChecks(
  check: CheckFn,
  assert: (c: unknown, m: string) => void,
  target: Target,
  out: string,
  bin: string,
  arch: string | undefined,
): Promise<void> {
  const tag = `[${target.triple}]`;
  const files = fs.readdirSync(out);
  const size = (f: string): string => `${(fs.statSync(path.join(out, f)).size / 1e6).toFixed(1)} MB`;
  const runsVersion = (exe: string, how: string): string => {
    const r = sh(exe, ['--version']);
    assert(r.status === 0 && r.out.startsWith('codex-litellm '), `${how}: exit ${r.status}: ${r.out.slice(0, 400)}`);
    return r.out.trim().slice(0, 40);
  };
  const archive = files.find((f) => f.endsWith(`-${target.triple}.${target.archive}`));
  await check(`${tag} release archive unpacks and its binary runs`, () => {
    assert(archive, `no archive among ${files.join(', ')}`);
    const dir = tmp('cl-tgt-arc-');
    assert(sh('tar', ['-xzf', path.join(out, archive!), '-C', dir]).status === 0, 'tar failed');
    const exe = sh('find', [dir, '-name', 'codex-litellm', '-type', 'f']).out.trim().split('\n')[0]!;
    return `${archive} (${size(archive!)}): ${runsVersion(exe, 'archive')}`;
  });
  for (const ipk of files.filter((f) => f.endsWith('.ipk'))) {
    await check(`${tag} ${ipk} unpacked as opkg does with busybox tar; the binary runs chrooted in that root`, () => {
      const work = tmp('cl-tgt-ipk-');
      const root = path.join(work, 'root');
      fs.mkdirSync(path.join(root, 'tmp'), { recursive: true });
      const bb = (args: string[], cwd: string): void => {
        const r = sh('busybox', ['tar', ...args], { cwd });
        assert(r.status === 0, `busybox tar ${args.join(' ')}: ${r.out}`);
      };
      bb(['-xzf', path.join(out, ipk)], work);
      const listed = fs.readdirSync(work).sort();
      assert(
        ['control.tar.gz', 'data.tar.gz', 'debian-binary'].every((f) => listed.includes(f)),
        `outer members: ${listed.join(', ')}`,
      );
      bb(['-xzf', 'control.tar.gz'], work);
      const control = fs.readFileSync(path.join(work, 'control'), 'utf8');
      const archName = /^Architecture: (.+)$/m.exec(control)?.[1];
      assert(archName && ipk.includes(archName), `Architecture ${archName} for ${ipk}`);
      bb(['-xzf', path.join(work, 'data.tar.gz'), '-C', root], work);
      const installed = path.join(root, 'usr', 'bin', 'codex-litellm');
      assert((fs.statSync(installed).mode & 0o777) === 0o755, 'usr/bin/codex-litellm is not 0755');
      // chroot: nothing of the host's file system is there, as on a router.
      const r = sh('chroot', [root, '/usr/bin/codex-litellm', '--version']);
      assert(r.status === 0 && r.out.startsWith('codex-litellm '), `chroot run: exit ${r.status}: ${r.out.slice(0, 400)}`);
      return `${size(ipk)}, Architecture ${archName}; ${r.out.trim().slice(0, 40)}`;
    });
  }
  const apks = files.filter((f) => f.endsWith('.apk'));
  const apk = findApk();
  for (const file of apks) {
    await check(`${tag} ${file}: apk-tools ${apk?.version ?? '3'} reads, verifies and installs it into an empty root, where the binary runs chrooted`, () => {
      assert(apk, 'apk-tools 3 is not installed here: node --import tsx scripts/release/apk-tools.ts build (see README, OpenWrt 25.12+)');
      const v = verifyApk(path.join(out, file), { apk: apk!.path, binary: bin });
      const root = tmp('cl-tgt-apkroot-');
      const add = sh(apk!.path, ['add', '--allow-untrusted', '--root', root, '--initdb', '--no-network', '--no-cache', '--arch', v.arch, path.join(out, file)]);
      assert(add.status === 0, `apk add: ${add.out.slice(0, 800)}`);
      const r = sh('chroot', [root, '/usr/bin/codex-litellm', '--version']);
      assert(r.status === 0 && r.out.startsWith('codex-litellm '), `chroot run: ${r.out.slice(0, 400)}`);
      return `${size(file)}, ${v.name} ${v.version} arch ${v.arch}; ${r.out.trim().slice(0, 40)}`;
    });
  }
  if (target.npm) await npmCheck(check, assert, target, out, arch);
  const deb = target.debian ? files.find((f) => f.endsWith(`_${target.debian}.deb`)) : undefined;
  if (target.debian) {
    await check(`${tag} the ${target.debian} .deb: dpkg-deb --info clean, lintian clean, Depends from the ELF`, () => {
      assert(deb, `no .deb among ${files.join(', ')}`);
      const info = sh('dpkg-deb', ['--info', path.join(out, deb!)]);
      assert(info.status === 0 && new RegExp(`Architecture: ${target.debian}`).test(info.out), info.out);
      const depends = /^ Depends: (.+)$/m.exec(info.out)?.[1] ?? '';
      const needed = readElfDeps(fs.readFileSync(bin))?.needed ?? [];
      assert(
        needed.every((n) => !/^lib(c|m|gcc_s)\.so/.test(n) || depends.includes(n.startsWith('libgcc_s') ? 'libgcc-s1' : 'libc6')),
        `Depends ${depends} for ${needed.join(', ')}`,
      );
      const lint = sh('lintian', ['--tag-display-limit', '0', path.join(out, deb!)]);
      const problems = lint.out.split('\n').filter((l) => /^[EW]: /.test(l));
      assert(problems.length === 0, `lintian:\n${problems.join('\n')}`);
      const x = tmp('cl-tgt-deb-');
      assert(sh('dpkg-deb', ['-x', path.join(out, deb!), x]).status === 0, 'dpkg-deb -x failed');
      return `${size(deb!)}, Depends: ${depends}; ${runsVersion(path.join(x, 'usr', 'bin', 'codex-litellm'), 'installed .deb')}`;
    });
  }
}

/**
 * A Node.js of the target's CPU to run the launcher under qemu: E2E_NODE_ROOT_<ARCH> names a root
 * holding usr/bin/node and what it loads (e.g. Debian's nodejs:arm64, libnode108:arm64 and the
 * node-* packages it externalises, unpacked with dpkg -x), passed to qemu-user as its -L prefix.
 * The host's own node when the target is the host's CPU.
 */
function foreignNode(arch: string | undefined): { qemu?: string; root?: string; node: string } | undefined {
  if (!arch) return { node: process.execPath };
  const root = process.env[`E2E_NODE_ROOT_${arch.toUpperCase()}`];
  return root && fs.existsSync(path.join(root, 'usr', 'bin', 'node'))
    ? { qemu: `/usr/bin/qemu-${arch}-static`, root, node: path.join(root, 'usr', 'bin', 'node') }
    : undefined;
}

/**
 * The launcher reads /usr/bin/ldd to tell musl from glibc. A prefix whose usr/bin/ldd is musl's
 * (as on Alpine or OpenWrt), with the rest of usr/ from the Node root, makes qemu-user's -L show
 * that ldd to the launcher, so its musl branch is taken for real on this glibc host.
 */
function muslPrefix(nodeRoot: string | undefined): string {
  const root = tmp('cl-tgt-muslroot-');
  fs.mkdirSync(path.join(root, 'usr', 'bin'), { recursive: true });
  fs.writeFileSync(path.join(root, 'usr', 'bin', 'ldd'), '#!/bin/sh\n# musl libc (ldd of Alpine and OpenWrt)\nexec /lib/ld-musl.so.1 --list "$@"\n');
  if (nodeRoot)
    for (const d of ['lib', 'share'])
      if (fs.existsSync(path.join(nodeRoot, 'usr', d))) fs.symlinkSync(path.join(nodeRoot, 'usr', d), path.join(root, 'usr', d));
  return root;
}

async function npmCheck(check: CheckFn, assert: (c: unknown, m: string) => void, target: Target, out: string, arch: string | undefined): Promise<void> {
  const npmDir = path.join(out, 'npm');
  const tarballs = fs.readdirSync(out).filter((f) => f.endsWith('.tgz'));
  const main = tarballs.find((f) => f.startsWith(`${NPM_MAIN.replace('@', '').replace('/', '-')}-`) && !f.includes(target.npm!.pkg));
  const platform = tarballs.find((f) => f.startsWith(`${npmPackageName(target).replace('@', '').replace('/', '-')}-`));
  const libc = target.npm!.libc;
  await check(
    `[${target.triple}] npm: ${npmPackageName(target)} installs into a fresh prefix and the launcher${libc ? ` (libc ${libc})` : ''} runs its binary`,
    () => {
      assert(main && platform, `tarballs: ${tarballs.join(', ')} (npm dir ${npmDir})`);
      const foreignPlatform = target.npm!.cpu !== process.arch || (libc !== undefined && libc !== 'glibc');
      const prefix = tmp('cl-tgt-npm-');
      const r = sh('npm', [
        'install',
        '-g',
        '--prefix',
        prefix,
        '--offline',
        '--no-audit',
        '--no-fund',
        `--os=${target.npm!.os}`,
        `--cpu=${target.npm!.cpu}`,
        ...(libc ? [`--libc=${libc}`] : []),
        // npm refuses a package of another CPU or libc than its own process's; this host is not the target.
        ...(foreignPlatform ? ['--force'] : []),
        path.join(out, main!),
        path.join(out, platform!),
      ]);
      assert(r.status === 0, `npm install: ${r.out.slice(-800)}`);
      const launcher = path.join(prefix, 'lib', 'node_modules', ...NPM_MAIN.split('/'), 'bin', 'codex-litellm.js');
      const node = foreignNode(arch);
      if (!node) return `installed; launcher not run: no ${arch} Node.js (set E2E_NODE_ROOT_${arch!.toUpperCase()}; see scripts/e2e/target.ts)`;
      const prefix2 = libc === 'musl' ? muslPrefix(node.root) : node.root;
      const qemu = node.qemu ?? (prefix2 ? '/usr/bin/qemu-x86_64-static' : undefined);
      const cmd = qemu ? [qemu, ...(prefix2 ? ['-L', prefix2] : []), node.node] : [node.node];
      const v = sh(cmd[0]!, [...cmd.slice(1), launcher, '--version'], { env: { ...process.env, CODEX_LITELLM_BINARY: '' } });
      assert(v.status === 0 && v.out.startsWith('codex-litellm '), `launcher: exit ${v.status}: ${v.out.slice(0, 600)}`);
      const how = foreignPlatform ? ', npm install --force (another platform)' : '';
      return `${platform} (${(fs.statSync(path.join(out, platform!)).size / 1e6).toFixed(1)} MB)${how}; launcher run by ${cmd.map((c) => path.basename(c)).join(' ')}: ${v.out.trim().slice(0, 40)}`;
    },
  );
}
