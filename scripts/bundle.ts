/**
 * `npm run bundle`: the orchestrator as one ES module, .cache/orchestrator/build.mjs, for `node`
 * without tsx. Start-up dominates short commands (tsx compiles every module of the import graph on
 * each run); the bundle is plain JavaScript with its npm dependencies inside. Same code, same
 * output: `node .cache/orchestrator/build.mjs <args>` is `npx tsx build.ts <args>`. Rebuild it
 * after editing scripts/ (it is never committed).
 */
import * as path from 'node:path';
import { build } from 'esbuild';
import { REPO_ROOT } from './lib/project.ts';

export const BUNDLE = path.join(REPO_ROOT, '.cache', 'orchestrator', 'build.mjs');

export async function bundle(outfile = BUNDLE): Promise<string> {
  await build({
    entryPoints: [path.join(REPO_ROOT, 'build.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    // CommonJS dependencies bundled into ESM call require(); give them one.
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
    logLevel: 'warning',
  });
  return outfile;
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(path.relative(process.cwd(), await bundle()));
