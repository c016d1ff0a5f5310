//! Non-streaming fallback.
//!
//! Codex always asks for a stream, but some LiteLLM routes (certain
//! providers, guardrails, cache hits) answer a streaming request with one
//! plain JSON body. Rather than teaching the stream parsers a second format,
//! the patches turn that body into the SSE text the parser would have
//! received, following OpenAI's documented streaming shapes.

use serde_json::Map;
use serde_json::Value;
use serde_json::json;

use crate::config::WireApi;
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

/// Converts a complete JSON response body into the equivalent SSE text for
/// `api`. A body that already is SSE is returned unchanged; an error object
/// (`{"error": …}`) becomes the matching [`LiteLlmError`].
pub fn json_to_sse(api: WireApi, body: &[u8]) -> Result<String, LiteLlmError> {
    let text = String::from_utf8_lossy(body);
    let trimmed = text.trim_start();
    if trimmed.starts_with("data:") || trimmed.starts_with("event:") || trimmed.starts_with(':') {
        return Ok(text.into_owned());
    }
    let value: Value = serde_json::from_str(trimmed)
        .map_err(|err| unexpected(api, format!("the body is not JSON ({err})")))?;
    let object_kind = value.get("object").and_then(Value::as_str);
    let is_success_object = matches!(object_kind, Some("response" | "chat.completion"));
    if !is_success_object && value.get("error").is_some_and(|e| !e.is_null()) {
        return Err(classify_http_error(200, trimmed));
    }
    match api {
        WireApi::Chat => chat_completion_to_sse(&value),
        WireApi::Responses => response_to_sse(&value),
    }
}

/// `chat.completion` → `chat.completion.chunk`s: per choice a role chunk,
/// then reasoning, content, refusal and one chunk per tool call, then a
/// chunk carrying `finish_reason`; after all choices the usage chunk
/// (`choices: []`, as with `stream_options.include_usage`) and `[DONE]`.
fn chat_completion_to_sse(completion: &Value) -> Result<String, LiteLlmError> {
    let choices = completion
        .get("choices")
        .and_then(Value::as_array)
        .ok_or_else(|| unexpected(WireApi::Chat, "expected a chat.completion with `choices`"))?;

    let mut header = Map::new();
    header.insert(
        "id".into(),
        completion.get("id").cloned().unwrap_or(json!("")),
    );
    header.insert("object".into(), json!("chat.completion.chunk"));
    header.insert(
        "created".into(),
        completion.get("created").cloned().unwrap_or(json!(0)),
    );
    header.insert(
        "model".into(),
        completion.get("model").cloned().unwrap_or(json!("")),
    );
    for optional in ["system_fingerprint", "service_tier"] {
        if let Some(v) = completion.get(optional).filter(|v| !v.is_null()) {
            header.insert(optional.into(), v.clone());
        }
    }
    let chunk = |choices: Value, usage: Option<&Value>| {
        let mut chunk = header.clone();
        chunk.insert("choices".into(), choices);
        if let Some(usage) = usage {
            chunk.insert("usage".into(), usage.clone());
        }
        Value::Object(chunk)
    };
    let delta_chunk = |index: &Value, delta: Value| {
        chunk(
            json!([{"index": index, "delta": delta, "logprobs": null, "finish_reason": null}]),
            None,
        )
    };

    let mut out = String::new();
    for (position, choice) in choices.iter().enumerate() {
        let index = choice.get("index").cloned().unwrap_or(json!(position));
        let message = choice.get("message").unwrap_or(&Value::Null);
        let role = message.get("role").cloned().unwrap_or(json!("assistant"));
        push_data(&mut out, &delta_chunk(&index, json!({"role": role})));

        // LiteLLM's reasoning field is `reasoning_content`; some backends
        // use `reasoning`. Mirror whichever the message has.
        for key in ["reasoning_content", "reasoning"] {
            if let Some(reasoning) = message.get(key).filter(|v| is_present(v)) {
                let mut delta = Map::new();
                delta.insert(key.into(), reasoning.clone());
                push_data(&mut out, &delta_chunk(&index, Value::Object(delta)));
            }
        }
        if let Some(content) = message_text(message.get("content")) {
            push_data(&mut out, &delta_chunk(&index, json!({"content": content})));
        }
        if let Some(refusal) = message.get("refusal").filter(|v| is_present(v)) {
            push_data(&mut out, &delta_chunk(&index, json!({"refusal": refusal})));
        }
        let tool_calls = message
            .get("tool_calls")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        for (tool_index, call) in tool_calls.iter().enumerate() {
            let mut delta_call = Map::new();
            delta_call.insert("index".into(), json!(tool_index));
            for key in ["id", "type", "function"] {
                if let Some(v) = call.get(key) {
                    delta_call.insert(key.into(), v.clone());
                }
            }
            push_data(
                &mut out,
                &delta_chunk(&index, json!({"tool_calls": [Value::Object(delta_call)]})),
            );
        }
        // A stream always ends a choice with a finish_reason, and the
        // parser relies on it; infer one when the body has none.
        let finish_reason = match choice.get("finish_reason").and_then(Value::as_str) {
            Some(reason) => reason,
            None if !tool_calls.is_empty() => "tool_calls",
            None => "stop",
        };
        push_data(
            &mut out,
            &chunk(
                json!([{"index": index, "delta": {}, "logprobs": null, "finish_reason": finish_reason}]),
                None,
            ),
        );
    }
    if let Some(usage) = completion.get("usage").filter(|u| u.is_object()) {
        push_data(&mut out, &chunk(json!([]), Some(usage)));
    }
    out.push_str("data: [DONE]\n\n");
    Ok(out)
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
        .ok_or_else(|| {
            unexpected(
                WireApi::Responses,
                "expected a `response` object with `output`",
            )
        })?;
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

fn is_present(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        _ => true,
    }
}

