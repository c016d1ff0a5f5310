/**
 * Android's symbol files (`libc.map.txt` and friends): linker version scripts whose comments say
 * on which CPU and from which API level each symbol exists. The NDK's stub libraries are made from
 * them (soong's cc/symbolfile and ndkstubgen); we make ours the same way, so a binary linked
 * against our stubs can only use what a device of that API level has. The rules, as AOSP's
 * docs/map_files.md gives them:
 * - a version block or a symbol tagged with CPUs (`arm`, `arm64`, `x86`, `x86_64`, `riscv64`)
 *   exists only on those CPUs;
 * - `introduced=N` (or `introduced-<cpu>=N`, which wins for that CPU) means from API level N;
 *   the block's tags hold for all of its symbols;
 * - blocks named `*_PRIVATE` or `*_PLATFORM`, and anything tagged `platform-only`, are not NDK API;
 *   `apex`, `llndk` and `systemapi` symbols are only for those builds, so not for an app (unless
 *   also tagged for the NDK, e.g. `# apex llndk` alone is omitted, `# apex` with no NDK use too);
 * - `var` is data, `weak` a weak definition; `versioned=N` keeps a symbol unversioned below N;
 * - `future` exists only at the future API level.
 */

export const CPUS = ['arm', 'arm64', 'x86', 'x86_64', 'riscv64'] as const;
export type Cpu = (typeof CPUS)[number];

/** API level code names used in map files (bionic's api-level.h). */
const CODENAMES: Record<string, number> = {
  G: 9,
  I: 14,
  J: 16,
  J_MR1: 17,
  J_MR2: 18,
  K: 19,
  L: 21,
  L_MR1: 22,
  M: 23,
  N: 24,
  N_MR1: 25,
  O: 26,
  O_MR1: 27,
  P: 28,
  Q: 29,
  R: 30,
  S: 31,
  Sv2: 32,
  T: 33,
  U: 34,
  V: 35,
};
const FUTURE = 10000;
const MODE_TAGS = new Set(['apex', 'llndk', 'systemapi']);

export interface MapSymbol {
  name: string;
  tags: string[];
}

export interface MapVersion {
  name: string;
  base: string | undefined;
  tags: string[];
  symbols: MapSymbol[];
}

export class MapFileError extends Error {}

function tagsOf(line: string): string[] {
  const i = line.indexOf('#');
  return i < 0
    ? []
    : line
        .slice(i + 1)
        .trim()
        .split(/\s+/)
        .filter(Boolean);
}

