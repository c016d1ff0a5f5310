/**
 * Finding the Android NDK for the Android rows. ANDROID_NDK_HOME names one explicitly (and wins);
 * GitHub's Ubuntu runners also set ANDROID_NDK_LATEST_HOME to the newest NDK they carry, which is
 * what CI builds with when nothing else is named. A variable that is set but does not hold an NDK
 * is an error, never a silent fall-back: the build would otherwise use something else than asked.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export const NDK_VARS = ['ANDROID_NDK_HOME', 'ANDROID_NDK_LATEST_HOME'] as const;

export interface Ndk {
  dir: string;
  /** Which variable named it. */
  from: (typeof NDK_VARS)[number];
  /** `Pkg.Revision` of its source.properties (e.g. 27.2.12479018), when it says. */
  revision?: string;
}

/** The NDK's clang wrapper for a target and API level (the file that proves a directory is an NDK). */
export function ndkClang(dir: string, triple: string, api: number): string {
  const host = process.platform === 'darwin' ? 'darwin-x86_64' : 'linux-x86_64';
  return path.join(dir, 'toolchains', 'llvm', 'prebuilt', host, 'bin', `${triple}${api}-clang`);
}

/** The NDK the environment names, or why the one it names is not usable, or neither (none named). */
export function findNdk(triple: string, api: number, env: NodeJS.ProcessEnv = process.env): { ndk?: Ndk; problem?: string } {
  for (const v of NDK_VARS) {
    const dir = env[v];
    if (!dir) continue;
    const clang = ndkClang(dir, triple, api);
    if (!fs.existsSync(clang)) {
      return { problem: `${v}=${dir} is not an Android NDK for this host: ${path.relative(dir, clang)} is missing there` };
    }
    let revision: string | undefined;
    try {
      revision = /^Pkg\.Revision\s*=\s*(\S+)/m.exec(fs.readFileSync(path.join(dir, 'source.properties'), 'utf8'))?.[1];
    } catch {
      revision = undefined;
    }
    return { ndk: { dir, from: v, ...(revision ? { revision } : {}) } };
  }
  return {};
}
