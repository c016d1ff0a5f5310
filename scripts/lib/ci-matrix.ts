/**
 * The release workflow's build matrix (`npx tsx build.ts matrix`), made from the target table: one
 * job per row, with the runner, the setup commands and the build and package commands it runs.
 */
import { npmPackageName, TARGETS, type BuildTool, type Target } from './targets.ts';

/** The CI job that builds a target (the release workflow's matrix names jobs this way). */
export function ciJob(t: Target): string {
  return `build (${t.alias})`;
}

/** One row of the GitHub Actions matrix (`strategy.matrix: ${{ fromJSON(...) }}`). */
export interface MatrixEntry {
  target: string;
  alias: string;
  runner: string;
  tool: BuildTool;
  /** Unexpanded: `$ANDROID_NDK_HOME` is the runner's. build.ts applies it itself; this is for display and caching keys. */
  env: Record<string, string>;
  setup: string[];
  openssl: Target['openssl'];
  archive: Target['archive'];
  binary: string;
  npm_package: string;
  debian: string;
  termux: string;
  openwrt: string[];
  build: string;
  package: string;
  notes: string;
}

export function ciMatrix(targets: readonly Target[] = TARGETS, profile = 'release'): { include: MatrixEntry[] } {
  return {
    include: targets.map((t) => ({
      target: t.triple,
      alias: t.alias,
      runner: t.runner,
      tool: t.tool,
      env: { ...t.envTemplate },
      setup: [...t.setup],
      openssl: t.openssl,
      archive: t.archive,
      binary: `dist/${t.triple}/codex-litellm${t.exe}`,
      npm_package: t.npm ? npmPackageName(t) : '',
      debian: t.debian ?? '',
      termux: t.termux ?? '',
      openwrt: [...t.openwrt],
      build: `npx tsx build.ts --target ${t.triple} --profile ${profile}`,
      package: `npx tsx build.ts package --target ${t.triple}`,
      notes: t.notes ?? '',
    })),
  };
}
