//! `exchange` against a real (wiremock) server, the way upstream's transport
//! calls it: the budget stop, tier 0, pass-through for other URLs, tool and
//! reasoning shaping, the JSON fallback and transport failures.

// Test helpers outside #[test] fns panic on purpose, like upstream suites.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering;

use codex_litellm_core::ModelInfo;
use codex_litellm_core::internals::canonical::request_key;
use codex_litellm_core::internals::exchange::ProxyHealth;
use codex_litellm_core::internals::exchange::Runtime;
use codex_litellm_core::internals::exchange::exchange;
use codex_litellm_core::internals::exchange::exchange_with;
use codex_litellm_core::internals::telemetry::RequestRecord;
use codex_litellm_core::internals::telemetry::Telemetry;
use codex_litellm_core::internals::telemetry::TelemetryConfig;
use codex_litellm_core::internals::telemetry::read_records;
use codex_litellm_core::internals::tier0::Tier0Cache;
use codex_litellm_core::internals::tier0::Tier0Config;
use futures::future::BoxFuture;
use pretty_assertions::assert_eq;
use serde_json::Value;
use serde_json::json;
use tempfile::TempDir;
use wiremock::Match;
use wiremock::Mock;
use wiremock::MockServer;
use wiremock::Request;
use wiremock::ResponseTemplate;
use wiremock::matchers::method;
use wiremock::matchers::path;

/// A completed Responses stream; LiteLLM writes the cost into `usage.cost`.
fn completed_sse(cost: f64) -> String {
    let created = json!({"type": "response.created", "sequence_number": 0,
        "response": {"id": "resp_1", "object": "response", "status": "in_progress", "model": "m", "output": []}});
    let completed = json!({"type": "response.completed", "sequence_number": 1,
        "response": {"id": "resp_1", "object": "response", "status": "completed", "model": "m", "output": [],
            "usage": {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15, "cost": cost}}});
    format!(
        "event: response.created\ndata: {created}\n\nevent: response.completed\ndata: {completed}\n\n"
    )
}

fn sse(cost: f64) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(completed_sse(cost), "text/event-stream")
}

/// What a test's runtime is built from; the defaults are a bare runtime.
#[derive(Default)]
struct Setup {
    models: Vec<ModelInfo>,
    tier0: Option<Tier0Cache>,
    proxy_cache: Option<Value>,
    max_session_cost_usd: Option<f64>,
}

/// A runtime for `base_url` with telemetry in a fresh directory. Leaked:
/// an answer stream records its request when it ends, after `exchange`
/// returned, so the runtime must live as long as the process (as the
/// installed one does).
fn runtime(base_url: &str, setup: Setup) -> (&'static Runtime, TempDir, TelemetryConfig) {
    let home = tempfile::tempdir().unwrap();
    let cfg = TelemetryConfig::defaults(home.path());
    let telemetry = Telemetry::open(cfg.clone(), &[]).unwrap();
    assert!(telemetry.is_some());
    let rt = Runtime::new(
        "test-session".to_string(),
        base_url.to_string(),
        telemetry,
        setup.tier0,
        setup.models,
        setup.proxy_cache,
        setup.max_session_cost_usd,
    );
    (Box::leak(Box::new(rt)), home, cfg)
}

fn records(cfg: &TelemetryConfig) -> Vec<RequestRecord> {
    read_records(&cfg.dir, &cfg.session_file)
}

type Sender = Arc<
    dyn Fn(Option<Value>) -> BoxFuture<'static, Result<reqwest::Response, reqwest::Error>>
        + Send
        + Sync,
>;

/// Upstream's send for `url`, counting its calls.
fn sender(url: &str) -> (Sender, Arc<AtomicUsize>) {
    let client = reqwest::Client::new();
    let url = url.to_string();
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    let send: Sender = Arc::new(move |body: Option<Value>| {
        counter.fetch_add(1, Ordering::SeqCst);
        let mut request = client.post(&url);
        if let Some(body) = body {
            request = request.json(&body);
        }
        Box::pin(request.send())
    });
    (send, calls)
}

