/**
 * The TUI in tmux, driven as a person would: type, press keys, read the screen. One `Tui` is one
 * terminal (120x50) running the binary; `waitFor` polls the screen until a test says yes.
 */
import { spawnSync } from 'node:child_process';

let sessions = 0;

const tmux = (...args: string[]): string => spawnSync('tmux', args, { encoding: 'utf8' }).stdout ?? '';
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * The start screen: the folder-trust question, or upstream's first screens of older tags
 * ("To get started", the "N% left" footer).
 */
export const START_SCREEN = /trust the contents|To get started|% left|^ {2}\S.* · \/\S*$/m;

/**
 * The composer, ready for a prompt: upstream's older hints ("To get started", "Ask Codex", the
 * "N% left" footer) or, since 0.12x, the footer line "<model> <effort> · <directory>".
 */
export const COMPOSER = /To get started|Ask Codex|% left|^ {2}\S.* · \/\S*$/m;

export class Tui {
  private constructor(private readonly name: string) {}

  /** Starts `bin args` with exactly `env` in `cwd`. Throws when tmux is missing. */
  static async start(bin: string, cwd: string, env: Record<string, string>, args: string[] = []): Promise<Tui> {
    if (spawnSync('tmux', ['-V']).status !== 0) throw new Error('tmux is not installed (apt-get install tmux)');
    const name = `cl-e2e-${process.pid}-${++sessions}`;
    const vars = Object.entries(env).map(([k, v]) => `${k}=${v}`);
    spawnSync('tmux', ['new-session', '-d', '-s', name, '-x', '120', '-y', '50', '-c', cwd, 'env', ...vars, bin, ...args], { encoding: 'utf8' });
    await sleep(1500);
    return new Tui(name);
  }

  /** What the terminal shows now. */
  screen(): string {
    return tmux('capture-pane', '-p', '-t', this.name);
  }

  /** Types `text` as it is (no Enter). */
  type(text: string): void {
    tmux('send-keys', '-t', this.name, '-l', text);
  }

  /** Presses keys by tmux name (Enter, Escape, ...). */
  press(...keys: string[]): void {
    for (const k of keys) tmux('send-keys', '-t', this.name, k);
  }

  /** Types `text`, waits a moment for the composer to take it, then presses Enter. */
  async submit(text: string): Promise<void> {
    this.type(text);
    await sleep(300);
    this.press('Enter');
  }

  /** Polls the screen until `test` accepts it; returns that screen. Throws with the last one. */
  async waitFor(test: RegExp | ((screen: string) => boolean), what: string, timeoutMs = 30_000): Promise<string> {
    const ok = typeof test === 'function' ? test : (s: string) => test.test(s);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const screen = this.screen();
      if (ok(screen)) return screen;
      if (Date.now() > deadline) throw new Error(`the screen never showed ${what}; last screen:\n${screen}`);
      await sleep(250);
    }
  }

  close(): void {
    tmux('kill-session', '-t', this.name);
  }
}

/** A regex matching a screen that shows every one of `shows` and none of `lacks`. */
export function screenWith(shows: string[], lacks: string[] = []): RegExp {
  const esc = (w: string): string => w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`^${shows.map((w) => `(?=[\\s\\S]*${esc(w)})`).join('')}${lacks.map((w) => `(?![\\s\\S]*${esc(w)})`).join('')}`);
}

/**
 * The screen below the last line holding `tag` (say, a prompt the test sent), as one line:
 * box-drawing borders dropped and whitespace collapsed, so text the TUI wrapped reads whole.
 * Empty when `tag` is not on the screen.
 */
export function after(screen: string, tag: string): string {
  const lines = screen.split('\n');
  let at = -1;
  lines.forEach((l, i) => {
    if (l.includes(tag)) at = i;
  });
  return at < 0 ? '' : flat(lines.slice(at + 1).join('\n'));
}

/** Screen text as one line: borders dropped, whitespace collapsed. */
export function flat(text: string): string {
  return text
    .replace(/[│╭╮╰╯─]/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}
