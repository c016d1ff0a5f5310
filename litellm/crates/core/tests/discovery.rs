//! Discovery against a fake LiteLLM proxy (wiremock).

// Test helpers outside #[test] fns panic on purpose, like upstream suites.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::time::Duration;

use codex_litellm_core::internals::discovery;
use codex_litellm_core::internals::discovery::Client;
use codex_litellm_core::internals::errors::LiteLlmError;
use codex_litellm_core::internals::model_info::Deployment;
use codex_litellm_core::internals::model_info::ModelInfo;
use pretty_assertions::assert_eq;
use serde_json::json;
use wiremock::Mock;
use wiremock::MockServer;
use wiremock::ResponseTemplate;
use wiremock::matchers::header;
use wiremock::matchers::method;
use wiremock::matchers::path;

const KEY: &str = "sk-test-key";

fn models_body() -> serde_json::Value {
    json!({"object": "list", "data": [
        {"id": "fake-model", "object": "model", "created": 1, "owned_by": "openai"},
        {"id": "vercel/maa/x", "object": "model", "created": 1, "owned_by": "openai"},
        {"id": "no-info", "object": "model"}
    ]})
}

fn model_info_body() -> serde_json::Value {
    json!({"data": [
        {"model_name": "fake-model",
         "litellm_params": {"model": "openai/fake", "api_base": "http://upstream"},
         "model_info": {"id": "dep-1", "max_input_tokens": 32000, "max_output_tokens": 4096,
                        "max_tokens": 4096, "input_cost_per_token": 0.000001,
                        "output_cost_per_token": 0.000002, "mode": "chat",
                        "supports_function_calling": true, "supports_vision": null,
                        "brand_new_field": {"x": 1}}},
        {"model_name": "vercel/maa/x",
         "litellm_params": {"model": "vercel_ai_gateway/maa/x"},
         "model_info": {"max_input_tokens": null, "max_output_tokens": null,
                        "input_cost_per_token": null, "cache_read_input_token_cost": 1e-7}},
        {"model_name": "not-listed", "model_info": {"max_input_tokens": 5}}
    ]})
}

