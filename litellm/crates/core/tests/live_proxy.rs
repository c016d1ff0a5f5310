//! Discovery against a real LiteLLM proxy, when one is available.
//!
//! Runs only when LITELLM_TEST_URL is set (LITELLM_TEST_KEY optional); the
//! proxy is expected to serve `fake-model` and `fake-tools` with
//! max_input_tokens 32000, max_output_tokens 4096 and prices 1e-6 / 2e-6.
//! Without the variable the test prints a note and passes, so `cargo test`
//! stays hermetic.

// Test helpers outside #[test] fns panic on purpose, like upstream suites.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use codex_litellm_core::internals::discovery::Client;

#[tokio::test]
async fn discovery_against_real_proxy() {
    let Ok(url) = std::env::var("LITELLM_TEST_URL") else {
        eprintln!("note: LITELLM_TEST_URL not set; skipping the live LiteLLM proxy test");
        return;
    };
    let key = std::env::var("LITELLM_TEST_KEY").ok();
    let client = Client::new(&url, key).expect("valid LITELLM_TEST_URL");

    let alive = client.health_liveliness().await.expect("liveliness");
    assert!(!alive.is_empty());
    let ready = client.health_readiness().await.expect("readiness");
    eprintln!(
        "live proxy: status={:?} version={:?}",
        ready.status, ready.litellm_version
    );

    let models = client.discover().await.expect("discovery");
    for name in ["fake-model", "fake-tools"] {
        let model = models
            .iter()
            .find(|m| m.id == name)
            .unwrap_or_else(|| panic!("{name} missing from {models:?}"));
        assert_eq!(model.context_window, Some(32000), "{name}");
        assert_eq!(model.max_output_tokens, Some(4096), "{name}");
        assert_eq!(model.input_cost_per_token, Some(0.000001), "{name}");
        assert_eq!(model.output_cost_per_token, Some(0.000002), "{name}");
    }
    let err = client
        .check_model("fake-modle")
        .await
        .expect_err("unknown model");
    assert!(err.to_string().contains("fake-model"), "{err}");
}
