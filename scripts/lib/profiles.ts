/**
 * Build profiles. `release` is upstream's (fat LTO, one codegen unit: small and slow to build);
 * `release-lite` is for slow runners and local checks of an optimised binary; `dev` is the quick
 * one (no debug info, so the target dir stays small and linking stays fast).
 */
import { UserError } from './errors.ts';

export interface Profile {
  name: string;
  cargoProfile: string;
  /** Cargo profile overrides through the environment, so upstream's Cargo.toml stays untouched. */
  env: Record<string, string>;
  /** Directory Cargo writes to under target/<triple>/. */
  outDir: string;
}

export const PROFILES: Record<string, Profile> = {
  dev: { name: 'dev', cargoProfile: 'dev', env: { CARGO_PROFILE_DEV_DEBUG: '0' }, outDir: 'debug' },
  release: { name: 'release', cargoProfile: 'release', env: {}, outDir: 'release' },
  'release-lite': {
    name: 'release-lite',
    cargoProfile: 'release',
    env: { CARGO_PROFILE_RELEASE_LTO: 'thin', CARGO_PROFILE_RELEASE_CODEGEN_UNITS: '16' },
    outDir: 'release',
  },
};

export function findProfile(name: string): Profile {
  const p = PROFILES[name];
  if (!p) throw new UserError(`unknown profile \`${name}\``, `Profiles: ${Object.keys(PROFILES).join(', ')}.`);
  return p;
}
