/**
 * What a binary is: upstream tag and commit plus a hash of our series and crates. The same string
 * goes into `codex-litellm --version`, artifact names and packages.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import semver from 'semver';
import { UserError } from './errors.ts';
import { listFiles, sha256 } from './fs.ts';
import { describePin, upstreamVersion, versionTag, type UpstreamLock } from './lockfile.ts';
import { readSeries } from './series.ts';
import { describeReplaced, describeSubstitutions, type Substitution } from './substitutions.ts';

/** Hash of everything of ours that goes into the tree: the ordered patches and the crates. */
export function seriesHash(seriesFile: string, cratesDir: string, substitutions: Substitution[] = []): string {
  const parts: string[] = [];
  for (const e of readSeries(seriesFile)) {
    const body = fs.existsSync(e.file) ? sha256(fs.readFileSync(e.file)) : 'missing';
    parts.push(`patch ${e.name} ${body}`);
  }
  // A substituted build is another build: its hash differs from the plain one.
  for (const s of substitutions) parts.push(`substitution ${s.name} ${sha256(fs.readFileSync(s.file))}`);
  for (const rel of listFiles(cratesDir, new Set(['target', 'node_modules', '.git']))) {
    parts.push(`crate ${rel} ${sha256(fs.readFileSync(path.join(cratesDir, rel)))}`);
  }
  return sha256(parts.join('\n')).slice(0, 12);
}

export interface VersionInfo {
  /** Our package version: upstream's plus our release counter, e.g. 0.53.0-litellm.1. */
  version: string;
  upstreamTag: string;
  upstreamCommit: string;
  series: string;
  /** Git dependencies this build replaced (name, what it replaces, with what); empty for a normal build. */
  substitutions: { name: string; replaces: string; with: string }[];
  /** The line `codex-litellm --version` prints after the program name. */
  display: string;
}

export function versionInfo(lock: UpstreamLock, series: string, substitutions: Substitution[] = []): VersionInfo {
  const version = npmVersion(releaseOf(lock));
  const substituted = substitutions.length ? `, substituted ${describeSubstitutions(substitutions)}` : '';
  return {
    version,
    upstreamTag: lock.tag,
    upstreamCommit: lock.commit,
    series,
    substitutions: substitutions.map((s) => ({ name: s.name, replaces: describeReplaced(s.replaces), with: s.with })),
    display: `${version} (upstream ${describePin(lock)}, series ${series}${substituted})`,
  };
}

/** Environment the patched build reads (option_env! in the cli crate). */
export function versionEnv(v: VersionInfo): Record<string, string> {
  return {
    CODEX_LITELLM_VERSION: v.display,
    CODEX_LITELLM_UPSTREAM_TAG: v.upstreamTag,
    CODEX_LITELLM_UPSTREAM_COMMIT: v.upstreamCommit,
    CODEX_LITELLM_SERIES: v.series,
  };
}

/**
 * The two numbers every package version is made of: upstream's version (from the tag) and our
 * release counter (upstream.lock `release`). Each format below spells them its own way, and each
 * spelling must sort a higher counter, or a newer upstream, as newer (test/package-version.test.ts
 * checks this against semver, our Debian comparison and real `dpkg --compare-versions`).
 */
export interface Release {
  /** Upstream's semver, e.g. 0.53.0 or 0.54.0-alpha.2; for an edge pin, the base's next patch (0.125.1). */
  upstream: string;
  release: number;
  /**
   * An edge pin's date (YYYYMMDD): the build is a prerelease of `upstream`, so it sorts above the
   * base release it descends from and below the next real release.
   */
  edge?: string;
}

export function releaseOf(lock: Pick<UpstreamLock, 'tag' | 'release' | 'edge'>): Release {
  if (!Number.isInteger(lock.release) || lock.release < 1) {
    throw new UserError(`upstream.lock: release must be a whole number >= 1, not ${lock.release}`, 'Start at release = 1 for each upstream tag and count up.');
  }
  const upstream = upstreamVersion(versionTag(lock));
  if (!lock.edge) return { upstream, release: lock.release };
  const next = semver.prerelease(upstream) ? semver.coerce(upstream)?.version : semver.inc(upstream, 'patch');
  if (!next) throw new UserError(`edge base \`${lock.edge.base}\` does not carry a version`, 'An edge pin counts from a release tag like rust-v0.125.0.');
  return { upstream: next, release: lock.release, edge: lock.edge.date.replace(/-/g, '') };
}

