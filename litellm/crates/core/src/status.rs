//! What `/status` in the TUI and `codex-litellm status` say about the
//! proxy, the routing, the session's usage, cache hits and cost.

use std::path::Path;

use serde_json::Value;
use serde_json::json;

use crate::config::Source;
use crate::cost::CacheTier;
use crate::cost::SessionTotals;
use crate::cost::Totals;
use crate::model_info::Deployment;
use crate::model_info::ModelInfo;
use crate::model_info::find_deployment;
use crate::errors::LiteLlmError;
use crate::exchange;
use crate::exchange::ProxyHealth;
use crate::headers::ProxyMeta;
use crate::formatting::count;
use crate::formatting::money;
use crate::formatting::prices;
use crate::formatting::tokens;
use crate::headers::RateLimits;
use crate::session::max_session_cost;
use crate::session::settings_for_command;
use crate::telemetry::RequestRecord;
use crate::telemetry::TelemetryConfig;
use crate::telemetry::read_records;

/// Said wherever the proxy left something out: never "?".
const NOT_REPORTED: &str = "not reported by the proxy";

/// Whether a codex-litellm session runs in this process (start-up installed
/// our runtime): the TUI then hides ChatGPT's rate-limit lines and links,
/// which say nothing about a LiteLLM proxy.
pub fn is_litellm_session() -> bool {
    exchange::runtime().is_some()
}

/// What a retry shows, where upstream says "Reconnecting... n/m" over the
/// error (the TUI's status row, `exec`'s `ERROR:` line, which shows only that
/// header). For a LiteLLM session the fault's own words are the header: what
/// the proxy answered, at which URL, and which attempt this is (a 5xx is not
/// a lost connection); upstream's "stream disconnected before completion:"
/// prefix goes, and nothing is repeated below. Elsewhere upstream's words stay.
pub fn retry_notice(upstream: String, details: String) -> (String, Option<String>) {
    if !is_litellm_session() {
        return (upstream, Some(details));
    }
    let ours = details
        .strip_prefix("stream disconnected before completion: ")
        .unwrap_or(&details);
    (ours.to_string(), None)
}

/// Lines for the TUI's /status (label, value); none unless a LiteLLM
/// session is running in this process.
pub fn status_lines() -> Vec<(&'static str, String)> {
    let Some(rt) = exchange::runtime() else {
        return Vec::new();
    };
    let health = rt.health.lock().map(|h| h.clone()).unwrap_or_default();
    let meta = rt.last_meta.lock().ok().and_then(|m| m.clone());
    let totals = rt.totals.lock().map(|t| t.total.clone()).unwrap_or_default();
    lines(
        &rt.base_url,
        &health,
        meta.as_ref(),
        &totals,
        rt.max_session_cost_usd,
        &rt.models,
    )
}

/// [`status_lines`] from plain values.
fn lines(
    base_url: &str,
    health: &ProxyHealth,
    meta: Option<&ProxyMeta>,
    t: &Totals,
    budget: Option<f64>,
    models: &[ModelInfo],
) -> Vec<(&'static str, String)> {
    let mut out = vec![
        ("LiteLLM proxy", base_url.to_string()),
        ("Proxy health", health_text(health, meta)),
        (
            "Routed to",
            match meta {
                Some(m) => routed_to(m.model_id.as_deref(), m.api_base.as_deref(), models),
                None => "no request has reached the proxy yet".to_string(),
            },
        ),
        ("Requests", format!("{} ({} failed)", count(t.requests), count(t.errors))),
        ("Cache hits", hit_rates_text(t)),
        ("Tokens", tokens_text(t)),
        ("Cost", cost_text(t, budget)),
    ];
    // Only once an answer came: before that there is nothing to report.
    if let Some(meta) = meta {
        out.push(("Rate limits", rate_limits_text(Some(&meta.rate_limits))));
    }
    out
}

/// "reachable (LiteLLM 1.2.3)", or why the last request got no answer.
fn health_text(health: &ProxyHealth, meta: Option<&ProxyMeta>) -> String {
    match health {
        ProxyHealth::NotAsked => "no request sent yet".to_string(),
        ProxyHealth::Reachable => {
            match meta.and_then(|m| m.version.as_deref()) {
                Some(version) => format!("reachable (LiteLLM {version})"),
                None => format!("reachable (LiteLLM version {NOT_REPORTED})"),
            }
        }
        ProxyHealth::Unreachable(error) => format!("unreachable: {error}"),
    }
}

