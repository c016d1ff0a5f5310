//! Token usage in one shape (the fields of upstream's `TokenUsage`), from a
//! Responses `usage` object or, where a proxy route reports it so, a chat one.

use serde::Deserialize;
use serde::Serialize;
use serde_json::Value;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub input_tokens: u64,
    /// Part of `input_tokens` served from the provider's prompt cache.
    pub cached_input_tokens: u64,
    pub output_tokens: u64,
    /// Part of `output_tokens` spent on reasoning.
    pub reasoning_output_tokens: u64,
    pub total_tokens: u64,
}

/// Parses a Chat Completions `usage` object. Cached tokens come from
/// `prompt_tokens_details.cached_tokens` (OpenAI) or, failing that, the
/// top-level `cache_read_input_tokens` LiteLLM copies from Anthropic.
/// Returns `None` when `usage` is not an object (e.g. `null` in mid-stream
/// chunks).
pub fn parse_chat_usage(usage: &Value) -> Option<Usage> {
    let object = usage.as_object()?;
    let input_tokens = count(object.get("prompt_tokens"));
    let output_tokens = count(object.get("completion_tokens"));
    let cached = usage
        .pointer("/prompt_tokens_details/cached_tokens")
        .and_then(as_count)
        .filter(|n| *n > 0)
        .or_else(|| object.get("cache_read_input_tokens").and_then(as_count))
        .unwrap_or(0);
    Some(Usage {
        input_tokens,
        cached_input_tokens: cached,
        output_tokens,
        reasoning_output_tokens: count(
            usage.pointer("/completion_tokens_details/reasoning_tokens"),
        ),
        total_tokens: total(object.get("total_tokens"), input_tokens, output_tokens),
    })
}

/// Parses a Responses API `usage` object.
pub fn parse_responses_usage(usage: &Value) -> Option<Usage> {
    let object = usage.as_object()?;
    let input_tokens = count(object.get("input_tokens"));
    let output_tokens = count(object.get("output_tokens"));
    Some(Usage {
        input_tokens,
        cached_input_tokens: count(usage.pointer("/input_tokens_details/cached_tokens")),
        output_tokens,
        reasoning_output_tokens: count(usage.pointer("/output_tokens_details/reasoning_tokens")),
        total_tokens: total(object.get("total_tokens"), input_tokens, output_tokens),
    })
}

/// Parses either shape, telling them apart by their field names.
pub fn parse_usage(usage: &Value) -> Option<Usage> {
    let object = usage.as_object()?;
    if object.contains_key("prompt_tokens") || object.contains_key("completion_tokens") {
        parse_chat_usage(usage)
    } else {
        parse_responses_usage(usage)
    }
}

fn as_count(value: &Value) -> Option<u64> {
    value
        .as_u64()
        .or_else(|| value.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
}

fn count(value: Option<&Value>) -> u64 {
    value.and_then(as_count).unwrap_or(0)
}

fn total(reported: Option<&Value>, input: u64, output: u64) -> u64 {
    reported
        .and_then(as_count)
        .unwrap_or_else(|| input.saturating_add(output))
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    #[test]
    fn chat_usage_openai_shape() {
        let usage = json!({
            "prompt_tokens": 100,
            "completion_tokens": 50,
            "total_tokens": 150,
            "prompt_tokens_details": {"cached_tokens": 40, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 20}
        });
        assert_eq!(
            parse_chat_usage(&usage),
            Some(Usage {
                input_tokens: 100,
                cached_input_tokens: 40,
                output_tokens: 50,
                reasoning_output_tokens: 20,
                total_tokens: 150,
            })
        );
        assert_eq!(parse_usage(&usage), parse_chat_usage(&usage));
    }

    #[test]
    fn chat_usage_anthropic_cache_and_nulls() {
        let usage = json!({
            "prompt_tokens": 10,
            "completion_tokens": 5,
            "prompt_tokens_details": null,
            "completion_tokens_details": null,
            "cache_read_input_tokens": 7,
            "cache_creation_input_tokens": 3
        });
        assert_eq!(
            parse_chat_usage(&usage),
            Some(Usage {
                input_tokens: 10,
                cached_input_tokens: 7,
                output_tokens: 5,
                reasoning_output_tokens: 0,
                total_tokens: 15,
            })
        );
        assert_eq!(parse_chat_usage(&Value::Null), None);
    }

    #[test]
    fn responses_usage_shape() {
        let usage = json!({
            "input_tokens": 300,
            "input_tokens_details": {"cached_tokens": 128},
            "output_tokens": 90,
            "output_tokens_details": {"reasoning_tokens": 64},
            "total_tokens": 390
        });
        let expected = Usage {
            input_tokens: 300,
            cached_input_tokens: 128,
            output_tokens: 90,
            reasoning_output_tokens: 64,
            total_tokens: 390,
        };
        assert_eq!(parse_responses_usage(&usage), Some(expected));
        assert_eq!(parse_usage(&usage), Some(expected));
        assert_eq!(
            parse_responses_usage(&json!({"input_tokens": 1, "output_tokens": 2})),
            Some(Usage {
                input_tokens: 1,
                output_tokens: 2,
                total_tokens: 3,
                ..Usage::default()
            })
        );
    }
}
