//! Reading one value of config.toml, with an error that names the setting
//! and says what it should be: the shared rules of `[litellm]`,
//! `[litellm.cache.local]` and `[telemetry]`. A value of the wrong type is
//! an error, never ignored: a cache or log the user thinks is off must be
//! off.
//!
//! It needs nothing of the crate but [`crate::errors`], so the modules that
//! read their own table (config, tier 0, telemetry) need not reach into one
//! another.

use std::path::Path;
use std::path::PathBuf;

use crate::errors::LiteLlmError;

/// `~`, `~/x` → the home directory; relative → under `codex_home`.
pub fn resolve_dir(
    text: &str,
    codex_home: &Path,
    setting: &str,
) -> Result<PathBuf, LiteLlmError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(LiteLlmError::invalid(setting, "it is empty"));
    }
    let home = || {
        std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(PathBuf::from)
            .ok_or_else(|| LiteLlmError::invalid(setting, "it starts with `~` but HOME is not set"))
    };
    if text == "~" {
        return home();
    }
    if let Some(rest) = text.strip_prefix("~/") {
        return Ok(home()?.join(rest));
    }
    let path = PathBuf::from(text);
    Ok(if path.is_absolute() {
        path
    } else {
        codex_home.join(path)
    })
}

/// "expected a boolean, found string", naming the setting.
pub fn type_error(setting: String, expected: &str, found: &toml::Value) -> LiteLlmError {
    LiteLlmError::invalid(
        setting,
        format!("expected {expected}, found {}", found.type_str()),
    )
}

/// A whole number of at least 0 (sizes, seconds).
pub fn non_negative(setting: &str, value: &toml::Value) -> Result<u64, LiteLlmError> {
    match value {
        toml::Value::Integer(n) => {
            u64::try_from(*n).map_err(|_| LiteLlmError::invalid(setting, "must not be negative"))
        }
        other => Err(type_error(setting.to_string(), "an integer", other)),
    }
}
