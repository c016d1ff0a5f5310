/** What every packager gets: one target's binary (raw and compressed once), the docs, the versions and the time. */
import type { Target } from '../lib/targets.ts';
import type { Release, VersionInfo } from '../lib/version.ts';
import type { Deflated } from './deflate.ts';
import type { Docs } from './metadata.ts';

export interface Payload {
  target: Target;
  version: VersionInfo;
  release: Release;
  binary: { raw: Buffer; deflated: Deflated };
  docs: Docs;
  /** SOURCE_DATE_EPOCH: every mtime, the changelog date, the zip dates. */
  epoch: number;
  maintainer: string;
}

/** An artifact written by a packager: file name (in the output directory) and bytes. */
export interface Artifact {
  name: string;
  data: Buffer;
  kind: 'archive' | 'deb' | 'termux' | 'ipk' | 'apk' | 'npm';
  target?: string;
}