/// One exchange with `rt` for `url`, read to the end.
async fn call(rt: &'static Runtime, url: &str, send: &Sender, body: Value) -> (u16, String) {
    let send = Arc::clone(send);
    let response = exchange_with(rt, url, Some(body), move |b| send(b))
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

async fn bodies(server: &MockServer) -> Vec<Value> {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect()
}

#[tokio::test]
async fn budget_stop_answers_402_without_sending() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/responses"))
        .respond_with(sse(0.002))
        .expect(1)
        .mount(&server)
        .await;
    let base = format!("{}/v1", server.uri());
    let url = format!("{base}/responses");
    let (rt, _home, cfg) = runtime(
        &base,
        Setup {
            max_session_cost_usd: Some(0.001),
            ..Setup::default()
        },
    );
    let (send, calls) = sender(&url);
    let body = json!({"model": "m", "input": "hi", "stream": true});

    let (status, text) = call(rt, &url, &send, body.clone()).await;
    assert_eq!(status, 200);
    assert!(text.contains("response.completed"), "{text}");
    assert!(rt.totals.lock().unwrap().total.cost_usd >= 0.002);

    let (status, text) = call(rt, &url, &send, body).await;
    assert_eq!(status, 402);
    assert!(text.contains("max_session_cost_usd"), "{text}");
    assert!(text.contains("$0.0010"), "{text}");
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "the stopped request was not sent"
    );
    let records = records(&cfg);
    assert_eq!(records.len(), 2);
    assert_eq!(records[1].http_status, Some(402));
    assert!(records[1].is_error());
}

#[tokio::test]
async fn tier0_hit_makes_no_network_call() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(sse(0.001))
        .expect(0)
        .mount(&server)
        .await;
    let base = format!("{}/v1", server.uri());
    let url = format!("{base}/responses");
    let cache_dir = tempfile::tempdir().unwrap();
    let mut tier0 = Tier0Config::defaults(cache_dir.path());
    tier0.enabled = true;
    let cache = Tier0Cache::open(tier0).unwrap().unwrap();
    // Nothing in this body is reshaped, so its key is the one exchange uses.
    let body = json!({"model": "m", "input": "What is the capital of France?", "stream": true});
    let stored = completed_sse(0.5);
    cache.put(&request_key(&body), stored.as_bytes()).unwrap();
    let (rt, _home, cfg) = runtime(
        &base,
        Setup {
            tier0: Some(cache),
            ..Setup::default()
        },
    );
    let (send, calls) = sender(&url);

    let response = exchange_with(rt, &url, Some(body), |b| send(b))
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        response
            .headers()
            .get("x-codex-litellm-cache")
            .and_then(|v| v.to_str().ok()),
        Some("tier0")
    );
    assert_eq!(response.text().await.unwrap(), stored);
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    let records = records(&cfg);
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].cache_tier.as_deref(), Some("tier0"));
    assert_eq!(records[0].cost_usd, Some(0.0), "a local hit costs nothing");
    assert_eq!(records[0].wire_api, "responses");
}

#[tokio::test]
async fn tier0_stores_a_miss_and_serves_it_next_time() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(sse(0.001))
        .expect(1)
        .mount(&server)
        .await;
    let base = format!("{}/v1", server.uri());
    let url = format!("{base}/responses");
    let cache_dir = tempfile::tempdir().unwrap();
    let mut tier0 = Tier0Config::defaults(cache_dir.path());
    tier0.enabled = true;
    let (rt, _home, _cfg) = runtime(
        &base,
        Setup {
            tier0: Tier0Cache::open(tier0).unwrap(),
            ..Setup::default()
        },
    );
    let (send, calls) = sender(&url);
    // A fresh conversation id each time, as upstream sends: the stable key
    // replaces it, so both requests share a tier-0 key.
    let body = |conversation: &str| {
        json!({"model": "m", "input": "hi", "prompt_cache_key": conversation,
               "tools": [{"type": "function", "name": "shell", "parameters": {}}]})
    };
    let (_, first) = call(rt, &url, &send, body("conv-1")).await;
    let (_, second) = call(rt, &url, &send, body("conv-2")).await;
    assert_eq!(first, second);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn other_urls_pass_through_untouched() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_raw("plain", "text/plain"))
        .mount(&server)
        .await;
    let base = format!("{}/v1", server.uri());
    let (rt, _home, cfg) = runtime(
        &base,
        Setup {
            proxy_cache: Some(json!({"no-cache": true})),
            ..Setup::default()
        },
    );
    let body = json!({"model": "m", "input": "hi", "prompt_cache_key": "conv-1",
        "reasoning": {"effort": "high"},
        "tools": [{"type": "custom", "name": "apply_patch"}, {"type": "tool_search"}]});

    // Another provider or endpoint on the same transport, and a path that
    // only shares a prefix with the base URL.
    for url in [
        format!("{}/other/responses", server.uri()),
        format!("{}/v10/responses", server.uri()),
    ] {
        let (send, calls) = sender(&url);
        let (status, text) = call(rt, &url, &send, body.clone()).await;
        assert_eq!((status, text.as_str()), (200, "plain"), "{url}");
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
    // No runtime installed in this process: `exchange` is a plain send,
    // even for our provider's URL.
    let url = format!("{base}/responses");
    let (send, _) = sender(&url);
    let response = exchange(&url, Some(body.clone()), |b| send(b))
        .await
        .unwrap();
    assert_eq!(response.text().await.unwrap(), "plain");

    assert_eq!(
        bodies(&server).await,
        vec![body.clone(), body.clone(), body]
    );
    assert!(records(&cfg).is_empty(), "nothing of ours was recorded");
    assert_eq!(rt.totals.lock().unwrap().total.requests, 0);
}

