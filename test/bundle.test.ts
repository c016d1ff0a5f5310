/** The esbuild bundle of the orchestrator (npm run bundle) behaves as `tsx build.ts` does. */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { bundle } from '../scripts/bundle.ts';
import { REPO } from './helpers/fixture.ts';

const TSX = path.join(REPO, 'node_modules', 'tsx', 'dist', 'cli.mjs');
// Inside the repo (not a temp dir): the bundle finds the repo by walking up to build.ts.
const OUT = path.join(REPO, '.cache', 'orchestrator-test', 'build.mjs');

const run = (entry: string[], args: string[]) =>
  spawnSync(process.execPath, [...entry, ...args], { cwd: REPO, encoding: 'utf8', env: { ...process.env, CI: '1' } });

describe('bundled orchestrator', () => {
  beforeAll(async () => {
    fs.rmSync(path.dirname(OUT), { recursive: true, force: true });
    await bundle(OUT);
  });

  it.each([['matrix'], ['--help'], ['--version', '--json'], ['package', '--dry-run', '--all', '--json'], ['bogus']])(
    '`%s` prints what tsx build.ts prints',
    (...args) => {
      const viaTsx = run([TSX, path.join(REPO, 'build.ts')], args);
      const viaBundle = run([OUT], args);
      expect(viaBundle.stdout).toBe(viaTsx.stdout);
      expect(viaBundle.stderr).toBe(viaTsx.stderr);
      expect(viaBundle.status).toBe(viaTsx.status);
    },
  );
});
