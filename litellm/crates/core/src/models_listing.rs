//! `codex-litellm models`: what the proxy offers, as a table or JSON.

use crate::discovery::Client;
use crate::model_info::ModelInfo;
use crate::errors::LiteLlmError;
use crate::formatting::price_per_million;
use crate::formatting::tokens;

const HEADERS: [&str; 5] = ["MODEL", "CONTEXT", "MAX OUTPUT", "$/1M IN", "$/1M OUT"];

/// Discovers the models and renders them (`json` selects [`render_json`]).
pub async fn run(client: &Client, json: bool) -> Result<String, LiteLlmError> {
    let models = client.discover().await?;
    if json {
        render_json(&models)
    } else {
        Ok(render_table(&models))
    }
}

/// A plain-text table sorted by id; unknown values show as `-`, prices per
/// million tokens ([`price_per_million`]).
pub fn render_table(models: &[ModelInfo]) -> String {
    if models.is_empty() {
        return "The proxy lists no models for this key. Add models to the LiteLLM config \
(model_list) or check which models the key is allowed to use.\n"
            .to_string();
    }
    let mut sorted: Vec<&ModelInfo> = models.iter().collect();
    sorted.sort_by_cached_key(|m| m.id.to_lowercase());
    let rows: Vec<[String; 5]> = sorted
        .iter()
        .map(|m| {
            [
                m.id.clone(),
                tokens(m.context_window),
                tokens(m.max_output_tokens),
                price_per_million(m.input_cost_per_token),
                price_per_million(m.output_cost_per_token),
            ]
        })
        .collect();
    let mut widths = HEADERS.map(|h| h.chars().count());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut push_row = |cells: [&str; 5]| {
        let mut line = String::new();
        for (i, (cell, width)) in cells.iter().zip(widths).enumerate() {
            if i == 0 {
                line.push_str(&format!("{cell:<width$}"));
            } else {
                // Numbers are right-aligned so magnitudes line up.
                line.push_str(&format!("  {cell:>width$}"));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    };
    push_row(HEADERS);
    for row in &rows {
        push_row([&row[0], &row[1], &row[2], &row[3], &row[4]]);
    }
    out
}

/// The models as a pretty JSON array (per-token prices, as LiteLLM reports
/// them, so scripts get exact values).
pub fn render_json(models: &[ModelInfo]) -> Result<String, LiteLlmError> {
    serde_json::to_string_pretty(models)
        .map(|mut text| {
            text.push('\n');
            text
        })
        .map_err(|err| LiteLlmError::UnexpectedResponse {
            url: "model list".to_string(),
            detail: err.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn table_layout() {
        let models = vec![
            ModelInfo::new("vercel/maa/x"),
            ModelInfo {
                context_window: Some(32000),
                max_output_tokens: Some(4096),
                input_cost_per_token: Some(0.000001),
                output_cost_per_token: Some(0.000002),
                ..ModelInfo::new("fake-model")
            },
        ];
        let expected = "\
MODEL         CONTEXT  MAX OUTPUT  $/1M IN  $/1M OUT
fake-model     32,000       4,096     1.00      2.00
vercel/maa/x        -           -        -         -
";
        assert_eq!(render_table(&models), expected);
        assert!(render_table(&[]).contains("no models"));
    }

    #[test]
    fn json_is_an_array_of_model_info() {
        let models = vec![ModelInfo {
            context_window: Some(1),
            ..ModelInfo::new("a/b")
        }];
        let text = render_json(&models).unwrap();
        let back: Vec<ModelInfo> = serde_json::from_str(&text).unwrap();
        assert_eq!(back, models);
    }
}
