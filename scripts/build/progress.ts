/**
 * Where a Cargo build is, from Cargo's machine-readable messages (`--message-format=json`), and
 * how long it has left, from the previous build of the same target and profile.
 *
 * Counting. A unit is what Cargo's own progress bar counts: one compilation (a library, a binary,
 * a build script) or one run of a build script. Cargo reports every unit of the graph when it is
 * done, `compiler-artifact` for a compilation and `build-script-executed` for a run, including the
 * units it did not have to rebuild (`"fresh": true`). Those count too: the total is the size of the
 * whole graph, and fresh units are part of it, so "done of total" moves from 0 to the total on a
 * clean build and on a one-file rebuild alike (where the fresh units arrive in the first second).
 *
 * The total. Cargo does not say how many units there will be: `--unit-graph` would, but it needs
 * a nightly Cargo (`-Z unstable-options`), and `--build-plan` is gone. The graph of a target and
 * profile rarely changes between builds, so the total is the count of the previous build of that
 * target and profile, kept in the cache; a first build shows the count without a total. When this
 * build outgrows the old total, the total follows.
 *
 * The estimate. For each unit the cache keeps the wall time that ended with it, the last time it
 * was really compiled: the time from the unit done just before it to this one. Those slices add up
 * to the build's wall time, whatever the parallelism, so the time left is the sum of the slices of
 * the units not done yet, less the time since the last one finished. A fresh unit leaves its slice
 * as it was (a fresh unit costs nothing now and says nothing about a real compile), so after a
 * one-file change the estimate is what that crate and the binary took last time.
 *
 * The crate being compiled now is the one thing the JSON does not say (it reports units when they
 * end), so it comes from Cargo's "Compiling <name> v<version>" status lines on stderr, which it
 * prints when a package's first unit starts; "Blocking waiting for file lock" comes from there too.
 */
import * as fs from 'node:fs';
import { writeFileAtomic } from '../lib/fs.ts';
import { formatDuration, plural } from '../lib/progress.ts';

/** The fields of Cargo's JSON messages that we read. */
interface CargoMessage {
  reason?: string;
  package_id?: string;
  target?: { kind?: string[]; name?: string };
  fresh?: boolean;
  message?: { level?: string; message?: string; rendered?: string | null };
  success?: boolean;
}

/** What the cache keeps of the previous build of one target and profile. */
export interface History {
  version: 1;
  /** Units of the graph last time, fresh ones included: the total to count towards. */
  total: number;
  /** Seconds that build took (its time waiting for a lock not included). */
  seconds: number;
  /** Per unit: milliseconds of wall time that ended with it, the last time it was compiled. */
  units: Record<string, number>;
  /** When it was recorded (ISO time). */
  at: string;
}

export function readHistory(file: string): History | undefined {
  try {
    const h = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<History>;
    if (h.version !== 1 || typeof h.total !== 'number' || typeof h.seconds !== 'number' || typeof h.units !== 'object' || !h.units) return undefined;
    return h as History;
  } catch {
    return undefined;
  }
}

export function writeHistory(file: string, h: History): void {
  writeFileAtomic(file, `${JSON.stringify(h)}\n`);
}

/**
 * name and version of a package id, in both of Cargo's spellings:
 * `registry+https://github.com/rust-lang/crates.io-index#serde@1.0.200`, `path+file:///src/app#0.1.0`
 * (the name is the directory's when they agree) and the older `serde 1.0.200 (registry+...)`.
 */
