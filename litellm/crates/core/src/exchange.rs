//! One model request as codex-litellm sees it, at the HTTP level.
//!
//! Upstream sends each model request in two places (the Responses and the
//! Chat wire paths). Both call [`exchange`] around their `send()` and
//! [`prepare_request`] on the body, and nothing else: every tier of caching,
//! cost tracking, the session budget and telemetry happen here, so the
//! patches stay a few lines long.
//!
//! - Tier 0: an optional local exact-match cache keyed by the canonical form
//!   of the request ([`crate::canonical`]); a hit is answered from disk with
//!   no network call.
//! - Tier 1/2: LiteLLM's own cache (exact or semantic, per the proxy's
//!   config), steered by the `cache` object in the body and recognised by the
//!   `x-litellm-cache-key` response header.
//! - Tier 3: the provider's prompt cache; we keep the prefix stable
//!   (a stable `prompt_cache_key`, optional `cache_control` markers) and read
//!   cached-token counts from usage.

use std::pin::Pin;
use std::sync::Mutex;
use std::sync::OnceLock;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering;
use std::task::Context;
use std::task::Poll;
use std::time::Instant;

use bytes::Bytes;
use futures::Stream;
use futures::StreamExt;
use futures::stream::BoxStream;
use serde_json::Value;
use serde_json::json;

use crate::canonical::request_key;
use crate::config::WireApi;
use crate::cost::CacheTier;
use crate::cost::CostSource;
use crate::cost::SessionTotals;
use crate::cost::request_cost;
use crate::discovery::ModelInfo;
use crate::errors::classify_http_error;
use crate::fallback::is_event_stream;
use crate::fallback::json_to_sse;
use crate::headers::ProxyMeta;
use crate::headers::parse_proxy_headers;
use crate::stream_observer::StreamObserver;
use crate::telemetry::RequestRecord;
use crate::telemetry::STATUS_ERROR;
use crate::telemetry::STATUS_OK;
use crate::telemetry::Telemetry;
use crate::telemetry::now_rfc3339;
use crate::tier0::Tier0Cache;

/// Everything a request needs, set up once by start-up.
pub struct Runtime {
    pub session_id: String,
    pub base_url: String,
    pub telemetry: Option<Telemetry>,
    pub tier0: Option<Tier0Cache>,
    pub models: Vec<ModelInfo>,
    /// `[litellm.cache]` minus our own keys: sent as the body's `cache` object.
    pub proxy_cache: Option<Value>,
    /// `[litellm.prompt_cache].cache_control`: add Anthropic-style markers.
    pub cache_control: bool,
    pub max_session_cost_usd: Option<f64>,
    pub totals: Mutex<SessionTotals>,
    pub last_meta: Mutex<Option<ProxyMeta>>,
    seq: AtomicU64,
}

impl Runtime {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        session_id: String,
        base_url: String,
        telemetry: Option<Telemetry>,
        tier0: Option<Tier0Cache>,
        models: Vec<ModelInfo>,
        proxy_cache: Option<Value>,
        cache_control: bool,
        max_session_cost_usd: Option<f64>,
    ) -> Self {
        Self {
            session_id,
            base_url,
            telemetry,
            tier0,
            models,
            proxy_cache,
            cache_control,
            max_session_cost_usd,
            totals: Mutex::new(SessionTotals::new()),
            last_meta: Mutex::new(None),
            seq: AtomicU64::new(0),
        }
    }
}

static RUNTIME: OnceLock<Runtime> = OnceLock::new();

/// Installs the runtime (once per process; later calls are ignored).
pub fn install(runtime: Runtime) {
    let _ = RUNTIME.set(runtime);
}

pub fn runtime() -> Option<&'static Runtime> {
    RUNTIME.get()
}