#[tokio::test]
async fn only_function_tools_reach_the_proxy() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/responses"))
        .respond_with(sse(0.001))
        .mount(&server)
        .await;
    let base = format!("{}/v1", server.uri());
    let url = format!("{base}/responses");
    let (rt, _home, _cfg) = runtime(
        &base,
        Setup {
            models: vec![ModelInfo::new("m")],
            proxy_cache: Some(json!({"ttl": 60})),
            ..Setup::default()
        },
    );
    let (send, _) = sender(&url);
    let shell = json!({"type": "function", "name": "shell", "description": "run", "strict": false,
        "parameters": {"type": "object", "properties": {}}});
    let plan = json!({"type": "function", "name": "update_plan", "description": "plan", "strict": false,
        "parameters": {"type": "object", "properties": {}}});
    let body = json!({"model": "m", "input": "hi", "prompt_cache_key": "conv-1", "tools": [
        shell.clone(),
        {"type": "custom", "name": "apply_patch", "description": "patch",
         "format": {"type": "grammar", "syntax": "lark", "definition": "start: x"}},
        {"type": "web_search", "external_web_access": false},
        {"type": "tool_search", "execution": "client", "description": "find tools", "parameters": {}},
        plan.clone(),
    ]});
    let (status, _) = call(rt, &url, &send, body).await;
    assert_eq!(status, 200);

    let sent = bodies(&server).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["tools"], json!([shell, plan]));
    // The rest of the shaping: LiteLLM's cache controls and a prompt-cache
    // key that does not depend on the conversation.
    assert_eq!(sent[0]["cache"], json!({"ttl": 60}));
    let key = sent[0]["prompt_cache_key"].as_str().unwrap();
    assert!(key.starts_with("codex-litellm-"), "{key}");
}

#[tokio::test]
async fn web_search_stays_for_models_that_search() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(sse(0.001))
        .mount(&server)
        .await;
    let base = format!("{}/v1", server.uri());
    let url = format!("{base}/responses");
    let mut info = ModelInfo::new("searcher");
    info.supports_web_search = Some(true);
    let (rt, _home, _cfg) = runtime(
        &base,
        Setup {
            models: vec![info],
            ..Setup::default()
        },
    );
    let (send, _) = sender(&url);
    let tools = json!([{"type": "web_search"}, {"type": "custom", "name": "apply_patch"}]);
    call(
        rt,
        &url,
        &send,
        json!({"model": "searcher", "tools": tools}),
    )
    .await;
    call(rt, &url, &send, json!({"model": "other", "tools": tools})).await;
    let sent = bodies(&server).await;
    assert_eq!(sent[0]["tools"], json!([{"type": "web_search"}]));
    assert_eq!(sent[1]["tools"], json!([]));
}

/// Matches request bodies that carry `reasoning`.
struct WithReasoning(bool);

impl Match for WithReasoning {
    fn matches(&self, request: &Request) -> bool {
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        body.get("reasoning").is_some() == self.0
    }
}

fn reasoning_body() -> Value {
    json!({"model": "m", "input": "hi", "stream": true,
        "reasoning": {"effort": "high", "summary": "auto"},
        "include": ["reasoning.encrypted_content"]})
}

