/**
 * System tools the suites use for real. On a developer's machine a missing tool skips the tests
 * that need it; under CI (CI set, as .ci/run and GitHub Actions do) it is an error instead, so a
 * machine that lacks a tool the README promises fails loudly rather than passing with fewer tests.
 */
import { spawnSync } from 'node:child_process';
import { APK_TOOLS, findApk } from '../../scripts/release/apk-tools.ts';

export function hasCommand(cmd: string, args: string[] = ['--version']): boolean {
  if (spawnSync(cmd, args, { stdio: 'ignore' }).status === 0) return true;
  if (process.env.CI) throw new Error(`${cmd} is not installed, and under CI no test is skipped for a missing tool (.ci/run installs it)`);
  return false;
}

/**
 * apk-tools 3, for the OpenWrt .apk checks. Unlike the tools above it is optional even under CI:
 * Debian has no apk-tools package, and a CI machine reaches package registries only, not its
 * source, so .ci/run cannot install it. A machine without it runs the .apk tests against their own
 * reader and prints this warning; the release workflow builds apk-tools from its pinned tag and
 * checks every .apk with it before uploading (scripts/release/apk-tools.ts).
 */
let apkWarned = false;
export function apkTools(): string | undefined {
  const found = findApk();
  if (!found && !apkWarned) {
    apkWarned = true;
    console.warn(
      [
        '',
        '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!',
        `!!! apk-tools not installed: the OpenWrt .apk tests that run the real apk ${APK_TOOLS.version} are SKIPPED.`,
        "!!! The format is still checked by the tests' own reader. To run them: node --import tsx scripts/release/apk-tools.ts build",
        '!!! (needs git, meson, ninja, libssl-dev, zlib1g-dev), or point CODEX_LITELLM_APK at an apk-tools 3 binary.',
        '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!',
        '',
      ].join('\n'),
    );
  }
  return found?.path;
}
