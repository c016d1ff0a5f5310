//! What codex-litellm learns at start-up and keeps for the process: the
//! settings in force, the proxy's models (from the on-disk discovery cache
//! when it is fresh, so a one-shot `exec` costs no extra round trip), the
//! model in use and the per-request runtime. The seam ([`crate::hooks`])
//! reads it from upstream's far-apart call sites.
//!
//! State is process-global because those call sites (config loading, the
//! transport, the CLI) are far apart in upstream's code and threading a value
//! through them would mean large patches.

use std::io::BufReader;
use std::io::IsTerminal;
use std::path::Path;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::sync::RwLock;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering;
use std::time::Duration;
use std::time::SystemTime;

use serde_json::Value;
use serde_json::json;

use crate::catalog;
use crate::config::CliOverrides;
use crate::config::LiteLlmSettings;
use crate::config::PROVIDER_ID;
use crate::config::Source;
use crate::config::load_config_file;
use crate::config::provider_spec;
use crate::config::resolve_from_process_env;
use crate::discovery;
use crate::discovery::Client;
use crate::model_info::ModelInfo;
use crate::errors::LiteLlmError;
use crate::errors::rank_models;
use crate::exchange;
use crate::exchange::Runtime;
use crate::models_listing;
use crate::setup::Stty;
use crate::setup::run_setup_masked;
use crate::telemetry::Telemetry;
use crate::telemetry::TelemetryConfig;
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

/// The binary's version as its build stamped it (see the cli patch).
static VERSION: OnceLock<String> = OnceLock::new();

/// Turns codex-litellm behaviour on for this process (called first thing by
/// the `codex-litellm` binary's main, with its stamped version: "0.115.0-litellm.1
/// (upstream …)"). Everything else is inert without it, so upstream's own
/// binaries and tests built from the same tree behave exactly as stock Codex does.
pub fn activate(version: &str) {
    let _ = VERSION.set(version.to_string());
    ACTIVE.store(true, Ordering::SeqCst);
    // Upstream's crates reach this crate only through the seam.
    codex_litellm_hooks::install(&crate::seam::INSTALLED);
}

/// The version [`activate`] was given, if it was called.
pub fn version() -> Option<&'static str> {
    VERSION.get().map(String::as_str)
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
/// at the terminal), know its models and choose the model. Every failure is a
/// [`LiteLlmError`] whose message says what to do, returned before any turn
/// starts.
///
/// The models come from the discovery cache (CODEX_HOME/litellm/models.json,
/// per proxy and key) while it is younger than `[litellm].discovery_ttl_secs`
/// and knows the chosen model; otherwise the proxy is asked, which also proves
/// that it answers and accepts the key. A failed request later forgets the
/// cache, so the next start asks again.
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
            // Both ends are a terminal here: the key is typed masked.
            let mut echo = Stty::default();
            run_setup_masked(&mut input, &mut output, &codex_home, &mut echo).await?;
            let config = effective_config(&codex_home, args.raw_overrides)?;
            resolve_from_process_env(&cli, &config, &codex_home)?
        }
        other => other?,
    };
    let ttl = discovery_ttl(&config)?;
    let cached = discovery::load_cache(
        &codex_home,
        &settings.base_url,
        settings.api_key.as_deref(),
        ttl,
        SystemTime::now(),
    )
    .and_then(|models| choose_model(&settings, &models).ok().map(|m| (models, m)));
    let (models, model) = match cached {
        Some(known) => known,
        None => {
            // Only now an HTTP client: building one loads the system certificates.
            let client = Client::from_settings_with_timeout(&settings, PROBE_TIMEOUT)?;
            let models = client.refresh_cache(&codex_home).await?;
            let model = choose_model(&settings, &models)?;
            (models, model)
        }
    };
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
    ACTIVE.store(true, Ordering::SeqCst);
    if let Ok(mut session) = SESSION.write() {
        *session = Some(Session {
            settings,
            models,
            model,
        });
    }
}

