//! Faults in the middle of a session, and what codex-litellm tells upstream
//! to do about each one. Every verdict of the exchange is made here (an HTTP
//! error answer, no answer at all, an answer that breaks off) but the
//! budget's stop, which is made beside the budget in [`super::accounting`].
//!
//! Upstream's turn loop already knows two answers to a failed model request:
//! send it again after a delay (showing "Reconnecting... n/m"), or end the
//! turn with an error. Which one it picks depends on the error's variant, and
//! the words it shows are mostly its own. For our provider the exchange
//! decides instead, here, and says it in upstream's own protocol: every fault
//! becomes an answer whose only event is `response.failed`, with an error
//! code upstream's Responses parser maps to the verdict:
//!
//! - [`Verdict::Stop`]: code `invalid_prompt`, which upstream turns into a
//!   non-retryable error and shows as it is (a rejected key, a spent budget,
//!   a model the proxy no longer serves, a request the proxy refuses, an
//!   answer that cannot be read, or the last of the attempts);
//! - [`Verdict::Retry`]: code `rate_limit_exceeded` when the proxy said how
//!   long to wait (upstream reads the wait from "try again in Ns" in the
//!   message and sleeps exactly that), else `server_error` (upstream's own
//!   backoff). Upstream shows the message under "Reconnecting... n/m".
//!
//! Upstream counts its retries per turn; so does the exchange, per request
//! (a retry sends the same body, so the same canonical key), against the
//! number of retries our provider gives upstream ([`STREAM_MAX_RETRIES`]):
//! the last attempt's verdict is a stop whose message names what failed and
//! the URL, instead of upstream's generic words. The HTTP status the proxy
//! really sent is what telemetry records.

use std::time::Duration;

use serde_json::Value;
use serde_json::json;

use super::runtime::Runtime;
use crate::config::STREAM_MAX_RETRIES;
use crate::errors::LiteLlmError;
use crate::errors::classify_http_error;
use crate::errors::rank_models;
use crate::stream_observer::StreamObserver;

/// Attempts of one request before the exchange stops the turn.
pub const MAX_ATTEMPTS: u64 = STREAM_MAX_RETRIES + 1;

/// Longest `Retry-After` honoured: a proxy asking for more ends the turn
/// with a message instead of leaving the session waiting.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// What upstream should do about a failed request.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Send the same request again, after `delay` (else upstream's backoff).
    Retry {
        message: String,
        delay: Option<Duration>,
    },
    /// End the turn with this message.
    Stop { message: String },
    /// The input no longer fits the model: upstream's own handling (its
    /// message, and its note that the context window is full). `message` is
    /// for telemetry.
    ContextWindow { message: String },
}

impl Verdict {
    pub fn message(&self) -> &str {
        match self {
            Self::Retry { message, .. } | Self::Stop { message } | Self::ContextWindow { message } => {
                message
            }
        }
    }

    /// Whether the turn ends here (nothing is retried).
    pub fn is_stop(&self) -> bool {
        !matches!(self, Self::Retry { .. })
    }

    pub(crate) fn message_mut(&mut self) -> &mut String {
        match self {
            Self::Retry { message, .. } | Self::Stop { message } | Self::ContextWindow { message } => {
                message
            }
        }
    }

    /// The upstream error code that makes upstream's parser act on this verdict.
    fn code(&self) -> &'static str {
        match self {
            Self::Stop { .. } => "invalid_prompt",
            Self::ContextWindow { .. } => "context_length_exceeded",
            Self::Retry { delay: Some(_), .. } => "rate_limit_exceeded",
            Self::Retry { delay: None, .. } => "server_error",
        }
    }

    /// One `response.failed` event carrying the verdict, preceded by a blank
    /// line so that it also ends any event the proxy left half-sent.
    pub fn to_sse(&self) -> Vec<u8> {
        let event = json!({
            "type": "response.failed",
            "sequence_number": 0,
            "response": {
                "id": "codex-litellm-fault",
                "object": "response",
                "status": "failed",
                "output": [],
                "error": {"code": self.code(), "message": self.message()},
            },
        });
        format!("\n\nevent: response.failed\ndata: {event}\n\n").into_bytes()
    }
}