/**
 * npm (semver): `0.53.0-litellm.1`. This is a semver prerelease of 0.53.0, which is fine for
 * ordering among our own releases (`litellm.2` > `litellm.1`, numeric identifiers compare as
 * numbers; any 0.54.0-* > any 0.53.0-*), but it means two things: `npm publish` needs an explicit
 * `--tag latest`, and ranges such as `^0.53.0` do not match it (users install by the dist-tag).
 *
 * An upstream prerelease (0.54.0-alpha.2) keeps its identifiers and gets ours appended:
 * 0.54.0-alpha.2.litellm.1. That sorts below 0.54.0-litellm.N only while upstream's identifier
 * sorts below "litellm" (upstream tags only alpha and beta), so anything else is refused rather
 * than silently mis-ordered. A prerelease without a number gets `.0` so `alpha` < `alpha.1` holds.
 */
export function npmVersion(r: Release): string {
  const v = semver.parse(r.upstream);
  if (!v) throw new UserError(`upstream version \`${r.upstream}\` is not semver`, 'Upstream release tags look like rust-v0.53.0.');
  const core = `${v.major}.${v.minor}.${v.patch}`;
  // "edge" sorts below "litellm": an edge build of 0.125.1 comes before 0.125.1-litellm.1.
  if (r.edge) return `${core}-edge.${r.edge}.litellm.${r.release}`;
  if (v.prerelease.length === 0) return `${core}-litellm.${r.release}`;
  const ids = v.prerelease.map(String);
  if (!/^[a-k][a-z]*$/i.test(ids[0]!) || ids[0]!.toLowerCase() >= 'litellm') {
    throw new UserError(
      `upstream prerelease \`${r.upstream}\` cannot be mapped to an npm version that sorts below the final release`,
      'Upstream prereleases are expected to be alpha/beta (rust-v0.54.0-alpha.2); extend npmVersion in scripts/lib/version.ts for others.',
    );
  }
  if (!/^\d+$/.test(ids[ids.length - 1]!)) ids.push('0');
  return `${core}-${ids.join('.')}.litellm.${r.release}`;
}

/**
 * Debian and Termux (dpkg): `<upstream>-<release>`, e.g. 0.53.0-1. The upstream part is
 * upstream's version with its prerelease after `~` (0.54.0~alpha.2), because `~` sorts before
 * everything, even the end of the string, so 0.54.0~alpha.2 < 0.54.0; a `-` there would make the
 * alpha sort *after* the release. The Debian revision is our release counter: it counts what we
 * add to one upstream version (patches, crates and packaging), which is what a revision means.
 */
export function debianVersion(r: Release): string {
  const v = semver.parse(r.upstream);
  if (!v) throw new UserError(`upstream version \`${r.upstream}\` is not semver`, 'Upstream release tags look like rust-v0.53.0.');
  const pre = r.edge ? `~edge${r.edge}` : v.prerelease.length ? `~${v.prerelease.join('.')}` : '';
  return `${v.major}.${v.minor}.${v.patch}${pre}-${r.release}`;
}

/**
 * OpenWrt opkg: the same string as dpkg. opkg's version comparison is dpkg's (libopkg/pkg.c
 * carries dpkg's verrevcmp, `~` included) and OpenWrt packages spell versions PKG_VERSION-PKG_RELEASE.
 */
export function opkgVersion(r: Release): string {
  return debianVersion(r);
}

/**
 * apk-tools v3 (OpenWrt 25.12 and later): `<upstream>-r<release>`, e.g. 0.53.0-r1, the way
 * OpenWrt spells PKG_VERSION-rPKG_RELEASE for apk. apk's grammar (apk-package(5), version.c) is
 * `number{.number}...{letter}{_suffix{number}}...{~hash}{-r#}` with the suffixes alpha, beta,
 * pre, rc (before the release) and cvs, svn, git, hg, p (after it): an upstream prerelease
 * 0.54.0-alpha.2 becomes 0.54.0_alpha2-r1, which apk sorts before 0.54.0-r1. Anything apk cannot
 * spell is refused rather than mangled.
 */
