//! One model request as codex-litellm sees it, at the HTTP level.
//!
//! Upstream sends every model request (Responses, the only wire API it still
//! has) through one transport function, which calls [`exchange`] around its
//! `send()` and nothing else: shaping the body for LiteLLM, every tier of
//! caching, cost tracking, the session budget and telemetry happen here, so
//! the patch stays a few lines long. The transport is shared with other
//! providers and endpoints, so only requests under our provider's base URL
//! are touched; everything else is sent as it came.
//!
//! - Tier 0: an optional local exact-match cache keyed by the canonical form
//!   of the request ([`crate::canonical`]); a hit is answered from disk with
//!   no network call.
//! - Tier 1/2: LiteLLM's own cache (exact or semantic, per the proxy's
//!   config), steered by the `cache` object in the body and recognised by the
//!   `x-litellm-cache-key` response header.
//! - Tier 3: the provider's prompt cache; we keep the prefix stable (a
//!   stable `prompt_cache_key`) and read cached-token counts from usage.
//!
//! The body is also made acceptable to every LiteLLM route: only function
//! tools (plus web search where the model has it) and no reasoning
//! parameters for models that refuse them.

use std::collections::HashMap;
use std::collections::HashSet;
use std::fmt::Display;
use std::future::Future;
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
use serde_json::Map;
use serde_json::Value;
use serde_json::json;

use crate::canonical::request_key;
use crate::cost::CacheTier;
use crate::cost::CostSource;
use crate::cost::SessionTotals;
use crate::cost::request_cost;
use crate::discovery::ModelInfo;
use crate::errors::LiteLlmError;
use crate::errors::classify_http_error;
use crate::errors::classify_transport_message;
use crate::faults::Attempts;
use crate::faults::MAX_RETRY_AFTER;
use crate::faults::RESUME_ADVICE;
use crate::faults::Verdict;
use crate::faults::error_text;
use crate::faults::is_provider_error;
use crate::faults::retry_after;
use crate::faults::retry_or_stop;
use crate::faults::unknown_model_stop;
use crate::fallback::is_event_stream;
use crate::fallback::json_to_sse;
use crate::formatting::money;
use crate::headers::ProxyMeta;
use crate::headers::parse_proxy_headers;
use crate::redaction::excerpt;
use crate::stream_observer::StreamObserver;
use crate::telemetry::RequestRecord;
use crate::telemetry::STATUS_ERROR;
use crate::telemetry::STATUS_OK;
use crate::telemetry::Telemetry;
use crate::telemetry::now_rfc3339;
use crate::tier0::Tier0Cache;

/// `wire_api` of every record: upstream has no other wire API any more.
const WIRE_API: &str = "responses";

/// The `include` entry that asks for reasoning to be carried between turns.
const ENCRYPTED_REASONING: &str = "reasoning.encrypted_content";

/// Everything a request needs, set up once by start-up.
pub struct Runtime {
    pub session_id: String,
    /// Our provider's base URL (e.g. `http://127.0.0.1:4000/v1`): requests
    /// under it are ours, all others pass through untouched.
    pub base_url: String,
    pub telemetry: Option<Telemetry>,
    pub tier0: Option<Tier0Cache>,
    pub models: Vec<ModelInfo>,
    /// `[litellm.cache]` minus our own keys: sent as the body's `cache` object.
    pub proxy_cache: Option<Value>,
    pub max_session_cost_usd: Option<f64>,
    pub totals: Mutex<SessionTotals>,
    pub last_meta: Mutex<Option<ProxyMeta>>,
    /// Whether the last request reached the proxy (for `/status`).
    pub health: Mutex<ProxyHealth>,
    /// Models the proxy refused reasoning parameters for (HTTP 400); their
    /// later requests go without them instead of failing once each.
    no_reasoning: Mutex<HashSet<String>>,
    /// CODEX_HOME whose discovery cache a failed request forgets, so the
    /// next start asks the proxy again (a renamed model, a revoked key).
    discovery_home: Option<std::path::PathBuf>,
    /// The session's key: never shown (every quote of proxy text is
    /// redacted with it), used only to ask the proxy for its models again.
    api_key: Option<String>,
    /// Consecutive failed attempts of the current request (see crate::faults).
    attempts: Mutex<Attempts>,
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
        max_session_cost_usd: Option<f64>,
    ) -> Self {
        Self {
            session_id,
            base_url,
            telemetry,
            tier0,
            models,
            proxy_cache,
            max_session_cost_usd,
            totals: Mutex::new(SessionTotals::new()),
            last_meta: Mutex::new(None),
            health: Mutex::new(ProxyHealth::default()),
            no_reasoning: Mutex::new(HashSet::new()),
            discovery_home: None,
            api_key: None,
            attempts: Mutex::new(Attempts::default()),
            seq: AtomicU64::new(0),
        }
    }

    /// The session's API key: redacted from every message, and used to list
    /// the proxy's models again when it no longer serves the session's one.
    pub fn with_api_key(mut self, api_key: Option<String>) -> Self {
        self.api_key = api_key.filter(|k| !k.is_empty());
        self
    }

    /// `text` shortened and with credentials (the session's key first) removed.
    fn quote(&self, text: &str) -> String {
        excerpt(text, self.api_key.as_slice())
    }

    /// Counts a failed attempt of the request `key`; its number, from 1.
    fn attempt(&self, key: &str) -> u64 {
        self.attempts
            .lock()
            .map(|mut a| a.fail(key, Instant::now()))
            .unwrap_or(1)
    }

    fn forget_attempts(&self) {
        if let Ok(mut attempts) = self.attempts.lock() {
            attempts.reset();
        }
    }

    /// A failed request forgets the discovery cache under `codex_home`.
    pub fn forget_discovery_on_failure(mut self, codex_home: &std::path::Path) -> Self {
        self.discovery_home = Some(codex_home.to_path_buf());
        self
    }

    /// Whether `url` is under our provider's base URL. A bare prefix test
    /// would also claim `…/v10/…` for `…/v1`, so the match must end at a
    /// path boundary.
    pub fn serves(&self, url: &str) -> bool {
        let base = self.base_url.trim_end_matches('/');
        !base.is_empty()
            && url
                .strip_prefix(base)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(['/', '?']))
    }

    fn model_info(&self, model: &str) -> Option<&ModelInfo> {
        self.models.iter().find(|m| m.id == model)
    }

    fn refuses_reasoning(&self, model: &str) -> bool {
        self.no_reasoning
            .lock()
            .is_ok_and(|models| models.contains(model))
    }
}

