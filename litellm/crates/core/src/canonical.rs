//! The exact-match key of a model request (cache tier 0).
//!
//! Two requests that would make the model produce the same answer should
//! share a key; any difference that can change the answer must change it.
//! The key is the hex SHA-256 of a canonical form of the request body:
//!
//! - fields that only steer transport or bookkeeping are removed (`stream`,
//!   `stream_options`, `prompt_cache_key`, `store`, `metadata`, `user`,
//!   LiteLLM's `cache` control object, `include`), as are the ids of
//!   Responses input items (fresh per turn, meaningless to the model) and
//!   Anthropic-style `cache_control` markers anywhere in the body (they only
//!   ask the provider to cache, they do not change the prompt);
//! - text the model reads has its whitespace normalised (trimmed, runs of
//!   whitespace collapsed to one space): Chat `messages[].content` strings
//!   and `text` parts, Responses `instructions`, `input` strings and the
//!   `input_text` / `output_text` parts of input items;
//! - a content array holding a single text part becomes the plain string it
//!   is equivalent to, so adding a `cache_control` marker (which forces the
//!   array form) does not change the key;
//! - whole-valued floats become integers (`temperature: 1.0` ≡ `1`);
//! - object keys are sorted.
//!
//! Everything else, including `parallel_tool_calls`, tools, tool choice and
//! sampling parameters, is kept: it is part of what the model is asked.
//!
//! Upstream enables serde_json's `preserve_order`, so a `serde_json::Map`
//! keeps insertion order there and is sorted without it. The key therefore
//! never relies on the map type: [`request_key`] serialises with an explicit
//! sort.

use serde_json::Map;
use serde_json::Number;
use serde_json::Value;
use sha2::Digest;
use sha2::Sha256;

/// Top-level request fields that do not affect the answer.
const VOLATILE_TOP_LEVEL: &[&str] = &[
    "stream",
    "stream_options",
    "prompt_cache_key",
    "store",
    "metadata",
    "user",
    "cache",
    "include",
];

/// Content part types whose `text` the model reads as prose.
const TEXT_PART_TYPES: &[&str] = &["text", "input_text", "output_text"];

/// The canonical form of a request body (Chat Completions or Responses; the
/// two are told apart by their fields, so either shape may be passed). Keys
/// of the returned objects are inserted in sorted order, so it serialises
/// identically with and without `preserve_order`.
pub fn canonical_request(body: &Value) -> Value {
    let mut value = body.clone();
    strip_cache_control(&mut value);
    if let Some(object) = value.as_object_mut() {
        for key in VOLATILE_TOP_LEVEL {
            object.remove(*key);
        }
        if let Some(messages) = object.get_mut("messages").and_then(Value::as_array_mut) {
            for message in messages {
                if let Some(content) = message.get_mut("content") {
                    normalise_content(content);
                }
            }
        }
        if let Some(instructions) = object.get_mut("instructions") {
            normalise_string(instructions);
        }
        match object.get_mut("input") {
            Some(Value::Array(items)) => {
                for item in items {
                    if let Some(item) = item.as_object_mut() {
                        item.remove("id");
                        if let Some(content) = item.get_mut("content") {
                            normalise_content(content);
                        }
                    }
                }
            }
            Some(input) => normalise_string(input),
            None => {}
        }
    }
    sorted(value)
}

/// Hex SHA-256 of the canonical form serialised compactly with keys sorted
/// recursively: the tier-0 cache key.
pub fn request_key(body: &Value) -> String {
    let mut text = String::new();
    write_sorted(&canonical_request(body), &mut text);
    let digest = Sha256::digest(text.as_bytes());
    hex(&digest)
}

/// Lower-case hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    out
}

