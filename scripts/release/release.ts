/**
 * Release steps run by .github/workflows/release.yml, one command each:
 *
 *   node --import tsx scripts/release/release.ts verify <tag>                 the tag names upstream.lock's version; CHANGELOG.md has its section
 *   node --import tsx scripts/release/release.ts notes <tag>                  print the release notes (that CHANGELOG.md section)
 *   node --import tsx scripts/release/release.ts github <tag> --assets <dir>  create/fill the GitHub Release (GITHUB_TOKEN, GITHUB_REPOSITORY)
 *   node --import tsx scripts/release/release.ts npm <tag> --dir <dir> [--dry-run]   publish platform packages, then the main one, with --provenance
 *
 * `verify` prints `key=value` lines for $GITHUB_OUTPUT. Exit status 2 with a message for anything wrong.
 *
 * Publishing needs GitHub's OIDC token for npm's --provenance. A local run of the workflow
 * (`npm run release:local`, against a local registry) has none: it sets CODEX_LITELLM_LOCAL_RELEASE=1,
 * and `npm` then publishes without provenance and says "skipped: needs GitHub OIDC" in its output
 * and the run's summary (never silently); it also lets a main package name platform packages this
 * machine did not build, listed in the summary. Without that variable a missing token is an error.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { describeError, UserError } from '../lib/errors.ts';
import { describePin, readLock } from '../lib/lockfile.ts';
import { type Channel, projectPaths } from '../lib/project.ts';
import { versionInfo } from '../lib/version.ts';
import { readReleaseNotes } from './changelog.ts';
import { makeOctokit, publishRelease } from './github.ts';
import { findPackages, publishAll } from './npm.ts';

/** What a run says where something needs GitHub's OIDC token and it has none (npm provenance, attestations). */
export const NO_OIDC = 'skipped: needs GitHub OIDC';
export const LOCAL_RELEASE_ENV = 'CODEX_LITELLM_LOCAL_RELEASE';

export interface ReleaseInfo {
  tag: string;
  version: string;
  upstreamTag: string;
  upstreamCommit: string;
  /** An upstream prerelease makes ours one too (GitHub "pre-release", npm dist-tag `next`). */
  prerelease: boolean;
  distTag: string;
  notes: string;
}

/**
 * Check a pushed tag against the repo: it must be `v` + the version upstream.lock gives, with a
 * CHANGELOG section. An edge pin (a commit of upstream main, see lockfile.ts) is only released when
 * the edge channel is asked for, and then as a prerelease under npm's `edge` dist-tag, never `latest`.
 */
export function releaseInfo(root: string, tag: string, channel: Channel = 'release'): ReleaseInfo {
  // The edge channel's pin and notes live in edge/ (project.ts); a release pin with --channel edge is refused below.
  const paths = projectPaths(root, channel);
  const lock = readLock(paths.lockFile);
  if (lock.edge && channel !== 'edge') {
    throw new UserError(
      `upstream.lock pins upstream ${describePin(lock)}, an edge commit of upstream main, not a release tag`,
      "An edge build is released only when asked for: pass --channel edge (CODEX_LITELLM_CHANNEL=edge; the release workflow's `channel` input). It goes to npm under the `edge` dist-tag, never `latest`.",
    );
  }
  if (!lock.edge && channel === 'edge') {
    throw new UserError(
      `--channel edge, but upstream.lock pins the release ${lock.tag}`,
      'Release it without --channel edge, or pin a main commit with `upstream bump --to <commit>`.',
    );
  }
  const v = versionInfo(lock, '');
  if (tag !== `v${v.version}`) {
    throw new UserError(
      `tag ${tag} does not match upstream.lock, which makes version ${v.version} (upstream ${lock.tag}, release ${lock.release})`,
      `Tag v${v.version}, or change \`release\` in upstream.lock (and CHANGELOG.md) and tag that.`,
    );
  }
  const notes = readReleaseNotes(path.join(root, 'CHANGELOG.md'), v.version);
  const prerelease = lock.edge !== undefined || /-(alpha|beta|rc)/.test(lock.tag);
  return {
    tag,
    version: v.version,
    upstreamTag: lock.edge ? describePin(lock) : lock.tag,
    upstreamCommit: lock.commit,
    prerelease,
    distTag: lock.edge ? 'edge' : prerelease ? 'next' : 'latest',
    notes: notes.body,
  };
}

function releaseBody(info: ReleaseInfo): string {
  return `${info.notes}\n\n---\nBuilt from upstream openai/codex ${info.upstreamTag} (${info.upstreamCommit}) with the codex-litellm patch series. Verify downloads with SHA256SUMS and \`gh attestation verify <file> --repo <owner>/<repo>\`.\n`;
}