/// Whether requests reach the proxy, as the last one found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ProxyHealth {
    /// No request has been sent to the proxy yet (tier-0 hits and budget
    /// stops send none).
    #[default]
    NotAsked,
    /// The last request got an HTTP answer, whatever its status: the proxy
    /// is up, even when it refused the request.
    Reachable,
    /// The last request got no answer; the message names the URL and says
    /// what to do.
    Unreachable(String),
}

static RUNTIME: OnceLock<Runtime> = OnceLock::new();

/// Installs the runtime (once per process; later calls are ignored).
pub fn install(runtime: Runtime) {
    let _ = RUNTIME.set(runtime);
}

pub fn runtime() -> Option<&'static Runtime> {
    RUNTIME.get()
}

/// What is known about a request when it starts.
struct Pending {
    started: Instant,
    seq: u64,
    model: String,
    key: String,
    /// For the debug log only: the end of the request's newest input item
    /// (what the user said, or a tool's output), redacted with the rest.
    last_input: Option<String>,
}

/// Sends one request through the tiers. `send` is upstream's own send, given
/// the body to send; it is not called on a tier-0 hit or when the session
/// budget is spent, and it is called a second time only when the proxy
/// refused the request's reasoning parameters. Without an installed runtime,
/// or for a URL outside our provider, `send(body)` is called once and its
/// answer returned untouched. Errors of `send` are returned unchanged.
pub async fn exchange<E, F, Fut>(
    url: &str,
    body: Option<Value>,
    send: F,
) -> Result<reqwest::Response, E>
where
    E: Display,
    F: Fn(Option<Value>) -> Fut,
    Fut: Future<Output = Result<reqwest::Response, E>>,
{
    match runtime() {
        Some(rt) => exchange_with(rt, url, body, send).await,
        None => send(body).await,
    }
}

