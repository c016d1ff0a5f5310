/**
 * What makes an Android binary load on a device of the API level it was built for, checked on the
 * ELF itself (package/elf.ts) rather than trusted from the toolchain:
 * - AArch64 (or the row's CPU), position independent, and /system/bin/linker64 as its interpreter;
 * - DT_NEEDED only Android's own libraries (bionic's libc, libm, libdl; liblog; libz): anything else would have to
 *   come from a Termux package;
 * - every undefined symbol exported by one of those libraries at that API level, with the symbol
 *   version it asks for. The exports come from stub libraries (the NDK's, or ours made from the
 *   symbol files) or straight from the symbol files (symbols.ts), so the check does not depend
 *   on the linker having been strict.
 * Weak undefined symbols may be absent (they resolve to null); they are listed, not refused.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readElfDeps, type ElfDeps } from '../../package/elf.ts';
import type { StubLibrary } from './symbols.ts';

const EM_AARCH64 = 183;
const EM_X86_64 = 62;
const ET_DYN = 3;

/** What a library exports: `name` for every symbol and `name@VERSION` for versioned ones. */
export type Exports = Set<string>;

export function exportsOfStub(lib: StubLibrary): Exports {
  const out: Exports = new Set();
  for (const s of lib.symbols) {
    out.add(s.name);
    if (s.version) out.add(`${s.name}@${s.version}`);
  }
  return out;
}

export function exportsOfElf(elf: ElfDeps): Exports {
  const out: Exports = new Set();
  for (const s of elf.dynamic) {
    if (s.undefined) continue;
    out.add(s.name);
    if (s.version) out.add(`${s.name}@${s.version}`);
  }
  return out;
}

/** The exports of each library file in a stub directory (the NDK's sysroot/usr/lib/<triple>/<api>, or ours). */
export function exportsOfDir(dir: string, libs: readonly string[]): Map<string, Exports> {
  const out = new Map<string, Exports>();
  for (const lib of libs) {
    const file = path.join(dir, lib);
    if (!fs.existsSync(file)) continue;
    const elf = readElfDeps(fs.readFileSync(file));
    if (elf) out.set(lib, exportsOfElf(elf));
  }
  return out;
}

export interface AndroidCheck {
  interpreter: string | undefined;
  needed: string[];
  /** Undefined dynamic symbols, all of them. */
  undefinedSymbols: number;
  /** Weak undefined symbols no library exports (null at run time). */
  weakMissing: string[];
  /** Everything that would stop it loading or running; empty when it is fine. */
  problems: string[];
}

/** Check a binary against the exports of the libraries it may need (by soname). */
export function checkAndroidElf(elf: ElfDeps, triple: string, libs: Map<string, Exports>): AndroidCheck {
  const problems: string[] = [];
  const is64 = !triple.startsWith('arm') && !triple.startsWith('i686');
  const machine = triple.startsWith('aarch64') ? EM_AARCH64 : triple.startsWith('x86_64') ? EM_X86_64 : undefined;
  if (machine !== undefined && elf.machine !== machine) problems.push(`machine ${elf.machine}, expected ${machine} for ${triple}`);
  if (elf.type !== ET_DYN) problems.push(`ELF type ${elf.type}: not position independent (Android needs a PIE)`);
  const linker = is64 ? '/system/bin/linker64' : '/system/bin/linker';
  if (elf.interpreter !== linker) problems.push(`interpreter ${elf.interpreter ?? '(none: static)'}, expected ${linker}`);
  const foreign = elf.needed.filter((l) => !libs.has(l));
  if (foreign.length) problems.push(`needs ${foreign.join(', ')}, which are not Android's (${[...libs.keys()].join(', ')})`);
  const needed = elf.needed.filter((l) => libs.has(l)).map((l) => libs.get(l)!);
  const missing: string[] = [];
  const weakMissing: string[] = [];
  let undefinedSymbols = 0;
  for (const s of elf.dynamic) {
    if (!s.undefined) continue;
    undefinedSymbols += 1;
    const key = s.version ? `${s.name}@${s.version}` : s.name;
    if (needed.some((e) => e.has(key))) continue;
    (s.weak ? weakMissing : missing).push(key);
  }
  if (missing.length) {
    problems.push(
      `${missing.length} undefined symbol(s) that no needed library exports at this API level: ${missing.slice(0, 20).join(', ')}${missing.length > 20 ? ', ...' : ''}`,
    );
  }
  return { interpreter: elf.interpreter, needed: elf.needed, undefinedSymbols, weakMissing, problems };
}