export function packageOf(id: string): { name: string; version: string } {
  const old = /^(\S+) (\S+) \(/.exec(id);
  if (old) return { name: old[1]!, version: old[2]! };
  const hash = id.lastIndexOf('#');
  if (hash < 0) return { name: id, version: '' };
  const frag = id.slice(hash + 1);
  const at = frag.lastIndexOf('@');
  if (at >= 0) return { name: frag.slice(0, at), version: frag.slice(at + 1) };
  const url = id
    .slice(0, hash)
    .replace(/[?].*$/, '')
    .replace(/\/+$/, '');
  return { name: url.slice(url.lastIndexOf('/') + 1), version: frag };
}

export interface CargoSnapshot {
  /** Units done (compiled or fresh) of `total`. */
  done: number;
  fresh: number;
  compiled: number;
  /** From the previous build of this target and profile; undefined on a first build. */
  total?: number;
  /** Packages being compiled now. */
  current: string[];
  /** What Cargo does when it compiles nothing (downloading crates, waiting for a lock). */
  activity?: string;
  /** Waiting for another Cargo's lock on this (e.g. "build directory"). */
  waiting?: string;
  /** Seconds since Cargo started, and of them the seconds spent waiting for locks. */
  elapsed: number;
  waited: number;
  /** Seconds left, from the previous build; undefined when there is none to learn from. */
  eta?: number;
  estimate: 'previous build' | 'none';
  /** The units left took less than the time since the last one finished, last time: this build is slower. */
  overdue?: boolean;
  warnings: number;
  errors: number;
  finished: boolean;
  success?: boolean;
}

const STATUS = /^\s*(Compiling|Blocking|Updating|Downloading|Downloaded|Locking|Adding|Fresh|Finished|Running)\s+(.*)$/;

export class CargoProgress {
  private readonly start: number;
  private readonly history?: History;
  private readonly seen = new Map<string, number>();
  /** Milliseconds per unit compiled in this build. */
  private readonly slices: Record<string, number> = {};
  private lastDone: number;
  private waitingSince?: number;
  private waitingOn?: string;
  private waitedMs = 0;
  private activity?: string;
  /** Packages with a "Compiling" line: those with a unit to compile, and of those the ones not done. */
  private readonly dirty = new Set<string>();
  private readonly current: string[] = [];
  /** Units of each package in the previous build, to know when a package is done. */
  private readonly expectedPerPackage = new Map<string, number>();
  private readonly donePerPackage = new Map<string, number>();
  private done = 0;
  private fresh = 0;
  private warnings = 0;
  private errors = 0;
  private readonly diagnostics: string[] = [];
  private readonly cargoErrors: string[] = [];
  private finishedAt?: number;
  private success?: boolean;

  constructor(private readonly opts: { now: () => number; history?: History /** "dev build of x86_64-unknown-linux-gnu" */; what: string }) {
    this.start = opts.now();
    this.lastDone = this.start;
    this.history = opts.history;
    for (const key of Object.keys(opts.history?.units ?? {})) {
      const pkg = key.slice(0, key.indexOf(' '));
      this.expectedPerPackage.set(pkg, (this.expectedPerPackage.get(pkg) ?? 0) + 1);
    }
  }

  /** A line of Cargo's stdout. Returns what the log keeps of it: rendered diagnostics, anything that is not JSON. */
  stdout(line: string): string {
    this.resume();
    let m: CargoMessage;
    try {
      m = JSON.parse(line) as CargoMessage;
    } catch {
      return line ? `${line}\n` : '';
    }
    if (typeof m !== 'object' || m === null || typeof m.reason !== 'string') return `${line}\n`;
    switch (m.reason) {
      case 'compiler-artifact':
        this.unitDone(m, `${(m.target?.kind ?? []).join(',')}:${m.target?.name ?? ''}`, m.fresh === true);
        return '';
      case 'build-script-executed': {
        // This message has no "fresh": a run is fresh unless its package showed a "Compiling" line before it.
        const pkg = m.package_id ? packageOf(m.package_id) : undefined;
        this.unitDone(m, 'run-build-script', !(pkg && this.dirty.has(`${pkg.name}@${pkg.version}`)));
        return '';
      }
      case 'compiler-message': {
        const level = m.message?.level ?? '';
        const text = m.message?.rendered ?? m.message?.message ?? '';
        if (level === 'warning') this.warnings += 1;
        else if (level.startsWith('error')) this.errors += 1;
        if (level.startsWith('error') || level === 'failure-note') this.diagnostics.push(text.trimEnd());
        return text ? (text.endsWith('\n') ? text : `${text}\n`) : '';
      }
      case 'build-finished':
        this.finishedAt = this.opts.now();
        this.success = m.success === true;
        return '';
      default:
        return '';
    }
  }

  /** A line of Cargo's stderr (its status lines and its own errors). Returns it for the log. */
  stderr(line: string): string {
    const s = STATUS.exec(line);
    if (s?.[1] === 'Blocking') {
      // "Blocking waiting for file lock on build directory": another Cargo holds it.
      this.waitingSince ??= this.opts.now();
      this.waitingOn = /file lock on (.+)$/.exec(s[2]!)?.[1] ?? 'a file lock';
      return `${line}\n`;
    }
    this.resume();
    if (s?.[1] === 'Compiling') {
      const [name, version] = s[2]!.split(' ');
      const pkg = `${name}@${(version ?? '').replace(/^v/, '')}`;
      this.dirty.add(pkg);
      if (!this.current.includes(pkg)) this.current.push(pkg);
      this.activity = undefined;
    } else if (s && /^(Updating|Downloading|Downloaded|Locking|Adding)$/.test(s[1]!)) {
      this.activity = s[1] === 'Updating' ? `updating ${s[2]!.split(' ')[0]}` : 'downloading crates';
    }
    if (/^error(\[|:)/.test(line) || this.cargoErrors.length > 0) this.cargoErrors.push(line);
    return `${line}\n`;
  }

  /** Any sign of life after "Blocking" means the lock was had: the wait is not charged to the first unit. */
  private resume(): void {
    if (this.waitingSince === undefined) return;
    const t = this.opts.now();
    this.waitedMs += t - this.waitingSince;
    this.lastDone = Math.max(this.lastDone, t);
    this.waitingSince = undefined;
    this.waitingOn = undefined;
  }

  private unitDone(m: CargoMessage, what: string, fresh: boolean): void {
    const t = this.opts.now();
    const { name, version } = packageOf(m.package_id ?? '?');
    const pkg = `${name}@${version}`;
    // A package built twice (for the host and for the target) has two units of the same name.
    const base = `${pkg} ${what}`;
    const n = (this.seen.get(base) ?? 0) + 1;
    this.seen.set(base, n);
    const key = n === 1 ? base : `${base} #${n}`;
    this.done += 1;
    this.activity = undefined;
    if (fresh) this.fresh += 1;
    else this.slices[key] = t - this.lastDone;
    this.lastDone = t;
    const doneHere = (this.donePerPackage.get(pkg) ?? 0) + 1;
    this.donePerPackage.set(pkg, doneHere);
    // A package is no longer "being compiled" when its last unit is done: as many as last time, or
    // (first build) its library or binary, which come after its build script.
    const expected = this.expectedPerPackage.get(pkg);
    const last = expected !== undefined ? doneHere >= expected : what !== 'custom-build:build-script-build' && what !== 'run-build-script';
    const i = this.current.indexOf(pkg);
    if (last && i >= 0) this.current.splice(i, 1);
  }

  /** Units of the previous build not seen yet, with their slices. */
  private remainingMs(): number {
    let ms = 0;
    const seenKeys = new Set<string>();
    for (const [base, n] of this.seen) for (let i = 1; i <= n; i += 1) seenKeys.add(i === 1 ? base : `${base} #${i}`);
    for (const [key, slice] of Object.entries(this.history?.units ?? {})) if (!seenKeys.has(key)) ms += slice;
    return ms;
  }

  snapshot(): CargoSnapshot {
    const t = this.finishedAt ?? this.opts.now();
    const finished = this.finishedAt !== undefined;
    const waited = (this.waitedMs + (this.waitingSince !== undefined ? t - this.waitingSince : 0)) / 1000;
    const total = finished ? this.done : this.history ? Math.max(this.history.total, this.done + this.current.length) : undefined;
    let eta: number | undefined;
    let overdue = false;
    if (finished) eta = 0;
    else if (this.history) {
      const sinceLast = Math.max(0, this.waitingSince !== undefined ? this.waitingSince - this.lastDone : t - this.lastDone);
      const remaining = this.remainingMs();
      eta = Math.max(0, remaining - sinceLast) / 1000;
      overdue = sinceLast > remaining;
    }
    return {
      done: this.done,
      fresh: this.fresh,
      compiled: this.done - this.fresh,
      ...(total !== undefined ? { total } : {}),
      current: this.current.map((p) => p.slice(0, p.lastIndexOf('@'))),
      ...(this.activity ? { activity: this.activity } : {}),
      ...(this.waitingSince !== undefined ? { waiting: this.waitingOn ?? 'a file lock' } : {}),
      elapsed: (t - this.start) / 1000,
      waited,
      ...(eta !== undefined ? { eta } : {}),
      estimate: this.history ? 'previous build' : 'none',
      ...(overdue ? { overdue } : {}),
      warnings: this.warnings,
      errors: this.errors,
      finished,
      ...(this.success !== undefined ? { success: this.success } : {}),
    };
  }

  /** The live line: "312/713 units (12 fresh) · codex-core · 2m10s, about 3m05s left · 2 warnings". */
  text(s: CargoSnapshot = this.snapshot()): string {
    const parts: string[] = [];
    const units = s.total !== undefined ? `${s.done}/${s.total} units` : plural(s.done, 'unit');
    if (s.waiting) {
      parts.push(`waiting for another Cargo to release the file lock on ${s.waiting} (${formatDuration(s.waited)})`);
      if (s.done) parts.push(units);
    } else {
      parts.push(`${units}${s.fresh ? ` (${s.fresh} fresh)` : ''}`);
      if (s.current.length) parts.push(s.current.length > 3 ? `${s.current.slice(0, 3).join(', ')} +${s.current.length - 3}` : s.current.join(', '));
      else if (s.activity) parts.push(s.activity);
    }
    // While it waits, the wait is the news: the time and the estimate come back when Cargo goes on.
    if (!s.waiting) {
      let time = formatDuration(s.elapsed);
      if (s.eta !== undefined && !s.finished)
        time += s.eta >= 1 ? `, about ${formatDuration(s.eta)} left` : s.overdue ? ', longer than last time' : ', almost done';
      else if (s.estimate === 'none' && !s.finished) time += ` (no estimate: first ${this.opts.what} here)`;
      parts.push(time);
    }
    if (s.warnings) parts.push(plural(s.warnings, 'warning'));
    if (s.errors) parts.push(plural(s.errors, 'error'));
    return parts.join(' · ');
  }

  /**
   * Why the build failed, in full: every error the compiler rendered (with its notes), then
   * Cargo's own error lines (a build script that failed, a missing system library, the linker).
   */
  errorReport(maxLines = 400): string {
    const text = [...this.diagnostics, this.cargoErrors.join('\n').trimEnd()].filter(Boolean).join('\n\n');
    const lines = text.split('\n');
    if (lines.length <= maxLines) return text;
    return [...lines.slice(0, maxLines), `... ${lines.length - maxLines} more line(s) in the log`].join('\n');
  }

  /**
   * What the cache keeps for the next build: this build's slices over the older ones (fresh units
   * keep theirs). After a failure the total and time stay those of the last complete build, and
   * a failed first build leaves nothing (a part of the graph would make a wrong total).
   */
  nextHistory(succeeded: boolean): History | undefined {
    const units = { ...this.history?.units, ...this.slices };
    if (!succeeded) return this.history ? { ...this.history, units } : undefined;
    const s = this.snapshot();
    return { version: 1, total: s.done, seconds: Math.max(0, s.elapsed - s.waited), units, at: new Date().toISOString() };
  }
}
