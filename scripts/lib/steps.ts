/**
 * Steps and how they are shown: listr2 with timings on a terminal, plain lines under CI or when
 * piped, nothing with --json (the caller prints one JSON document instead).
 */

export interface Step {
  title: string;
  /** What a dry run prints: commands and paths, one per line. */
  plan: string[];
  /** Returns a short outcome for the step's line, if any. */
  run: () => unknown | Promise<unknown>;
}

export type OutputMode = 'tty' | 'plain' | 'json';

export function outputMode(json: boolean): OutputMode {
  if (json) return 'json';
  return process.stdout.isTTY && !process.env.CI ? 'tty' : 'plain';
}

export function printPlan(steps: Step[], header: string, write: (s: string) => void = (s) => process.stdout.write(s)): void {
  write(`${header}\n`);
  steps.forEach((st, i) => {
    write(`\n${i + 1}. ${st.title}\n`);
    for (const line of st.plan) write(`   ${line}\n`);
  });
  write('\nDry run: nothing was changed.\n');
}

export async function runSteps(steps: Step[], mode: OutputMode): Promise<void> {
  const { Listr, PRESET_TIMER } = await import('listr2');
  const list = new Listr(
    steps.map((st) => ({
      title: st.title,
      task: async (_ctx: unknown, task: { output: string; title: string }) => {
        const outcome = await st.run();
        if (typeof outcome === 'string' && outcome) task.title = `${st.title}: ${outcome}`;
      },
    })),
    {
      concurrent: false,
      exitOnError: true,
      renderer: mode === 'tty' ? 'default' : mode === 'plain' ? 'simple' : 'silent',
      rendererOptions: { timer: PRESET_TIMER },
      fallbackRendererOptions: { timer: PRESET_TIMER },
    } as ConstructorParameters<typeof import('listr2').Listr>[1],
  );
  await list.run();
}
