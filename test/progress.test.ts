/**
 * The progress display of the long steps, driven by recorded streams (test/fixtures/cargo/, made
 * by its record.ts) on a clock that the recording sets: what the task shows, the plain lines, the
 * JSON events, the log, the estimate learnt from the previous build, and the error report.
 * Nothing here measures time.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { reportTo, runCargo, withMessageFormat } from '../scripts/build/cargo-run.ts';
import { CargoProgress, packageOf, readHistory, type History } from '../scripts/build/progress.ts';
import { UserError } from '../scripts/lib/errors.ts';
import { parseGitProgress } from '../scripts/lib/git.ts';
import { fetchText } from '../scripts/lib/prepare.ts';
import { formatDuration, makeReporter, outputMode, type OutputMode, type ProgressUpdate } from '../scripts/lib/progress.ts';
import { runSteps } from '../scripts/lib/steps.ts';
import { deflateShared } from '../scripts/package/deflate.ts';
import { PipProgress, pipHistoryFile, readPipHistory, writePipHistory } from '../scripts/e2e/pip-progress.ts';
import { tmpDir } from './helpers/fixture.ts';

const FIXTURES = path.join(import.meta.dirname, 'fixtures', 'cargo');
const WHAT = 'dev build of x86_64-unknown-linux-gnu';

interface Recorded {
  t: number;
  fd: 'stdout' | 'stderr';
  line: string;
}

const load = (name: string): Recorded[] =>
  fs
    .readFileSync(path.join(FIXTURES, `${name}.jsonl`), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Recorded);

/** Messages of a recording, parsed, to count what the reader should count. */
const messages = (rec: Recorded[]): any[] => rec.filter((r) => r.fd === 'stdout').map((r) => JSON.parse(r.line));

/**
 * Replays a recording through CargoProgress and a reporter of the given mode. `scale` stretches
 * the recorded clock (a 0.4 s recording becomes a build of minutes for the 30 s plain lines).
 */
function replay(rec: Recorded[], opts: { history?: History; mode?: OutputMode; scale?: number; start?: number } = {}) {
  const scale = opts.scale ?? 1;
  let now = opts.start ?? 1_000_000;
  const t0 = now;
  const reader = new CargoProgress({ now: () => now, history: opts.history, what: WHAT });
  const updates: ProgressUpdate[] = [];
  const written: string[] = [];
  const sink = makeReporter({
    mode: opts.mode ?? 'json',
    title: 'cargo build x86_64-unknown-linux-gnu (dev)',
    fields: { stage: 'cargo', target: 'x86_64-unknown-linux-gnu' },
    write: (s) => written.push(s),
    show: (s) => written.push(s),
    now: () => now,
  });
  const show = reportTo(reader, {
    update: (u) => {
      updates.push(u);
      sink.update(u);
    },
  });
  let log = '';
  show();
  for (const r of rec) {
    now = t0 + r.t * scale;
    log += r.fd === 'stdout' ? reader.stdout(r.line) : reader.stderr(r.line);
    show();
  }
  return { reader, updates, written, log, snapshot: reader.snapshot(), at: (ms: number) => (now = t0 + ms) };
}