async fn proxy() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/models"))
        .and(header("authorization", format!("Bearer {KEY}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(models_body()))
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn list_models_sends_the_key_and_keeps_slash_ids() {
    let server = proxy().await;
    let client = Client::new(&server.uri(), Some(KEY.to_string())).unwrap();
    assert_eq!(client.base_url(), format!("{}/v1", server.uri()));
    assert_eq!(
        client.list_models().await.unwrap(),
        vec!["fake-model", "vercel/maa/x", "no-info"]
    );
}

#[tokio::test]
async fn discover_enriches_ids_with_model_info() {
    let server = proxy().await;
    Mock::given(method("GET"))
        .and(path("/model/info"))
        .respond_with(ResponseTemplate::new(200).set_body_json(model_info_body()))
        .mount(&server)
        .await;
    let client = Client::new(&format!("{}/v1/", server.uri()), Some(KEY.to_string())).unwrap();
    let models = client.discover().await.unwrap();
    assert_eq!(
        models,
        vec![
            ModelInfo {
                id: "fake-model".into(),
                context_window: Some(32000),
                max_output_tokens: Some(4096),
                input_cost_per_token: Some(0.000001),
                output_cost_per_token: Some(0.000002),
                cache_read_input_token_cost: None,
                mode: Some("chat".into()),
                supports_function_calling: Some(true),
                // Where `x-litellm-model-id: dep-1` sends requests (/status).
                deployments: vec![Deployment {
                    id: "dep-1".into(),
                    api_base: Some("http://upstream".into()),
                    model: Some("openai/fake".into()),
                }],
                ..ModelInfo::new("fake-model")
            },
            ModelInfo {
                cache_read_input_token_cost: Some(1e-7),
                ..ModelInfo::new("vercel/maa/x")
            },
            ModelInfo::new("no-info"),
        ]
    );
}

#[tokio::test]
async fn model_info_failure_degrades_to_ids() {
    for broken in [
        ResponseTemplate::new(500).set_body_string("Internal Server Error"),
        ResponseTemplate::new(404).set_body_json(json!({"detail": "Not Found"})),
        ResponseTemplate::new(200).set_body_string("<html>not json</html>"),
        ResponseTemplate::new(200).set_body_json(json!({"unexpected": true})),
    ] {
        let server = proxy().await;
        Mock::given(method("GET"))
            .and(path("/model/info"))
            .respond_with(broken)
            .mount(&server)
            .await;
        let client = Client::new(&server.uri(), Some(KEY.to_string())).unwrap();
        let models = client.discover().await.unwrap();
        assert_eq!(
            models,
            vec![
                ModelInfo::new("fake-model"),
                ModelInfo::new("vercel/maa/x"),
                ModelInfo::new("no-info")
            ]
        );
    }
}

#[tokio::test]
async fn discover_cached_uses_the_cache_within_ttl() {
    let server = proxy().await;
    Mock::given(method("GET"))
        .and(path("/model/info"))
        .respond_with(ResponseTemplate::new(200).set_body_json(model_info_body()))
        .expect(1)
        .mount(&server)
        .await;
    let home = tempfile::tempdir().unwrap();
    let client = Client::new(&server.uri(), Some(KEY.to_string())).unwrap();
    let first = client
        .discover_cached(home.path(), discovery::DEFAULT_CACHE_TTL)
        .await
        .unwrap();
    assert!(discovery::cache_path(home.path()).exists());
    let second = client
        .discover_cached(home.path(), discovery::DEFAULT_CACHE_TTL)
        .await
        .unwrap();
    assert_eq!(first, second);
    // The /model/info mock's `expect(1)` is verified when the server drops.
}

#[tokio::test]
async fn incomplete_discovery_is_not_cached() {
    let server = proxy().await;
    Mock::given(method("GET"))
        .and(path("/model/info"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&server)
        .await;
    let home = tempfile::tempdir().unwrap();
    let client = Client::new(&server.uri(), Some(KEY.to_string())).unwrap();
    client
        .discover_cached(home.path(), discovery::DEFAULT_CACHE_TTL)
        .await
        .unwrap();
    assert!(!discovery::cache_path(home.path()).exists());
}

#[tokio::test]
async fn a_server_without_model_info_is_cached_too() {
    // A plain OpenAI-compatible server answers /model/info with 404: that is an answer, not a
    // transient failure, so the ids alone are cached and the next start asks nothing.
    let server = proxy().await;
    Mock::given(method("GET"))
        .and(path("/model/info"))
        .respond_with(ResponseTemplate::new(404))
        .expect(1)
        .mount(&server)
        .await;
    let home = tempfile::tempdir().unwrap();
    let client = Client::new(&server.uri(), Some(KEY.to_string())).unwrap();
    let first = client
        .discover_cached(home.path(), discovery::DEFAULT_CACHE_TTL)
        .await
        .unwrap();
    assert!(discovery::cache_path(home.path()).exists());
    let second = client
        .discover_cached(home.path(), discovery::DEFAULT_CACHE_TTL)
        .await
        .unwrap();
    assert_eq!(first, second);
}

#[tokio::test]
async fn health_endpoints() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/health/liveliness"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!("I'm alive!")))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/health/readiness"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "status": "healthy", "db": "Not connected", "cache": null,
            "litellm_version": "1.77.5", "success_callbacks": []
        })))
        .mount(&server)
        .await;
    let client = Client::new(&server.uri(), None).unwrap();
    assert_eq!(client.health_liveliness().await.unwrap(), "I'm alive!");
    let ready = client.health_readiness().await.unwrap();
    assert_eq!(ready.status.as_deref(), Some("healthy"));
    assert_eq!(ready.litellm_version.as_deref(), Some("1.77.5"));
    assert_eq!(ready.db.as_deref(), Some("Not connected"));
    assert_eq!(ready.raw["cache"], serde_json::Value::Null);

    // An old proxy without a version field still parses.
    let old = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/health/readiness"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"status": "healthy"})))
        .mount(&old)
        .await;
    let ready = Client::new(&old.uri(), None)
        .unwrap()
        .health_readiness()
        .await
        .unwrap();
    assert_eq!(ready.litellm_version, None);
}

#[tokio::test]
async fn check_model_suggests_nearest() {
    let server = proxy().await;
    let client = Client::new(&server.uri(), Some(KEY.to_string())).unwrap();
    client.check_model("vercel/maa/x").await.unwrap();
    let err = client.check_model("fake-modle").await.unwrap_err();
    match &err {
        LiteLlmError::UnknownModel { model, known } => {
            assert_eq!(model, "fake-modle");
            assert_eq!(known[0], "fake-model");
            assert_eq!(known.len(), 3);
        }
        other => panic!("unexpected {other:?}"),
    }
    let text = err.to_string();
    assert!(text.contains("`fake-modle`"), "{text}");
    assert!(text.contains("nearest first): fake-model"), "{text}");
}

#[tokio::test]
async fn non_json_model_list_is_an_unexpected_response() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/models"))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>hello</html>"))
        .mount(&server)
        .await;
    let err = Client::new(&server.uri(), None)
        .unwrap()
        .list_models()
        .await
        .unwrap_err();
    assert!(
        matches!(err, LiteLlmError::UnexpectedResponse { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("LITELLM_BASE_URL"), "{err}");
}

#[tokio::test]
async fn slow_proxy_times_out() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/models"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(models_body())
                .set_delay(Duration::from_secs(5)),
        )
        .mount(&server)
        .await;
    let client = Client::new(&server.uri(), None)
        .unwrap()
        .with_timeout(Duration::from_millis(200))
        .unwrap();
    let err = client.list_models().await.unwrap_err();
    assert!(matches!(err, LiteLlmError::Timeout { .. }), "{err:?}");
    assert!(err.to_string().contains("timed out"), "{err}");
}
