/**
 * A local stand-in for the few GitHub REST endpoints our scripts call through octokit: releases
 * (list, create, update), their assets (list, upload, delete, download), issues (list, create,
 * update) and pull requests (list, create, update). GitHub itself cannot be reached from this
 * machine; this is what `npm run release:local` and the tests point GITHUB_API_URL at. It keeps
 * every upload (in memory, and under `dir` when given) so a run can be compared with dist/, and
 * logs each request. Listens on 127.0.0.1 only; a request without `Authorization: token|Bearer …`
 * is refused with 401, as GitHub does for writes.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';

export interface LocalAsset {
  id: number;
  name: string;
  contentType: string;
  data: Buffer;
}

export interface LocalRelease {
  id: number;
  tag_name: string;
  name: string;
  body: string;
  draft: boolean;
  prerelease: boolean;
  assets: LocalAsset[];
}

export interface LocalIssue {
  number: number;
  title: string;
  body: string;
  labels: string[];
  state: 'open' | 'closed';
}

export interface LocalPull {
  number: number;
  title: string;
  body: string;
  head: string;
  base: string;
  state: 'open' | 'closed';
}

export class LocalGitHub {
  server: http.Server | undefined;
  base = '';
  releases: LocalRelease[] = [];
  issues: LocalIssue[] = [];
  pulls: LocalPull[] = [];
  /** `METHOD /path` of every request, in order. */
  log: string[] = [];
  private next = 1;

  /** `dir`: also write each uploaded asset to <dir>/<tag>/<name> (temp name, then rename). */
  constructor(
    readonly owner: string,
    readonly repo: string,
    readonly dir?: string,
  ) {}

  /** The state file under `dir`: a second run against the same directory sees the first one's releases, as GitHub would. */
  private get stateFile(): string | undefined {
    return this.dir ? path.join(this.dir, 'state.json') : undefined;
  }

  private load(): void {
    const f = this.stateFile;
    if (!f || !fs.existsSync(f)) return;
    const st = JSON.parse(fs.readFileSync(f, 'utf8')) as {
      next: number;
      releases: (Omit<LocalRelease, 'assets'> & { assets: Omit<LocalAsset, 'data'>[] })[];
      issues: LocalIssue[];
      pulls: LocalPull[];
    };
    this.next = st.next;
    this.issues = st.issues;
    this.pulls = st.pulls;
    this.releases = st.releases.map((r) => ({
      ...r,
      assets: r.assets.map((a) => ({ ...a, data: fs.readFileSync(path.join(this.dir!, r.tag_name, a.name)) })),
    }));
  }

  private save(): void {
    const f = this.stateFile;
    if (!f) return;
    const st = {
      next: this.next,
      releases: this.releases.map((r) => ({ ...r, assets: r.assets.map(({ data: _, ...a }) => a) })),
      issues: this.issues,
      pulls: this.pulls,
    };
    fs.mkdirSync(path.dirname(f), { recursive: true });
    fs.writeFileSync(`${f}.tmp`, `${JSON.stringify(st, null, 2)}\n`);
    fs.renameSync(`${f}.tmp`, f);
  }

  async start(port = 0): Promise<string> {
    this.load();
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        try {
          this.handle(req, Buffer.concat(chunks), res);
          if (req.method !== 'GET') this.save();
        } catch (e) {
          res.writeHead(500, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ message: `local GitHub: ${(e as Error).message}` }));
        }
      });
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, '127.0.0.1', resolve);
    });
    this.base = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.base;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }

  release(tag: string): LocalRelease | undefined {
    return this.releases.find((r) => r.tag_name === tag);
  }

  private get repoPath(): string {
    return `/repos/${this.owner}/${this.repo}`;
  }

  private releaseView(r: LocalRelease) {
    return {
      id: r.id,
      tag_name: r.tag_name,
      name: r.name,
      body: r.body,
      draft: r.draft,
      prerelease: r.prerelease,
      html_url: `${this.base}/${this.owner}/${this.repo}/releases/tag/${r.tag_name}`,
      upload_url: `${this.base}/upload${this.repoPath}/releases/${r.id}/assets{?name,label}`,
      assets: r.assets.map((a) => this.assetView(a)),
    };
  }

  private assetView(a: LocalAsset) {
    return {
      id: a.id,
      name: a.name,
      size: a.data.length,
      content_type: a.contentType,
      browser_download_url: `${this.base}/download/${a.id}/${a.name}`,
    };
  }

  private pullView(p: LocalPull) {
    return {
      number: p.number,
      title: p.title,
      body: p.body,
      state: p.state,
      head: { ref: p.head, label: `${this.owner}:${p.head}` },
      base: { ref: p.base },
      html_url: `${this.base}/${this.owner}/${this.repo}/pull/${p.number}`,
    };
  }

  private keep(tag: string, a: LocalAsset): void {
    if (!this.dir) return;
    const d = path.join(this.dir, tag);
    fs.mkdirSync(d, { recursive: true });
    const tmp = path.join(d, `.${a.name}.${process.pid}.tmp`);
    fs.writeFileSync(tmp, a.data);
    fs.renameSync(tmp, path.join(d, a.name));
  }

  private handle(req: http.IncomingMessage, body: Buffer, res: http.ServerResponse) {
    const url = new URL(req.url ?? '/', this.base);
    const p = url.pathname;
    const method = req.method ?? 'GET';
    this.log.push(`${method} ${p}`);
    const send = (status: number, doc?: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(doc === undefined ? '' : JSON.stringify(doc));
    };
    const json = (): Record<string, unknown> => JSON.parse(body.toString() || '{}') as Record<string, unknown>;
    const notFound = (): void => send(404, { message: `local GitHub: no ${method} ${p}` });
    let m: RegExpExecArray | null;

    if (method === 'GET' && (m = /^\/download\/(\d+)\/[^/]+$/.exec(p))) {
      const a = this.releases.flatMap((r) => r.assets).find((x) => x.id === Number(m![1]));
      if (!a) return notFound();
      res.writeHead(200, { 'content-type': a.contentType, 'content-length': a.data.length });
      res.end(a.data);
      return;
    }
    if (!/^(token|bearer) \S+/i.test(String(req.headers.authorization ?? ''))) return send(401, { message: 'Requires authentication' });

    const rp = this.repoPath;
    if (p === `${rp}/releases` && method === 'GET')
      return send(
        200,
        this.releases.map((r) => this.releaseView(r)),
      );
    if (p === `${rp}/releases` && method === 'POST') {
      const b = json();
      const tag = String(b.tag_name ?? '');
      if (!tag) return send(422, { message: 'tag_name is required' });
      if (this.release(tag)) return send(422, { message: 'Validation Failed', errors: [{ resource: 'Release', code: 'already_exists', field: 'tag_name' }] });
      const r: LocalRelease = {
        id: this.next++,
        tag_name: tag,
        name: String(b.name ?? tag),
        body: String(b.body ?? ''),
        draft: Boolean(b.draft),
        prerelease: Boolean(b.prerelease),
        assets: [],
      };
      this.releases.push(r);
      return send(201, this.releaseView(r));
    }
    if ((m = new RegExp(`^${rp}/releases/tags/([^/]+)$`).exec(p)) && method === 'GET') {
      // Like GitHub: the by-tag endpoint does not see drafts.
      const r = this.release(decodeURIComponent(m[1]!));
      return r && !r.draft ? send(200, this.releaseView(r)) : notFound();
    }
    if ((m = new RegExp(`^${rp}/releases/(\\d+)$`).exec(p))) {
      const r = this.releases.find((x) => x.id === Number(m![1]));
      if (!r) return notFound();
      if (method === 'GET') return send(200, this.releaseView(r));
      if (method === 'PATCH') {
        const b = json();
        for (const k of ['name', 'body'] as const) if (typeof b[k] === 'string') r[k] = b[k] as string;
        for (const k of ['draft', 'prerelease'] as const) if (typeof b[k] === 'boolean') r[k] = b[k] as boolean;
        return send(200, this.releaseView(r));
      }
    }
    if ((m = new RegExp(`^${rp}/releases/(\\d+)/assets$`).exec(p)) && method === 'GET') {
      const r = this.releases.find((x) => x.id === Number(m![1]));
      return r
        ? send(
            200,
            r.assets.map((a) => this.assetView(a)),
          )
        : notFound();
    }
    if ((m = new RegExp(`^${rp}/releases/assets/(\\d+)$`).exec(p)) && method === 'DELETE') {
      const id = Number(m[1]);
      const r = this.releases.find((x) => x.assets.some((a) => a.id === id));
      if (!r) return notFound();
      r.assets = r.assets.filter((a) => a.id !== id);
      return send(204);
    }
    if ((m = new RegExp(`^/upload${rp}/releases/(\\d+)/assets$`).exec(p)) && method === 'POST') {
      const r = this.releases.find((x) => x.id === Number(m![1]));
      if (!r) return notFound();
      const name = url.searchParams.get('name') ?? '';
      if (!name) return send(422, { message: 'name is required' });
      // GitHub refuses a second asset of the same name: the caller deletes the old one first.
      if (r.assets.some((a) => a.name === name))
        return send(422, { message: 'Validation Failed', errors: [{ resource: 'ReleaseAsset', code: 'already_exists', field: 'name' }] });
      const a: LocalAsset = { id: this.next++, name, contentType: String(req.headers['content-type'] ?? ''), data: body };
      r.assets.push(a);
      this.keep(r.tag_name, a);
      return send(201, this.assetView(a));
    }

    if (p === `${rp}/issues` && method === 'GET') {
      const label = url.searchParams.get('labels');
      const state = url.searchParams.get('state') ?? 'open';
      const hits = this.issues.filter((i) => (state === 'all' || i.state === state) && (!label || i.labels.includes(label)));
      return send(
        200,
        hits.map((i) => ({ ...i, labels: i.labels.map((name) => ({ name })) })),
      );
    }
    if (p === `${rp}/issues` && method === 'POST') {
      const b = json();
      const i: LocalIssue = { number: this.next++, title: String(b.title), body: String(b.body ?? ''), labels: (b.labels as string[]) ?? [], state: 'open' };
      this.issues.push(i);
      return send(201, i);
    }
    if ((m = new RegExp(`^${rp}/issues/(\\d+)$`).exec(p)) && method === 'PATCH') {
      const i = this.issues.find((x) => x.number === Number(m![1]));
      if (!i) return notFound();
      const b = json();
      if (typeof b.body === 'string') i.body = b.body;
      if (typeof b.title === 'string') i.title = b.title;
      return send(200, i);
    }

    if (p === `${rp}/pulls` && method === 'GET') {
      const head = url.searchParams.get('head');
      const state = url.searchParams.get('state') ?? 'open';
      const hits = this.pulls.filter((x) => (state === 'all' || x.state === state) && (!head || `${this.owner}:${x.head}` === head));
      return send(
        200,
        hits.map((x) => this.pullView(x)),
      );
    }
    if (p === `${rp}/pulls` && method === 'POST') {
      const b = json();
      const head = String(b.head ?? '');
      const base = String(b.base ?? '');
      if (!head || !base || !b.title) return send(422, { message: 'title, head and base are required' });
      if (this.pulls.some((x) => x.state === 'open' && x.head === head))
        return send(422, { message: `Validation Failed: A pull request already exists for ${this.owner}:${head}.` });
      const pr: LocalPull = { number: this.next++, title: String(b.title), body: String(b.body ?? ''), head, base, state: 'open' };
      this.pulls.push(pr);
      return send(201, this.pullView(pr));
    }
    if ((m = new RegExp(`^${rp}/pulls/(\\d+)$`).exec(p)) && method === 'PATCH') {
      const pr = this.pulls.find((x) => x.number === Number(m![1]));
      if (!pr) return notFound();
      const b = json();
      if (typeof b.body === 'string') pr.body = b.body;
      if (typeof b.title === 'string') pr.title = b.title;
      return send(200, this.pullView(pr));
    }
    notFound();
  }
}
