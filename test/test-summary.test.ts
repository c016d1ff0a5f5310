/**
 * The closing line CI prints (scripts/test-summary.mjs) can never say "0 failed" about a failed run:
 * a real vitest run over fixture files, one whose beforeAll throws, fed to the summary.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO } from './helpers/fixture.ts';

// Inside the repo, so the fixture files resolve `vitest` from its node_modules.
const DIR = path.join(REPO, '.cache', `test-summary-fixture-${process.pid}`);
const VITEST = path.join(REPO, 'node_modules', 'vitest', 'vitest.mjs');
const SUMMARY = path.join(REPO, 'scripts', 'test-summary.mjs');

const OK = `import { expect, it } from 'vitest';\nit('passes', () => expect(1).toBe(1));\n`;
const SETUP_THROWS = `import { beforeAll, describe, expect, it } from 'vitest';
describe('a suite whose setup throws', () => {
  beforeAll(() => {
    throw new Error('setup failed');
  });
  it('never runs', () => expect(1).toBe(1));
  it('never runs either', () => expect(1).toBe(1));
});
`;

/** vitest over the given files in DIR, then the summary over its JSON report. */
function runAndSummarise(files: Record<string, string>): { vitest: number | null; summary: { status: number | null; stdout: string } } {
  fs.rmSync(DIR, { recursive: true, force: true });
  fs.mkdirSync(DIR, { recursive: true });
  fs.writeFileSync(path.join(DIR, 'vitest.config.mjs'), "export default { test: { include: ['*.test.ts'] } };\n");
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(DIR, name), text);
  // The outer vitest's own variables would make the inner run think it is a worker.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('VITEST')));
  const v = spawnSync(process.execPath, [VITEST, 'run', '--root', DIR, '--reporter=json', '--outputFile=report.json'], { cwd: DIR, env, encoding: 'utf8' });
  const s = spawnSync(process.execPath, [SUMMARY, path.join(DIR, 'report.json')], { cwd: DIR, encoding: 'utf8' });
  return { vitest: v.status, summary: { status: s.status, stdout: s.stdout } };
}

describe('scripts/test-summary.mjs', () => {
  beforeAll(() => fs.rmSync(DIR, { recursive: true, force: true }));
  afterAll(() => fs.rmSync(DIR, { recursive: true, force: true }));

  it('counts a file whose beforeAll throws as failed, and exits non-zero', () => {
    const r = runAndSummarise({ 'ok.test.ts': OK, 'setup.test.ts': SETUP_THROWS });
    expect(r.vitest).not.toBe(0);
    const lines = r.summary.stdout.trim().split('\n');
    expect(lines).toContainEqual(expect.stringMatching(/^failed outside its tests: setup\.test\.ts: /));
    expect(lines.at(-1)).toBe('1 passed, 1 failed, 2 skipped');
    expect(r.summary.status).toBe(1);
  });

  it('says 0 failed and exits 0 when everything passed', () => {
    const r = runAndSummarise({ 'ok.test.ts': OK });
    expect(r.vitest).toBe(0);
    expect(r.summary.stdout.trim()).toBe('1 passed, 0 failed');
    expect(r.summary.status).toBe(0);
  });
});
