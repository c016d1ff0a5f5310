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
//!
//! One file per job, each leaning only on the ones listed before it:
//!
//! - [`runtime`]: what start-up sets up once and what requests leave for
//!   the next one and for `/status`;
//! - [`shaping`]: the body as every LiteLLM route takes it;
//! - [`verdict`]: what upstream is told to do about a failed request;
//! - [`accounting`]: cost, session totals, the budget and the telemetry line;
//! - [`response`]: the answers handed back, the proxy's and our own;
//! - [`stream`]: the answer stream, watched on its way to upstream;
//! - this file: one request through the tiers, in order.

mod accounting;
mod response;
mod runtime;
mod shaping;
mod stream;
// Public for the integration tests (`internals` only), which count attempts
// against its MAX_ATTEMPTS.
pub mod verdict;

use std::fmt::Display;
use std::future::Future;
use std::time::Instant;

use serde_json::Value;

use crate::canonical::request_key;
use crate::errors::classify_transport_message;
use crate::headers::ProxyMeta;
use accounting::Pending;
use accounting::budget_spent;
use response::fault_answer;
use response::http_failure;
use response::read_body;
use response::tier0_answer;
pub use runtime::ProxyHealth;
pub use runtime::Runtime;
pub use runtime::install;
pub use runtime::runtime;
use shaping::has_reasoning_params;
use shaping::mentions_reasoning;
use shaping::shape_request;
use shaping::strip_reasoning;
use stream::answer;
use verdict::no_answer;

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
    let mut pending = Pending::start(rt, started, model, &body);

    if let Some(verdict) = budget_spent(rt) {
        return Ok(fault_answer(rt, &pending, None, ProxyMeta::default(), verdict));
    }

    if let Some(cached) = rt.tier0.as_ref().and_then(|c| c.get(&pending.key)) {
        tracing::info!(key = %pending.key, "tier-0 cache hit: answered locally, no network call");
        return Ok(tier0_answer(rt, &pending, cached));
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
            rt.stop_sending_reasoning(&pending.model);
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
/// the fault answer upstream acts on (see [`verdict`]): retried while
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
            rt.note_unreachable(&error.to_string());
            let verdict = no_answer(rt, &pending.key, error);
            Err(fault_answer(rt, pending, None, ProxyMeta::default(), verdict))
        }
    }
}