export function apkVersion(r: Release): string {
  const v = semver.parse(r.upstream);
  if (!v) throw new UserError(`upstream version \`${r.upstream}\` is not semver`, 'Upstream release tags look like rust-v0.53.0.');
  let pre = '';
  // An edge build is a prerelease of its version: apk's `_pre<date>` sorts below the release.
  if (r.edge) pre = `_pre${r.edge}`;
  else if (v.prerelease.length) {
    const m = /^(alpha|beta|pre|rc)(?:\.(\d+))?$/.exec(v.prerelease.join('.'));
    if (!m) {
      throw new UserError(
        `upstream prerelease \`${r.upstream}\` has no apk spelling`,
        'apk versions allow the prerelease suffixes _alpha, _beta, _pre and _rc with one number (0.54.0_alpha2); extend apkVersion in scripts/lib/version.ts.',
      );
    }
    pre = `_${m[1]}${m[2] ?? ''}`;
  }
  return `${v.major}.${v.minor}.${v.patch}${pre}-r${r.release}`;
}

/** What apk-tools' version.c accepts (apk_version_validate), for the writer's own check. */
export function isApkVersion(v: string): boolean {
  return /^[0-9]+(\.[0-9]+)*[a-z]?(_(alpha|beta|pre|rc|cvs|svn|git|hg|p)[0-9]*)*(~[0-9a-f]+)?(-r[0-9]+)?$/.test(v);
}

/**
 * dpkg's version comparison (Debian policy 5.6.12): epoch numerically, then upstream version and
 * revision with verrevcmp: non-digit runs compare by character with `~` before everything
 * (even the end) and letters before other characters; digit runs compare numerically.
 * Returns <0, 0 or >0.
 */
export function compareDebianVersions(a: string, b: string): number {
  const pa = splitDebianVersion(a);
  const pb = splitDebianVersion(b);
  if (pa.epoch !== pb.epoch) return pa.epoch < pb.epoch ? -1 : 1;
  return verrevcmp(pa.upstream, pb.upstream) || verrevcmp(pa.revision, pb.revision);
}

function splitDebianVersion(v: string): { epoch: number; upstream: string; revision: string } {
  const colon = v.indexOf(':');
  const epoch = colon >= 0 ? Number(v.slice(0, colon)) : 0;
  const rest = colon >= 0 ? v.slice(colon + 1) : v;
  const dash = rest.lastIndexOf('-');
  const upstream = dash >= 0 ? rest.slice(0, dash) : rest;
  const revision = dash >= 0 ? rest.slice(dash + 1) : '';
  if (!Number.isInteger(epoch) || epoch < 0 || !/^[0-9][A-Za-z0-9.+~-]*$/.test(upstream) || !/^[A-Za-z0-9.+~]*$/.test(revision)) {
    throw new UserError(
      `\`${v}\` is not a valid Debian version`,
      'Debian versions are [epoch:]upstream_version[-debian_revision], upstream starting with a digit.',
    );
  }
  return { epoch, upstream, revision };
}

function order(c: string | undefined): number {
  if (c === undefined) return 0;
  if (c === '~') return -1;
  if (/[0-9]/.test(c)) return 0;
  if (/[A-Za-z]/.test(c)) return c.charCodeAt(0);
  return c.charCodeAt(0) + 256;
}

function verrevcmp(a: string, b: string): number {
  let i = 0;
  let j = 0;
  const digit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';
  while (i < a.length || j < b.length) {
    while ((i < a.length && !digit(a[i])) || (j < b.length && !digit(b[j]))) {
      const ac = order(a[i]);
      const bc = order(b[j]);
      if (ac !== bc) return ac - bc;
      i += 1;
      j += 1;
    }
    while (a[i] === '0') i += 1;
    while (b[j] === '0') j += 1;
    let firstDiff = 0;
    while (digit(a[i]) && digit(b[j])) {
      if (!firstDiff) firstDiff = a.charCodeAt(i) - b.charCodeAt(j);
      i += 1;
      j += 1;
    }
    if (digit(a[i])) return 1;
    if (digit(b[j])) return -1;
    if (firstDiff) return firstDiff;
  }
  return 0;
}