/// For a fault worth another attempt: a retry while attempts are left, else
/// a stop that says it gave up. `what` says what happened and names the URL;
/// `advice` is what to do once codex-litellm gives up.
pub fn retry_or_stop(attempt: u64, what: &str, delay: Option<Duration>, advice: &str) -> Verdict {
    if attempt >= MAX_ATTEMPTS {
        let what = what.trim_end_matches('.');
        return Verdict::Stop {
            message: format!("codex-litellm gave up after {MAX_ATTEMPTS} attempts: {what}. {advice}"),
        };
    }
    let what = what.trim_end_matches('.');
    let message = match delay {
        // The wait first: upstream reads it from these words ("try again in
        // <n>s", the first such phrase), and a status line that cuts a long
        // message short still says it.
        Some(delay) => format!(
            "codex-litellm will try again in {}, as the proxy's Retry-After asks (attempt {attempt} of {MAX_ATTEMPTS}): {what}",
            seconds(delay)
        ),
        None => format!("{what} (attempt {attempt} of {MAX_ATTEMPTS}); codex-litellm tries again"),
    };
    Verdict::Retry { message, delay }
}

/// What to do when codex-litellm gives up on a request: the session is kept.
pub const RESUME_ADVICE: &str =
    "The session is saved: send the message again, or run `codex-litellm resume --last` later.";

/// `2s`, `1.5s`, `0.25s`: whole seconds where possible, in the form upstream's
/// "try again in" parser reads.
fn seconds(delay: Duration) -> String {
    let millis = delay.as_millis();
    if millis.is_multiple_of(1000) {
        format!("{}s", millis / 1000)
    } else {
        let text = format!("{:.3}", delay.as_secs_f64());
        format!("{}s", text.trim_end_matches('0').trim_end_matches('.'))
    }
}

/// How long the proxy asks to wait: `retry-after-ms`, `retry-after` (seconds
/// or an HTTP date), or the same headers as LiteLLM forwards them from the
/// provider (`llm_provider-retry-after`).
pub fn retry_after<'a, I>(headers: I, now: std::time::SystemTime) -> Option<Duration>
where
    I: IntoIterator<Item = (&'a str, &'a str)>,
{
    let mut found: [Option<Duration>; 4] = [None; 4];
    for (name, value) in headers {
        let value = value.trim();
        let slot = match name.to_ascii_lowercase().as_str() {
            "retry-after-ms" => 0,
            "retry-after" => 1,
            "llm_provider-retry-after-ms" => 2,
            "llm_provider-retry-after" => 3,
            _ => continue,
        };
        found[slot] = if slot % 2 == 0 {
            value
                .parse::<f64>()
                .ok()
                .filter(|ms| ms.is_finite() && *ms >= 0.0)
                .map(|ms| Duration::from_millis(ms.round() as u64))
        } else {
            seconds_or_date(value, now)
        };
    }
    found.into_iter().flatten().next()
}

fn seconds_or_date(value: &str, now: std::time::SystemTime) -> Option<Duration> {
    if let Ok(secs) = value.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let at = std::time::SystemTime::UNIX_EPOCH
        + Duration::from_secs(u64::try_from(at.timestamp()).ok()?);
    Some(at.duration_since(now).unwrap_or_default())
}

/// The text of an error answer: LiteLLM's `error.message`, FastAPI's
/// `detail`, else the body itself; `false` when the body was not JSON.
pub fn error_text(body: &str) -> (String, bool) {
    let Ok(value) = serde_json::from_str::<Value>(body) else {
        return (body.trim().to_string(), false);
    };
    let text = value
        .pointer("/error/message")
        .or_else(|| value.get("error").filter(|e| e.is_string()))
        .or_else(|| value.get("detail"))
        .map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .unwrap_or_else(|| value.to_string());
    (text, true)
}

/// Whether LiteLLM's error text is about the provider behind it (its own
/// errors for a provider's answer start `litellm.`), not about our key.
pub fn is_provider_error(text: &str) -> bool {
    text.trim_start().starts_with("litellm.")
}

