/**
 * `npm run upstream-tests`: upstream's own Rust tests, for the crates our series touches, on a
 * stock codex-rs and on our patched one. The check per crate: every test that passes on stock
 * passes on patched. We did not write these tests, which is the point: they pin upstream's
 * behaviour where our patches go.
 *
 *   npm run upstream-tests                          the pinned tag: stock and patched trees from the cache
 *   npm run upstream-tests -- --stock ~/src/codex --crate codex-core --filter config::
 *
 * Prints a row per crate and a closing `N passed, N failed` line (one check per crate); exits
 * non-zero on a regression, a build failure or a crashed test binary. Full cargo output goes to
 * ~/.cache/codex-litellm/logs/upstream-tests-<stock|patched>-<crate>.log.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { makeContext, type Context } from '../lib/context.ts';
import { describeError, UserError } from '../lib/errors.ts';
import { mirrorEnv } from '../lib/settings.ts';
import { acquire } from '../lib/prepare.ts';
import { syncStockTree } from '../build/sync.ts';
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
  type CrateComparison,
} from './compare.ts';

const HELP = `npm run upstream-tests -- [options]

  --stock <dir>         stock source: a dir holding codex-rs/ (default: written by the orchestrator at <cache>/stock/<tag>-<commit>)
  --patched <dir>       patched source (default: the orchestrator's build tree, <cache>/trees/<tag>-<commit12>)
  --crate <name>        crate to test, repeatable (default: ${DEFAULT_PLAN.map((p) => p.crate).join(', ')})
  --filter <substr>     libtest name filter, repeatable; replaces the plan's filters for every crate
  --jobs <n>            cargo --jobs
  --offline             cargo --offline: never fetch, use what Cargo already has
  --git-mirror <u>=<p>  mirror for a Cargo git dependency, repeatable (also from ~/.config/codex-litellm/build.json)
  --cache-dir <dir>     cache (default ~/.cache/codex-litellm): target dir, logs, default trees
  --json                one JSON document on stdout (progress goes to stderr)
`;

const OPTIONS = {
  stock: { type: 'string' },
  patched: { type: 'string' },
  crate: { type: 'string', multiple: true },
  filter: { type: 'string', multiple: true },
  jobs: { type: 'string' },
  offline: { type: 'boolean', default: false },
  'git-mirror': { type: 'string', multiple: true },
  'cache-dir': { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

function parse(argv: string[]) {
  try {
    return parseArgs({ args: argv, options: OPTIONS, strict: true }).values;
  } catch (e) {
    throw new UserError((e as Error).message, 'See `npm run upstream-tests -- --help`.');
  }
}

/** The workspace of a source tree: <dir>/<workspace> when it is there, else <dir> if it is one. */
function findWorkspace(dir: string, workspace: string): string | undefined {
  return [path.join(dir, workspace), dir].find((d) => {
    const manifest = path.join(d, 'Cargo.toml');
    return fs.existsSync(manifest) && /^\[workspace\]/m.test(fs.readFileSync(manifest, 'utf8'));
  });
}

function workspaceOf(ctx: Context, tree: 'stock' | 'patched', flag: string | undefined): string {
  // Without --stock, the orchestrator writes the stock tree itself (upstream + asked-for substitutions only).
  const dir = path.resolve(flag ?? (tree === 'stock' ? syncStockTree(ctx, acquire(ctx)) : ctx.treeDir));
  const ws = findWorkspace(dir, ctx.lock.workspace);
  if (ws) return ws;
  const hint =
    tree === 'stock'
      ? `Pass --stock <dir holding ${ctx.lock.workspace}/>, or unpack upstream there: mkdir -p ${dir} && git -C <upstream clone> archive ${ctx.lock.tag} ${ctx.lock.workspace} | tar -x -C ${dir}`
      : `Pass --patched <dir holding ${ctx.lock.workspace}/>, or let the orchestrator write its tree: npx tsx build.ts --profile dev`;
  throw new UserError(`${tree} tree: no Cargo workspace at ${path.join(dir, ctx.lock.workspace)} or ${dir}`, hint);
}

/**
 * What we add to the caller's environment. The shared target dir keeps registry dependencies
 * built once for both trees and for the orchestrator; the trees' own crates differ by path, so
 * Cargo keeps both sets side by side. No debug info: smaller target dir, faster links.
 */
function cargoEnv(ctx: Context): Record<string, string> {
  return {
    // Overrides upstream's rust-toolchain.toml pin, which may not be installed.
    RUSTUP_TOOLCHAIN: process.env.RUSTUP_TOOLCHAIN || ctx.user.toolchain || 'stable',
    CARGO_TARGET_DIR: ctx.cache.targetDir,
    CARGO_PROFILE_DEV_DEBUG: '0',
    CARGO_PROFILE_TEST_DEBUG: '0',
    CARGO_TERM_COLOR: 'never',
    // A snapshot mismatch fails the test without writing .snap.new files into the source trees.
    INSTA_UPDATE: process.env.INSTA_UPDATE ?? 'no',
    ...mirrorEnv(ctx.mirrors),
  };
}

