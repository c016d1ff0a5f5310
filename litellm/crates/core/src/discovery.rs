//! Talking to the proxy outside of model calls: which models exist, what
//! their limits and prices are, and whether the proxy is up.
//!
//! `/v1/models` is the authoritative list of what the key may use;
//! `/model/info` (a LiteLLM extension) adds context windows and prices. The
//! latter is optional: older proxies, restricted keys or a missing database
//! can make it fail, and that must never stop Codex from starting.

use std::fmt;
use std::fs;
use std::io;
use std::path::Path;
use std::path::PathBuf;
use std::time::Duration;
use std::time::SystemTime;
use std::time::UNIX_EPOCH;

use serde::Deserialize;
use serde::Serialize;
use serde_json::Value;

use crate::config::LiteLlmSettings;
use crate::private_files::create_private_dir;
use crate::private_files::litellm_dir;
use crate::config::normalize_base_url;
use crate::config::proxy_root;
use crate::private_files::write_atomically;
use crate::errors::LiteLlmError;
use crate::errors::classify_http_error;
use crate::errors::classify_transport_error;
use crate::model_info::Deployment;
use crate::model_info::ModelInfo;
use crate::redaction::mask_secret;

/// How long a cached discovery result is trusted.
pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(10 * 60);

/// Fail fast when nothing listens; a local proxy accepts in milliseconds.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Discovery answers are small; a proxy that takes longer is not healthy.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Bumped when the cache file layout changes, so old files are ignored.
const CACHE_VERSION: u32 = 2;

/// `/health/readiness` answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Readiness {
    /// "healthy" when the proxy is ready.
    pub status: Option<String>,
    pub litellm_version: Option<String>,
    /// Database connection state ("connected", "Not connected", …).
    pub db: Option<String>,
    /// The whole answer, for diagnostics.
    pub raw: Value,
}

/// HTTP client for the proxy's discovery and health endpoints.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    /// Normalised, ends in `/v1`.
    base_url: String,
    api_key: Option<String>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "***"))
            .finish_non_exhaustive()
    }
}

impl Client {
    /// `base_url` may be anything [`normalize_base_url`] accepts; an empty
    /// key means none.
    pub fn new(base_url: &str, api_key: Option<String>) -> Result<Self, LiteLlmError> {
        let base_url = normalize_base_url(base_url)?;
        let http = build_http(&base_url, REQUEST_TIMEOUT)?;
        Ok(Self {
            http,
            base_url,
            api_key: api_key.filter(|k| !k.trim().is_empty()),
        })
    }

    pub fn from_settings(settings: &LiteLlmSettings) -> Result<Self, LiteLlmError> {
        Self::new(&settings.base_url, settings.api_key.clone())
    }

    /// [`Client::from_settings`] with its own per-request timeout. One HTTP
    /// client is built, not two: each build loads the system's certificates,
    /// which costs tens of milliseconds at every start.
    pub fn from_settings_with_timeout(
        settings: &LiteLlmSettings,
        timeout: Duration,
    ) -> Result<Self, LiteLlmError> {
        let base_url = normalize_base_url(&settings.base_url)?;
        Ok(Self {
            http: build_http(&base_url, timeout)?,
            base_url,
            api_key: settings.api_key.clone().filter(|k| !k.trim().is_empty()),
        })
    }

    /// Replaces the per-request timeout (default 30 s).
    pub fn with_timeout(self, timeout: Duration) -> Result<Self, LiteLlmError> {
        Ok(Self {
            http: build_http(&self.base_url, timeout)?,
            ..self
        })
    }

    /// The normalised base URL (ends in `/v1`).
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Ids from `GET /v1/models`, in the proxy's order, without duplicates.
    pub async fn list_models(&self) -> Result<Vec<String>, LiteLlmError> {
        let url = format!("{}/models", self.base_url);
        let body = self.get_json(&url).await?;
        parse_model_list(&body).map_err(|detail| LiteLlmError::UnexpectedResponse { url, detail })
    }