/// `[litellm].discovery_ttl_secs` (0 turns the cache off).
fn discovery_ttl(config: &toml::Value) -> Result<Duration, LiteLlmError> {
    match config.get("litellm").and_then(|l| l.get("discovery_ttl_secs")) {
        None => Ok(discovery::DEFAULT_CACHE_TTL),
        Some(toml::Value::Integer(n)) if *n >= 0 => Ok(Duration::from_secs(*n as u64)),
        Some(other) => Err(LiteLlmError::invalid(
            "[litellm].discovery_ttl_secs",
            format!("expected a whole number of seconds (0 turns the cache off), got {other}"),
        )),
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
    if litellm
        .and_then(|l| l.get("prompt_cache"))
        .and_then(|p| p.get("cache_control"))
        .is_some()
    {
        // It marked chat messages; the Responses wire has no place for it that every route takes.
        tracing::warn!(
            "[litellm.prompt_cache].cache_control is no longer used: configure LiteLLM's cache_control_injection_points on the proxy instead"
        );
    }
    let max_session_cost_usd = max_session_cost(litellm)?;
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
        max_session_cost_usd,
    )
    .with_api_key(settings.api_key.clone())
    .forget_discovery_on_failure(codex_home))
}

/// `[litellm].max_session_cost_usd`: the session budget in USD, if any.
pub(crate) fn max_session_cost(litellm: Option<&toml::Value>) -> Result<Option<f64>, LiteLlmError> {
    match litellm.and_then(|l| l.get("max_session_cost_usd")) {
        None => Ok(None),
        Some(toml::Value::Float(f)) if *f > 0.0 => Ok(Some(*f)),
        Some(toml::Value::Integer(i)) if *i > 0 => Ok(Some(*i as f64)),
        Some(other) => Err(LiteLlmError::invalid(
            "[litellm].max_session_cost_usd",
            format!("expected a positive number of US dollars, got {other}"),
        )),
    }
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
pub(crate) fn effective_config(
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
        "stream_max_retries": spec.stream_max_retries,
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

/// `[general].context_length` for our provider: it overrides the context
/// window of every model (the catalog has each model's own from /model/info).
pub fn context_window(provider_id: &str, general: Option<&toml::Value>) -> Option<i64> {
    if !is_active() || provider_id != PROVIDER_ID {
        return None;
    }
    general
        .and_then(|g| g.get("context_length"))
        .and_then(toml::Value::as_integer)
        .filter(|n| *n > 0)
}

/// The proxy's models as upstream's model catalog (see [`crate::catalog`]),
/// built on `template` (upstream's fallback model metadata as JSON). None
/// unless start-up ran for our provider in this process.
pub fn model_catalog(provider_id: &str, template: Value) -> Option<Value> {
    if !is_active() || provider_id != PROVIDER_ID {
        return None;
    }
    let guard = SESSION.read().ok()?;
    let session = guard.as_ref()?;
    catalog::build(
        &template,
        &session.models,
        Some(&session.model),
        session.settings.context_length,
    )
}

pub(crate) fn settings_for_command(
    raw_overrides: &[String],
) -> Result<(LiteLlmSettings, Client, toml::Value, PathBuf), LiteLlmError> {
    let codex_home = codex_home();
    let config = effective_config(&codex_home, raw_overrides)?;
    let settings = resolve_from_process_env(&CliOverrides::default(), &config, &codex_home)?;
    let client = Client::from_settings_with_timeout(&settings, PROBE_TIMEOUT)?;
    Ok((settings, client, config, codex_home))
}

/// `codex-litellm models [--json]`.
pub async fn run_models(raw_overrides: &[String], json: bool) -> Result<String, LiteLlmError> {
    let (_, client, _, _) = settings_for_command(raw_overrides)?;
    models_listing::run(&client, json).await
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
    fn inactive_hooks_do_nothing() {
        // Tests run in one process; activation is a one-way switch, so this
        // test only checks the inactive path when nothing activated yet.
        if !is_active() {
            assert_eq!(provider_json(None, None), None);
            assert_eq!(default_provider_id(None), None);
            assert_eq!(context_window("litellm", None), None);
            assert_eq!(model_catalog("litellm", json!({})), None);
        }
    }
}

