//! The answers upstream gets back from the exchange, as `reqwest`
//! responses: the proxy's own, rebuilt around the watched stream, and the
//! ones made in place of a failed request (a single `response.failed` event
//! carrying the verdict, which upstream's parser acts on) or of a request
//! tier 0 answers.

use bytes::Bytes;

use super::accounting::Outcome;
use super::accounting::Pending;
use super::accounting::finish;
use super::runtime::Runtime;
use super::verdict::Verdict;
use super::verdict::http_verdict;
use crate::cost::CacheTier;
use crate::headers::ProxyMeta;
use crate::stream_observer::StreamObserver;

/// Answers `verdict` instead of the proxy's answer, and records the request
/// with the status the proxy really sent (none when it sent nothing).
pub(super) fn fault_answer(
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

/// Answers a tier-0 hit with the stored answer, and records it as free (no
/// network call was made) with the usage the stored answer reports.
pub(super) fn tier0_answer(rt: &Runtime, pending: &Pending, cached: Vec<u8>) -> reqwest::Response {
    let mut observer = StreamObserver::new();
    observer.feed(&cached);
    let outcome = Outcome {
        http_status: Some(200),
        meta: ProxyMeta::default(),
        usage: observer.usage(),
        body_cost: Some(0.0),
        tier: Some(CacheTier::Tier0),
        error: None,
    };
    finish(rt, pending, outcome);
    synthetic(200, "text/event-stream", cached, Some("tier0"))
}

/// Marks an answer the exchange made in place of a failed one (`retry` or
/// `stop`), for debugging and tests; upstream ignores it.
pub const FAULT_HEADER: &str = "x-codex-litellm-fault";

/// Records a non-success answer and answers upstream with its verdict.
pub(super) async fn http_failure(
    rt: &Runtime,
    pending: &Pending,
    status: reqwest::StatusCode,
    headers: &reqwest::header::HeaderMap,
    bytes: &[u8],
    read_error: Option<String>,
) -> reqwest::Response {
    let meta = rt.note_answer(headers);
    let mut verdict = http_verdict(rt, &pending.key, &pending.model, status, headers, bytes).await;
    if let Some(err) = read_error {
        let note = format!(" (the answer's body could not be read: {})", rt.quote(&err));
        verdict.message_mut().push_str(&note);
    }
    fault_answer(rt, pending, Some(status.as_u16()), meta, verdict)
}

/// The whole body of an answer. A failure to read it is reported beside an
/// empty body: it cannot become `send`'s error type, and the status alone
/// still tells upstream what happened.
pub(super) async fn read_body(response: reqwest::Response) -> (Bytes, Option<String>) {
    match response.bytes().await {
        Ok(bytes) => (bytes, None),
        Err(err) => (Bytes::new(), Some(err.to_string())),
    }
}

/// `body` with `status` and `headers`, as upstream's transport expects it.
pub(super) fn rebuild(
    status: reqwest::StatusCode,
    headers: reqwest::header::HeaderMap,
    body: reqwest::Body,
) -> reqwest::Response {
    let mut response = http::Response::new(body);
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    reqwest::Response::from(response)
}

/// An answer of our own: `cache` names the tier that answered it
/// (`x-codex-litellm-cache`), for debugging and tests.
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
