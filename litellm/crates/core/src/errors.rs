//! The one error type of this crate.
//!
//! Every message is meant to be shown to a person as-is: it says what went
//! wrong *and* what to do about it. Messages never contain the API key: text
//! that comes from the proxy is passed through
//! [`scrub_secrets`](crate::redaction::scrub_secrets) first, and the
//! discovery client additionally removes its own key from anything it
//! reports (LiteLLM echoes a masked form of a rejected key in its 401 body).

use std::error::Error as StdError;
use std::path::PathBuf;

use serde_json::Value;

use crate::redaction::scrub_secrets;

/// How many model ids an "unknown model" message lists before summarising.
const MAX_LISTED_MODELS: usize = 10;

/// Longest piece of proxy-provided text we copy into a message; LiteLLM can
/// return whole stack traces in `message`.
const MAX_PROXY_TEXT: usize = 500;

/// What a user should do when nothing says where the proxy is.
pub(crate) const NOT_CONFIGURED_MESSAGE: &str = "LiteLLM is not configured: no proxy URL was found. \
Set LITELLM_BASE_URL (for example http://localhost:4000) and, if the proxy requires a key, LITELLM_API_KEY; \
or add `[litellm] api_base = \"http://localhost:4000\"` to CODEX_HOME/config.toml (~/.codex/config.toml by default); \
or run `codex-litellm` in an interactive terminal to start the setup wizard.";

#[derive(Debug, thiserror::Error)]
pub enum LiteLlmError {
    /// No base URL anywhere (flag, env, config). Non-interactive callers show
    /// this; interactive ones start the setup wizard instead.
    #[error("{NOT_CONFIGURED_MESSAGE}")]
    NotConfigured,

    /// A setting has a value we cannot use.
    #[error("invalid LiteLLM setting {setting}: {message}")]
    InvalidConfig { setting: String, message: String },

    /// Nothing accepted the TCP connection (or DNS failed).
    #[error(
        "could not connect to the LiteLLM proxy at {url} ({detail}). Is the LiteLLM proxy running at {url}? \
Start it (e.g. `litellm --config config.yaml --port 4000`) or set LITELLM_BASE_URL to its address."
    )]
    Unreachable { url: String, detail: String },

    /// The URL says https:// but the server answered in plain HTTP, which
    /// TLS libraries report as "wrong version number" and similar.
    #[error(
        "TLS handshake with {url} failed ({detail}): the LiteLLM proxy there appears to speak plain HTTP. \
Use {suggestion} instead (LITELLM_BASE_URL or [litellm].api_base)."
    )]
    HttpsToPlainHttp {
        url: String,
        suggestion: String,
        detail: String,
    },

    #[error(
        "the request to {url} timed out. The LiteLLM proxy or the model behind it may be overloaded; \
check the proxy logs and retry."
    )]
    Timeout { url: String },

    /// HTTP 401/403.
    #[error(
        "the proxy rejected the API key (HTTP {status}{}). Set LITELLM_API_KEY or [litellm].api_key \
(or run the setup wizard) with a valid LiteLLM virtual key or master key.",
        proxy_detail(.message)
    )]
    Unauthorized {
        status: u16,
        message: Option<String>,
    },

    /// The proxy does not serve `model`. `known` is sorted nearest match
    /// first (see [`rank_models`]); it is empty when the list is unknown.
    #[error("{}", unknown_model_message(.model, .known))]
    UnknownModel { model: String, known: Vec<String> },

    /// HTTP 429.
    #[error(
        "rate limited by the LiteLLM proxy or its upstream provider{}. Wait a moment and retry, \
or raise the key's rpm/tpm limits on the proxy.",
        proxy_detail(.message)
    )]
    RateLimited { message: Option<String> },

    /// Any other non-success HTTP status.
    #[error("the LiteLLM proxy returned HTTP {status}: {message}. {}", http_hint(*.status))]
    Http {
        status: u16,
        message: String,
        error_type: Option<String>,
        code: Option<String>,
    },

    /// A 2xx answer we could not make sense of.
    #[error(
        "unexpected response from {url}: {detail}. Check that LITELLM_BASE_URL points at a LiteLLM proxy."
    )]
    UnexpectedResponse { url: String, detail: String },

    /// Any other transport failure.
    #[error("request to {url} failed: {detail}")]
    Request { url: String, detail: String },

    #[error("could not {action} {}: {source}", .path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// `codex-litellm telemetry` found no telemetry directory. `disabled`:
    /// config.toml turns telemetry off, which is then the likely reason.
    #[error(
        "no telemetry: the directory {} does not exist{}. Pass --dir DIR, or set CODEX_HOME \
(telemetry lives in CODEX_HOME/litellm/telemetry unless [telemetry].dir in config.toml says otherwise). \
codex-litellm writes it unless [telemetry] enabled = false or --no-telemetry is used.",
        .dir.display(),
        if *.disabled { " (config.toml sets [telemetry] enabled = false)" } else { "" }
    )]
    NoTelemetry { dir: PathBuf, disabled: bool },

    /// The user left the setup wizard (end of input or declined to retry).
    #[error(
        "LiteLLM setup was not completed: {reason}. Run `codex-litellm` again in a terminal, \
or set LITELLM_BASE_URL / [litellm].api_base yourself."
    )]
    SetupAborted { reason: String },
}