/// [`exchange`] with an explicit runtime (the installed one is process-wide,
/// so tests build their own). `'static` because the answer stream outlives
/// this call and records the request when it ends.
#[doc(hidden)]
pub async fn exchange_with<E, F, Fut>(
    rt: &'static Runtime,
    url: &str,
    body: Option<Value>,
    send: F,
) -> Result<reqwest::Response, E>
where
    E: Display,
    F: Fn(Option<Value>) -> Fut,
    Fut: Future<Output = Result<reqwest::Response, E>>,
{
    if !rt.serves(url) {
        return send(body).await;
    }
    // Model requests always have a JSON object body; anything else is not
    // one, and nothing below (model, key, tools) would apply to it.
    let mut body = match body {
        Some(Value::Object(body)) => body,
        other => return send(other).await,
    };
    let started = Instant::now();
    let model = body
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    shape_request(rt, &model, &mut body);
    let body = Value::Object(body);
    let mut pending = Pending {
        started,
        seq: rt.seq.fetch_add(1, Ordering::SeqCst) + 1,
        key: request_key(&body),
        last_input: rt
            .telemetry
            .as_ref()
            .filter(|t| t.debug_enabled())
            .and_then(|_| last_input_excerpt(&body)),
        model,
    };

    if let Some(limit) = rt.max_session_cost_usd {
        let spent = rt.totals.lock().map(|t| t.total.cost_usd).unwrap_or(0.0);
        if spent >= limit {
            let verdict = Verdict::Stop {
                message: budget_message(spent, limit),
            };
            return Ok(fault_answer(rt, &pending, None, ProxyMeta::default(), verdict));
        }
    }

    if let Some(cached) = rt.tier0.as_ref().and_then(|c| c.get(&pending.key)) {
        tracing::info!(key = %pending.key, "tier-0 cache hit: answered locally, no network call");
        let mut obs = StreamObserver::new();
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

    // Made only while a retry without reasoning is possible, because the
    // first send takes the body.
    let without_reasoning = body
        .as_object()
        .filter(|b| has_reasoning_params(b))
        .map(|b| {
            let mut stripped = b.clone();
            strip_reasoning(&mut stripped);
            Value::Object(stripped)
        });
    let response = match send_once(rt, &pending, &send, body).await {
        Ok(response) => response,
        Err(fault) => return Ok(fault),
    };
    let response = match without_reasoning {
        Some(retry) if response.status() == reqwest::StatusCode::BAD_REQUEST => {
            let status = response.status();
            let headers = response.headers().clone();
            let (bytes, read_error) = read_body(response).await;
            if read_error.is_some() || !mentions_reasoning(&bytes) {
                return Ok(http_failure(rt, &pending, status, &headers, &bytes, read_error).await);
            }
            // LiteLLM refuses parameters a provider does not take
            // (`UnsupportedParamsError … reasoning_effort`). Codex sends
            // them for every model it thinks reasons, so without this one
            // such model fails every turn. Only the retry's outcome is
            // recorded: it is the answer the user gets.
            tracing::info!(
                model = %pending.model,
                "the LiteLLM proxy refused reasoning parameters for this model; sending again without them, and sending them no more this session"
            );
            if let Ok(mut models) = rt.no_reasoning.lock() {
                models.insert(pending.model.clone());
            }
            // The key follows the body actually answered, so later requests
            // (stripped up front) find this answer in tier 0.
            pending.key = request_key(&retry);
            match send_once(rt, &pending, &send, retry).await {
                Ok(response) => response,
                Err(fault) => return Ok(fault),
            }
        }
        _ => response,
    };
    Ok(answer(rt, pending, response).await)
}

/// Calls `send` once. A transport failure (no answer at all) is recorded
/// with a message that names the URL and says what to do, and comes back as
/// the fault answer upstream acts on (see [`crate::faults`]): retried while
/// attempts are left, else the end of the turn.
async fn send_once<E, F, Fut>(
    rt: &Runtime,
    pending: &Pending,
    send: &F,
    body: Value,
) -> Result<reqwest::Response, reqwest::Response>
where
    E: Display,
    F: Fn(Option<Value>) -> Fut,
    Fut: Future<Output = Result<reqwest::Response, E>>,
{
    match send(Some(body)).await {
        Ok(response) => Ok(response),
        Err(err) => {
            let error = classify_transport_message(&rt.base_url, &err.to_string());
            let message = error.to_string();
            if let Ok(mut health) = rt.health.lock() {
                *health = ProxyHealth::Unreachable(message.clone());
            }
            let verdict = match error {
                // A configuration mistake: no attempt will get further.
                LiteLlmError::HttpsToPlainHttp { .. } => Verdict::Stop { message },
                _ => retry_or_stop(rt.attempt(&pending.key), &message, None, RESUME_ADVICE),
            };
            Err(fault_answer(rt, pending, None, ProxyMeta::default(), verdict))
        }
    }
}

/// Answers `verdict` instead of the proxy's answer, and records the request
/// with the status the proxy really sent (none when it sent nothing).
fn fault_answer(
    rt: &Runtime,
    pending: &Pending,
    http_status: Option<u16>,
    meta: ProxyMeta,
    verdict: Verdict,
) -> reqwest::Response {
    if verdict.is_stop() {
        rt.forget_attempts();
    }
    tracing::warn!(model = %pending.model, http_status = ?http_status, stop = verdict.is_stop(), "{}", verdict.message());
    let mut outcome = Outcome::error(http_status, verdict.message().to_string());
    outcome.meta = meta;
    finish(rt, pending, outcome);
    let mut response = synthetic(200, "text/event-stream", verdict.to_sse(), None);
    response.headers_mut().insert(
        FAULT_HEADER,
        reqwest::header::HeaderValue::from_static(if verdict.is_stop() { "stop" } else { "retry" }),
    );
    response
}

/// Marks an answer the exchange made in place of a failed one (`retry` or
/// `stop`), for debugging and tests; upstream ignores it.
pub const FAULT_HEADER: &str = "x-codex-litellm-fault";

/// Why the session stopped at its budget, with the figure and how to go on.
fn budget_message(spent: f64, limit: f64) -> String {
    let raised = limit * 2.0;
    let raised = if raised < 0.01 {
        format!("{raised:.6}")
    } else {
        format!("{raised:.2}")
    };
    format!(
        "codex-litellm stopped before sending the next request: this session has cost {}, which reaches [litellm].max_session_cost_usd = {}. To go on, raise the limit (for one run: `-c litellm.max_session_cost_usd={raised}`; for good: max_session_cost_usd under [litellm] in config.toml), then run `codex-litellm resume --last`.",
        money(spent),
        money(limit),
    )
}

/// The final HTTP answer: an error answer is recorded at once; a success is
/// streamed through the observer (converted to SSE when it is one JSON body)
/// and recorded when the stream ends.
async fn answer(
    rt: &'static Runtime,
    pending: Pending,
    response: reqwest::Response,
) -> reqwest::Response {
    let status = response.status();
    let headers = response.headers().clone();
    if !status.is_success() {
        let (bytes, read_error) = read_body(response).await;
        return http_failure(rt, &pending, status, &headers, &bytes, read_error).await;
    }
    let meta = note_meta(rt, &headers);
    let content_type = headers
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let inner: BoxStream<'static, Result<Bytes, reqwest::Error>> =
        if is_event_stream(content_type.as_deref()) {
            response.bytes_stream().boxed()
        } else {
            // One JSON body where a stream was expected: convert it, so the
            // parser and the observer see SSE either way.
            futures::stream::once(async move {
                let body = response.bytes().await?;
                Ok(match json_to_sse(&body) {
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
        rt,
        inner,
        observer: StreamObserver::new(),
        capture: rt.tier0.as_ref().map(|_| Vec::new()),
        pending: Some((pending, meta)),
        ended: false,
    };
    let mut headers = headers;
    headers.insert(
        reqwest::header::CONTENT_TYPE,
        reqwest::header::HeaderValue::from_static("text/event-stream"),
    );
    headers.remove(reqwest::header::CONTENT_LENGTH);
    rebuild(status, headers, reqwest::Body::wrap_stream(observed))
}

/// Records a non-success answer and answers upstream with its verdict.
async fn http_failure(
    rt: &Runtime,
    pending: &Pending,
    status: reqwest::StatusCode,
    headers: &reqwest::header::HeaderMap,
    bytes: &[u8],
    read_error: Option<String>,
) -> reqwest::Response {
    let meta = note_meta(rt, headers);
    let mut verdict = http_verdict(rt, pending, status, headers, bytes).await;
    if let Some(err) = read_error {
        let note = format!(" (the answer's body could not be read: {})", rt.quote(&err));
        verdict.message_mut().push_str(&note);
    }
    fault_answer(rt, pending, Some(status.as_u16()), meta, verdict)
}

/// What to do about an HTTP error answer from the proxy. Every message names
/// the proxy's URL and quotes at most a short, redacted excerpt of its body.
async fn http_verdict(
    rt: &Runtime,
    pending: &Pending,
    status: reqwest::StatusCode,
    headers: &reqwest::header::HeaderMap,
    bytes: &[u8],
) -> Verdict {
    let url = &rt.base_url;
    let raw = String::from_utf8_lossy(bytes);
    let (text, is_json) = error_text(&raw);
    let said = if text.is_empty() {
        " with an empty body".to_string()
    } else if is_json {
        format!(": {}", rt.quote(&text))
    } else {
        format!(" with a body that is not JSON: `{}`", rt.quote(&text))
    };
    let code = status.as_u16();
    let status_text = match status.canonical_reason() {
        Some(reason) => format!("HTTP {code} {reason}"),
        None => format!("HTTP {code}"),
    };
    let classified = classify_http_error(code, &raw);
    if let LiteLlmError::UnknownModel { model, .. } = &classified {
        return unknown_model_stop(url, model, known_models(rt).await.as_deref());
    }
    let key_refused = matches!(classified, LiteLlmError::Unauthorized { .. });
    if key_refused && !is_provider_error(&text) {
        // The classified text explains LiteLLM's terse ones ("No connected db." to a key that
        // is not the master key of a proxy without a database).
        let said = match &classified {
            LiteLlmError::Unauthorized {
                message: Some(message),
                ..
            } => format!(": {}", rt.quote(message)),
            _ => said,
        };
        return Verdict::Stop {
            message: format!(
                "the LiteLLM proxy at {url} rejected the API key ({status_text}{said}). The key was revoked or changed after this session started, or it may not use this model: set LITELLM_API_KEY or [litellm].api_key to a valid key and start codex-litellm again (`codex-litellm resume --last` continues this session)."
            ),
        };
    }
    if key_refused || matches!(code, 401 | 403) {
        return Verdict::Stop {
            message: format!(
                "the provider behind the LiteLLM proxy at {url} refused the proxy's own credentials for `{}` ({status_text}{said}). Your LiteLLM key was accepted: fix the provider's api_key in the proxy's model_list, or pick another model with /model (or -m).",
                pending.model
            ),
        };
    }
    match code {
        429 => {
            let wait = retry_after(
                headers
                    .iter()
                    .filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str(), v))),
                std::time::SystemTime::now(),
            );
            let what = format!("the LiteLLM proxy at {url} is rate limiting this key ({status_text}{said})");
            match wait {
                Some(wait) if wait > MAX_RETRY_AFTER => Verdict::Stop {
                    message: format!(
                        "{what}. It asks to wait {}s (Retry-After), longer than codex-litellm waits ({}s): try again later, or raise the key's rpm/tpm limits on the proxy. {RESUME_ADVICE}",
                        wait.as_secs(),
                        MAX_RETRY_AFTER.as_secs()
                    ),
                },
                wait => retry_or_stop(
                    rt.attempt(&pending.key),
                    &what,
                    wait,
                    &format!("Wait a minute, or raise the key's rpm/tpm limits on the proxy. {RESUME_ADVICE}"),
                ),
            }
        }
        408 | 500..=599 => retry_or_stop(
            rt.attempt(&pending.key),
            &format!("the LiteLLM proxy at {url} answered {status_text}{said}"),
            None,
            &format!("The proxy or the provider behind it is failing: check the proxy's logs. {RESUME_ADVICE}"),
        ),
        _ if is_context_window_error(&text) => Verdict::ContextWindow {
            message: format!("the conversation no longer fits the model's context window ({status_text}{said})"),
        },
        404 => Verdict::Stop {
            message: format!(
                "the LiteLLM proxy at {url} has no such endpoint ({status_text}{said}). Check that LITELLM_BASE_URL / [litellm].api_base points at the proxy root (e.g. http://localhost:4000)."
            ),
        },
        _ => Verdict::Stop {
            message: format!(
                "the LiteLLM proxy at {url} refused the request ({status_text}{said}). Sending it again would not help; see the proxy's message."
            ),
        },
    }
}

/// LiteLLM's and OpenAI's ways of saying the input is too long.
fn is_context_window_error(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    lower.contains("contextwindowexceeded") || lower.contains("context_length_exceeded")
}

/// The proxy's model ids, asked again (the session's list is stale when the
/// proxy no longer serves the session's model). None when it cannot say.
async fn known_models(rt: &Runtime) -> Option<Vec<String>> {
    let client = crate::discovery::Client::new(&rt.base_url, rt.api_key.clone())
        .and_then(|c| c.with_timeout(std::time::Duration::from_secs(10)))
        .ok()?;
    match client.list_models().await {
        Ok(ids) => Some(ids),
        Err(err) => {
            tracing::warn!("could not list the proxy's models again: {err}");
            None
        }
    }
}

/// The whole body of an answer. A failure to read it is reported beside an
/// empty body: it cannot become `send`'s error type, and the status alone
/// still tells upstream what happened.
async fn read_body(response: reqwest::Response) -> (Bytes, Option<String>) {
    match response.bytes().await {
        Ok(bytes) => (bytes, None),
        Err(err) => (Bytes::new(), Some(err.to_string())),
    }
}

/// LiteLLM's routing, version and rate-limit headers, remembered for
/// /status; an answer also proves the proxy reachable.
fn note_meta(rt: &Runtime, headers: &reqwest::header::HeaderMap) -> ProxyMeta {
    let meta = parse_proxy_headers(
        headers
            .iter()
            .filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str(), v))),
    );
    if let Ok(mut last) = rt.last_meta.lock() {
        *last = Some(meta.clone());
    }
    if let Ok(mut health) = rt.health.lock() {
        *health = ProxyHealth::Reachable;
    }
    meta
}