describe('Cargo progress from recorded message streams', () => {
  it('a clean build: every unit counted, the crate being compiled, warnings, and no estimate without a previous build', () => {
    const rec = load('success');
    const msgs = messages(rec);
    const units = msgs.filter((m) => m.reason === 'compiler-artifact' || m.reason === 'build-script-executed').length;
    const r = replay(rec);
    expect(r.snapshot).toMatchObject({ done: units, fresh: 0, compiled: units, total: units, finished: true, success: true, warnings: 1, errors: 0 });
    // While it runs: a count without a total, and it says why there is no estimate.
    const mid = r.updates.find((u) => (u.data as any).done === 2)!;
    expect(mid.text).toMatch(/^2 units · .* \(no estimate: first dev build of x86_64-unknown-linux-gnu here\)/);
    expect(mid.data).toMatchObject({ done: 2, estimate: 'none' });
    expect(mid.data).not.toHaveProperty('total');
    expect(mid.data).not.toHaveProperty('eta');
    // The package being compiled comes from Cargo's "Compiling" line, and leaves when its library is done.
    expect(r.updates.some((u) => (u.data as any).current.includes('dep-a'))).toBe(true);
    expect(r.updates.some((u) => u.text.includes(' · app · '))).toBe(true);
    expect(r.snapshot.current).toEqual([]);
    // The log reads like plain cargo output: status lines and the rendered warning, no JSON.
    expect(r.log).toContain('   Compiling dep-a v0.1.0 (/src/ws/dep-a)');
    expect(r.log).toContain('warning: unused variable: `unused_0`\n --> app/src/main.rs:2:9');
    expect(r.log).toMatch(/Finished `dev` profile/);
    expect(r.log).not.toContain('"reason"');
  });

  it('learns from the previous build: the total, and after a one-file change an estimate of what that crate took last time', () => {
    const first = replay(load('success'));
    const history = first.reader.nextHistory(true)!;
    expect(history.total).toBe(first.snapshot.done);
    expect(Object.keys(history.units).sort()).toEqual([
      'app@0.1.0 bin:app',
      'dep-a@0.1.0 custom-build:build-script-build',
      'dep-a@0.1.0 lib:dep_a',
      'dep-a@0.1.0 run-build-script',
      'dep-b@0.1.0 lib:dep_b',
    ]);
    // The slices add up to the build's wall time up to its last unit.
    const lastUnit = Math.max(
      ...load('success')
        .filter((r) => r.fd === 'stdout' && /compiler-artifact|build-script-executed/.test(r.line))
        .map((r) => r.t),
    );
    expect(Object.values(history.units).reduce((a, b) => a + b, 0)).toBe(lastUnit);

    const rec = load('incremental');
    const r = replay(rec, { history });
    expect(r.snapshot).toMatchObject({ done: 5, fresh: 4, compiled: 1, total: 5, success: true, estimate: 'previous build' });
    // At the start, the whole previous build is ahead; once the fresh units are in, only the binary is.
    expect(r.updates[0]!.data).toMatchObject({ done: 0, total: 5, eta: Math.round(lastUnit / 1000) });
    expect(r.updates[0]!.text).toMatch(/^0\/5 units · /);
    const afterFresh = r.updates.find((u) => (u.data as any).fresh === 4)!;
    expect(afterFresh.text).toMatch(/^4\/5 units \(4 fresh\)/);
    expect((afterFresh.data as any).eta).toBe(Math.round(history.units['app@0.1.0 bin:app']! / 1000));
    // The next history keeps the fresh units' slices and takes the binary's new one.
    const next = r.reader.nextHistory(true)!;
    for (const k of Object.keys(history.units).filter((k) => !k.startsWith('app@'))) expect(next.units[k]).toBe(history.units[k]);
    expect(next.total).toBe(5);
  });

  it('a warning-heavy build counts every warning and shows the count', () => {
    const rec = load('warnings');
    const expected = messages(rec).filter((m) => m.reason === 'compiler-message' && m.message.level === 'warning').length;
    expect(expected).toBeGreaterThan(20);
    const r = replay(rec);
    expect(r.snapshot.warnings).toBe(expected);
    expect(r.snapshot.errors).toBe(0);
    expect(r.updates.at(-1)!.text).toContain(`${expected} warnings`);
    expect(r.log.match(/^warning: unused variable/gm)).toHaveLength(expected);
  });

  it('a failed build: the errors in full, with Cargo own error lines, and no history from a failed first build', () => {
    const r = replay(load('failure'));
    expect(r.snapshot).toMatchObject({ errors: 1, finished: true, success: false });
    const report = r.reader.errorReport();
    expect(report).toMatch(/^error\[E0308\]: mismatched types\n --> dep-b\/src\/lib\.rs:2:21\n/);
    expect(report).toContain('expected `String`, found `u32`');
    expect(report).toContain('For more information about this error, try `rustc --explain E0308`.');
    expect(report).toContain('error: could not compile `dep-b` (lib) due to 1 previous error');
    expect(r.updates.at(-1)!.text).toContain('1 error');
    expect(r.reader.nextHistory(false)).toBeUndefined();
    // With a previous build, a failure keeps its total and time but learns the slices it saw.
    const history: History = { version: 1, total: 9, seconds: 99, units: { 'x@1 lib:x': 5 }, at: '2026-01-01T00:00:00Z' };
    const again = replay(load('failure'), { history });
    const next = again.reader.nextHistory(false)!;
    expect(next).toMatchObject({ total: 9, seconds: 99 });
    expect(next.units['x@1 lib:x']).toBe(5);
    expect(next.units['dep-a@0.1.0 lib:dep_a']).toBeDefined();
  });

  it('says when it waits for another Cargo, and does not charge the wait to the first unit', () => {
    const rec: Recorded[] = [
      { t: 0, fd: 'stderr', line: '    Blocking waiting for file lock on build directory' },
      ...load('success').map((r) => ({ ...r, t: r.t + 60_000 })),
    ];
    const r = replay(rec.slice(0, 1), { mode: 'plain', scale: 1 });
    r.at(30_000);
    const s = r.reader.snapshot();
    expect(s.waiting).toBe('build directory');
    expect(r.reader.text(s)).toBe('waiting for another Cargo to release the file lock on build directory (30s)');
    const whole = replay(rec, { mode: 'plain' });
    // The wait ends with Cargo's first sign of life after it.
    expect(whole.snapshot.waited).toBe((60_000 + load('success')[0]!.t) / 1000);
    expect(whole.snapshot.waiting).toBeUndefined();
    const h = whole.reader.nextHistory(true)!;
    expect(Math.max(...Object.values(h.units))).toBeLessThan(60_000);
    // Plain mode: the wait and its end are lines of their own.
    expect(whole.written.some((l) => l.includes('waiting for another Cargo'))).toBe(true);
    expect(whole.updates.filter((u) => u.milestone).length).toBeGreaterThanOrEqual(2);
  });
});