#[tokio::test]
async fn refused_reasoning_is_retried_once_and_then_left_out() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(WithReasoning(true))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": {
            "message": "litellm.UnsupportedParamsError: openai does not support parameters: ['reasoning_effort'], for model=m. To drop these, set `litellm.drop_params=True` or for proxy:\n\n`litellm_settings:\n drop_params: true`\n",
            "type": "None", "param": null, "code": "400"}})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(WithReasoning(false))
        .respond_with(sse(0.001))
        .mount(&server)
        .await;
    let base = format!("{}/v1", server.uri());
    let url = format!("{base}/responses");
    let (rt, _home, cfg) = runtime(
        &base,
        Setup {
            models: vec![ModelInfo::new("m")],
            ..Setup::default()
        },
    );
    let (send, calls) = sender(&url);

    let (status, text) = call(rt, &url, &send, reasoning_body()).await;
    assert_eq!(status, 200);
    assert!(text.contains("response.completed"), "{text}");
    let sent = bodies(&server).await;
    assert_eq!(sent.len(), 2, "exactly one retry");
    assert_eq!(sent[0]["reasoning"]["effort"], "high");
    assert_eq!(sent[1].get("reasoning"), None);
    assert_eq!(sent[1]["include"], json!([]));
    // Only the answer the user got is recorded.
    let recorded = records(&cfg);
    assert_eq!(recorded.len(), 1);
    assert!(!recorded[0].is_error(), "{:?}", recorded[0].error);
    assert_eq!(recorded[0].http_status, Some(200));
    assert_eq!(rt.totals.lock().unwrap().total.errors, 0);

    // From now on this model gets no reasoning parameters up front.
    let (status, _) = call(rt, &url, &send, reasoning_body()).await;
    assert_eq!(status, 200);
    let sent = bodies(&server).await;
    assert_eq!(sent.len(), 3, "one request, no failed attempt first");
    assert_eq!(sent[2].get("reasoning"), None);
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    assert_eq!(records(&cfg).len(), 2);
}

#[tokio::test]
async fn models_without_reasoning_never_get_it() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(sse(0.001))
        .mount(&server)
        .await;
    let base = format!("{}/v1", server.uri());
    let url = format!("{base}/responses");
    let mut info = ModelInfo::new("m");
    info.supports_reasoning = Some(false);
    let (rt, _home, _cfg) = runtime(
        &base,
        Setup {
            models: vec![info],
            ..Setup::default()
        },
    );
    let (send, _) = sender(&url);
    call(rt, &url, &send, reasoning_body()).await;
    let sent = bodies(&server).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].get("reasoning"), None);
    assert_eq!(sent[0]["include"], json!([]));
}

#[tokio::test]
async fn other_400s_are_not_retried() {
    let server = MockServer::start().await;
    let error = json!({"error": {"message": "context length exceeded", "type": "invalid_request_error", "code": "400"}});
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_json(&error))
        .expect(1)
        .mount(&server)
        .await;
    let base = format!("{}/v1", server.uri());
    let url = format!("{base}/responses");
    let (rt, _home, cfg) = runtime(&base, Setup::default());
    let (send, _) = sender(&url);
    let (status, text) = call(rt, &url, &send, reasoning_body()).await;
    assert_eq!(status, 400);
    assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), error);
    let recorded = records(&cfg);
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].http_status, Some(400));
    assert!(
        recorded[0]
            .error
            .as_deref()
            .unwrap_or_default()
            .contains("context length exceeded"),
        "{:?}",
        recorded[0].error
    );
}

#[tokio::test]
async fn json_answer_becomes_an_event_stream() {
    let server = MockServer::start().await;
    let response = json!({"id": "resp_9", "object": "response", "status": "completed", "model": "m",
        "output": [{"type": "message", "id": "msg_1", "role": "assistant", "status": "completed",
                    "content": [{"type": "output_text", "text": "Paris.", "annotations": []}]}],
        "usage": {"input_tokens": 7, "output_tokens": 2, "total_tokens": 9, "cost": 0.0003}});
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(&response))
        .mount(&server)
        .await;
    let base = format!("{}/v1", server.uri());
    let url = format!("{base}/responses");
    let (rt, _home, cfg) = runtime(&base, Setup::default());
    let (send, _) = sender(&url);

    let answer = exchange_with(
        rt,
        &url,
        Some(json!({"model": "m", "input": "capital?"})),
        |b| send(b),
    )
    .await
    .unwrap();
    assert_eq!(
        answer
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok()),
        Some("text/event-stream")
    );
    let text = answer.text().await.unwrap();
    let completed = text
        .split("\n\n")
        .find(|e| e.starts_with("event: response.completed\n"))
        .expect("a response.completed event");
    let data: Value = serde_json::from_str(
        completed
            .lines()
            .nth(1)
            .unwrap()
            .strip_prefix("data: ")
            .unwrap(),
    )
    .unwrap();
    assert_eq!(data["response"], response);
    let recorded = records(&cfg);
    assert_eq!(recorded.len(), 1);
    assert!(!recorded[0].is_error());
    assert_eq!(recorded[0].cost_usd, Some(0.0003));
    assert_eq!((recorded[0].tokens_in, recorded[0].tokens_out), (7, 2));
}

