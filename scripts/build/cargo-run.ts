/**
 * Running Cargo with a progress display: its JSON messages (stdout) and status lines (stderr) go
 * through CargoProgress (progress.ts), which tells the reporter where the build is; the log file
 * gets what a plain `cargo build` would have shown (the status lines, every diagnostic as rustc
 * rendered it) plus a closing count, so it reads as it did before. On failure the error names
 * the errors in full and the log's path.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { UserError } from '../lib/errors.ts';
import { formatDuration, plural, type Reporter } from '../lib/progress.ts';
import { CargoProgress, readHistory, writeHistory, type CargoSnapshot } from './progress.ts';

/** Cargo's JSON messages on stdout; diagnostics come rendered as rustc prints them, without colour (for the log). */
export const MESSAGE_FORMAT = '--message-format=json';

/** The cargo arguments with MESSAGE_FORMAT, before any `--` (after it, arguments belong to rustc). */
export function withMessageFormat<T extends { args: string[] }>(cmd: T): T {
  if (cmd.args.some((a) => a.startsWith('--message-format'))) return cmd;
  const dashes = cmd.args.indexOf('--');
  const args = dashes < 0 ? [...cmd.args, MESSAGE_FORMAT] : [...cmd.args.slice(0, dashes), MESSAGE_FORMAT, ...cmd.args.slice(dashes)];
  return { ...cmd, args };
}

export interface CargoRun {
  units: number;
  fresh: number;
  compiled: number;
  warnings: number;
  /** Seconds Cargo ran, and of them the seconds it waited for another Cargo's lock. */
  seconds: number;
  waitedSeconds: number;
}

export interface CargoRunOptions {
  log: string;
  /** The cache file with the previous build of this target and profile (read, then rewritten). */
  historyFile: string;
  /** "dev build of x86_64-unknown-linux-gnu", for "no estimate: first ... here". */
  what: string;
  progress: Reporter;
  now?: () => number;
  /** How often the display is refreshed without a message from Cargo (the clock moves). */
  tickMs?: number;
}

/** The data of a --json progress event. */
export function progressData(s: CargoSnapshot): Record<string, unknown> {
  return {
    done: s.done,
    ...(s.total !== undefined ? { total: s.total } : {}),
    fresh: s.fresh,
    compiled: s.compiled,
    current: s.current,
    ...(s.waiting ? { waiting: s.waiting } : {}),
    ...(s.activity ? { activity: s.activity } : {}),
    elapsed: Math.round(s.elapsed * 10) / 10,
    ...(s.waited ? { waited: Math.round(s.waited * 10) / 10 } : {}),
    ...(s.eta !== undefined ? { eta: Math.round(s.eta) } : {}),
    estimate: s.estimate,
    ...(s.overdue ? { overdue: true } : {}),
    warnings: s.warnings,
    errors: s.errors,
  };
}

/** Show where the build is now; a change of waiting (for a lock) is a milestone, worth a plain line at once. */
export function reportTo(reader: CargoProgress, progress: Reporter): () => void {
  let waiting: string | undefined;
  return () => {
    const s = reader.snapshot();
    const milestone = s.waiting !== waiting;
    waiting = s.waiting;
    progress.update({ text: reader.text(s), data: progressData(s), milestone });
  };
}

export function runCargo(cmd: { program: string; args: string[]; cwd: string; env: Record<string, string> }, o: CargoRunOptions): Promise<CargoRun> {
  const now = o.now ?? Date.now;
  const history = readHistory(o.historyFile);
  const reader = new CargoProgress({ now, history, what: o.what });
  const show = reportTo(reader, o.progress);
  fs.mkdirSync(path.dirname(o.log), { recursive: true });
  const fd = fs.openSync(o.log, 'w');
  const log = (s: string): void => {
    if (s) fs.writeSync(fd, s);
  };
  show();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd.program, cmd.args, { cwd: cmd.cwd, env: { ...process.env, ...cmd.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const tick = setInterval(show, o.tickMs ?? 1000);
    let spawnError: Error | undefined;
    const streams = [
      new Promise<void>((done) =>
        createInterface({ input: child.stdout, crlfDelay: Infinity })
          .on('line', (l) => {
            log(reader.stdout(l));
            show();
          })
          .on('close', done),
      ),
      new Promise<void>((done) =>
        createInterface({ input: child.stderr, crlfDelay: Infinity })
          .on('line', (l) => {
            log(reader.stderr(l));
            show();
          })
          .on('close', done),
      ),
    ];
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) => {
      child.on('error', (e) => {
        spawnError = e;
        done({ code: null, signal: null });
      });
      child.on('close', (code, signal) => done({ code, signal }));
    });
    void Promise.all([exited, ...streams]).then(([{ code, signal }]) => {
      clearInterval(tick);
      const s = reader.snapshot();
      const ok = code === 0 && !spawnError;
      log(
        `\ncodex-litellm: ${ok ? 'built' : 'failed'}: ${s.done} units (${s.compiled} compiled, ${s.fresh} fresh), ${plural(s.warnings, 'warning')}, ${plural(s.errors, 'error')} in ${formatDuration(s.elapsed)}${s.waited >= 1 ? ` (${formatDuration(s.waited)} waiting for a lock)` : ''}\n`,
      );
      fs.closeSync(fd);
      try {
        const next = reader.nextHistory(ok);
        if (next) writeHistory(o.historyFile, next);
      } catch {
        // The estimate is a convenience: a cache that cannot be written must not fail the build.
      }
      if (spawnError) {
        reject(new UserError(`cannot run ${cmd.program}: ${spawnError.message}`, `Is ${cmd.program} installed and on PATH?`));
        return;
      }
      if (!ok) {
        const how = signal ?? `exit ${code}`;
        const counts = [s.errors ? plural(s.errors, 'error') : '', s.warnings ? plural(s.warnings, 'warning') : ''].filter(Boolean).join(', ');
        let why = reader.errorReport();
        if (!why) why = `last lines of ${o.log}:\n${fs.readFileSync(o.log, 'utf8').trimEnd().split('\n').slice(-30).join('\n')}`;
        reject(new UserError(`${cmd.program} ${cmd.args[0]} failed (${how})${counts ? `: ${counts}` : ''}\n${why}`, `The whole log is ${o.log}.`, 2));
        return;
      }
      resolve({ units: s.done, fresh: s.fresh, compiled: s.compiled, warnings: s.warnings, seconds: s.elapsed, waitedSeconds: s.waited });
    });
  });
}
