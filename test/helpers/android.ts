/**
 * A directory that looks like an Android NDK to the route (lib/android-ndk.ts): the clang
 * wrapper for API 24 and source.properties. Plans and commands can then be checked for the NDK
 * route on a machine that has no NDK; nothing is ever compiled with it.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export function fakeNdk(revision = '27.2.12479018'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cl-ndk-'));
  const bin = path.join(dir, 'toolchains', 'llvm', 'prebuilt', 'linux-x86_64', 'bin');
  fs.mkdirSync(bin, { recursive: true });
  fs.writeFileSync(path.join(bin, 'aarch64-linux-android24-clang'), '#!/bin/sh\nexit 1\n', { mode: 0o755 });
  fs.writeFileSync(path.join(dir, 'source.properties'), `Pkg.Desc = Android NDK\nPkg.Revision = ${revision}\n`);
  return dir;
}
