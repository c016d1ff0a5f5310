/**
 * The per-target release archive: `codex-litellm-<version>-<target>.tar.gz` (`.zip` for Windows)
 * with one top-level directory of the same name holding the binary, LICENSE, NOTICE and
 * README.md, so extracting it never scatters files into the current directory.
 */
import { archiveName, archiveStem } from '../lib/plan.ts';
import { UPSTREAM_FACTS } from '../lib/project.ts';
import type { Artifact, Payload } from './payload.ts';
import { MODE } from './reproducible.ts';
import { sortEntries, tarGz, type TarEntry } from './tarball.ts';
import { zip } from './zip.ts';

export function releaseArchive(p: Payload): Artifact {
  const t = p.target;
  const dir = archiveStem(p.version.version, t.triple);
  const entries: TarEntry[] = sortEntries([
    { path: `${dir}/`, mode: MODE.dir },
    { path: `${dir}/${UPSTREAM_FACTS.binName}${t.exe}`, mode: MODE.exec, content: p.binary },
    { path: `${dir}/LICENSE`, mode: MODE.file, content: p.docs.license },
    { path: `${dir}/NOTICE`, mode: MODE.file, content: p.docs.notice },
    { path: `${dir}/README.md`, mode: MODE.file, content: p.docs.readme },
  ]);
  const data = t.archive === 'zip' ? zip(entries, p.epoch) : tarGz(entries, new Date(p.epoch * 1000)).data;
  return { name: archiveName(p.version.version, t.triple, t.archive), data, kind: 'archive', target: t.triple };
}