impl LiteLlmError {
    /// The HTTP status behind this error, if it came from an HTTP answer.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Unauthorized { status, .. } | Self::Http { status, .. } => Some(*status),
            Self::RateLimited { .. } => Some(429),
            _ => None,
        }
    }

    /// Whether trying the same request again later may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Timeout { .. } | Self::RateLimited { .. } | Self::Unreachable { .. } => true,
            Self::Http { status, .. } => *status >= 500,
            _ => false,
        }
    }

    /// Builds an [`LiteLlmError::UnknownModel`] with `known` ranked nearest
    /// first.
    pub fn unknown_model(model: impl Into<String>, known: &[String]) -> Self {
        let model = model.into();
        let known = rank_models(&model, known);
        Self::UnknownModel { model, known }
    }

    /// Fills in the list of known models of an `UnknownModel` error (the
    /// streaming path learns the model is unknown from an error body that
    /// does not list alternatives). Other errors are returned unchanged.
    pub fn with_known_models(self, known: &[String]) -> Self {
        match self {
            Self::UnknownModel { model, .. } => Self::unknown_model(model, known),
            other => other,
        }
    }

    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        Self::Io {
            action,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn invalid(setting: impl Into<String>, message: impl Into<String>) -> Self {
        Self::InvalidConfig {
            setting: setting.into(),
            message: message.into(),
        }
    }
}

/// Turns a non-success HTTP answer from LiteLLM (any endpoint, streaming or
/// not) into an error. Understands LiteLLM's
/// `{"error":{"message","type","param","code"}}` body and FastAPI's
/// `{"detail": ...}`, and falls back to the raw text.
pub fn classify_http_error(status: u16, body: &str) -> LiteLlmError {
    let parsed = parse_error_body(body);
    let message = parsed
        .message
        .clone()
        .unwrap_or_else(|| truncate(body.trim(), MAX_PROXY_TEXT));
    let message = scrub_secrets(&message);

    if let Some(model) = unknown_model_in(&message) {
        return LiteLlmError::UnknownModel {
            model,
            known: Vec::new(),
        };
    }
    let non_empty = |m: String| if m.is_empty() { None } else { Some(m) };
    // A proxy without a database can only check its master key; any other
    // key gets 400 `no_db_connection`. For the user that is a rejected key.
    if parsed.error_type.as_deref() == Some("no_db_connection") {
        return LiteLlmError::Unauthorized {
            status,
            message: Some(format!(
                "{message} The proxy has no database, so only its master key is accepted"
            )),
        };
    }
    match status {
        401 | 403 => LiteLlmError::Unauthorized {
            status,
            message: non_empty(message),
        },
        429 => LiteLlmError::RateLimited {
            message: non_empty(message),
        },
        408 | 504 => LiteLlmError::Timeout {
            url: "the LiteLLM proxy".to_string(),
        },
        _ => LiteLlmError::Http {
            status,
            message: if message.is_empty() {
                "(empty body)".to_string()
            } else {
                message
            },
            error_type: parsed.error_type,
            code: parsed.code,
        },
    }
}

