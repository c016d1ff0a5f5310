/**
 * The pure half of `npm run upstream-tests`: which of upstream's own tests we run, how libtest's
 * plain output becomes per-test outcomes, and how the stock and patched runs compare. Kept apart
 * from the runner so that recorded cargo output can be tested without a Rust toolchain.
 */

export interface PlanEntry {
  /** Cargo package (`cargo test -p <crate>`). */
  crate: string;
  /** Target selection after `-p <crate>`; empty means all of the package's tests (lib, bins, tests/, doc-tests). */
  cargoArgs: string[];
  /** libtest name filters: substrings, a test runs if its name contains any of them; empty runs all. */
  filters: string[];
  /** Why this crate is in the plan: what of ours it guards. */
  why: string;
  /** libtest `--skip` filters: tests a substitution stops from working (see `notRun`). */
  skips?: string[];
}

/** Tests a substitution stops from working, as the report lists them: never run, never silently dropped. */
export interface NotRun {
  crate: string;
  /** Test name substrings; none means the whole crate. */
  filters: string[];
  /** `substituted (v8: no V8: code mode answers every cell with an error)`. */
  reason: string;
}

/**
 * What active substitutions do to the plan: a crate it disables in part runs with `--skip`; a
 * crate it disables whole is not run. Every such test is listed as not run, with the reason.
 */
export function applySubstitutions(
  plan: PlanEntry[],
  subs: { name: string; with: string; disablesTests: { crate: string; filter?: string }[] }[],
): { plan: PlanEntry[]; notRun: NotRun[] } {
  const notRun: NotRun[] = [];
  let out = plan.map((p) => ({ ...p }));
  for (const s of subs) {
    const reason = `substituted (${s.name}: ${s.with})`;
    const byCrate = new Map<string, string[]>();
    for (const d of s.disablesTests) byCrate.set(d.crate, [...(byCrate.get(d.crate) ?? []), ...(d.filter ? [d.filter] : [])]);
    for (const [crate, filters] of byCrate) {
      const whole = s.disablesTests.some((d) => d.crate === crate && !d.filter);
      notRun.push({ crate, filters: whole ? [] : filters, reason });
      if (whole) out = out.filter((p) => p.crate !== crate);
      else out = out.map((p) => (p.crate === crate ? { ...p, skips: [...(p.skips ?? []), ...filters] } : p));
    }
  }
  return { plan: out, notRun };
}

/**
 * The default plan: the crates our series touches, with upstream's tests for the code it touches.
 * Filters are substrings, so `client::` also picks up `default_client::` tests; extra upstream
 * coverage is harmless, and it keeps the table valid across tags that split or rename modules.
 */
export const DEFAULT_PLAN: readonly PlanEntry[] = [
  {
    crate: 'codex-client',
    cargoArgs: [],
    filters: [],
    why: 'our exchange patch wraps ReqwestTransport::stream here (every model request goes through it), and the crate gains our dependency; all of its tests. Absent at older tags: skipped there',
  },
  {
    crate: 'codex-api',
    cargoArgs: [],
    filters: [],
    why: 'the Responses client, SSE parsing and retries sit on top of the transport we wrap; all of its tests. Absent at older tags: skipped there',
  },
  {
    crate: 'codex-core',
    // Only the lib's unit tests: tests/all.rs drives whole conversations against a mock server and
    // is one more huge binary to link; the modules below are what our core patches edit.
    cargoArgs: ['--lib'],
    filters: ['config::', 'client::', 'client_common::', 'chat_completions::'],
    why: 'our config patches (built-in litellm provider, default model, model catalog, context window, model saved to [litellm]) edit config/mod.rs and config/edit.rs; client:: covers the request building our exchange reshapes',
  },
  {
    crate: 'codex-tui',
    cargoArgs: ['--lib'],
    filters: ['status::'],
    why: 'our litellm lines in /status edit status/card.rs; upstream pins that card with insta snapshots (status/tests.rs), which must not change without a litellm provider',
  },
  {
    crate: 'codex-cli',
    // Not tests/: they run the binary as cargo_bin("codex"), which our series renames; on the
    // patched tree they would fail, or worse find the stock tree's `codex` in the shared target dir.
    cargoArgs: ['--lib', '--bins'],
    filters: [],
    why: 'our series renames the binary and adds the start-up check and the models/status commands in main.rs; its unit tests parse the command line we extend',
  },
];

