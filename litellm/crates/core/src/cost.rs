//! What a request cost, and running totals for a session (`/status`).
//!
//! LiteLLM knows prices better than we do (negotiated rates, custom pricing
//! in its config), so its own figure wins whenever it gives one: first the
//! `x-litellm-response-cost` header, then the `usage.cost` it writes into
//! stream bodies (streaming answers cannot carry the header: headers leave
//! before the cost is known). Only when neither is present do we multiply
//! token counts by the `/model/info` prices ourselves.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde::Serialize;

use crate::model_info::ModelInfo;
use crate::headers::ProxyMeta;
use crate::usage::Usage;

/// Where a request's cost came from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CostSource {
    /// `x-litellm-response-cost`.
    Header,
    /// `usage.cost` in the response body.
    Usage,
    /// Token counts × `/model/info` prices.
    Prices,
    /// Unknown (no figure and no prices). Also what an unrecognised value
    /// in an old telemetry file reads as.
    #[default]
    #[serde(other)]
    None,
}

impl CostSource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Header => "header",
            Self::Usage => "usage",
            Self::Prices => "prices",
            Self::None => "none",
        }
    }
}

/// The cost of one request in USD and where the figure came from: the
/// header, else the body's `usage.cost`, else tokens × prices. Negative or
/// non-finite figures are ignored (LiteLLM sends garbage for unknown models
/// on some versions).
///
/// Priced as `(input − cached) × input + cached × cache_read + output ×
/// output`, with the input price standing in for a missing cache-read price.
/// Reasoning tokens are already part of `output_tokens` in OpenAI-style
/// usage, so they are not added again.
pub fn request_cost(
    header_cost: Option<f64>,
    body_cost: Option<f64>,
    usage: Option<&Usage>,
    model: Option<&ModelInfo>,
) -> (Option<f64>, CostSource) {
    let valid = |c: Option<f64>| c.filter(|c| c.is_finite() && *c >= 0.0);
    if let Some(cost) = valid(header_cost) {
        return (Some(cost), CostSource::Header);
    }
    if let Some(cost) = valid(body_cost) {
        return (Some(cost), CostSource::Usage);
    }
    match (usage, model) {
        (Some(usage), Some(model)) => match priced(usage, model) {
            Some(cost) => (Some(cost), CostSource::Prices),
            None => (None, CostSource::None),
        },
        _ => (None, CostSource::None),
    }
}

/// Tokens × prices. A price may be missing only when its token count is
/// zero; otherwise the cost is unknown rather than silently too low.
fn priced(usage: &Usage, model: &ModelInfo) -> Option<f64> {
    let cached = usage.cached_input_tokens.min(usage.input_tokens);
    let uncached = usage.input_tokens - cached;
    let price = |tokens: u64, price: Option<f64>| -> Option<f64> {
        match (tokens, price.filter(|p| p.is_finite() && *p >= 0.0)) {
            (0, _) => Some(0.0),
            (n, Some(p)) => Some(n as f64 * p),
            (_, None) => None,
        }
    };
    let cache_price = model
        .cache_read_input_token_cost
        .or(model.input_cost_per_token);
    // At least one real price must exist: an all-zero usage on a model with
    // no prices is "unknown", not "free".
    if model.input_cost_per_token.is_none() && model.output_cost_per_token.is_none() {
        return None;
    }
    Some(
        price(uncached, model.input_cost_per_token)?
            + price(cached, cache_price)?
            + price(usage.output_tokens, model.output_cost_per_token)?,
    )
}

/// Which cache answered (fully or partly) a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CacheTier {
    /// Our local exact-match cache: no request left the machine.
    Tier0,
    /// LiteLLM's response cache: the proxy answered without the provider.
    Litellm,
    /// The provider's prompt cache: part of the input was billed as cached.
    Provider,
}

