//! The session's side of every request: what start-up set up once (the
//! proxy's URL and models, the caches, telemetry, the budget) and what
//! requests leave behind for the next one and for `/status` (totals, the
//! last routing headers, the proxy's health, models that refuse reasoning,
//! the count of failed attempts). Process-wide, installed once, because
//! upstream's transport calls [`super::exchange`] with nothing of ours.

use std::collections::HashSet;
use std::path::Path;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::OnceLock;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering;
use std::time::Duration;
use std::time::Instant;

use serde_json::Value;

use crate::cost::SessionTotals;
use crate::model_info::ModelInfo;
use crate::headers::ProxyMeta;
use crate::headers::parse_proxy_headers;
use crate::redaction::excerpt;
use crate::telemetry::Telemetry;
use crate::tier0::Tier0Cache;

/// A failure record older than this is not continued by a new failure.
const ATTEMPTS_FORGOTTEN_AFTER: Duration = Duration::from_secs(600);

/// Everything a request needs, set up once by start-up.
pub struct Runtime {
    pub session_id: String,
    /// Our provider's base URL (e.g. `http://127.0.0.1:4000/v1`): requests
    /// under it are ours, all others pass through untouched.
    pub base_url: String,
    pub telemetry: Option<Telemetry>,
    pub tier0: Option<Tier0Cache>,
    pub models: Vec<ModelInfo>,
    /// `[litellm.cache]` minus our own keys: sent as the body's `cache` object.
    pub proxy_cache: Option<Value>,
    pub max_session_cost_usd: Option<f64>,
    pub totals: Mutex<SessionTotals>,
    pub last_meta: Mutex<Option<ProxyMeta>>,
    /// Whether the last request reached the proxy (for `/status`).
    pub health: Mutex<ProxyHealth>,
    /// Models the proxy refused reasoning parameters for (HTTP 400); their
    /// later requests go without them instead of failing once each.
    no_reasoning: Mutex<HashSet<String>>,
    /// CODEX_HOME whose discovery cache a failed request forgets, so the
    /// next start asks the proxy again (a renamed model, a revoked key).
    discovery_home: Option<PathBuf>,
    /// The session's key: never shown (every quote of proxy text is
    /// redacted with it), used only to ask the proxy for its models again.
    api_key: Option<String>,
    /// Consecutive failed attempts of the current request (see
    /// [`super::verdict`]).
    attempts: Mutex<Attempts>,
    seq: AtomicU64,
}

impl Runtime {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        session_id: String,
        base_url: String,
        telemetry: Option<Telemetry>,
        tier0: Option<Tier0Cache>,
        models: Vec<ModelInfo>,
        proxy_cache: Option<Value>,
        max_session_cost_usd: Option<f64>,
    ) -> Self {
        Self {
            session_id,
            base_url,
            telemetry,
            tier0,
            models,
            proxy_cache,
            max_session_cost_usd,
            totals: Mutex::new(SessionTotals::new()),
            last_meta: Mutex::new(None),
            health: Mutex::new(ProxyHealth::default()),
            no_reasoning: Mutex::new(HashSet::new()),
            discovery_home: None,
            api_key: None,
            attempts: Mutex::new(Attempts::default()),
            seq: AtomicU64::new(0),
        }
    }

    /// The session's API key: redacted from every message, and used to list
    /// the proxy's models again when it no longer serves the session's one.
    pub fn with_api_key(mut self, api_key: Option<String>) -> Self {
        self.api_key = api_key.filter(|k| !k.is_empty());
        self
    }

    /// A failed request forgets the discovery cache under `codex_home`.
    pub fn forget_discovery_on_failure(mut self, codex_home: &Path) -> Self {
        self.discovery_home = Some(codex_home.to_path_buf());
        self
    }

    /// Whether `url` is under our provider's base URL. A bare prefix test
    /// would also claim `…/v10/…` for `…/v1`, so the match must end at a
    /// path boundary.
    pub fn serves(&self, url: &str) -> bool {
        let base = self.base_url.trim_end_matches('/');
        !base.is_empty()
            && url
                .strip_prefix(base)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(['/', '?']))
    }

    /// The number of the next request of the session, from 1.
    pub(super) fn next_seq(&self) -> u64 {
        self.seq.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// The session's key, to ask the proxy again; never to be shown.
    pub(super) fn api_key(&self) -> Option<&str> {
        self.api_key.as_deref()
    }

    /// `text` shortened and with credentials (the session's key first) removed.
    pub(super) fn quote(&self, text: &str) -> String {
        excerpt(text, self.api_key.as_slice())
    }

    /// Counts a failed attempt of the request `key`; its number, from 1.
    pub(super) fn attempt(&self, key: &str) -> u64 {
        self.attempts
            .lock()
            .map(|mut a| a.fail(key, Instant::now()))
            .unwrap_or(1)
    }

    pub(super) fn forget_attempts(&self) {
        if let Ok(mut attempts) = self.attempts.lock() {
            attempts.reset();
        }
    }

    /// After a failed request: the next start asks the proxy for its models
    /// again instead of trusting the discovery cache.
    pub(super) fn forget_discovery(&self) {
        if let Some(home) = &self.discovery_home {
            crate::discovery::invalidate_cache(home);
        }
    }

    pub(super) fn model_info(&self, model: &str) -> Option<&ModelInfo> {
        self.models.iter().find(|m| m.id == model)
    }

    pub(super) fn refuses_reasoning(&self, model: &str) -> bool {
        self.no_reasoning
            .lock()
            .is_ok_and(|models| models.contains(model))
    }

    /// `model`'s later requests go without reasoning parameters.
    pub(super) fn stop_sending_reasoning(&self, model: &str) {
        if let Ok(mut models) = self.no_reasoning.lock() {
            models.insert(model.to_string());
        }
    }

    /// LiteLLM's routing, version and rate-limit headers, remembered for
    /// /status; an answer also proves the proxy reachable.
    pub(super) fn note_answer(&self, headers: &reqwest::header::HeaderMap) -> ProxyMeta {
        let meta = parse_proxy_headers(
            headers
                .iter()
                .filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str(), v))),
        );
        if let Ok(mut last) = self.last_meta.lock() {
            *last = Some(meta.clone());
        }
        if let Ok(mut health) = self.health.lock() {
            *health = ProxyHealth::Reachable;
        }
        meta
    }

    /// The last request got no answer at all; `message` says why.
    pub(super) fn note_unreachable(&self, message: &str) {
        if let Ok(mut health) = self.health.lock() {
            *health = ProxyHealth::Unreachable(message.to_string());
        }
    }
}