/** The plan for `--crate` (in the order given; a crate outside the table runs all its tests) and `--filter` (replaces every entry's filters). */
export function selectPlan(crates: string[], filters: string[] = [], plan: readonly PlanEntry[] = DEFAULT_PLAN): PlanEntry[] {
  const chosen =
    crates.length === 0
      ? [...plan]
      : [...new Set(crates)].map((c) => plan.find((p) => p.crate === c) ?? { crate: c, cargoArgs: [], filters: [], why: 'asked for with --crate' });
  return filters.length === 0 ? chosen : chosen.map((p) => ({ ...p, filters: [...filters] }));
}

/** `cargo test` arguments for one plan entry. Never --locked: a stock tree may carry a refreshed Cargo.lock. */
export function cargoTestArgs(p: PlanEntry, opts: { offline?: boolean; jobs?: number } = {}): string[] {
  return [
    'test',
    '-p',
    p.crate,
    ...p.cargoArgs,
    // Every test binary runs even when an earlier one fails, so both trees report the same binaries.
    '--no-fail-fast',
    ...(opts.offline ? ['--offline'] : []),
    ...(opts.jobs ? ['--jobs', String(opts.jobs)] : []),
    ...(p.filters.length || p.skips?.length ? ['--', ...p.filters, ...(p.skips ?? []).flatMap((s) => ['--skip', s])] : []),
  ];
}

export type TestStatus = 'passed' | 'failed' | 'ignored';

export interface CargoTestRun {
  /** `[<test binary>] <test name>` -> outcome. The binary is cargo's label (`unittests src/lib.rs`, `tests/clients.rs`, `doc-tests codex_api`). */
  tests: Map<string, TestStatus>;
  /** Test binaries that ended without a `test result:` line: a crash, or a panic in the harness itself. */
  crashed: Array<{ binary: string; reason: string }>;
  /** Set when cargo failed before running any test (compile errors, dependency resolution). */
  buildError?: string;
  /** The crate is not a package of this workspace. */
  absent?: boolean;
}

