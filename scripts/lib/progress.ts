/**
 * Progress of the long steps (Cargo, the upstream fetch, pip, compression), shown the way the
 * output mode wants it:
 *
 *   tty    a live line that is redrawn in place (listr2's output line under the task, or `\r` on a stream)
 *   plain  (not a terminal, or CI) plain lines, never a redraw: the first update, every change of state
 *          (a "milestone", such as waiting for a lock), and otherwise one line every 30 s
 *   json   (--json) one JSON object per line on stderr, so stdout keeps the one result document
 *
 * A step only says what it knows (`update`); how often that reaches the screen or the stream is
 * decided here, from an injected clock, so tests replay recorded streams without timing.
 */

export type OutputMode = 'tty' | 'plain' | 'json';

/** --json, else a terminal (and not CI) gets the live display, everything else plain lines. */
export function outputMode(json: boolean, stream: { isTTY?: boolean } = process.stdout, env: NodeJS.ProcessEnv = process.env): OutputMode {
  if (json) return 'json';
  return stream.isTTY && !env.CI ? 'tty' : 'plain';
}

export interface ProgressUpdate {
  /** One line for people. */
  text: string;
  /** The machine-readable fields of the --json event. */
  data?: Record<string, unknown>;
  /** A change of state worth a plain line (and a JSON event) now rather than at the next interval. */
  milestone?: boolean;
}

export interface Reporter {
  update(u: ProgressUpdate): void;
}

export const silentReporter: Reporter = { update: () => {} };

export interface ReporterOptions {
  mode: OutputMode;
  /** What plain lines start with: the step's title. */
  title: string;
  /** Added to every JSON event (stage, target). */
  fields?: Record<string, unknown>;
  /** tty: shows the live line (listr2's task.output, or a redraw). */
  show?: (text: string) => void;
  /** plain: stdout; json: stderr. */
  write?: (s: string) => void;
  now?: () => number;
  /** Plain lines between milestones: one per this many ms (default 30 s). */
  plainEveryMs?: number;
  /** JSON events between milestones: at most one per this many ms (default 1 s). */
  jsonEveryMs?: number;
}

export const PLAIN_EVERY_MS = 30_000;

export function makeReporter(o: ReporterOptions): Reporter {
  const now = o.now ?? Date.now;
  if (o.mode === 'tty') {
    let last = '';
    const show = o.show ?? (() => {});
    return {
      update: (u) => {
        if (u.text !== last) show(u.text);
        last = u.text;
      },
    };
  }
  const every = o.mode === 'plain' ? (o.plainEveryMs ?? PLAIN_EVERY_MS) : (o.jsonEveryMs ?? 1000);
  const write = o.write ?? ((s: string) => void (o.mode === 'plain' ? process.stdout : process.stderr).write(s));
  let lastAt: number | undefined;
  let lastText = '';
  return {
    update: (u) => {
      const t = now();
      const due = lastAt === undefined || u.milestone || t - lastAt >= every;
      // A plain line that says what the last one said is noise; a JSON event may repeat (its clock moved).
      if (!due || (o.mode === 'plain' && u.text === lastText)) return;
      lastAt = t;
      lastText = u.text;
      if (o.mode === 'plain') write(`  › ${o.title}: ${u.text}\n`);
      else write(`${JSON.stringify({ event: 'progress', ...o.fields, text: u.text, ...u.data })}\n`);
    },
  };
}

/**
 * A reporter for commands without listr2 (package, the e2e's LiteLLM set-up): on a terminal a
 * line redrawn in place on stderr, cleared by `done()`; otherwise plain lines or JSON events on
 * stderr, as makeReporter does.
 */
export function lineReporter(
  mode: OutputMode,
  title: string,
  opts: { fields?: Record<string, unknown>; stream?: NodeJS.WritableStream; now?: () => number } = {},
): Reporter & { done(): void } {
  const stream = opts.stream ?? process.stderr;
  let drawn = false;
  const r = makeReporter({
    mode,
    title,
    fields: opts.fields,
    now: opts.now,
    write: (s) => void stream.write(s),
    show: (text) => {
      stream.write(`\r\x1b[K${title}: ${text}`);
      drawn = true;
    },
  });
  return {
    update: (u) => r.update(u),
    done: () => {
      if (drawn) stream.write('\r\x1b[K');
      drawn = false;
    },
  };
}

/** 42s, 3m05s, 1h02m. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** 512 B, 12.3 KiB, 182.4 MiB. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 * 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024 / 1024 / 1024).toFixed(2)} GiB`;
}

/** "1 warning", "3 warnings". */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}
