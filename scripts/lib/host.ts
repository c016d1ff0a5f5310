/** This machine as a Rust target triple: what a build defaults to and what a route is planned from. */
export function hostTriple(): string {
  const arch = process.arch === 'x64' ? 'x86_64' : process.arch === 'arm64' ? 'aarch64' : process.arch;
  switch (process.platform) {
    case 'linux': {
      // glibc reports its version through process.report; musl does not.
      const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
      return `${arch}-unknown-linux-${report?.header?.glibcVersionRuntime ? 'gnu' : 'musl'}`;
    }
    case 'darwin':
      return `${arch}-apple-darwin`;
    case 'win32':
      return `${arch}-pc-windows-msvc`;
    case 'freebsd':
      return `${arch}-unknown-freebsd`;
    case 'android':
      return `${arch}-linux-android`;
    default:
      return `${arch}-unknown-${process.platform}`;
  }
}