describe('how progress is shown', () => {
  it('plain: one line now and then (every 30 s of a long build), never a redraw', () => {
    const rec = load('warnings');
    // Stretch the recording to about 10 minutes.
    const scale = 600_000 / rec.at(-1)!.t;
    const r = replay(rec, { mode: 'plain', scale });
    expect(r.written.length).toBeGreaterThan(5);
    expect(r.written.length).toBeLessThanOrEqual(600 / 30 + 3);
    for (const l of r.written) {
      expect(l).toMatch(/^ {2}› cargo build x86_64-unknown-linux-gnu \(dev\): .*\n$/);
      expect(l.includes('\r') || l.includes('\u001b')).toBe(false);
    }
  });

  it('json: one object per line with the counts, the estimate and the stage', () => {
    const first = replay(load('success'));
    const r = replay(load('incremental'), { mode: 'json', history: first.reader.nextHistory(true)! });
    const events = r.written.map((l) => {
      expect(l.endsWith('\n') && !l.slice(0, -1).includes('\n')).toBe(true);
      return JSON.parse(l);
    });
    expect(events.length).toBeGreaterThanOrEqual(1);
    for (const e of events) {
      expect(e).toMatchObject({ event: 'progress', stage: 'cargo', target: 'x86_64-unknown-linux-gnu', estimate: 'previous build', total: 5 });
      expect(e).toHaveProperty('done');
      expect(e).toHaveProperty('eta');
      expect(typeof e.text).toBe('string');
    }
    // Stretched so that the events (at most one a second) reach the end.
    const slow = replay(load('incremental'), { mode: 'json', history: first.reader.nextHistory(true)!, scale: 1000 });
    expect(JSON.parse(slow.written.at(-1)!)).toMatchObject({ done: 5, fresh: 4, compiled: 1, warnings: 1 });
  });

  it('tty: the live line changes only when its text does', () => {
    const shown: string[] = [];
    const rep = makeReporter({ mode: 'tty', title: 't', show: (s) => shown.push(s) });
    rep.update({ text: 'a' });
    rep.update({ text: 'a' });
    rep.update({ text: 'b' });
    expect(shown).toEqual(['a', 'b']);
  });

  it('chooses the mode: --json, else a terminal without CI, else plain', () => {
    expect(outputMode(true, { isTTY: true }, {})).toBe('json');
    expect(outputMode(false, { isTTY: true }, {})).toBe('tty');
    expect(outputMode(false, { isTTY: true }, { CI: 'true' })).toBe('plain');
    expect(outputMode(false, { isTTY: false }, {})).toBe('plain');
  });

  it('runSteps: plain lines per step, or stage events on stderr with --json; a failure is said and rethrown', async () => {
    let now = 0;
    const steps = [
      { title: 'One', stage: 'one', target: 'x', plan: [], run: () => 'ok' },
      {
        title: 'Two',
        stage: 'two',
        target: 'x',
        plan: [],
        run: (p: { update: (u: ProgressUpdate) => void }) => {
          p.update({ text: 'half way', data: { done: 1 } });
          now += 2500;
        },
      },
    ];
    const out: string[] = [];
    const err: string[] = [];
    const records = await runSteps(steps, 'plain', { out: (s) => out.push(s), err: (s) => err.push(s), now: () => now });
    expect(out).toEqual(['✔ One: ok [0s]\n', '  › Two: half way\n', '✔ Two [3s]\n']);
    expect(err).toEqual([]);
    expect(records).toEqual([
      { title: 'One', stage: 'one', target: 'x', seconds: 0, outcome: 'ok' },
      { title: 'Two', stage: 'two', target: 'x', seconds: 2.5 },
    ]);
    out.length = 0;
    await runSteps(steps, 'json', { out: (s) => out.push(s), err: (s) => err.push(s), now: () => now });
    expect(out).toEqual([]);
    expect(err.map((l) => JSON.parse(l))).toEqual([
      { event: 'stage', target: 'x', stage: 'one', title: 'One', status: 'started' },
      { event: 'stage', target: 'x', stage: 'one', title: 'One', status: 'done', seconds: 0, outcome: 'ok' },
      { event: 'stage', target: 'x', stage: 'two', title: 'Two', status: 'started' },
      { event: 'progress', target: 'x', stage: 'two', text: 'half way', done: 1 },
      { event: 'stage', target: 'x', stage: 'two', title: 'Two', status: 'done', seconds: 2.5 },
    ]);
    const failing = [
      {
        title: 'Bad',
        plan: [],
        run: () => {
          throw new UserError('it broke');
        },
      },
    ];
    out.length = 0;
    err.length = 0;
    await expect(runSteps(failing, 'plain', { out: (s) => out.push(s), now: () => now })).rejects.toThrow('it broke');
    expect(out).toEqual(['✖ Bad [0s]\n']);
    await expect(runSteps(failing, 'json', { err: (s) => err.push(s), now: () => now })).rejects.toThrow('it broke');
    expect(JSON.parse(err.at(-1)!)).toMatchObject({ event: 'stage', status: 'failed', error: 'it broke' });
  });
});

