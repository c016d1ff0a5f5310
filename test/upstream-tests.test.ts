/** `npm run upstream-tests`: the libtest parser and the stock/patched comparison, on recorded cargo output. */
import { describe, expect, it } from 'vitest';
import * as path from 'node:path';
import { availableSubstitutions } from '../scripts/lib/substitutions.ts';
import { REPO_ROOT } from '../scripts/lib/project.ts';
import {
  applySubstitutions,
  cargoTestArgs,
  compareRuns,
  DEFAULT_PLAN,
  formatNotRun,
  formatReport,
  parseCargoTest,
  selectPlan,
  summaryLine,
  type CargoTestRun,
} from '../scripts/upstream-tests/compare.ts';

const T = '/home/dev/.cache/codex-litellm/target/debug/deps';

/** A lib with a failing, an ignored and passing tests, an integration test binary and doc-tests. */
const MIXED = `   Compiling codex-core v0.0.0 (/home/dev/.cache/codex-litellm/stock/rust-v0.53.0/codex-rs/core)
    Finished \`test\` profile [unoptimized] target(s) in 3m 12s
     Running unittests src/lib.rs (${T}/codex_core-4f1c2a9e8b7d6c5a)

running 4 tests
test config::tests::test_toml_parsing ... ok
test client::tests::parses_rate_limits ... FAILED
test config::edit::tests::blocking_set_model_writes ... ignored
test config::tests::requires_network ... ignored, needs network
test config::tests::loads_profiles ... ok

failures:

---- client::tests::parses_rate_limits stdout ----

thread 'client::tests::parses_rate_limits' panicked at core/src/client.rs:1012:9:
assertion \`left == right\` failed
  left: 1
 right: 2
note: run with \`RUST_BACKTRACE=1\` environment variable to display a backtrace


failures:
    client::tests::parses_rate_limits

test result: FAILED. 2 passed; 1 failed; 2 ignored; 0 measured; 812 filtered out; finished in 0.41s

error: test failed, to rerun pass \`--lib\`

Caused by:
  process didn't exit successfully: \`${T}/codex_core-4f1c2a9e8b7d6c5a config:: client::\` (exit status: 101)
     Running tests/clients.rs (${T}/clients-0a1b2c3d4e5f6a7b)

running 1 test
test streams_usage ... ok

test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.02s

   Doc-tests codex_api

running 1 test
test codex-api/src/lib.rs - sse::parse (line 12) ... ok

test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.30s

error: 1 target failed:
    \`-p codex-core --lib\`
`;

const COMPILE_ERROR = `   Compiling codex-litellm v0.1.0 (/home/dev/.cache/codex-litellm/trees/rust-v0.53.0-ca80bc4902b7/codex-rs/litellm/core)
   Compiling codex-core v0.0.0 (/home/dev/.cache/codex-litellm/trees/rust-v0.53.0-ca80bc4902b7/codex-rs/core)
error[E0425]: cannot find value \`litellm_provider\` in this scope
   --> core/src/config/mod.rs:1120:9
    |
1120 |         litellm_provider,
    |         ^^^^^^^^^^^^^^^^ not found in this scope

error[E0308]: mismatched types
  --> core/src/client.rs:340:20
   |
340 |     let n: u32 = usage.total_tokens;
   |                  ^^^^^^^^^^^^^^^^^^ expected \`u32\`, found \`i64\`

Some errors have detailed explanations: E0308, E0425.
For more information about an error, try \`rustc --explain E0308\`.
warning: build failed, waiting for other jobs to finish...
error: could not compile \`codex-core\` (lib test) due to 2 previous errors
`;

/** The harness itself dies: a stack overflow aborts the lib's test binary mid-run. */
const HARNESS_PANIC = `     Running unittests src/lib.rs (${T}/codex_tui-9d8c7b6a5f4e3d2c)

running 3 tests
test status::tests::status_snapshot_includes_reasoning_details ... ok

thread 'status::tests::status_card_token_usage' has overflowed its stack
fatal runtime error: stack overflow
error: test failed, to rerun pass \`--lib\`

Caused by:
  process didn't exit successfully: \`${T}/codex_tui-9d8c7b6a5f4e3d2c status::\` (signal: 6, SIGABRT: process abort signal)
`;

const MAIN_PANIC = `     Running tests/all.rs (${T}/all-1234567890abcdef)
thread 'main' panicked at core/tests/common/lib.rs:20:5:
CODEX_SANDBOX must not be set
note: run with \`RUST_BACKTRACE=1\` environment variable to display a backtrace
error: test failed, to rerun pass \`--test all\`

Caused by:
  process didn't exit successfully: \`${T}/all-1234567890abcdef\` (exit status: 101)
`;