export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env, out: (s: string) => void = (s) => process.stdout.write(s)): Promise<number> {
  try {
    const { values: v, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        assets: { type: 'string' },
        dir: { type: 'string' },
        root: { type: 'string' },
        channel: { type: 'string' },
        'dry-run': { type: 'boolean', default: false },
      },
    });
    const [cmd, tag] = positionals;
    if (!cmd || !tag) throw new UserError('usage: release.ts verify|notes|github|npm <tag> [--assets <dir>] [--dir <dir>] [--dry-run]');
    const root = path.resolve(v.root ?? projectPaths().root);
    const channel = v.channel ?? (env.CODEX_LITELLM_CHANNEL || 'release');
    if (channel !== 'release' && channel !== 'edge') throw new UserError(`unknown release channel \`${channel}\``, 'Channels: release (the default) and edge.');
    const info = releaseInfo(root, tag, channel);
    switch (cmd) {
      case 'verify':
        out(`version=${info.version}\nprerelease=${info.prerelease}\ndist_tag=${info.distTag}\nupstream_tag=${info.upstreamTag}\n`);
        return 0;
      case 'notes':
        out(`${releaseBody(info)}`);
        return 0;
      case 'github': {
        if (!v.assets) throw new UserError('github needs --assets <dir>');
        const repoSlug = env.GITHUB_REPOSITORY ?? '';
        const [owner, repo] = repoSlug.split('/');
        if (!owner || !repo) throw new UserError('GITHUB_REPOSITORY (owner/repo) is not set');
        if (!env.GITHUB_TOKEN) throw new UserError('GITHUB_TOKEN is not set', 'The release job passes secrets.GITHUB_TOKEN (contents: write).');
        const dir = path.resolve(v.assets);
        const files = fs
          .readdirSync(dir)
          .map((n) => path.join(dir, n))
          .filter((f) => fs.statSync(f).isFile())
          .sort();
        if (!files.some((f) => path.basename(f) === 'SHA256SUMS'))
          throw new UserError(`${dir} has no SHA256SUMS`, 'The release job writes it before this step.');
        const octokit = await makeOctokit({ token: env.GITHUB_TOKEN, baseUrl: env.GITHUB_API_URL });
        const r = await publishRelease(
          octokit,
          { owner, repo, tag, name: `codex-litellm ${info.version}`, body: releaseBody(info), prerelease: info.prerelease, files },
          (s) => out(`${s}\n`),
        );
        out(`${r.created ? 'created' : 'updated'} ${r.url}: ${r.uploaded.length} asset(s)${r.replaced.length ? `, ${r.replaced.length} replaced` : ''}\n`);
        return 0;
      }
      case 'npm': {
        if (!v.dir) throw new UserError('npm needs --dir <dir>');
        const dir = path.resolve(v.dir);
        const pkgs = findPackages(fs.readdirSync(dir).map((n) => path.join(dir, n)));
        const wrong = pkgs.filter((p) => p.version !== info.version);
        if (wrong.length) throw new UserError(`npm packages of another version than ${info.version}: ${wrong.map((p) => `${p.name}@${p.version}`).join(', ')}`);
        const local = env[LOCAL_RELEASE_ENV] === '1';
        const oidc = Boolean(env.ACTIONS_ID_TOKEN_REQUEST_URL && env.ACTIONS_ID_TOKEN_REQUEST_TOKEN);
        const notes: string[] = [];
        let provenance = true;
        if (!oidc && !v['dry-run']) {
          if (!local) {
            throw new UserError(
              "npm publish --provenance needs GitHub's OIDC token (ACTIONS_ID_TOKEN_REQUEST_URL), and this job has none",
              `The npm job needs \`permissions: id-token: write\`. A local run (npm run release:local) sets ${LOCAL_RELEASE_ENV}=1 to publish without provenance, and says so.`,
            );
          }
          provenance = false;
          notes.push(`npm provenance: ${NO_OIDC} (${LOCAL_RELEASE_ENV}=1: published without --provenance)`);
        }
        const allowMissing = local
          ? (missing: string[], main: string) =>
              notes.push(`partial release: ${main} names ${missing.length} platform package(s) not built here, so not published: ${missing.join(', ')}`)
          : undefined;
        const steps = publishAll(pkgs, { distTag: info.distTag, dryRun: v['dry-run'], provenance, allowMissing, log: (s) => out(`${s}\n`) });
        for (const n of notes) out(`${n}\n`);
        if (notes.length && env.GITHUB_STEP_SUMMARY)
          fs.appendFileSync(env.GITHUB_STEP_SUMMARY, `### npm publish\n\n${notes.map((n) => `- ${n}`).join('\n')}\n`);
        out(
          `${steps.filter((s) => !s.skipped).length} published, ${steps.filter((s) => s.skipped).length} already there (${info.version}, dist-tag ${info.distTag})\n`,
        );
        return 0;
      }
      default:
        throw new UserError(`unknown release command \`${cmd}\``, 'verify | notes | github | npm');
    }
  } catch (e) {
    const d = describeError(e);
    process.stderr.write(`error: ${d.message}\n${d.hint ? `  hint: ${d.hint}\n` : ''}`);
    return e instanceof UserError ? e.exitCode : 1;
  }
}

if (import.meta.url === `file://${process.argv[1]}`) process.exitCode = await main(process.argv.slice(2));
