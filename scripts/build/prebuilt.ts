/**
 * `build.ts --target <t>` with CODEX_LITELLM_PREBUILT=<dir>: take dist/<triple>/ from <dir> (the
 * binary and its BUILDINFO.json, as an earlier build on this machine left them) instead of
 * compiling. `npm run release:local` sets it so that release.yml's Build step, run by act, uses the
 * binary already built here rather than a second multi-hour Cargo build; everything after it
 * (packaging, checks, upload, release, publish) runs as in CI. Nothing is taken on trust: the
 * binary must be the one its BUILDINFO.json describes (sha256), for this target, this version,
 * this series of patches and the requested profile, and with --no-substitute it must have no
 * substituted dependency, as a release build must not.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { contextVersion, type Context } from '../lib/context.ts';
import { UserError } from '../lib/errors.ts';
import { copyFileAtomic, fileSha256 } from '../lib/fs.ts';
import type { Output } from '../lib/output.ts';
import type { BuildInfo, Plan } from '../lib/plan.ts';

export const PREBUILT_ENV = 'CODEX_LITELLM_PREBUILT';

export function usePrebuilt(ctx: Context, plan: Plan, dir: string, opts: { profile: string; noSubstitute: boolean }): Output {
  const expected = contextVersion(ctx);
  const lines: string[] = [];
  const done: { target: string; binary: string; from: string; sha256: string }[] = [];
  for (const tp of plan.targets) {
    const t = tp.target;
    const srcDir = path.join(path.resolve(dir), t.triple);
    const bin = path.join(srcDir, path.basename(tp.binary));
    const infoFile = path.join(srcDir, 'BUILDINFO.json');
    const hint = `Build it first (npx tsx build.ts --target ${t.triple} --profile ${opts.profile}), or unset ${PREBUILT_ENV} to build here.`;
    if (!fs.existsSync(bin) || !fs.existsSync(infoFile))
      throw new UserError(`${PREBUILT_ENV}: ${srcDir} has no ${path.basename(tp.binary)} with a BUILDINFO.json`, hint);
    const info = JSON.parse(fs.readFileSync(infoFile, 'utf8')) as BuildInfo;
    const sum = fileSha256(bin)!;
    const wrong: string[] = [];
    if (info.target !== t.triple) wrong.push(`it is for ${info.target}`);
    if (info.version !== expected.version) wrong.push(`its version is ${info.version}, this checkout makes ${expected.version}`);
    if (info.series !== expected.series) wrong.push(`it was built from patch series ${info.series}, this checkout has ${expected.series}`);
    if (info.profile !== opts.profile) wrong.push(`it is a ${info.profile} build, ${opts.profile} was asked for`);
    if (info.sha256 && info.sha256 !== sum)
      wrong.push(`the binary is not the one BUILDINFO.json describes (sha256 ${sum.slice(0, 12)}…, not ${info.sha256.slice(0, 12)}…)`);
    if (opts.noSubstitute && info.substitutions?.length) wrong.push(`it substitutes ${info.substitutions.map((s) => s.name).join(', ')} (--no-substitute)`);
    if (wrong.length) throw new UserError(`${PREBUILT_ENV}: ${bin} cannot stand for this build: ${wrong.join('; ')}`, hint);
    if (path.resolve(bin) !== path.resolve(tp.binary)) {
      fs.mkdirSync(path.dirname(tp.binary), { recursive: true });
      copyFileAtomic(bin, tp.binary);
      fs.chmodSync(tp.binary, 0o755);
      copyFileAtomic(infoFile, tp.buildInfo);
    }
    done.push({ target: t.triple, binary: tp.binary, from: bin, sha256: sum });
    lines.push(`${t.triple}: prebuilt ${bin} (${info.profile}, ${info.display}), not compiled (${PREBUILT_ENV})`);
  }
  return { doc: { ok: true, prebuilt: done }, text: lines.join('\n') };
}