/** Parse a symbol file into its version blocks (global symbols only; `extern "C++"` blocks are skipped, as ndkstubgen does). */
export function parseMapFile(text: string, file = 'map.txt'): MapVersion[] {
  const lines = text.split('\n');
  const versions: MapVersion[] = [];
  let i = 0;
  /** The line being read (0-based), for messages. */
  let at = 0;
  const fail = (why: string): never => {
    throw new MapFileError(`${file}:${at + 1}: ${why}`);
  };
  const next = (): string | undefined => {
    while (i < lines.length) {
      const l = lines[i]!.trim();
      at = i;
      if (l && !l.startsWith('#')) return l;
      i += 1;
    }
    at = lines.length - 1;
    return undefined;
  };
  for (let line = next(); line !== undefined; line = next()) {
    if (!line.includes('{')) fail(`expected a version block, found \`${line}\``);
    const v: MapVersion = { name: line.split('{')[0]!.trim(), base: undefined, tags: tagsOf(line), symbols: [] };
    // zlib's versions have dots (ZLIB_1.2.0.2).
    if (!/^[A-Za-z_][A-Za-z0-9_.]*$/.test(v.name)) fail(`bad version name \`${v.name}\``);
    let global = true;
    let cpp = false;
    i += 1;
    for (;;) {
      const l = next();
      if (l === undefined) fail(`version block ${v.name} is not closed`);
      i += 1;
      const body = l!.split('#')[0]!.trim();
      if (body.startsWith('}')) {
        const rest = body.slice(1).trim();
        if (!rest.endsWith(';')) fail('expected `;` after `}`');
        if (cpp) {
          cpp = false;
          continue;
        }
        const base = rest.slice(0, -1).trim();
        v.base = base || undefined;
        break;
      }
      if (/^extern\s+"C\+\+"\s*\{$/.test(body)) {
        cpp = true;
        continue;
      }
      if (cpp) continue;
      const label = /^(global|local)\s*:\s*$/.exec(body);
      if (label) {
        global = label[1] === 'global';
        continue;
      }
      if (!global) continue;
      if (!body.endsWith(';')) fail(`expected \`;\` after symbol \`${body}\``);
      const name = body.slice(0, -1).trim();
      if (name.includes('*')) fail('wildcards are not allowed among global symbols');
      if (!/^[A-Za-z_.$][A-Za-z0-9_.$]*$/.test(name)) fail(`bad symbol name \`${name}\``);
      v.symbols.push({ name, tags: tagsOf(l!) });
    }
    versions.push(v);
  }
  return versions;
}

function apiValue(value: string, tag: string): number {
  if (/^\d+$/.test(value)) return Number(value);
  if (value === 'current') return FUTURE;
  const n = CODENAMES[value];
  if (n === undefined) throw new MapFileError(`unknown API level \`${value}\` in tag \`${tag}\``);
  return n;
}

function inCpu(tags: string[], cpu: Cpu): boolean {
  const cpus = tags.filter((t) => (CPUS as readonly string[]).includes(t));
  return cpus.length === 0 || cpus.includes(cpu);
}

/** The API level a tag list introduces a symbol at on `cpu` (arch-specific tags win), or undefined: always there. */
function introducedAt(tags: string[], cpu: Cpu): number | undefined {
  let common: number | undefined;
  let specific: number | undefined;
  for (const t of tags) {
    if (t === 'future') return FUTURE;
    const [k, v] = t.split('=', 2) as [string, string | undefined];
    if (v === undefined) continue;
    if (k === 'introduced') common = apiValue(v, t);
    else if (k === `introduced-${cpu}`) specific = apiValue(v, t);
  }
  return specific ?? common;
}

/** Tagged for platform builds only (apex, llndk, systemapi): not part of the NDK. */
function platformMode(tags: string[]): boolean {
  return tags.some((t) => MODE_TAGS.has(t));
}

function present(tags: string[], cpu: Cpu, api: number): boolean {
  if (platformMode(tags) || !inCpu(tags, cpu)) return false;
  const at = introducedAt(tags, cpu);
  return at === undefined || api >= at;
}

export interface StubSymbol {
  name: string;
  /** Data (`var`) rather than a function. */
  data: boolean;
  weak: boolean;
  /** The version it is bound to, or undefined when `versioned=N` keeps it unversioned at this level. */
  version: string | undefined;
}

export interface StubVersion {
  name: string;
  base: string | undefined;
  symbols: string[];
}

export interface StubLibrary {
  symbols: StubSymbol[];
  /** The version blocks, in file order, for the version script. */
  versions: StubVersion[];
}

/** What a stub library of these versions exports on `cpu` at API level `api`. */
export function selectStubs(versions: MapVersion[], cpu: Cpu, api: number): StubLibrary {
  const kept = versions.filter((v) => !/_(PRIVATE|PLATFORM)$/.test(v.name) && !v.tags.includes('platform-only') && present(v.tags, cpu, api));
  const seen = new Map<string, string>();
  const symbols: StubSymbol[] = [];
  const out: StubVersion[] = [];
  for (const v of kept) {
    const names: string[] = [];
    for (const s of v.symbols) {
      if (!present(s.tags, cpu, api)) continue;
      const dup = seen.get(s.name);
      if (dup) throw new MapFileError(`symbol ${s.name} is in both ${dup} and ${v.name}`);
      seen.set(s.name, v.name);
      const versionedAt = s.tags.find((t) => t.startsWith('versioned='));
      const versioned = versionedAt === undefined || api >= apiValue(versionedAt.slice('versioned='.length), versionedAt);
      symbols.push({ name: s.name, data: s.tags.includes('var'), weak: s.tags.includes('weak'), version: versioned ? v.name : undefined });
      if (versioned) names.push(s.name);
    }
    out.push({ name: v.name, base: v.base, symbols: names });
  }
  // A block with nothing at this level (all of LIBC_O at API 24) is left out, as the NDK's stubs
  // do; a base that is left out (or private) gives way to its own base.
  const used = out.filter((v) => v.symbols.length);
  const usedNames = new Set(used.map((v) => v.name));
  for (const v of used) {
    while (v.base && !usedNames.has(v.base)) v.base = versions.find((x) => x.name === v.base)?.base;
  }
  return { symbols, versions: used };
}

/** The C source of the stub library: an empty definition per symbol (the NDK's stubs are the same). */
export function stubSource(lib: StubLibrary): string {
  const lines = ['/* Generated from an Android symbol file: definitions only, for linking against. */'];
  for (const s of lib.symbols) {
    const weak = s.weak ? '__attribute__((weak)) ' : '';
    lines.push(s.data ? `${weak}int ${s.name} = 0;` : `${weak}void ${s.name}(void) {}`);
  }
  return `${lines.join('\n')}\n`;
}

/** The version script for the stub library: each kept block with its symbols, bound to its base. */
export function versionScript(lib: StubLibrary): string {
  const blocks = lib.versions.map((v) => {
    const body = v.symbols.length ? ['  global:', ...v.symbols.map((s) => `    ${s};`)] : [];
    return [`${v.name} {`, ...body, `}${v.base ? ` ${v.base}` : ''};`].join('\n');
  });
  return `${blocks.join('\n\n')}\n`;
}

/** The CPU name map files use for a Rust target's architecture. */
export function mapCpu(triple: string): Cpu {
  const arch = triple.split('-')[0]!;
  if (arch === 'aarch64') return 'arm64';
  if (arch === 'x86_64') return 'x86_64';
  if (arch === 'i686') return 'x86';
  if (arch === 'riscv64') return 'riscv64';
  if (arch.startsWith('arm') || arch.startsWith('thumb')) return 'arm';
  throw new MapFileError(`no Android CPU for ${triple}`);
}
