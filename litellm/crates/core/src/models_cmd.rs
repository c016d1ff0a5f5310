//! `codex-litellm models`: what the proxy offers, as a table or JSON.

use crate::discovery::Client;
use crate::discovery::ModelInfo;
use crate::errors::LiteLlmError;

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

/// A plain-text table sorted by id; unknown values show as `-`. Prices are
/// per million tokens because per-token prices are unreadable (0.000002).
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
                format_tokens(m.context_window),
                format_tokens(m.max_output_tokens),
                format_price_per_million(m.input_cost_per_token),
                format_price_per_million(m.output_cost_per_token),
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

/// `128000` → `128,000`; `None` → `-`.
pub fn format_tokens(tokens: Option<u64>) -> String {
    let Some(tokens) = tokens else {
        return "-".to_string();
    };
    let digits = tokens.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// USD per token → USD per million tokens with two to four decimals:
/// `0.000001` → `1.00`, `7.5e-8` → `0.075`.
pub fn format_price_per_million(per_token: Option<f64>) -> String {
    let Some(per_token) = per_token else {
        return "-".to_string();
    };
    let text = format!("{:.4}", per_token * 1_000_000.0);
    let trimmed = text.trim_end_matches('0');
    match trimmed.split_once('.') {
        Some((_, decimals)) if decimals.len() >= 2 => trimmed.to_string(),
        _ => format!("{:.2}", per_token * 1_000_000.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn number_formats() {
        assert_eq!(format_tokens(None), "-");
        assert_eq!(format_tokens(Some(999)), "999");
        assert_eq!(format_tokens(Some(32000)), "32,000");
        assert_eq!(format_tokens(Some(1_048_576)), "1,048,576");
        assert_eq!(format_price_per_million(None), "-");
        assert_eq!(format_price_per_million(Some(0.000001)), "1.00");
        assert_eq!(format_price_per_million(Some(0.000002)), "2.00");
        assert_eq!(format_price_per_million(Some(7.5e-8)), "0.075");
        assert_eq!(format_price_per_million(Some(2.5e-6)), "2.50");
        assert_eq!(format_price_per_million(Some(0.0)), "0.00");
    }

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
