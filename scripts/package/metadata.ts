/**
 * What every package says about itself: names, maintainer, homepage, descriptions, and the files
 * every package carries (LICENSE, NOTICE, README.md from the checkout).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from '../lib/errors.ts';
import { UPSTREAM_FACTS } from '../lib/project.ts';

export const PACKAGE_NAME = UPSTREAM_FACTS.binName;
export const HOMEPAGE = 'https://github.com/avikalpa/codex-litellm';

/** Overridable (CODEX_LITELLM_MAINTAINER) so a fork or a distribution can sign its own packages. */
export function maintainer(env: NodeJS.ProcessEnv = process.env): string {
  const m = env.CODEX_LITELLM_MAINTAINER ?? 'codex-litellm maintainers <codex-litellm@users.noreply.github.com>';
  if (!/^[^<>\n]+ <[^<>@\s]+@[^<>\s]+>$/.test(m)) {
    throw new UserError(`CODEX_LITELLM_MAINTAINER=${m} is not \`Name <email>\``, 'Debian and opkg control files need `Name <address>`.');
  }
  return m;
}

export const SUMMARY = 'OpenAI Codex CLI with a built-in LiteLLM provider';

/** Debian-style long description: lines under 80 columns, each starting with a space in the control file. */
export const LONG_DESCRIPTION = [
  'codex-litellm is the OpenAI Codex CLI agent (an unmodified upstream release',
  'plus a short series of patches) with a built-in provider for a LiteLLM proxy:',
  "Codex's agent loop with any model behind your LiteLLM gateway. The binary is",
  'codex-litellm and installs beside a stock codex without changing it.',
];

export interface Docs {
  license: Buffer;
  notice: Buffer;
  readme: Buffer;
}

export function readDocs(root: string): Docs {
  const read = (name: string): Buffer => {
    const f = path.join(root, name);
    try {
      return fs.readFileSync(f);
    } catch {
      throw new UserError(`${f} is missing`, `Every package ships LICENSE, NOTICE and README.md from the checkout; restore ${name}.`);
    }
  };
  return { license: read('LICENSE'), notice: read('NOTICE'), readme: read('README.md') };
}