/// Assistant content is normally a string; some providers return a list of
/// `{type: "text", text}` parts, which streams as their concatenation.
fn message_text(content: Option<&Value>) -> Option<String> {
    match content? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Array(parts) => {
            let text: String = parts
                .iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect();
            (!text.is_empty()).then_some(text)
        }
        _ => None,
    }
}

fn unexpected(api: WireApi, detail: impl Into<String>) -> LiteLlmError {
    let endpoint = match api {
        WireApi::Chat => "/v1/chat/completions",
        WireApi::Responses => "/v1/responses",
    };
    LiteLlmError::UnexpectedResponse {
        url: endpoint.to_string(),
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
        let sse = "data: {\"x\":1}\n\ndata: [DONE]\n\n";
        assert_eq!(json_to_sse(WireApi::Chat, sse.as_bytes()).unwrap(), sse);
    }

    #[test]
    fn error_bodies_become_errors() {
        let body = br#"{"error":{"message":"Invalid model name passed in model=nope. Call `/v1/models`","type":"invalid_request_error","code":"400"}}"#;
        assert!(matches!(
            json_to_sse(WireApi::Chat, body),
            Err(LiteLlmError::UnknownModel { .. })
        ));
        assert!(json_to_sse(WireApi::Responses, b"not json").is_err());
        assert!(json_to_sse(WireApi::Chat, b"{\"foo\":1}").is_err());
        assert!(json_to_sse(WireApi::Responses, b"{\"foo\":1}").is_err());
    }

    #[test]
    fn chat_exact_shape() {
        let body = json!({
            "id": "chatcmpl-1", "object": "chat.completion", "created": 7, "model": "fake-model",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}
        });
        let sse = json_to_sse(WireApi::Chat, body.to_string().as_bytes()).unwrap();
        let events: Vec<&str> = sse.split("\n\n").filter(|e| !e.is_empty()).collect();
        assert_eq!(events.last(), Some(&"data: [DONE]"));
        // Compare as JSON: key order depends on serde_json's preserve_order
        // feature, which upstream's workspace turns on.
        let chunks: Vec<Value> = events[..events.len() - 1]
            .iter()
            .map(|e| serde_json::from_str(e.strip_prefix("data: ").unwrap()).unwrap())
            .collect();
        let chunk = |choices: Value| {
            json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 7,
                   "model": "fake-model", "choices": choices})
        };
        let mut usage_chunk = chunk(json!([]));
        usage_chunk["usage"] =
            json!({"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4});
        assert_eq!(
            chunks,
            vec![
                chunk(
                    json!([{"index": 0, "delta": {"role": "assistant"}, "logprobs": null, "finish_reason": null}])
                ),
                chunk(
                    json!([{"index": 0, "delta": {"content": "hi"}, "logprobs": null, "finish_reason": null}])
                ),
                chunk(
                    json!([{"index": 0, "delta": {}, "logprobs": null, "finish_reason": "stop"}])
                ),
                usage_chunk,
            ]
        );
    }
}
