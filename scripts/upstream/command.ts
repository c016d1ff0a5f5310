/**
 * `npx tsx build.ts upstream check | try <tag> | bump <tag> | drift`: the command family that
 * follows upstream releases. Exit status: 0 when the answer is good news or a report, 1 when a
 * try or bump meets a conflict (so scripts and CI can branch on it), 2 for user errors.
 */
import type { Context } from '../lib/context.ts';
import { UserError } from '../lib/errors.ts';
import type { Output } from '../lib/output.ts';
import { bump, bumpContinue, type BumpResult } from './bump.ts';
import { renderCheck, renderDrift, renderTry } from './report.ts';
import { checkUpstream, drift, tryTag } from './track.ts';

export interface UpstreamOptions {
  pre: boolean;
  from?: string;
  to?: string;
  force: boolean;
  continue: boolean;
  worktree?: string;
}

export { UPSTREAM_HELP } from './help.ts';

function renderBump(r: BumpResult): string {
  const lines: string[] = [];
  if (r.tryResult) lines.push(renderTry(r.tag, r.tryResult), '');
  if (r.pinned) {
    const e = r.export!;
    lines.push(`upstream.lock now pins ${r.tag} (${r.commit}), release 1`);
    lines.push(`patches/ re-exported from ${r.worktree}: ${e.changed.length} changed, ${e.added.length} new, ${e.removed.length} removed`);
  } else {
    lines.push(`git am stopped at ${r.stoppedAt!.patch} in ${r.worktree}; upstream.lock and patches/ are unchanged.`);
  }
  lines.push('Next:', ...r.next.map((n) => `  ${n}`));
  return lines.join('\n');
}

export async function upstreamCommand(ctx: Context, sub: string | undefined, args: string[], o: UpstreamOptions): Promise<Output> {
  const tagArg = (): string => {
    if (args.length !== 1) throw new UserError(`upstream ${sub} needs one tag`, `e.g. npx tsx build.ts upstream ${sub} rust-v0.54.0`);
    return args[0]!;
  };
  const noArgs = (): void => {
    if (args.length > 0) throw new UserError(`unexpected argument \`${args[0]}\``, 'See `npx tsx build.ts --help`.');
  };
  switch (sub) {
    case 'check': {
      noArgs();
      const r = await checkUpstream(ctx, { pre: o.pre });
      return { doc: { ok: true, ...r }, text: renderCheck(r) };
    }
    case 'try': {
      const tag = tagArg();
      const { result, session } = tryTag(ctx, tag);
      const warn = session.brokenOnBase.length
        ? `\nwarning: ${session.brokenOnBase.join(', ')} does not apply to the pinned ${ctx.lock.tag} itself; \`patches check\` says why`
        : '';
      const pin = result.failing === 0 ? `; \`upstream bump ${tag}\` would pin it` : '';
      return {
        doc: { ok: result.failing === 0, brokenOnBase: session.brokenOnBase, ...result },
        text: `${renderTry(tag, result)}${warn}\nNothing was changed${pin}.`,
        code: result.failing === 0 ? 0 : 1,
      };
    }
    case 'bump': {
      // `--to <commit>`: an edge pin, a commit of upstream main (no tag).
      if (o.to && args.length > 0)
        throw new UserError('upstream bump takes a tag or --to <commit>, not both', 'e.g. upstream bump rust-v0.126.0, or upstream bump --to 343074d4207d');
      const tag = o.to ? undefined : tagArg();
      const r = o.continue ? bumpContinue(ctx, tag, { worktree: o.worktree, to: o.to }) : bump(ctx, tag, { force: o.force, worktree: o.worktree, to: o.to });
      return { doc: { ok: r.pinned, ...r }, text: renderBump(r), code: r.pinned ? 0 : 1 };
    }
    case 'drift': {
      noArgs();
      const d = drift(ctx, { from: o.from, to: o.to, pre: o.pre });
      return { doc: { ok: true, ...d }, text: renderDrift(d) };
    }
    default:
      throw new UserError(`unknown upstream command \`${sub ?? ''}\``, 'Use: upstream check | upstream try <tag> | upstream bump <tag> | upstream drift.');
  }
}
