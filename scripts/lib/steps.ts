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
