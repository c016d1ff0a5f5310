//! The seam between upstream Codex and this crate: the handful of functions
//! our patches call. Each one is a no-op unless [`activate`] was called, so
//! upstream's own binaries and tests built from the same tree behave exactly
//! as stock Codex does.
//!
//! State is process-global because the call sites (config loading, the chat
//! stream parser, the CLI) are far apart in upstream's code and threading a
//! value through them would mean large patches.

use std::io::BufReader;
use std::io::IsTerminal;
use std::path::Path;
use std::path::PathBuf;
use std::sync::RwLock;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::Value;
use serde_json::json;

use crate::config::CliOverrides;
use crate::config::LiteLlmSettings;
use crate::config::PROVIDER_ID;
use crate::config::Source;
use crate::config::load_config_file;
use crate::config::provider_spec;
use crate::config::resolve_from_process_env;
use crate::cost::CacheTier;
use crate::cost::SessionTotals;
use crate::cost::Totals;
use crate::discovery::Client;
use crate::discovery::ModelInfo;
use crate::errors::LiteLlmError;
use crate::errors::rank_models;
use crate::exchange;
use crate::exchange::Runtime;
use crate::models_cmd;
use crate::setup::run_setup;
use crate::telemetry::RequestRecord;
use crate::telemetry::Telemetry;
use crate::telemetry::TelemetryConfig;
use crate::telemetry::read_records;
use crate::tier0::Tier0Cache;
use crate::tier0::Tier0Config;

/// How long the start-up probe waits for the proxy.
const PROBE_TIMEOUT: Duration = Duration::from_secs(15);

static ACTIVE: AtomicBool = AtomicBool::new(false);
static SESSION: RwLock<Option<Session>> = RwLock::new(None);

/// What start-up learned: the settings in force and the proxy's models.
#[derive(Debug, Clone)]
struct Session {
    settings: LiteLlmSettings,
    models: Vec<ModelInfo>,
    model: String,
}

/// Turns codex-litellm behaviour on for this process (called first thing by
/// the `codex-litellm` binary's main).
pub fn activate() {
    ACTIVE.store(true, Ordering::SeqCst);
}

pub fn is_active() -> bool {
    ACTIVE.load(Ordering::SeqCst)
}

/// Arguments of [`startup`], taken from upstream's CLI.
#[derive(Debug, Default, Clone, Copy)]
pub struct Startup<'a> {
    /// `-m/--model`.
    pub model: Option<&'a str>,
    /// `-c key=value` overrides, as upstream keeps them.
    pub raw_overrides: &'a [String],
    /// `--oss`: the user picked upstream's local provider instead.
    pub oss: bool,
    /// Whether a person is at the terminal (the TUI), so the setup wizard may ask.
    pub interactive: bool,
}

/// Start-up for the commands that talk to a model: resolve where the proxy
/// is (running the setup wizard when nothing is configured and a person is
/// at the terminal), check that it answers and accepts the key, discover its
/// models, and choose the model. Every failure is a [`LiteLlmError`] whose
/// message says what to do, returned before any turn starts.
pub async fn startup(args: Startup<'_>) -> Result<(), LiteLlmError> {
    if !is_active() || args.oss {
        return Ok(());
    }
    let codex_home = codex_home();
    let config = effective_config(&codex_home, args.raw_overrides)?;
    if provider_id_in(&config) != PROVIDER_ID {
        return Ok(());
    }
    let cli = CliOverrides {
        model: args.model.map(str::to_string),
        ..CliOverrides::default()
    };
    let settings = match resolve_from_process_env(&cli, &config, &codex_home) {
        Err(LiteLlmError::NotConfigured)
            if args.interactive
                && std::io::stdin().is_terminal()
                && std::io::stdout().is_terminal() =>
        {
            let mut input = BufReader::new(std::io::stdin());
            let mut output = std::io::stdout();
            run_setup(&mut input, &mut output, &codex_home).await?;
            let config = effective_config(&codex_home, args.raw_overrides)?;
            resolve_from_process_env(&cli, &config, &codex_home)?
        }
        other => other?,
    };
    let client = Client::from_settings(&settings)?.with_timeout(PROBE_TIMEOUT)?;
    let models = client.discover().await?;
    let model = choose_model(&settings, &models)?;
    tracing::info!(base_url = %settings.base_url, model = %model, models = models.len(), "LiteLLM proxy ready");
    exchange::install(build_runtime(
        &codex_home,
        &config,
        &settings,
        models.clone(),
    )?);
    if let Ok(mut session) = SESSION.write() {
        *session = Some(Session {
            settings,
            models,
            model,
        });
    }
    Ok(())
}