describe('runCargo (a stand-in cargo replays a recording)', () => {
  const dir = tmpDir('cargo-run');
  // Prints a recording's lines on their streams and exits with the given code, as cargo would.
  const fake = path.join(dir, 'fake-cargo.mjs');
  fs.writeFileSync(
    fake,
    [
      "import * as fs from 'node:fs';",
      'const [file, code] = process.argv.slice(2);',
      "for (const l of fs.readFileSync(file, 'utf8').split('\\n').filter(Boolean)) {",
      '  const r = JSON.parse(l);',
      "  (r.fd === 'stdout' ? process.stdout : process.stderr).write(r.line + '\\n');",
      '}',
      'process.exitCode = Number(code);',
    ].join('\n'),
  );
  const cmd = (name: string, code: number) => ({
    program: process.execPath,
    args: [fake, path.join(FIXTURES, `${name}.jsonl`), String(code)],
    cwd: dir,
    env: {},
  });

  it('keeps the human-readable output in the log, reports progress, and records the build for the next estimate', async () => {
    const log = path.join(dir, 'logs', 'ok.log');
    const historyFile = path.join(dir, 'progress', 'ok.json');
    const updates: ProgressUpdate[] = [];
    const run = await runCargo(cmd('warnings', 0), { log, historyFile, what: WHAT, progress: { update: (u) => updates.push(u) } });
    const warnings = messages(load('warnings')).filter((m) => m.reason === 'compiler-message').length;
    expect(run).toMatchObject({ units: 5, fresh: 0, compiled: 5, warnings });
    const text = fs.readFileSync(log, 'utf8');
    expect(text).toContain('   Compiling dep-b v0.1.0 (/src/ws/dep-b)');
    expect(text.match(/^warning: unused variable/gm)).toHaveLength(warnings);
    expect(text).toMatch(new RegExp(`codex-litellm: built: 5 units \\(5 compiled, 0 fresh\\), ${warnings} warnings, 0 errors in `));
    expect(readHistory(historyFile)).toMatchObject({ version: 1, total: 5 });
    expect(updates.at(-1)!.data).toMatchObject({ done: 5, warnings });
    // The second run knows the total.
    const again: ProgressUpdate[] = [];
    await runCargo(cmd('incremental', 0), { log, historyFile, what: WHAT, progress: { update: (u) => again.push(u) } });
    expect(again[0]!.data).toMatchObject({ total: 5, estimate: 'previous build' });
  });

  it('a failure names the errors in full and the log', async () => {
    const log = path.join(dir, 'logs', 'bad.log');
    const e = await runCargo(cmd('failure', 101), {
      log,
      historyFile: path.join(dir, 'progress', 'bad.json'),
      what: WHAT,
      progress: { update: () => {} },
    }).then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(UserError);
    const err = e as UserError;
    expect(err.message).toMatch(/failed \(exit 101\): 1 error\n/);
    expect(err.message).toContain('error[E0308]: mismatched types');
    expect(err.message).toContain('let s: String = dep_a::a();');
    expect(err.message).toContain('error: could not compile `dep-b` (lib) due to 1 previous error');
    expect(err.hint).toBe(`The whole log is ${log}.`);
    expect(fs.readFileSync(log, 'utf8')).toContain('error[E0308]: mismatched types');
    expect(fs.existsSync(path.join(dir, 'progress', 'bad.json'))).toBe(false);
  });
});

