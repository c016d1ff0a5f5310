/**
 * The daily upstream report (.github/workflows/upstream.yml): from the JSON of `upstream check`
 * and `upstream drift`, a Markdown summary for the run page and, when upstream has a release newer
 * than the pin, one open issue per such release (created once, its body refreshed on later runs),
 * so a maintainer learns within a day what came out and how far our series is from it.
 *
 *   node --import tsx scripts/upstream/notify.ts --check check.json --drift drift.json [--dry-run]
 *
 * Environment: GITHUB_TOKEN (issues: write), GITHUB_REPOSITORY, GITHUB_STEP_SUMMARY (optional).
 */
import * as fs from 'node:fs';
import { parseArgs } from 'node:util';
import type { Octokit } from 'octokit';
import { describeError, UserError } from '../lib/errors.ts';
import { makeOctokit } from '../release/github.ts';
import type { CheckResult, DriftResult } from './track.ts';

export const LABEL = 'upstream-release';

export function issueTitle(tag: string): string {
  return `Upstream ${tag} is out`;
}

export function markdownReport(check: CheckResult, drift: DriftResult | undefined): string {
  const lines: string[] = [];
  if (check.newer.length === 0) lines.push(`**Up to date**: no upstream release is newer than the pinned \`${check.pinned}\`.`);
  else lines.push(`**${check.newer.length} upstream release(s) newer than the pinned \`${check.pinned}\`**; the latest is \`${check.latest}\`.`);
  if (drift && drift.rows.length > 0) {
    lines.push(
      '',
      `How our series (${drift.series.length} patches) applies to each release:`,
      '',
      '| tag | result | patches failing | merged | in conflict |',
      '| --- | --- | --- | --- | --- |',
    );
    for (const r of drift.rows) {
      lines.push(`| \`${r.tag}\` | ${r.outcome} | ${r.failing}/${r.patches} | ${r.merged} | ${r.conflicts.map((c) => `\`${c}\``).join(', ') || '-'} |`);
    }
  }
  if (check.newer.length > 0) {
    lines.push(
      '',
      'Next steps for a maintainer:',
      '',
      '```sh',
      `npx tsx build.ts upstream try ${check.latest}     # per patch: clean / merge / conflict, files and hunks`,
      `npx tsx build.ts upstream bump ${check.latest}    # re-pin and re-export, or a worktree to resolve`,
      '```',
    );
  }
  if (check.note) lines.push('', `_${check.note}_`);
  return `${lines.join('\n')}\n`;
}

export interface NotifyOutcome {
  action: 'none' | 'created' | 'updated';
  title?: string;
  number?: number;
}

/** Open (or refresh) the issue for the latest newer release; nothing when up to date. */
export async function notify(octokit: Octokit, owner: string, repo: string, check: CheckResult, body: string): Promise<NotifyOutcome> {
  if (!check.latest) return { action: 'none' };
  const title = issueTitle(check.latest);
  const open = await octokit.paginate(octokit.rest.issues.listForRepo, { owner, repo, state: 'open', labels: LABEL, per_page: 100 });
  const same = open.find((i) => i.title === title && !i.pull_request);
  if (same) {
    if (same.body !== body) await octokit.rest.issues.update({ owner, repo, issue_number: same.number, body });
    return { action: 'updated', title, number: same.number };
  }
  const created = await octokit.rest.issues.create({ owner, repo, title, body, labels: [LABEL] });
  return { action: 'created', title, number: created.data.number };
}

export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  try {
    const { values: v } = parseArgs({
      args: argv,
      options: { check: { type: 'string' }, drift: { type: 'string' }, 'dry-run': { type: 'boolean', default: false } },
    });
    if (!v.check) throw new UserError('--check <check.json> is required');
    const check = JSON.parse(fs.readFileSync(v.check, 'utf8')) as CheckResult;
    const drift =
      v.drift && fs.existsSync(v.drift) && fs.statSync(v.drift).size > 0 ? (JSON.parse(fs.readFileSync(v.drift, 'utf8')) as DriftResult) : undefined;
    const body = markdownReport(check, drift);
    if (env.GITHUB_STEP_SUMMARY) fs.appendFileSync(env.GITHUB_STEP_SUMMARY, body);
    process.stdout.write(body);
    if (v['dry-run'] || !check.latest) return 0;
    const [owner, repo] = (env.GITHUB_REPOSITORY ?? '').split('/');
    if (!owner || !repo || !env.GITHUB_TOKEN) throw new UserError('GITHUB_REPOSITORY and GITHUB_TOKEN are needed to open the issue', 'Or pass --dry-run.');
    const r = await notify(await makeOctokit({ token: env.GITHUB_TOKEN, baseUrl: env.GITHUB_API_URL }), owner, repo, check, body);
    process.stdout.write(`issue: ${r.action} ${r.title ?? ''}${r.number ? ` (#${r.number})` : ''}\n`);
    return 0;
  } catch (e) {
    const d = describeError(e);
    process.stderr.write(`error: ${d.message}\n${d.hint ? `  hint: ${d.hint}\n` : ''}`);
    return e instanceof UserError ? e.exitCode : 1;
  }
}

if (import.meta.url === `file://${process.argv[1]}`) process.exitCode = await main(process.argv.slice(2));
