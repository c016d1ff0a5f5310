/** The `upstream` lines of build.ts --help (kept apart so --help loads no tracking code). */
export const UPSTREAM_HELP = `  npx tsx build.ts upstream check [--pre]    upstream releases newer than the pin (GitHub API, else git ls-remote)
  npx tsx build.ts upstream try <tag>        apply the series to <tag> in a scratch index, 3-way where needed; changes nothing
  npx tsx build.ts upstream bump <tag>       re-pin upstream.lock to <tag> and re-export patches/ (on conflict: a worktree to finish)
  npx tsx build.ts upstream bump <tag> --continue   after resolving that worktree: pin and export
  npx tsx build.ts upstream bump --to <commit>     an EDGE pin: a commit of upstream main (--upstream-main), checked to
                                             descend from a release tag's parent; only an edge release publishes it
  npx tsx build.ts upstream drift [--from <tag>] [--to <tag>] [--pre]   per release: does the series apply (clean/merge/conflict)
`;