/// Shapes a request body before it is sent: LiteLLM cache controls, only
/// tools every route accepts, no reasoning parameters for a model that
/// refuses them, and a prompt-cache key that is the same for the same prefix
/// in every session.
fn shape_request(rt: &Runtime, model: &str, body: &mut Map<String, Value>) {
    let info = rt.model_info(model);
    if let Some(cache) = &rt.proxy_cache {
        body.insert("cache".to_string(), cache.clone());
    }
    let dropped = shape_tools(body, info);
    if !dropped.is_empty() {
        tracing::debug!(model, dropped = ?dropped, "removed tools LiteLLM routes do not accept");
    }
    if (info.and_then(|i| i.supports_reasoning) == Some(false) || rt.refuses_reasoning(model))
        && strip_reasoning(body)
    {
        tracing::debug!(
            model,
            "removed reasoning parameters the model does not take"
        );
    }
    if body.contains_key("prompt_cache_key") {
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
}

/// Keeps the tools every LiteLLM route accepts: function tools, and
/// `web_search` / `web_search_preview` when the model's info says it can
/// search. Everything else (freeform `custom` tools, `tool_search`,
/// `local_shell`, `image_generation`, …) is an OpenAI-hosted shape that
/// LiteLLM's bridges to other providers reject or mistranslate, so it is
/// removed. Function tools inside a namespace (a `namespace` type or field)
/// are moved to the top level when their name is unique, since the
/// namespace itself is OpenAI-only; duplicates would be ambiguous to the
/// model and are removed. Returns what was removed, for the debug log.
#[doc(hidden)]
pub fn shape_tools(body: &mut Map<String, Value>, info: Option<&ModelInfo>) -> Vec<String> {
    let Some(Value::Array(tools)) = body.get_mut("tools") else {
        return Vec::new();
    };
    let web_search = info.and_then(|i| i.supports_web_search) == Some(true);
    let is_function = |tool: &Value| tool.get("type").and_then(Value::as_str) == Some("function");
    let is_namespaced = |tool: &Value| {
        tool.get("type").and_then(Value::as_str) == Some("namespace")
            || tool.get("namespace").is_some()
    };
    let name_of = |tool: &Value| {
        tool.get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    // A namespaced tool may be a group (nested `tools`) or one function
    // that names its namespace; either way its functions are the members.
    let members = |tool: &Value| -> Vec<Value> {
        match tool.get("tools").and_then(Value::as_array) {
            Some(nested) => nested.clone(),
            None => vec![tool.clone()],
        }
    };

    // Top-level functions own their names; members may only take free ones,
    // and only when no other member wants the same name.
    let mut taken: HashSet<String> = tools
        .iter()
        .filter(|t| is_function(t) && !is_namespaced(t))
        .map(name_of)
        .collect();
    let mut member_names: HashMap<String, usize> = HashMap::new();
    for tool in tools.iter().filter(|t| is_namespaced(t)) {
        for member in members(tool).iter().filter(|m| is_function(m)) {
            *member_names.entry(name_of(member)).or_default() += 1;
        }
    }

    let mut dropped = Vec::new();
    let mut kept = Vec::with_capacity(tools.len());
    for tool in std::mem::take(tools) {
        let kind = tool
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("(no type)")
            .to_string();
        if is_namespaced(&tool) {
            let namespace = tool
                .get("namespace")
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| name_of(&tool));
            for mut member in members(&tool) {
                let name = name_of(&member);
                let member_kind = member
                    .get("type")
                    .and_then(Value::as_str)
                    .unwrap_or("(no type)");
                if !is_function(&member) {
                    dropped.push(format!("{namespace}/{name} ({member_kind})"));
                } else if name.is_empty()
                    || member_names.get(&name) != Some(&1)
                    || !taken.insert(name.clone())
                {
                    dropped.push(format!("{namespace}/{name} (name not unique)"));
                } else {
                    if let Some(member) = member.as_object_mut() {
                        member.remove("namespace");
                    }
                    kept.push(member);
                }
            }
            continue;
        }
        let keep = match kind.as_str() {
            "function" => true,
            "web_search" | "web_search_preview" => web_search,
            _ => false,
        };
        if keep {
            kept.push(tool);
        } else {
            let name = name_of(&tool);
            dropped.push(if name.is_empty() {
                kind
            } else {
                format!("{name} ({kind})")
            });
        }
    }
    *tools = kept;
    dropped
}

/// Whether the body carries anything a model without reasoning may refuse.
fn has_reasoning_params(body: &Map<String, Value>) -> bool {
    body.contains_key("reasoning")
        || body
            .get("include")
            .and_then(Value::as_array)
            .is_some_and(|include| include.iter().any(|i| i == ENCRYPTED_REASONING))
}

/// Removes `reasoning` and the `include` entry for encrypted reasoning.
/// Returns whether anything was removed.
fn strip_reasoning(body: &mut Map<String, Value>) -> bool {
    let mut removed = body.remove("reasoning").is_some();
    if let Some(include) = body.get_mut("include").and_then(Value::as_array_mut) {
        let before = include.len();
        include.retain(|i| i != ENCRYPTED_REASONING);
        removed |= include.len() != before;
    }
    removed
}

/// Whether an error body is about reasoning parameters (LiteLLM names the
/// refused parameter, e.g. `reasoning_effort`).
fn mentions_reasoning(body: &[u8]) -> bool {
    String::from_utf8_lossy(body)
        .to_ascii_lowercase()
        .contains("reasoning")
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
    if outcome.error.is_some()
        && let Some(home) = &rt.discovery_home
    {
        crate::discovery::invalidate_cache(home);
    }
    let info = rt.model_info(&pending.model);
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
        wire_api: WIRE_API.to_string(),
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
        rate_limits: (!outcome.meta.rate_limits.is_empty())
            .then(|| outcome.meta.rate_limits.clone()),
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
            json!({"seq": pending.seq, "model": pending.model, "status": record.status, "latency_ms": record.latency_ms, "cache_tier": record.cache_tier, "call_id": record.call_id, "last_input": pending.last_input, "error": record.error}),
        );
    }
}

