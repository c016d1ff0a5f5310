// Local stand-in for actions/download-artifact (see ../README.md). Plain CommonJS: act runs it with node.
const fs = require('node:fs');
const path = require('node:path');

const input = (name) => (process.env[`INPUT_${name.toUpperCase()}`] ?? '').trim();
const fail = (msg) => {
  console.log(`::error::${msg}`);
  process.exit(1);
};
const globRe = (g) =>
  new RegExp(
    `^${g
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
  );

const store = process.env.CODEX_LITELLM_ARTIFACTS;
if (!store) fail('CODEX_LITELLM_ARTIFACTS is not set (this stand-in runs under npm run release:local only)');
const ws = process.env.GITHUB_WORKSPACE || process.cwd();
const dest = path.resolve(ws, input('path') || '.');
const name = input('name');
const pattern = input('pattern');
const merge = input('merge-multiple') === 'true';
const all = fs.existsSync(store)
  ? fs
      .readdirSync(store)
      .filter((n) => !n.startsWith('.'))
      .sort()
  : [];
let chosen;
if (name) {
  if (!all.includes(name)) fail(`Artifact not found for name: ${name} (this run has: ${all.join(', ') || 'none'})`);
  chosen = [name];
} else {
  chosen = pattern ? all.filter((n) => globRe(pattern).test(n)) : all;
}
console.log(`Found ${chosen.length} artifact(s)${pattern ? ` matching ${pattern}` : ''}: ${chosen.join(', ')}`);
const copy = (from, to) => {
  for (const e of fs.readdirSync(from, { withFileTypes: true })) {
    const a = path.join(from, e.name);
    const b = path.join(to, e.name);
    if (e.isDirectory()) copy(a, b);
    else {
      fs.mkdirSync(to, { recursive: true });
      fs.copyFileSync(a, b);
    }
  }
};
// One artifact by name goes into path itself, like the real action; several go into path/<name> unless merged.
for (const n of chosen) copy(path.join(store, n), name || merge ? dest : path.join(dest, n));
fs.mkdirSync(dest, { recursive: true });
if (process.env.GITHUB_OUTPUT) fs.appendFileSync(process.env.GITHUB_OUTPUT, `download-path=${dest}\n`);
