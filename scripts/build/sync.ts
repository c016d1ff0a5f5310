/**
 * The build tree on disk: sync the patched tree to its stable path, refresh Cargo.lock, and the
 * stock tree `npm run upstream-tests` compares against.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { applySeries } from '../lib/apply.ts';
import type { Context } from '../lib/context.ts';
import { UserError } from '../lib/errors.ts';
import { fileSha256, sha256 } from '../lib/fs.ts';
import type { Prepared } from '../lib/prepare.ts';
import { substitutionEntries, substitutionHint } from '../lib/substitutions.ts';
import { readAt, type Upstream } from '../lib/upstream-cache.ts';
import { newExternalPackages } from './cargolock.ts';
import { syncTree, setTreeLockState, treeLockState, type SyncResult } from './tree.ts';

const lockPath = (ctx: Context): string => `${ctx.lock.workspace}/Cargo.lock`;

export function syncBuildTree(ctx: Context, up: Upstream, prepared: Prepared): SyncResult {
  const lp = lockPath(ctx);
  return syncTree({
    gitDir: up.gitDir,
    commit: up.commit,
    workspace: ctx.lock.workspace,
    treeDir: ctx.treeDir,
    changes: prepared.changes,
    // Cargo.lock belongs to the lock step below.
    keep: (file) => file === lp,
  });
}

/**
 * Stock upstream at the pinned commit, for running upstream's own tests beside ours
 * (`npm run upstream-tests`): no series and no crates of ours, only the substitutions asked for
 * (a fork that cannot be fetched cannot be built on either side). Kept beside the patched tree.
 */
export function syncStockTree(ctx: Context, up: Upstream): string {
  const applied = applySeries({ gitDir: up.gitDir, commit: up.commit, entries: substitutionEntries(ctx.substitutions) });
  const dir = path.join(ctx.cache.dir, 'stock', path.basename(ctx.treeDir));
  const lp = lockPath(ctx);
  syncTree({ gitDir: up.gitDir, commit: up.commit, workspace: ctx.lock.workspace, treeDir: dir, changes: applied.changes, keep: (file) => file === lp });
  // Cargo refreshes the lock itself there (no --locked): upstream's own lock is the start.
  const abs = path.join(dir, lp);
  if (!fs.existsSync(abs)) fs.writeFileSync(abs, applied.changes.get(lp)?.content ?? readAt(up.gitDir, up.commit, lp) ?? '');
  return dir;
}

/** What Cargo.lock is refreshed from: the lock as patched, and every manifest we change. */
function lockInput(ctx: Context, up: Upstream, prepared: Prepared): { input: string; base: Buffer } {
  const lp = lockPath(ctx);
  const base = prepared.changes.get(lp)?.content ?? readAt(up.gitDir, up.commit, lp);
  if (!base) throw new UserError(`upstream has no ${lp}`, 'codex-rs is expected to ship a Cargo.lock.');
  const manifests = [...prepared.changes.values()]
    .filter((c) => c.path.endsWith('Cargo.toml'))
    .sort((a, b) => (a.path < b.path ? -1 : 1))
    .map((c) => `${c.path}:${c.content ? sha256(c.content) : '-'}`);
  return { input: sha256([sha256(base), ...manifests].join('\n')), base };
}

export interface LockResult {
  refreshed: boolean;
}

/**
 * Refresh workspace entries of Cargo.lock when its inputs changed, then prove no external package
 * was added or moved. Skipped entirely (no cargo call, no write) when nothing changed.
 */
export function refreshLock(ctx: Context, up: Upstream, prepared: Prepared, env: Record<string, string>, cargo = 'cargo'): LockResult {
  const lp = lockPath(ctx);
  const abs = path.join(ctx.treeDir, lp);
  const { input, base } = lockInput(ctx, up, prepared);
  const st = treeLockState(ctx.treeDir);
  if (st && st.input === input && fileSha256(abs) === st.output) return { refreshed: false };
  fs.writeFileSync(abs, base);
  const args = ['update', '--workspace', ...(ctx.opts.offline ? ['--offline'] : [])];
  const r = spawnSync(cargo, args, { cwd: path.join(ctx.treeDir, ctx.lock.workspace), env: { ...process.env, ...env }, encoding: 'utf8' });
  if (r.status !== 0) {
    const output = `${r.stderr}\n${r.stdout}`;
    throw new UserError(
      `cargo ${args.join(' ')} failed in ${ctx.lock.workspace}/:\n${(r.stderr || r.stdout).trim().split('\n').slice(-15).join('\n')}`,
      substitutionHint(ctx.project.patchesDir, output) ??
        'Check network access to crates.io (or --offline with a warm Cargo cache) and the git mirrors (--git-mirror).',
    );
  }
  const after = fs.readFileSync(abs, 'utf8');
  // Exactly what the asked-for substitutions declare may come in; nothing else.
  const allowed = new Set(ctx.substitutions.flatMap((s) => s.lockAdds.map((p) => `${p.name}@${p.version}`)));
  const added = newExternalPackages(base.toString('utf8'), after).filter((p) => !(p.source?.startsWith('registry+') && allowed.has(`${p.name}@${p.version}`)));
  if (added.length > 0) {
    throw new UserError(
      `our crates pull external packages that upstream's Cargo.lock does not have: ${added.map((p) => `${p.name} ${p.version}`).join(', ')}`,
      'Use dependency versions upstream already locks (see codex-rs/Cargo.lock at the pinned tag), so an upstream bump never becomes a dependency audit.',
    );
  }
  setTreeLockState(ctx.treeDir, { input, output: sha256(after) });
  return { refreshed: true };
}
