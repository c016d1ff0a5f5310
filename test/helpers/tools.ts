/**
 * System tools the suites use for real. On a developer's machine a missing tool skips the tests
 * that need it; under CI (CI set, as .ci/run and GitHub Actions do) it is an error instead, so a
 * machine that lacks a tool the README promises fails loudly rather than passing with fewer tests.
 */
import { spawnSync } from 'node:child_process';

export function hasCommand(cmd: string, args: string[] = ['--version']): boolean {
  if (spawnSync(cmd, args, { stdio: 'ignore' }).status === 0) return true;
  if (process.env.CI) throw new Error(`${cmd} is not installed, and under CI no test is skipped for a missing tool (.ci/run installs it)`);
  return false;
}
