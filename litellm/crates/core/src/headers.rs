//! LiteLLM's `x-litellm-*` and `x-ratelimit-*` response headers.
//!
//! The proxy reports which deployment answered, its own version, what the
//! call cost, how much latency it added and, when the key has limits (or the
//! provider reported some), the rate limits left. Input is any iterator of `(name, value)` string
//! pairs so the crate stays independent of a particular HTTP type; from an
//! `http::HeaderMap` use
//! `map.iter().filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?)))`.

use serde::Deserialize;
use serde::Serialize;

/// Metadata LiteLLM attaches to a response. Every field is optional: older
/// proxies send fewer headers, and non-LiteLLM servers send none.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProxyMeta {
    /// `x-litellm-call-id`: the id to search for in the proxy's logs.
    pub call_id: Option<String>,
    /// `x-litellm-model-id`: the deployment that served the call.
    pub model_id: Option<String>,
    /// `x-litellm-model-api-base`: the upstream provider URL.
    pub api_base: Option<String>,
    /// `x-litellm-version`.
    pub version: Option<String>,
    /// `x-litellm-response-cost`, in USD.
    pub response_cost: Option<f64>,
    /// `x-litellm-cache-key`: present when the proxy cache was involved.
    pub cache_key: Option<String>,
    /// `x-litellm-response-duration-ms`.
    pub response_duration_ms: Option<f64>,
    /// `x-litellm-overhead-duration-ms`: latency added by the proxy itself.
    pub overhead_duration_ms: Option<f64>,
    /// `x-ratelimit-*`: the key's limits as LiteLLM enforces them, or the
    /// provider's, which LiteLLM passes on in OpenAI's format.
    #[serde(default, skip_serializing_if = "RateLimits::is_empty")]
    pub rate_limits: RateLimits,
}

/// OpenAI-format rate-limit headers, as LiteLLM sends them
/// (`x-ratelimit-{limit,remaining,reset}-{requests,tokens}`). Resets are kept
/// as sent: providers write durations (`12ms`, `6m0s`), LiteLLM's own
/// limiter writes seconds or a Unix time.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimits {
    pub limit_requests: Option<u64>,
    pub remaining_requests: Option<u64>,
    pub reset_requests: Option<String>,
    pub limit_tokens: Option<u64>,
    pub remaining_tokens: Option<u64>,
    pub reset_tokens: Option<String>,
}

impl RateLimits {
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }
}

/// A count header: `4999`, or `4999.0` from proxies that send floats.
/// Negative, fractional garbage and "None" are ignored.
fn count(value: &str) -> Option<u64> {
    value.parse::<u64>().ok().or_else(|| {
        value
            .parse::<f64>()
            .ok()
            .filter(|n| n.is_finite() && *n >= 0.0 && n.fract() == 0.0)
            .map(|n| n as u64)
    })
}

impl ProxyMeta {
    /// True when no LiteLLM header was present.
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }
}

