/**
 * Is this file a binary for that target? Every format is only as good as the binary in it, and a
 * CI artifact put under the wrong dist/<triple>/ would otherwise ship, say, an x86_64 build as the
 * arm64 package. The executable format (ELF, Mach-O, PE) and the CPU in its header are checked.
 */
import type { Target } from '../lib/targets.ts';

export interface BinaryKind {
  format: 'ELF' | 'Mach-O' | 'PE' | 'unknown';
  arch: 'x86_64' | 'aarch64' | 'universal' | string;
}

export function binaryKind(buf: Buffer): BinaryKind {
  if (buf.length >= 20 && buf.readUInt32BE(0) === 0x7f454c46) {
    const machine = buf[5] === 2 ? buf.readUInt16BE(18) : buf.readUInt16LE(18);
    // EM_ numbers of elf.h; 32-bit MIPS says its byte order in e_ident[EI_DATA] (1: little).
    const arch = { 62: 'x86_64', 183: 'aarch64', 40: 'arm', 8: buf[5] === 1 ? 'mipsel' : 'mips' }[machine] ?? `machine ${machine}`;
    return { format: 'ELF', arch };
  }
  if (buf.length >= 8 && buf.readUInt32LE(0) === 0xfeedfacf) {
    const cpu = buf.readUInt32LE(4);
    return { format: 'Mach-O', arch: cpu === 0x01000007 ? 'x86_64' : cpu === 0x0100000c ? 'aarch64' : `cputype 0x${cpu.toString(16)}` };
  }
  if (buf.length >= 4 && buf.readUInt32BE(0) === 0xcafebabe) return { format: 'Mach-O', arch: 'universal' };
  if (buf.length >= 0x40 && buf.toString('latin1', 0, 2) === 'MZ') {
    const pe = buf.readUInt32LE(0x3c);
    if (pe + 6 <= buf.length && buf.toString('latin1', pe, pe + 4) === 'PE\0\0') {
      const machine = buf.readUInt16LE(pe + 4);
      return { format: 'PE', arch: machine === 0x8664 ? 'x86_64' : machine === 0xaa64 ? 'aarch64' : `machine 0x${machine.toString(16)}` };
    }
  }
  return { format: 'unknown', arch: 'unknown' };
}

/** Why `buf` is not a binary for `t`, or undefined when it is. */
export function wrongBinary(t: Target, buf: Buffer): string | undefined {
  const cpu = t.triple.split('-')[0]!;
  const want = { format: t.triple.includes('-apple-') ? 'Mach-O' : t.triple.includes('-windows-') ? 'PE' : 'ELF', arch: cpu.startsWith('armv7') ? 'arm' : cpu };
  const got = binaryKind(buf);
  if (got.format === want.format && (got.arch === want.arch || got.arch === 'universal')) return undefined;
  return got.format === 'unknown'
    ? `it is not an executable (expected ${want.format} ${want.arch})`
    : `it is ${got.format} ${got.arch}, not ${want.format} ${want.arch}`;
}
