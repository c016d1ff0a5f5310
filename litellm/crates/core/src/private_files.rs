//! Where codex-litellm keeps its files (CODEX_HOME/litellm) and how it
//! writes them: directories only the user may enter, and files replaced
//! whole by a rename, so a reader (another Codex process, or the next start
//! after a crash) sees the old file or the new one, never half of one. The
//! key file, the discovery cache, tier 0 and telemetry all live there.

use std::fs;
use std::io;
use std::io::Write;
use std::path::Path;
use std::path::PathBuf;

use crate::errors::LiteLlmError;

/// CODEX_HOME/litellm, where this crate keeps its files.
pub fn litellm_dir(codex_home: &Path) -> PathBuf {
    codex_home.join("litellm")
}

/// Creates `dir` (and parents); on Unix a newly created leaf gets mode 0700.
pub fn create_private_dir(dir: &Path) -> Result<(), LiteLlmError> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(dir)
        .map_err(|err| LiteLlmError::io("create directory", dir, err))
}

/// Writes `contents` to a temporary sibling of `path`, syncs it and renames
/// it over `path`. `mode` (Unix only) applies to the new file; without it the
/// existing file's permissions are kept.
pub fn write_atomically(
    path: &Path,
    contents: &[u8],
    mode: Option<u32>,
) -> Result<(), LiteLlmError> {
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{file_name}.tmp-{}", std::process::id()));
    let result = (|| -> io::Result<()> {
        let mut options = fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            use std::os::unix::fs::PermissionsExt;
            let existing = fs::metadata(path)
                .ok()
                .map(|m| m.permissions().mode() & 0o777);
            if let Some(mode) = mode.or(existing) {
                options.mode(mode);
            }
        }
        let mut file = options.open(&tmp)?;
        #[cfg(unix)]
        if let Some(mode) = mode {
            // `mode()` only applies when the file is created; enforce it in
            // case a stale temp file survived an earlier crash.
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(fs::Permissions::from_mode(mode))?;
        }
        file.write_all(contents)?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    result.map_err(|err| {
        let _ = fs::remove_file(&tmp);
        LiteLlmError::io("write", path, err)
    })
}
