/**
 * The GitHub Actions workflows: they parse, actionlint reports nothing, every third-party action
 * is pinned by commit, permissions are least-privilege, pull-request jobs see no secrets, caches
 * are keyed on upstream.lock and the toolchain, and the release matrix is exactly the target table.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { TARGETS } from '../scripts/lib/targets.ts';
import { actionlint, ensureActionlint } from './helpers/actionlint.ts';
import { REPO } from './helpers/fixture.ts';

const DIR = path.join(REPO, '.github', 'workflows');
const TSX = path.join(REPO, 'node_modules', 'tsx', 'dist', 'cli.mjs');

interface Step {
  id?: string;
  name?: string;
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
  env?: Record<string, unknown>;
}
interface Job {
  name?: string;
  'runs-on'?: string;
  permissions?: Record<string, string> | string;
  needs?: string | string[];
  strategy?: { matrix?: unknown; 'fail-fast'?: boolean };
  environment?: string;
  steps?: Step[];
  uses?: string;
  outputs?: Record<string, string>;
}
interface Workflow {
  name?: string;
  on: Record<string, unknown>;
  permissions?: Record<string, string> | string;
  concurrency?: { group?: string } | string;
  jobs: Record<string, Job>;
}

const files = fs.existsSync(DIR)
  ? fs
      .readdirSync(DIR)
      .filter((f) => /\.ya?ml$/.test(f))
      .sort()
  : [];
const text = (f: string): string => fs.readFileSync(path.join(DIR, f), 'utf8');

function load(f: string): Workflow {
  const doc = parseDocument(text(f), { uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length) throw new Error(`${f}: ${doc.errors.map((e) => e.message).join('\n')}`);
  return doc.toJS() as Workflow;
}

const workflows = new Map(files.map((f) => [f, load(f)]));
const wf = (f: string): Workflow => {
  const w = workflows.get(f);
  if (!w) throw new Error(`.github/workflows/${f} is missing`);
  return w;
};
const allSteps = (w: Workflow): { job: string; step: Step }[] => Object.entries(w.jobs).flatMap(([job, j]) => (j.steps ?? []).map((step) => ({ job, step })));
const runs = (j: Job): string => (j.steps ?? []).map((s) => s.run ?? '').join('\n');
const uses = (j: Job, action: string): Step[] => (j.steps ?? []).filter((s) => s.uses?.split('@')[0] === action);

describe('workflow files', () => {
  it('exist and parse as YAML (no duplicate keys)', () => {
    expect(files).toEqual(expect.arrayContaining(['ci.yml', 'release.yml', 'upstream.yml']));
    for (const [f, w] of workflows) {
      expect(typeof w.on, f).toBe('object');
      expect(Object.keys(w.jobs).length, f).toBeGreaterThan(0);
    }
  });

  it('pin every third-party action by full commit SHA, with a # vX.Y.Z comment, the same commit everywhere', () => {
    const seen = new Map<string, string>();
    let count = 0;
    for (const f of files) {
      const lines = text(f).split('\n');
      const usesLines = lines.filter((l) => /^\s*(-\s+)?uses:/.test(l));
      // Every `uses` the YAML has is on a line of its own (no flow-style hiding one from this check).
      const parsed = [...allSteps(wf(f)).map((s) => s.step.uses), ...Object.values(wf(f).jobs).map((j) => j.uses)].filter(Boolean);
      expect(usesLines.length, f).toBe(parsed.length);
      for (const line of usesLines) {
        const m = /uses:\s*["']?([^\s"'#]+)["']?\s*(#.*)?$/.exec(line)!;
        const ref = m[1]!;
        if (ref.startsWith('./')) continue;
        count += 1;
        expect(ref, `${f}: ${line.trim()}`).toMatch(/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+(\/[^@\s]+)?@[0-9a-f]{40}$/);
        expect(m[2] ?? '', `${f}: ${line.trim()} needs a # vX.Y.Z comment`).toMatch(/^#\s*v\d+\.\d+\.\d+\s*$/);
        const [action, sha] = ref.split('@') as [string, string];
        const key = `${action} ${m[2]!.trim()}`;
        if (seen.has(action)) expect(`${key} ${sha}`, `${action} is pinned to two commits`).toBe(`${key} ${seen.get(action)}`);
        seen.set(action, sha);
      }
    }
    expect(count).toBeGreaterThan(10);
  });

  it('grant least privilege: nothing at the top, read-only jobs, writes only where publishing', () => {
    const allowed: Record<string, Record<string, Record<string, string>>> = {
      'release.yml': {
        release: { contents: 'write', 'id-token': 'write', attestations: 'write' },
        npm: { 'id-token': 'write' },
      },
      'upstream.yml': { track: { issues: 'write', contents: 'write', 'pull-requests': 'write' } },
    };
    for (const [f, w] of workflows) {
      const top = w.permissions;
      expect(top === undefined ? 'missing' : 'set', `${f}: top-level permissions`).toBe('set');
      if (typeof top === 'object') for (const [k, v] of Object.entries(top)) expect(['read', 'none'], `${f}: top-level ${k}`).toContain(v);
      else expect(['read-all', '{}'], `${f}: top-level permissions`).toContain(top);
      for (const [name, j] of Object.entries(w.jobs)) {
        expect(typeof j.permissions, `${f} ${name}: every job says what its token may do`).toBe('object');
        const perms = j.permissions as Record<string, string>;
        for (const [k, v] of Object.entries(perms)) {
          expect(['read', 'write', 'none'], `${f} ${name} ${k}`).toContain(v);
          if (v === 'write') expect(allowed[f]?.[name]?.[k], `${f} job ${name} may not have ${k}: write`).toBe('write');
        }
        // Each write is used for what it is granted for.
        if (perms.attestations === 'write') expect(uses(j, 'actions/attest-build-provenance').length, `${f} ${name}`).toBeGreaterThan(0);
        if (perms['id-token'] === 'write')
          expect(
            uses(j, 'actions/attest-build-provenance').length > 0 || /release\.ts npm/.test(runs(j)),
            `${f} ${name}: id-token without attesting or publishing`,
          ).toBe(true);
        if (perms.contents === 'write') expect(runs(j)).toMatch(/release\.ts github|upstream\/pr\.ts open/);
        if (perms['pull-requests'] === 'write') expect(runs(j)).toMatch(/upstream\/pr\.ts open/);
        // A job that publishes does not restore caches another run could have written.
        if (Object.values(perms).includes('write') && f === 'release.yml') expect(uses(j, 'actions/cache'), `${f} ${name}`).toEqual([]);
      }
    }
  });

  it('keep secrets out of pull-request workflows, and never use pull_request_target or workflow_run', () => {
    for (const [f, w] of workflows) {
      expect(Object.keys(w.on), f).not.toContain('pull_request_target');
      expect(Object.keys(w.on), f).not.toContain('workflow_run');
      if ('pull_request' in w.on) expect(text(f), `${f} runs on pull requests`).not.toMatch(/secrets\./);
    }
    // Secrets appear only in publishing/reporting steps, as environment variables (never inlined in a script).
    for (const [f, w] of workflows) {
      for (const { job, step } of allSteps(w)) expect(step.run ?? '', `${f} ${job}`).not.toMatch(/\$\{\{\s*secrets\./);
    }
  });

  it('use concurrency groups; CI cancels superseded runs, a release never cancels itself', () => {
    for (const [f, w] of workflows) {
      const c = w.concurrency;
      expect(typeof c === 'object' ? c.group : c, `${f}: concurrency`).toBeTruthy();
    }
    expect(wf('ci.yml').concurrency).toMatchObject({ 'cancel-in-progress': true });
    expect(wf('release.yml').concurrency).toMatchObject({ 'cancel-in-progress': false });
  });

  it('key caches on upstream.lock and the toolchain, under ~/.cache/codex-litellm as the orchestrator uses', () => {
    let caches = 0;
    for (const [f, w] of workflows) {
      for (const [name, j] of Object.entries(w.jobs)) {
        const steps = j.steps ?? [];
        steps.forEach((s, i) => {
          if (s.uses?.split('@')[0] !== 'actions/cache') return;
          caches += 1;
          const key = String(s.with?.key ?? '');
          const paths = String(s.with?.path ?? '');
          expect(key, `${f} ${name}`).toContain("hashFiles('upstream.lock')");
          const tool = /steps\.([\w-]+)\.outputs\.version/.exec(key);
          expect(tool, `${f} ${name}: the key names the toolchain version`).not.toBeNull();
          const probe = steps.findIndex((x) => x.id === tool![1]);
          expect(probe, `${f} ${name}: step ${tool![1]} runs before the cache`).toBeGreaterThanOrEqual(0);
          expect(probe).toBeLessThan(i);
          expect(paths, `${f} ${name}`).toMatch(/~\/\.cache\/codex-litellm/);
          // A job that builds keeps Cargo's target dir.
          if (/build\.ts (--target|--profile)/.test(runs(j))) expect(paths).toMatch(/~\/\.cache\/codex-litellm(\/target)?(\n|$)/);
        });
      }
    }
    expect(caches).toBeGreaterThanOrEqual(3);
  });
});

describe('ci.yml', () => {
  it('runs on pushes and pull requests: type-check, npm test, patches check, a host build and npm run e2e', () => {
    const w = wf('ci.yml');
    expect(Object.keys(w.on)).toEqual(expect.arrayContaining(['push', 'pull_request']));
    const all = Object.values(w.jobs).map(runs).join('\n');
    expect(all).toMatch(/npx tsc --noEmit -p tsconfig\.json/);
    expect(all).toMatch(/^npm test$/m);
    expect(all).toMatch(/npx tsx build\.ts patches check/);
    expect(all).toMatch(/^npx tsx build\.ts --profile dev$/m);
    expect(all).toMatch(/^npm run e2e$/m);
    for (const { step } of allSteps(w)) if (step.uses?.startsWith('actions/checkout@')) expect(step.with?.['persist-credentials']).toBe(false);
  });
});

describe('release.yml', () => {
  const w = wf('release.yml');
  let matrix: { include: Record<string, unknown>[] };
  beforeAll(() => {
    const r = spawnSync(process.execPath, [TSX, path.join(REPO, 'build.ts'), 'matrix'], { cwd: REPO, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    matrix = JSON.parse(r.stdout);
  });

  it('runs on a version tag such as v0.53.0-litellm.1', () => {
    const tags = (w.on.push as { tags: string[] }).tags;
    const glob = (g: string): RegExp =>
      new RegExp(
        `^${g
          .replace(/[.+?^${}()|[\]\\]/g, '\\$&')
          .replace(/\*\*/g, '\0')
          .replace(/\*/g, '[^/]*')
          .replace(/\0/g, '.*')}$`,
      );
    expect(tags.some((g) => glob(g).test('v0.53.0-litellm.1'))).toBe(true);
    expect(Object.keys(w.on)).toEqual(['push']);
    expect((w.on.push as { branches?: unknown }).branches).toBeUndefined();
  });

  it('computes the matrix with `build.ts matrix` in a first job and reads it with fromJSON', () => {
    const plan = Object.entries(w.jobs).find(([, j]) => /npx tsx build\.ts matrix/.test(runs(j)));
    expect(plan, 'a job runs npx tsx build.ts matrix').toBeDefined();
    const [planName, planJob] = plan!;
    const step = planJob.steps!.find((s) => /build\.ts matrix/.test(s.run ?? ''))!;
    expect(step.run).toMatch(/>> "\$GITHUB_OUTPUT"/);
    expect(planJob.outputs?.matrix).toBe(`\${{ steps.${step.id}.outputs.matrix }}`);
    const build = w.jobs.build!;
    expect([build.needs].flat()).toContain(planName);
    expect(build.strategy?.matrix).toBe(`\${{ fromJSON(needs.${planName}.outputs.matrix) }}`);
    expect(build.strategy?.['fail-fast']).toBe(false);
    expect(build['runs-on']).toBe('${{ matrix.runner }}');
  });

  it('every matrix entry is a row of the target table, and every row is in the matrix', () => {
    const triple = (e: Record<string, unknown>): string => String(e.target ?? e.triple);
    expect(matrix.include.map(triple).sort()).toEqual(TARGETS.map((t) => t.triple).sort());
    for (const e of matrix.include) {
      const row = TARGETS.find((t) => t.triple === triple(e));
      expect(row, triple(e)).toBeDefined();
      expect({ alias: e.alias, runner: e.runner, tool: e.tool }).toEqual({ alias: row!.alias, runner: row!.runner, tool: row!.tool });
    }
  });

  it('uses only matrix fields every entry has', () => {
    const refs = new Set([...JSON.stringify(w.jobs.build).matchAll(/matrix\.([A-Za-z_][\w-]*)/g)].map((m) => m[1]!));
    expect(refs.size).toBeGreaterThan(2);
    for (const e of matrix.include) for (const r of refs) expect(Object.keys(e), `matrix.${r}`).toContain(r);
  });

  it('builds with the tool the table names, packages, then sums, attests, releases, and publishes npm last', () => {
    const build = runs(w.jobs.build!);
    expect(JSON.stringify(w.jobs.build!.steps)).toContain('matrix.setup');
    expect(build).toMatch(/npx tsx build\.ts --target "\$TARGET"/);
    // GitHub reaches the real forks: a release never carries a substituted git dependency.
    expect(build).toMatch(/npx tsx build\.ts --target "\$TARGET" .*--no-substitute/);
    expect(build).toMatch(/npx tsx build\.ts package --target "\$TARGET"/);
    expect(uses(w.jobs.build!, 'actions/upload-artifact')).toHaveLength(1);
    // Every OpenWrt .apk goes through real apk-tools (built from its pinned tag) before it is uploaded.
    const steps = w.jobs.build!.steps ?? [];
    const idx = (re: RegExp): number => steps.findIndex((s) => re.test(s.run ?? ''));
    const apkBuild = idx(/scripts\/release\/apk-tools\.ts build$/m);
    const apkVerify = idx(/scripts\/release\/apk-tools\.ts verify --binary "dist\/\$TARGET\/codex-litellm" dist\/packages\/\*\.apk/);
    expect(idx(/build\.ts package --target/)).toBeLessThan(apkBuild);
    expect(apkBuild).toBeLessThan(apkVerify);
    expect(apkVerify).toBeLessThan(steps.findIndex((s) => s.uses?.startsWith('actions/upload-artifact@')));
    for (const i of [apkBuild, apkVerify]) expect(String((steps[i] as { if?: string }).if)).toContain('matrix.openwrt');
    const release = w.jobs.release!;
    expect([release.needs].flat()).toContain('build');
    const order = (release.steps ?? []).map((s) =>
      s.uses ? s.uses.split('@')[0] : /sha256sum/.test(s.run ?? '') ? 'sums' : /release\.ts github/.test(s.run ?? '') ? 'github' : 'other',
    );
    const at = (x: string): number => order.indexOf(x);
    expect(at('actions/download-artifact')).toBeGreaterThanOrEqual(0);
    expect(at('actions/download-artifact')).toBeLessThan(at('sums'));
    expect(at('sums')).toBeLessThan(at('actions/attest-build-provenance'));
    expect(at('actions/attest-build-provenance')).toBeLessThan(at('github'));
    expect(uses(release, 'actions/attest-build-provenance')[0]!.with?.['subject-path']).toBeTruthy();
    const npm = w.jobs.npm!;
    expect([npm.needs].flat()).toContain('release');
    expect(runs(npm)).toMatch(/node --import tsx scripts\/release\/release\.ts npm "\$GITHUB_REF_NAME"/);
    expect(uses(npm, 'actions/setup-node')[0]!.with?.['registry-url']).toBe('https://registry.npmjs.org');
    expect(runs(release)).toMatch(/node --import tsx scripts\/release\/release\.ts github "\$GITHUB_REF_NAME"/);
    expect(runs(w.jobs.plan!)).toMatch(/release\.ts verify "\$GITHUB_REF_NAME"/);
    expect(fs.existsSync(path.join(REPO, 'scripts', 'release', 'release.ts'))).toBe(true);
  });
});

describe('upstream.yml', () => {
  it('runs daily: check, drift, and the report', () => {
    const w = wf('upstream.yml');
    expect(w.on.schedule).toEqual([{ cron: expect.stringMatching(/^\S+ \S+ \* \* \*$/) }]);
    const all = Object.values(w.jobs).map(runs).join('\n');
    expect(all).toMatch(/npx tsx build\.ts upstream check --json/);
    expect(all).toMatch(/npx tsx build\.ts upstream drift --json/);
    expect(all).toMatch(/scripts\/upstream\/notify\.ts/);
    expect(fs.existsSync(path.join(REPO, 'scripts', 'upstream', 'notify.ts'))).toBe(true);
  });

  it('bumps, builds and runs e2e for a release the series applies to, and opens the pull request only after all of them', () => {
    const steps = wf('upstream.yml').jobs.track!.steps ?? [];
    const at = (re: RegExp): number => steps.findIndex((s) => re.test(s.run ?? ''));
    const order = [
      at(/upstream drift --json/),
      at(/upstream\/pr\.ts candidate --check check\.json --drift drift\.json >> "\$GITHUB_OUTPUT"/),
      at(/^npx tsx build\.ts upstream bump "\$TAG"$/m),
      at(/^npx tsx build\.ts --profile dev$/m),
      at(/^npm run e2e$/m),
      at(/upstream\/pr\.ts open --tag "\$TAG"/),
    ];
    for (const i of order) expect(i).toBeGreaterThanOrEqual(0);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    const candidate = steps[order[1]!] as Step & { id?: string };
    for (const i of order.slice(2)) expect(String((steps[i] as { if?: string }).if)).toBe(`steps.${candidate.id}.outputs.tag != ''`);
    expect(steps[order.at(-1)!]!.env?.GITHUB_TOKEN).toBe('${{ secrets.GITHUB_TOKEN }}');
  });
});

describe('actionlint', () => {
  let bin: string;
  beforeAll(() => {
    bin = ensureActionlint().bin;
  }, 900_000);

  it('reports nothing on any workflow', () => {
    const r = actionlint(
      bin,
      files.map((f) => path.join('.github', 'workflows', f)),
      REPO,
    );
    expect(r.problems.map((p) => `${p.filepath}:${p.line}:${p.column}: ${p.message} [${p.kind}]`)).toEqual([]);
  });

  it('is really checking (a broken workflow is reported)', () => {
    fs.mkdirSync(path.join(REPO, '.cache'), { recursive: true });
    const dir = fs.mkdtempSync(path.join(REPO, '.cache', 'actionlint-'));
    try {
      fs.mkdirSync(path.join(dir, '.github', 'workflows'), { recursive: true });
      const bad = path.join(dir, '.github', 'workflows', 'bad.yml');
      fs.writeFileSync(
        bad,
        'on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: echo "${{ github.event.nonsense.x }}"\n        shell: bashh\n',
      );
      const r = actionlint(bin, [bad], dir);
      expect(r.problems.length).toBeGreaterThan(0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
