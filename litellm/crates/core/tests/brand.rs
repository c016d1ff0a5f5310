//! The product's name and version once the binary activated the crate (its
//! own test process: activation is process-wide and one-way).

use codex_litellm_core::hooks;

#[test]
fn activated_the_product_is_codex_litellm_with_our_version() {
    hooks::activate("0.115.0-litellm.1 (upstream rust-v0.115.0 f028679abb30, series 3f1c0a9e2b7d)");
    assert_eq!(hooks::product_name(), "codex-litellm");
    assert_eq!(hooks::product_version("0.115.0"), "0.115.0-litellm.1");
    assert_eq!(hooks::command_name(), "codex-litellm");
    let hint = hooks::model_picker_hint(
        "Access legacy models by running codex -m <model_name> or in your config.toml",
    );
    assert!(
        hint.contains("codex-litellm -m") && !hint.contains("codex -m"),
        "{hint}"
    );
}