/// The last 300 characters of the newest `input` item's text: a message's
/// text parts or a tool call's output. Enough to tell requests apart in the
/// debug log; the telemetry writer redacts it like every other string.
fn last_input_excerpt(body: &Value) -> Option<String> {
    const KEEP: usize = 300;
    let item = body.get("input")?.as_array()?.last()?;
    let text = match item.get("output").or_else(|| item.get("content"))? {
        Value::String(text) => text.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(" "),
        other => other.to_string(),
    };
    let chars: Vec<char> = text.chars().collect();
    let start = chars.len().saturating_sub(KEEP);
    Some(chars[start..].iter().collect())
}

/// The answer stream, watched as it passes: usage, cost and completion are
/// read on the fly, and the whole answer is kept for tier 0 when enabled.
/// When the answer breaks off (the connection drops, or the proxy's stream
/// ends without completing), one more event follows the proxy's bytes: the
/// exchange's verdict, which upstream acts on instead (see [`crate::faults`]).
struct Observed {
    rt: &'static Runtime,
    inner: BoxStream<'static, Result<Bytes, reqwest::Error>>,
    observer: StreamObserver,
    capture: Option<Vec<u8>>,
    pending: Option<(Pending, ProxyMeta)>,
    /// The verdict was handed on: the stream is over.
    ended: bool,
}