/// Removes `cache_control` keys at any depth.
fn strip_cache_control(value: &mut Value) {
    match value {
        Value::Object(object) => {
            object.remove("cache_control");
            for child in object.values_mut() {
                strip_cache_control(child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(strip_cache_control),
        _ => {}
    }
}

/// A message's or input item's `content`: a string, or an array of parts.
fn normalise_content(content: &mut Value) {
    match content {
        Value::String(_) => normalise_string(content),
        Value::Array(parts) => {
            for part in parts.iter_mut() {
                let is_text = part
                    .get("type")
                    .and_then(Value::as_str)
                    .is_some_and(|t| TEXT_PART_TYPES.contains(&t));
                if is_text && let Some(text) = part.get_mut("text") {
                    normalise_string(text);
                }
            }
            if let [only] = parts.as_slice()
                && let Some(text) = single_text(only)
            {
                *content = Value::String(text);
            }
        }
        _ => {}
    }
}

/// The text of a part that is nothing but `{type: <text type>, text}`.
fn single_text(part: &Value) -> Option<String> {
    let object = part.as_object()?;
    let kind = object.get("type")?.as_str()?;
    if object.len() != 2 || !TEXT_PART_TYPES.contains(&kind) {
        return None;
    }
    object.get("text")?.as_str().map(str::to_string)
}

fn normalise_string(value: &mut Value) {
    if let Value::String(text) = value {
        *text = collapse_whitespace(text);
    }
}

/// Trims and collapses each run of whitespace to a single space.
fn collapse_whitespace(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// Rebuilds objects with keys inserted in sorted order and whole floats as
/// integers.
fn sorted(value: Value) -> Value {
    match value {
        Value::Object(object) => {
            let mut entries: Vec<(String, Value)> = object.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            let mut out = Map::new();
            for (key, child) in entries {
                out.insert(key, sorted(child));
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        Value::Number(number) => Value::Number(whole_as_integer(number)),
        other => other,
    }
}

/// `1.0` → `1`, so the spelling of a number does not change the key.
fn whole_as_integer(number: Number) -> Number {
    // Beyond 2^53 floats are not exact integers any more; leave them.
    const EXACT: f64 = 9_007_199_254_740_992.0;
    match number.as_f64() {
        Some(f) if !number.is_i64() && !number.is_u64() && f.fract() == 0.0 && f.abs() <= EXACT => {
            Number::from(f as i64)
        }
        _ => number,
    }
}

/// Compact JSON with keys sorted at every level, regardless of map order.
fn write_sorted(value: &Value, out: &mut String) {
    match value {
        Value::Object(object) => {
            let mut keys: Vec<&String> = object.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                if let Some(child) = object.get(key) {
                    write_sorted(child, out);
                }
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_sorted(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    fn chat(content: Value) -> Value {
        json!({
            "model": "gpt-4o",
            "stream": true,
            "messages": [
                {"role": "system", "content": "You are terse."},
                {"role": "user", "content": content}
            ]
        })
    }

    fn responses(text: &str) -> Value {
        json!({
            "model": "gpt-5",
            "instructions": "Be helpful.",
            "input": [
                {"type": "message", "id": "msg_1", "role": "user",
                 "content": [{"type": "input_text", "text": text}]}
            ],
            "tools": [{"type": "function", "name": "shell", "parameters": {"type": "object"}}],
            "parallel_tool_calls": false,
            "stream": true
        })
    }

    #[test]
    fn equivalent_requests_share_a_key() {
        let pairs: Vec<(&str, Value, Value)> = vec![
            (
                "key order",
                json!({"model": "m", "temperature": 0.2, "messages": [{"role": "user", "content": "hi"}]}),
                json!({"messages": [{"content": "hi", "role": "user"}], "temperature": 0.2, "model": "m"}),
            ),
            (
                "whitespace in chat text",
                chat(json!("  list   the\n\tfiles ")),
                chat(json!("list the files")),
            ),
            (
                "chat text part vs string",
                chat(json!([{"type": "text", "text": "list the files"}])),
                chat(json!("list the files")),
            ),
            (
                "cache_control marker",
                chat(
                    json!([{"type": "text", "text": "list the files", "cache_control": {"type": "ephemeral"}}]),
                ),
                chat(json!("list the files")),
            ),
            ("stream flag and options", chat(json!("x")), {
                let mut b = chat(json!("x"));
                b["stream"] = json!(false);
                b["stream_options"] = json!({"include_usage": true});
                b
            }),
            ("bookkeeping fields", responses("hello"), {
                let mut b = responses("hello");
                b["prompt_cache_key"] = json!("conv-1");
                b["store"] = json!(false);
                b["metadata"] = json!({"session": "abc"});
                b["user"] = json!("me");
                b["cache"] = json!({"no-cache": true});
                b["include"] = json!(["reasoning.encrypted_content"]);
                b
            }),
            ("input item ids", responses("hello"), {
                let mut b = responses("hello");
                b["input"][0]["id"] = json!("msg_other");
                b
            }),
            (
                "responses text whitespace and instructions",
                responses("hello world"),
                {
                    let mut b = responses("  hello \n world ");
                    b["instructions"] = json!("Be   helpful.\n");
                    b
                },
            ),
            ("input_text part vs string", responses("hello"), {
                let mut b = responses("hello");
                b["input"][0]["content"] = json!("hello");
                b
            }),
            (
                "whole float vs integer",
                json!({"model": "m", "temperature": 1.0, "input": "x"}),
                json!({"model": "m", "temperature": 1, "input": "x"}),
            ),
            (
                "responses string input whitespace",
                json!({"model": "m", "input": " a  b "}),
                json!({"model": "m", "input": "a b"}),
            ),
        ];
        for (name, a, b) in pairs {
            assert_eq!(request_key(&a), request_key(&b), "{name}");
        }
    }

    #[test]
    fn different_requests_differ() {
        let base = chat(json!("list the files"));
        let with = |f: &dyn Fn(&mut Value)| {
            let mut b = base.clone();
            f(&mut b);
            b
        };
        let pairs: Vec<(&str, Value)> = vec![
            ("model", with(&|b| b["model"] = json!("gpt-4o-mini"))),
            (
                "text",
                with(&|b| b["messages"][1]["content"] = json!("list the dirs")),
            ),
            (
                "role",
                with(&|b| b["messages"][1]["role"] = json!("assistant")),
            ),
            ("temperature", with(&|b| b["temperature"] = json!(0.7))),
            (
                "tool",
                with(&|b| b["tools"] = json!([{"type": "function", "function": {"name": "ls"}}])),
            ),
            (
                "parallel_tool_calls",
                with(&|b| b["parallel_tool_calls"] = json!(true)),
            ),
            ("max_tokens", with(&|b| b["max_tokens"] = json!(10))),
            (
                "extra message",
                with(&|b| {
                    if let Some(m) = b["messages"].as_array_mut() {
                        m.push(json!({"role": "user", "content": "and more"}));
                    }
                }),
            ),
        ];
        let key = request_key(&base);
        for (name, other) in pairs {
            assert_ne!(key, request_key(&other), "{name}");
        }

        let r = responses("hello");
        let mut other_tool = r.clone();
        other_tool["tools"][0]["name"] = json!("apply_patch");
        assert_ne!(request_key(&r), request_key(&other_tool), "responses tool");
        let mut parallel = r.clone();
        parallel["parallel_tool_calls"] = json!(true);
        assert_ne!(
            request_key(&r),
            request_key(&parallel),
            "responses parallel"
        );
        let mut text = r.clone();
        text["input"][0]["content"][0]["text"] = json!("hello!");
        assert_ne!(request_key(&r), request_key(&text), "responses text");
        // Whitespace inside words is content, not layout.
        assert_ne!(
            request_key(&responses("ab")),
            request_key(&responses("a b")),
            "joined words"
        );
        // Two text parts are not one joined string.
        let mut two = r.clone();
        two["input"][0]["content"] = json!([
            {"type": "input_text", "text": "hel"},
            {"type": "input_text", "text": "lo"}
        ]);
        assert_ne!(request_key(&r), request_key(&two), "split parts");
    }

    #[test]
    fn canonical_form_is_sorted_and_stripped() {
        let body = json!({
            "stream": true,
            "model": "m",
            "input": [{"id": "rs_1", "type": "reasoning", "summary": [], "encrypted_content": "e"}],
            "instructions": " a\n b ",
            "tools": [{"cache_control": {"type": "ephemeral"}, "type": "function", "name": "t"}]
        });
        let canonical = canonical_request(&body);
        assert_eq!(
            canonical.to_string(),
            r#"{"input":[{"encrypted_content":"e","summary":[],"type":"reasoning"}],"instructions":"a b","model":"m","tools":[{"name":"t","type":"function"}]}"#
        );
        // Non-text parts (images) are kept as they are.
        let image = chat(json!([
            {"type": "image_url", "image_url": {"url": "data:x"}},
            {"type": "text", "text": " look "}
        ]));
        assert_eq!(
            canonical_request(&image)["messages"][1]["content"],
            json!([{"image_url": {"url": "data:x"}, "type": "image_url"}, {"text": "look", "type": "text"}])
        );
    }

    #[test]
    fn key_is_hex_sha256_and_ignores_map_order() {
        let key = request_key(&json!({"model": "m"}));
        assert_eq!(key.len(), 64);
        assert!(
            key.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        // sha256 of `{"model":"m"}`.
        assert_eq!(key, hex(&Sha256::digest(br#"{"model":"m"}"#)),);
        // Built in two insertion orders: with `preserve_order` (as in tests
        // and upstream) these maps iterate differently.
        let mut a = Map::new();
        a.insert("z".into(), json!(1));
        a.insert("a".into(), json!({"y": 1, "b": 2}));
        let mut b = Map::new();
        b.insert("a".into(), json!({"b": 2, "y": 1}));
        b.insert("z".into(), json!(1));
        assert_eq!(
            request_key(&Value::Object(a)),
            request_key(&Value::Object(b))
        );
        assert_eq!(hex(&[0x00, 0xab, 0xff]), "00abff");
    }
}