#[tokio::test]
async fn transport_errors_are_recorded_and_returned_unchanged() {
    // A port nothing listens on.
    let port = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}/v1");
    let url = format!("{base}/responses");
    let (rt, _home, cfg) = runtime(&base, Setup::default());
    assert_eq!(*rt.health.lock().unwrap(), ProxyHealth::NotAsked);
    let (send, calls) = sender(&url);
    let err = exchange_with(rt, &url, Some(json!({"model": "m", "input": "hi"})), |b| {
        send(b)
    })
    .await
    .unwrap_err();
    assert!(err.is_connect(), "the caller's own error: {err:?}");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    let recorded = records(&cfg);
    assert_eq!(recorded.len(), 1);
    let message = recorded[0].error.clone().unwrap_or_default();
    assert!(
        message.contains(&format!("Is the LiteLLM proxy running at {base}?")),
        "{message}"
    );
    // /status says the proxy is unreachable, with the same message.
    assert_eq!(
        *rt.health.lock().unwrap(),
        ProxyHealth::Unreachable(message)
    );
}

#[tokio::test]
async fn answers_record_version_rate_limits_and_reachability() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/responses"))
        .respond_with(
            sse(0.001)
                .insert_header("x-litellm-version", "1.77.5")
                .insert_header("x-litellm-model-id", "deploy-1")
                .insert_header("x-ratelimit-remaining-requests", "99")
                .insert_header("x-ratelimit-limit-requests", "100")
                .insert_header("x-ratelimit-reset-tokens", "6m0s"),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/responses"))
        .respond_with(ResponseTemplate::new(500).set_body_string("boom"))
        .mount(&server)
        .await;
    let base = format!("{}/v1", server.uri());
    let url = format!("{base}/responses");
    let (rt, _home, cfg) = runtime(&base, Setup::default());
    let (send, _) = sender(&url);
    let body = json!({"model": "m", "input": "hi", "stream": true});
    let (status, _) = call(rt, &url, &send, body.clone()).await;
    assert_eq!(status, 200);
    assert_eq!(*rt.health.lock().unwrap(), ProxyHealth::Reachable);
    let meta = rt.last_meta.lock().unwrap().clone().unwrap();
    assert_eq!(meta.version.as_deref(), Some("1.77.5"));
    assert_eq!(meta.rate_limits.remaining_requests, Some(99));
    let first = records(&cfg).remove(0);
    let limits = first.rate_limits.unwrap();
    assert_eq!(
        (
            limits.remaining_requests,
            limits.limit_requests,
            limits.reset_tokens.as_deref()
        ),
        (Some(99), Some(100), Some("6m0s"))
    );

    // An HTTP error still proves the proxy reachable; the record has no
    // rate limits because the answer sent none.
    let (status, _) = call(rt, &url, &send, body).await;
    assert_eq!(status, 500);
    assert_eq!(*rt.health.lock().unwrap(), ProxyHealth::Reachable);
    let second = records(&cfg).remove(1);
    assert!(second.is_error());
    assert_eq!(second.rate_limits, None);
    let line = std::fs::read_to_string(cfg.dir.join(&cfg.session_file)).unwrap();
    assert_eq!(line.matches("\"rate_limits\"").count(), 1, "{line}");
}

/// Upstream's transport is an `async_trait`, so the exchange future must be
/// `Send` whenever upstream's send is (its closure borrows the request).
#[test]
fn exchange_futures_are_send() {
    fn assert_send<T: Send>(_: T) {}
    let (send, _) = sender("http://127.0.0.1:9/v1/responses");
    let (rt, _home, _cfg) = runtime("http://127.0.0.1:9/v1", Setup::default());
    let request = json!({"model": "m"});
    let borrowing = |b: Option<Value>| {
        let _ = &request;
        send(b)
    };
    assert_send(exchange("http://127.0.0.1:9/v1/responses", None, borrowing));
    assert_send(exchange_with(
        rt,
        "http://127.0.0.1:9/v1/responses",
        None,
        borrowing,
    ));
}