/// Shapes a request body before it is sent: LiteLLM cache controls, a
/// prompt-cache key that is the same for the same prefix in every session,
/// and optional `cache_control` markers on the stable prefix.
pub fn prepare_request(payload: &mut Value, api: WireApi) {
    let Some(rt) = runtime() else {
        return;
    };
    let Some(body) = payload.as_object_mut() else {
        return;
    };
    if let Some(cache) = &rt.proxy_cache {
        body.insert("cache".to_string(), cache.clone());
    }
    if api == WireApi::Responses && body.contains_key("prompt_cache_key") {
        // Upstream uses the conversation id, which differs in every session and
        // so defeats every cache keyed on the body. The stable prefix (model,
        // instructions, tools) routes provider prompt caching just as well.
        let prefix = json!([
            body.get("model"),
            body.get("instructions"),
            body.get("tools")
        ]);
        let key = request_key(&prefix);
        body.insert(
            "prompt_cache_key".to_string(),
            Value::String(format!("codex-litellm-{}", &key[..32.min(key.len())])),
        );
    }
    if rt.cache_control && api == WireApi::Chat {
        mark_chat_prefix(body);
    }
}

/// Anthropic-style `cache_control` on the system message and the last tool:
/// everything up to there is the stable prefix a provider may cache.
fn mark_chat_prefix(body: &mut serde_json::Map<String, Value>) {
    let marker = json!({"type": "ephemeral"});
    if let Some(system) = body
        .get_mut("messages")
        .and_then(Value::as_array_mut)
        .and_then(|m| {
            m.iter_mut()
                .find(|m| m.get("role") == Some(&json!("system")))
        })
    {
        let content = system.get("content").cloned().unwrap_or(Value::Null);
        let parts = match content {
            Value::String(text) => vec![json!({"type": "text", "text": text})],
            Value::Array(parts) => parts,
            _ => Vec::new(),
        };
        let mut parts = parts;
        if let Some(last) = parts.last_mut().and_then(Value::as_object_mut) {
            last.insert("cache_control".to_string(), marker.clone());
        }
        if let Some(obj) = system.as_object_mut() {
            obj.insert("content".to_string(), Value::Array(parts));
        }
    }
    if let Some(last_tool) = body
        .get_mut("tools")
        .and_then(Value::as_array_mut)
        .and_then(|t| t.last_mut())
        .and_then(Value::as_object_mut)
    {
        last_tool.insert("cache_control".to_string(), marker);
    }
}

/// What is known about a request when it starts.
struct Pending {
    started: Instant,
    seq: u64,
    model: String,
    api: WireApi,
    key: String,
}

