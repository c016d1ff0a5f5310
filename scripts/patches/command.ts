/**
 * `build.ts patches check | apply [--force] | export [--check]`: the patch series against the
 * locked upstream commit. `check` works in memory; `apply` and `export` go through the
 * maintainers' worktree (worktree.ts), where the patches are commits.
 */
import * as path from 'node:path';
import type { Context } from '../lib/context.ts';
import { UserError } from '../lib/errors.ts';
import type { Output } from '../lib/output.ts';
import { acquire, applyAll, lintOrThrow } from '../lib/prepare.ts';
import { availableSubstitutions } from '../lib/substitutions.ts';
import { compareExport, defaultWorktree, formatPatches, makeWorktree, writeExport } from './worktree.ts';

export interface PatchesOptions {
  worktree?: string;
  check: boolean;
  force: boolean;
}

export function patchesCommand(ctx: Context, sub: string | undefined, o: PatchesOptions): Output {
  const wtDir = o.worktree ? path.resolve(o.worktree) : defaultWorktree(ctx);
  switch (sub) {
    case 'check':
      return check(ctx);
    case 'apply': {
      acquire(ctx);
      const r = makeWorktree(ctx, wtDir, {
        force: o.force,
        isStale: () => {
          const d = compareExport(ctx, formatPatches(ctx, wtDir));
          return d.added.length + d.changed.length + d.removed.length > 0 || d.orderChanged;
        },
      });
      return {
        doc: { ok: true, worktree: wtDir, commits: r.commits },
        text: `worktree ${wtDir}: ${ctx.lock.tag} + ${r.commits} commit(s) on branch litellm-series\nEdit, commit (git commit / rebase -i), then: npx tsx build.ts patches export`,
      };
    }
    case 'export': {
      const wanted = formatPatches(ctx, wtDir);
      if (o.check) {
        const d = compareExport(ctx, wanted);
        const stale = [
          ...d.changed.map((n) => `changed: ${n}`),
          ...d.added.map((n) => `not in patches/: ${n}`),
          ...d.removed.map((n) => `no longer a commit: ${n}`),
          ...(d.orderChanged ? ['order differs from patches/series'] : []),
        ];
        if (stale.length > 0) {
          throw new UserError(
            `stored patches are stale against ${wtDir}:\n  - ${stale.join('\n  - ')}`,
            'Run `npx tsx build.ts patches export` and commit the result.',
          );
        }
        return { doc: { ok: true, upToDate: true }, text: `patches/ is up to date with ${wtDir} (${wanted.size} patch(es))` };
      }
      const d = writeExport(ctx, wanted);
      return {
        doc: { ok: true, ...d },
        text: `exported ${wanted.size} patch(es): ${d.added.length} new, ${d.changed.length} changed, ${d.removed.length} removed`,
      };
    }
    default:
      throw new UserError(`unknown patches command \`${sub ?? ''}\``, 'Use: patches check | patches apply | patches export [--check].');
  }
}

function check(ctx: Context): Output {
  const started = performance.now();
  lintOrThrow(ctx);
  const up = acquire(ctx);
  // Every substitution the repo has is checked too (on top of the series), asked for or not,
  // so a bump finds a stale one before an air-gapped user does.
  const prepared = applyAll({ ...ctx, substitutions: availableSubstitutions(ctx.project.patchesDir) }, up);
  const ms = performance.now() - started;
  const { perPatch, tree } = prepared.applied;
  const lines = perPatch.map((p) => `  ok  ${p.name} (${p.files.length} file(s))`);
  return {
    doc: { ok: true, tag: ctx.lock.tag, commit: ctx.lock.commit, upstream: up.fetched ? 'fetched' : 'cached', patches: perPatch, tree, ms },
    text: `${lines.join('\n')}${lines.length ? '\n' : ''}${perPatch.length} patch(es) apply cleanly to ${ctx.lock.tag} (${ctx.lock.commit.slice(0, 12)}); lint clean (${ms.toFixed(0)} ms)`,
  };
}
