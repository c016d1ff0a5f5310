/**
 * The daily upstream check's bump pull request (.github/workflows/upstream.yml). When upstream has
 * a release newer than the pin and `upstream drift` says our series applies to it clean or with
 * merges only, the workflow re-pins with `upstream bump`, builds, runs the end-to-end check, and
 * only when all of that passed runs `open`: the bumped upstream.lock and patches/ are committed on
 * the branch upstream/<tag>, pushed, and a pull request is opened (or, on a later day, refreshed).
 * A tag in conflict gets no pull request: the issue from notify.ts says what to resolve.
 *
 *   node --import tsx scripts/upstream/pr.ts candidate --check check.json --drift drift.json   prints tag=<tag> (empty: none), for $GITHUB_OUTPUT
 *   node --import tsx scripts/upstream/pr.ts open --tag <tag> [--root <dir>] [--base <branch>]
 *
 * Environment for `open`: GITHUB_TOKEN (contents and pull-requests: write), GITHUB_REPOSITORY,
 * GITHUB_SERVER_URL (the push goes to <server>/<owner>/<repo>.git), GITHUB_API_URL (optional).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import type { Octokit } from 'octokit';
import { describeError, UserError } from '../lib/errors.ts';
import { readLock } from '../lib/lockfile.ts';
import { projectPaths } from '../lib/project.ts';
import { makeOctokit } from '../release/github.ts';
import type { CheckResult, DriftResult } from './track.ts';

export const bumpBranch = (tag: string): string => `upstream/${tag}`;
export const BOT = { name: 'github-actions[bot]', email: '41898282+github-actions[bot]@users.noreply.github.com' } as const;

export type Candidate = { tag: string; outcome: 'clean' | 'merge' } | { tag?: undefined; reason: string };

/** The release to bump to: the latest newer one, when the series applies to it clean or with merges only. */
export function bumpCandidate(check: CheckResult, drift: DriftResult | undefined): Candidate {
  if (!check.latest) return { reason: `up to date: nothing newer than ${check.pinned}` };
  const row = drift?.rows.find((r) => r.tag === check.latest);
  if (!row) return { reason: `upstream drift has no row for ${check.latest}` };
  if (drift!.brokenOnBase.length) return { reason: `the series does not apply to the pin itself (${drift!.brokenOnBase.join(', ')})` };
  if (row.outcome === 'conflict') return { reason: `${check.latest}: ${row.conflicts.join(', ')} in conflict; a maintainer resolves it (see the issue)` };
  return { tag: check.latest, outcome: row.outcome };
}

function git(cwd: string, args: string[], env: NodeJS.ProcessEnv = process.env): string {
  const r = spawnSync('git', args, { cwd, encoding: 'utf8', env });
  if (r.status !== 0) throw new UserError(`git ${args[0] === '-c' ? args.slice(2).join(' ') : args.join(' ')} failed: ${(r.stderr || r.stdout).trim()}`);
  return r.stdout;
}

/** Commit upstream.lock and patches/ on upstream/<tag> and push it (force: the branch is the bot's, refreshed each day). */
export function pushBump(root: string, tag: string, remote: string, token: string): { branch: string; commit: string } {
  const branch = bumpBranch(tag);
  git(root, ['checkout', '-B', branch]);
  git(root, ['add', '--', 'upstream.lock', 'patches']);
  git(root, ['-c', `user.name=${BOT.name}`, '-c', `user.email=${BOT.email}`, 'commit', '--quiet', '-m', `Upstream ${tag}: re-pin, series re-exported`]);
  const commit = git(root, ['rev-parse', 'HEAD']).trim();
  // The token goes in a header for this one command (as actions/checkout does), never into the remote URL or git config.
  const auth = Buffer.from(`x-access-token:${token}`).toString('base64');
  git(root, ['-c', `http.extraheader=AUTHORIZATION: basic ${auth}`, 'push', '--quiet', '--force', remote, `HEAD:refs/heads/${branch}`]);
  return { branch, commit };
}

export interface PrOutcome {
  action: 'created' | 'updated';
  number: number;
  url: string;
}