    /// Entries from LiteLLM's `GET /model/info`, one per model name.
    pub async fn model_info(&self) -> Result<Vec<ModelInfo>, LiteLlmError> {
        let url = format!("{}/model/info", proxy_root(&self.base_url));
        let body = self.get_json(&url).await?;
        parse_model_info(&body).map_err(|detail| LiteLlmError::UnexpectedResponse { url, detail })
    }

    /// The models the key can use, enriched with `/model/info` where that
    /// works. Fails only when `/v1/models` fails.
    pub async fn discover(&self) -> Result<Vec<ModelInfo>, LiteLlmError> {
        Ok(self.discover_inner().await?.0)
    }

    /// [`Client::discover`] through the on-disk cache at
    /// CODEX_HOME/litellm/models.json. Only complete results (both endpoints
    /// answered) are cached, so a transient `/model/info` failure does not
    /// hide context windows for the whole TTL.
    pub async fn discover_cached(
        &self,
        codex_home: &Path,
        ttl: Duration,
    ) -> Result<Vec<ModelInfo>, LiteLlmError> {
        let now = SystemTime::now();
        let key = self.api_key.as_deref();
        if let Some(models) = load_cache(codex_home, &self.base_url, key, ttl, now) {
            return Ok(models);
        }
        self.refresh_cache(codex_home).await
    }

    /// Asks the proxy (as [`Client::discover`]) and writes what it said to
    /// the on-disk cache, whatever the cache held.
    pub async fn refresh_cache(&self, codex_home: &Path) -> Result<Vec<ModelInfo>, LiteLlmError> {
        let key = self.api_key.as_deref();
        let (models, complete) = self.discover_inner().await?;
        let now = SystemTime::now();
        if complete && let Err(err) = store_cache(codex_home, &self.base_url, key, &models, now) {
            tracing::warn!("could not cache LiteLLM models: {err}");
        }
        Ok(models)
    }

    /// Ok when the proxy serves `model`; otherwise an
    /// [`LiteLlmError::UnknownModel`] listing the alternatives.
    pub async fn check_model(&self, model: &str) -> Result<(), LiteLlmError> {
        let known = self.list_models().await?;
        if known.iter().any(|m| m == model) {
            Ok(())
        } else {
            Err(LiteLlmError::unknown_model(model, &known))
        }
    }

    /// `GET /health/liveliness`: is the proxy process up? Returns its
    /// message (LiteLLM answers `"I'm alive!"`).
    pub async fn health_liveliness(&self) -> Result<String, LiteLlmError> {
        let url = format!("{}/health/liveliness", proxy_root(&self.base_url));
        let body = self.get_text(&url).await?;
        Ok(match serde_json::from_str::<Value>(&body) {
            Ok(Value::String(text)) => text,
            _ => body.trim().to_string(),
        })
    }

    /// `GET /health/readiness`: is the proxy ready to serve, and which
    /// LiteLLM version is it?
    pub async fn health_readiness(&self) -> Result<Readiness, LiteLlmError> {
        let url = format!("{}/health/readiness", proxy_root(&self.base_url));
        let raw = self.get_json(&url).await?;
        let text = |key: &str| raw.get(key).and_then(Value::as_str).map(str::to_string);
        Ok(Readiness {
            status: text("status"),
            litellm_version: text("litellm_version"),
            db: text("db"),
            raw,
        })
    }

    async fn discover_inner(&self) -> Result<(Vec<ModelInfo>, bool), LiteLlmError> {
        let ids = self.list_models().await?;
        let (infos, complete) = match self.model_info().await {
            Ok(infos) => (infos, true),
            // No such endpoint (a plain OpenAI-compatible server, not LiteLLM): that will not
            // change within the TTL, so the ids alone are a complete answer worth caching.
            Err(err) if err.status() == Some(404) => {
                tracing::debug!("no /model/info on this server: {err}");
                (Vec::new(), true)
            }
            Err(err) => {
                tracing::warn!("LiteLLM /model/info unavailable, using model ids only: {err}");
                (Vec::new(), false)
            }
        };
        Ok((merge_model_info(&ids, &infos), complete))
    }