/// Error codes of a proxy's own `response.failed` that upstream acts on by
/// itself (a full context window, quota, a refused prompt, overload, a rate
/// limit with its wait): the proxy's event is left to speak for itself.
const UPSTREAM_HANDLED_CODES: &[&str] = &[
    "context_length_exceeded",
    "insufficient_quota",
    "usage_not_included",
    "invalid_prompt",
    "server_is_overloaded",
    "slow_down",
    "rate_limit_exceeded",
];

impl Observed {
    /// The verdict on an answer that did not complete, if the exchange has one.
    fn verdict(&self, pending: &Pending, transport_error: Option<&str>) -> Option<Verdict> {
        let rt = self.rt;
        let url = &rt.base_url;
        let advice = "What completed of this turn is kept in the session: send the message again, or run `codex-litellm resume --last` once the proxy is back.";
        if let Some(err) = transport_error {
            let what = format!(
                "the connection to the LiteLLM proxy at {url} broke in the middle of the answer ({})",
                rt.quote(err)
            );
            return Some(retry_or_stop(rt.attempt(&pending.key), &what, None, advice));
        }
        let o = &self.observer;
        if o.completed() || o.incomplete() {
            return None;
        }
        if o
            .failed_code()
            .is_some_and(|code| UPSTREAM_HANDLED_CODES.contains(&code.as_str()))
        {
            return None;
        }
        if let Some(bad) = o.malformed() {
            return Some(Verdict::Stop {
                message: format!(
                    "the LiteLLM proxy at {url} sent an event that is not JSON: `{}`. Check what sits between codex-litellm and the proxy (a gateway or reverse proxy) and the proxy's logs. {advice}",
                    rt.quote(&bad)
                ),
            });
        }
        let what = match o.failed() {
            Some(failed) => format!(
                "the LiteLLM proxy at {url} reported that the answer failed: {}",
                rt.quote(&failed)
            ),
            None => format!("the answer from the LiteLLM proxy at {url} ended before it was complete"),
        };
        Some(retry_or_stop(rt.attempt(&pending.key), &what, None, advice))
    }

