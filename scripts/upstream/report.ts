/** Plain-text renderings of the tracking results (the JSON output is the objects themselves). */
import type { ScratchResult } from './scratch.ts';
import type { CheckResult, DriftResult } from './track.ts';

const WORD: Record<ScratchResult['outcome'], string> = { clean: 'clean', merge: 'merge', conflict: 'conflict' };

export function renderCheck(r: CheckResult): string {
  const lines: string[] = [];
  if (r.newer.length === 0) lines.push(`up to date: no upstream release is newer than ${r.pinned} (listed via ${r.via})`);
  else {
    lines.push(`${r.newer.length} upstream release(s) newer than ${r.pinned} (listed via ${r.via}):`);
    for (const t of r.newer) lines.push(`  ${t.name}${t.prerelease ? '  (prerelease)' : ''}${t.commit ? `  ${t.commit.slice(0, 12)}` : ''}`);
    lines.push(`latest: ${r.latest}. Next: npx tsx build.ts upstream try ${r.latest} (or upstream drift for all of them)`);
  }
  if (r.note) lines.push(`note: ${r.note}`);
  return lines.join('\n');
}

export function renderTry(tag: string, r: ScratchResult): string {
  const count = (o: ScratchResult['outcome']): number => r.patches.filter((p) => p.outcome === o).length;
  const lines = [
    `${tag} (${r.commit.slice(0, 12)}): ${r.patches.length} patch(es): ${count('clean')} clean, ${count('merge')} applied with merge, ${count('conflict')} conflict`,
  ];
  for (const p of r.patches) {
    const label = p.outcome === 'clean' ? 'clean   ' : p.outcome === 'merge' ? 'merge   ' : 'CONFLICT';
    lines.push(`  ${label}  ${p.name}`);
    for (const i of p.issues) {
      const what =
        i.kind === 'merged'
          ? 'merged 3-way'
          : i.kind === 'conflict'
            ? `${i.regions ?? 1} conflict region(s)`
            : i.kind === 'missing'
              ? 'file no longer exists upstream'
              : i.kind === 'exists'
                ? 'file already exists upstream'
                : `cannot merge: ${i.detail ?? ''}`;
      lines.push(`              ${i.file}: ${what}${i.hunks.length ? `; ${i.hunks.join(', ')}` : ''}`);
    }
  }
  return lines.join('\n');
}

export function renderDrift(d: DriftResult): string {
  const num = (name: string): string => `#${d.series.indexOf(name) + 1}`;
  const rows = d.rows.map((r) => [
    r.tag,
    r.commit.slice(0, 12),
    WORD[r.outcome],
    `${r.failing}/${r.patches}`,
    String(r.merged),
    r.conflicts.map(num).join(' ') || '-',
  ]);
  const head = ['tag', 'commit', 'result', 'failing', 'merged', 'in conflict'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (cols: string[]): string =>
    cols
      .map((c, i) => (i === cols.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  const perTag = d.rows.length ? d.totalMs / d.rows.length : 0;
  return [
    `Drift of our series (pinned ${d.pinned}) over ${d.rows.length} upstream release(s), ${d.from} .. ${d.to}:`,
    '',
    fmt(head),
    fmt(widths.map((w) => '-'.repeat(w))),
    ...rows.map(fmt),
    '',
    'patches:',
    ...d.series.map((n, i) => `  #${i + 1} ${n}`),
    '',
    ...(d.brokenOnBase.length
      ? [
          `warning: ${d.brokenOnBase.join(', ')} ${d.brokenOnBase.length === 1 ? 'does' : 'do'} not apply to the pinned ${d.pinned} itself; \`patches check\` says why`,
          '',
        ]
      : []),
    `${(d.totalMs / 1000).toFixed(2)} s (${perTag.toFixed(0)} ms per tag; fetched ${d.stats.tagsFetched} tag(s) in ${d.stats.tagFetches} fetch(es), ${d.stats.blobsFetched} file(s) in ${d.stats.blobFetches} fetch(es))`,
  ].join('\n');
}
