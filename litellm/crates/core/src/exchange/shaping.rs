//! The request body as every LiteLLM route takes it: the proxy's cache
//! controls, only the tools every route accepts, no reasoning parameters for
//! a model that refuses them, and a prompt-cache key that is the same for
//! the same prefix in every session. Upstream shapes its requests for
//! OpenAI; a proxy that bridges to other providers refuses or mistranslates
//! some of those shapes.

use std::collections::HashMap;
use std::collections::HashSet;

use serde_json::Map;
use serde_json::Value;
use serde_json::json;

use super::runtime::Runtime;
use crate::canonical::request_key;
use crate::model_info::ModelInfo;

/// The `include` entry that asks for reasoning to be carried between turns.
const ENCRYPTED_REASONING: &str = "reasoning.encrypted_content";

/// Shapes a request body before it is sent: LiteLLM cache controls, only
/// tools every route accepts, no reasoning parameters for a model that
/// refuses them, and a prompt-cache key that is the same for the same prefix
/// in every session.
pub(super) fn shape_request(rt: &Runtime, model: &str, body: &mut Map<String, Value>) {
    let info = rt.model_info(model);
    if let Some(cache) = &rt.proxy_cache {
        body.insert("cache".to_string(), cache.clone());
    }
    let dropped = shape_tools(body, info);
    if !dropped.is_empty() {
        tracing::debug!(model, dropped = ?dropped, "removed tools LiteLLM routes do not accept");
    }
    if (info.and_then(|i| i.supports_reasoning) == Some(false) || rt.refuses_reasoning(model))
        && strip_reasoning(body)
    {
        tracing::debug!(
            model,
            "removed reasoning parameters the model does not take"
        );
    }
    if body.contains_key("prompt_cache_key") {
        // Upstream uses the conversation id, which differs in every session and
        // so defeats every cache keyed on the body. The stable prefix (model,
        // instructions, tools) routes provider prompt caching just as well.
        let prefix = json!([
            body.get("model"),
            body.get("instructions"),
            body.get("tools")
        ]);
        let key = request_key(&prefix);
        body.insert(
            "prompt_cache_key".to_string(),
            Value::String(format!("codex-litellm-{}", &key[..32.min(key.len())])),
        );
    }
}

/// Keeps the tools every LiteLLM route accepts: function tools, and
/// `web_search` / `web_search_preview` when the model's info says it can
/// search. Everything else (freeform `custom` tools, `tool_search`,
/// `local_shell`, `image_generation`, …) is an OpenAI-hosted shape that
/// LiteLLM's bridges to other providers reject or mistranslate, so it is
/// removed. Function tools inside a namespace (a `namespace` type or field)
/// are moved to the top level when their name is unique, since the
/// namespace itself is OpenAI-only; duplicates would be ambiguous to the
/// model and are removed. Returns what was removed, for the debug log.
fn shape_tools(body: &mut Map<String, Value>, info: Option<&ModelInfo>) -> Vec<String> {
    let Some(Value::Array(tools)) = body.get_mut("tools") else {
        return Vec::new();
    };
    let web_search = info.and_then(|i| i.supports_web_search) == Some(true);
    let is_function = |tool: &Value| tool.get("type").and_then(Value::as_str) == Some("function");
    let is_namespaced = |tool: &Value| {
        tool.get("type").and_then(Value::as_str) == Some("namespace")
            || tool.get("namespace").is_some()
    };
    let name_of = |tool: &Value| {
        tool.get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    // A namespaced tool may be a group (nested `tools`) or one function
    // that names its namespace; either way its functions are the members.
    let members = |tool: &Value| -> Vec<Value> {
        match tool.get("tools").and_then(Value::as_array) {
            Some(nested) => nested.clone(),
            None => vec![tool.clone()],
        }
    };

    // Top-level functions own their names; members may only take free ones,
    // and only when no other member wants the same name.
    let mut taken: HashSet<String> = tools
        .iter()
        .filter(|t| is_function(t) && !is_namespaced(t))
        .map(name_of)
        .collect();
    let mut member_names: HashMap<String, usize> = HashMap::new();
    for tool in tools.iter().filter(|t| is_namespaced(t)) {
        for member in members(tool).iter().filter(|m| is_function(m)) {
            *member_names.entry(name_of(member)).or_default() += 1;
        }
    }

    let mut dropped = Vec::new();
    let mut kept = Vec::with_capacity(tools.len());
    for tool in std::mem::take(tools) {
        let kind = tool
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("(no type)")
            .to_string();
        if is_namespaced(&tool) {
            let namespace = tool
                .get("namespace")
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| name_of(&tool));
            for mut member in members(&tool) {
                let name = name_of(&member);
                let member_kind = member
                    .get("type")
                    .and_then(Value::as_str)
                    .unwrap_or("(no type)");
                if !is_function(&member) {
                    dropped.push(format!("{namespace}/{name} ({member_kind})"));
                } else if name.is_empty()
                    || member_names.get(&name) != Some(&1)
                    || !taken.insert(name.clone())
                {
                    dropped.push(format!("{namespace}/{name} (name not unique)"));
                } else {
                    if let Some(member) = member.as_object_mut() {
                        member.remove("namespace");
                    }
                    kept.push(member);
                }
            }
            continue;
        }
        let keep = match kind.as_str() {
            "function" => true,
            "web_search" | "web_search_preview" => web_search,
            _ => false,
        };
        if keep {
            kept.push(tool);
        } else {
            let name = name_of(&tool);
            dropped.push(if name.is_empty() {
                kind
            } else {
                format!("{name} ({kind})")
            });
        }
    }
    *tools = kept;
    dropped
}