const ABSENT = `error: package ID specification \`codex-api\` did not match any packages

help: a package with a similar name exists: \`codex-apply-patch\`
`;

function run(tests: Record<string, 'passed' | 'failed' | 'ignored'>, extra: Partial<CargoTestRun> = {}): CargoTestRun {
  return { tests: new Map(Object.entries(tests)), crashed: [], ...extra };
}

describe('parseCargoTest', () => {
  it('reads every outcome, keyed by test binary, across lib, tests/ and doc-tests', () => {
    const r = parseCargoTest(MIXED, 101);
    expect(Object.fromEntries(r.tests)).toEqual({
      '[unittests src/lib.rs] config::tests::test_toml_parsing': 'passed',
      '[unittests src/lib.rs] client::tests::parses_rate_limits': 'failed',
      '[unittests src/lib.rs] config::edit::tests::blocking_set_model_writes': 'ignored',
      '[unittests src/lib.rs] config::tests::requires_network': 'ignored',
      '[unittests src/lib.rs] config::tests::loads_profiles': 'passed',
      '[tests/clients.rs] streams_usage': 'passed',
      '[doc-tests codex_api] codex-api/src/lib.rs - sse::parse (line 12)': 'passed',
    });
    // A failing test is a failure, not a crash: its binary printed its summary.
    expect(r.crashed).toEqual([]);
    expect(r.buildError).toBeUndefined();
    expect(r.absent).toBeUndefined();
  });

  it('reports a compile failure as a build error with the first errors and their places', () => {
    const r = parseCargoTest(COMPILE_ERROR, 101);
    expect(r.tests.size).toBe(0);
    expect(r.buildError).toBe(
      [
        'error[E0425]: cannot find value `litellm_provider` in this scope (core/src/config/mod.rs:1120:9)',
        'error[E0308]: mismatched types (core/src/client.rs:340:20)',
        'error: could not compile `codex-core` (lib test) due to 2 previous errors',
      ].join('\n'),
    );
  });

  it('reports a binary that dies mid-run as crashed, keeping the tests it finished', () => {
    const r = parseCargoTest(HARNESS_PANIC, 101);
    expect([...r.tests]).toEqual([['[unittests src/lib.rs] status::tests::status_snapshot_includes_reasoning_details', 'passed']]);
    expect(r.crashed).toEqual([
      {
        binary: 'unittests src/lib.rs',
        reason:
          "thread 'status::tests::status_card_token_usage' has overflowed its stack; fatal runtime error: stack overflow; signal: 6, SIGABRT: process abort signal",
      },
    ]);
    expect(r.buildError).toBeUndefined();
  });

  it("reports a panic in the harness's main before any test as crashed", () => {
    const r = parseCargoTest(MAIN_PANIC, 101);
    expect(r.tests.size).toBe(0);
    expect(r.crashed).toEqual([{ binary: 'tests/all.rs', reason: "thread 'main' panicked at core/tests/common/lib.rs:20:5:; exit status: 101" }]);
  });

  it('tells a crate missing from the workspace apart from a build failure', () => {
    const r = parseCargoTest(ABSENT, 101);
    expect(r.absent).toBe(true);
    expect(r.buildError).toBeUndefined();
  });

  it('does not take a non-zero exit with every binary ok for a pass, nor an early exit for tests', () => {
    const ok = MIXED.replace('FAILED\n', 'ok\n').replace(/error: test failed[\s\S]*?exit status: 101\)\n/, '');
    expect(parseCargoTest(ok, 0).crashed).toEqual([]);
    expect(parseCargoTest(ok, 101).crashed).toEqual([{ binary: 'cargo', reason: 'cargo exited 101 although no test failed' }]);
    expect(parseCargoTest('    Updating git repository `https://github.com/nornagon/ratatui`\n', 128).buildError).toBe(
      'cargo exited 128 before running any test',
    );
  });

  it('ignores colour codes and CRLF line ends', () => {
    const r = parseCargoTest(
      `\x1b[0m\x1b[1m\x1b[32m     Running\x1b[0m unittests src/lib.rs (${T}/x-1)\r\ntest a ... \x1b[32mok\x1b[0m\r\ntest result: ok. 1 passed\r\n`,
      0,
    );
    expect([...r.tests]).toEqual([['[unittests src/lib.rs] a', 'passed']]);
  });
});