// Colour codes cargo may print; ESC written out so the pattern has no control character in it.
const ANSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*[A-Za-z]`, 'g');

/**
 * Read the plain output of `cargo test` (stdout and stderr in the order written). Only libtest's
 * stable human format is used: `test <name> ... ok|FAILED|ignored[, reason]` and `test result:`;
 * its JSON format needs nightly.
 */
export function parseCargoTest(output: string, exitCode: number): CargoTestRun {
  const run: CargoTestRun = { tests: new Map(), crashed: [] };
  const lines = output.replace(ANSI, '').split(/\r?\n/);
  let binary: string | undefined;
  let open = false;
  let sections = 0;
  let why: string[] = [];
  const close = (): void => {
    if (binary !== undefined && open) run.crashed.push({ binary, reason: why.join('; ') || 'the test binary stopped without a result line' });
    open = false;
  };
  const errors: string[] = [];
  for (let i = 0; i < lines.length; i += 1) {
    const line = lines[i]!;
    let m: RegExpMatchArray | null;
    if ((m = line.match(/^\s*Running (.+?) \((.+)\)\s*$/)) || (m = line.match(/^\s*Doc-tests (\S+)\s*$/))) {
      close();
      binary = m.length === 3 ? m[1]! : `doc-tests ${m[1]}`;
      open = true;
      sections += 1;
      why = [];
    } else if ((m = line.match(/^test (.+?) \.\.\. (ok|FAILED|ignored)/))) {
      run.tests.set(`[${binary ?? '?'}] ${m[1]}`, m[2] === 'ok' ? 'passed' : m[2] === 'FAILED' ? 'failed' : 'ignored');
    } else if (/^test result: /.test(line)) {
      open = false;
    } else if ((m = line.match(/^(fatal runtime error: .*|thread '.*' has overflowed its stack|thread 'main' panicked at .*)$/))) {
      why.push(m[1]!.trim());
    } else if ((m = line.match(/process didn't exit successfully: .*\(((?:signal|exit (?:status|code)):[^)]*)\)\s*$/))) {
      if (open) why.push(m[1]!);
    } else if (sections === 0 && /package(?: ID specification)? `[^`]+` did not match any packages|is not a member of the workspace/.test(line)) {
      run.absent = true;
    } else if (sections === 0 && (m = line.match(/^error(\[E\d+\])?: (.*)$/))) {
      // The compiler's message and, when it has one, the `--> file:line:col` below it.
      const at = lines[i + 1]?.match(/^\s*--> (.*)$/);
      errors.push(`${line.trim()}${at ? ` (${at[1]})` : ''}`);
    }
  }
  close();
  if (run.absent) return run;
  if (exitCode !== 0 && sections === 0) {
    const first = errors.filter((e) => !/^error: could not compile/.test(e)).slice(0, 3);
    const summary = errors.find((e) => /^error: could not compile/.test(e));
    run.buildError = [...first, ...(summary ? [summary] : [])].join('\n') || `cargo exited ${exitCode} before running any test`;
  } else if (exitCode !== 0 && run.crashed.length === 0 && ![...run.tests.values()].includes('failed')) {
    // Every binary said ok yet cargo failed (e.g. a harness that exits non-zero after its summary).
    run.crashed.push({ binary: 'cargo', reason: `cargo exited ${exitCode} although no test failed` });
  }
  return run;
}

export interface Counts {
  passed: number;
  failed: number;
  ignored: number;
}

export interface CrateComparison {
  crate: string;
  /** Counts, or undefined when that tree did not get as far as running tests. */
  stock?: Counts;
  patched?: Counts;
  /** The check: every test that passes on stock passes on patched, and both trees built and ran. */
  samePassSet: boolean;
  /** Not a package of either tree (e.g. a crate upstream added after the pinned tag): no check. */
  skipped: boolean;
  /** Passes on stock, not on patched: what it is on patched (`not run` when missing). */
  regressions: Array<{ test: string; patched: TestStatus | 'not run' }>;
  /** Only on patched, with its outcome. */
  newTests: Array<{ test: string; status: TestStatus }>;
  /** Fails on stock, and does not pass on patched either: upstream's, not ours. */
  failsOnStockToo: string[];
  /** On stock but not passing there, passing on patched. */
  passesOnlyOnPatched: string[];
  /** Why the check could not be made: build failures, crashed test binaries, missing packages, no tests. */
  problems: string[];
}

function counts(r: CargoTestRun): Counts {
  const c: Counts = { passed: 0, failed: 0, ignored: 0 };
  for (const s of r.tests.values()) c[s] += 1;
  return c;
}

