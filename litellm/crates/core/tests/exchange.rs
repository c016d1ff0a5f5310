//! `exchange` against a real (wiremock) server, the way upstream's transport
//! calls it: the budget stop, tier 0, pass-through for other URLs, tool and
//! reasoning shaping, the JSON fallback, and every fault in the middle of a
//! session (a rejected key, rate limits, server errors, a refused
//! connection, a stream that breaks off or cannot be read, a renamed model),
//! each answered with the verdict upstream acts on.

// Test helpers outside #[test] fns panic on purpose, like upstream suites.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering;

use codex_litellm_core::internals::canonical::request_key;
use codex_litellm_core::internals::exchange::ProxyHealth;
use codex_litellm_core::internals::exchange::Runtime;
use codex_litellm_core::internals::exchange::exchange;
use codex_litellm_core::internals::exchange::exchange_with;
use codex_litellm_core::internals::model_info::ModelInfo;
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

use codex_litellm_core::internals::exchange::verdict::MAX_ATTEMPTS;
use tokio::io::AsyncReadExt;
use tokio::io::AsyncWriteExt;

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
    api_key: Option<String>,
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
    )
    .with_api_key(setup.api_key);
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

/// The verdict event the exchange answered with: the last `response.failed`
/// of the answer, as (error code, message); None when there is none.
fn verdict_of(text: &str) -> Option<(String, String)> {
    text.split("\n\n")
        .filter_map(|event| {
            let data = event.lines().find_map(|l| l.strip_prefix("data: "))?;
            let value: Value = serde_json::from_str(data).ok()?;
            (value["type"] == "response.failed").then(|| {
                let error = &value["response"]["error"];
                (
                    error["code"].as_str().unwrap_or_default().to_string(),
                    error["message"].as_str().unwrap_or_default().to_string(),
                )
            })
        })
        .last()
}

/// A port nothing listens on.
async fn free_port() -> u16 {
    tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A server that reads each request whole, writes `answer` as it is (status
/// line, headers, body) and closes the connection: for answers wiremock
/// cannot give, such as a body cut short of its Content-Length.
async fn raw_server(answer: String) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let answer = answer.clone();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                loop {
                    let n = socket.read(&mut buf).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    request.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&request).to_string();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let length = text[..end]
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        if request.len() >= end + 4 + length {
                            break;
                        }
                    }
                }
                let _ = socket.write_all(answer.as_bytes()).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    format!("http://{addr}/v1")
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
async fn budget_stop_ends_the_turn_before_sending() {
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

    for _ in 0..2 {
        let (status, text) = call(rt, &url, &send, body.clone()).await;
        assert_eq!(status, 200);
        let (code, message) = verdict_of(&text).expect("a verdict");
        assert_eq!(code, "invalid_prompt", "a stop, not a retry");
        for needle in [
            "stopped before sending the next request",
            "$0.002000",
            "[litellm].max_session_cost_usd = $0.001000",
            "-c litellm.max_session_cost_usd=0.002000",
            "codex-litellm resume --last",
        ] {
            assert!(message.contains(needle), "{needle}: {message}");
        }
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "no stopped request was sent"
    );
    let records = records(&cfg);
    assert_eq!(records.len(), 3);
    assert_eq!(records[1].http_status, None, "nothing reached the proxy");
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
async fn other_400s_stop_with_the_proxys_words() {
    let server = MockServer::start().await;
    let error = json!({"error": {"message": "litellm.BadRequestError: temperature must be <= 2", "type": "invalid_request_error", "code": "400"}});
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
    assert_eq!(status, 200);
    let (code, message) = verdict_of(&text).unwrap();
    assert_eq!(code, "invalid_prompt");
    assert_eq!(
        message,
        format!(
            "the LiteLLM proxy at {base} refused the request (HTTP 400 Bad Request: litellm.BadRequestError: temperature must be <= 2). Sending it again would not help; see the proxy's message."
        )
    );
    let recorded = records(&cfg);
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].http_status, Some(400));
    assert_eq!(recorded[0].error.as_deref(), Some(message.as_str()));
}