    async fn get_json(&self, url: &str) -> Result<Value, LiteLlmError> {
        let body = self.get_text(url).await?;
        serde_json::from_str(&body).map_err(|err| LiteLlmError::UnexpectedResponse {
            url: url.to_string(),
            detail: format!(
                "the body is not JSON ({err}): {}",
                mask_secret(&snippet(&body), self.api_key.as_deref())
            ),
        })
    }

    /// GET with auth; maps transport failures and non-2xx answers to
    /// [`LiteLlmError`] with the key scrubbed from anything the proxy echoed.
    async fn get_text(&self, url: &str) -> Result<String, LiteLlmError> {
        let mut request = self.http.get(url);
        if let Some(key) = &self.api_key {
            request = request.bearer_auth(key);
        }
        let root = proxy_root(&self.base_url);
        let response = request
            .send()
            .await
            .map_err(|err| classify_transport_error(root, &err))?;
        let status = response.status();
        let body = response
            .text()
            .await
            .map_err(|err| classify_transport_error(root, &err))?;
        if status.is_success() {
            Ok(body)
        } else {
            let body = mask_secret(&body, self.api_key.as_deref());
            Err(classify_http_error(status.as_u16(), &body))
        }
    }
}

fn build_http(base_url: &str, timeout: Duration) -> Result<reqwest::Client, LiteLlmError> {
    let mut builder = reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT.min(timeout))
        .timeout(timeout);
    // On Termux, the CA bundle of the prefix this runs under (see termux.rs); nothing elsewhere.
    for cert in crate::termux::extra_root_certificates() {
        builder = builder.add_root_certificate(cert);
    }
    builder
        .build()
        .map_err(|err| LiteLlmError::Request {
            url: base_url.to_string(),
            detail: format!("could not create the HTTP client: {err}"),
        })
}

/// Parses the OpenAI list shape `{"data":[{"id":…},…]}`.
pub fn parse_model_list(body: &Value) -> Result<Vec<String>, String> {
    let data = body.get("data").and_then(Value::as_array).ok_or_else(|| {
        format!(
            "expected {{\"data\": [...]}}, got {}",
            snippet(&body.to_string())
        )
    })?;
    let mut ids: Vec<String> = Vec::with_capacity(data.len());
    for entry in data {
        if let Some(id) = entry.get("id").and_then(Value::as_str)
            && !id.is_empty()
            && !ids.iter().any(|known| known == id)
        {
            ids.push(id.to_string());
        }
    }
    Ok(ids)
}

/// Parses LiteLLM's `/model/info` answer. Entries without a name are
/// skipped; fields may be missing, `null`, numbers or numeric strings.
/// Several deployments can share a name (load balancing): token limits take
/// the smallest value, since any deployment may get the request; prices take
/// the first one given.
pub fn parse_model_info(body: &Value) -> Result<Vec<ModelInfo>, String> {
    let data = body.get("data").and_then(Value::as_array).ok_or_else(|| {
        format!(
            "expected {{\"data\": [...]}}, got {}",
            snippet(&body.to_string())
        )
    })?;
    let mut models: Vec<ModelInfo> = Vec::new();
    for entry in data {
        let Some(name) = entry.get("model_name").and_then(Value::as_str) else {
            continue;
        };
        let info = entry.get("model_info").unwrap_or(&Value::Null);
        let mut parsed = deployment_info(name, info);
        let params = entry.get("litellm_params").unwrap_or(&Value::Null);
        let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string);
        if let Some(id) = text(info, "id") {
            parsed.deployments.push(Deployment {
                id,
                api_base: text(params, "api_base"),
                model: text(params, "model"),
            });
        }
        match models.iter_mut().find(|m| m.id == name) {
            Some(existing) => combine(existing, parsed),
            None => models.push(parsed),
        }
    }
    Ok(models)
}

