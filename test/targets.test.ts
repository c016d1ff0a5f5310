/**
 * The target table drives builds, packages and CI: every row is complete, `--dry-run` shows each
 * target's tool, environment and command, a target this machine cannot build says so (and which CI
 * job builds it), and `matrix` prints what a GitHub Actions matrix consumes.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ciJob, ciMatrix } from '../scripts/lib/ci-matrix.ts';
import { hostTriple } from '../scripts/lib/host.ts';
import { hostCannotBuild, routeFor } from '../scripts/lib/route.ts';
import { ALL_TARGETS, expandEnv, findTarget, npmPackageName, selectTargets, TARGETS } from '../scripts/lib/targets.ts';
import { fakeNdk } from './helpers/android.ts';
import { runBuild } from './helpers/fixture.ts';
import { makePackageProject, type PackageProject } from './helpers/package-fixture.ts';

const TOOLS = { cargo: 0, 'android-ndk': 0, cross: 0, 'cargo-zigbuild': 0 };
const TRIPLES = [
  'x86_64-unknown-linux-gnu',
  'aarch64-unknown-linux-gnu',
  'x86_64-unknown-linux-musl',
  'aarch64-unknown-linux-musl',
  'x86_64-apple-darwin',
  'aarch64-apple-darwin',
  'x86_64-pc-windows-msvc',
  'aarch64-pc-windows-msvc',
  'x86_64-unknown-freebsd',
  'x86_64-unknown-illumos',
  'aarch64-linux-android',
];

let p: PackageProject;
const run = (args: string[], env: Record<string, string> = {}) => runBuild({ root: p.root, cache: path.join(p.root, '.cache'), env: p.env }, args, env);

beforeAll(() => {
  p = makePackageProject('targets', []);
});

describe('the target table', () => {
  it('has every release target, each row complete', () => {
    expect(TARGETS.map((t) => t.triple)).toEqual(TRIPLES);
    for (const t of TARGETS) {
      expect(t.alias, t.triple).toMatch(/^[a-z0-9-]+$/);
      expect(['cargo', 'cross', 'cargo-zigbuild', 'android-ndk']).toContain(t.tool);
      expect(t.runner, t.triple).toMatch(/^(ubuntu|macos|windows)-/);
      expect(t.hosts.length, t.triple).toBeGreaterThan(0);
      expect(t.setup.length, t.triple).toBeGreaterThan(0);
      expect(t.archive).toBe(t.triple.includes('windows') ? 'zip' : 'tar.gz');
      expect(t.exe).toBe(t.triple.includes('windows') ? '.exe' : '');
      if (!t.npm) {
        // Node.js itself does not run on 32-bit MIPS: no npm package to ship.
        expect(t.triple, 'only mipsel has no npm package').toBe('mipsel-unknown-linux-musl');
        continue;
      }
      expect(npmPackageName(t)).toMatch(/^@avikalpa\/codex-litellm-[a-z0-9]+-(x64|arm64|arm)(-musl)?$/);
      expect(t.npm.cpu).toBe(t.triple.startsWith('x86_64') ? 'x64' : t.triple.startsWith('armv7') ? 'arm' : 'arm64');
      expect(Boolean(t.npm.libc)).toBe(t.triple.includes('-linux-gnu') || t.triple.includes('-linux-musl'));
    }
    expect(findTarget('linux-armv7-musl').openwrt).toEqual(['arm_cortex-a7_neon-vfpv4', 'arm_cortex-a9_vfpv3-d16']);
    expect(findTarget('linux-mipsel-musl')).toMatchObject({ openwrt: ['mipsel_24kc'], tier3: true });
    // Known not to build: in the table (so --target says why), out of --all, the matrix and the packages.
    expect(findTarget('linux-mipsel-musl').unbuildable).toMatch(/AtomicU64.*opentelemetry_sdk.*allocative.*nucleo/);
    expect(ALL_TARGETS.filter((t) => t.unbuildable).map((t) => t.triple)).toEqual(['armv7-unknown-linux-musleabihf', 'mipsel-unknown-linux-musl']);
    expect(findTarget('linux-armv7-musl').unbuildable).toMatch(/codex-linux-sandbox.*i32.*seccompiler/);
    expect(TARGETS.some((t) => t.unbuildable)).toBe(false);
    // Tier 3: CI adds std's source, not a prebuilt std that does not exist.
    expect(findTarget('linux-mipsel-musl').setup).toContain('rustup component add rust-src');
    expect(findTarget('linux-arm64-musl').openwrt).toEqual(['aarch64_generic', 'aarch64_cortex-a53', 'aarch64_cortex-a72']);
    expect(findTarget('x86_64-unknown-linux-musl').openwrt).toEqual(['x86_64']);
    expect(findTarget('android-arm64')).toMatchObject({ termux: 'aarch64', npm: { os: 'android', cpu: 'arm64' } });
    expect(TARGETS.filter((t) => t.debian).map((t) => t.debian)).toEqual(['amd64', 'arm64']);
    expect(TARGETS.filter((t) => t.openwrt.length).every((t) => /-musl(eabihf)?$/.test(t.triple))).toBe(true);
  });

  it('selects by triple or alias, repeatable and deduplicated, or all', () => {
    const named = { targets: ['android-arm64', 'x86_64-unknown-linux-gnu', 'linux-x64'] };
    expect(selectTargets(named, 'table').map((t) => t.alias)).toEqual(['linux-x64', 'android-arm64']);
    expect(selectTargets(named, 'given').map((t) => t.alias)).toEqual(['android-arm64', 'linux-x64']);
    expect(selectTargets({ all: true, targets: ['linux-x64'] }, 'table')).toHaveLength(TARGETS.length);
    // Named, a row that cannot be built is selected (so the build says why); --all leaves it out.
    expect(selectTargets({ targets: ['linux-mipsel-musl'] }, 'table').map((t) => t.alias)).toEqual(['linux-mipsel-musl']);
    expect(() => selectTargets({ targets: ['sparc'] }, 'table')).toThrow(/unknown target `sparc`/);
    // Nothing named: this machine's row, or a clear error where this machine is no release target.
    const host = TARGETS.find((t) => t.triple === hostTriple());
    if (host) expect(selectTargets({}, 'given')).toEqual([host]);
    else expect(() => selectTargets({ targets: [] }, 'given')).toThrow(/is not a release target/);
  });

  it('knows which hosts can build what', () => {
    expect(hostCannotBuild(findTarget('linux-x64'), 'x86_64-unknown-linux-gnu')).toBeUndefined();
    expect(hostCannotBuild(findTarget('linux-arm64-musl'), 'x86_64-unknown-linux-gnu')).toBeUndefined();
    expect(hostCannotBuild(findTarget('darwin-x64'), 'aarch64-apple-darwin')).toBeUndefined();
    expect(hostCannotBuild(findTarget('linux-arm64'), 'x86_64-unknown-linux-gnu')).toMatch(
      /cargo builds it only on aarch64-unknown-linux-gnu; this machine is x86_64-unknown-linux-gnu/,
    );
    expect(hostCannotBuild(findTarget('win32-x64'), 'x86_64-unknown-linux-gnu')).toMatch(/only on \*-pc-windows-msvc/);
  });

  it('cross-builds the gnu rows with zig from a host their own tool cannot build them on, and names what is missing', () => {
    const zig = (p: string) => p === 'cargo-zigbuild';
    const arm = routeFor(findTarget('linux-arm64'), 'x86_64-unknown-linux-gnu', undefined, zig);
    expect(arm).toMatchObject({ tool: 'cargo-zigbuild', std: 'prebuilt', cdeps: ['libcap'], blocked: undefined });
    expect(arm.toolWhy).toMatch(/cross-built from x86_64-unknown-linux-gnu.*CI builds it with cargo on ubuntu-24.04-arm/);
    expect(routeFor(findTarget('linux-arm64'), 'x86_64-unknown-linux-gnu', undefined, () => false).blocked).toMatch(
      /cargo-zigbuild, which is not installed here \(pip install/,
    );
    expect(routeFor(findTarget('darwin-x64'), 'x86_64-unknown-linux-gnu', undefined, zig).blocked).toMatch(/only on \*-apple-darwin/);
    // The host itself: its own cargo, its own libcap.
    expect(routeFor(findTarget('linux-x64'), 'x86_64-unknown-linux-gnu', undefined, zig)).toMatchObject({ tool: 'cargo', cdeps: [], blocked: undefined });
    // Tier 3 without a toolchain to look into: std from source all the same.
    expect(routeFor(findTarget('linux-mipsel-musl'), 'x86_64-unknown-linux-gnu', undefined, zig)).toMatchObject({
      std: 'build-std',
      cc: 'zig cc -target mipsel-linux-musleabi (cargo-zigbuild)',
    });
  });

  it('expands $VAR in the environment only when it is set', () => {
    expect(expandEnv({ A: '$NDK/bin', B: '${NDK}/x', C: '$UNSET/y' }, { NDK: '/opt/ndk' })).toEqual({ A: '/opt/ndk/bin', B: '/opt/ndk/x', C: '$UNSET/y' });
    const android = findTarget('android-arm64');
    expect(android.envTemplate.CARGO_TARGET_AARCH64_LINUX_ANDROID_LINKER).toMatch(/^\$ANDROID_NDK_HOME\/.*aarch64-linux-android24-clang$/);
  });
});

describe('build.ts --dry-run --target <each row>', () => {
  it('prints the right tool, environment and cargo command for every target', () => {
    // An NDK as CI's runners have one, so the Android row takes its own route (android.test.ts covers the others).
    const r = run(['--dry-run', '--json', ...TRIPLES.flatMap((t) => ['--target', t])], { ANDROID_NDK_HOME: fakeNdk() });
    expect(r.status, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as {
      targets: string[];
      cannotBuildHere: string[];
      routes: Record<string, { tool: keyof typeof TOOLS; blocked?: string; ci?: { build: string } }>;
      steps: { title: string; plan: string[] }[];
    };
    expect(doc.targets).toEqual(TRIPLES);
    for (const t of TARGETS) {
      const step = doc.steps.find((s) => s.title.startsWith(`[${t.alias}] cargo build ${t.triple}`));
      expect(step, t.triple).toBeDefined();
      const cmd = step!.plan.find((l) => l.includes(' --target '))!;
      // The route on this host decides the tool (cargo-zigbuild for a gnu row of another CPU).
      const program = { cargo: 'cargo build', 'android-ndk': 'cargo build', cross: 'cross build', 'cargo-zigbuild': 'cargo zigbuild' }[
        doc.routes[t.triple]!.tool
      ];
      expect(cmd, t.triple).toContain(`${program} --locked -p codex-cli --bin codex-litellm --target ${t.triple} --profile release`);
      for (const [k, v] of Object.entries(t.env)) {
        expect(cmd, `${t.triple} ${k}`).toContain(`${k}=`);
        expect(cmd, `${t.triple} ${k}`).toContain(v.split('/').pop()!);
      }
      expect(step!.plan.some((l) => l.startsWith('log: '))).toBe(true);
      const blocked = doc.cannotBuildHere.find((l) => l.startsWith(`${t.triple}:`));
      if (doc.routes[t.triple]!.blocked) {
        expect(blocked, t.triple).toContain(`CI job "${ciJob(t)}" on ${t.runner}`);
        // ...and exactly what that job runs.
        expect(doc.routes[t.triple]!.ci!.build, t.triple).toBe(`npx tsx build.ts --target ${t.triple} --profile release`);
      } else expect(blocked, t.triple).toBeUndefined();
    }
    const android = doc.steps.find((s) => s.title.startsWith('[android-arm64] cargo build'))!.plan.join('\n');
    expect(android).toMatch(/CARGO_TARGET_AARCH64_LINUX_ANDROID_LINKER=\S*aarch64-linux-android24-clang/);
    expect(android).toMatch(/CC_aarch64_linux_android=\S*aarch64-linux-android24-clang/);
    const arm = doc.steps.find((s) => s.title.startsWith('[linux-arm64] cargo build'))!.plan.join('\n');
    expect(arm).toContain('CARGO_PROFILE_RELEASE_LTO=thin');
    // A dry run changes nothing.
    expect(fs.existsSync(path.join(p.root, '.cache'))).toBe(false);
  });

  it('a target this machine cannot build is named in the plan with its CI job, and a real run refuses before doing anything', () => {
    const other = TARGETS.find((t) => routeFor(t, hostTriple(), undefined).blocked)!;
    const plan = run(['--dry-run', '--target', other.alias]);
    expect(plan.status, plan.stderr).toBe(0);
    expect(plan.stdout).toContain(`Note: ${other.triple}: cannot build here:`);
    expect(plan.stdout).toContain(`CI job "build (${other.alias})" on ${other.runner} builds it`);
    const real = run(['--target', other.alias]);
    expect(real.status).not.toBe(0);
    expect(real.stderr).toMatch(/error: this machine cannot build this target:/);
    expect(real.stderr).toContain(`CI job "build (${other.alias})"`);
    expect(real.stderr).toMatch(/hint: Build them in CI \(npx tsx build\.ts matrix\)/);
    expect(fs.existsSync(path.join(p.root, '.cache'))).toBe(false);
  });
});

describe('build.ts matrix', () => {
  it('prints one line of JSON a GitHub Actions matrix `include` consumes', () => {
    const r = run(['matrix']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    const m = JSON.parse(r.stdout) as ReturnType<typeof ciMatrix>;
    expect(m).toEqual(ciMatrix());
    expect(m.include.map((e) => e.target)).toEqual(TRIPLES);
    for (const e of m.include) {
      expect(Object.keys(e)).toEqual(
        expect.arrayContaining(['target', 'alias', 'runner', 'tool', 'env', 'setup', 'archive', 'npm_package', 'build', 'package']),
      );
      expect(e.build).toBe(`npx tsx build.ts --target ${e.target} --profile release`);
    }
    // Templates, not this machine's expansion: $ANDROID_NDK_HOME is the runner's.
    expect(m.include.find((e) => e.alias === 'android-arm64')!.env.CARGO_TARGET_AARCH64_LINUX_ANDROID_LINKER).toContain('$ANDROID_NDK_HOME');
  });

  it('--target narrows it', () => {
    const m = JSON.parse(run(['matrix', '--target', 'linux-x64', '--target', 'android-arm64']).stdout) as ReturnType<typeof ciMatrix>;
    expect(m.include.map((e) => e.alias)).toEqual(['linux-x64', 'android-arm64']);
  });
});