/// Installs start-up state without a proxy, for benchmarks and tests of the
/// lookups that run per request.
#[doc(hidden)]
pub fn install_session(settings: LiteLlmSettings, models: Vec<ModelInfo>, model: String) {
    activate();
    if let Ok(mut session) = SESSION.write() {
        *session = Some(Session {
            settings,
            models,
            model,
        });
    }
}

/// The per-request machinery (caches, budget, telemetry) from config.toml.
fn build_runtime(
    codex_home: &Path,
    config: &toml::Value,
    settings: &LiteLlmSettings,
    models: Vec<ModelInfo>,
) -> Result<Runtime, LiteLlmError> {
    let litellm = config.get("litellm");
    let telemetry = TelemetryConfig::from_toml(config.get("telemetry"), codex_home, None)?;
    let secrets: Vec<String> = settings.api_key.iter().cloned().collect();
    let telemetry = Telemetry::open(telemetry, &secrets)?;
    let tier0 = Tier0Cache::open(Tier0Config::from_toml(litellm, codex_home)?)?;
    // [litellm.cache] goes to the proxy as the body's `cache` object, minus
    // the `local` table, which configures our own tier 0.
    let proxy_cache = litellm
        .and_then(|l| l.get("cache"))
        .and_then(toml::Value::as_table)
        .map(|t| {
            t.iter()
                .filter(|(k, _)| k.as_str() != "local")
                .filter_map(|(k, v)| serde_json::to_value(v).ok().map(|v| (k.clone(), v)))
                .collect::<serde_json::Map<String, Value>>()
        })
        .filter(|m| !m.is_empty())
        .map(Value::Object);
    let cache_control = litellm
        .and_then(|l| l.get("prompt_cache"))
        .and_then(|p| p.get("cache_control"))
        .and_then(toml::Value::as_bool)
        .unwrap_or(false);
    let max_session_cost_usd = match litellm.and_then(|l| l.get("max_session_cost_usd")) {
        None => None,
        Some(toml::Value::Float(f)) if *f > 0.0 => Some(*f),
        Some(toml::Value::Integer(i)) if *i > 0 => Some(*i as f64),
        Some(other) => {
            return Err(LiteLlmError::invalid(
                "[litellm].max_session_cost_usd",
                format!("expected a positive number of US dollars, got {other}"),
            ));
        }
    };
    let session_id = format!(
        "{}-{}",
        chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ"),
        std::process::id()
    );
    Ok(Runtime::new(
        session_id,
        settings.base_url.clone(),
        telemetry,
        tier0,
        models,
        proxy_cache,
        cache_control,
        max_session_cost_usd,
    ))
}

