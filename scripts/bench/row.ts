/** What a bench section returns, and the statistic every section uses (its own module, so run.ts imports the sections and never the reverse). */
export interface BenchRow {
  name: string;
  value: string;
  goal?: string;
  met?: boolean;
}

export type Bench = () => Promise<BenchRow[] | string>;

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
