/**
 * .deb packages: Debian/Ubuntu for the glibc targets and Termux for Android. A .deb is an ar
 * archive of `debian-binary` ("2.0\n"), `control.tar.gz` and `data.tar.gz`, in that order
 * (deb(5)). The Debian one follows policy as far as lintian checks a binary package: files under
 * /usr, a DEP-5 copyright pointing at common-licenses, changelog.Debian.gz, a manual page,
 * md5sums, Installed-Size in KiB, Depends computed from the binary's ELF like dpkg-shlibdeps.
 * Termux installs everything under its prefix and has no common-licenses, so the license text
 * itself is the copyright file.
 */
import { createHash } from 'node:crypto';
import { UserError } from '../lib/errors.ts';
import { debName, termuxName } from '../lib/plan.ts';
import { debianVersion } from '../lib/version.ts';
import { ar } from './ar.ts';
import { gzipSmall } from './deflate.ts';
import { debianDepends, readElfDeps } from './elf.ts';
import { manPage } from './manpage.ts';
import { HOMEPAGE, LONG_DESCRIPTION, PACKAGE_NAME, SUMMARY } from './metadata.ts';
import type { Artifact, Payload } from './payload.ts';
import { MODE, rfc2822 } from './reproducible.ts';
import { parentDirs, rawOf, sortEntries, tarGz, type TarEntry } from './tarball.ts';

/**
 * What lintian says of every real build that is not a fault:
 * - our packages are not uploaded to Debian, so there is no ITP bug for the first entry to close;
 * - `embedded-library libyaml`: lintian recognises libyaml's strings in unsafe-libyaml, the Rust
 *   translation of libyaml that serde_yaml compiles into the binary (Rust links crates statically;
 *   there is no shared libyaml to use instead). Seen on the real arm64 build.
 */
const LINTIAN_OVERRIDES = [`${PACKAGE_NAME}: initial-upload-closes-no-bugs`, `${PACKAGE_NAME}: embedded-library libyaml [usr/bin/${PACKAGE_NAME}]`, ''].join(
  '\n',
);

export const TERMUX_PREFIX = 'data/data/com.termux/files/usr';

/** Libraries every Android has; anything else would have to come from a Termux package. */
const ANDROID_SYSTEM_LIBS = new Set(['libc.so', 'libm.so', 'libdl.so', 'liblog.so', 'libz.so', 'libandroid.so']);

function copyrightDep5(maintainer: string): string {
  return [
    'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/',
    `Upstream-Name: ${PACKAGE_NAME}`,
    `Upstream-Contact: ${maintainer}`,
    `Source: ${HOMEPAGE}`,
    '',
    'Files: *',
    'Copyright: 2025 OpenAI',
    '           2026 The codex-litellm authors',
    'License: Apache-2.0',
    'Comment: The binary is the OpenAI Codex CLI (https://github.com/openai/codex) built',
    ' from an unmodified release tag with the codex-litellm patches and crates; see',
    ' /usr/share/doc/codex-litellm/NOTICE. Upstream includes code derived from',
    ' Ratatui (https://github.com/ratatui/ratatui), Copyright (c) 2016-2022 Florian',
    ' Dehau, MIT license; the Rust crates linked in carry their own permissive',
    ' licenses (MIT, Apache-2.0 and compatible).',
    '',
    'License: Apache-2.0',
    ' Licensed under the Apache License, Version 2.0 (the "License");',
    ' you may not use this file except in compliance with the License.',
    ' You may obtain a copy of the License at',
    ' .',
    '     https://www.apache.org/licenses/LICENSE-2.0',
    ' .',
    ' Unless required by applicable law or agreed to in writing, software',
    ' distributed under the License is distributed on an "AS IS" BASIS,',
    ' WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.',
    ' See the License for the specific language governing permissions and',
    ' limitations under the License.',
    ' .',
    ' On Debian systems, the complete text of the Apache License, Version 2.0',
    ' can be found in "/usr/share/common-licenses/Apache-2.0".',
    '',
  ].join('\n');
}

function changelog(p: Payload, version: string): string {
  const v = p.version;
  return [
    `${PACKAGE_NAME} (${version}) unstable; urgency=medium`,
    '',
    `  * codex-litellm ${v.version}: upstream ${v.upstreamTag} (${v.upstreamCommit.slice(0, 12)}),`,
    `    patch series ${v.series}.`,
    '',
    ` -- ${p.maintainer}  ${rfc2822(p.epoch)}`,
    '',
  ].join('\n');
}

/** dpkg-gencontrol's estimate: each file rounded up to whole KiB, each directory 1 KiB. */
export function installedSizeKiB(entries: readonly TarEntry[]): number {
  return entries.reduce((sum, e) => sum + (e.path.endsWith('/') ? 1 : Math.ceil(rawOf(e.content).length / 1024)), 0);
}

function controlFile(fields: [string, string | undefined][]): string {
  return (
    fields
      .filter(([, v]) => v !== undefined && v !== '')
      .map(([k, v]) => `${k}: ${v}`)
      .join('\n') + '\n'
  );
}

export function description(): string {
  return `${SUMMARY}\n${LONG_DESCRIPTION.map((l) => ` ${l}`).join('\n')}`;
}

function md5sums(entries: readonly TarEntry[]): string {
  return entries
    .filter((e) => !e.path.endsWith('/'))
    .map((e) => `${createHash('md5').update(rawOf(e.content)).digest('hex')}  ${e.path.replace(/^\.\//, '')}\n`)
    .join('');
}