#[tokio::test]
async fn a_full_context_window_is_left_to_upstream() {
    let server = MockServer::start().await;
    let error = json!({"error": {"message": "litellm.ContextWindowExceededError: too long", "type": "invalid_request_error", "code": "400"}});
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_json(&error))
        .mount(&server)
        .await;
    let base = format!("{}/v1", server.uri());
    let url = format!("{base}/responses");
    let (rt, _home, _cfg) = runtime(&base, Setup::default());
    let (send, _) = sender(&url);
    let (_, text) = call(rt, &url, &send, json!({"model": "m", "input": "hi"})).await;
    assert_eq!(verdict_of(&text).unwrap().0, "context_length_exceeded");
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
async fn a_refused_connection_is_retried_then_stops_naming_the_url() {
    let port = free_port().await;
    let base = format!("http://127.0.0.1:{port}/v1");
    let url = format!("{base}/responses");
    let (rt, _home, cfg) = runtime(&base, Setup::default());
    assert_eq!(*rt.health.lock().unwrap(), ProxyHealth::NotAsked);
    let (send, calls) = sender(&url);
    let body = json!({"model": "m", "input": "hi"});
    let mut verdicts = Vec::new();
    for _ in 0..MAX_ATTEMPTS {
        let answer = exchange_with(rt, &url, Some(body.clone()), |b| send(b))
            .await
            .expect("a fault answer, not the transport's error");
        verdicts.push(verdict_of(&answer.text().await.unwrap()).unwrap());
    }
    assert_eq!(calls.load(Ordering::SeqCst), 4, "each attempt was sent");
    for (i, (code, message)) in verdicts[..3].iter().enumerate() {
        assert_eq!(code, "server_error", "attempt {}: a retry", i + 1);
        assert!(
            message.contains(&format!(
                "(attempt {} of 4); codex-litellm tries again",
                i + 1
            )),
            "{message}"
        );
        assert!(
            message.contains(&format!("Is the LiteLLM proxy running at {base}?")),
            "{message}"
        );
    }
    let (code, last) = &verdicts[3];
    assert_eq!(code, "invalid_prompt", "the last attempt stops the turn");
    assert!(
        last.starts_with(
            "codex-litellm gave up after 4 attempts: could not connect to the LiteLLM proxy at "
        ),
        "{last}"
    );
    assert!(
        last.contains(&base) && last.contains("codex-litellm resume --last"),
        "{last}"
    );
    let recorded = records(&cfg);
    assert_eq!(recorded.len(), 4);
    assert!(
        recorded
            .iter()
            .all(|r| r.is_error() && r.http_status.is_none())
    );
    // /status says the proxy is unreachable, with the classified message.
    match rt.health.lock().unwrap().clone() {
        ProxyHealth::Unreachable(message) => {
            assert!(
                message.contains(&format!("Is the LiteLLM proxy running at {base}?")),
                "{message}"
            );
        }
        other => panic!("health {other:?}"),
    }
    // A new request starts counting again.
    let answer = exchange_with(
        rt,
        &url,
        Some(json!({"model": "m", "input": "other"})),
        |b| send(b),
    )
    .await
    .unwrap();
    assert!(
        verdict_of(&answer.text().await.unwrap())
            .unwrap()
            .1
            .contains("(attempt 1 of 4)")
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
    let (status, text) = call(rt, &url, &send, body).await;
    assert_eq!(status, 200);
    assert_eq!(
        verdict_of(&text).unwrap().0,
        "server_error",
        "a 500 is retried"
    );
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

/// The key of the session, planted in proxy answers: no message may show it.
const SESSION_KEY: &str = "sk-session-key-0123456789";

fn with_key() -> Setup {
    Setup {
        api_key: Some(SESSION_KEY.to_string()),
        ..Setup::default()
    }
}

#[tokio::test]
async fn a_rejected_key_stops_at_once_without_a_retry() {
    let server = MockServer::start().await;
    // LiteLLM's own 401 for a key it no longer accepts, echoing it.
    let own = json!({"error": {"message": format!("Authentication Error, Invalid proxy server token passed. Received API Key = {SESSION_KEY}, Key Hash (Token) =abc"), "type": "auth_error", "param": "None", "code": "401"}});
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(401).set_body_json(&own))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    // LiteLLM relaying the provider's 403 for the proxy's own credentials.
    let provider = json!({"error": {"message": "litellm.BadRequestError: OpenAIException - permission denied", "type": "permission_error", "code": "403"}});
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(403).set_body_json(&provider))
        .mount(&server)
        .await;
    let base = format!("{}/v1", server.uri());
    let url = format!("{base}/responses");
    let (rt, _home, cfg) = runtime(&base, with_key());
    let (send, calls) = sender(&url);
    let (_, text) = call(rt, &url, &send, json!({"model": "m", "input": "hi"})).await;
    let (code, message) = verdict_of(&text).unwrap();
    assert_eq!(code, "invalid_prompt", "a stop: upstream never retries it");
    assert!(message.starts_with(&format!("the LiteLLM proxy at {base} rejected the API key (HTTP 401 Unauthorized: Authentication Error")), "{message}");
    assert!(
        message.contains("LITELLM_API_KEY") && message.contains("codex-litellm resume --last"),
        "{message}"
    );
    assert!(
        !message.contains(SESSION_KEY) && !text.contains(SESSION_KEY),
        "{message}"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    let (_, text) = call(rt, &url, &send, json!({"model": "m", "input": "hi"})).await;
    let (code, message) = verdict_of(&text).unwrap();
    assert_eq!(code, "invalid_prompt");
    assert!(message.starts_with(&format!("the provider behind the LiteLLM proxy at {base} refused the proxy's own credentials for `m` (HTTP 403 Forbidden")), "{message}");
    assert!(
        message.contains("Your LiteLLM key was accepted"),
        "{message}"
    );
    let recorded = records(&cfg);
    assert_eq!(
        recorded.iter().map(|r| r.http_status).collect::<Vec<_>>(),
        vec![Some(401), Some(403)]
    );
}

#[tokio::test]
async fn a_key_a_proxy_without_a_database_refuses_says_why() {
    let server = MockServer::start().await;
    // LiteLLM 1.106 without a database, given a key that is not (or no longer) its master key.
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": {"message": "No connected db.", "type": "no_db_connection", "param": null, "code": "400"}})))
        .mount(&server)
        .await;
    let base = format!("{}/v1", server.uri());
    let url = format!("{base}/responses");
    let (rt, _home, _cfg) = runtime(&base, Setup::default());
    let (send, calls) = sender(&url);
    let (_, text) = call(rt, &url, &send, json!({"model": "m", "input": "hi"})).await;
    let (code, message) = verdict_of(&text).unwrap();
    assert_eq!(code, "invalid_prompt");
    assert!(
        message.starts_with(&format!("the LiteLLM proxy at {base} rejected the API key (HTTP 400 Bad Request: No connected db. The proxy has no database, so only its master key is accepted).")),
        "{message}"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_rate_limit_waits_as_told_then_continues() {
    let server = MockServer::start().await;
    // LiteLLM passes the provider's Retry-After on under its own prefix.
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("llm_provider-retry-after", "2")
                .set_body_json(json!({"error": {"message": "litellm.RateLimitError: slow down, try again in 9s", "code": "429"}})),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(sse(0.001))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "3600")
                .set_body_json(json!({"error": {"message": "quota window", "code": "429"}})),
        )
        .mount(&server)
        .await;
    let base = format!("{}/v1", server.uri());
    let url = format!("{base}/responses");
    let (rt, _home, _cfg) = runtime(&base, Setup::default());
    let (send, calls) = sender(&url);
    let body = json!({"model": "m", "input": "hi"});
    let (_, text) = call(rt, &url, &send, body.clone()).await;
    let (code, message) = verdict_of(&text).unwrap();
    assert_eq!(
        code, "rate_limit_exceeded",
        "upstream waits the time in the message"
    );
    assert!(
        message
            == format!(
                "codex-litellm will try again in 2s, as the proxy's Retry-After asks (attempt 1 of 4): the LiteLLM proxy at {base} is rate limiting this key (HTTP 429 Too Many Requests: litellm.RateLimitError: slow down, try again in 9s)"
            ),
        "our wait comes first, where upstream's parser finds it: {message}"
    );
    // Upstream sends the same request again: it goes through.
    let (_, text) = call(rt, &url, &send, body.clone()).await;
    assert!(
        text.contains("response.completed") && verdict_of(&text).is_none(),
        "{text}"
    );
    // A wait longer than the bound stops at once, saying so.
    let (_, text) = call(rt, &url, &send, body).await;
    let (code, message) = verdict_of(&text).unwrap();
    assert_eq!(code, "invalid_prompt");
    assert!(
        message.contains("asks to wait 3600s (Retry-After), longer than codex-litellm waits (60s)"),
        "{message}"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn server_errors_are_retried_then_stop_quoting_a_redacted_excerpt() {
    let server = MockServer::start().await;
    let page = format!(
        "<html><head><title>Bad Gateway</title></head>\n<body><h1>Bad Gateway</h1> upstream key {SESSION_KEY} and api_key=hunter2 </body></html>"
    );
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(502).set_body_raw(page, "text/html"))
        .mount(&server)
        .await;
    let base = format!("{}/v1", server.uri());
    let url = format!("{base}/responses");
    let (rt, _home, cfg) = runtime(&base, with_key());
    let (send, calls) = sender(&url);
    let body = json!({"model": "m", "input": "hi"});
    let mut verdicts = Vec::new();
    for _ in 0..MAX_ATTEMPTS {
        verdicts.push(verdict_of(&call(rt, &url, &send, body.clone()).await.1).unwrap());
    }
    assert_eq!(calls.load(Ordering::SeqCst), 4);
    let said = "answered HTTP 502 Bad Gateway with a body that is not JSON: `<html><head><title>Bad Gateway</title></head> <body><h1>Bad Gateway</h1> upstream key [REDACTED] and api_key=[REDACTED] </body></html>`";
    assert_eq!(
        verdicts[0],
        (
            "server_error".to_string(),
            format!(
                "the LiteLLM proxy at {base} {said} (attempt 1 of 4); codex-litellm tries again"
            )
        )
    );
    assert_eq!(verdicts[3].0, "invalid_prompt");
    assert_eq!(
        verdicts[3].1,
        format!(
            "codex-litellm gave up after 4 attempts: the LiteLLM proxy at {base} {said}. The proxy or the provider behind it is failing: check the proxy's logs. The session is saved: send the message again, or run `codex-litellm resume --last` later."
        )
    );
    let all = std::fs::read_to_string(cfg.dir.join(&cfg.session_file)).unwrap();
    assert!(
        !all.contains(SESSION_KEY) && !all.contains("hunter2"),
        "{all}"
    );
    // A success in between starts the count again.
    assert_eq!(
        records(&cfg)
            .iter()
            .filter(|r| r.http_status == Some(502))
            .count(),
        4
    );
}

#[tokio::test]
async fn a_stream_cut_short_gets_the_exchanges_verdict_after_the_partial_answer() {
    let partial = "event: response.created\ndata: {\"type\":\"response.created\",\"response\":{\"id\":\"r\",\"output\":[]}}\n\nevent: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\"The capital\"}\n\n";
    // Content-Length promises more than is sent, then the connection closes:
    // what a client sees when the proxy dies mid-answer.
    let answer = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: {}\r\n\r\n{partial}",
        partial.len() + 500
    );
    let base = raw_server(answer).await;
    let url = format!("{base}/responses");
    let (rt, _home, cfg) = runtime(&base, Setup::default());
    let (send, _) = sender(&url);
    let (status, text) = call(rt, &url, &send, json!({"model": "m", "input": "hi"})).await;
    assert_eq!(status, 200);
    assert!(
        text.starts_with(partial),
        "the partial answer is handed on first: {text}"
    );
    let (code, message) = verdict_of(&text).unwrap();
    assert_eq!(code, "server_error");
    assert!(
        message.starts_with(&format!(
            "the connection to the LiteLLM proxy at {base} broke in the middle of the answer ("
        )),
        "{message}"
    );
    assert!(message.contains("(attempt 1 of 4)"), "{message}");
    assert_eq!(records(&cfg)[0].error.as_deref(), Some(message.as_str()));
}

#[tokio::test]
async fn an_unreadable_event_stops_with_a_redacted_excerpt() {
    let server = MockServer::start().await;
    let stream = format!(
        "data: {{\"type\":\"response.created\",\"response\":{{\"id\":\"r\"}}}}\n\ndata: {{\"type\":\"response.completed\",\"response\":<<garbled>> token {SESSION_KEY}\n\n"
    );
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(stream, "text/event-stream"))
        .mount(&server)
        .await;
    let base = format!("{}/v1", server.uri());
    let url = format!("{base}/responses");
    let (rt, _home, _cfg) = runtime(&base, with_key());
    let (send, _) = sender(&url);
    let (_, text) = call(rt, &url, &send, json!({"model": "m", "input": "hi"})).await;
    let (code, message) = verdict_of(&text).unwrap();
    assert_eq!(code, "invalid_prompt");
    assert!(
        message.starts_with(&format!("the LiteLLM proxy at {base} sent an event that is not JSON: `{{\"type\":\"response.completed\",\"response\":<<garbled>> token [REDACTED]`.")),
        "{message}"
    );
}

