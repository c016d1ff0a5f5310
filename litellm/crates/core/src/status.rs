//! What `/status` in the TUI and `codex-litellm status` say about the
//! proxy, the routing, the session's usage, cache hits and cost.

use std::path::Path;

use serde_json::Value;
use serde_json::json;

use crate::config::Source;
use crate::cost::CacheTier;
use crate::cost::SessionTotals;
use crate::cost::Totals;
use crate::errors::LiteLlmError;
use crate::exchange;
use crate::models_cmd;
use crate::session::settings_for_command;
use crate::telemetry::RequestRecord;
use crate::telemetry::TelemetryConfig;
use crate::telemetry::read_records;

/// Lines for the TUI's /status (label, value); none unless a LiteLLM
/// session is running in this process.
pub fn status_lines() -> Vec<(&'static str, String)> {
    let Some(rt) = exchange::runtime() else {
        return Vec::new();
    };
    let mut lines = vec![("LiteLLM", rt.base_url.clone())];
    if let Some(meta) = rt.last_meta.lock().ok().and_then(|m| m.clone()) {
        lines.push(("Routed to", routed_to(meta.model_id.as_deref(), meta.api_base.as_deref())));
    }
    if let Ok(totals) = rt.totals.lock() {
        let t = &totals.total;
        lines.push(("Requests", format!("{} ({} failed)", t.requests, t.errors)));
        lines.push(("Cache hits", hit_rates_text(t)));
        let lower = if t.uncosted_requests > 0 {
            " (at least)"
        } else {
            ""
        };
        let limit = rt
            .max_session_cost_usd
            .map(|l| format!(" of ${l:.2} budget"))
            .unwrap_or_default();
        lines.push(("Cost", format!("${:.4}{lower}{limit}", t.cost_usd)));
    }
    lines
}

/// "deployment <id> at <api base>", saying so where the proxy reported neither.
fn routed_to(model_id: Option<&str>, api_base: Option<&str>) -> String {
    const NOT_REPORTED: &str = "not reported by the proxy";
    let id = model_id.map(|id| id.get(..12).unwrap_or(id));
    match (id, api_base) {
        (None, None) => NOT_REPORTED.to_string(),
        (id, base) => format!(
            "deployment {} at {}",
            id.unwrap_or("(id not reported)"),
            base.unwrap_or("(api base not reported by the proxy)")
        ),
    }
}

fn hit_rates_text(t: &Totals) -> String {
    format!(
        "local {:.0}% · LiteLLM {:.0}% · provider prompt cache {:.0}%",
        t.hit_rate_percent(CacheTier::Tier0),
        t.hit_rate_percent(CacheTier::Litellm),
        t.hit_rate_percent(CacheTier::Provider),
    )
}

/// The last session recorded in telemetry: its id, the last record and totals.
fn last_session(
    config: &toml::Value,
    codex_home: &Path,
) -> Option<(String, RequestRecord, SessionTotals)> {
    let cfg = TelemetryConfig::from_toml(config.get("telemetry"), codex_home, Some(true)).ok()?;
    let records = read_records(&cfg.dir, &cfg.session_file);
    let last = records.last()?.clone();
    let mut totals = SessionTotals::new();
    for r in records.iter().filter(|r| r.session_id == last.session_id) {
        totals.add(&r.model, &r.outcome());
    }
    Some((last.session_id.clone(), last, totals))
}