describe('compareRuns', () => {
  const stock = parseCargoTest(MIXED, 101);

  it('the same outcomes are the same pass set, and an upstream failure is not ours', () => {
    const c = compareRuns('codex-core', stock, parseCargoTest(MIXED, 101));
    expect(c.samePassSet).toBe(true);
    expect(c.regressions).toEqual([]);
    expect(c.failsOnStockToo).toEqual(['[unittests src/lib.rs] client::tests::parses_rate_limits']);
    expect(c.stock).toEqual({ passed: 4, failed: 1, ignored: 2 });
    expect(c.patched).toEqual(c.stock);
  });

  it('a stock pass that fails, is ignored or is missing on patched is a regression; extra tests are reported', () => {
    const patched = parseCargoTest(
      MIXED.replace('test_toml_parsing ... ok', 'test_toml_parsing ... FAILED')
        .replace('loads_profiles ... ok', 'loads_profiles ... ignored')
        .replace('test streams_usage ... ok\n', 'test streams_litellm_usage ... ok\n')
        .replace('parses_rate_limits ... FAILED', 'parses_rate_limits ... ok'),
      101,
    );
    const c = compareRuns('codex-core', stock, patched);
    expect(c.samePassSet).toBe(false);
    expect(c.regressions).toEqual([
      { test: '[tests/clients.rs] streams_usage', patched: 'not run' },
      { test: '[unittests src/lib.rs] config::tests::loads_profiles', patched: 'ignored' },
      { test: '[unittests src/lib.rs] config::tests::test_toml_parsing', patched: 'failed' },
    ]);
    expect(c.newTests).toEqual([{ test: '[tests/clients.rs] streams_litellm_usage', status: 'passed' }]);
    expect(c.passesOnlyOnPatched).toEqual(['[unittests src/lib.rs] client::tests::parses_rate_limits']);
    expect(c.failsOnStockToo).toEqual([]);
  });

  it('a build failure or a crash on either tree fails the check, whatever the tests say', () => {
    const broken = compareRuns('codex-core', stock, parseCargoTest(COMPILE_ERROR, 101));
    expect(broken.samePassSet).toBe(false);
    expect(broken.patched).toBeUndefined();
    expect(broken.problems).toEqual([expect.stringMatching(/^build failed on patched:\nerror\[E0425\]/)]);
    // Not hundreds of "not run" regressions on top of the build failure.
    expect(broken.regressions).toEqual([]);
    const crashed = compareRuns(
      'codex-tui',
      parseCargoTest(HARNESS_PANIC, 101),
      run({ '[unittests src/lib.rs] status::tests::status_snapshot_includes_reasoning_details': 'passed' }),
    );
    expect(crashed.regressions).toEqual([]);
    expect(crashed.samePassSet).toBe(false);
    expect(crashed.problems).toEqual([expect.stringMatching(/^test binary crashed on stock: \[unittests src\/lib\.rs\] .*stack overflow/)]);
  });

  it('a crate in neither workspace is skipped; in one only, or with no tests at all, it fails', () => {
    const absent = parseCargoTest(ABSENT, 101);
    expect(compareRuns('codex-api', absent, absent)).toMatchObject({ skipped: true, samePassSet: true });
    expect(compareRuns('codex-api', stock, absent)).toMatchObject({
      skipped: false,
      samePassSet: false,
      problems: ['codex-api is not a package of the patched tree'],
    });
    expect(compareRuns('codex-api', run({}), run({})).problems).toEqual([
      'no test ran on stock: the filters match nothing',
      'no test ran on patched: the filters match nothing',
    ]);
  });
});

describe('report', () => {
  it('prints a row per crate, the differences under it, and the closing line', () => {
    const absent = parseCargoTest(ABSENT, 101);
    const results = [
      compareRuns('codex-core', parseCargoTest(MIXED, 101), parseCargoTest(MIXED, 101)),
      compareRuns('codex-tui', run({ '[unittests src/lib.rs] status::tests::a': 'passed' }), run({ '[unittests src/lib.rs] status::tests::a': 'failed' })),
      compareRuns('codex-cli', run({ '[unittests src/main.rs] tests::x': 'passed' }), parseCargoTest(COMPILE_ERROR, 101)),
      compareRuns('codex-api', absent, absent),
    ];
    const text = formatReport(results).split('\n');
    expect(text).toContain('codex-core  stock: 4 passed 1 failed 2 ignored  patched: 4 passed 1 failed 2 ignored  same pass set: yes');
    expect(text).toContain('    fails on stock too: [unittests src/lib.rs] client::tests::parses_rate_limits');
    expect(text).toContain('codex-tui   stock: 1 passed 0 failed 0 ignored  patched: 0 passed 1 failed 0 ignored  same pass set: no');
    expect(text).toContain('    regression: [unittests src/lib.rs] status::tests::a (stock: passed, patched: failed)');
    expect(text).toContain('codex-cli   stock: 1 passed 0 failed 0 ignored  patched: build failed  same pass set: no');
    expect(text).toContain('    build failed on patched:');
    expect(text).toContain('codex-api   not a package of either tree (skipped)');
    expect(summaryLine(results)).toBe('1 passed, 2 failed');
    const many = compareRuns('codex-core', run(Object.fromEntries(Array.from({ length: 25 }, (_, i) => [`t${i}`, 'passed' as const]))), run({ t0: 'passed' }));
    const lines = formatReport([many]).split('\n');
    expect(lines.filter((l) => l.startsWith('    regression: '))).toHaveLength(20);
    expect(lines).toContain('    ... and 4 more (--json lists them all)');
  });
});