/// Models from `ids` (in that order) with whatever `infos` knows about them.
pub fn merge_model_info(ids: &[String], infos: &[ModelInfo]) -> Vec<ModelInfo> {
    ids.iter()
        .map(|id| {
            infos
                .iter()
                .find(|info| &info.id == id)
                .cloned()
                .unwrap_or_else(|| ModelInfo::new(id.as_str()))
        })
        .collect()
}

fn deployment_info(name: &str, info: &Value) -> ModelInfo {
    let tokens = |key: &str| info.get(key).and_then(lenient_u64);
    let price = |key: &str| info.get(key).and_then(lenient_f64);
    let flag = |key: &str| info.get(key).and_then(Value::as_bool);
    let max_input = tokens("max_input_tokens");
    // `max_tokens` is LiteLLM's legacy field: the output limit when the
    // provider gives one, otherwise the input limit. Only trust it as an
    // output limit when it differs from the input limit.
    let max_output = tokens("max_output_tokens")
        .or_else(|| tokens("max_tokens").filter(|n| Some(*n) != max_input));
    ModelInfo {
        id: name.to_string(),
        context_window: max_input,
        max_output_tokens: max_output,
        input_cost_per_token: price("input_cost_per_token"),
        output_cost_per_token: price("output_cost_per_token"),
        cache_read_input_token_cost: price("cache_read_input_token_cost"),
        mode: info.get("mode").and_then(Value::as_str).map(str::to_string),
        supports_function_calling: flag("supports_function_calling"),
        supports_reasoning: flag("supports_reasoning"),
        supports_web_search: flag("supports_web_search"),
        supports_vision: flag("supports_vision"),
        supports_parallel_function_calling: flag("supports_parallel_function_calling"),
        deployments: Vec::new(),
    }
}

fn combine(into: &mut ModelInfo, other: ModelInfo) {
    fn smaller(a: Option<u64>, b: Option<u64>) -> Option<u64> {
        match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
    into.context_window = smaller(into.context_window, other.context_window);
    into.max_output_tokens = smaller(into.max_output_tokens, other.max_output_tokens);
    into.input_cost_per_token = into.input_cost_per_token.or(other.input_cost_per_token);
    into.output_cost_per_token = into.output_cost_per_token.or(other.output_cost_per_token);
    into.cache_read_input_token_cost = into
        .cache_read_input_token_cost
        .or(other.cache_read_input_token_cost);
    into.mode = into.mode.take().or(other.mode);
    // A capability holds only when every deployment of the name has it.
    fn both(a: Option<bool>, b: Option<bool>) -> Option<bool> {
        match (a, b) {
            (Some(a), Some(b)) => Some(a && b),
            (a, b) => a.or(b),
        }
    }
    into.supports_function_calling =
        both(into.supports_function_calling, other.supports_function_calling);
    into.supports_reasoning = both(into.supports_reasoning, other.supports_reasoning);
    into.supports_web_search = both(into.supports_web_search, other.supports_web_search);
    into.supports_vision = both(into.supports_vision, other.supports_vision);
    into.deployments.extend(other.deployments);
    into.supports_parallel_function_calling = both(
        into.supports_parallel_function_calling,
        other.supports_parallel_function_calling,
    );
}

fn lenient_u64(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| *f >= 0.0 && f.is_finite())
                .map(|f| f as u64)
        }),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn lenient_f64(value: &Value) -> Option<f64> {
    let number = match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    };
    number.filter(|f| f.is_finite() && *f >= 0.0)
}

fn snippet(text: &str) -> String {
    const MAX: usize = 200;
    let text = text.trim();
    if text.chars().count() <= MAX {
        text.to_string()
    } else {
        format!("{}…", text.chars().take(MAX).collect::<String>())
    }
}