fn session_json(id: &str, last: &RequestRecord, totals: &SessionTotals) -> Value {
    let t = &totals.total;
    json!({
        "id": id,
        "last_request": last.ts,
        "requests": t.requests,
        "errors": t.errors,
        "tokens_in": t.tokens_in,
        "tokens_cached": t.tokens_cached,
        "tokens_out": t.tokens_out,
        "cost_usd": t.cost_usd,
        "cost_is_lower_bound": t.uncosted_requests > 0,
        "hit_rates": {
            "tier0": t.hit_rate_percent(CacheTier::Tier0),
            "litellm": t.hit_rate_percent(CacheTier::Litellm),
            "provider": t.hit_rate_percent(CacheTier::Provider),
        },
        "per_model": totals.per_model,
        "routed_to": {"model_id": last.litellm_model_id, "api_base": last.api_base},
    })
}
/// `codex-litellm status [--json]`: where the proxy is, whether it is healthy,
/// which model is used and what it costs. `version` is the binary's own.
pub async fn run_status(
    raw_overrides: &[String],
    json: bool,
    version: &str,
) -> Result<String, LiteLlmError> {
    let (settings, client, config, codex_home) = settings_for_command(raw_overrides)?;
    let session = last_session(&config, &codex_home);
    let liveliness = client.health_liveliness().await;
    let readiness = client.health_readiness().await;
    let models = client.discover().await;
    let model = settings.default_model.clone();
    let model_info = match (&models, &model) {
        (Ok(list), Some(m)) => list.iter().find(|i| &i.id == m).cloned(),
        _ => None,
    };
    let source = |s: &Source| match s {
        Source::Cli => "command line".to_string(),
        Source::Env => "environment".to_string(),
        Source::ConfigFile => "config.toml".to_string(),
        Source::KeyFile(p) => p.display().to_string(),
    };
    let err_text = |e: &LiteLlmError| e.to_string();
    if json {
        let doc = json!({
            "version": version,
            "base_url": settings.base_url,
            "base_url_source": source(&settings.base_url_source),
            "api_key": settings.api_key_source.as_ref().map(source),
            "wire_api": settings.wire_api.as_str(),
            "liveliness": liveliness.as_ref().map_err(err_text).cloned().unwrap_or_else(|e| e),
            "healthy": liveliness.is_ok(),
            "readiness": readiness.as_ref().ok().map(|r| json!({"status": r.status, "litellm_version": r.litellm_version, "db": r.db})),
            "model": model,
            "model_info": model_info,
            "models": models.as_ref().map(Vec::len).unwrap_or(0),
            "error": models.as_ref().err().map(err_text),
            "session": session.as_ref().map(|(id, last, totals)| session_json(id, last, totals)),
        });
        return serde_json::to_string_pretty(&doc)
            .map_err(|e| LiteLlmError::invalid("status", e.to_string()));
    }
    let mut out = Vec::new();
    out.push(format!("codex-litellm {version}"));
    out.push(format!(
        "Proxy:      {} (from {})",
        settings.base_url,
        source(&settings.base_url_source)
    ));
    out.push(match &liveliness {
        Ok(text) => format!("Health:     alive ({})", text.trim_matches('"')),
        Err(e) => format!("Health:     DOWN: {e}"),
    });
    if let Ok(r) = &readiness {
        out.push(format!(
            "Readiness:  {}{}{}",
            r.status.as_deref().unwrap_or("unknown"),
            r.litellm_version
                .as_deref()
                .map(|v| format!(", LiteLLM {v}"))
                .unwrap_or_default(),
            r.db.as_deref()
                .map(|d| format!(", db {d}"))
                .unwrap_or_default()
        ));
    }
    out.push(format!(
        "API key:    {}",
        settings
            .api_key_source
            .as_ref()
            .map(|s| format!("set (from {})", source(s)))
            .unwrap_or_else(|| "none".into())
    ));
    out.push(format!("Wire API:   {}", settings.wire_api.as_str()));
    match &models {
        Ok(list) => out.push(format!("Models:     {} served", list.len())),
        Err(e) => out.push(format!("Models:     unavailable: {e}")),
    }
    match (&model, &model_info) {
        (Some(m), Some(i)) => out.push(format!(
            "Model:      {m} (context {}, max output {}, {} in / {} out per 1M tokens)",
            models_cmd::format_tokens(i.context_window),
            models_cmd::format_tokens(i.max_output_tokens),
            models_cmd::format_price_per_million(i.input_cost_per_token),
            models_cmd::format_price_per_million(i.output_cost_per_token),
        )),
        (Some(m), None) => out.push(format!("Model:      {m} (not served by the proxy)")),
        (None, _) => out.push("Model:      none chosen (set [litellm].model or pass -m)".into()),
    }
    match &session {
        Some((id, last, totals)) => {
            let t = &totals.total;
            out.push(format!("Session:    {id} (last request {})", last.ts));
            out.push(format!(
                "Routed to:  {}",
                routed_to(last.litellm_model_id.as_deref(), last.api_base.as_deref())
            ));
            out.push(format!(
                "Usage:      {} request(s), {} failed; tokens {} in ({} cached), {} out",
                t.requests, t.errors, t.tokens_in, t.tokens_cached, t.tokens_out
            ));
            out.push(format!("Cache hits: {}", hit_rates_text(t)));
            let lower = if t.uncosted_requests > 0 {
                " (at least)"
            } else {
                ""
            };
            out.push(format!("Cost:       ${:.6}{lower}", t.cost_usd));
        }
        None => {
            out.push("Session:    none recorded yet (telemetry off, or no request made)".into())
        }
    }
    Ok(out.join("\n"))
}


#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn status_renders_usage_hit_rates_and_cost() {
        let mut totals = SessionTotals::new();
        let hit = |tier| crate::cost::RequestOutcome {
            error: false,
            usage: None,
            cost_usd: Some(0.0),
            cache_tier: tier,
        };
        totals.add("m", &hit(Some(CacheTier::Tier0)));
        totals.add("m", &hit(Some(CacheTier::Litellm)));
        totals.add(
            "m",
            &crate::cost::RequestOutcome {
                error: false,
                usage: Some(crate::usage::Usage {
                    input_tokens: 1000,
                    cached_input_tokens: 200,
                    output_tokens: 10,
                    reasoning_output_tokens: 0,
                    total_tokens: 1010,
                }),
                cost_usd: Some(0.00092),
                cache_tier: Some(CacheTier::Provider),
            },
        );
        totals.add(
            "m",
            &crate::cost::RequestOutcome {
                error: true,
                usage: None,
                cost_usd: None,
                cache_tier: None,
            },
        );
        assert_eq!(
            hit_rates_text(&totals.total),
            "local 25% · LiteLLM 25% · provider prompt cache 25%"
        );
        let last = RequestRecord {
            session_id: "s1".into(),
            ts: "2026-11-24T10:00:00Z".into(),
            litellm_model_id: Some("dep".into()),
            api_base: Some("https://api.example.com/v1".into()),
            ..RequestRecord::default()
        };
        let doc = session_json("s1", &last, &totals);
        assert_eq!(doc["requests"], 4);
        assert_eq!(doc["errors"], 1);
        assert_eq!(doc["tokens_cached"], 200);
        assert!((doc["cost_usd"].as_f64().unwrap() - 0.00092).abs() < 1e-12);
        assert_eq!(doc["hit_rates"]["tier0"], 25.0);
        assert_eq!(doc["routed_to"]["api_base"], "https://api.example.com/v1");
    }

    #[test]
    fn routing_never_shows_a_question_mark() {
        assert_eq!(routed_to(None, None), "not reported by the proxy");
        assert_eq!(
            routed_to(Some("fc734469999c0123"), Some("http://b/v1")),
            "deployment fc734469999c at http://b/v1"
        );
        let partial = routed_to(Some("abc"), None);
        assert!(partial.contains("not reported") && !partial.contains('?'), "{partial}");
    }

}