describe('plan', () => {
  it('covers the crates our series touches, each with a reason', () => {
    expect(DEFAULT_PLAN.map((p) => p.crate)).toEqual(['codex-client', 'codex-api', 'codex-core', 'codex-tui', 'codex-cli']);
    for (const p of DEFAULT_PLAN) expect(p.why.length).toBeGreaterThan(20);
  });

  it('selects crates in the order asked, runs all tests of a crate outside the table, and --filter replaces filters', () => {
    expect(selectPlan(['codex-tui', 'codex-core']).map((p) => [p.crate, p.filters])).toEqual([
      ['codex-tui', ['status::']],
      ['codex-core', ['config::', 'client::', 'client_common::', 'chat_completions::']],
    ]);
    expect(selectPlan(['codex-exec'])).toEqual([{ crate: 'codex-exec', cargoArgs: [], filters: [], why: 'asked for with --crate' }]);
    expect(selectPlan(['codex-core'], ['config::edit::'])[0]!.filters).toEqual(['config::edit::']);
    expect(DEFAULT_PLAN.find((p) => p.crate === 'codex-core')!.filters).toHaveLength(4);
  });

  it('builds the cargo line: no --locked, --no-fail-fast, filters after --', () => {
    const core = selectPlan(['codex-core'])[0]!;
    expect(cargoTestArgs(core)).toEqual([
      'test',
      '-p',
      'codex-core',
      '--lib',
      '--no-fail-fast',
      '--',
      'config::',
      'client::',
      'client_common::',
      'chat_completions::',
    ]);
    expect(cargoTestArgs({ ...core, skips: ['code_mode'] }).slice(-3)).toEqual(['chat_completions::', '--skip', 'code_mode']);
    expect(cargoTestArgs(selectPlan(['codex-api'])[0]!, { offline: true, jobs: 1 })).toEqual([
      'test',
      '-p',
      'codex-api',
      '--no-fail-fast',
      '--offline',
      '--jobs',
      '1',
    ]);
  });

  it("a substitution's disabled tests are skipped and listed as not run, never dropped silently (V8)", () => {
    const v8 = availableSubstitutions(path.join(REPO_ROOT, 'patches')).find((x) => x.name === 'v8')!;
    expect(v8.disablesTests).toEqual([
      { crate: 'codex-code-mode', filter: 'runtime::' },
      { crate: 'codex-code-mode', filter: 'service::' },
      { crate: 'codex-core', filter: 'code_mode' },
    ]);
    const { plan, notRun } = applySubstitutions(selectPlan(['codex-core', 'codex-code-mode']), [v8]);
    expect(plan.map((p) => [p.crate, p.skips])).toEqual([
      ['codex-core', ['code_mode']],
      ['codex-code-mode', ['runtime::', 'service::']],
    ]);
    expect(cargoTestArgs(plan[1]!)).toEqual(['test', '-p', 'codex-code-mode', '--no-fail-fast', '--', '--skip', 'runtime::', '--skip', 'service::']);
    expect(formatNotRun(notRun)).toEqual([
      'codex-code-mode  not run: tests matching `runtime::`, `service::`, substituted (v8: no V8: code mode answers every cell with an error)',
      'codex-core  not run: tests matching `code_mode`, substituted (v8: no V8: code mode answers every cell with an error)',
    ]);
    // A substitution that disables a whole crate takes it out of the plan, and says so.
    const whole = applySubstitutions(selectPlan(['codex-core', 'codex-tui']), [{ name: 'x', with: 'y', disablesTests: [{ crate: 'codex-tui' }] }]);
    expect(whole.plan.map((p) => p.crate)).toEqual(['codex-core']);
    expect(formatNotRun(whole.notRun)).toEqual(['codex-tui  not run: every test, substituted (x: y)']);
    expect(applySubstitutions(selectPlan([]), []).notRun).toEqual([]);
  });
});