/// Whether requests reach the proxy, as the last one found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ProxyHealth {
    /// No request has been sent to the proxy yet (tier-0 hits and budget
    /// stops send none).
    #[default]
    NotAsked,
    /// The last request got an HTTP answer, whatever its status: the proxy
    /// is up, even when it refused the request.
    Reachable,
    /// The last request got no answer; the message names the URL and says
    /// what to do.
    Unreachable(String),
}

/// Consecutive failed attempts of one request (by its canonical key): a
/// retry sends the same body, so the same key, and upstream counts its
/// retries per turn the same way.
#[derive(Debug, Default)]
pub struct Attempts {
    key: String,
    failures: u64,
    last: Option<Instant>,
}

impl Attempts {
    /// Counts a failure of the request `key`; returns its attempt number,
    /// from 1. Another request, or a long pause, starts again from 1.
    pub fn fail(&mut self, key: &str, now: Instant) -> u64 {
        let continues = self.key == key
            && self
                .last
                .is_some_and(|last| now.saturating_duration_since(last) < ATTEMPTS_FORGOTTEN_AFTER);
        if !continues {
            self.key = key.to_string();
            self.failures = 0;
        }
        self.failures += 1;
        self.last = Some(now);
        self.failures
    }

    /// The request got through, or its turn ended: nothing to continue.
    pub fn reset(&mut self) {
        *self = Self::default();
    }
}

static RUNTIME: OnceLock<Runtime> = OnceLock::new();

/// Installs the runtime (once per process; later calls are ignored).
pub fn install(runtime: Runtime) {
    let _ = RUNTIME.set(runtime);
}

pub fn runtime() -> Option<&'static Runtime> {
    RUNTIME.get()
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn attempts_count_per_request_and_start_over() {
        let mut a = Attempts::default();
        let t = Instant::now();
        assert_eq!(a.fail("k1", t), 1);
        assert_eq!(a.fail("k1", t), 2);
        assert_eq!(a.fail("k2", t), 1, "another request starts over");
        assert_eq!(a.fail("k2", t + Duration::from_secs(601)), 1, "a long pause too");
        a.reset();
        assert_eq!(a.fail("k2", t), 1);
    }

    #[test]
    fn serves_only_urls_under_the_base() {
        let rt = Runtime::new(
            "s".into(),
            "http://127.0.0.1:4000/v1/".into(),
            None,
            None,
            Vec::new(),
            None,
            None,
        );
        assert!(rt.serves("http://127.0.0.1:4000/v1/responses"));
        assert!(rt.serves("http://127.0.0.1:4000/v1"));
        assert!(rt.serves("http://127.0.0.1:4000/v1?x=1"));
        assert!(!rt.serves("http://127.0.0.1:4000/v10/responses"));
        assert!(!rt.serves("https://api.openai.com/v1/responses"));
    }
}