#[tokio::test]
async fn the_proxys_own_failure_event_gets_our_words_unless_upstream_knows_it() {
    let server = MockServer::start().await;
    let failed = |code: &str, message: &str| {
        let event = json!({"type": "response.failed", "response": {"id": "r", "status": "failed", "error": {"code": code, "message": message}}});
        ResponseTemplate::new(200).set_body_raw(
            format!("event: response.failed\ndata: {event}\n\ndata: [DONE]\n\n"),
            "text/event-stream",
        )
    };
    Mock::given(method("POST"))
        .respond_with(failed(
            "server_error",
            "litellm.APIConnectionError: Expecting value: line 1 column 46 (char 45)",
        ))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(failed("context_length_exceeded", "too long"))
        .mount(&server)
        .await;
    let base = format!("{}/v1", server.uri());
    let url = format!("{base}/responses");
    let (rt, _home, _cfg) = runtime(&base, Setup::default());
    let (send, _) = sender(&url);
    let (_, text) = call(rt, &url, &send, json!({"model": "m", "input": "hi"})).await;
    assert_eq!(
        verdict_of(&text).unwrap(),
        (
            "server_error".to_string(),
            format!(
                "the LiteLLM proxy at {base} reported that the answer failed: litellm.APIConnectionError: Expecting value: line 1 column 46 (char 45) (server_error) (attempt 1 of 4); codex-litellm tries again"
            )
        )
    );
    let (_, text) = call(rt, &url, &send, json!({"model": "m", "input": "hi"})).await;
    assert_eq!(
        verdict_of(&text).unwrap(),
        (
            "context_length_exceeded".to_string(),
            "too long".to_string()
        ),
        "the proxy's own event stays last"
    );
}