impl CacheTier {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tier0 => "tier0",
            Self::Litellm => "litellm",
            Self::Provider => "provider",
        }
    }

    /// Parses what [`CacheTier::as_str`] writes.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "tier0" => Some(Self::Tier0),
            "litellm" => Some(Self::Litellm),
            "provider" => Some(Self::Provider),
            _ => None,
        }
    }

    /// The outermost cache that served a request: our own, else LiteLLM's
    /// (the proxy only sends `x-litellm-cache-key` when its cache was
    /// involved), else the provider's prompt cache (cached input tokens).
    pub fn detect(
        tier0_hit: bool,
        meta: Option<&ProxyMeta>,
        usage: Option<&Usage>,
    ) -> Option<Self> {
        if tier0_hit {
            Some(Self::Tier0)
        } else if meta.is_some_and(|m| m.cache_key.is_some()) {
            Some(Self::Litellm)
        } else if usage.is_some_and(|u| u.cached_input_tokens > 0) {
            Some(Self::Provider)
        } else {
            None
        }
    }
}

/// Hits per cache tier.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheHits {
    pub tier0: u64,
    pub litellm: u64,
    pub provider: u64,
}

/// Counters for a set of requests (one model, or all of them).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    pub requests: u64,
    pub errors: u64,
    pub tokens_in: u64,
    pub tokens_cached: u64,
    pub tokens_out: u64,
    pub tokens_reasoning: u64,
    /// Sum of the known costs, USD.
    pub cost_usd: f64,
    /// Requests whose cost is unknown; when non-zero `cost_usd` is a lower
    /// bound, and `/status` should say so.
    pub uncosted_requests: u64,
    pub cache_hits: CacheHits,
}

impl Totals {
    pub(crate) fn add(&mut self, outcome: &RequestOutcome) {
        self.requests += 1;
        if outcome.error {
            self.errors += 1;
        }
        if let Some(usage) = &outcome.usage {
            self.tokens_in += usage.input_tokens;
            self.tokens_cached += usage.cached_input_tokens;
            self.tokens_out += usage.output_tokens;
            self.tokens_reasoning += usage.reasoning_output_tokens;
        }
        match outcome.cost_usd {
            Some(cost) => self.cost_usd += cost,
            // A failed request that used no tokens costs nothing; it is not
            // an unknown cost.
            None if outcome.usage.is_some() || !outcome.error => self.uncosted_requests += 1,
            None => {}
        }
        match outcome.cache_tier {
            Some(CacheTier::Tier0) => self.cache_hits.tier0 += 1,
            Some(CacheTier::Litellm) => self.cache_hits.litellm += 1,
            Some(CacheTier::Provider) => self.cache_hits.provider += 1,
            None => {}
        }
    }

    /// Share of requests served by `tier`, in percent (0 when there were no
    /// requests).
    pub fn hit_rate_percent(&self, tier: CacheTier) -> f64 {
        if self.requests == 0 {
            return 0.0;
        }
        let hits = match tier {
            CacheTier::Tier0 => self.cache_hits.tier0,
            CacheTier::Litellm => self.cache_hits.litellm,
            CacheTier::Provider => self.cache_hits.provider,
        };
        hits as f64 * 100.0 / self.requests as f64
    }
}

/// What one finished request contributes to the totals.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RequestOutcome {
    pub error: bool,
    pub usage: Option<Usage>,
    pub cost_usd: Option<f64>,
    pub cache_tier: Option<CacheTier>,
}

/// Running totals of one Codex session, in total and per model. Plain data
/// so `/status` can print or serialise it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SessionTotals {
    pub total: Totals,
    /// Keyed by the model name Codex asked for; sorted for stable output.
    pub per_model: BTreeMap<String, Totals>,
}