describe('pieces', () => {
  it('reads both spellings of a package id', () => {
    expect(packageOf('registry+https://github.com/rust-lang/crates.io-index#serde@1.0.200')).toEqual({ name: 'serde', version: '1.0.200' });
    expect(packageOf('path+file:///src/ws/dep-a#0.1.0')).toEqual({ name: 'dep-a', version: '0.1.0' });
    expect(packageOf('path+file:///src/ws/cli#codex-cli@0.0.0')).toEqual({ name: 'codex-cli', version: '0.0.0' });
    expect(packageOf('git+https://github.com/nornagon/ratatui?branch=x#ratatui@0.29.0')).toEqual({ name: 'ratatui', version: '0.29.0' });
    expect(packageOf('serde 1.0.200 (registry+https://github.com/rust-lang/crates.io-index)')).toEqual({ name: 'serde', version: '1.0.200' });
  });

  it('adds --message-format once, before any arguments for rustc', () => {
    const c = { args: ['build', '--locked'] };
    expect(withMessageFormat(c).args).toEqual(['build', '--locked', '--message-format=json']);
    expect(withMessageFormat(withMessageFormat(c)).args).toEqual(['build', '--locked', '--message-format=json']);
    expect(withMessageFormat({ args: ['zigbuild', '-Zbuild-std', '--', '-C', 'x'] }).args).toEqual([
      'zigbuild',
      '-Zbuild-std',
      '--message-format=json',
      '--',
      '-C',
      'x',
    ]);
  });

  it("reads git's progress meter", () => {
    expect(parseGitProgress('Receiving objects:  45% (1234/2742), 1.20 MiB | 2.40 MiB/s')).toEqual({
      phase: 'Receiving objects',
      percent: 45,
      done: 1234,
      total: 2742,
      bytes: '1.20 MiB',
      rate: '2.40 MiB/s',
    });
    expect(parseGitProgress('remote: Counting objects: 100% (5/5), done.')).toEqual({ phase: 'Counting objects', percent: 100, done: 5, total: 5 });
    expect(parseGitProgress('remote: Enumerating objects: 12, done.')).toEqual({ phase: 'Enumerating objects', done: 12 });
    expect(parseGitProgress('fatal: could not read from remote')).toBeUndefined();
    expect(fetchText('tag rust-v0.1.0', parseGitProgress('Receiving objects:  45% (1234/2742), 1.20 MiB | 2.40 MiB/s')!)).toBe(
      'tag rust-v0.1.0: receiving objects 45% (1234/2742), 1.20 MiB | 2.40 MiB/s',
    );
  });

  it('reports compression of a large binary chunk by chunk', async () => {
    const input = Buffer.alloc(9 * 1024 * 1024, 7);
    const seen: number[] = [];
    await deflateShared(input, (done, total) => {
      expect(total).toBe(input.length);
      seen.push(done);
    });
    expect(seen.at(-1)).toBe(input.length);
    expect([...seen].sort((a, b) => a - b)).toEqual(seen);
  });

  it('formats durations', () => {
    expect(formatDuration(42.4)).toBe('42s');
    expect(formatDuration(185)).toBe('3m05s');
    expect(formatDuration(3720)).toBe('1h02m');
  });
});

