/**
 * Cargo.lock at upstream tags lists workspace crates as 0.0.0 while Cargo.toml says the release
 * version, so upstream's lock is never `--locked`-clean as tagged. We refresh only workspace
 * entries (`cargo update --workspace`) and then prove that no external package changed: our crates
 * must build from what upstream already locks, or every upstream bump becomes a dependency audit.
 */
export interface LockedPackage {
  name: string;
  version: string;
  source: string | undefined;
}

export function parseCargoLock(text: string): LockedPackage[] {
  const out: LockedPackage[] = [];
  for (const block of text.split(/\n\[\[package\]\]\n/).slice(1)) {
    const name = /^name = "([^"]+)"/m.exec(block)?.[1];
    const version = /^version = "([^"]+)"/m.exec(block)?.[1];
    const source = /^source = "([^"]+)"/m.exec(block)?.[1];
    if (name && version) out.push({ name, version, source });
  }
  return out;
}

/** External (registry or git) packages present after the refresh that upstream's lock lacks. */
export function newExternalPackages(before: string, after: string): LockedPackage[] {
  const key = (p: LockedPackage): string => `${p.name}@${p.version}@${p.source}`;
  const had = new Set(
    parseCargoLock(before)
      .filter((p) => p.source)
      .map(key),
  );
  return parseCargoLock(after).filter((p) => p.source && !had.has(key(p)));
}