fn tokens_text(t: &Totals) -> String {
    format!(
        "{} in ({} cached) · {} out",
        count(t.tokens_in),
        count(t.tokens_cached),
        count(t.tokens_out)
    )
}

/// "$0.0123 of $2.0000 budget, $1.9877 left". A request of unknown cost makes
/// the sum a lower bound and what is left an upper bound: it says so. The
/// budget reads like the money spent, so a sub-cent budget is not "$0.00".
fn cost_text(t: &Totals, budget: Option<f64>) -> String {
    let lower = t.uncosted_requests > 0;
    let spent = if lower {
        format!("at least {}", money(t.cost_usd))
    } else {
        money(t.cost_usd)
    };
    let Some(budget) = budget else {
        return spent;
    };
    let left = budget - t.cost_usd;
    if left <= 0.0 {
        return format!(
            "{spent} of {} budget, none left: the next request is stopped (raise [litellm].max_session_cost_usd in config.toml)",
            money(budget)
        );
    }
    format!(
        "{spent} of {} budget, {}{} left",
        money(budget),
        if lower { "at most " } else { "" },
        money(left)
    )
}

/// LiteLLM's `x-ratelimit-*` figures: "4,999 of 5,000 requests left
/// (resets in 12ms) · 159,976 tokens left".
fn rate_limits_text(limits: Option<&RateLimits>) -> String {
    let Some(limits) = limits.filter(|l| !l.is_empty()) else {
        return NOT_REPORTED.to_string();
    };
    let part = |what: &str, remaining: Option<u64>, limit: Option<u64>, reset: Option<&str>| {
        let amount = match (remaining, limit) {
            (Some(r), Some(l)) => format!("{} of {} {what} left", count(r), count(l)),
            (Some(r), None) => format!("{} {what} left", count(r)),
            (None, Some(l)) => format!("limit {} {what}", count(l)),
            (None, None) if reset.is_some() => what.to_string(),
            (None, None) => return None,
        };
        Some(match reset {
            Some(reset) => format!("{amount} (resets {})", reset_text(reset)),
            None => amount,
        })
    };
    let parts: Vec<String> = [
        part(
            "requests",
            limits.remaining_requests,
            limits.limit_requests,
            limits.reset_requests.as_deref(),
        ),
        part(
            "tokens",
            limits.remaining_tokens,
            limits.limit_tokens,
            limits.reset_tokens.as_deref(),
        ),
    ]
    .into_iter()
    .flatten()
    .collect();
    parts.join(" · ")
}

/// A reset as sent: a duration (`12ms`, `6m0s`), seconds, or a Unix time.
fn reset_text(reset: &str) -> String {
    match reset.parse::<f64>() {
        // Anything after 2001 is a point in time, not a wait.
        Ok(n) if n.is_finite() && n >= 1e9 => chrono::DateTime::from_timestamp(n as i64, 0)
            .map(|t| format!("at {}", t.format("%H:%M:%S UTC")))
            .unwrap_or_else(|| format!("at {reset}")),
        Ok(n) if n.is_finite() && n >= 0.0 => format!("in {n}s"),
        _ => format!("in {reset}"),
    }
}