/// Whether the body carries anything a model without reasoning may refuse.
pub(super) fn has_reasoning_params(body: &Map<String, Value>) -> bool {
    body.contains_key("reasoning")
        || body
            .get("include")
            .and_then(Value::as_array)
            .is_some_and(|include| include.iter().any(|i| i == ENCRYPTED_REASONING))
}

/// Removes `reasoning` and the `include` entry for encrypted reasoning.
/// Returns whether anything was removed.
pub(super) fn strip_reasoning(body: &mut Map<String, Value>) -> bool {
    let mut removed = body.remove("reasoning").is_some();
    if let Some(include) = body.get_mut("include").and_then(Value::as_array_mut) {
        let before = include.len();
        include.retain(|i| i != ENCRYPTED_REASONING);
        removed |= include.len() != before;
    }
    removed
}

/// Whether an error body is about reasoning parameters (LiteLLM names the
/// refused parameter, e.g. `reasoning_effort`).
pub(super) fn mentions_reasoning(body: &[u8]) -> bool {
    String::from_utf8_lossy(body)
        .to_ascii_lowercase()
        .contains("reasoning")
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn tools_after(tools: Value, info: Option<&ModelInfo>) -> (Value, Vec<String>) {
        let mut body = json!({"model": "m", "tools": tools});
        let body = body.as_object_mut().unwrap();
        let dropped = shape_tools(body, info);
        (body["tools"].clone(), dropped)
    }

    #[test]
    fn only_function_tools_survive() {
        let (tools, dropped) = tools_after(
            json!([
                {"type": "function", "name": "shell", "parameters": {}},
                {"type": "custom", "name": "apply_patch", "format": {"type": "grammar"}},
                {"type": "web_search", "external_web_access": false},
                {"type": "tool_search", "execution": "client"},
                {"type": "local_shell"},
                {"type": "image_generation", "output_format": "png"},
                {"name": "untyped"},
            ]),
            None,
        );
        assert_eq!(
            tools,
            json!([{"type": "function", "name": "shell", "parameters": {}}])
        );
        assert_eq!(
            dropped,
            vec![
                "apply_patch (custom)",
                "web_search",
                "tool_search",
                "local_shell",
                "image_generation",
                "untyped ((no type))",
            ]
        );
    }

    #[test]
    fn web_search_stays_for_models_that_search() {
        let mut info = ModelInfo::new("m");
        info.supports_web_search = Some(true);
        let tools = json!([{"type": "web_search"}, {"type": "web_search_preview"}]);
        let (kept, dropped) = tools_after(tools.clone(), Some(&info));
        assert_eq!(kept, tools);
        assert!(dropped.is_empty());
        info.supports_web_search = Some(false);
        let (kept, _) = tools_after(tools, Some(&info));
        assert_eq!(kept, json!([]));
    }

    #[test]
    fn namespaced_functions_are_flattened_when_unique() {
        let (tools, dropped) = tools_after(
            json!([
                {"type": "function", "name": "shell"},
                {"type": "namespace", "name": "mcp", "tools": [
                    {"type": "function", "name": "read"},
                    {"type": "function", "name": "shell"},
                    {"type": "function", "name": "dup"},
                    {"type": "custom", "name": "free"},
                ]},
                {"type": "namespace", "name": "other", "tools": [
                    {"type": "function", "name": "dup"},
                ]},
                {"type": "function", "name": "write", "namespace": "fs"},
            ]),
            None,
        );
        assert_eq!(
            tools,
            json!([
                {"type": "function", "name": "shell"},
                {"type": "function", "name": "read"},
                {"type": "function", "name": "write"},
            ])
        );
        assert_eq!(
            dropped,
            vec![
                "mcp/shell (name not unique)",
                "mcp/dup (name not unique)",
                "mcp/free (custom)",
                "other/dup (name not unique)",
            ]
        );
    }

    #[test]
    fn reasoning_parameters_are_found_and_stripped() {
        let mut body = json!({"reasoning": {"effort": "high"}, "include": ["reasoning.encrypted_content", "other"]});
        let body = body.as_object_mut().unwrap();
        assert!(has_reasoning_params(body));
        assert!(strip_reasoning(body));
        assert_eq!(Value::Object(body.clone()), json!({"include": ["other"]}));
        assert!(!has_reasoning_params(body));
        assert!(!strip_reasoning(body));
    }
}
