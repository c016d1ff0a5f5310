/**
 * A real npm registry on 127.0.0.1: verdaccio (a devDependency, pinned), with its storage in a
 * directory of the caller's, no uplink (nothing is proxied to, or published on, the public
 * registry) and one user whose token publishes. Our scope `@avikalpa` is pointed at it through
 * npm's own per-scope configuration, so `npm ci` of the project's dependencies still goes to the
 * usual registry while publishing, `npm view` and `npm i -g @avikalpa/codex-litellm` use this one.
 * Verdaccio, like npm, refuses a second publish of a version (409).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { UserError } from '../../lib/errors.ts';
import { REPO_ROOT } from '../../lib/project.ts';
import { NPM_MAIN } from '../../lib/targets.ts';

export const SCOPE = NPM_MAIN.split('/')[0]!;

export interface LocalRegistry {
  /** e.g. http://127.0.0.1:4873/ (with the trailing slash npm writes). */
  url: string;
  token: string;
  dir: string;
  /** npm configuration (as npm_config_* variables) that sends our scope here; `token` defaults to this registry's. */
  npmEnv(token?: string): Record<string, string>;
  stop(): Promise<void>;
  /** Verdaccio's own log (its stdout and stderr). */
  logFile: string;
}

export function verdaccioBin(root: string = REPO_ROOT): string {
  const bin = path.join(root, 'node_modules', 'verdaccio', 'bin', 'verdaccio');
  if (!fs.existsSync(bin)) throw new UserError(`verdaccio is not installed (${bin} is missing)`, 'Run `npm ci`: verdaccio is a devDependency.');
  return bin;
}

async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

function config(dir: string): string {
  // Every path absolute: verdaccio resolves relative ones against the config file's directory.
  return [
    `storage: ${JSON.stringify(path.join(dir, 'storage'))}`,
    'auth:',
    '  htpasswd:',
    `    file: ${JSON.stringify(path.join(dir, 'htpasswd'))}`,
    '    max_users: 1',
    'uplinks: {}',
    'packages:',
    "  '**':",
    '    access: $all',
    '    publish: $authenticated',
    'web:',
    '  enable: false',
    'middlewares:',
    '  audit:',
    '    enabled: false',
    'log:',
    '  type: stdout',
    '  format: pretty',
    '  level: warn',
    '',
  ].join('\n');
}

async function waitUp(url: string, child: ChildProcess, logFile: string, ms = 60_000): Promise<void> {
  const until = Date.now() + ms;
  let exited: number | null | undefined;
  child.once('exit', (code) => {
    exited = code;
  });
  while (Date.now() < until) {
    if (exited !== undefined) break;
    try {
      const r = await fetch(`${url}-/ping`);
      if (r.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  const log = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8').trim().split('\n').slice(-10).join('\n') : '';
  child.kill('SIGTERM');
  throw new UserError(`verdaccio did not start at ${url}${exited !== undefined ? ` (exited with ${exited})` : ` within ${ms / 1000} s`}:\n${log}`);
}

/** Start verdaccio with its storage under `dir` (created; an existing storage is kept, so a second run sees the first one's packages). */
export async function startRegistry(dir: string, opts: { root?: string } = {}): Promise<LocalRegistry> {
  fs.mkdirSync(dir, { recursive: true });
  const cfg = path.join(dir, 'config.yaml');
  fs.writeFileSync(cfg, config(dir));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/`;
  const logFile = path.join(dir, 'verdaccio.log');
  const log = fs.openSync(logFile, 'a');
  const child = spawn(process.execPath, [verdaccioBin(opts.root), '--config', cfg, '--listen', `127.0.0.1:${port}`], {
    stdio: ['ignore', log, log],
    env: { PATH: process.env.PATH ?? '', HOME: dir, NODE_ENV: 'production' },
  });
  fs.closeSync(log);
  await waitUp(url, child, logFile);

  // A user (created on the first start, logged in on later ones): its token publishes.
  const tokenFile = path.join(dir, 'token');
  let token = fs.existsSync(tokenFile) ? fs.readFileSync(tokenFile, 'utf8').trim() : '';
  if (!token) {
    const r = await fetch(`${url}-/user/org.couchdb.user:release`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'release', password: `local-${process.pid}-${Date.now()}` }),
    });
    const doc = (await r.json()) as { token?: string; error?: string };
    if (!r.ok || !doc.token) {
      child.kill('SIGTERM');
      throw new UserError(`verdaccio at ${url} did not create the publishing user: ${r.status} ${doc.error ?? ''}`);
    }
    token = doc.token;
    fs.writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
  }
  const hostKey = `//127.0.0.1:${port}/:_authToken`;
  return {
    url,
    token,
    dir,
    logFile,
    npmEnv: (t = token) => ({ [`npm_config_${SCOPE}:registry`]: url, [`npm_config_${hostKey}`]: t }),
    stop: async () => {
      if (child.exitCode !== null) return;
      await new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      });
    },
  };
}
