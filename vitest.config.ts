import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 900_000,
    // Suites start cargo builds and a LiteLLM proxy: on 2 cores, one file at a time is faster.
    fileParallelism: false,
    reporters: ['default', 'json'],
    outputFile: { json: '.cache/test-results.json' },
  },
});
