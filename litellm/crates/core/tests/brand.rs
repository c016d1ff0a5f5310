//! The product's name and version once the binary activated the crate, as
//! upstream's crates see them through the seam (codex-litellm-hooks). Its own
//! test process: activation is process-wide and one-way.

use codex_litellm_core::hooks;
use codex_litellm_hooks as seam;

#[test]
fn activated_the_seam_answers_with_codex_litellm_and_our_version() {
    // Before activation the seam gives upstream's words.
    assert!(!seam::is_active());
    assert_eq!(seam::product_name(), "OpenAI Codex");
    hooks::activate("0.125.0-litellm.1 (upstream rust-v0.125.0 637f7dd6d737, series 3f1c0a9e2b7d)");
    assert!(seam::is_active());
    assert_eq!(seam::product_name(), "codex-litellm");
    assert_eq!(seam::product_version("0.125.0"), "0.125.0-litellm.1");
    assert_eq!(seam::command_name(), "codex-litellm");
    let hint = seam::model_picker_hint(
        "Access legacy models by running codex -m <model_name> or in your config.toml",
    );
    assert!(
        hint.contains("codex-litellm -m") && !hint.contains("codex -m"),
        "{hint}"
    );
    // No session was started: nothing for /status, and retries keep upstream's words.
    assert!(!seam::is_litellm_session());
    assert!(seam::status_lines().is_empty());
    assert_eq!(
        seam::retry_notice("Reconnecting... 1/3".into(), "why".into()),
        ("Reconnecting... 1/3".to_string(), Some("why".to_string()))
    );
    // The built-in provider exists once active (at the default place when nothing is configured).
    let provider = seam::provider_json(None, None).unwrap_or_default();
    assert_eq!(provider["wire_api"], "responses", "{provider}");
    assert_eq!(
        seam::default_provider_id(None).as_deref(),
        Some(seam::PROVIDER_ID)
    );
}
