/**
 * What a binary is: upstream tag and commit plus a hash of our series and crates. The same string
 * goes into `codex-litellm --version`, artifact names and packages.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { listFiles, sha256 } from './fsutil.ts';
import { upstreamVersion, type UpstreamLock } from './lockfile.ts';
import { readSeries } from './series.ts';

/** Hash of everything of ours that goes into the tree: the ordered patches and the crates. */
export function seriesHash(seriesFile: string, cratesDir: string): string {
  const parts: string[] = [];
  for (const e of readSeries(seriesFile)) {
    const body = fs.existsSync(e.file) ? sha256(fs.readFileSync(e.file)) : 'missing';
    parts.push(`patch ${e.name} ${body}`);
  }
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
  /** The line `codex-litellm --version` prints after the program name. */
  display: string;
}

export function versionInfo(lock: UpstreamLock, series: string): VersionInfo {
  const version = `${upstreamVersion(lock.tag)}-litellm.${lock.release}`;
  return {
    version,
    upstreamTag: lock.tag,
    upstreamCommit: lock.commit,
    series,
    display: `${version} (upstream ${lock.tag} ${lock.commit.slice(0, 12)}, series ${series})`,
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
