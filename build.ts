#!/usr/bin/env -S npx tsx
/** codex-litellm build orchestrator. `npx tsx build.ts --help`. */
import { main } from './scripts/cli.ts';

process.exitCode = await main(process.argv.slice(2));
