/**
 * `npm run bench`: speed and size goals as ratios measured in one run, never as timed
 * assertions. Each section says what it compares and against what. Sections that need something
 * this machine lacks (an upstream mirror, a built binary) say so and are skipped.
 *
 *   npm run bench                 all sections
 *   npm run bench -- orchestrator only that section (names below)
 */
import { litellmBench } from './litellm.ts';
import { orchestratorBench } from './orchestrator.ts';
import { packageBench } from './package.ts';
import { driftBench } from './drift.ts';
import { stockBench } from './stock.ts';
import type { Bench } from './row.ts';

const SECTIONS: Record<string, Bench> = {
  orchestrator: orchestratorBench,
  litellm: litellmBench,
  package: packageBench,
  drift: driftBench,
  stock: stockBench,
};

async function main(): Promise<void> {
  const only = process.argv.slice(2);
  const unknown = only.filter((n) => !(n in SECTIONS));
  if (unknown.length) {
    console.error(`unknown bench section(s): ${unknown.join(', ')}; known: ${Object.keys(SECTIONS).join(', ')}`);
    process.exit(2);
  }
  for (const [name, bench] of Object.entries(SECTIONS)) {
    if (only.length && !only.includes(name)) continue;
    console.log(`\n== ${name}`);
    const rows = await bench();
    if (typeof rows === 'string') {
      console.log(`  skipped: ${rows}`);
      continue;
    }
    for (const r of rows) {
      const verdict = r.met === undefined ? '' : r.met ? '  [goal met]' : '  [goal NOT met]';
      console.log(`  ${r.name.padEnd(52)} ${r.value}${r.goal ? `  (goal: ${r.goal})` : ''}${verdict}`);
    }
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