/// "deployment <id> at <api base>", saying so where the proxy reported
/// neither. When the answer named only the deployment, the proxy's own
/// `/model/info` (already in `models`) says where that deployment sends
/// requests.
fn routed_to(model_id: Option<&str>, api_base: Option<&str>, models: &[ModelInfo]) -> String {
    let known = model_id.and_then(|id| find_deployment(models, id));
    let base = api_base.map(str::to_string).or_else(|| known.map(Deployment::endpoint));
    let id = model_id.map(|id| id.get(..12).unwrap_or(id));
    match (id, base) {
        (None, None) => NOT_REPORTED.to_string(),
        (id, base) => format!(
            "deployment {} at {}",
            id.unwrap_or("(id not reported)"),
            base.as_deref().unwrap_or("(api base not reported by the proxy)")
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

fn session_json(
    id: &str,
    last: &RequestRecord,
    totals: &SessionTotals,
    budget: Option<f64>,
) -> Value {
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
        "budget_usd": budget,
        "budget_left_usd": budget.map(|b| (b - t.cost_usd).max(0.0)),
        "rate_limits": last.rate_limits,
    })
}

/// The `codex-litellm status` lines about the last recorded session.
fn session_text(
    id: &str,
    last: &RequestRecord,
    totals: &SessionTotals,
    budget: Option<f64>,
    models: &[ModelInfo],
) -> Vec<String> {
    let t = &totals.total;
    vec![
        format!("Session:    {id} (last request {})", last.ts),
        format!(
            "Routed to:  {}",
            routed_to(last.litellm_model_id.as_deref(), last.api_base.as_deref(), models)
        ),
        format!(
            "Requests:   {} ({} failed)",
            count(t.requests),
            count(t.errors)
        ),
        format!("Tokens:     {}", tokens_text(t)),
        format!("Cache hits: {}", hit_rates_text(t)),
        format!("Cost:       {}", cost_text(t, budget)),
        format!(
            "Rate limits: {}",
            rate_limits_text(last.rate_limits.as_ref())
        ),
    ]
}

/// "alive (LiteLLM 1.2.3)": the version from `/health/readiness`.
fn liveliness_text(version: Option<&str>) -> String {
    match version {
        Some(v) => format!("alive (LiteLLM {v})"),
        None => format!("alive (LiteLLM version {NOT_REPORTED})"),
    }
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
    // A bad value stops sessions at start-up, which says so; here it only
    // means there is no budget to show.
    let budget = max_session_cost(config.get("litellm")).ok().flatten();
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
            "litellm_version": readiness.as_ref().ok().and_then(|r| r.litellm_version.clone()),
            "session": session.as_ref().map(|(id, last, totals)| session_json(id, last, totals, budget)),
            "termux": termux_lines(),
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
    let version = readiness
        .as_ref()
        .ok()
        .and_then(|r| r.litellm_version.as_deref());
    out.push(match &liveliness {
        Ok(_) => format!("Health:     {}", liveliness_text(version)),
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
            "Model:      {m} (context {}, max output {}, {})",
            tokens(i.context_window),
            tokens(i.max_output_tokens),
            prices(i.input_cost_per_token, i.output_cost_per_token),
        )),
        (Some(m), None) => out.push(format!("Model:      {m} (not served by the proxy)")),
        (None, _) => out.push("Model:      none chosen (set [litellm].model or pass -m)".into()),
    }
    match &session {
        Some((id, last, totals)) => {
            let known = models.as_deref().unwrap_or_default();
            out.extend(session_text(id, last, totals, budget, known));
        }
        None => {
            out.push("Session:    none recorded yet (telemetry off, or no request made)".into())
        }
    }
    out.extend(termux_lines().unwrap_or_default());
    Ok(out.join("\n"))
}