    /// Records the request (once). `verdict`: what the exchange decided
    /// about an answer that broke off, which is then its error.
    fn done(&mut self, verdict: Option<&Verdict>) {
        let Some((pending, meta)) = self.pending.take() else {
            return;
        };
        let rt = self.rt;
        let error = verdict
            .map(|v| v.message().to_string())
            .or_else(|| self.observer.failed())
            .or_else(|| {
                (!self.observer.completed())
                    .then(|| "the answer ended before it was complete".to_string())
            });
        if error.is_none() || verdict.is_some_and(Verdict::is_stop) {
            rt.forget_attempts();
        }
        if let Some(verdict) = verdict {
            tracing::warn!(model = %pending.model, stop = verdict.is_stop(), "{}", verdict.message());
        }
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

    /// Ends the stream: records it, and hands on the verdict's event if any.
    fn end(&mut self, transport_error: Option<&str>) -> Poll<Option<Result<Bytes, reqwest::Error>>> {
        self.ended = true;
        let verdict = self
            .pending
            .as_ref()
            .and_then(|(pending, _)| self.verdict(pending, transport_error));
        self.done(verdict.as_ref());
        Poll::Ready(verdict.map(|v| Ok(Bytes::from(v.to_sse()))))
    }
}

impl Stream for Observed {
    type Item = Result<Bytes, reqwest::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.ended {
            return Poll::Ready(None);
        }
        match self.inner.poll_next_unpin(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                self.observer.feed(&chunk);
                if let Some(capture) = self.capture.as_mut() {
                    capture.extend_from_slice(&chunk);
                }
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(Some(Err(err))) => {
                let message = crate::errors::error_chain(&err);
                self.end(Some(&message))
            }
            Poll::Ready(None) => {
                self.observer.finish();
                self.end(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Drop for Observed {
    fn drop(&mut self) {
        // The parser may stop reading at `response.completed` without
        // draining the stream; whether the answer was whole is the
        // observer's call, not the drop's.
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

#[cfg(test)]
mod tests {

    #[test]
    fn debug_excerpt_is_the_end_of_the_newest_input() {
        let body = json!({"input": [
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "first"}]},
            {"type": "function_call_output", "call_id": "c", "output": "a.txt\nsk-live-abc\n"}
        ]});
        assert_eq!(last_input_excerpt(&body).as_deref(), Some("a.txt\nsk-live-abc\n"));
        let long = "x".repeat(1000) + "END";
        let body = json!({"input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": long}]}]});
        let excerpt = last_input_excerpt(&body).unwrap();
        assert_eq!(excerpt.chars().count(), 300);
        assert!(excerpt.ends_with("END"));
        assert_eq!(last_input_excerpt(&json!({"model": "m"})), None);
    }