/// Maps a transport-level reqwest failure (no HTTP answer) for `base_url`.
/// Public so the patched streaming client can report failures the same way.
pub fn classify_transport_error(base_url: &str, err: &reqwest::Error) -> LiteLlmError {
    let chain = error_chain(err);
    let root = root_cause(err);
    let lower = chain.to_ascii_lowercase();
    let is_https = base_url.to_ascii_lowercase().starts_with("https://");

    if is_https && looks_like_plain_http_reply(&lower) {
        return LiteLlmError::HttpsToPlainHttp {
            url: base_url.to_string(),
            suggestion: format!("http://{}", &base_url["https://".len()..]),
            detail: root,
        };
    }
    if err.is_timeout() {
        return LiteLlmError::Timeout {
            url: base_url.to_string(),
        };
    }
    if err.is_connect() || lower.contains("connection refused") {
        return LiteLlmError::Unreachable {
            url: base_url.to_string(),
            detail: root,
        };
    }
    LiteLlmError::Request {
        url: base_url.to_string(),
        detail: chain,
    }
}

/// Maps a transport failure known only by its text (no HTTP answer) for
/// `base_url`, with the same classes as [`classify_transport_error`].
/// Upstream's transport hands [`crate::exchange`] its own opaque error type,
/// whose text is all there is: `timeout` for reqwest timeouts and
/// `network error: error sending request for url (…)` for everything else
/// (reqwest's text omits the cause).
pub fn classify_transport_message(base_url: &str, message: &str) -> LiteLlmError {
    let lower = message.to_ascii_lowercase();
    let is_https = base_url.to_ascii_lowercase().starts_with("https://");
    let detail = scrub_secrets(message.trim());
    if is_https && looks_like_plain_http_reply(&lower) {
        return LiteLlmError::HttpsToPlainHttp {
            url: base_url.to_string(),
            suggestion: format!("http://{}", &base_url["https://".len()..]),
            detail,
        };
    }
    if ["timeout", "timed out", "deadline has elapsed"]
        .iter()
        .any(|marker| lower.contains(marker))
    {
        return LiteLlmError::Timeout {
            url: base_url.to_string(),
        };
    }
    // reqwest reports a failed connect (refused, DNS, unreachable host) as
    // "error sending request" and nothing more once the cause is dropped;
    // against a local proxy that almost always means it is not running.
    if [
        "connection refused",
        "error sending request",
        "error trying to connect",
        "tcp connect error",
        "connect error",
        "dns error",
        "failed to lookup address",
        "name or service not known",
        "nodename nor servname",
        "no such host",
        "network is unreachable",
        "no route to host",
    ]
    .iter()
    .any(|marker| lower.contains(marker))
    {
        return LiteLlmError::Unreachable {
            url: base_url.to_string(),
            detail,
        };
    }
    LiteLlmError::Request {
        url: base_url.to_string(),
        detail,
    }
}

/// Ranks `known` by similarity to `model`, nearest first. Case-insensitive;
/// a model id is also compared by its last `/` segment so `gpt-4o` finds
/// `openai/gpt-4o`.
pub fn rank_models(model: &str, known: &[String]) -> Vec<String> {
    let query = model.to_lowercase();
    let mut scored: Vec<(usize, &String)> = known
        .iter()
        .map(|candidate| {
            (
                similarity_distance(&query, &candidate.to_lowercase()),
                candidate,
            )
        })
        .collect();
    scored.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(b.1)));
    let mut ranked: Vec<String> = Vec::with_capacity(scored.len());
    for (_, id) in scored {
        if !ranked.contains(id) {
            ranked.push(id.clone());
        }
    }
    ranked
}

