/**
 * Every suite's scratch space in one directory per `npm test` run, removed when the run ends: the
 * suites make hundreds of temporary trees (fixture upstreams, npm prefixes, unpacked packages) and
 * a developer's /tmp must not keep them. vitest's globalSetup runs this before the test workers
 * start, so TMPDIR (which os.tmpdir() reads) reaches every worker and every process they spawn.
 * KEEP_TEST_TMP=1 keeps the directory, and says where it is, for looking at a failure.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export default function setup(): () => void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cl-test-run-'));
  process.env.TMPDIR = dir;
  return () => {
    if (process.env.KEEP_TEST_TMP === '1') {
      process.stderr.write(`KEEP_TEST_TMP=1: the suites' scratch files are in ${dir}\n`);
      return;
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
}