/// Lines for the TUI's /status (label, value); none unless a LiteLLM
/// session is running in this process.
pub fn status_lines() -> Vec<(&'static str, String)> {
    let Some(rt) = exchange::runtime() else {
        return Vec::new();
    };
    let mut lines = vec![("LiteLLM", rt.base_url.clone())];
    if let Some(meta) = rt.last_meta.lock().ok().and_then(|m| m.clone()) {
        let id = meta.model_id.unwrap_or_else(|| "?".into());
        let short = id.get(..12).unwrap_or(&id).to_string();
        let base = meta.api_base.unwrap_or_else(|| "?".into());
        lines.push(("Routed to", format!("deployment {short} at {base}")));
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
/// The model: `-m`, else LITELLM_MODEL / `[litellm].model`, else the proxy's
/// only model. It must be one the proxy serves.
fn choose_model(settings: &LiteLlmSettings, models: &[ModelInfo]) -> Result<String, LiteLlmError> {
    let known: Vec<String> = models.iter().map(|m| m.id.clone()).collect();
    let model = match (&settings.default_model, known.as_slice()) {
        (Some(model), _) => model.clone(),
        (None, [only]) => only.clone(),
        (None, _) => {
            return Err(LiteLlmError::invalid(
                "model",
                format!(
                    "no model chosen and the proxy serves {}; pass -m <model>, set LITELLM_MODEL, or add `model = \"...\"` under [litellm] in config.toml. Models: {}",
                    known.len(),
                    if known.is_empty() {
                        "(none)".to_string()
                    } else {
                        known.join(", ")
                    }
                ),
            ));
        }
    };
    if !known.is_empty() && !known.contains(&model) {
        return Err(LiteLlmError::unknown_model(
            &model,
            &rank_models(&model, &known),
        ));
    }
    Ok(model)
}

/// Ends the process with the error's message (what is wrong and what to do)
/// and exit status 1: these are a user's setup problems, not crashes, so no
/// backtrace or "Caused by" chain belongs on screen.
pub fn or_exit<T>(result: Result<T, LiteLlmError>) -> T {
    match result {
        Ok(value) => value,
        Err(err) => {
            eprintln!("Error: {err}");
            std::process::exit(1);
        }
    }
}

/// CODEX_HOME as upstream finds it (the variable, else ~/.codex).
pub fn codex_home() -> PathBuf {
    match std::env::var_os("CODEX_HOME").filter(|v| !v.is_empty()) {
        Some(home) => PathBuf::from(home),
        None => std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_default()
            .join(".codex"),
    }
}

/// config.toml with `-c` overrides for our tables applied on top.
fn effective_config(
    codex_home: &Path,
    raw_overrides: &[String],
) -> Result<toml::Value, LiteLlmError> {
    let mut config = load_config_file(codex_home)?;
    for raw in raw_overrides {
        let Some((key, value)) = raw.split_once('=') else {
            continue;
        };
        let path: Vec<&str> = key.trim().split('.').collect();
        if !matches!(
            path.first(),
            Some(&"litellm") | Some(&"general") | Some(&"telemetry")
        ) {
            continue;
        }
        // The same rule as upstream: a TOML value if it parses, else a string.
        let value = toml::from_str::<toml::Table>(&format!("v = {}", value.trim()))
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or_else(|| toml::Value::String(value.trim().to_string()));
        set_path(&mut config, &path, value);
    }
    Ok(config)
}

fn set_path(root: &mut toml::Value, path: &[&str], value: toml::Value) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut node = root;
    for part in parents {
        let Some(table) = node.as_table_mut() else {
            return;
        };
        node = table
            .entry(part.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    }
    if let Some(table) = node.as_table_mut() {
        table.insert(last.to_string(), value);
    }
}

/// `[general].model_provider`, defaulting to ours.
fn provider_id_in(config: &toml::Value) -> String {
    config
        .get("general")
        .and_then(|g| g.get("model_provider"))
        .and_then(toml::Value::as_str)
        .unwrap_or(PROVIDER_ID)
        .to_string()
}

fn tables(litellm: Option<&toml::Value>, general: Option<&toml::Value>) -> toml::Value {
    let mut root = toml::Table::new();
    if let Some(v) = litellm {
        root.insert("litellm".into(), v.clone());
    }
    if let Some(v) = general {
        root.insert("general".into(), v.clone());
    }
    toml::Value::Table(root)
}

/// The built-in `litellm` provider as upstream's `ModelProviderInfo` JSON, from
/// the `[litellm]`/`[general]` tables of the loaded config and the
/// environment. Upstream inserts it only where the user has no
/// `[model_providers.litellm]` of their own, so theirs wins.
pub fn provider_json(
    litellm: Option<&toml::Value>,
    general: Option<&toml::Value>,
) -> Option<Value> {
    if !is_active() {
        return None;
    }
    let settings = match resolve_from_process_env(
        &CliOverrides::default(),
        &tables(litellm, general),
        &codex_home(),
    ) {
        Ok(settings) => settings,
        // Not configured: commands that talk to a model stop in `startup`;
        // others (login, mcp, ...) still get a provider at the default place.
        Err(LiteLlmError::NotConfigured) => LiteLlmSettings {
            base_url: format!("{}/v1", crate::config::DEFAULT_BASE_URL),
            base_url_source: Source::Cli,
            api_key: None,
            api_key_source: None,
            wire_api: Default::default(),
            default_model: None,
            context_length: None,
        },
        Err(err) => {
            tracing::warn!("LiteLLM settings: {err}");
            return None;
        }
    };
    let spec = provider_spec(&settings);
    Some(json!({
        "name": spec.name,
        "base_url": spec.base_url,
        "env_key": spec.env_key,
        "env_key_instructions": spec.env_key_instructions,
        "experimental_bearer_token": spec.experimental_bearer_token,
        "wire_api": spec.wire_api.as_str(),
        "requires_openai_auth": false,
    }))
}

/// Our provider id unless `[general].model_provider` names another one.
/// Upstream's top-level `model_provider` belongs to stock codex sharing the
/// same config.toml, so it is not consulted.
pub fn default_provider_id(general: Option<&toml::Value>) -> Option<String> {
    is_active().then(|| provider_id_in(&tables(None, general)))
}

/// The model chosen at start-up (or `[litellm].model`) when our provider is
/// in use. Upstream's top-level `model` is stock codex's and is not used.
pub fn default_model(provider_id: &str, litellm: Option<&toml::Value>) -> Option<String> {
    if !is_active() || provider_id != PROVIDER_ID {
        return None;
    }
    if let Some(session) = SESSION
        .read()
        .ok()
        .and_then(|s| s.as_ref().map(|s| s.model.clone()))
    {
        return Some(session);
    }
    std::env::var("LITELLM_MODEL")
        .ok()
        .filter(|m| !m.trim().is_empty())
        .or_else(|| {
            litellm
                .and_then(|t| t.get("model"))
                .and_then(toml::Value::as_str)
                .map(str::to_string)
        })
}

fn session_model(model: &str) -> Option<(Option<u64>, Option<ModelInfo>)> {
    let guard = SESSION.read().ok()?;
    let session = guard.as_ref()?;
    Some((
        session.settings.context_length,
        session.models.iter().find(|m| m.id == model).cloned(),
    ))
}

/// Context window for `model` on our provider: `[general].context_length`,
/// else what the proxy's /model/info says.
pub fn context_window(
    provider_id: &str,
    model: &str,
    general: Option<&toml::Value>,
) -> Option<i64> {
    if !is_active() || provider_id != PROVIDER_ID {
        return None;
    }
    let configured = general
        .and_then(|g| g.get("context_length"))
        .and_then(toml::Value::as_integer)
        .filter(|n| *n > 0);
    if configured.is_some() {
        return configured;
    }
    let (session_len, info) = session_model(model)?;
    session_len
        .or_else(|| info.and_then(|i| i.context_window))
        .and_then(|n| i64::try_from(n).ok())
}

/// Max output tokens for `model` on our provider, from /model/info.
pub fn max_output_tokens(provider_id: &str, model: &str) -> Option<i64> {
    if !is_active() || provider_id != PROVIDER_ID {
        return None;
    }
    session_model(model)?
        .1
        .and_then(|i| i.max_output_tokens)
        .and_then(|n| i64::try_from(n).ok())
}

fn settings_for_command(
    raw_overrides: &[String],
) -> Result<(LiteLlmSettings, Client, toml::Value, PathBuf), LiteLlmError> {
    let codex_home = codex_home();
    let config = effective_config(&codex_home, raw_overrides)?;
    let settings = resolve_from_process_env(&CliOverrides::default(), &config, &codex_home)?;
    let client = Client::from_settings(&settings)?.with_timeout(PROBE_TIMEOUT)?;
    Ok((settings, client, config, codex_home))
}

/// `codex-litellm models [--json]`.
pub async fn run_models(raw_overrides: &[String], json: bool) -> Result<String, LiteLlmError> {
    let (_, client, _, _) = settings_for_command(raw_overrides)?;
    models_cmd::run(&client, json).await
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
            if let (Some(model_id), Some(base)) = (&last.litellm_model_id, &last.api_base) {
                out.push(format!("Routed to:  deployment {model_id} at {base}"));
            }
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

    fn info(id: &str) -> ModelInfo {
        ModelInfo::new(id)
    }

    fn settings(model: Option<&str>) -> LiteLlmSettings {
        LiteLlmSettings {
            base_url: "http://127.0.0.1:4000/v1".into(),
            base_url_source: Source::Env,
            api_key: None,
            api_key_source: None,
            wire_api: Default::default(),
            default_model: model.map(str::to_string),
            context_length: None,
        }
    }

    #[test]
    fn model_choice() {
        let two = [info("a"), info("vercel/maa/x")];
        assert_eq!(
            choose_model(&settings(Some("vercel/maa/x")), &two).unwrap(),
            "vercel/maa/x"
        );
        assert_eq!(
            choose_model(&settings(None), &[info("only")]).unwrap(),
            "only"
        );
        let none = choose_model(&settings(None), &two).unwrap_err().to_string();
        assert!(
            none.contains("pass -m <model>") && none.contains("a, vercel/maa/x"),
            "{none}"
        );
        let unknown = choose_model(&settings(Some("vercel/maa/y")), &two)
            .unwrap_err()
            .to_string();
        assert!(unknown.contains("vercel/maa/x"), "{unknown}");
    }

    #[test]
    fn overrides_reach_our_tables_only() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("config.toml"),
            "model = \"gpt-5\"\n[litellm]\nmodel = \"a\"\n",
        )
        .unwrap();
        let cfg = effective_config(
            dir.path(),
            &[
                "litellm.model=\"b\"".into(),
                "general.context_length=8192".into(),
                "litellm.api_base=http://h:1".into(),
                "model=\"ignored\"".into(),
            ],
        )
        .unwrap();
        assert_eq!(cfg["litellm"]["model"].as_str(), Some("b"));
        assert_eq!(cfg["litellm"]["api_base"].as_str(), Some("http://h:1"));
        assert_eq!(cfg["general"]["context_length"].as_integer(), Some(8192));
        assert_eq!(cfg["model"].as_str(), Some("gpt-5"));
    }

    #[test]
    fn provider_id_defaults_to_ours() {
        assert_eq!(
            provider_id_in(&toml::Value::Table(Default::default())),
            "litellm"
        );
        let general: toml::Value = toml::from_str("model_provider = \"openai\"").unwrap();
        assert_eq!(provider_id_in(&tables(None, Some(&general))), "openai");
    }

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
    fn inactive_hooks_do_nothing() {
        // Tests run in one process; activation is a one-way switch, so this
        // test only checks the inactive path when nothing activated yet.
        if !is_active() {
            assert_eq!(provider_json(None, None), None);
            assert_eq!(default_provider_id(None), None);
            assert_eq!(context_window("litellm", "x", None), None);
        }
    }
}