/// Message markers of a TLS client reading a plain-HTTP answer: OpenSSL says
/// "wrong version number" / "packet length too long", rustls says
/// "InvalidContentType" / "corrupt message".
fn looks_like_plain_http_reply(lower_chain: &str) -> bool {
    [
        "wrong version number",
        "packet length too long",
        "unknown protocol",
        "invalidcontenttype",
        "invalid content type",
        "corrupt message",
    ]
    .iter()
    .any(|marker| lower_chain.contains(marker))
}

/// "outer: inner: root" for an error and its sources, dropping repeats
/// (reqwest and hyper often wrap with the same text).
pub(crate) fn error_chain(err: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = current {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        current = e.source();
    }
    parts.join(": ")
}

fn root_cause(err: &(dyn StdError + 'static)) -> String {
    let mut current = err;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}

#[derive(Default)]
struct ParsedErrorBody {
    message: Option<String>,
    error_type: Option<String>,
    code: Option<String>,
}

fn parse_error_body(body: &str) -> ParsedErrorBody {
    let Ok(value) = serde_json::from_str::<Value>(body) else {
        return ParsedErrorBody::default();
    };
    let scalar = |v: Option<&Value>| match v {
        Some(Value::String(s)) if !s.is_empty() && s != "None" => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    if let Some(error) = value.get("error") {
        if let Some(text) = error.as_str() {
            return ParsedErrorBody {
                message: Some(truncate(text, MAX_PROXY_TEXT)),
                ..ParsedErrorBody::default()
            };
        }
        return ParsedErrorBody {
            message: scalar(error.get("message")).map(|m| truncate(&m, MAX_PROXY_TEXT)),
            error_type: scalar(error.get("type")),
            code: scalar(error.get("code")),
        };
    }
    let detail = match value.get("detail") {
        Some(Value::String(s)) => Some(s.clone()),
        Some(other @ (Value::Object(_) | Value::Array(_))) => Some(other.to_string()),
        _ => None,
    };
    ParsedErrorBody {
        message: detail.map(|d| truncate(&d, MAX_PROXY_TEXT)),
        ..ParsedErrorBody::default()
    }
}

/// LiteLLM says "…Invalid model name passed in model=foo. Call `/v1/models`…"
/// for models it does not route; OpenAI-style backends say "model_not_found".
fn unknown_model_in(message: &str) -> Option<String> {
    const MARKER: &str = "Invalid model name passed in model=";
    let start = message.find(MARKER)? + MARKER.len();
    let token = message[start..]
        .split_whitespace()
        .next()
        .unwrap_or_default();
    let token = token.trim_end_matches(['\'', '"', ',', '}']);
    // Ids may contain dots (gpt-4.1); only the sentence's final period goes.
    let token = token.strip_suffix('.').unwrap_or(token);
    Some(token.to_string())
}

fn unknown_model_message(model: &str, known: &[String]) -> String {
    let mut text = format!("the LiteLLM proxy has no model named `{model}`.");
    if known.is_empty() {
        text.push_str(
            " Run `codex-litellm models` to list the models your key can use, then pass one with --model or set [litellm].model.",
        );
        return text;
    }
    let shown: Vec<&str> = known
        .iter()
        .take(MAX_LISTED_MODELS)
        .map(String::as_str)
        .collect();
    text.push_str(&format!(
        " Available models (nearest first): {}",
        shown.join(", ")
    ));
    if known.len() > MAX_LISTED_MODELS {
        text.push_str(&format!(
            ", and {} more (see `codex-litellm models`)",
            known.len() - MAX_LISTED_MODELS
        ));
    }
    text.push_str(". Pass one with --model or set [litellm].model.");
    text
}

fn proxy_detail(message: &Option<String>) -> String {
    match message {
        Some(m) if !m.is_empty() => format!(": {m}"),
        _ => String::new(),
    }
}

fn http_hint(status: u16) -> &'static str {
    match status {
        404 => {
            "Check that LITELLM_BASE_URL / [litellm].api_base points at the proxy root (e.g. http://localhost:4000)."
        }
        400..=499 => "The proxy refused the request; see its message above.",
        _ => "The proxy or the provider behind it failed; check the LiteLLM proxy logs and retry.",
    }
}

/// Edit-distance based score; lower is nearer.
fn similarity_distance(query: &str, candidate: &str) -> usize {
    let tail = candidate.rsplit('/').next().unwrap_or(candidate);
    if candidate == query {
        return 0;
    }
    if tail == query {
        return 1;
    }
    let distance = levenshtein(query, candidate).min(levenshtein(query, tail));
    // Substring matches ("gpt-4" in "gpt-4o-mini") rank above mere edits.
    if candidate.contains(query) || (!tail.is_empty() && query.contains(tail)) {
        return 2 + distance;
    }
    1000 + distance
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = Vec::with_capacity(b.len() + 1);
        current.push(i + 1);
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let cut: String = text.chars().take(max).collect();
    format!("{cut}…")
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn litellm_error_json_is_parsed() {
        let body = r#"{"error":{"message":"budget exceeded","type":"budget_exceeded","param":null,"code":"400"}}"#;
        match classify_http_error(400, body) {
            LiteLlmError::Http {
                status,
                message,
                error_type,
                code,
            } => {
                assert_eq!(status, 400);
                assert_eq!(message, "budget exceeded");
                assert_eq!(error_type.as_deref(), Some("budget_exceeded"));
                assert_eq!(code.as_deref(), Some("400"));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn unknown_model_is_detected_in_litellm_message() {
        let body = r#"{"error":{"message":"400: {'error': '/chat/completions: Invalid model name passed in model=gpt-4.1. Call `/v1/models` to view available models for your key.'}","type":"None","param":"None","code":"400"}}"#;
        match classify_http_error(400, body) {
            LiteLlmError::UnknownModel { model, known } => {
                assert_eq!(model, "gpt-4.1");
                assert!(known.is_empty());
            }
            other => panic!("unexpected {other:?}"),
        }
        let slashed =
            "/responses: Invalid model name passed in model=vercel/maa/x. Call `/v1/models`";
        assert_eq!(unknown_model_in(slashed).as_deref(), Some("vercel/maa/x"));
    }

    #[test]
    fn status_classes() {
        assert!(matches!(
            classify_http_error(401, "{}"),
            LiteLlmError::Unauthorized { status: 401, .. }
        ));
        assert!(matches!(
            classify_http_error(403, "nope"),
            LiteLlmError::Unauthorized { status: 403, .. }
        ));
        assert!(matches!(
            classify_http_error(429, ""),
            LiteLlmError::RateLimited { .. }
        ));
        assert!(matches!(
            classify_http_error(504, ""),
            LiteLlmError::Timeout { .. }
        ));
        let e = classify_http_error(404, r#"{"detail":"Not Found"}"#);
        assert_eq!(e.status(), Some(404));
        assert!(e.to_string().contains("Not Found"), "{e}");
        assert!(e.to_string().contains("proxy root"), "{e}");
        assert!(classify_http_error(502, "bad gateway").is_retryable());
    }

    #[test]
    fn no_db_connection_is_a_key_problem() {
        // LiteLLM 1.106 without a database, given a key that is not the master key.
        let body = r#"{"error":{"message":"No connected db.","type":"no_db_connection","param":null,"code":"400"}}"#;
        let e = classify_http_error(400, body);
        assert!(
            matches!(e, LiteLlmError::Unauthorized { status: 400, .. }),
            "{e:?}"
        );
        assert!(e.to_string().contains("only its master key"), "{e}");
    }

    #[test]
    fn unauthorized_message_says_what_to_do_and_hides_keys() {
        let body = r#"{"error":{"message":"Authentication Error, Invalid proxy server token passed. Received API Key = sk-...cdef, Key Hash (Token) =abc","type":"auth_error","param":"None","code":"401"}}"#;
        let text = classify_http_error(401, body).to_string();
        assert!(text.contains("the proxy rejected the API key"), "{text}");
        assert!(text.contains("LITELLM_API_KEY"), "{text}");
        assert!(text.contains("[litellm].api_key"), "{text}");
        assert!(!text.contains("cdef"), "{text}");
    }

    #[test]
    fn ranking_puts_nearest_first() {
        let known: Vec<String> = [
            "claude-3-5-sonnet",
            "openai/gpt-4o",
            "gpt-4o-mini",
            "fake-model",
        ]
        .iter()
        .map(ToString::to_string)
        .collect();
        assert_eq!(
            rank_models("gpt-4o", &known),
            vec![
                "openai/gpt-4o",
                "gpt-4o-mini",
                "fake-model",
                "claude-3-5-sonnet"
            ]
        );
        let e = LiteLlmError::unknown_model("fake-modle", &known);
        let text = e.to_string();
        assert!(
            text.contains("Available models (nearest first): fake-model,"),
            "{text}"
        );
    }

    #[test]
    fn unknown_model_message_is_capped() {
        let known: Vec<String> = (0..15).map(|i| format!("m{i:02}")).collect();
        let text = LiteLlmError::unknown_model("zzz", &known).to_string();
        assert!(text.contains("and 5 more"), "{text}");
        let bare = classify_http_error(
            400,
            "Invalid model name passed in model=zzz. Call `/v1/models`",
        )
        .with_known_models(&known);
        assert!(bare.to_string().contains("m00"));
    }

    #[test]
    fn transport_messages_are_classified() {
        let base = "http://127.0.0.1:4000/v1";
        // What upstream's TransportError prints for reqwest failures.
        assert!(matches!(
            classify_transport_message(base, "timeout"),
            LiteLlmError::Timeout { .. }
        ));
        let refused = classify_transport_message(
            base,
            "network error: error sending request for url (http://127.0.0.1:4000/v1/responses)",
        );
        assert!(
            matches!(refused, LiteLlmError::Unreachable { .. }),
            "{refused:?}"
        );
        assert!(
            refused
                .to_string()
                .contains("Is the LiteLLM proxy running at http://127.0.0.1:4000/v1?"),
            "{refused}"
        );
        assert!(matches!(
            classify_transport_message(base, "dns error: failed to lookup address information"),
            LiteLlmError::Unreachable { .. }
        ));
        let tls = classify_transport_message(
            "https://h:4000/v1",
            "network error: invalid peer message: InvalidContentType",
        );
        match tls {
            LiteLlmError::HttpsToPlainHttp { suggestion, .. } => {
                assert_eq!(suggestion, "http://h:4000/v1");
            }
            other => panic!("unexpected {other:?}"),
        }
        match classify_transport_message(base, "request build error: bad header sk-secret1") {
            LiteLlmError::Request { detail, .. } => {
                assert_eq!(detail, "request build error: bad header sk-***");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn levenshtein_basics() {
        assert_eq!(levenshtein("kitten", "sitting"), 3);
        assert_eq!(levenshtein("", "abc"), 3);
        assert_eq!(levenshtein("same", "same"), 0);
    }

    #[test]
    fn not_configured_message_names_every_way_out() {
        let text = LiteLlmError::NotConfigured.to_string();
        for needle in [
            "LITELLM_BASE_URL",
            "LITELLM_API_KEY",
            "[litellm] api_base",
            "CODEX_HOME/config.toml",
            "codex-litellm",
        ] {
            assert!(text.contains(needle), "missing {needle}: {text}");
        }
    }
}
