/**
 * `npx tsx build.ts upstream check | try <tag> | bump <tag> | drift`: the command family that
 * follows upstream releases. Exit status: 0 when the answer is good news or a report, 1 when a
 * try or bump meets a conflict (so scripts and CI can branch on it), 2 for user errors.
 */
import type { Context } from '../lib/context.ts';
import { UserError } from '../lib/errors.ts';
import { bump, bumpContinue, type BumpResult } from './bump.ts';
import { renderCheck, renderDrift, renderTry } from './report.ts';
import { checkUpstream, drift, tryTag } from './track.ts';

export interface UpstreamOptions {
  json: boolean;
  pre: boolean;
  from?: string;
  to?: string;
  force: boolean;
  continue: boolean;
  worktree?: string;
}

export { UPSTREAM_HELP } from './help.ts';

function write(json: boolean, doc: unknown, text: string): void {
  process.stdout.write(json ? `${JSON.stringify(doc, null, 2)}\n` : text.endsWith('\n') ? text : `${text}\n`);
}

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

export async function cmdUpstream(ctx: Context, sub: string | undefined, args: string[], o: UpstreamOptions): Promise<number> {
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
      write(o.json, { ok: true, ...r }, renderCheck(r));
      return 0;
    }
    case 'try': {
      const tag = tagArg();
      const { result, session } = tryTag(ctx, tag);
      const warn = session.brokenOnBase.length ? `\nwarning: ${session.brokenOnBase.join(', ')} does not apply to the pinned ${ctx.lock.tag} itself; \`patches check\` says why` : '';
      write(o.json, { ok: result.failing === 0, brokenOnBase: session.brokenOnBase, ...result }, `${renderTry(tag, result)}${warn}\nNothing was changed${result.failing === 0 ? `; \`upstream bump ${tag}\` would pin it` : ''}.`);
      return result.failing === 0 ? 0 : 1;
    }
    case 'bump': {
      const tag = tagArg();
      const r = o.continue ? bumpContinue(ctx, tag, { worktree: o.worktree }) : bump(ctx, tag, { force: o.force, worktree: o.worktree });
      write(o.json, { ok: r.pinned, ...r }, renderBump(r));
      return r.pinned ? 0 : 1;
    }
    case 'drift': {
      noArgs();
      const d = drift(ctx, { from: o.from, to: o.to, pre: o.pre });
      write(o.json, { ok: true, ...d }, renderDrift(d));
      return 0;
    }
    default:
      throw new UserError(`unknown upstream command \`${sub ?? ''}\``, 'Use: upstream check | upstream try <tag> | upstream bump <tag> | upstream drift.');
  }
}