/// Sends one request through the tiers. `send` is upstream's own send; it is
/// not called on a tier-0 hit or when the session budget is spent.
pub async fn exchange<F, Fut>(
    payload: &Value,
    api: WireApi,
    send: F,
) -> Result<reqwest::Response, reqwest::Error>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<reqwest::Response, reqwest::Error>>,
{
    let Some(rt) = runtime() else {
        return send().await;
    };
    let pending = Pending {
        started: Instant::now(),
        seq: rt.seq.fetch_add(1, Ordering::SeqCst) + 1,
        model: payload
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        api,
        key: request_key(payload),
    };

    if let Some(limit) = rt.max_session_cost_usd {
        let spent = rt.totals.lock().map(|t| t.total.cost_usd).unwrap_or(0.0);
        if spent >= limit {
            let message = format!(
                "codex-litellm stopped this session: it has cost ${spent:.4}, reaching [litellm].max_session_cost_usd = ${limit:.4}. Raise the limit in config.toml or start a new session."
            );
            finish(rt, &pending, Outcome::error(Some(402), message.clone()));
            let body = json!({"error": {"message": message, "type": "budget_exceeded", "code": "max_session_cost_usd"}});
            return Ok(synthetic(
                402,
                "application/json",
                body.to_string().into_bytes(),
                None,
            ));
        }
    }

    if let Some(cached) = rt.tier0.as_ref().and_then(|c| c.get(&pending.key)) {
        tracing::info!(key = %pending.key, "tier-0 cache hit: answered locally, no network call");
        let mut obs = StreamObserver::new(api);
        obs.feed(&cached);
        let outcome = Outcome {
            http_status: Some(200),
            meta: ProxyMeta::default(),
            usage: obs.usage(),
            body_cost: Some(0.0),
            tier: Some(CacheTier::Tier0),
            error: None,
        };
        finish(rt, &pending, outcome);
        return Ok(synthetic(200, "text/event-stream", cached, Some("tier0")));
    }

    let response = match send().await {
        Ok(response) => response,
        Err(err) => {
            let message = crate::errors::classify_transport_error(&rt.base_url, &err).to_string();
            finish(rt, &pending, Outcome::error(None, message));
            return Err(err);
        }
    };
    let status = response.status();
    let headers = response.headers().clone();
    let meta = parse_proxy_headers(
        headers
            .iter()
            .filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str(), v))),
    );
    if let Ok(mut last) = rt.last_meta.lock() {
        *last = Some(meta.clone());
    }
    if !status.is_success() {
        let bytes = response.bytes().await?;
        let message =
            classify_http_error(status.as_u16(), &String::from_utf8_lossy(&bytes)).to_string();
        let mut outcome = Outcome::error(Some(status.as_u16()), message);
        outcome.meta = meta;
        finish(rt, &pending, outcome);
        return Ok(rebuild(status, headers, reqwest::Body::from(bytes)));
    }

    let content_type = headers
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let inner: BoxStream<'static, Result<Bytes, reqwest::Error>> =
        if is_event_stream(content_type.as_deref()) {
            response.bytes_stream().boxed()
        } else {
            // One JSON body where a stream was expected: convert it, so the
            // parsers and the observer see SSE either way.
            futures::stream::once(async move {
                let body = response.bytes().await?;
                Ok(match json_to_sse(api, &body) {
                    Ok(sse) => Bytes::from(sse),
                    Err(err) => {
                        tracing::warn!("non-streaming answer could not be converted: {err}");
                        body
                    }
                })
            })
            .boxed()
        };
    let observed = Observed {
        inner,
        observer: StreamObserver::new(api),
        capture: rt.tier0.as_ref().map(|_| Vec::new()),
        pending: Some((pending, meta)),
    };
    let mut headers = headers;
    headers.insert(
        reqwest::header::CONTENT_TYPE,
        reqwest::header::HeaderValue::from_static("text/event-stream"),
    );
    headers.remove(reqwest::header::CONTENT_LENGTH);
    Ok(rebuild(
        status,
        headers,
        reqwest::Body::wrap_stream(observed),
    ))
}

/// How a request ended, as far as accounting cares.
struct Outcome {
    http_status: Option<u16>,
    meta: ProxyMeta,
    usage: Option<crate::usage::Usage>,
    body_cost: Option<f64>,
    tier: Option<CacheTier>,
    error: Option<String>,
}

impl Outcome {
    fn error(http_status: Option<u16>, message: String) -> Self {
        Self {
            http_status,
            meta: ProxyMeta::default(),
            usage: None,
            body_cost: None,
            tier: None,
            error: Some(message),
        }
    }
}

/// Records one finished request: session totals and the telemetry line.
fn finish(rt: &Runtime, pending: &Pending, outcome: Outcome) {
    let info = rt.models.iter().find(|m| m.id == pending.model);
    let tier = outcome
        .tier
        .or_else(|| CacheTier::detect(false, Some(&outcome.meta), outcome.usage.as_ref()));
    let (cost, source) = if outcome.error.is_some() {
        (None, CostSource::None)
    } else if matches!(tier, Some(CacheTier::Tier0 | CacheTier::Litellm)) {
        // Answered from a cache: nothing was spent, whatever the stored usage says.
        (Some(0.0), CostSource::None)
    } else {
        request_cost(
            outcome.meta.response_cost,
            outcome.body_cost,
            outcome.usage.as_ref(),
            info,
        )
    };
    let mut record = RequestRecord {
        ts: now_rfc3339(),
        session_id: rt.session_id.clone(),
        seq: pending.seq,
        model: pending.model.clone(),
        wire_api: pending.api.as_str().to_string(),
        litellm_model_id: outcome.meta.model_id.clone(),
        api_base: outcome.meta.api_base.clone(),
        call_id: outcome.meta.call_id.clone(),
        latency_ms: u64::try_from(pending.started.elapsed().as_millis()).unwrap_or(u64::MAX),
        status: if outcome.error.is_some() {
            STATUS_ERROR
        } else {
            STATUS_OK
        }
        .to_string(),
        http_status: outcome.http_status,
        tokens_in: 0,
        tokens_cached: 0,
        tokens_out: 0,
        tokens_reasoning: 0,
        cost_usd: cost,
        cost_source: source,
        cache_tier: tier.map(|t| t.as_str().to_string()),
        tier0_key: pending.key.clone(),
        error: outcome.error.clone(),
    };
    if let Some(usage) = &outcome.usage {
        record.set_usage(usage);
    }
    if let Ok(mut totals) = rt.totals.lock() {
        totals.add(&pending.model, &record.outcome());
    }
    if let Some(telemetry) = &rt.telemetry {
        if let Err(err) = telemetry.record(&record) {
            tracing::warn!("telemetry: {err}");
        }
        telemetry.debug(
            "request",
            json!({"seq": pending.seq, "model": pending.model, "status": record.status, "latency_ms": record.latency_ms, "cache_tier": record.cache_tier, "call_id": record.call_id}),
        );
    }
}

