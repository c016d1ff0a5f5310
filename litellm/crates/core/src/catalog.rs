//! The proxy's models as upstream's model catalog.
//!
//! Upstream (0.115) lets a config supply the whole model list
//! (`model_catalog`, a `ModelsResponse`); the models manager then lists
//! exactly those models in the TUI's `/model` picker, takes each one's
//! context window from it and shapes the tools it sends by it. We build that
//! catalog from `/v1/models` + `/model/info`, starting every entry from a
//! template upstream gives us (its own fallback metadata, serialised), so the
//! fields we do not care about keep upstream's defaults and a new field in a
//! later upstream needs nothing from us.

use serde_json::Value;
use serde_json::json;

use crate::model_info::ModelInfo;
use crate::formatting::prices;
use crate::formatting::tokens;

/// The catalog (`{"models": [...]}`) for `models`, `default_model` first so
/// the models manager picks it when nothing else is chosen.
/// `context_override` is `[general].context_length`.
pub(crate) fn build(
    template: &Value,
    models: &[ModelInfo],
    default_model: Option<&str>,
    context_override: Option<u64>,
) -> Option<Value> {
    let template = template.as_object()?;
    let mut ordered: Vec<&ModelInfo> = models.iter().collect();
    // Stable: the proxy's order, with the default model moved to the front.
    ordered.sort_by_key(|m| Some(m.id.as_str()) != default_model);
    let entries: Vec<Value> = ordered
        .iter()
        .enumerate()
        .map(|(priority, info)| {
            let mut entry = template.clone();
            for (key, value) in fields(info, priority, context_override) {
                entry.insert(key.to_string(), value);
            }
            Value::Object(entry)
        })
        .collect();
    (!entries.is_empty()).then(|| json!({ "models": entries }))
}

/// What we know better than upstream's fallback for a model behind LiteLLM.
fn fields(info: &ModelInfo, priority: usize, context_override: Option<u64>) -> Vec<(&'static str, Value)> {
    let reasoning = info.supports_reasoning == Some(true);
    let levels: Vec<Value> = if reasoning {
        [
            ("low", "Fast answers, light reasoning"),
            ("medium", "Balanced"),
            ("high", "Deeper reasoning for hard problems"),
        ]
        .iter()
        .map(|(effort, description)| json!({"effort": effort, "description": description}))
        .collect()
    } else {
        Vec::new()
    };
    let mut modalities = vec![json!("text")];
    if info.supports_vision != Some(false) {
        modalities.push(json!("image"));
    }
    let mut out = vec![
        ("slug", json!(info.id)),
        ("display_name", json!(info.id)),
        ("description", json!(describe(info))),
        ("visibility", json!("list")),
        ("supported_in_api", json!(true)),
        ("priority", json!(priority)),
        ("upgrade", Value::Null),
        ("availability_nux", Value::Null),
        // LiteLLM's Responses-to-chat bridge turns function tools into chat
        // tools for any backend; freeform (custom) tools it cannot carry.
        ("apply_patch_tool_type", json!("function")),
        ("supports_search_tool", json!(false)),
        ("supports_reasoning_summaries", json!(reasoning)),
        ("supported_reasoning_levels", Value::Array(levels)),
        (
            "default_reasoning_level",
            if reasoning { json!("medium") } else { Value::Null },
        ),
        ("support_verbosity", json!(false)),
        ("default_verbosity", Value::Null),
        (
            "supports_parallel_tool_calls",
            json!(info.supports_parallel_function_calling == Some(true)),
        ),
        ("input_modalities", Value::Array(modalities)),
        ("prefer_websockets", json!(false)),
        ("experimental_supported_tools", json!([])),
    ];
    if let Some(window) = context_override.or(info.context_window) {
        out.push(("context_window", json!(window)));
    }
    out
}

/// The picker's second line: limits and prices, where the proxy knows them.
fn describe(info: &ModelInfo) -> String {
    let mut parts = Vec::new();
    if info.context_window.is_some() {
        parts.push(format!("{} tokens context", tokens(info.context_window)));
    }
    if info.input_cost_per_token.is_some() || info.output_cost_per_token.is_some() {
        parts.push(prices(
            info.input_cost_per_token,
            info.output_cost_per_token,
        ));
    }
    if parts.is_empty() {
        "served by your LiteLLM proxy".to_string()
    } else {
        parts.join(" · ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn template() -> Value {
        json!({
            "slug": "litellm", "display_name": "litellm", "description": null,
            "base_instructions": "BASE", "shell_type": "default", "visibility": "none",
            "supported_in_api": true, "priority": 99, "apply_patch_tool_type": null,
            "context_window": 272000, "truncation_policy": {"mode": "bytes", "limit": 10000},
            "future_field": 7
        })
    }

    #[test]
    fn every_model_listed_with_its_limits_default_first() {
        let models = vec![
            ModelInfo {
                context_window: Some(128_000),
                input_cost_per_token: Some(0.000_000_15),
                output_cost_per_token: Some(0.000_000_6),
                supports_reasoning: Some(true),
                ..ModelInfo::new("gpt-4o-mini")
            },
            ModelInfo::new("vercel/maa/x"),
        ];
        let catalog = build(&template(), &models, Some("vercel/maa/x"), None).unwrap();
        let list = catalog["models"].as_array().unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[0]["slug"], "vercel/maa/x");
        assert_eq!(list[0]["priority"], 0);
        // Unknown limits keep upstream's default.
        assert_eq!(list[0]["context_window"], 272000);
        assert_eq!(list[0]["description"], "served by your LiteLLM proxy");
        assert_eq!(list[0]["supported_reasoning_levels"], json!([]));
        let mini = &list[1];
        // An OpenAI name gets the proxy's window, not upstream's table.
        assert_eq!(mini["context_window"], 128000);
        assert_eq!(mini["visibility"], "list");
        assert_eq!(mini["apply_patch_tool_type"], "function");
        assert_eq!(mini["base_instructions"], "BASE");
        assert_eq!(mini["future_field"], 7);
        assert_eq!(mini["default_reasoning_level"], "medium");
        assert_eq!(mini["supports_reasoning_summaries"], true);
        let description = mini["description"].as_str().unwrap();
        assert!(description.contains("128,000 tokens context"), "{description}");
        assert!(description.contains("$0.15 in / $0.60 out per 1M"), "{description}");
    }

    #[test]
    fn context_override_and_empty_lists() {
        let models = vec![ModelInfo {
            context_window: Some(128_000),
            supports_vision: Some(false),
            ..ModelInfo::new("m")
        }];
        let catalog = build(&template(), &models, None, Some(8192)).unwrap();
        assert_eq!(catalog["models"][0]["context_window"], 8192);
        assert_eq!(catalog["models"][0]["input_modalities"], json!(["text"]));
        assert_eq!(build(&template(), &[], None, None), None);
        assert_eq!(build(&json!("not an object"), &models, None, None), None);
    }
}
