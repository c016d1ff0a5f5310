//! What a request costs and leaves on record: its cost (LiteLLM's figure,
//! else tokens times prices), the session's totals and budget, and its
//! telemetry line. Every request ends here once, whichever way it ended
//! (answered, refused, broken off, answered from tier 0, stopped by the
//! budget), so `/status`, the budget and `codex-litellm telemetry` add up
//! the same requests.

use std::time::Instant;

use serde_json::Value;
use serde_json::json;

use super::runtime::Runtime;
use super::verdict::Verdict;
use crate::canonical::request_key;
use crate::cost::CacheTier;
use crate::cost::CostSource;
use crate::cost::request_cost;
use crate::formatting::money;
use crate::headers::ProxyMeta;
use crate::telemetry::RequestRecord;
use crate::telemetry::STATUS_ERROR;
use crate::telemetry::STATUS_OK;
use crate::telemetry::now_rfc3339;
use crate::usage::Usage;

/// `wire_api` of every record: upstream has no other wire API any more.
const WIRE_API: &str = "responses";

/// What is known about a request when it starts.
pub(super) struct Pending {
    started: Instant,
    seq: u64,
    pub(super) model: String,
    /// The canonical key of the body sent (tier 0, attempts).
    pub(super) key: String,
    /// For the debug log only: the end of the request's newest input item
    /// (what the user said, or a tool's output), redacted with the rest.
    last_input: Option<String>,
}

impl Pending {
    /// A request to `model` with `body` (already shaped), started at `started`.
    pub(super) fn start(rt: &Runtime, started: Instant, model: String, body: &Value) -> Self {
        Self {
            started,
            seq: rt.next_seq(),
            key: request_key(body),
            last_input: rt
                .telemetry
                .as_ref()
                .filter(|t| t.debug_enabled())
                .and_then(|_| last_input_excerpt(body)),
            model,
        }
    }
}

/// How a request ended, as far as accounting cares.
pub(super) struct Outcome {
    pub(super) http_status: Option<u16>,
    pub(super) meta: ProxyMeta,
    pub(super) usage: Option<Usage>,
    pub(super) body_cost: Option<f64>,
    pub(super) tier: Option<CacheTier>,
    pub(super) error: Option<String>,
}

impl Outcome {
    pub(super) fn error(http_status: Option<u16>, message: String) -> Self {
        Self {
            http_status,
            meta: ProxyMeta::default(),
            usage: None,
            body_cost: None,
            tier: None,
            error: Some(message),
        }
    }
}

/// Records one finished request: session totals and the telemetry line.
pub(super) fn finish(rt: &Runtime, pending: &Pending, outcome: Outcome) {
    if outcome.error.is_some() {
        rt.forget_discovery();
    }
    let info = rt.model_info(&pending.model);
    let tier = outcome
        .tier
        .or_else(|| CacheTier::detect(false, Some(&outcome.meta), outcome.usage.as_ref()));
    let (cost, source) = if outcome.error.is_some() {
        (None, CostSource::None)
    } else if matches!(tier, Some(CacheTier::Tier0 | CacheTier::Litellm)) {
        // Answered from a cache: nothing was spent, whatever the stored usage says.
        (Some(0.0), CostSource::None)
    } else {
        request_cost(
            outcome.meta.response_cost,
            outcome.body_cost,
            outcome.usage.as_ref(),
            info,
        )
    };
    let mut record = RequestRecord {
        ts: now_rfc3339(),
        session_id: rt.session_id.clone(),
        seq: pending.seq,
        model: pending.model.clone(),
        wire_api: WIRE_API.to_string(),
        litellm_model_id: outcome.meta.model_id.clone(),
        api_base: outcome.meta.api_base.clone(),
        call_id: outcome.meta.call_id.clone(),
        latency_ms: u64::try_from(pending.started.elapsed().as_millis()).unwrap_or(u64::MAX),
        status: if outcome.error.is_some() {
            STATUS_ERROR
        } else {
            STATUS_OK
        }
        .to_string(),
        http_status: outcome.http_status,
        tokens_in: 0,
        tokens_cached: 0,
        tokens_out: 0,
        tokens_reasoning: 0,
        cost_usd: cost,
        cost_source: source,
        cache_tier: tier.map(|t| t.as_str().to_string()),
        tier0_key: pending.key.clone(),
        error: outcome.error.clone(),
        rate_limits: (!outcome.meta.rate_limits.is_empty())
            .then(|| outcome.meta.rate_limits.clone()),
    };
    if let Some(usage) = &outcome.usage {
        record.set_usage(usage);
    }
    if let Ok(mut totals) = rt.totals.lock() {
        totals.add(&pending.model, &record.outcome());
    }
    if let Some(telemetry) = &rt.telemetry {
        if let Err(err) = telemetry.record(&record) {
            tracing::warn!("telemetry: {err}");
        }
        telemetry.debug(
            "request",
            json!({"seq": pending.seq, "model": pending.model, "status": record.status, "latency_ms": record.latency_ms, "cache_tier": record.cache_tier, "call_id": record.call_id, "last_input": pending.last_input, "error": record.error}),
        );
    }
}

/// The last 300 characters of the newest `input` item's text: a message's
/// text parts or a tool call's output. Enough to tell requests apart in the
/// debug log; the telemetry writer redacts it like every other string.
fn last_input_excerpt(body: &Value) -> Option<String> {
    const KEEP: usize = 300;
    let item = body.get("input")?.as_array()?.last()?;
    let text = match item.get("output").or_else(|| item.get("content"))? {
        Value::String(text) => text.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(" "),
        other => other.to_string(),
    };
    let chars: Vec<char> = text.chars().collect();
    let start = chars.len().saturating_sub(KEEP);
    Some(chars[start..].iter().collect())
}

/// The stop when the session has spent its budget (`[litellm].max_session_cost_usd`),
/// checked before each request is sent.
pub(super) fn budget_spent(rt: &Runtime) -> Option<Verdict> {
    let limit = rt.max_session_cost_usd?;
    let spent = rt.totals.lock().map(|t| t.total.cost_usd).unwrap_or(0.0);
    (spent >= limit).then(|| Verdict::Stop {
        message: budget_message(spent, limit),
    })
}

/// Why the session stopped at its budget, with the figure and how to go on.
fn budget_message(spent: f64, limit: f64) -> String {
    let raised = limit * 2.0;
    let raised = if raised < 0.01 {
        format!("{raised:.6}")
    } else {
        format!("{raised:.2}")
    };
    format!(
        "codex-litellm stopped before sending the next request: this session has cost {}, which reaches [litellm].max_session_cost_usd = {}. To go on, raise the limit (for one run: `-c litellm.max_session_cost_usd={raised}`; for good: max_session_cost_usd under [litellm] in config.toml), then run `codex-litellm resume --last`.",
        money(spent),
        money(limit),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn debug_excerpt_is_the_end_of_the_newest_input() {
        let body = json!({"input": [
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "first"}]},
            {"type": "function_call_output", "call_id": "c", "output": "a.txt\nsk-live-abc\n"}
        ]});
        assert_eq!(last_input_excerpt(&body).as_deref(), Some("a.txt\nsk-live-abc\n"));
        let long = "x".repeat(1000) + "END";
        let body = json!({"input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": long}]}]});
        let excerpt = last_input_excerpt(&body).unwrap();
        assert_eq!(excerpt.chars().count(), 300);
        assert!(excerpt.ends_with("END"));
        assert_eq!(last_input_excerpt(&json!({"model": "m"})), None);
    }
}