/** Run cargo with stdout and stderr into one log file, so the order of cargo's and libtest's lines holds. */
function runCargo(cwd: string, args: string[], env: Record<string, string>, log: string): Promise<number> {
  fs.mkdirSync(path.dirname(log), { recursive: true });
  const fd = fs.openSync(log, 'w');
  fs.writeSync(fd, `$ cd ${cwd} && cargo ${args.join(' ')}\n`);
  return new Promise((resolve, reject) => {
    const child = spawn('cargo', args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', fd, fd] });
    child.on('error', (e) => {
      fs.closeSync(fd);
      reject((e as NodeJS.ErrnoException).code === 'ENOENT' ? new UserError('cargo is not on PATH', 'Install Rust with rustup (https://rustup.rs).') : e);
    });
    child.on('close', (code, signal) => {
      fs.closeSync(fd);
      resolve(code ?? (signal ? 128 : 1));
    });
  });
}

function describeRun(r: CargoTestRun): string {
  if (r.absent) return 'not a package of this workspace';
  if (r.buildError) return `build failed: ${r.buildError.split('\n')[0]}`;
  const c = { passed: 0, failed: 0, ignored: 0 };
  for (const s of r.tests.values()) c[s] += 1;
  return `${c.passed} passed, ${c.failed} failed, ${c.ignored} ignored${r.crashed.length ? `, ${r.crashed.length} test binary(ies) crashed` : ''}`;
}

export async function main(argv: string[]): Promise<number> {
  let json = argv.includes('--json');
  try {
    const v = parse(argv);
    json = v.json;
    if (v.help) {
      process.stdout.write(HELP);
      return 0;
    }
    const jobs = v.jobs === undefined ? undefined : Number(v.jobs);
    if (jobs !== undefined && !(Number.isInteger(jobs) && jobs > 0)) throw new UserError(`--jobs must be a positive whole number, not \`${v.jobs}\``);
    const ctx = makeContext({ gitMirror: v['git-mirror'] ?? [], offline: v.offline, cacheDir: v['cache-dir'] });
    const trees = { stock: workspaceOf(ctx, 'stock', v.stock), patched: workspaceOf(ctx, 'patched', v.patched) };
    if (fs.realpathSync(trees.stock) === fs.realpathSync(trees.patched)) {
      throw new UserError(`--stock and --patched are the same tree (${trees.stock})`, 'Point --stock at an unpatched checkout of the same tag.');
    }
    // The trees carry the substitutions asked for; the tests those stop from working are listed, not run.
    const { plan, notRun } = applySubstitutions(selectPlan(v.crate ?? [], v.filter ?? []), ctx.substitutions);
    const env = cargoEnv(ctx);
    // Progress is for people; with --json stdout carries only the document.
    const say = (s: string): void => void (json ? process.stderr : process.stdout).write(`${s}\n`);
    say(`stock:   ${trees.stock}\npatched: ${trees.patched}\ntoolchain ${env.RUSTUP_TOOLCHAIN}, target dir ${env.CARGO_TARGET_DIR}`);

    const results: Array<CrateComparison & { command: string; logs: Record<string, string> }> = [];
    for (const p of plan) {
      const args = cargoTestArgs(p, { offline: v.offline, jobs });
      const runs: Partial<Record<'stock' | 'patched', CargoTestRun>> = {};
      const logs: Record<string, string> = {};
      for (const tree of ['stock', 'patched'] as const) {
        const log = path.join(ctx.cache.logsDir, `upstream-tests-${tree}-${p.crate}.log`);
        logs[tree] = log;
        say(`\n${tree.padEnd(7)} ${p.crate}: cargo ${args.join(' ')}\n        log: ${log}`);
        const started = performance.now();
        const code = await runCargo(trees[tree], args, env, log);
        runs[tree] = parseCargoTest(fs.readFileSync(log, 'utf8'), code);
        say(`        ${describeRun(runs[tree]!)} (${((performance.now() - started) / 1000).toFixed(1)} s)`);
      }
      results.push({ ...compareRuns(p.crate, runs.stock!, runs.patched!), command: `cargo ${args.join(' ')}`, logs });
    }

    const summary = summaryLine(results);
    const ok = results.every((r) => r.samePassSet);
    if (json) {
      const [passed, failed] = summary.match(/\d+/g)!.map(Number);
      process.stdout.write(`${JSON.stringify({ ok, stock: trees.stock, patched: trees.patched, env, passed, failed, results, notRun }, null, 2)}\n`);
    } else {
      say(`\n${[formatReport(results), ...formatNotRun(notRun)].join('\n')}\n`);
      say(summary);
    }
    return ok ? 0 : 1;
  } catch (e) {
    const d = describeError(e);
    if (json) process.stdout.write(`${JSON.stringify({ ok: false, error: d.message, hint: d.hint }, null, 2)}\n`);
    else {
      process.stderr.write(`error: ${d.message}\n`);
      if (d.hint) process.stderr.write(`  hint: ${d.hint}\n`);
      console.log('0 passed, 1 failed');
    }
    return e instanceof UserError ? e.exitCode : 1;
  }
}

if (import.meta.url === `file://${process.argv[1]}`) process.exit(await main(process.argv.slice(2)));
