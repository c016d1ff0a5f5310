/**
 * The orchestrator against a fixture upstream: acquisition, verification, apply, check, export,
 * builds, incremental re-runs, dry runs, and the errors a user meets.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { git, makeProject, makeUpstream, runBuild, snapshot, tmpDir, type Project, type Upstream } from './helpers/fixture.ts';
import { fakeNdk } from './helpers/android.ts';

let up: Upstream;
let base: string;

beforeAll(() => {
  base = tmpDir('orch');
  up = makeUpstream(path.join(base, 'upstream'));
});

function project(name: string, opts?: { patches?: boolean }): Project {
  return makeProject(path.join(base, name), up, opts);
}

const treeOf = (p: Project): string => {
  const trees = path.join(p.cache, 'trees');
  return path.join(trees, fs.readdirSync(trees).filter((d) => !d.includes('.tmp-'))[0]!);
};

describe('patches check', () => {
  it('acquires upstream from a local path, verifies the tag and applies the series in memory', () => {
    const p = project('check');
    const r = runBuild(p, ['patches', 'check', '--json']);
    expect(r.stderr).toBe('');
    const doc = JSON.parse(r.stdout);
    expect(doc.ok).toBe(true);
    expect(doc.upstream).toBe('fetched');
    expect(doc.patches.map((x: { name: string }) => x.name)).toEqual(['cli-name-the-binary-codex-litellm.patch', 'workspace-add-our-crate.patch']);
    // No checkout anywhere: only the bare cache exists.
    expect(fs.existsSync(path.join(p.cache, 'trees'))).toBe(false);
    // A second run reuses the cache and does not fetch.
    const again = JSON.parse(runBuild(p, ['patches', 'check', '--json']).stdout);
    expect(again.upstream).toBe('cached');
    expect(again.tree).toBe(doc.tree);
  });

  it('lints: missing, unused, duplicate entries and malformed headers', () => {
    const p = project('lint');
    fs.writeFileSync(path.join(p.root, 'patches', 'stray.patch'), 'not a patch\n');
    fs.writeFileSync(
      path.join(p.root, 'patches', 'no-why.patch'),
      'From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001\nFrom: A <a@b>\nSubject: x\n\ndiff --git a/README.md b/README.md\n--- a/README.md\n+++ b/README.md\n@@ -1 +1 @@\n-# fixture upstream\n+# changed\n',
    );
    fs.appendFileSync(path.join(p.root, 'patches', 'series'), 'cli-name-the-binary-codex-litellm.patch\nghost.patch\nno-why.patch\n');
    const r = runBuild(p, ['patches', 'check']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/ghost\.patch does not exist/);
    expect(r.stderr).toMatch(/cli-name-the-binary-codex-litellm\.patch is already listed at line 2/);
    expect(r.stderr).toMatch(/patches\/stray\.patch is not listed/);
    expect(r.stderr).toMatch(/no-why\.patch: the message does not say why/);
    expect(r.stderr).toMatch(/no-why\.patch: no `Upstream:` trailer/);
    expect(r.stderr).toMatch(/no-why\.patch: touches README\.md, outside the workspace ws\//);
  });
});

describe('build', () => {
  let p: Project;
  beforeAll(() => {
    p = project('build');
  });

  it('builds the patched binary with a version naming tag, commit and series', () => {
    const r = runBuild(p, ['--profile', 'dev']);
    expect(r.status, r.stderr + r.stdout).toBe(0);
    const bin = path.join(p.root, 'dist', hostTriple(), 'codex-litellm');
    const out = execFileSync(bin, { encoding: 'utf8' });
    expect(out).toMatch(/^hello from litellm\ncodex-litellm 0\.1\.0-litellm\.1 \(upstream rust-v0\.1\.0 [0-9a-f]{12}, series [0-9a-f]{12}\)\n$/);
    expect(out).toContain(up.commit.slice(0, 12));
    // The pinned toolchain (1.0.0) is not installed: the build says it used stable instead.
    expect(r.stdout).toMatch(/upstream pins 1\.0\.0, which is not installed; using the installed stable/);
    const info = JSON.parse(fs.readFileSync(path.join(p.root, 'dist', hostTriple(), 'BUILDINFO.json'), 'utf8'));
    expect(info.upstreamCommit).toBe(up.commit);
    // Not a terminal: one plain line per step, Cargo's progress as plain lines, never a redraw.
    expect(r.stdout).not.toContain('\r');
    expect(r.stdout).toMatch(/^ {2}› cargo build \S+ \(dev\): 0 units · 0s \(no estimate: first dev build of \S+ here\)$/m);
    expect(r.stdout).toMatch(/^✔ cargo build \S+ \(dev\): (\d+) units \(\1 compiled, 0 fresh\) in \d+s \[\d+s\]$/m);
    for (const step of ['Upstream', 'Apply the patch series', 'Choose the Rust toolchain', 'Sync the build tree', 'Write dist/']) {
      expect(r.stdout.split('\n').filter((l) => l.startsWith(`✔ ${step}`))).toHaveLength(1);
    }
    // The summary: binary, size and version, each step's time, Cargo's counts and the log.
    expect(r.stdout).toMatch(/^dist\/\S+\/codex-litellm: 0\.1\.0-litellm\.1 \(upstream rust-v0\.1\.0 /m);
    expect(r.stdout).toMatch(/^ {2}[\d.]+ [KM]iB; steps: upstream [\d.]+s, apply [\d.]+s, toolchain [\d.]+s, sync [\d.]+s, cargo [\d.]+s, write [\d.]+s$/m);
    expect(r.stdout).toMatch(/^ {2}cargo: \d+ units \(\d+ compiled, 0 fresh\), 0 warnings; log \S+build-\S+-dev\.log$/m);
    // The next build's estimate.
    expect(fs.existsSync(path.join(p.cache, 'progress', `cargo-${hostTriple()}-dev.json`))).toBe(true);
  });

  it('a no-op re-run rewrites nothing and Cargo recompiles nothing', () => {
    const tree = treeOf(p);
    const before = snapshot(tree);
    const distBefore = snapshot(path.join(p.root, 'dist'));
    const r = runBuild(p, ['--profile', 'dev', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.results[0].treeFilesWritten).toBe(0);
    expect(doc.results[0].lockRefreshed).toBe(false);
    expect(doc.results[0].binaryChanged).toBe(false);
    expect(snapshot(tree)).toEqual(before);
    expect(snapshot(path.join(p.root, 'dist'))).toEqual(distBefore);
    // Nothing changed since the last build: Cargo is not even started.
    expect(doc.results[0].cargoRan).toBe(false);
  });

  it('a hand edit in the build tree is noticed: Cargo runs and finds its own no-op', () => {
    const tree = treeOf(p);
    const file = path.join(tree, 'ws', 'cli', 'src', 'other.rs');
    const later = new Date(Date.now() + 5_000);
    fs.utimesSync(file, later, later);
    const r = runBuild(p, ['--profile', 'dev', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.results[0].cargoRan).toBe(true);
    // --json: stdout is the one document; stderr has one JSON event per line.
    const events = r.stderr
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const stages = ['upstream', 'apply', 'toolchain', 'sync', 'cargo', 'write'];
    expect(events.filter((e) => e.event === 'stage' && e.status === 'done').map((e) => e.stage)).toEqual(stages);
    expect(events.filter((e) => e.event === 'stage' && e.status === 'started').map((e) => e.stage)).toEqual(stages);
    const cargo = events.filter((e) => e.event === 'progress' && e.stage === 'cargo');
    expect(cargo.length).toBeGreaterThan(0);
    // The first build left its count and times: this one has a total and an estimate.
    expect(cargo[0]).toMatchObject({ target: hostTriple(), estimate: 'previous build' });
    expect(cargo[0].total).toBeGreaterThan(0);
    expect(cargo[0]).toHaveProperty('eta');
    const res = doc.results[0];
    expect(res.stages.map((x: any) => x.stage)).toEqual(stages);
    expect(res.size).toBe(fs.statSync(res.binary).size);
    expect(res.log).toBe(path.join(p.cache, 'logs', `build-${hostTriple()}-dev.log`));
    expect(res.cargo).toMatchObject({ warnings: 0 });
    expect(res.cargo.units).toBe(res.cargo.fresh + res.cargo.compiled);
    expect(fs.readFileSync(res.log, 'utf8')).toMatch(/codex-litellm: built: \d+ units/);
    const again = JSON.parse(runBuild(p, ['--profile', 'dev', '--json']).stdout);
    expect(again.results[0].cargoRan).toBe(false);
  });

  it('when one patch changes, only the files it touches are rewritten', () => {
    const tree = treeOf(p);
    const before = snapshot(tree);
    const patch = path.join(p.root, 'patches', 'workspace-add-our-crate.patch');
    const text = fs.readFileSync(patch, 'utf8');
    fs.writeFileSync(patch, text.replace('+    println!("{}", hello::greeting());', '+    println!("{}!", hello::greeting());'));
    const r = runBuild(p, ['--profile', 'dev', '--json']);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    const after = snapshot(tree);
    const changed = Object.keys(after)
      .filter((f) => after[f] !== before[f])
      .filter((f) => !f.startsWith('.codex-litellm'));
    expect(changed).toEqual(['ws/cli/src/main.rs']);
    expect(execFileSync(path.join(p.root, 'dist', hostTriple(), 'codex-litellm'), { encoding: 'utf8' })).toMatch(/^hello from litellm!\n/);
    fs.writeFileSync(patch, text);
  });

  it('a patch that does not apply fails atomically: tree and dist untouched', () => {
    runBuild(p, ['--profile', 'dev']);
    const tree = treeOf(p);
    const before = snapshot(tree);
    const distBefore = snapshot(path.join(p.root, 'dist'));
    const bad = fs
      .readFileSync(path.join(p.root, 'patches', 'cli-name-the-binary-codex-litellm.patch'), 'utf8')
      .replace('Subject: cli: name the binary codex-litellm', 'Subject: break it');
    // Applying the rename a second time cannot work: its context is already changed.
    fs.writeFileSync(path.join(p.root, 'patches', 'break-it.patch'), bad);
    fs.appendFileSync(path.join(p.root, 'patches', 'series'), 'break-it.patch\n');
    const r = runBuild(p, ['--profile', 'dev']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/patch break-it\.patch does not apply: ws\/cli\/Cargo\.toml, hunk #1 \(@@ -\d+,\d+ \+\d+,\d+ @@\) does not match upstream/);
    expect(r.stderr).toMatch(/Nothing was changed/);
    expect(snapshot(tree)).toEqual(before);
    expect(snapshot(path.join(p.root, 'dist'))).toEqual(distBefore);
    fs.rmSync(path.join(p.root, 'patches', 'break-it.patch'));
    fs.writeFileSync(path.join(p.root, 'patches', 'series'), fs.readFileSync(path.join(p.root, 'patches', 'series'), 'utf8').replace('break-it.patch\n', ''));
  });
});

describe('zero fuzz', () => {
  it('refuses a patch whose context differs by one line, though fuzz would take it', () => {
    const p = project('fuzz');
    const file = path.join(p.root, 'patches', 'cli-name-the-binary-codex-litellm.patch');
    // Change a context line (not a changed line) of the first hunk: patch(1) would apply it with fuzz.
    const text = fs.readFileSync(file, 'utf8').replace(' path = "src/main.rs"', ' path = "src/main2.rs"');
    expect(text).not.toBe(fs.readFileSync(file, 'utf8'));
    fs.writeFileSync(file, text);
    const r = runBuild(p, ['patches', 'check']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/patch cli-name-the-binary-codex-litellm\.patch does not apply: ws\/cli\/Cargo\.toml, hunk #1/);
  });
});

describe('export', () => {
  it('round-trips: apply -> export gives the same patches; an edit makes --check fail; export then apply gives the same tree', () => {
    const p = project('export');
    const wt = path.join(base, 'export-wt');
    let r = runBuild(p, ['patches', 'apply', '--worktree', wt]);
    expect(r.status, r.stderr).toBe(0);
    expect(git(wt, 'log', '--format=%s', 'litellm-base..HEAD').split('\n')).toEqual(['workspace: add our crate', 'cli: name the binary codex-litellm']);
    // Our crates are linked into the worktree, not committed.
    expect(fs.lstatSync(path.join(wt, 'ws', 'litellm')).isSymbolicLink()).toBe(true);
    const patchesBefore = snapshot(path.join(p.root, 'patches'));
    r = runBuild(p, ['patches', 'export', '--check', '--worktree', wt]);
    expect(r.status, r.stderr).toBe(0);
    r = runBuild(p, ['patches', 'export', '--worktree', wt]);
    expect(r.status, r.stderr).toBe(0);
    expect(snapshot(path.join(p.root, 'patches'))).toEqual(patchesBefore);

    // A maintainer adds a new file and a change in a new commit.
    fs.writeFileSync(path.join(wt, 'ws', 'cli', 'src', 'extra.rs'), 'pub fn extra() {}\n');
    fs.appendFileSync(path.join(wt, 'ws', 'cli', 'src', 'other.rs'), '// touched\n');
    git(wt, 'add', '-A');
    git(wt, 'commit', '-q', '-m', 'cli: add extra module\n\nA new file travels in the patch too.\n\nUpstream: candidate');
    r = runBuild(p, ['patches', 'export', '--check', '--worktree', wt]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/not in patches\/: cli-add-extra-module\.patch/);
    r = runBuild(p, ['patches', 'export', '--worktree', wt]);
    expect(r.status, r.stderr).toBe(0);
    expect(fs.readFileSync(path.join(p.root, 'patches', 'series'), 'utf8')).toMatch(
      /^# fixture series\ncli-name-the-binary-codex-litellm\.patch\nworkspace-add-our-crate\.patch\ncli-add-extra-module\.patch\n$/,
    );
    expect(fs.readFileSync(path.join(p.root, 'patches', 'cli-add-extra-module.patch'), 'utf8')).toContain('new file mode 100644');
    const wtTree = git(wt, 'rev-parse', 'HEAD^{tree}');
    const check = JSON.parse(runBuild(p, ['patches', 'check', '--json']).stdout);
    expect(check.tree).toBe(wtTree);
    // Re-applying from the exported patches reproduces the worktree exactly.
    r = runBuild(p, ['patches', 'apply', '--worktree', wt]);
    expect(r.status, r.stderr).toBe(0);
    expect(git(wt, 'rev-parse', 'HEAD^{tree}')).toBe(wtTree);
  });

  it('refuses to recreate a dirty worktree', () => {
    const p = project('dirty');
    const wt = path.join(base, 'dirty-wt');
    expect(runBuild(p, ['patches', 'apply', '--worktree', wt]).status).toBe(0);
    fs.appendFileSync(path.join(wt, 'ws', 'cli', 'src', 'main.rs'), '// uncommitted\n');
    const r = runBuild(p, ['patches', 'apply', '--worktree', wt]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/has uncommitted changes/);
    expect(fs.readFileSync(path.join(wt, 'ws', 'cli', 'src', 'main.rs'), 'utf8')).toContain('// uncommitted');
  });
});

describe('dry run', () => {
  it('prints every step, command and path, and changes nothing', () => {
    const p = project('dry');
    const r = runBuild(p, ['--dry-run', '--target', 'aarch64-linux-android', '--profile', 'release'], { ANDROID_NDK_HOME: fakeNdk() });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Targets: aarch64-linux-android \(android-ndk\); profile release/);
    expect(r.stdout).toContain('git fetch --filter=blob:none origin +refs/tags/rust-v0.1.0');
    expect(r.stdout).toMatch(/CARGO_TARGET_AARCH64_LINUX_ANDROID_LINKER=.*aarch64-linux-android24-clang/);
    expect(r.stdout).toMatch(/cargo build --locked -p codex-cli --bin codex-litellm --target aarch64-linux-android --profile release/);
    expect(r.stdout).toContain(`CARGO_TARGET_DIR=${path.join(p.cache, 'target')}`);
    expect(r.stdout).toContain(path.join(p.root, 'dist', 'aarch64-linux-android', 'codex-litellm'));
    expect(r.stdout).toContain('Dry run: nothing was changed.');
    expect(fs.existsSync(p.cache)).toBe(false);
    expect(fs.existsSync(path.join(p.root, 'dist'))).toBe(false);
  });
});

describe('moved tag', () => {
  it('refuses a tag that does not resolve to the locked commit, showing both hashes', () => {
    const other = makeUpstream(path.join(base, 'moved-upstream'));
    const p = project('moved');
    // The same tag name, but on a different commit (another repository's history).
    fs.writeFileSync(path.join(other.dir, 'extra.txt'), 'x\n');
    git(other.dir, 'add', '-A');
    git(other.dir, 'commit', '-q', '-m', 'later');
    git(other.dir, 'tag', '-f', '-a', 'rust-v0.1.0', '-m', 'moved');
    const moved = git(other.dir, 'rev-parse', 'HEAD');
    const r = runBuild(p, ['patches', 'check', '--upstream', other.dir]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain(`tag rust-v0.1.0 from ${other.dir} resolves to ${moved}, but upstream.lock pins ${up.commit}`);
  });
});

describe('bad input gets a clear error and a non-zero exit', () => {
  const cases: { name: string; setup?: (p: Project) => void; args: string[]; env?: Record<string, string>; error: RegExp; hint?: RegExp }[] = [
    {
      name: 'malformed upstream.lock',
      setup: (p) => fs.writeFileSync(path.join(p.root, 'upstream.lock'), 'tag: rust-v0.1.0\n'),
      args: ['patches', 'check'],
      error: /upstream\.lock:1: cannot parse `tag: rust-v0\.1\.0`/,
      hint: /key = "value"/,
    },
    {
      name: 'upstream.lock missing a key',
      setup: (p) => fs.writeFileSync(path.join(p.root, 'upstream.lock'), 'repository = "x"\ntag = "t"\nworkspace = "ws"\nrelease = 1\n'),
      args: ['patches', 'check'],
      error: /missing `commit`/,
    },
    {
      name: 'short commit in upstream.lock',
      setup: (p) =>
        fs.writeFileSync(
          path.join(p.root, 'upstream.lock'),
          fs.readFileSync(path.join(p.root, 'upstream.lock'), 'utf8').replace(/commit = "(\w{12})\w+"/, 'commit = "$1"'),
        ),
      args: ['patches', 'check'],
      error: /is not a full 40-character hex SHA-1/,
    },
    {
      name: 'unknown target',
      args: ['--dry-run', '--target', 'mips-unknown-plan9'],
      error: /unknown target `mips-unknown-plan9`/,
      hint: /x86_64-unknown-linux-gnu \(linux-x64\)/,
    },
    { name: 'unknown profile', args: ['--dry-run', '--profile', 'turbo'], error: /unknown profile `turbo`/, hint: /dev, release, release-lite/ },
    {
      name: 'series naming a missing patch',
      setup: (p) => fs.appendFileSync(path.join(p.root, 'patches', 'series'), 'nope.patch\n'),
      args: ['patches', 'check'],
      error: /nope\.patch does not exist/,
    },
    {
      name: 'unreachable upstream',
      args: ['patches', 'check', '--upstream', '/nonexistent/codex'],
      error: /upstream source \/nonexistent\/codex does not exist/,
      hint: /--upstream/,
    },
    {
      name: 'upstream without the tag',
      setup: (p) =>
        fs.writeFileSync(path.join(p.root, 'upstream.lock'), fs.readFileSync(path.join(p.root, 'upstream.lock'), 'utf8').replace('rust-v0.1.0', 'rust-v9.9.9')),
      args: ['patches', 'check'],
      error: /has no tag rust-v9\.9\.9/,
    },
    {
      name: 'bad --git-mirror spec',
      args: ['--dry-run', '--git-mirror', 'ratatui'],
      error: /--git-mirror: bad git mirror `ratatui`/,
      hint: /<url>=<path-or-url>/,
    },
    {
      name: 'git mirror path that does not exist',
      args: ['--dry-run', '--git-mirror', 'https://github.com/x/y=/nonexistent/mirror'],
      error: /git mirror for https:\/\/github\.com\/x\/y points at \/nonexistent\/mirror, which does not exist/,
    },
    {
      name: 'malformed user config',
      setup: (p) => fs.writeFileSync(p.env.CODEX_LITELLM_CONFIG!, '{not json'),
      args: ['--dry-run'],
      error: /cannot parse .*no-user-config\.json/,
    },
    { name: 'unknown command', args: ['frobnicate'], error: /unknown command `frobnicate`/ },
    { name: 'unknown flag', args: ['--turbo'], error: /Unknown option '--turbo'/ },
    { name: 'unknown patches command', args: ['patches', 'rebase'], error: /unknown patches command `rebase`/ },
    {
      name: 'export without a worktree',
      args: ['patches', 'export', '--worktree', '/nonexistent/wt'],
      error: /no worktree at \/nonexistent\/wt/,
      hint: /patches apply/,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const p = project(`bad-${c.name.replace(/\W+/g, '-')}`);
      c.setup?.(p);
      const r = runBuild(p, c.args, c.env);
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(/^error: /);
      expect(r.stderr).toMatch(c.error);
      if (c.hint) expect(r.stderr).toMatch(c.hint);
      expect(r.stderr).not.toMatch(/at .*\.ts:\d+/); // no stack trace for a user error
    });
  }
});

function hostTriple(): string {
  const out = execFileSync('rustc', ['-vV'], { encoding: 'utf8' });
  return /^host: (.+)$/m.exec(out)![1]!;
}
