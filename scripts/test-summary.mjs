// Prints the plain closing line CI reads ("N passed, N failed[, N skipped]") from vitest's JSON report.
// "failed" counts failed tests and also test files that failed outside any test (a beforeAll that
// throws, an import that fails): vitest marks those files failed and their tests skipped, so
// counting tests alone would say "0 failed" about a run that failed.
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';

const file = process.argv[2] ?? '.cache/test-results.json';
let r;
try {
  r = JSON.parse(readFileSync(file, 'utf8'));
} catch (e) {
  console.error(`no test report at ${file}: ${e.message}`);
  process.exit(1);
}
const files = r.testResults ?? [];
const outsideTests = files.filter((f) => f.status === 'failed' && !(f.assertionResults ?? []).some((a) => a.status === 'failed'));
for (const f of outsideTests) {
  const why = (f.message ?? '').split('\n')[0] || "see vitest's output above";
  console.log(`failed outside its tests: ${relative(process.cwd(), f.name)}: ${why}`);
}
const failed = (r.numFailedTests ?? 0) + outsideTests.length;
const skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
console.log(`${r.numPassedTests} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed === 0 && r.success !== false && r.numTotalTests > 0 ? 0 : 1);
