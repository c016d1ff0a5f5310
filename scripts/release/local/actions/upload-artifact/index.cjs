// Local stand-in for actions/upload-artifact (see ../README.md). Plain CommonJS: act runs it with node.
const fs = require('node:fs');
const path = require('node:path');

const input = (name) => (process.env[`INPUT_${name.toUpperCase()}`] ?? '').trim();
const fail = (msg) => {
  console.log(`::error::${msg}`);
  process.exit(1);
};
/** A glob of upload-artifact's exclusions: `**` any depth, `*` and `?` within one path segment. */
const globRe = (g) => {
  let re = '';
  for (let i = 0; i < g.length; i++) {
    const c = g[i];
    if (c === '*' && g[i + 1] === '*') {
      re += '.*';
      i++;
      if (g[i + 1] === '/') i++;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
};

const store = process.env.CODEX_LITELLM_ARTIFACTS;
if (!store) fail('CODEX_LITELLM_ARTIFACTS is not set (this stand-in runs under npm run release:local only)');
const ws = process.env.GITHUB_WORKSPACE || process.cwd();
const name = input('name') || 'artifact';
if (/[\\/":<>|*?\r\n]/.test(name)) fail(`artifact name ${JSON.stringify(name)} has a character upload-artifact refuses`);
const hidden = input('include-hidden-files') === 'true';
const lines = input('path')
  .split('\n')
  .map((l) => l.trim())
  .filter(Boolean);
const includes = lines.filter((l) => !l.startsWith('!')).map((l) => path.resolve(ws, l));
const excludes = lines.filter((l) => l.startsWith('!')).map((l) => globRe(path.resolve(ws, l.slice(1))));
for (const i of includes) if (/[*?[]/.test(i)) fail(`path ${i}: this stand-in takes files and directories, not globs, as includes`);

const files = new Set();
const walk = (p) => {
  if (!hidden && path.basename(p).startsWith('.') && p !== ws) return;
  if (excludes.some((re) => re.test(p))) return;
  const st = fs.statSync(p, { throwIfNoEntry: false });
  if (!st) return;
  if (st.isDirectory()) for (const e of fs.readdirSync(p).sort()) walk(path.join(p, e));
  else if (st.isFile()) files.add(p);
};
for (const i of includes) walk(i);
if (files.size === 0) {
  const how = input('if-no-files-found') || 'warn';
  const msg = `No files were found with the provided path: ${lines.join(', ')}. No artifacts will be uploaded.`;
  if (how === 'error') fail(msg);
  if (how === 'warn') console.log(`::warning::${msg}`);
  process.exit(0);
}
// The root is the least common ancestor of the include paths (a file counts as its directory).
const dirs = includes.filter((i) => fs.existsSync(i)).map((i) => (fs.statSync(i).isDirectory() ? i : path.dirname(i)));
let root = dirs[0];
for (const d of dirs) while (d !== root && !d.startsWith(`${root}${path.sep}`)) root = path.dirname(root);

const dest = path.join(store, name);
if (fs.existsSync(dest)) {
  if (input('overwrite') !== 'true') fail(`an artifact named ${name} already exists in this run (upload-artifact refuses a second one)`);
  fs.rmSync(dest, { recursive: true, force: true });
}
const tmp = path.join(store, `.${name}.${process.pid}.tmp`);
fs.rmSync(tmp, { recursive: true, force: true });
let bytes = 0;
for (const f of [...files].sort()) {
  const to = path.join(tmp, path.relative(root, f));
  fs.mkdirSync(path.dirname(to), { recursive: true });
  fs.copyFileSync(f, to);
  bytes += fs.statSync(f).size;
}
fs.renameSync(tmp, dest);
console.log(
  `stored artifact ${name}: ${files.size} file(s), ${bytes} bytes, relative to ${path.relative(ws, root) || '.'} (local stand-in for actions/upload-artifact)`,
);
if (process.env.GITHUB_OUTPUT) fs.appendFileSync(process.env.GITHUB_OUTPUT, `artifact-id=${name}\nartifact-url=file://${dest}\n`);