/// The stop for a model the proxy does not serve (any more), listing what
/// it does serve, nearest first (or saying how to see it).
pub fn unknown_model_stop(base_url: &str, model: &str, known: Option<&[String]>) -> Verdict {
    const LISTED: usize = 10;
    let mut message = format!(
        "the LiteLLM proxy at {base_url} has no model named `{model}` (any more: it may have been renamed or removed since this session started)."
    );
    match known {
        Some(known) if !known.is_empty() => {
            let ranked = rank_models(model, known);
            let shown: Vec<&str> = ranked.iter().take(LISTED).map(String::as_str).collect();
            message.push_str(&format!(" Available models (nearest first): {}", shown.join(", ")));
            if ranked.len() > LISTED {
                message.push_str(&format!(", and {} more", ranked.len() - LISTED));
            }
            message.push_str(". Pick one with /model (or -m), or set [litellm].model.");
        }
        _ => message.push_str(
            " Run `codex-litellm models` to see what it serves, then pick one with /model (or -m).",
        ),
    }
    Verdict::Stop { message }
}

/// The verdict on a request that got no answer at all (`error`, already
/// classified with the URL): a configuration mistake stops at once, anything
/// else is tried again while attempts are left.
pub(super) fn no_answer(rt: &Runtime, key: &str, error: LiteLlmError) -> Verdict {
    let message = error.to_string();
    match error {
        // No attempt will get further.
        LiteLlmError::HttpsToPlainHttp { .. } => Verdict::Stop { message },
        _ => retry_or_stop(rt.attempt(key), &message, None, RESUME_ADVICE),
    }
}