/// On Termux, what differs there (TLS roots, temp dir, no sandbox); `None` elsewhere.
fn termux_lines() -> Option<Vec<String>> {
    crate::termux::current().map(|t| {
        t.status_lines(
            &|k| std::env::var(k).ok(),
            &|p| p.is_file(),
            &crate::termux::can_write,
        )
    })
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
        let doc = session_json("s1", &last, &totals, Some(2.0));
        assert_eq!(doc["requests"], 4);
        assert_eq!(doc["errors"], 1);
        assert_eq!(doc["tokens_cached"], 200);
        assert!((doc["cost_usd"].as_f64().unwrap() - 0.00092).abs() < 1e-12);
        assert_eq!(doc["hit_rates"]["tier0"], 25.0);
        assert_eq!(doc["routed_to"]["api_base"], "https://api.example.com/v1");
        assert_eq!(doc["budget_usd"], 2.0);
        assert!((doc["budget_left_usd"].as_f64().unwrap() - (2.0 - 0.00092)).abs() < 1e-12);
        assert!(doc["rate_limits"].is_null());
    }

    #[test]
    fn routing_never_shows_a_question_mark() {
        assert_eq!(routed_to(None, None, &[]), "not reported by the proxy");
        assert_eq!(
            routed_to(Some("fc734469999c0123"), Some("http://b/v1"), &[]),
            "deployment fc734469999c at http://b/v1"
        );
        let partial = routed_to(Some("abc"), None, &[]);
        assert!(partial.contains("not reported") && !partial.contains('?'), "{partial}");
    }

    #[test]
    fn routing_asks_the_proxys_model_info_when_the_headers_name_only_the_deployment() {
        let deployment = |id: &str, api_base: Option<&str>, model: Option<&str>| Deployment {
            id: id.into(),
            api_base: api_base.map(str::to_string),
            model: model.map(str::to_string),
        };
        let models = vec![ModelInfo {
            deployments: vec![
                deployment("fc734469999c0123", Some("http://backend:9000/v1"), Some("openai/m")),
                deployment("aaaa00000000ffff", None, Some("openai/gpt-4o")),
            ],
            ..ModelInfo::new("m")
        }];
        assert_eq!(
            routed_to(Some("fc734469999c0123"), None, &models),
            "deployment fc734469999c at http://backend:9000/v1"
        );
        // Headers may carry a shortened id; a deployment without an api base goes to its provider's default.
        assert_eq!(
            routed_to(Some("aaaa00000000"), None, &models),
            "deployment aaaa00000000 at the default endpoint of openai/gpt-4o"
        );
        // The header wins over the listing, and an unknown id still says what is missing.
        assert_eq!(
            routed_to(Some("fc734469999c0123"), Some("http://other/v1"), &models),
            "deployment fc734469999c at http://other/v1"
        );
        assert!(routed_to(Some("zzz"), None, &models).contains("not reported"));
    }

    fn totals(requests: u64, errors: u64, cost: f64, uncosted: u64) -> Totals {
        Totals {
            requests,
            errors,
            tokens_in: 12_345,
            tokens_cached: 2_000,
            tokens_out: 678,
            tokens_reasoning: 0,
            cost_usd: cost,
            uncosted_requests: uncosted,
            cache_hits: crate::cost::CacheHits {
                tier0: 1,
                litellm: 0,
                provider: 1,
            },
        }
    }

    fn meta_with(version: Option<&str>, rate_limits: RateLimits) -> ProxyMeta {
        ProxyMeta {
            model_id: Some("fc734469999c0123".into()),
            api_base: None,
            version: version.map(str::to_string),
            rate_limits,
            ..ProxyMeta::default()
        }
    }

    fn value<'a>(lines: &'a [(&'static str, String)], label: &str) -> Option<&'a str> {
        lines
            .iter()
            .find(|(l, _)| *l == label)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn tui_lines_show_proxy_health_usage_cost_and_limits() {
        let limits = RateLimits {
            limit_requests: Some(5000),
            remaining_requests: Some(4999),
            reset_requests: Some("12ms".into()),
            remaining_tokens: Some(159_976),
            ..RateLimits::default()
        };
        let meta = meta_with(Some("1.77.5"), limits);
        let lines = lines(
            "http://127.0.0.1:4000/v1",
            &ProxyHealth::Reachable,
            Some(&meta),
            &totals(4, 1, 0.0123, 0),
            Some(2.0),
            &[],
        );
        let labels: Vec<&str> = lines.iter().map(|(l, _)| *l).collect();
        assert_eq!(
            labels,
            [
                "LiteLLM proxy",
                "Proxy health",
                "Routed to",
                "Requests",
                "Cache hits",
                "Tokens",
                "Cost",
                "Rate limits"
            ]
        );
        assert_eq!(value(&lines, "LiteLLM proxy"), Some("http://127.0.0.1:4000/v1"));
        assert_eq!(value(&lines, "Proxy health"), Some("reachable (LiteLLM 1.77.5)"));
        assert_eq!(
            value(&lines, "Routed to"),
            Some("deployment fc734469999c at (api base not reported by the proxy)")
        );
        assert_eq!(value(&lines, "Requests"), Some("4 (1 failed)"));
        assert_eq!(
            value(&lines, "Cache hits"),
            Some("local 25% · LiteLLM 0% · provider prompt cache 25%")
        );
        assert_eq!(value(&lines, "Tokens"), Some("12,345 in (2,000 cached) · 678 out"));
        assert_eq!(
            value(&lines, "Cost"),
            Some("$0.0123 of $2.0000 budget, $1.9877 left")
        );
        assert_eq!(
            value(&lines, "Rate limits"),
            Some("4,999 of 5,000 requests left (resets in 12ms) · 159,976 tokens left")
        );
        for (label, v) in &lines {
            assert!(!v.contains('?'), "{label}: {v}");
        }
    }

    #[test]
    fn tui_lines_before_any_answer_and_after_a_transport_error() {
        let fresh = lines("http://p/v1", &ProxyHealth::NotAsked, None, &Totals::default(), None, &[]);
        assert_eq!(value(&fresh, "Proxy health"), Some("no request sent yet"));
        assert_eq!(
            value(&fresh, "Routed to"),
            Some("no request has reached the proxy yet")
        );
        assert_eq!(value(&fresh, "Cost"), Some("$0.0000"));
        // No answer yet: no rate limits to speak of.
        assert_eq!(value(&fresh, "Rate limits"), None);

        let down = ProxyHealth::Unreachable(
            "could not connect to the LiteLLM proxy at http://p/v1 (connection refused)".into(),
        );
        let meta = meta_with(None, RateLimits::default());
        let lines = lines("http://p/v1", &down, Some(&meta), &totals(2, 1, 0.0, 1), None, &[]);
        assert_eq!(
            value(&lines, "Proxy health"),
            Some("unreachable: could not connect to the LiteLLM proxy at http://p/v1 (connection refused)")
        );
        assert_eq!(value(&lines, "Rate limits"), Some("not reported by the proxy"));
        assert_eq!(value(&lines, "Cost"), Some("at least $0.0000"));
        assert_eq!(
            health_text(&ProxyHealth::Reachable, Some(&meta)),
            "reachable (LiteLLM version not reported by the proxy)"
        );
        assert_eq!(
            health_text(&ProxyHealth::Reachable, None),
            "reachable (LiteLLM version not reported by the proxy)"
        );
    }

    #[test]
    fn cost_against_the_budget() {
        assert_eq!(cost_text(&totals(1, 0, 0.0123, 0), None), "$0.0123");
        assert_eq!(cost_text(&totals(1, 0, 0.00042, 0), None), "$0.000420");
        assert_eq!(
            cost_text(&totals(1, 0, 0.5, 1), Some(2.0)),
            "at least $0.5000 of $2.0000 budget, at most $1.5000 left"
        );
        // The e2e's budget: a sub-cent limit reads as itself, not as "$0.00".
        assert_eq!(
            cost_text(&totals(1, 0, 0.000004, 0), Some(0.00001)),
            "$0.000004 of $0.000010 budget, $0.000006 left"
        );
        let spent = cost_text(&totals(1, 0, 2.01, 0), Some(2.0));
        assert!(
            spent.starts_with("$2.0100 of $2.0000 budget, none left")
                && spent.contains("max_session_cost_usd"),
            "{spent}"
        );
    }

    #[test]
    fn rate_limit_resets_read_as_waits_or_times() {
        assert_eq!(reset_text("6m0s"), "in 6m0s");
        assert_eq!(reset_text("30"), "in 30s");
        assert_eq!(reset_text("1736000000"), "at 14:13:20 UTC");
        assert_eq!(rate_limits_text(None), "not reported by the proxy");
        let only_limit = RateLimits {
            limit_tokens: Some(1000),
            reset_tokens: Some("1s".into()),
            ..RateLimits::default()
        };
        assert_eq!(rate_limits_text(Some(&only_limit)), "limit 1,000 tokens (resets in 1s)");
    }

    #[test]
    fn status_command_session_lines() {
        let mut totals = SessionTotals::new();
        totals.add(
            "m",
            &crate::cost::RequestOutcome {
                error: false,
                usage: Some(crate::usage::Usage {
                    input_tokens: 1500,
                    cached_input_tokens: 500,
                    output_tokens: 20,
                    reasoning_output_tokens: 0,
                    total_tokens: 1520,
                }),
                cost_usd: Some(0.25),
                cache_tier: Some(CacheTier::Provider),
            },
        );
        let last = RequestRecord {
            session_id: "s9".into(),
            ts: "2026-11-24T10:00:00.000Z".into(),
            rate_limits: Some(RateLimits {
                remaining_requests: Some(7),
                ..RateLimits::default()
            }),
            ..RequestRecord::default()
        };
        let text = session_text("s9", &last, &totals, Some(1.0), &[]).join("\n");
        for expected in [
            "Session:    s9 (last request 2026-11-24T10:00:00.000Z)",
            "Routed to:  not reported by the proxy",
            "Requests:   1 (0 failed)",
            "Tokens:     1,500 in (500 cached) · 20 out",
            "Cache hits: local 0% · LiteLLM 0% · provider prompt cache 100%",
            "Cost:       $0.2500 of $1.0000 budget, $0.7500 left",
            "Rate limits: 7 requests left",
        ] {
            assert!(text.lines().any(|l| l == expected), "missing {expected:?} in\n{text}");
        }
        assert!(!text.contains('?'), "{text}");
        assert_eq!(liveliness_text(Some("1.77.5")), "alive (LiteLLM 1.77.5)");
        assert_eq!(
            liveliness_text(None),
            "alive (LiteLLM version not reported by the proxy)"
        );
    }

    #[test]
    fn no_litellm_session_without_a_runtime() {
        // Tests never install the process-wide runtime.
        assert!(!is_litellm_session());
        assert!(status_lines().is_empty());
    }
}