describe('pip progress (the LiteLLM venv of npm run e2e)', () => {
  const lines = fs.readFileSync(path.join(import.meta.dirname, 'fixtures', 'pip', 'install-requests.txt'), 'utf8').split('\n');

  it('counts what pip resolves and installs, and says there is no estimate on a first install', () => {
    let now = 0;
    const r = new PipProgress({ now: () => now });
    const texts: string[] = [];
    for (const l of lines) {
      now += 1000;
      r.line(l);
      texts.push(r.text());
    }
    expect(texts[0]).toBe('resolving: 1 package, at requests · 1s (no estimate: first install here)');
    expect(texts.find((t) => t.startsWith('installing'))).toMatch(/^installing 5 packages · \d+s \(no estimate/);
    expect(r.snapshot()).toMatchObject({ phase: 'done', collected: 5, fetched: 5, installing: 5 });
    expect(r.text()).toMatch(/^installed 5 packages · \d+s$/);
  });

  it('with the last install: of about how many packages, and the time left', () => {
    let now = 0;
    const r = new PipProgress({ now: () => now, previous: { packages: 5, seconds: 100 } });
    r.line(lines[0]!);
    now = 40_000;
    expect(r.text()).toBe('resolving: 1 of about 5 packages, at requests · 40s, about 1m00s left');
    now = 120_000;
    expect(r.text()).toMatch(/longer than last time$/);
    const dir = tmpDir('pip-history');
    const file = pipHistoryFile(path.join(dir, 'venv'));
    writePipHistory(file, { packages: 5, seconds: 12.5 });
    expect(readPipHistory(file)).toEqual({ packages: 5, seconds: 12.5 });
    expect(readPipHistory(path.join(dir, 'none.json'))).toBeUndefined();
  });
});