/** Open the pull request of upstream/<tag> against `base`, or refresh the open one. */
export async function openBumpPr(octokit: Octokit, o: { owner: string; repo: string; base: string; tag: string; body: string }): Promise<PrOutcome> {
  const head = bumpBranch(o.tag);
  const title = `Upstream ${o.tag}`;
  const open = await octokit.rest.pulls.list({ owner: o.owner, repo: o.repo, state: 'open', head: `${o.owner}:${head}`, per_page: 100 });
  const same = open.data.find((p) => p.head.ref === head);
  if (same) {
    await octokit.rest.pulls.update({ owner: o.owner, repo: o.repo, pull_number: same.number, title, body: o.body });
    return { action: 'updated', number: same.number, url: same.html_url };
  }
  const created = await octokit.rest.pulls.create({ owner: o.owner, repo: o.repo, title, head, base: o.base, body: o.body });
  return { action: 'created', number: created.data.number, url: created.data.html_url };
}

export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env, out: (s: string) => void = (s) => process.stdout.write(s)): Promise<number> {
  try {
    const { values: v, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { check: { type: 'string' }, drift: { type: 'string' }, tag: { type: 'string' }, root: { type: 'string' }, base: { type: 'string' } },
    });
    const [cmd] = positionals;
    if (cmd === 'candidate') {
      if (!v.check) throw new UserError('candidate needs --check <check.json>');
      const check = JSON.parse(fs.readFileSync(v.check, 'utf8')) as CheckResult;
      const drift =
        v.drift && fs.existsSync(v.drift) && fs.statSync(v.drift).size > 0 ? (JSON.parse(fs.readFileSync(v.drift, 'utf8')) as DriftResult) : undefined;
      const c = bumpCandidate(check, drift);
      const line = !('reason' in c) ? `bump candidate: ${c.tag} (${c.outcome}): bump, build, e2e, then a pull request` : `no bump pull request: ${c.reason}`;
      process.stderr.write(`${line}\n`);
      if (env.GITHUB_STEP_SUMMARY) fs.appendFileSync(env.GITHUB_STEP_SUMMARY, `\n${line}\n`);
      out(`tag=${c.tag ?? ''}\n`);
      return 0;
    }
    if (cmd === 'open') {
      if (!v.tag) throw new UserError('open needs --tag <tag>');
      const root = path.resolve(v.root ?? projectPaths().root);
      const lock = readLock(projectPaths(root).lockFile);
      if (lock.tag !== v.tag)
        throw new UserError(`upstream.lock pins ${lock.tag}, not ${v.tag}: nothing to propose`, `Run \`npx tsx build.ts upstream bump ${v.tag}\` first.`);
      const [owner, repo] = (env.GITHUB_REPOSITORY ?? '').split('/');
      if (!owner || !repo || !env.GITHUB_TOKEN)
        throw new UserError('GITHUB_REPOSITORY and GITHUB_TOKEN are needed to push the branch and open the pull request');
      const server = env.GITHUB_SERVER_URL || 'https://github.com';
      const pushed = pushBump(root, v.tag, `${server}/${owner}/${repo}.git`, env.GITHUB_TOKEN);
      const body = [
        `Upstream [${v.tag}](https://github.com/openai/codex/releases/tag/${v.tag}) is out, and our patch series applies to it (\`upstream drift\`).`,
        '',
        `This branch re-pins upstream.lock to ${v.tag} (${lock.commit}) with \`npx tsx build.ts upstream bump ${v.tag}\`; the host build and \`npm run e2e\` against a real LiteLLM proxy passed on it before this pull request was opened.`,
        '',
        'Before releasing: add the CHANGELOG.md section of the new version.',
      ].join('\n');
      const octokit = await makeOctokit({ token: env.GITHUB_TOKEN, baseUrl: env.GITHUB_API_URL });
      const r = await openBumpPr(octokit, { owner, repo, base: v.base ?? (env.GITHUB_REF_NAME || 'main'), tag: v.tag, body });
      out(`pull request ${r.action}: #${r.number} ${r.url} (${pushed.branch} at ${pushed.commit.slice(0, 12)})\n`);
      return 0;
    }
    throw new UserError('usage: pr.ts candidate --check <check.json> --drift <drift.json> | open --tag <tag> [--root <dir>] [--base <branch>]');
  } catch (e) {
    const d = describeError(e);
    process.stderr.write(`error: ${d.message}\n${d.hint ? `  hint: ${d.hint}\n` : ''}`);
    return e instanceof UserError ? e.exitCode : 1;
  }
}

if (import.meta.url === `file://${process.argv[1]}`) process.exitCode = await main(process.argv.slice(2));
