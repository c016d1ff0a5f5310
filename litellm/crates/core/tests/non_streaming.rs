//! json_to_sse round trips: parse the produced SSE the way a stream consumer
//! would and check it reassembles into the original response.

// Test helpers outside #[test] fns panic on purpose, like upstream suites.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use codex_litellm_core::internals::non_streaming::json_to_sse;
use codex_litellm_core::internals::usage::Usage;
use codex_litellm_core::internals::usage::parse_responses_usage;
use pretty_assertions::assert_eq;
use serde_json::Value;
use serde_json::json;

/// (event name, data) pairs of an SSE text.
fn parse_sse(text: &str) -> Vec<(Option<String>, String)> {
    assert!(text.ends_with("\n\n"), "SSE must end with a blank line");
    text.split("\n\n")
        .filter(|block| !block.is_empty())
        .map(|block| {
            let mut event = None;
            let mut data = Vec::new();
            for line in block.lines() {
                if let Some(name) = line.strip_prefix("event: ") {
                    event = Some(name.to_string());
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data.push(d);
                } else {
                    panic!("unexpected SSE line {line:?}");
                }
            }
            (event, data.join("\n"))
        })
        .collect()
}

#[test]
fn responses_round_trip() {
    let output = json!([
        {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "Thinking"}],
         "encrypted_content": "gAAA"},
        {"type": "message", "id": "msg_1", "status": "completed", "role": "assistant",
         "content": [{"type": "output_text", "text": "Done.", "annotations": []}]},
        {"type": "function_call", "id": "fc_1", "call_id": "call_9", "name": "shell",
         "arguments": "{\"command\":[\"pwd\"]}", "status": "completed"}
    ]);
    let response = json!({
        "id": "resp_1", "object": "response", "created_at": 1730000000, "status": "completed",
        "model": "fake-model", "output": output, "parallel_tool_calls": true,
        "usage": {"input_tokens": 100, "input_tokens_details": {"cached_tokens": 50},
                  "output_tokens": 20, "output_tokens_details": {"reasoning_tokens": 8},
                  "total_tokens": 120}
    });
    let sse = json_to_sse(response.to_string().as_bytes()).unwrap();
    let events = parse_sse(&sse);

    let mut items = Vec::new();
    let mut completed = None;
    for (sequence, (event, data)) in events.iter().enumerate() {
        let value: Value = serde_json::from_str(data).unwrap();
        let kind = value["type"].as_str().unwrap();
        assert_eq!(event.as_deref(), Some(kind), "event name matches type");
        assert_eq!(value["sequence_number"], json!(sequence));
        match kind {
            "response.created" => {
                assert_eq!(sequence, 0);
                assert_eq!(value["response"]["id"], "resp_1");
                assert_eq!(value["response"]["status"], "in_progress");
                assert_eq!(value["response"]["output"], json!([]));
            }
            "response.output_item.done" => {
                assert_eq!(value["output_index"], json!(items.len()));
                items.push(value["item"].clone());
            }
            "response.completed" => {
                assert_eq!(sequence, events.len() - 1);
                completed = Some(value["response"].clone());
            }
            other => panic!("unexpected event {other}"),
        }
    }
    assert_eq!(Value::Array(items), output);
    let completed = completed.expect("response.completed");
    assert_eq!(completed, response);
    assert_eq!(
        parse_responses_usage(&completed["usage"]),
        Some(Usage {
            input_tokens: 100,
            cached_input_tokens: 50,
            output_tokens: 20,
            reasoning_output_tokens: 8,
            total_tokens: 120,
        })
    );
}

#[test]
fn responses_failed_and_incomplete_keep_their_terminal_event() {
    for (status, terminal) in [
        ("failed", "response.failed"),
        ("incomplete", "response.incomplete"),
    ] {
        let response = json!({
            "id": "resp_2", "object": "response", "status": status, "output": [],
            "error": if status == "failed" { json!({"code": "server_error", "message": "boom"}) } else { Value::Null },
            "incomplete_details": if status == "incomplete" { json!({"reason": "max_output_tokens"}) } else { Value::Null }
        });
        let sse = json_to_sse(response.to_string().as_bytes()).unwrap();
        let events = parse_sse(&sse);
        let (name, data) = events.last().unwrap();
        assert_eq!(name.as_deref(), Some(terminal));
        let value: Value = serde_json::from_str(data).unwrap();
        assert_eq!(value["response"], response);
    }
}
