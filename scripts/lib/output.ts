/**
 * What a command hands back to cli.ts, and the one place that prints it: a text report, or with
 * --json one JSON document on stdout for machines. `raw` output (the CI matrix) is the same in both.
 */
export type Output = { doc: unknown; text: string; code?: number } | { raw: string; code?: number };

export function printResult(json: boolean, r: Output, write: (s: string) => void = (s) => process.stdout.write(s)): number {
  if ('raw' in r) write(r.raw);
  else if (json) write(`${JSON.stringify(r.doc, null, 2)}\n`);
  else write(r.text.endsWith('\n') ? r.text : `${r.text}\n`);
  return r.code ?? 0;
}