    use super::*;
    use pretty_assertions::assert_eq;

    fn tools_after(tools: Value, info: Option<&ModelInfo>) -> (Value, Vec<String>) {
        let mut body = json!({"model": "m", "tools": tools});
        let body = body.as_object_mut().unwrap();
        let dropped = shape_tools(body, info);
        (body["tools"].clone(), dropped)
    }

    #[test]
    fn only_function_tools_survive() {
        let (tools, dropped) = tools_after(
            json!([
                {"type": "function", "name": "shell", "parameters": {}},
                {"type": "custom", "name": "apply_patch", "format": {"type": "grammar"}},
                {"type": "web_search", "external_web_access": false},
                {"type": "tool_search", "execution": "client"},
                {"type": "local_shell"},
                {"type": "image_generation", "output_format": "png"},
                {"name": "untyped"},
            ]),
            None,
        );
        assert_eq!(
            tools,
            json!([{"type": "function", "name": "shell", "parameters": {}}])
        );
        assert_eq!(
            dropped,
            vec![
                "apply_patch (custom)",
                "web_search",
                "tool_search",
                "local_shell",
                "image_generation",
                "untyped ((no type))",
            ]
        );
    }

    #[test]
    fn web_search_stays_for_models_that_search() {
        let mut info = ModelInfo::new("m");
        info.supports_web_search = Some(true);
        let tools = json!([{"type": "web_search"}, {"type": "web_search_preview"}]);
        let (kept, dropped) = tools_after(tools.clone(), Some(&info));
        assert_eq!(kept, tools);
        assert!(dropped.is_empty());
        info.supports_web_search = Some(false);
        let (kept, _) = tools_after(tools, Some(&info));
        assert_eq!(kept, json!([]));
    }

    #[test]
    fn namespaced_functions_are_flattened_when_unique() {
        let (tools, dropped) = tools_after(
            json!([
                {"type": "function", "name": "shell"},
                {"type": "namespace", "name": "mcp", "tools": [
                    {"type": "function", "name": "read"},
                    {"type": "function", "name": "shell"},
                    {"type": "function", "name": "dup"},
                    {"type": "custom", "name": "free"},
                ]},
                {"type": "namespace", "name": "other", "tools": [
                    {"type": "function", "name": "dup"},
                ]},
                {"type": "function", "name": "write", "namespace": "fs"},
            ]),
            None,
        );
        assert_eq!(
            tools,
            json!([
                {"type": "function", "name": "shell"},
                {"type": "function", "name": "read"},
                {"type": "function", "name": "write"},
            ])
        );
        assert_eq!(
            dropped,
            vec![
                "mcp/shell (name not unique)",
                "mcp/dup (name not unique)",
                "mcp/free (custom)",
                "other/dup (name not unique)",
            ]
        );
    }

    #[test]
    fn reasoning_parameters_are_found_and_stripped() {
        let mut body = json!({"reasoning": {"effort": "high"}, "include": ["reasoning.encrypted_content", "other"]});
        let body = body.as_object_mut().unwrap();
        assert!(has_reasoning_params(body));
        assert!(strip_reasoning(body));
        assert_eq!(Value::Object(body.clone()), json!({"include": ["other"]}));
        assert!(!has_reasoning_params(body));
        assert!(!strip_reasoning(body));
    }

    #[test]
    fn serves_only_urls_under_the_base() {
        let rt = Runtime::new(
            "s".into(),
            "http://127.0.0.1:4000/v1/".into(),
            None,
            None,
            Vec::new(),
            None,
            None,
        );
        assert!(rt.serves("http://127.0.0.1:4000/v1/responses"));
        assert!(rt.serves("http://127.0.0.1:4000/v1"));
        assert!(rt.serves("http://127.0.0.1:4000/v1?x=1"));
        assert!(!rt.serves("http://127.0.0.1:4000/v10/responses"));
        assert!(!rt.serves("https://api.openai.com/v1/responses"));
    }
}