impl SessionTotals {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one request made to `model`.
    pub fn add(&mut self, model: &str, outcome: &RequestOutcome) {
        self.total.add(outcome);
        self.per_model
            .entry(model.to_string())
            .or_default()
            .add(outcome);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn priced_model() -> ModelInfo {
        ModelInfo {
            input_cost_per_token: Some(1e-6),
            output_cost_per_token: Some(2e-6),
            cache_read_input_token_cost: Some(5e-7),
            ..ModelInfo::new("m")
        }
    }

    fn usage(input: u64, cached: u64, output: u64, reasoning: u64) -> Usage {
        Usage {
            input_tokens: input,
            cached_input_tokens: cached,
            output_tokens: output,
            reasoning_output_tokens: reasoning,
            total_tokens: input + output,
        }
    }

    fn close(a: Option<f64>, b: f64) -> bool {
        a.is_some_and(|a| (a - b).abs() < 1e-15)
    }

    #[test]
    fn header_then_body_then_prices() {
        let u = usage(1000, 0, 100, 0);
        let m = priced_model();
        assert_eq!(
            request_cost(Some(0.5), Some(0.25), Some(&u), Some(&m)),
            (Some(0.5), CostSource::Header)
        );
        assert_eq!(
            request_cost(None, Some(0.25), Some(&u), Some(&m)),
            (Some(0.25), CostSource::Usage)
        );
        // Garbage figures fall through to the next source.
        assert_eq!(
            request_cost(Some(f64::NAN), Some(-1.0), Some(&u), Some(&m)).1,
            CostSource::Prices
        );
        // A cache hit LiteLLM reports as free is free.
        assert_eq!(
            request_cost(Some(0.0), None, None, None),
            (Some(0.0), CostSource::Header)
        );
        assert_eq!(
            request_cost(None, None, Some(&u), None),
            (None, CostSource::None)
        );
        assert_eq!(
            request_cost(None, None, None, Some(&m)),
            (None, CostSource::None)
        );
    }

    #[test]
    fn price_arithmetic() {
        let m = priced_model();
        // 1000 in × 1e-6 + 100 out × 2e-6 = 0.001 + 0.0002.
        let (cost, source) = request_cost(None, None, Some(&usage(1000, 0, 100, 0)), Some(&m));
        assert_eq!(source, CostSource::Prices);
        assert!(close(cost, 0.0012), "{cost:?}");
        // 400 cached: 600 × 1e-6 + 400 × 5e-7 + 100 × 2e-6 = 0.0006 + 0.0002 + 0.0002.
        let (cost, _) = request_cost(None, None, Some(&usage(1000, 400, 100, 0)), Some(&m));
        assert!(close(cost, 0.001), "{cost:?}");
        // Reasoning tokens are inside output tokens: same price as without.
        let (cost, _) = request_cost(None, None, Some(&usage(1000, 400, 100, 80)), Some(&m));
        assert!(close(cost, 0.001), "{cost:?}");
        // No cache price: cached tokens at the input price.
        let no_cache_price = ModelInfo {
            cache_read_input_token_cost: None,
            ..priced_model()
        };
        let (cost, _) = request_cost(
            None,
            None,
            Some(&usage(1000, 400, 100, 0)),
            Some(&no_cache_price),
        );
        assert!(close(cost, 0.0012), "{cost:?}");
        // More cached than input (buggy provider) is clamped.
        let (cost, _) = request_cost(None, None, Some(&usage(100, 500, 0, 0)), Some(&m));
        assert!(close(cost, 0.00005), "{cost:?}");
    }

    #[test]
    fn missing_prices_make_the_cost_unknown() {
        let only_input = ModelInfo {
            input_cost_per_token: Some(1e-6),
            ..ModelInfo::new("m")
        };
        // Output tokens without an output price: unknown, not too low.
        assert_eq!(
            request_cost(None, None, Some(&usage(10, 0, 5, 0)), Some(&only_input)),
            (None, CostSource::None)
        );
        // No output tokens: the missing output price does not matter.
        let (cost, source) = request_cost(None, None, Some(&usage(10, 0, 0, 0)), Some(&only_input));
        assert_eq!(source, CostSource::Prices);
        assert!(close(cost, 0.00001), "{cost:?}");
        assert_eq!(
            request_cost(
                None,
                None,
                Some(&usage(0, 0, 0, 0)),
                Some(&ModelInfo::new("m"))
            ),
            (None, CostSource::None)
        );
    }

    #[test]
    fn totals_accumulate_per_model_and_in_total() {
        let mut totals = SessionTotals::new();
        totals.add(
            "a",
            &RequestOutcome {
                usage: Some(usage(1000, 400, 100, 30)),
                cost_usd: Some(0.001),
                cache_tier: Some(CacheTier::Provider),
                ..RequestOutcome::default()
            },
        );
        totals.add(
            "a",
            &RequestOutcome {
                usage: Some(usage(500, 0, 50, 0)),
                cost_usd: Some(0.0),
                cache_tier: Some(CacheTier::Tier0),
                ..RequestOutcome::default()
            },
        );
        totals.add(
            "b",
            &RequestOutcome {
                error: true,
                ..RequestOutcome::default()
            },
        );
        totals.add(
            "b",
            &RequestOutcome {
                usage: Some(usage(10, 0, 5, 0)),
                cache_tier: Some(CacheTier::Litellm),
                ..RequestOutcome::default()
            },
        );
        let a = &totals.per_model["a"];
        assert_eq!(a.requests, 2);
        assert_eq!(a.errors, 0);
        assert_eq!(a.tokens_in, 1500);
        assert_eq!(a.tokens_cached, 400);
        assert_eq!(a.tokens_out, 150);
        assert_eq!(a.tokens_reasoning, 30);
        assert!((a.cost_usd - 0.001).abs() < 1e-15);
        assert_eq!(a.uncosted_requests, 0);
        assert_eq!(
            a.cache_hits,
            CacheHits {
                tier0: 1,
                litellm: 0,
                provider: 1
            }
        );
        let b = &totals.per_model["b"];
        assert_eq!((b.requests, b.errors, b.uncosted_requests), (2, 1, 1));
        let t = &totals.total;
        assert_eq!(
            (t.requests, t.errors, t.tokens_in, t.tokens_out),
            (4, 1, 1510, 155)
        );
        assert_eq!(t.uncosted_requests, 1);
        assert_eq!(t.hit_rate_percent(CacheTier::Tier0), 25.0);
        assert_eq!(t.hit_rate_percent(CacheTier::Litellm), 25.0);
        assert_eq!(t.hit_rate_percent(CacheTier::Provider), 25.0);
        assert_eq!(Totals::default().hit_rate_percent(CacheTier::Tier0), 0.0);

        let json = serde_json::to_value(&totals).unwrap();
        assert_eq!(json["total"]["cache_hits"]["tier0"], 1);
        assert_eq!(json["per_model"]["b"]["errors"], 1);
        let back: SessionTotals = serde_json::from_value(json).unwrap();
        assert_eq!(back, totals);
    }

    #[test]
    fn cache_tier_detection_and_names() {
        let hit = ProxyMeta {
            cache_key: Some("k".into()),
            ..ProxyMeta::default()
        };
        let cached = usage(100, 50, 1, 0);
        assert_eq!(
            CacheTier::detect(true, Some(&hit), Some(&cached)),
            Some(CacheTier::Tier0)
        );
        assert_eq!(
            CacheTier::detect(false, Some(&hit), Some(&cached)),
            Some(CacheTier::Litellm)
        );
        assert_eq!(
            CacheTier::detect(false, Some(&ProxyMeta::default()), Some(&cached)),
            Some(CacheTier::Provider)
        );
        assert_eq!(
            CacheTier::detect(false, None, Some(&usage(1, 0, 1, 0))),
            None
        );
        for tier in [CacheTier::Tier0, CacheTier::Litellm, CacheTier::Provider] {
            assert_eq!(CacheTier::parse(tier.as_str()), Some(tier));
            assert_eq!(serde_json::to_value(tier).unwrap(), tier.as_str());
        }
        for source in [
            CostSource::Header,
            CostSource::Usage,
            CostSource::Prices,
            CostSource::None,
        ] {
            assert_eq!(serde_json::to_value(source).unwrap(), source.as_str());
        }
        let unknown: CostSource = serde_json::from_str("\"estimate\"").unwrap();
        assert_eq!(unknown, CostSource::None);
    }
}