export function compareRuns(crate: string, stock: CargoTestRun, patched: CargoTestRun): CrateComparison {
  const out: CrateComparison = {
    crate,
    samePassSet: false,
    skipped: false,
    regressions: [],
    newTests: [],
    failsOnStockToo: [],
    passesOnlyOnPatched: [],
    problems: [],
  };
  if (stock.absent && patched.absent) return { ...out, samePassSet: true, skipped: true };
  const trees = [
    ['stock', stock],
    ['patched', patched],
  ] as const;
  for (const [name, r] of trees) {
    if (r.absent) out.problems.push(`${crate} is not a package of the ${name} tree`);
    else if (r.buildError) out.problems.push(`build failed on ${name}:\n${r.buildError}`);
    else {
      for (const c of r.crashed) out.problems.push(`test binary crashed on ${name}: [${c.binary}] ${c.reason}`);
      if (r.tests.size === 0) out.problems.push(`no test ran on ${name}: the filters match nothing`);
    }
  }
  if (!stock.absent && !stock.buildError) out.stock = counts(stock);
  if (!patched.absent && !patched.buildError) out.patched = counts(patched);
  // A tree that never ran tests has no outcomes to list: its problem says it all.
  if (!out.stock || !out.patched) return out;
  const sorted = (m: Map<string, TestStatus>): string[] => [...m.keys()].sort();
  for (const test of sorted(stock.tests)) {
    const s = stock.tests.get(test)!;
    const p = patched.tests.get(test);
    if (s === 'passed' && p !== 'passed') out.regressions.push({ test, patched: p ?? 'not run' });
    else if (s === 'failed' && p !== 'passed') out.failsOnStockToo.push(test);
    else if (s !== 'passed' && p === 'passed') out.passesOnlyOnPatched.push(test);
  }
  for (const test of sorted(patched.tests)) if (!stock.tests.has(test)) out.newTests.push({ test, status: patched.tests.get(test)! });
  out.samePassSet = out.problems.length === 0 && out.regressions.length === 0;
  return out;
}

const SHOWN = 20;

function list(label: string, items: string[]): string[] {
  const more = items.length > SHOWN ? [`    ... and ${items.length - SHOWN} more (--json lists them all)`] : [];
  return items
    .slice(0, SHOWN)
    .map((t) => `    ${label}: ${t}`)
    .concat(more);
}

/** The report's lines for tests a substitution keeps from running. */
export function formatNotRun(notRun: NotRun[]): string[] {
  return notRun.map(
    (n) => `${n.crate}  not run: ${n.filters.length ? `tests matching ${n.filters.map((f) => `\`${f}\``).join(', ')}` : 'every test'}, ${n.reason}`,
  );
}

/** One table row per crate, then what differs, indented under it. */
export function formatReport(results: CrateComparison[]): string {
  const width = Math.max(...results.map((r) => r.crate.length), 5);
  const c = (x: Counts | undefined, r: CrateComparison, tree: 'stock' | 'patched'): string =>
    x
      ? `${x.passed} passed ${x.failed} failed ${x.ignored} ignored`
      : r.problems.some((p) => p.startsWith(`build failed on ${tree}`))
        ? 'build failed'
        : 'not a package';
  const out: string[] = [];
  for (const r of results) {
    if (r.skipped) {
      out.push(`${r.crate.padEnd(width)}  not a package of either tree (skipped)`);
      continue;
    }
    out.push(
      `${r.crate.padEnd(width)}  stock: ${c(r.stock, r, 'stock')}  patched: ${c(r.patched, r, 'patched')}  same pass set: ${r.samePassSet ? 'yes' : 'no'}`,
    );
    for (const p of r.problems) out.push(...p.split('\n').map((l, i) => `    ${i === 0 ? '' : '  '}${l}`));
    out.push(
      ...list(
        'regression',
        r.regressions.map((x) => `${x.test} (stock: passed, patched: ${x.patched})`),
      ),
    );
    out.push(...list('fails on stock too', r.failsOnStockToo));
    out.push(...list('passes only on patched', r.passesOnlyOnPatched));
    out.push(
      ...list(
        'new on patched',
        r.newTests.map((t) => `${t.test} (${t.status})`),
      ),
    );
  }
  return out.join('\n');
}

/** The closing line CI reads: one check per crate that exists in at least one tree. */
export function summaryLine(results: CrateComparison[]): string {
  const checked = results.filter((r) => !r.skipped);
  const passed = checked.filter((r) => r.samePassSet).length;
  return `${passed} passed, ${checked.length - passed} failed`;
}
