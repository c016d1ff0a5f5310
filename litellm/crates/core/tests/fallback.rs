//! json_to_sse round trips: parse the produced SSE the way a stream consumer
//! would and check it reassembles into the original response.

// Test helpers outside #[test] fns panic on purpose, like upstream suites.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use codex_litellm_core::WireApi;
use codex_litellm_core::fallback::json_to_sse;
use codex_litellm_core::usage::Usage;
use codex_litellm_core::usage::parse_chat_usage;
use codex_litellm_core::usage::parse_responses_usage;
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

#[derive(Debug, Default, PartialEq)]
struct ChatAssembly {
    role: Option<String>,
    content: String,
    reasoning: String,
    tool_calls: Vec<Value>,
    finish_reason: Option<String>,
    usage: Option<Usage>,
    done: bool,
}

/// Rebuilds choice 0 from the chunks, like a streaming client does.
fn assemble_chat(sse: &str) -> ChatAssembly {
    let mut out = ChatAssembly::default();
    for (event, data) in parse_sse(sse) {
        assert_eq!(event, None, "chat streams have no event names");
        assert!(!out.done, "data after [DONE]");
        if data == "[DONE]" {
            out.done = true;
            continue;
        }
        let chunk: Value = serde_json::from_str(&data).unwrap();
        assert_eq!(chunk["object"], "chat.completion.chunk");
        assert_eq!(chunk["id"], "chatcmpl-abc");
        if let Some(usage) = chunk.get("usage").filter(|u| !u.is_null()) {
            assert_eq!(chunk["choices"], json!([]), "usage chunk has no choices");
            out.usage = parse_chat_usage(usage);
        }
        for choice in chunk["choices"].as_array().unwrap() {
            let delta = &choice["delta"];
            if let Some(role) = delta.get("role").and_then(Value::as_str) {
                out.role = Some(role.to_string());
            }
            if let Some(c) = delta.get("content").and_then(Value::as_str) {
                out.content.push_str(c);
            }
            if let Some(r) = delta.get("reasoning_content").and_then(Value::as_str) {
                out.reasoning.push_str(r);
            }
            for call in delta
                .get("tool_calls")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let index = call["index"].as_u64().unwrap() as usize;
                assert_eq!(index, out.tool_calls.len(), "tool calls arrive in order");
                let mut call = call.clone();
                call.as_object_mut().unwrap().remove("index");
                out.tool_calls.push(call);
            }
            if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
                out.finish_reason = Some(reason.to_string());
            }
        }
    }
    out
}

#[test]
fn chat_text_round_trip() {
    let completion = json!({
        "id": "chatcmpl-abc", "object": "chat.completion", "created": 1730000000,
        "model": "fake-model", "system_fingerprint": "fp_1",
        "choices": [{"index": 0, "finish_reason": "stop", "logprobs": null,
            "message": {"role": "assistant", "content": "Hello there!",
                        "reasoning_content": "User greets; greet back.", "tool_calls": null}}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 9, "total_tokens": 21,
                  "prompt_tokens_details": {"cached_tokens": 4},
                  "completion_tokens_details": {"reasoning_tokens": 5}}
    });
    let sse = json_to_sse(WireApi::Chat, completion.to_string().as_bytes()).unwrap();
    assert_eq!(
        assemble_chat(&sse),
        ChatAssembly {
            role: Some("assistant".into()),
            content: "Hello there!".into(),
            reasoning: "User greets; greet back.".into(),
            tool_calls: vec![],
            finish_reason: Some("stop".into()),
            usage: Some(Usage {
                input_tokens: 12,
                cached_input_tokens: 4,
                output_tokens: 9,
                reasoning_output_tokens: 5,
                total_tokens: 21,
            }),
            done: true,
        }
    );
    // Every chunk carries the completion's metadata.
    for (_, data) in parse_sse(&sse).into_iter().filter(|(_, d)| d != "[DONE]") {
        let chunk: Value = serde_json::from_str(&data).unwrap();
        assert_eq!(chunk["model"], "fake-model");
        assert_eq!(chunk["created"], 1730000000);
        assert_eq!(chunk["system_fingerprint"], "fp_1");
    }
}

#[test]
fn chat_tool_calls_round_trip() {
    let calls = json!([
        {"id": "call_1", "type": "function",
         "function": {"name": "shell", "arguments": "{\"command\":[\"ls\"]}"}},
        {"id": "call_2", "type": "function",
         "function": {"name": "apply_patch", "arguments": "{}"}}
    ]);
    let completion = json!({
        "id": "chatcmpl-abc", "object": "chat.completion", "created": 1, "model": "fake-tools",
        "choices": [{"index": 0, "finish_reason": "tool_calls",
            "message": {"role": "assistant", "content": null, "tool_calls": calls}}]
    });
    let sse = json_to_sse(WireApi::Chat, completion.to_string().as_bytes()).unwrap();
    let assembled = assemble_chat(&sse);
    assert_eq!(assembled.tool_calls, calls.as_array().unwrap().clone());
    assert_eq!(assembled.content, "");
    assert_eq!(assembled.finish_reason.as_deref(), Some("tool_calls"));
    assert_eq!(assembled.usage, None, "no usage in, no usage chunk out");
    assert!(assembled.done);

    // Missing finish_reason is inferred so consumers still finish the turn.
    let mut no_reason = completion;
    no_reason["choices"][0]["finish_reason"] = Value::Null;
    let sse = json_to_sse(WireApi::Chat, no_reason.to_string().as_bytes()).unwrap();
    assert_eq!(
        assemble_chat(&sse).finish_reason.as_deref(),
        Some("tool_calls")
    );
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
    let sse = json_to_sse(WireApi::Responses, response.to_string().as_bytes()).unwrap();
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
        let sse = json_to_sse(WireApi::Responses, response.to_string().as_bytes()).unwrap();
        let events = parse_sse(&sse);
        let (name, data) = events.last().unwrap();
        assert_eq!(name.as_deref(), Some(terminal));
        let value: Value = serde_json::from_str(data).unwrap();
        assert_eq!(value["response"], response);
    }
}
