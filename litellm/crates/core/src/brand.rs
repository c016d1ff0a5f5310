//! The product's name and version where upstream shows its own: the TUI's
//! session header and `/status` title, the `/model` picker's hint, and the
//! resume command printed at exit. Upstream's name stays wherever it credits
//! upstream (help texts that describe what Codex does, the licence, ...).
//! Every function gives upstream's own text back unless the codex-litellm
//! binary activated this crate, so upstream's binaries and snapshot tests
//! built from the same tree see no change.

use crate::session::is_active;
use crate::session::version;

/// The product's name, as users type it.
pub const PRODUCT: &str = "codex-litellm";

/// The name in the TUI's header and `/status` card.
pub fn product_name() -> &'static str {
    if is_active() { PRODUCT } else { "OpenAI Codex" }
}

/// The version beside that name: ours ("0.115.0-litellm.1", the first word
/// of the stamped version), else `upstream`'s.
pub fn product_version(upstream: &str) -> String {
    match version().filter(|_| is_active()) {
        Some(stamped) => short_version(stamped).to_string(),
        None => upstream.to_string(),
    }
}

/// The command that runs this program (`codex-litellm resume ...`).
pub fn command_name() -> &'static str {
    if is_active() { PRODUCT } else { "codex" }
}

/// The hint under the `/model` picker's title.
pub fn model_picker_hint(upstream: &'static str) -> &'static str {
    if is_active() {
        "Models your LiteLLM proxy serves. Any other: codex-litellm -m <model>, or [litellm].model in config.toml"
    } else {
        upstream
    }
}

/// "0.115.0-litellm.1" of "0.115.0-litellm.1 (upstream rust-v0.115.0 …)".
fn short_version(stamped: &str) -> &str {
    stamped.split_whitespace().next().unwrap_or(stamped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_version_is_the_first_word() {
        assert_eq!(
            short_version("0.115.0-litellm.1 (upstream rust-v0.115.0 f028679abb30, series 3f1c)"),
            "0.115.0-litellm.1"
        );
        assert_eq!(short_version("0.0.0"), "0.0.0");
    }

    #[test]
    fn inactive_gives_upstreams_words() {
        // Tests share one process and activation is one-way: only checked
        // while nothing activated (tests/brand.rs checks the active side).
        if !is_active() {
            assert_eq!(product_name(), "OpenAI Codex");
            assert_eq!(product_version("0.115.0"), "0.115.0");
            assert_eq!(command_name(), "codex");
            assert_eq!(model_picker_hint("upstream hint"), "upstream hint");
        }
    }
}