/// Collects the `x-litellm-*` headers. Names match case-insensitively;
/// blank values and numbers that do not parse are ignored rather than
/// failing a response that otherwise worked.
pub fn parse_proxy_headers<'a, I>(headers: I) -> ProxyMeta
where
    I: IntoIterator<Item = (&'a str, &'a str)>,
{
    let mut meta = ProxyMeta::default();
    for (name, value) in headers {
        let value = value.trim();
        if value.is_empty() {
            continue;
        }
        let text = || Some(value.to_string());
        // LiteLLM writes floats ("0.00042", "1234.5"); some versions send
        // "None" for unknown costs.
        let number = || value.parse::<f64>().ok().filter(|n| n.is_finite());
        match name.to_ascii_lowercase().as_str() {
            "x-litellm-call-id" => meta.call_id = text(),
            "x-litellm-model-id" => meta.model_id = text(),
            "x-litellm-model-api-base" => meta.api_base = text(),
            "x-litellm-version" => meta.version = text(),
            "x-litellm-response-cost" => meta.response_cost = number(),
            "x-litellm-cache-key" => meta.cache_key = text(),
            "x-litellm-response-duration-ms" => meta.response_duration_ms = number(),
            "x-litellm-overhead-duration-ms" => meta.overhead_duration_ms = number(),
            "x-ratelimit-limit-requests" => meta.rate_limits.limit_requests = count(value),
            "x-ratelimit-remaining-requests" => meta.rate_limits.remaining_requests = count(value),
            "x-ratelimit-reset-requests" if value != "None" => {
                meta.rate_limits.reset_requests = text()
            }
            "x-ratelimit-limit-tokens" => meta.rate_limits.limit_tokens = count(value),
            "x-ratelimit-remaining-tokens" => meta.rate_limits.remaining_tokens = count(value),
            "x-ratelimit-reset-tokens" if value != "None" => meta.rate_limits.reset_tokens = text(),
            _ => {}
        }
    }
    meta
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn parses_all_known_headers() {
        let headers = [
            ("content-type", "text/event-stream"),
            ("X-LiteLLM-Call-Id", "c0ffee"),
            ("x-litellm-model-id", "deploy-1"),
            ("x-litellm-model-api-base", "https://api.openai.com"),
            ("x-litellm-version", "1.77.5"),
            ("x-litellm-response-cost", "0.00042"),
            ("x-litellm-cache-key", "abc123"),
            ("x-litellm-response-duration-ms", "812.5"),
            ("x-litellm-overhead-duration-ms", "3"),
        ];
        assert_eq!(
            parse_proxy_headers(headers),
            ProxyMeta {
                call_id: Some("c0ffee".into()),
                model_id: Some("deploy-1".into()),
                api_base: Some("https://api.openai.com".into()),
                version: Some("1.77.5".into()),
                response_cost: Some(0.00042),
                cache_key: Some("abc123".into()),
                response_duration_ms: Some(812.5),
                overhead_duration_ms: Some(3.0),
                rate_limits: RateLimits::default(),
            }
        );
    }

    #[test]
    fn parses_rate_limit_headers() {
        let meta = parse_proxy_headers([
            ("X-RateLimit-Limit-Requests", "5000"),
            ("x-ratelimit-remaining-requests", "4999"),
            ("x-ratelimit-reset-requests", "12ms"),
            ("x-ratelimit-limit-tokens", "160000.0"),
            ("x-ratelimit-remaining-tokens", "159976"),
            ("x-ratelimit-reset-tokens", "1736000000"),
            // The provider's copy under LiteLLM's prefix is not the key's limit.
            ("llm_provider-x-ratelimit-remaining-requests", "1"),
        ]);
        assert_eq!(
            meta.rate_limits,
            RateLimits {
                limit_requests: Some(5000),
                remaining_requests: Some(4999),
                reset_requests: Some("12ms".into()),
                limit_tokens: Some(160_000),
                remaining_tokens: Some(159_976),
                reset_tokens: Some("1736000000".into()),
            }
        );
        let none = parse_proxy_headers([
            ("x-ratelimit-remaining-requests", "None"),
            ("x-ratelimit-remaining-tokens", "-3"),
            ("x-ratelimit-limit-tokens", "1.5"),
            ("x-ratelimit-reset-tokens", "None"),
        ]);
        assert!(none.rate_limits.is_empty(), "{none:?}");
        assert!(none.is_empty());
        // Serialised metadata without limits has no rate_limits field, and
        // old serialisations without it still read.
        let plain = serde_json::to_value(ProxyMeta::default()).unwrap();
        assert!(plain.get("rate_limits").is_none(), "{plain}");
        let back: ProxyMeta = serde_json::from_value(plain).unwrap();
        assert_eq!(back, ProxyMeta::default());
    }

    #[test]
    fn tolerates_missing_blank_and_garbage() {
        let meta = parse_proxy_headers([
            ("x-litellm-response-cost", "None"),
            ("x-litellm-call-id", "  "),
            ("x-litellm-response-duration-ms", "NaN"),
            ("x-litellm-version", "1.0"),
        ]);
        assert_eq!(meta.response_cost, None);
        assert_eq!(meta.call_id, None);
        assert_eq!(meta.response_duration_ms, None);
        assert_eq!(meta.version.as_deref(), Some("1.0"));
        assert!(parse_proxy_headers([("server", "uvicorn")]).is_empty());
    }
}