#[derive(Serialize, Deserialize)]
struct CacheFile {
    version: u32,
    base_url: String,
    /// Which key saw this list (a short hash, never the key): keys may see
    /// different models.
    key_id: String,
    /// Seconds since the Unix epoch.
    fetched_at: u64,
    models: Vec<ModelInfo>,
}

/// CODEX_HOME/litellm/models.json.
pub fn cache_path(codex_home: &Path) -> PathBuf {
    litellm_dir(codex_home).join("models.json")
}

/// The cached models for `base_url` if they are younger than `ttl` at
/// `now`. Any problem (missing, unreadable, other proxy, old format,
/// clock gone backwards) is a cache miss.
pub fn load_cache(
    codex_home: &Path,
    base_url: &str,
    api_key: Option<&str>,
    ttl: Duration,
    now: SystemTime,
) -> Option<Vec<ModelInfo>> {
    let text = fs::read_to_string(cache_path(codex_home)).ok()?;
    let cache: CacheFile = serde_json::from_str(&text).ok()?;
    let now = now.duration_since(UNIX_EPOCH).ok()?.as_secs();
    let age = now.checked_sub(cache.fetched_at)?;
    (cache.version == CACHE_VERSION
        && cache.base_url == base_url
        && cache.key_id == key_id(api_key)
        && age <= ttl.as_secs())
    .then_some(cache.models)
}

/// Forgets the cached models, so the next start asks the proxy again (a
/// request failed in a way a stale list can explain, e.g. a renamed model).
pub fn invalidate_cache(codex_home: &Path) {
    let _ = fs::remove_file(cache_path(codex_home));
}

