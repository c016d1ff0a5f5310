import * as os from 'node:os';
import * as path from 'node:path';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // One scratch directory per run (TMPDIR), removed at the end: see test/helpers/scratch.ts.
    globalSetup: ['test/helpers/scratch.ts'],
    testTimeout: 120_000,
    hookTimeout: 900_000,
    // Suites start cargo builds and a LiteLLM proxy: on 2 cores, one file at a time is faster.
    fileParallelism: false,
    // No test reads the developer's own ~/.config/codex-litellm/build.json (mirrors, substitutions):
    // suites that need settings write their own file and point at it.
    env: { CODEX_LITELLM_CONFIG: path.join(os.tmpdir(), 'codex-litellm-tests-have-no-user-config.json') },
    reporters: ['default', 'json'],
    outputFile: { json: '.cache/test-results.json' },
  },
});