#[tokio::test]
async fn a_model_renamed_on_the_proxy_lists_what_is_there_nearest_first() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": {"message": "/responses: Invalid model name passed in model=fake-old. Call `/v1/models` to view available models for your key.", "type": "invalid_request_error", "code": "400"}})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/models"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"data": [{"id": "other"}, {"id": "fake-old-v2"}, {"id": "fake-native"}]}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let base = format!("{}/v1", server.uri());
    let url = format!("{base}/responses");
    let (rt, _home, _cfg) = runtime(&base, with_key());
    let (send, _) = sender(&url);
    let (_, text) = call(rt, &url, &send, json!({"model": "fake-old", "input": "hi"})).await;
    let (code, message) = verdict_of(&text).unwrap();
    assert_eq!(code, "invalid_prompt");
    assert_eq!(
        message,
        format!(
            "the LiteLLM proxy at {base} has no model named `fake-old` (any more: it may have been renamed or removed since this session started). Available models (nearest first): fake-old-v2, fake-native, other. Pick one with /model (or -m), or set [litellm].model."
        )
    );
    let listed = server.received_requests().await.unwrap();
    let auth = listed
        .iter()
        .find(|r| r.method.as_str() == "GET")
        .unwrap()
        .headers
        .get("authorization")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(
        auth,
        format!("Bearer {SESSION_KEY}"),
        "the list is asked with the session's key"
    );
}
