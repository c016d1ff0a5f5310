//! Each error class against real sockets: refused port, 401, unknown model,
//! https against a plain-HTTP server.

// Test helpers outside #[test] fns panic on purpose, like upstream suites.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use codex_litellm_core::internals::discovery::Client;
use codex_litellm_core::internals::errors::LiteLlmError;
use serde_json::json;
use tokio::io::AsyncReadExt;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use wiremock::Mock;
use wiremock::MockServer;
use wiremock::ResponseTemplate;
use wiremock::matchers::method;
use wiremock::matchers::path;

/// A port nothing listens on: bind, read the port, close.
async fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

#[tokio::test]
async fn refused_connection_says_start_the_proxy() {
    let port = closed_port().await;
    let url = format!("http://127.0.0.1:{port}");
    let err = Client::new(&url, None)
        .unwrap()
        .list_models()
        .await
        .unwrap_err();
    assert!(matches!(err, LiteLlmError::Unreachable { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains(&format!("Is the LiteLLM proxy running at {url}?")),
        "{text}"
    );
    assert!(text.contains("LITELLM_BASE_URL"), "{text}");
    assert!(text.to_lowercase().contains("refused"), "{text}");
    assert!(err.is_retryable());
}

#[tokio::test]
async fn rejected_key_is_explained_without_echoing_it() {
    let secret = "hunter2-super-secret";
    let server = MockServer::start().await;
    // LiteLLM echoes (part of) the rejected key in its 401 body.
    Mock::given(method("GET"))
        .and(path("/v1/models"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"error": {
            "message": format!("Authentication Error, Invalid proxy server token passed. Received API Key = {secret}, Key Hash (Token) =abc. Unable to find token in cache or `LiteLLM_VerificationTokenTable`"),
            "type": "auth_error", "param": "None", "code": "401"
        }})))
        .mount(&server)
        .await;
    let err = Client::new(&server.uri(), Some(secret.to_string()))
        .unwrap()
        .list_models()
        .await
        .unwrap_err();
    assert!(
        matches!(err, LiteLlmError::Unauthorized { status: 401, .. }),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(text.contains("the proxy rejected the API key"), "{text}");
    assert!(text.contains("LITELLM_API_KEY"), "{text}");
    assert!(!text.contains(secret), "{text}");
    assert!(!format!("{err:?}").contains(secret));
}

#[tokio::test]
async fn forbidden_is_also_a_key_problem() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/models"))
        .respond_with(ResponseTemplate::new(403).set_body_string("forbidden"))
        .mount(&server)
        .await;
    let err = Client::new(&server.uri(), Some("sk-x".into()))
        .unwrap()
        .list_models()
        .await
        .unwrap_err();
    assert!(
        matches!(err, LiteLlmError::Unauthorized { status: 403, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn unknown_model_from_a_streaming_error_gets_suggestions() {
    // The body LiteLLM returns for POST /v1/responses with a bad model.
    let body = r#"{"error":{"message":"/responses: Invalid model name passed in model=fake-tool. Call `/v1/models` to view available models for your key.","type":"invalid_request_error","param":"model","code":"400"}}"#;
    let known: Vec<String> = vec!["fake-model".into(), "fake-tools".into(), "gpt-4o".into()];
    let err = codex_litellm_core::internals::errors::classify_http_error(400, body)
        .with_known_models(&known);
    match &err {
        LiteLlmError::UnknownModel { model, known } => {
            assert_eq!(model, "fake-tool");
            assert_eq!(known, &vec!["fake-tools", "fake-model", "gpt-4o"]);
        }
        other => panic!("unexpected {other:?}"),
    }
    let text = err.to_string();
    assert!(
        text.contains("nearest first): fake-tools, fake-model"),
        "{text}"
    );
}

/// A plain-HTTP server that answers whatever arrives (a TLS ClientHello
/// here) with `400 Bad Request`, as uvicorn does.
async fn plain_http_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                let _ = socket.read(&mut buf).await;
                let _ = socket
                    .write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 11\r\nconnection: close\r\n\r\nBad Request")
                    .await;
                let _ = socket.shutdown().await;
            });
        }
    });
    port
}

#[tokio::test]
async fn https_against_plain_http_suggests_http() {
    let port = plain_http_server().await;
    let url = format!("https://127.0.0.1:{port}");
    let err = Client::new(&url, None)
        .unwrap()
        .list_models()
        .await
        .unwrap_err();
    match &err {
        LiteLlmError::HttpsToPlainHttp { suggestion, .. } => {
            assert_eq!(suggestion, &format!("http://127.0.0.1:{port}"));
        }
        other => panic!("expected HttpsToPlainHttp, got {other:?}: {other}"),
    }
    let text = err.to_string();
    assert!(
        text.contains(&format!("Use http://127.0.0.1:{port} instead")),
        "{text}"
    );
}

#[tokio::test]
async fn server_errors_point_at_proxy_logs() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/models"))
        .respond_with(
            ResponseTemplate::new(503)
                .set_body_json(json!({"error": {"message": "no healthy deployments"}})),
        )
        .mount(&server)
        .await;
    let err = Client::new(&server.uri(), None)
        .unwrap()
        .list_models()
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(503));
    let text = err.to_string();
    assert!(text.contains("no healthy deployments"), "{text}");
    assert!(text.contains("proxy logs"), "{text}");
}
