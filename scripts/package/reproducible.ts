/**
 * What makes two packaging runs byte-identical: one timestamp for everything (SOURCE_DATE_EPOCH,
 * https://reproducible-builds.org/specs/source-date-epoch/), fixed owners and modes, sorted
 * entries and gzip headers without names or times (the writers in this directory do the rest).
 */
import { gitRaw } from '../lib/git.ts';
import { UserError } from '../lib/errors.ts';

/** Modes for what we ship: executables and directories 0755, everything else 0644. */
export const MODE = { exec: 0o755, file: 0o644, dir: 0o755 } as const;

export interface Epoch {
  seconds: number;
  /** Where it came from, for the report. */
  source: string;
}

/**
 * SOURCE_DATE_EPOCH when set; otherwise the time of the project's last commit, which is the
 * same on every machine that checks out that commit (a dirty tree gets the commit's time too).
 */
export function sourceDateEpoch(root: string, env: NodeJS.ProcessEnv = process.env): Epoch {
  const v = env.SOURCE_DATE_EPOCH;
  if (v !== undefined && v !== '') {
    if (!/^\d+$/.test(v))
      throw new UserError(`SOURCE_DATE_EPOCH=${v} is not a number of seconds`, 'Set it to a Unix time, e.g. SOURCE_DATE_EPOCH=$(git log -1 --format=%ct).');
    return { seconds: Number(v), source: 'SOURCE_DATE_EPOCH' };
  }
  const r = gitRaw(['log', '-1', '--format=%ct'], { cwd: root });
  const t = r.stdout.trim();
  if (r.status !== 0 || !/^\d+$/.test(t)) {
    throw new UserError(
      `cannot choose a timestamp for the packages: SOURCE_DATE_EPOCH is not set and ${root} is not a git checkout`,
      "Set SOURCE_DATE_EPOCH (seconds since 1970), e.g. the release commit's time.",
    );
  }
  return { seconds: Number(t), source: 'last commit' };
}

/** RFC 2822 date in UTC, as Debian changelogs write it: `Thu, 01 Jan 2026 00:00:00 +0000`. */
export function rfc2822(seconds: number): string {
  const d = new Date(seconds * 1000);
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${days[d.getUTCDay()]}, ${p(d.getUTCDate())} ${months[d.getUTCMonth()]} ${d.getUTCFullYear()} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}