/// The answer stream, watched as it passes: usage, cost and completion are
/// read on the fly, and the whole answer is kept for tier 0 when enabled.
struct Observed {
    inner: BoxStream<'static, Result<Bytes, reqwest::Error>>,
    observer: StreamObserver,
    capture: Option<Vec<u8>>,
    pending: Option<(Pending, ProxyMeta)>,
}

impl Observed {
    fn done(&mut self, transport_error: Option<String>) {
        let Some((pending, meta)) = self.pending.take() else {
            return;
        };
        let Some(rt) = runtime() else {
            return;
        };
        let error = transport_error
            .or_else(|| self.observer.failed())
            .or_else(|| {
                (!self.observer.completed())
                    .then(|| "the answer ended before it was complete".to_string())
            });
        if error.is_none()
            && meta.cache_key.is_none()
            && let (Some(cache), Some(body)) = (&rt.tier0, self.capture.take())
            && let Err(err) = cache.put(&pending.key, &body)
        {
            tracing::warn!("tier-0 cache: {err}");
        }
        let outcome = Outcome {
            http_status: Some(200),
            usage: self.observer.usage(),
            body_cost: self.observer.body_cost(),
            tier: None,
            error,
            meta,
        };
        finish(rt, &pending, outcome);
    }
}

impl Stream for Observed {
    type Item = Result<Bytes, reqwest::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let next = self.inner.poll_next_unpin(cx);
        match &next {
            Poll::Ready(Some(Ok(chunk))) => {
                let chunk = chunk.clone();
                self.observer.feed(&chunk);
                if let Some(capture) = self.capture.as_mut() {
                    capture.extend_from_slice(&chunk);
                }
            }
            Poll::Ready(Some(Err(err))) => {
                let message = err.to_string();
                self.done(Some(message));
            }
            Poll::Ready(None) => {
                self.observer.finish();
                self.done(None);
            }
            Poll::Pending => {}
        }
        next
    }
}

impl Drop for Observed {
    fn drop(&mut self) {
        // The parser may stop reading at [DONE] without draining the stream;
        // whether the answer was whole is the observer's call, not the drop's.
        if self.pending.is_some() {
            self.observer.finish();
            self.done(None);
        }
    }
}

fn rebuild(
    status: reqwest::StatusCode,
    headers: reqwest::header::HeaderMap,
    body: reqwest::Body,
) -> reqwest::Response {
    let mut response = http::Response::new(body);
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    reqwest::Response::from(response)
}

fn synthetic(
    status: u16,
    content_type: &'static str,
    body: Vec<u8>,
    cache: Option<&'static str>,
) -> reqwest::Response {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::CONTENT_TYPE,
        reqwest::header::HeaderValue::from_static(content_type),
    );
    if let Some(tier) = cache {
        headers.insert(
            "x-codex-litellm-cache",
            reqwest::header::HeaderValue::from_static(tier),
        );
    }
    rebuild(
        reqwest::StatusCode::from_u16(status).unwrap_or(reqwest::StatusCode::BAD_REQUEST),
        headers,
        reqwest::Body::from(body),
    )
}
