/**
 * A short manual page for codex-litellm(1). Debian expects one for every program in /usr/bin
 * (lintian: no-manual-page); it points at `--help` and the README for the rest.
 */
import { HOMEPAGE, LONG_DESCRIPTION, PACKAGE_NAME, SUMMARY } from './metadata.ts';

export function manPage(version: string, dateSeconds: number): string {
  const date = new Date(dateSeconds * 1000).toISOString().slice(0, 10);
  const esc = (s: string): string =>
    s
      .replace(/\\/g, '\\e')
      .replace(/-/g, '\\-')
      .replace(/^(['.])/gm, '\\&$1');
  return [
    `.TH ${PACKAGE_NAME.toUpperCase()} 1 "${date}" "${PACKAGE_NAME} ${esc(version)}" "User Commands"`,
    '.SH NAME',
    `${esc(PACKAGE_NAME)} \\- ${esc(SUMMARY)}`,
    '.SH SYNOPSIS',
    `.B ${esc(PACKAGE_NAME)}`,
    '[\\fIOPTIONS\\fR] [\\fIPROMPT\\fR]',
    '.br',
    `.B ${esc(PACKAGE_NAME)}`,
    '\\fBexec\\fR|\\fBmodels\\fR|\\fBstatus\\fR [\\fIOPTIONS\\fR]',
    '.SH DESCRIPTION',
    esc(LONG_DESCRIPTION.join('\n')),
    '.PP',
    'Run',
    `.B ${esc(PACKAGE_NAME)} \\-\\-help`,
    'for every command and option.',
    '.SH ENVIRONMENT',
    '.TP',
    '.B LITELLM_BASE_URL',
    'URL of the LiteLLM proxy (a bare host:port gets http:// and /v1).',
    '.TP',
    '.B LITELLM_API_KEY',
    'LiteLLM virtual key or master key.',
    '.TP',
    '.B LITELLM_MODEL',
    'Model to use when none is given with \\fB\\-m\\fR.',
    '.TP',
    '.B CODEX_HOME',
    'Directory for configuration and state (default: \\fI~/.codex\\fR).',
    '.SH FILES',
    '.TP',
    '.I $CODEX_HOME/config.toml',
    'Settings; the \\fB[litellm]\\fR table holds the proxy URL, key file and default model.',
    '.SH SEE ALSO',
    esc(HOMEPAGE),
    '',
  ].join('\n');
}
