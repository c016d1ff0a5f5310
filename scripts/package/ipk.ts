/**
 * OpenWrt .ipk packages for the static musl binaries, one per OpenWrt architecture name (opkg
 * only installs a package whose Architecture is in its arch list). The layout is what OpenWrt's
 * scripts/ipkg-build makes and opkg reads: a gzip'd tar of ./debian-binary, ./data.tar.gz and
 * ./control.tar.gz (in that order), tars with numeric owners, sorted names, SOURCE_DATE_EPOCH
 * mtimes and `gzip -n`. Installed-Size is, as ipkg-build computes it, the uncompressed size of
 * data.tar in bytes. No Depends: the binary is static (musl, vendored OpenSSL).
 */
import { UserError } from '../lib/errors.ts';
import { ipkName } from '../lib/plan.ts';
import { opkgVersion } from '../lib/version.ts';
import { readElfDeps } from './elf.ts';
import { HOMEPAGE, PACKAGE_NAME, SUMMARY } from './metadata.ts';
import type { Artifact, Payload } from './payload.ts';
import { MODE } from './reproducible.ts';
import { parentDirs, sortEntries, tarGz, type TarEntry } from './tarball.ts';

/** OpenWrt has no glibc: its packages (.ipk and .apk) take only a static binary. */
export function refuseDynamic(p: Payload): void {
  const elf = readElfDeps(p.binary.raw);
  if (elf && elf.needed.length > 0) {
    throw new UserError(
      `dist/${p.target.triple}/codex-litellm is dynamically linked (needs ${elf.needed.join(', ')}); OpenWrt packages ship the static musl build`,
      `Rebuild it: npx tsx build.ts --target ${p.target.triple}`,
    );
  }
}

export function ipks(p: Payload): Artifact[] {
  refuseDynamic(p);
  const mtime = new Date(p.epoch * 1000);
  const version = opkgVersion(p.release);
  const lic = `./usr/share/licenses/${PACKAGE_NAME}`;
  const files: TarEntry[] = [
    { path: `./usr/bin/${PACKAGE_NAME}`, mode: MODE.exec, content: p.binary },
    { path: `${lic}/LICENSE`, mode: MODE.file, content: p.docs.license },
    { path: `${lic}/NOTICE`, mode: MODE.file, content: p.docs.notice },
  ];
  const data = tarGz(sortEntries([...files, ...parentDirs(files.map((f) => f.path)).map((d) => ({ path: d, mode: MODE.dir }))]), mtime);
  // The same data.tar.gz serves every architecture name; only the control file differs.
  return p.target.openwrt.map((arch) => {
    const control = [
      `Package: ${PACKAGE_NAME}`,
      `Version: ${version}`,
      `License: Apache-2.0`,
      `LicenseFiles: LICENSE NOTICE`,
      `Section: utils`,
      `SourceDateEpoch: ${p.epoch}`,
      `URL: ${HOMEPAGE}`,
      `Maintainer: ${p.maintainer}`,
      `Architecture: ${arch}`,
      `Installed-Size: ${data.tarSize}`,
      `Description: ${SUMMARY} (codex-litellm ${p.version.version}, upstream ${p.version.upstreamTag})`,
      '',
    ].join('\n');
    const controlTar = tarGz(
      sortEntries<TarEntry>([
        { path: './', mode: MODE.dir },
        { path: './control', mode: MODE.file, content: Buffer.from(control) },
      ]),
      mtime,
    ).data;
    const outer = tarGz(
      [
        { path: './debian-binary', mode: MODE.file, content: Buffer.from('2.0\n') },
        { path: './data.tar.gz', mode: MODE.file, content: data.data, incompressible: true },
        { path: './control.tar.gz', mode: MODE.file, content: controlTar, incompressible: true },
      ],
      mtime,
    ).data;
    return { name: ipkName(version, arch), data: outer, kind: 'ipk' as const, target: p.target.triple };
  });
}
