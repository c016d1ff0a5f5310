#!/usr/bin/env node
// codex-litellm launcher (the `codex-litellm` command of @avikalpa/codex-litellm).
// npm installs exactly one of the platform packages listed in optionalDependencies (each declares
// os/cpu/libc); this file finds its binary and runs it: no install scripts, no downloads.
'use strict';

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const main = require('../package.json');
const PLATFORMS = main.codexLitellm.platforms; // "linux x64 glibc" -> "@avikalpa/codex-litellm-linux-x64"
const EXE = process.platform === 'win32' ? 'codex-litellm.exe' : 'codex-litellm';
const OVERRIDE = 'CODEX_LITELLM_BINARY';

function fail(lines, code) {
  process.stderr.write(lines.map((l, i) => (i === 0 ? `codex-litellm: ${l}` : `  ${l}`)).join('\n') + '\n');
  process.exit(code === undefined ? 1 : code);
}

// glibc or musl: /usr/bin/ldd says which (as detect-libc reads it), else the process report
// (glibc reports its runtime version there; musl does not).
function libc() {
  try {
    const ldd = fs.readFileSync('/usr/bin/ldd', 'latin1');
    if (ldd.includes('musl')) return 'musl';
    if (ldd.includes('GNU C Library') || ldd.includes('GLIBC')) return 'glibc';
  } catch (_e) {
    // no ldd (minimal images): fall through
  }
  try {
    if (process.report && 'excludeNetwork' in process.report) process.report.excludeNetwork = true;
    const header = process.report.getReport().header;
    return header.glibcVersionRuntime ? 'glibc' : 'musl';
  } catch (_e) {
    return 'glibc';
  }
}

/** Platform keys to try, best first. A static musl binary also runs on glibc systems. */
function wanted() {
  const base = `${process.platform} ${process.arch}`;
  if (process.platform !== 'linux') return { label: base, keys: [base] };
  const c = libc();
  return { label: `${base}, ${c}`, keys: c === 'glibc' ? [`${base} glibc`, `${base} musl`] : [`${base} musl`] };
}

function packageDir(name) {
  try {
    return path.dirname(require.resolve(`${name}/package.json`));
  } catch (_e) {
    return undefined;
  }
}

function findBinary() {
  const fromEnv = process.env[OVERRIDE];
  if (fromEnv) {
    if (!fs.existsSync(fromEnv))
      fail([`${OVERRIDE}=${fromEnv}, which does not exist.`, `Point ${OVERRIDE} at a codex-litellm binary, or unset it to use the installed one.`]);
    return fromEnv;
  }
  const w = wanted();
  const names = w.keys.map((k) => PLATFORMS[k]).filter(Boolean);
  for (const name of names) {
    const dir = packageDir(name);
    if (dir && fs.existsSync(path.join(dir, 'bin', EXE))) return path.join(dir, 'bin', EXE);
  }
  if (names.length === 0) {
    fail([
      `there is no prebuilt binary for this platform (${w.label}).`,
      `Prebuilt: ${Object.keys(PLATFORMS).join('; ')}.`,
      `Build one from source (${main.homepage}) and set ${OVERRIDE} to its path.`,
    ]);
  }
  // Installed for some other platform? That happens when node_modules is copied between machines.
  const others = Object.keys(PLATFORMS).filter((k) => !w.keys.includes(k) && packageDir(PLATFORMS[k]));
  fail([
    `the binary for this platform (${w.label}) is missing: expected the package ${names.join(' (or ')}${names.length > 1 ? ')' : ''}.`,
    `npm installs it as an optional dependency of ${main.name}; it is missing when:`,
    `  - optional dependencies were skipped (npm --no-optional / --omit=optional, or optional=false in .npmrc);`,
    `  - node_modules was copied from another platform${others.length ? ` (found ${others.map((k) => `${PLATFORMS[k]} for ${k}`).join(', ')})` : ''}.`,
    `Reinstall on this machine: npm install -g ${main.name}@${main.version}`,
    `Or set ${OVERRIDE} to a codex-litellm binary (release archives: ${main.homepage}/releases).`,
  ]);
}

const binary = findBinary();

// Forward signals sent to the launcher (kill <pid>, a supervisor, a CI timeout). Ctrl-C and Ctrl-\
// from a terminal already reach the child, which shares our process group, so those two are
// forwarded only when there is no terminal; otherwise the child would get each of them twice.
// (SIGUSR1 is left alone: Node reserves it for its inspector.) The handlers go in before the child
// starts: a signal that arrived in between would otherwise kill the launcher and orphan the child.
const FORWARD = process.platform === 'win32' ? ['SIGINT', 'SIGBREAK'] : ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR2'];
const FROM_TERMINAL = new Set(['SIGINT', 'SIGQUIT']);
const handlers = {};
const early = [];
let child;
for (const sig of FORWARD) {
  handlers[sig] = () => {
    if (FROM_TERMINAL.has(sig) && process.stdin.isTTY) return;
    if (!child) return void early.push(sig);
    try {
      child.kill(sig);
    } catch (_e) {
      // the child is already gone; its exit is handled below
    }
  };
  process.on(sig, handlers[sig]);
}

child = spawn(binary, process.argv.slice(2), { stdio: 'inherit' });
for (const sig of early) handlers[sig]();

child.on('error', (e) => {
  const why = e.code === 'EACCES' ? 'it is not executable' : e.code === 'ENOEXEC' || e.code === 'EBADARCH' ? 'it is not a binary for this machine' : e.message;
  fail([`cannot run ${binary}: ${why}.`, process.env[OVERRIDE] ? `Check ${OVERRIDE}.` : `Reinstall: npm install -g ${main.name}@${main.version}`], 126);
});

// Mirror the child: the same exit code, or death by the same signal (so the shell sees 128+n).
child.on('exit', (code, signal) => {
  if (signal) {
    for (const sig of FORWARD) process.removeListener(sig, handlers[sig]);
    try {
      process.kill(process.pid, signal);
    } catch (_e) {
      // fall through to the exit code below
    }
    // Signals Node ignores (SIGPIPE) or cannot raise: exit as a shell reports a signal death.
    setTimeout(() => process.exit(128 + (os.constants.signals[signal] || 0)), 50);
    return;
  }
  process.exit(code === null ? 1 : code);
});
