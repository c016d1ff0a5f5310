//! A non-streaming answer where a stream was asked for.
//!
//! Codex always asks for a stream, but some LiteLLM routes (certain
//! providers, guardrails, cache hits) answer a streaming request with one
//! plain JSON body. Rather than teaching the stream parsers a second format,
//! [`crate::exchange`] turns that body into the SSE text the parser would
//! have received, following OpenAI's documented Responses streaming shapes
//! (the only wire API upstream still speaks).

use serde_json::Map;
use serde_json::Value;
use serde_json::json;

use crate::errors::LiteLlmError;
use crate::errors::classify_http_error;

/// Whether a `Content-Type` header value announces SSE. A missing header is
/// not an event stream; [`json_to_sse`] passes SSE text through unchanged,
/// so callers may convert whenever this returns false.
pub fn is_event_stream(content_type: Option<&str>) -> bool {
    content_type
        .and_then(|ct| ct.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("text/event-stream"))
}

/// Converts a complete Responses JSON body into the equivalent SSE text. A
/// body that already is SSE is returned unchanged; an error object
/// (`{"error": …}`) becomes the matching [`LiteLlmError`].
pub fn json_to_sse(body: &[u8]) -> Result<String, LiteLlmError> {
    let text = String::from_utf8_lossy(body);
    let trimmed = text.trim_start();
    if trimmed.starts_with("data:") || trimmed.starts_with("event:") || trimmed.starts_with(':') {
        return Ok(text.into_owned());
    }
    let value: Value = serde_json::from_str(trimmed)
        .map_err(|err| unexpected(format!("the body is not JSON ({err})")))?;
    // A `response` object has an `error` field of its own (null unless it
    // failed); only a bare error body is an error answer.
    let is_response = value.get("object").and_then(Value::as_str) == Some("response");
    if !is_response && value.get("error").is_some_and(|e| !e.is_null()) {
        return Err(classify_http_error(200, trimmed));
    }
    response_to_sse(&value)
}

/// `response` → `response.created` (status in_progress, no output), one
/// `response.output_item.done` per output item, and the terminal event for
/// the response's status (`response.completed`, `response.failed` or
/// `response.incomplete`) carrying the full response including usage.
fn response_to_sse(response: &Value) -> Result<String, LiteLlmError> {
    let object = response
        .as_object()
        .filter(|o| {
            o.get("output").is_some_and(Value::is_array)
                || o.get("object") == Some(&json!("response"))
        })
        .ok_or_else(|| unexpected("expected a `response` object with `output`"))?;
    let output = object
        .get("output")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();

    let mut sequence = 0u64;
    let mut out = String::new();
    let mut emit = |out: &mut String, kind: &str, mut event: Map<String, Value>| {
        event.insert("type".into(), json!(kind));
        event.insert("sequence_number".into(), json!(sequence));
        sequence += 1;
        out.push_str("event: ");
        out.push_str(kind);
        out.push('\n');
        push_data(out, &Value::Object(event));
    };

    let mut created = object.clone();
    created.insert("status".into(), json!("in_progress"));
    created.insert("output".into(), json!([]));
    created.insert("usage".into(), Value::Null);
    let mut event = Map::new();
    event.insert("response".into(), Value::Object(created));
    emit(&mut out, "response.created", event);

    for (output_index, item) in output.iter().enumerate() {
        let mut event = Map::new();
        event.insert("output_index".into(), json!(output_index));
        event.insert("item".into(), item.clone());
        emit(&mut out, "response.output_item.done", event);
    }

    let mut finished = object.clone();
    let status = object
        .get("status")
        .and_then(Value::as_str)
        .unwrap_or("completed");
    let terminal = match status {
        "failed" => "response.failed",
        "incomplete" => "response.incomplete",
        _ => {
            finished.insert("status".into(), json!("completed"));
            "response.completed"
        }
    };
    let mut event = Map::new();
    event.insert("response".into(), Value::Object(finished));
    emit(&mut out, terminal, event);
    Ok(out)
}

fn push_data(out: &mut String, value: &Value) {
    out.push_str("data: ");
    out.push_str(&value.to_string());
    out.push_str("\n\n");
}

fn unexpected(detail: impl Into<String>) -> LiteLlmError {
    LiteLlmError::UnexpectedResponse {
        url: "/v1/responses".to_string(),
        detail: detail.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn event_stream_detection() {
        assert!(is_event_stream(Some("text/event-stream")));
        assert!(is_event_stream(Some("Text/Event-Stream; charset=utf-8")));
        assert!(!is_event_stream(Some("application/json")));
        assert!(!is_event_stream(Some("application/json; charset=utf-8")));
        assert!(!is_event_stream(None));
    }

    #[test]
    fn sse_input_passes_through() {
        let sse = "event: response.created\ndata: {\"x\":1}\n\n";
        assert_eq!(json_to_sse(sse.as_bytes()).unwrap(), sse);
    }

    #[test]
    fn error_bodies_become_errors() {
        let body = br#"{"error":{"message":"Invalid model name passed in model=nope. Call `/v1/models`","type":"invalid_request_error","code":"400"}}"#;
        assert!(matches!(
            json_to_sse(body),
            Err(LiteLlmError::UnknownModel { .. })
        ));
        assert!(json_to_sse(b"not json").is_err());
        assert!(json_to_sse(b"{\"foo\":1}").is_err());
        // A Chat completion is not a Responses body.
        assert!(json_to_sse(b"{\"object\":\"chat.completion\",\"choices\":[]}").is_err());
    }
}
