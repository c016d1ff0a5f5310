/**
 * Where a `pip install` is, for the LiteLLM set-up of `npm run e2e` (a minute or more on a fresh
 * machine). pip has no machine-readable progress, so this reads its plain output: "Collecting X"
 * per requirement resolved, "Downloading" / "Using cached" per file, then one "Installing collected
 * packages: a, b, c" line (the count of what it installs) and "Successfully installed". The last
 * install's package count and time, kept beside the venv, give the total and the time left.
 */
import * as fs from 'node:fs';
import { writeFileAtomic } from '../lib/fs.ts';
import { formatDuration, plural } from '../lib/progress.ts';

/** What the last install took, beside the venv: `<venv>.install.json`. */
export interface PipHistory {
  packages: number;
  seconds: number;
}

export const pipHistoryFile = (venvDir: string): string => `${venvDir}.install.json`;

export function readPipHistory(file: string): PipHistory | undefined {
  try {
    const h = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<PipHistory>;
    return typeof h.packages === 'number' && typeof h.seconds === 'number' ? { packages: h.packages, seconds: h.seconds } : undefined;
  } catch {
    return undefined;
  }
}

export function writePipHistory(file: string, h: PipHistory): void {
  writeFileAtomic(file, `${JSON.stringify(h)}\n`);
}

export interface PipSnapshot {
  phase: 'resolving' | 'installing' | 'done';
  /** Requirements resolved so far, and files fetched (downloaded or from pip's cache). */
  collected: number;
  fetched: number;
  /** Packages being installed (from "Installing collected packages"). */
  installing?: number;
  /** The requirement pip is at. */
  current?: string;
  elapsed: number;
  /** From the last install; undefined without one. */
  total?: number;
  eta?: number;
}

export class PipProgress {
  private readonly start: number;
  private collected = 0;
  private fetched = 0;
  private installing?: number;
  private current?: string;
  private phase: PipSnapshot['phase'] = 'resolving';

  constructor(private readonly opts: { now: () => number; previous?: PipHistory }) {
    this.start = opts.now();
  }

  line(raw: string): void {
    const l = raw.trim();
    let m: RegExpExecArray | null;
    if ((m = /^Collecting (\S+)/.exec(l))) {
      this.collected += 1;
      this.current = m[1]!.replace(/[<>=!~;[].*$/, '');
    } else if (/^(Downloading|Using cached) /.test(l)) this.fetched += 1;
    else if ((m = /^Installing collected packages: (.*)$/.exec(l))) {
      this.phase = 'installing';
      this.installing = m[1]!.split(',').filter((s) => s.trim()).length;
      this.current = undefined;
    } else if (/^Successfully installed /.test(l)) this.phase = 'done';
  }

  snapshot(): PipSnapshot {
    const elapsed = (this.opts.now() - this.start) / 1000;
    const prev = this.opts.previous;
    return {
      phase: this.phase,
      collected: this.collected,
      fetched: this.fetched,
      ...(this.installing !== undefined ? { installing: this.installing } : {}),
      ...(this.current ? { current: this.current } : {}),
      elapsed,
      ...(prev ? { total: prev.packages, eta: Math.max(0, prev.seconds - elapsed) } : {}),
    };
  }

  /** "resolving: 42 of about 120 packages, at litellm · 35s, about 1m10s left". */
  text(s: PipSnapshot = this.snapshot()): string {
    const what =
      s.phase === 'resolving'
        ? `resolving: ${s.total !== undefined ? `${s.collected} of about ${s.total} packages` : plural(s.collected, 'package')}${s.current ? `, at ${s.current}` : ''}`
        : s.phase === 'installing'
          ? `installing ${plural(s.installing ?? 0, 'package')}`
          : `installed ${plural(s.installing ?? s.collected, 'package')}`;
    let time = formatDuration(s.elapsed);
    if (s.phase !== 'done') {
      if (s.eta === undefined) time += ' (no estimate: first install here)';
      else time += s.eta >= 1 ? `, about ${formatDuration(s.eta)} left` : ', longer than last time';
    }
    return `${what} · ${time}`;
  }
}