/// A short, one-way name for a key (or for no key).
fn key_id(api_key: Option<&str>) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(api_key.unwrap_or_default().as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes the cache file (atomically, so concurrent starts never read half a
/// file).
pub fn store_cache(
    codex_home: &Path,
    base_url: &str,
    api_key: Option<&str>,
    models: &[ModelInfo],
    now: SystemTime,
) -> Result<(), LiteLlmError> {
    create_private_dir(&litellm_dir(codex_home))?;
    let path = cache_path(codex_home);
    let cache = CacheFile {
        version: CACHE_VERSION,
        base_url: base_url.to_string(),
        key_id: key_id(api_key),
        fetched_at: now
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default(),
        models: models.to_vec(),
    };
    let text = serde_json::to_string_pretty(&cache)
        .map_err(|err| LiteLlmError::io("serialize", &path, io::Error::other(err)))?;
    write_atomically(&path, text.as_bytes(), None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model_info::find_deployment;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    #[test]
    fn model_list_keeps_slash_ids_and_drops_duplicates() {
        let body = json!({"object":"list","data":[
            {"id":"vercel/maa/x","object":"model"},
            {"id":"fake-model"},
            {"id":"fake-model"},
            {"object":"model"},
            {"id":""}
        ]});
        assert_eq!(
            parse_model_list(&body).unwrap(),
            vec!["vercel/maa/x".to_string(), "fake-model".to_string()]
        );
        assert!(parse_model_list(&json!({"models": []})).is_err());
    }

    #[test]
    fn model_info_tolerates_nulls_strings_and_extra_fields() {
        let body = json!({"data":[
            {"model_name":"a","litellm_params":{"model":"openai/a"},"model_info":{
                "max_input_tokens":32000,"max_output_tokens":4096,"max_tokens":4096,
                "input_cost_per_token":0.000001,"output_cost_per_token":"0.000002",
                "cache_read_input_token_cost":null,"mode":"chat",
                "supports_function_calling":true,"something_new":[1,2]}},
            {"model_name":"b","model_info":null},
            {"model_name":"c"},
            {"litellm_params":{}},
            {"model_name":"d","model_info":{"max_input_tokens":8000,"max_tokens":8000}},
            {"model_name":"e","model_info":{"max_input_tokens":null,"max_tokens":2048}}
        ]});
        let infos = parse_model_info(&body).unwrap();
        assert_eq!(
            infos.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(),
            vec!["a", "b", "c", "d", "e"]
        );
        assert_eq!(
            infos[0],
            ModelInfo {
                id: "a".into(),
                context_window: Some(32000),
                max_output_tokens: Some(4096),
                input_cost_per_token: Some(0.000001),
                output_cost_per_token: Some(0.000002),
                cache_read_input_token_cost: None,
                mode: Some("chat".into()),
                supports_function_calling: Some(true),
                ..ModelInfo::new("a")
            }
        );
        assert_eq!(infos[1], ModelInfo::new("b"));
        assert_eq!(infos[2], ModelInfo::new("c"));
        assert_eq!(infos[3].context_window, Some(8000));
        assert_eq!(infos[3].max_output_tokens, None);
        assert_eq!(infos[4].max_output_tokens, Some(2048));
    }

    #[test]
    fn deployments_sharing_a_name_are_combined() {
        let body = json!({"data":[
            {"model_name":"lb","model_info":{"id":"dep-a","max_input_tokens":128000,"input_cost_per_token":1e-6},
             "litellm_params":{"model":"openai/a","api_base":"http://a:1/v1"}},
            {"model_name":"lb","model_info":{"id":"dep-b","max_input_tokens":64000,"max_output_tokens":1000,"input_cost_per_token":5e-6},
             "litellm_params":{"model":"anthropic/b"}}
        ]});
        let infos = parse_model_info(&body).unwrap();
        assert_eq!(infos.len(), 1);
        assert_eq!(infos[0].context_window, Some(64000));
        assert_eq!(infos[0].max_output_tokens, Some(1000));
        assert_eq!(infos[0].input_cost_per_token, Some(1e-6));
        // Both deployments are kept, each with where it sends requests.
        let endpoints: Vec<(String, String)> = infos[0]
            .deployments
            .iter()
            .map(|d| (d.id.clone(), d.endpoint()))
            .collect();
        assert_eq!(
            endpoints,
            [
                ("dep-a".to_string(), "http://a:1/v1".to_string()),
                ("dep-b".to_string(), "the default endpoint of anthropic/b".to_string())
            ]
        );
        assert_eq!(find_deployment(&infos, "dep-b").map(|d| d.id.as_str()), Some("dep-b"));
        assert!(find_deployment(&infos, "dep").is_none(), "a short prefix is not an id");
    }

    #[test]
    fn cache_round_trip_and_expiry() {
        let home = tempfile::tempdir().unwrap();
        let models = vec![ModelInfo {
            context_window: Some(10),
            ..ModelInfo::new("x/y")
        }];
        let t0 = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let key = Some("sk-a");
        store_cache(home.path(), "http://h/v1", key, &models, t0).unwrap();
        let text = fs::read_to_string(cache_path(home.path())).unwrap();
        assert!(!text.contains("sk-a"), "the key itself is never written: {text}");
        let ttl = DEFAULT_CACHE_TTL;
        let load = |base: &str, key: Option<&str>, at: SystemTime| {
            load_cache(home.path(), base, key, ttl, at)
        };
        assert_eq!(
            load("http://h/v1", key, t0 + Duration::from_secs(60)),
            Some(models)
        );
        assert_eq!(load("http://h/v1", key, t0 + ttl + Duration::from_secs(1)), None);
        assert_eq!(load("http://other/v1", key, t0), None);
        assert_eq!(load("http://h/v1", Some("sk-b"), t0), None, "another key");
        assert_eq!(load("http://h/v1", None, t0), None, "no key");
        assert_eq!(load("http://h/v1", key, t0 - Duration::from_secs(5)), None);
        invalidate_cache(home.path());
        assert_eq!(load("http://h/v1", key, t0), None);
    }
}