/// What to do about an HTTP error answer from the proxy. Every message names
/// the proxy's URL and quotes at most a short, redacted excerpt of its body.
pub(super) async fn http_verdict(
    rt: &Runtime,
    key: &str,
    model: &str,
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
                "the provider behind the LiteLLM proxy at {url} refused the proxy's own credentials for `{model}` ({status_text}{said}). Your LiteLLM key was accepted: fix the provider's api_key in the proxy's model_list, or pick another model with /model (or -m)."
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
                    rt.attempt(key),
                    &what,
                    wait,
                    &format!("Wait a minute, or raise the key's rpm/tpm limits on the proxy. {RESUME_ADVICE}"),
                ),
            }
        }
        408 | 500..=599 => retry_or_stop(
            rt.attempt(key),
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
    let client = crate::discovery::Client::new(&rt.base_url, rt.api_key().map(str::to_string))
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

/// The verdict on an answer that did not complete, if the exchange has one:
/// `observer` watched the answer of request `key` until it ended, or until
/// the connection broke with `transport_error`.
pub(super) fn broken_answer(
    rt: &Runtime,
    key: &str,
    observer: &StreamObserver,
    transport_error: Option<&str>,
) -> Option<Verdict> {
    let url = &rt.base_url;
    let advice = "What completed of this turn is kept in the session: send the message again, or run `codex-litellm resume --last` once the proxy is back.";
    if let Some(err) = transport_error {
        let what = format!(
            "the connection to the LiteLLM proxy at {url} broke in the middle of the answer ({})",
            rt.quote(err)
        );
        return Some(retry_or_stop(rt.attempt(key), &what, None, advice));
    }
    if observer.completed() || observer.incomplete() {
        return None;
    }
    if observer
        .failed_code()
        .is_some_and(|code| UPSTREAM_HANDLED_CODES.contains(&code.as_str()))
    {
        return None;
    }
    if let Some(bad) = observer.malformed() {
        return Some(Verdict::Stop {
            message: format!(
                "the LiteLLM proxy at {url} sent an event that is not JSON: `{}`. Check what sits between codex-litellm and the proxy (a gateway or reverse proxy) and the proxy's logs. {advice}",
                rt.quote(&bad)
            ),
        });
    }
    let what = match observer.failed() {
        Some(failed) => format!(
            "the LiteLLM proxy at {url} reported that the answer failed: {}",
            rt.quote(&failed)
        ),
        None => format!("the answer from the LiteLLM proxy at {url} ended before it was complete"),
    };
    Some(retry_or_stop(rt.attempt(key), &what, None, advice))
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn retries_until_the_last_attempt() {
        let v = retry_or_stop(1, "the proxy at U answered HTTP 500", None, "Check it.");
        assert_eq!(
            v,
            Verdict::Retry {
                message: "the proxy at U answered HTTP 500 (attempt 1 of 4); codex-litellm tries again".into(),
                delay: None
            }
        );
        let v = retry_or_stop(2, "rate limited", Some(Duration::from_millis(1500)), "Wait.");
        assert!(v.message().contains("will try again in 1.5s"), "{v:?}");
        let v = retry_or_stop(MAX_ATTEMPTS, "the proxy at U answered HTTP 500", None, "Check it.");
        assert_eq!(
            v.message(),
            "codex-litellm gave up after 4 attempts: the proxy at U answered HTTP 500. Check it."
        );
        assert!(v.is_stop());
    }

    #[test]
    fn verdicts_speak_upstreams_codes() {
        let code = |v: &Verdict| {
            let text = String::from_utf8(v.to_sse()).unwrap();
            assert!(text.starts_with("\n\nevent: response.failed\ndata: "), "{text}");
            let data: Value = serde_json::from_str(text.trim().lines().nth(1).unwrap().strip_prefix("data: ").unwrap()).unwrap();
            assert_eq!(data["response"]["error"]["message"], v.message());
            data["response"]["error"]["code"].as_str().unwrap().to_string()
        };
        assert_eq!(code(&Verdict::Stop { message: "x".into() }), "invalid_prompt");
        assert_eq!(code(&Verdict::Retry { message: "x".into(), delay: None }), "server_error");
        let wait = retry_or_stop(1, "w", Some(Duration::from_secs(2)), "");
        assert_eq!(code(&wait), "rate_limit_exceeded");
        // Upstream's own pattern finds our wait first.
        let re = regex_lite_like(wait.message());
        assert_eq!(re, Some("2s".to_string()));
    }

    /// The first "try again in <n><unit>" of a message, as upstream's regex reads it.
    fn regex_lite_like(message: &str) -> Option<String> {
        let lower = message.to_ascii_lowercase();
        let at = lower.find("try again in")? + "try again in".len();
        let rest = lower[at..].trim_start();
        let end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.' || c.is_ascii_alphabetic()))?;
        Some(rest[..end].to_string())
    }

    #[test]
    fn retry_after_headers() {
        let now = std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(retry_after([("Retry-After", "2")], now), Some(Duration::from_secs(2)));
        assert_eq!(retry_after([("retry-after", "1.5")], now), Some(Duration::from_millis(1500)));
        assert_eq!(
            retry_after([("retry-after", "9"), ("retry-after-ms", "250")], now),
            Some(Duration::from_millis(250))
        );
        // LiteLLM forwards the provider's header under its own prefix.
        assert_eq!(retry_after([("llm_provider-retry-after", "3")], now), Some(Duration::from_secs(3)));
        assert_eq!(
            retry_after([("retry-after", "Tue, 14 Nov 2023 22:13:30 GMT")], now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(retry_after([("retry-after", "soon"), ("x", "1")], now), None);
        assert_eq!(retry_after([], now), None);
    }

    #[test]
    fn error_text_reads_litellm_fastapi_and_raw_bodies() {
        assert_eq!(error_text(r#"{"error":{"message":"m1"}}"#), ("m1".to_string(), true));
        assert_eq!(error_text(r#"{"error":"m2"}"#), ("m2".to_string(), true));
        assert_eq!(error_text(r#"{"detail":"Not Found"}"#), ("Not Found".to_string(), true));
        assert_eq!(error_text(" <html>x</html> "), ("<html>x</html>".to_string(), false));
        assert!(is_provider_error("litellm.AuthenticationError: OpenAIException - no"));
        assert!(!is_provider_error("Authentication Error, Invalid proxy server token passed."));
    }

    #[test]
    fn unknown_model_lists_nearest_first() {
        let known: Vec<String> = ["fake-native", "fake-model-v2", "other"].iter().map(ToString::to_string).collect();
        let v = unknown_model_stop("http://h/v1", "fake-model", Some(&known));
        assert!(v.message().contains("Available models (nearest first): fake-model-v2, fake-native, other."), "{v:?}");
        assert!(v.message().contains("http://h/v1"));
        let v = unknown_model_stop("http://h/v1", "fake-model", None);
        assert!(v.message().contains("codex-litellm models"));
    }
}
