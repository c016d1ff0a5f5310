/**
 * Steps and how they are shown: listr2 with timings and a live progress line on a terminal;
 * one plain line per step (and the long steps' progress lines, see progress.ts) under CI or when
 * piped; with --json nothing on stdout (the caller prints one JSON document) and one JSON event
 * per line on stderr: each step's start and end, and the long steps' progress.
 */
import { formatDuration, makeReporter, type OutputMode, type Reporter } from './progress.ts';

export { outputMode, type OutputMode } from './progress.ts';

export interface Step {
  title: string;
  /** A stable name for --json events and the summary ('upstream', 'cargo', ...). */
  stage?: string;
  /** The target the step works for, when it works for one. */
  target?: string;
  /** What a dry run prints: commands and paths, one per line. */
  plan: string[];
  /** Returns a short outcome for the step's line, if any; long steps tell `progress` where they are. */
  run: (progress: Reporter) => unknown | Promise<unknown>;
}

/** How a step went: what the summary shows per target. */
export interface StepRecord {
  title: string;
  stage?: string;
  target?: string;
  seconds: number;
  outcome?: string;
}

/** What a dry run prints: the header, then each step's title and plan lines. */
export function renderPlan(steps: Step[], header: string): string {
  const parts = [`${header}\n`];
  steps.forEach((st, i) => {
    parts.push(`\n${i + 1}. ${st.title}\n`);
    for (const line of st.plan) parts.push(`   ${line}\n`);
  });
  parts.push('\nDry run: nothing was changed.\n');
  return parts.join('');
}

export interface StepIO {
  /** plain lines (default stdout). */
  out?: (s: string) => void;
  /** JSON events (default stderr). */
  err?: (s: string) => void;
  now?: () => number;
}

const outcomeOf = (v: unknown): string | undefined => (typeof v === 'string' && v ? v : undefined);

export async function runSteps(steps: Step[], mode: OutputMode, io: StepIO = {}): Promise<StepRecord[]> {
  if (mode === 'tty') return runListr(steps);
  const now = io.now ?? Date.now;
  const out = io.out ?? ((s: string) => void process.stdout.write(s));
  const err = io.err ?? ((s: string) => void process.stderr.write(s));
  const event = (o: Record<string, unknown>): void => err(`${JSON.stringify({ event: 'stage', ...o })}\n`);
  const records: StepRecord[] = [];
  for (const st of steps) {
    const ids = { ...(st.target ? { target: st.target } : {}), ...(st.stage ? { stage: st.stage } : {}) };
    const progress = makeReporter({ mode, title: st.title, fields: ids, write: mode === 'plain' ? out : err, now });
    const t0 = now();
    if (mode === 'json') event({ ...ids, title: st.title, status: 'started' });
    let outcome: string | undefined;
    try {
      outcome = outcomeOf(await st.run(progress));
    } catch (e) {
      const seconds = (now() - t0) / 1000;
      if (mode === 'plain') out(`✖ ${st.title} [${formatDuration(seconds)}]\n`);
      else event({ ...ids, title: st.title, status: 'failed', seconds, error: (e as Error).message });
      throw e;
    }
    const seconds = (now() - t0) / 1000;
    records.push({ title: st.title, ...ids, seconds, ...(outcome ? { outcome } : {}) });
    if (mode === 'plain') out(`✔ ${st.title}${outcome ? `: ${outcome}` : ''} [${formatDuration(seconds)}]\n`);
    else event({ ...ids, title: st.title, status: 'done', seconds, ...(outcome ? { outcome } : {}) });
  }
  return records;
}

/** A terminal: listr2's default renderer, the long steps' progress as the live line under the task. */
async function runListr(steps: Step[]): Promise<StepRecord[]> {
  const { Listr, PRESET_TIMER } = await import('listr2');
  const records: StepRecord[] = [];
  const list = new Listr(
    steps.map((st) => ({
      title: st.title,
      task: async (_ctx: unknown, task: { output: string; title: string }) => {
        const t0 = Date.now();
        const progress = makeReporter({ mode: 'tty', title: st.title, show: (text) => (task.output = text) });
        const outcome = outcomeOf(await st.run(progress));
        if (outcome) task.title = `${st.title}: ${outcome}`;
        records.push({
          title: st.title,
          ...(st.target ? { target: st.target } : {}),
          ...(st.stage ? { stage: st.stage } : {}),
          seconds: (Date.now() - t0) / 1000,
          ...(outcome ? { outcome } : {}),
        });
      },
    })),
    {
      concurrent: false,
      exitOnError: true,
      renderer: 'default',
      // A failed task keeps its title (the CLI prints the error once, in full); a long live line is cut, not wrapped.
      rendererOptions: { timer: PRESET_TIMER, showErrorMessage: false, formatOutput: 'truncate' },
    } as ConstructorParameters<typeof import('listr2').Listr>[1],
  );
  await list.run();
  return records;
}