/** ar(debian-binary, control.tar.gz, data.tar.gz); `all` holds every data entry, directories included. */
function assemble(p: Payload, all: TarEntry[], control: string): Buffer {
  const mtime = new Date(p.epoch * 1000);
  const sorted = sortEntries(all);
  const ctl = sortEntries<TarEntry>([
    { path: './', mode: MODE.dir },
    { path: './control', mode: MODE.file, content: Buffer.from(control) },
    { path: './md5sums', mode: MODE.file, content: Buffer.from(md5sums(sorted)) },
  ]);
  return ar(
    [
      { name: 'debian-binary', data: Buffer.from('2.0\n') },
      { name: 'control.tar.gz', data: tarGz(ctl, mtime).data },
      { name: 'data.tar.gz', data: tarGz(sorted, mtime).data },
    ],
    p.epoch,
  );
}

/** The entries plus a directory entry for each parent (`./`, `./usr/`, ...), as dpkg-deb writes them. */
function withDirs(entries: TarEntry[]): TarEntry[] {
  return [
    ...entries,
    ...parentDirs(entries.map((e) => e.path))
      .filter((d) => !entries.some((e) => e.path === d))
      .map((d) => ({ path: d, mode: MODE.dir })),
  ];
}

/** Debian/Ubuntu .deb for a glibc target: `codex-litellm_<version>_<arch>.deb`. */
export function debianDeb(p: Payload): Artifact {
  const arch = p.target.debian;
  if (!arch) throw new Error(`${p.target.triple} has no Debian architecture`);
  const elf = readElfDeps(p.binary.raw);
  if (!elf)
    throw new UserError(`dist/${p.target.triple}/codex-litellm is not a 64-bit ELF executable`, `Rebuild it: npx tsx build.ts --target ${p.target.triple}`);
  const version = debianVersion(p.release);
  const doc = `./usr/share/doc/${PACKAGE_NAME}`;
  const data: TarEntry[] = [
    { path: `./usr/bin/${PACKAGE_NAME}`, mode: MODE.exec, content: p.binary },
    { path: `${doc}/copyright`, mode: MODE.file, content: Buffer.from(copyrightDep5(p.maintainer)) },
    { path: `${doc}/changelog.Debian.gz`, mode: MODE.file, content: gzipSmall(Buffer.from(changelog(p, version))) },
    { path: `${doc}/NOTICE`, mode: MODE.file, content: p.docs.notice },
    // Policy 12.3: documentation over 4 KiB is compressed with gzip -9n.
    { path: `${doc}/README.md.gz`, mode: MODE.file, content: gzipSmall(p.docs.readme) },
    { path: `./usr/share/man/man1/${PACKAGE_NAME}.1.gz`, mode: MODE.file, content: gzipSmall(Buffer.from(manPage(p.version.version, p.epoch))) },
    { path: `./usr/share/lintian/overrides/${PACKAGE_NAME}`, mode: MODE.file, content: Buffer.from(LINTIAN_OVERRIDES) },
  ];
  const all = withDirs(data);
  const control = controlFile([
    ['Package', PACKAGE_NAME],
    ['Version', version],
    ['Architecture', arch],
    ['Maintainer', p.maintainer],
    ['Installed-Size', String(installedSizeKiB(all))],
    ['Depends', debianDepends(elf)],
    ['Section', 'devel'],
    ['Priority', 'optional'],
    ['Homepage', HOMEPAGE],
    ['Description', description()],
  ]);
  return { name: debName(version, arch), data: assemble(p, all, control), kind: 'deb', target: p.target.triple };
}

/** Termux .deb for Android: everything under $PREFIX, `codex-litellm_<version>_termux-<arch>.deb`. */
export function termuxDeb(p: Payload): Artifact {
  const arch = p.target.termux;
  if (!arch) throw new Error(`${p.target.triple} has no Termux architecture`);
  const elf = readElfDeps(p.binary.raw);
  const foreign = (elf?.needed ?? []).filter((l) => !ANDROID_SYSTEM_LIBS.has(l));
  if (foreign.length) {
    throw new UserError(
      `the Android binary needs ${foreign.join(', ')}, which Android does not provide`,
      'Termux packages would have to provide them; link them statically (as OpenSSL is, vendored) instead.',
    );
  }
  const version = debianVersion(p.release);
  const prefix = `./${TERMUX_PREFIX}`;
  const doc = `${prefix}/share/doc/${PACKAGE_NAME}`;
  const data: TarEntry[] = [
    { path: `${prefix}/bin/${PACKAGE_NAME}`, mode: MODE.exec, content: p.binary },
    // Termux has no /usr/share/common-licenses: the license text is the copyright file, as in Termux's own packages.
    { path: `${doc}/copyright`, mode: MODE.file, content: p.docs.license },
    { path: `${doc}/NOTICE`, mode: MODE.file, content: p.docs.notice },
    { path: `${doc}/README.md`, mode: MODE.file, content: p.docs.readme },
  ];
  const all = withDirs(data);
  const control = controlFile([
    ['Package', PACKAGE_NAME],
    ['Version', version],
    ['Architecture', arch],
    ['Maintainer', p.maintainer],
    ['Installed-Size', String(installedSizeKiB(all))],
    ['Section', 'devel'],
    ['Priority', 'optional'],
    ['Homepage', HOMEPAGE],
    ['Description', description()],
  ]);
  return { name: termuxName(version, arch), data: assemble(p, all, control), kind: 'termux', target: p.target.triple };
}
