//! Where the proxy is and how to talk to it.
//!
//! Settings come from three layers, highest precedence first: command-line
//! flags ([`CliOverrides`]), environment variables, and CODEX_HOME/config.toml.
//! The API key has a fourth, lowest layer: the key file the setup wizard
//! writes (CODEX_HOME/litellm/api_key, mode 0600), so the key never has to sit
//! in config.toml. The environment is passed in as a lookup closure so tests
//! never touch the real process environment.

use std::collections::HashMap;
use std::fmt;
use std::fs;
use std::io;
use std::path::Path;
use std::path::PathBuf;
use std::str::FromStr;

use serde::Deserialize;
use serde::Serialize;

use crate::config_values::non_negative;
use crate::config_values::type_error;
use crate::errors::LiteLlmError;
use crate::private_files::create_private_dir;
use crate::private_files::litellm_dir;
use crate::private_files::write_atomically;

/// Key of our entry in upstream's `model_providers` map.
pub const PROVIDER_ID: &str = "litellm";
/// Display name of the provider.
pub const PROVIDER_NAME: &str = "LiteLLM";
/// Where `litellm --port 4000` listens; the wizard's default answer.
pub const DEFAULT_BASE_URL: &str = "http://localhost:4000";
/// Retries our provider allows upstream's turn loop (`stream_max_retries`
/// of the built-in provider), so a request is tried this many times plus
/// one. Here, with the provider it configures; the exchange counts its
/// attempts against it (`MAX_ATTEMPTS` of its verdicts).
pub const STREAM_MAX_RETRIES: u64 = 3;

pub const ENV_BASE_URL: &str = "LITELLM_BASE_URL";
pub const ENV_API_KEY: &str = "LITELLM_API_KEY";
pub const ENV_MODEL: &str = "LITELLM_MODEL";
pub const ENV_WIRE_API: &str = "LITELLM_WIRE_API";

/// Wire protocol used for model calls. Upstream Codex speaks only the
/// Responses API since about 0.95 ("nuke chat/completions API"), so this is a
/// single value kept for the settings, telemetry and `status` that name it.
/// LiteLLM serves `/v1/responses` for every model and bridges it to
/// chat-completions backends itself, so nothing is lost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WireApi {
    #[default]
    Responses,
}

/// What a user who still has `wire_api = "chat"` is told.
pub const CHAT_WIRE_API_REMOVED: &str = "the chat-completions wire API is gone: upstream Codex speaks only the Responses API. LiteLLM serves /v1/responses for every model and bridges it to chat-completions backends itself, so remove the setting (or set it to `responses`)";

impl WireApi {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Responses => "responses",
        }
    }
}

impl fmt::Display for WireApi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for WireApi {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "responses" | "response" => Ok(Self::Responses),
            "chat" | "chat_completions" | "chat-completions" | "chat/completions" => {
                Err(CHAT_WIRE_API_REMOVED.to_string())
            }
            other => Err(format!("`{other}` is not a wire API; use `responses`")),
        }
    }
}

/// Values given on the command line; `None` means "not given".
#[derive(Clone, Default, PartialEq)]
pub struct CliOverrides {
    pub base_url: Option<String>,
    pub api_key: Option<String>,
    pub model: Option<String>,
    pub wire_api: Option<WireApi>,
    pub context_length: Option<u64>,
}

impl fmt::Debug for CliOverrides {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CliOverrides")
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "***"))
            .field("model", &self.model)
            .field("wire_api", &self.wire_api)
            .field("context_length", &self.context_length)
            .finish()
    }
}

/// Which layer a setting came from; lets messages say where to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Cli,
    Env,
    ConfigFile,
    KeyFile(PathBuf),
}

/// Fully resolved LiteLLM settings.
#[derive(Clone, PartialEq)]
pub struct LiteLlmSettings {
    /// Normalised OpenAI-compatible base URL, always ending in `/v1`.
    pub base_url: String,
    pub base_url_source: Source,
    /// `None` when the proxy runs without authentication.
    pub api_key: Option<String>,
    pub api_key_source: Option<Source>,
    pub wire_api: WireApi,
    /// `[litellm].model`: the model to use when none is given with `-m`.
    pub default_model: Option<String>,
    /// `[general].context_length`: overrides the discovered context window.
    pub context_length: Option<u64>,
}

impl fmt::Debug for LiteLlmSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LiteLlmSettings")
            .field("base_url", &self.base_url)
            .field("base_url_source", &self.base_url_source)
            .field("api_key", &self.api_key.as_ref().map(|_| "***"))
            .field("api_key_source", &self.api_key_source)
            .field("wire_api", &self.wire_api)
            .field("default_model", &self.default_model)
            .field("context_length", &self.context_length)
            .finish()
    }
}

impl LiteLlmSettings {
    /// The proxy root (base URL without `/v1`), where LiteLLM serves
    /// `/health/*` and `/model/info`.
    pub fn proxy_root(&self) -> &str {
        proxy_root(&self.base_url)
    }
}

/// Resolves settings: CLI flag > environment > config file (> key file for
/// the API key). `config` is the parsed CODEX_HOME/config.toml (pass an
/// empty table when there is none); `codex_home` locates the key file.
///
/// Returns [`LiteLlmError::NotConfigured`] when no layer names a proxy.
pub fn resolve<F>(
    cli: &CliOverrides,
    env: F,
    config: &toml::Value,
    codex_home: &Path,
) -> Result<LiteLlmSettings, LiteLlmError>
where
    F: Fn(&str) -> Option<String>,
{
    // Empty values count as unset: `LITELLM_API_KEY= codex-litellm` is a
    // common way of saying "no key".
    let env = |name: &str| env(name).filter(|v| !v.trim().is_empty());
    let cli_value = |v: &Option<String>| v.clone().filter(|v| !v.trim().is_empty());
    let file = ConfigFile::new(config);

    let (raw_base_url, base_url_source) = if let Some(url) = cli_value(&cli.base_url) {
        (url, Source::Cli)
    } else if let Some(url) = env(ENV_BASE_URL) {
        (url, Source::Env)
    } else if let Some(url) = file.api_base()? {
        (url, Source::ConfigFile)
    } else {
        return Err(LiteLlmError::NotConfigured);
    };
    let base_url = normalize_base_url(&raw_base_url)?;

    let (api_key, api_key_source) = if let Some(key) = cli_value(&cli.api_key) {
        (Some(key), Some(Source::Cli))
    } else if let Some(key) = env(ENV_API_KEY) {
        (Some(key), Some(Source::Env))
    } else if let Some(key) = file.string("litellm", "api_key")? {
        (Some(key), Some(Source::ConfigFile))
    } else {
        let (path, explicit) = match file.string("litellm", "key_file")? {
            Some(path) => (codex_home.join(path), true),
            None => (key_file_path(codex_home), false),
        };
        match read_key_file(&path)? {
            Some(key) => (Some(key), Some(Source::KeyFile(path))),
            None if explicit && !path.exists() => {
                return Err(LiteLlmError::invalid(
                    "[litellm].key_file",
                    format!(
                        "{} does not exist; fix the path or remove the setting",
                        path.display()
                    ),
                ));
            }
            None => (None, None),
        }
    };

    let wire_api = if let Some(wire_api) = cli.wire_api {
        wire_api
    } else if let Some(value) = env(ENV_WIRE_API) {
        value
            .parse()
            .map_err(|message| LiteLlmError::invalid(ENV_WIRE_API, message))?
    } else if let Some(value) = file.string("litellm", "wire_api")? {
        value
            .parse()
            .map_err(|message| LiteLlmError::invalid("[litellm].wire_api", message))?
    } else {
        WireApi::default()
    };

    let default_model = match cli_value(&cli.model) {
        Some(model) => Some(model),
        None => match env(ENV_MODEL) {
            Some(model) => Some(model),
            None => file.string("litellm", "model")?,
        },
    };

    let context_length = match cli.context_length {
        Some(n) => Some(n),
        None => file.unsigned("general", "context_length")?,
    };

    Ok(LiteLlmSettings {
        base_url,
        base_url_source,
        api_key,
        api_key_source,
        wire_api,
        default_model,
        context_length,
    })
}

/// [`resolve`] against the real process environment.
pub fn resolve_from_process_env(
    cli: &CliOverrides,
    config: &toml::Value,
    codex_home: &Path,
) -> Result<LiteLlmSettings, LiteLlmError> {
    resolve(cli, |name| std::env::var(name).ok(), config, codex_home)
}

/// Reads CODEX_HOME/config.toml; a missing file is an empty table.
pub fn load_config_file(codex_home: &Path) -> Result<toml::Value, LiteLlmError> {
    let path = codex_home.join("config.toml");
    match fs::read_to_string(&path) {
        Ok(text) => toml::from_str(&text).map_err(|err| {
            LiteLlmError::invalid(path.display().to_string(), format!("not valid TOML: {err}"))
        }),
        Err(err) if err.kind() == io::ErrorKind::NotFound => {
            Ok(toml::Value::Table(toml::Table::new()))
        }
        Err(err) => Err(LiteLlmError::io("read", path, err)),
    }
}

/// Turns what a person types into the OpenAI-compatible base URL:
/// `localhost:4000` → `http://localhost:4000/v1`. Adds `http://` when no
/// scheme is given (LiteLLM serves plain HTTP by default), appends `/v1`
/// unless present, and drops trailing slashes.
pub fn normalize_base_url(input: &str) -> Result<String, LiteLlmError> {
    const SETTING: &str = "base URL";
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err(LiteLlmError::invalid(SETTING, "it is empty"));
    }
    let with_scheme = match trimmed.find("://") {
        Some(_) => trimmed.to_string(),
        None => format!("http://{trimmed}"),
    };
    let url = reqwest::Url::parse(&with_scheme).map_err(|err| {
        LiteLlmError::invalid(
            SETTING,
            format!(
                "`{trimmed}` is not a URL ({err}); expected something like http://localhost:4000"
            ),
        )
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(LiteLlmError::invalid(
            SETTING,
            format!("`{trimmed}` must start with http:// or https://"),
        ));
    }
    let Some(host) = url.host_str().filter(|h| !h.is_empty()) else {
        return Err(LiteLlmError::invalid(
            SETTING,
            format!("`{trimmed}` has no host name"),
        ));
    };
    if !url.username().is_empty() || url.password().is_some() {
        return Err(LiteLlmError::invalid(
            SETTING,
            "credentials do not belong in the URL; set LITELLM_API_KEY instead",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(LiteLlmError::invalid(
            SETTING,
            format!("`{trimmed}` must not contain `?` or `#`"),
        ));
    }
    let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
    let path = url.path().trim_end_matches('/');
    let suffix = if path.ends_with("/v1") { "" } else { "/v1" };
    Ok(format!("{}://{host}{port}{path}{suffix}", url.scheme()))
}

/// The proxy root of a normalised base URL (`…/v1` removed).
pub fn proxy_root(base_url: &str) -> &str {
    let trimmed = base_url.trim_end_matches('/');
    trimmed.strip_suffix("/v1").unwrap_or(trimmed)
}

/// CODEX_HOME/litellm/api_key.
pub fn key_file_path(codex_home: &Path) -> PathBuf {
    litellm_dir(codex_home).join("api_key")
}

/// Reads a key file; missing or blank means no key. Warns (but still reads)
/// when the file is readable by others, like ssh does for identity files.
pub fn read_key_file(path: &Path) -> Result<Option<String>, LiteLlmError> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(LiteLlmError::io("read the API key file", path, err)),
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = fs::metadata(path)
            && meta.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(
                "{} is readable by other users; run `chmod 600 {}`",
                path.display(),
                path.display()
            );
        }
    }
    let key = text.trim();
    Ok((!key.is_empty()).then(|| key.to_string()))
}

/// Stores `key` in CODEX_HOME/litellm/api_key with mode 0600 (directory
/// 0700). Written to a private temporary file and renamed into place, so the
/// key is never briefly world-readable and a crash leaves the old file.
pub fn write_key_file(codex_home: &Path, key: &str) -> Result<PathBuf, LiteLlmError> {
    let dir = litellm_dir(codex_home);
    create_private_dir(&dir)?;
    let path = key_file_path(codex_home);
    write_atomically(&path, format!("{}\n", key.trim()).as_bytes(), Some(0o600))?;
    Ok(path)
}

/// Plain mirror of upstream's `ModelProviderInfo`, field for field, so the
/// patch converts it without this crate depending on codex-core.
#[derive(Clone, PartialEq)]
pub struct ProviderSpec {
    pub name: String,
    pub base_url: Option<String>,
    pub env_key: Option<String>,
    pub env_key_instructions: Option<String>,
    pub experimental_bearer_token: Option<String>,
    pub wire_api: WireApi,
    pub query_params: Option<HashMap<String, String>>,
    pub http_headers: Option<HashMap<String, String>>,
    pub env_http_headers: Option<HashMap<String, String>>,
    pub request_max_retries: Option<u64>,
    pub stream_max_retries: Option<u64>,
    pub stream_idle_timeout_ms: Option<u64>,
    pub requires_openai_auth: bool,
}

impl fmt::Debug for ProviderSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderSpec")
            .field("name", &self.name)
            .field("base_url", &self.base_url)
            .field("env_key", &self.env_key)
            .field(
                "experimental_bearer_token",
                &self.experimental_bearer_token.as_ref().map(|_| "***"),
            )
            .field("wire_api", &self.wire_api)
            .field("query_params", &self.query_params)
            .field("http_headers", &self.http_headers)
            .field("env_http_headers", &self.env_http_headers)
            .field("request_max_retries", &self.request_max_retries)
            .field("stream_max_retries", &self.stream_max_retries)
            .field("stream_idle_timeout_ms", &self.stream_idle_timeout_ms)
            .field("requires_openai_auth", &self.requires_openai_auth)
            .finish_non_exhaustive()
    }
}

/// The provider entry for the resolved settings.
///
/// Upstream reads the key from `env_key` and fails when that variable is
/// unset, so `env_key` is only named when the key really came from
/// LITELLM_API_KEY. A key from a flag, config.toml or the key file is passed
/// as `experimental_bearer_token`; a keyless proxy gets neither.
pub fn provider_spec(settings: &LiteLlmSettings) -> ProviderSpec {
    let from_env = settings.api_key_source == Some(Source::Env);
    ProviderSpec {
        name: PROVIDER_NAME.to_string(),
        base_url: Some(settings.base_url.clone()),
        env_key: from_env.then(|| ENV_API_KEY.to_string()),
        env_key_instructions: Some(
            "Set LITELLM_API_KEY to a LiteLLM virtual key or the proxy's master key, or run `codex-litellm` in a terminal to store one."
                .to_string(),
        ),
        experimental_bearer_token: if from_env {
            None
        } else {
            settings.api_key.clone()
        },
        wire_api: settings.wire_api,
        query_params: None,
        http_headers: None,
        env_http_headers: None,
        request_max_retries: None,
        // Upstream's turn loop retries a failed request this many times,
        // showing "Reconnecting... n/m"; the exchange stops at the last one.
        stream_max_retries: Some(STREAM_MAX_RETRIES),
        stream_idle_timeout_ms: None,
        requires_openai_auth: false,
    }
}

/// Typed access to the two tables we read, with errors that name the key.
struct ConfigFile<'a> {
    root: Option<&'a toml::Table>,
}

impl<'a> ConfigFile<'a> {
    fn new(value: &'a toml::Value) -> Self {
        Self {
            root: value.as_table(),
        }
    }

    fn get(&self, table: &str, key: &str) -> Option<&'a toml::Value> {
        self.root?.get(table)?.as_table()?.get(key)
    }

    fn string(&self, table: &str, key: &str) -> Result<Option<String>, LiteLlmError> {
        match self.get(table, key) {
            None => Ok(None),
            Some(toml::Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(toml::Value::String(s)) => Ok(Some(s.trim().to_string())),
            Some(other) => Err(type_error(format!("[{table}].{key}"), "a string", other)),
        }
    }

    fn unsigned(&self, table: &str, key: &str) -> Result<Option<u64>, LiteLlmError> {
        self.get(table, key)
            .map(|value| non_negative(&format!("[{table}].{key}"), value))
            .transpose()
    }

    /// `[litellm].api_base`, else `[general].api_base` when `[general]`
    /// selects LiteLLM (or selects nothing): the older codex-litellm layout
    /// kept the URL there next to `model_provider = "litellm"`.
    fn api_base(&self) -> Result<Option<String>, LiteLlmError> {
        if let Some(url) = self.string("litellm", "api_base")? {
            return Ok(Some(url));
        }
        let provider = self.string("general", "model_provider")?;
        match provider {
            Some(p) if !p.eq_ignore_ascii_case(PROVIDER_ID) => Ok(None),
            _ => self.string("general", "api_base"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn toml(text: &str) -> toml::Value {
        toml::from_str(text).expect("test TOML")
    }

    #[test]
    fn normalize_table() {
        let cases = [
            ("localhost:4000", "http://localhost:4000/v1"),
            ("http://localhost:4000", "http://localhost:4000/v1"),
            ("http://localhost:4000/", "http://localhost:4000/v1"),
            ("http://localhost:4000/v1", "http://localhost:4000/v1"),
            ("http://localhost:4000/v1/", "http://localhost:4000/v1"),
            ("  http://h:1//  ", "http://h:1/v1"),
            ("HTTP://LocalHost:4000", "http://localhost:4000/v1"),
            ("https://proxy.example.com", "https://proxy.example.com/v1"),
            (
                "https://proxy.example.com:443/",
                "https://proxy.example.com/v1",
            ),
            ("http://host/litellm/", "http://host/litellm/v1"),
            ("127.0.0.1:4000", "http://127.0.0.1:4000/v1"),
            ("[::1]:4000", "http://[::1]:4000/v1"),
            ("localhost", "http://localhost/v1"),
        ];
        for (input, expected) in cases {
            assert_eq!(
                normalize_base_url(input).expect(input),
                expected,
                "input {input:?}"
            );
        }
        for bad in [
            "",
            "   ",
            "ftp://x",
            "http://",
            "http://u:p@h",
            "http://h/?a=b",
        ] {
            assert!(normalize_base_url(bad).is_err(), "accepted {bad:?}");
        }
    }

    #[test]
    fn proxy_root_strips_v1() {
        assert_eq!(proxy_root("http://h:4000/v1"), "http://h:4000");
        assert_eq!(proxy_root("http://h:4000/x/v1/"), "http://h:4000/x");
        assert_eq!(proxy_root("http://h:4000"), "http://h:4000");
    }

    #[test]
    fn precedence_flag_over_env_over_file() {
        let home = tempfile::tempdir().expect("tempdir");
        let file = toml(
            r#"
            [litellm]
            api_base = "file:1"
            api_key = "file-key"
            model = "file-model"
            wire_api = "responses"
            [general]
            context_length = 1000
            "#,
        );
        let env = |name: &str| match name {
            ENV_BASE_URL => Some("env:2".to_string()),
            ENV_API_KEY => Some("env-key".to_string()),
            ENV_MODEL => Some("env-model".to_string()),
            ENV_WIRE_API => Some("responses".to_string()),
            _ => None,
        };

        let only_file = resolve(&CliOverrides::default(), no_env, &file, home.path()).unwrap();
        assert_eq!(only_file.base_url, "http://file:1/v1");
        assert_eq!(only_file.base_url_source, Source::ConfigFile);
        assert_eq!(only_file.api_key.as_deref(), Some("file-key"));
        assert_eq!(only_file.default_model.as_deref(), Some("file-model"));
        assert_eq!(only_file.wire_api, WireApi::Responses);
        assert_eq!(only_file.context_length, Some(1000));

        let with_env = resolve(&CliOverrides::default(), env, &file, home.path()).unwrap();
        assert_eq!(with_env.base_url, "http://env:2/v1");
        assert_eq!(with_env.base_url_source, Source::Env);
        assert_eq!(with_env.api_key.as_deref(), Some("env-key"));
        assert_eq!(with_env.api_key_source, Some(Source::Env));
        assert_eq!(with_env.default_model.as_deref(), Some("env-model"));
        assert_eq!(with_env.wire_api, WireApi::Responses);

        let cli = CliOverrides {
            base_url: Some("cli:3".to_string()),
            api_key: Some("cli-key".to_string()),
            model: Some("cli-model".to_string()),
            wire_api: Some(WireApi::Responses),
            context_length: Some(5),
        };
        let with_cli = resolve(&cli, env, &file, home.path()).unwrap();
        assert_eq!(with_cli.base_url, "http://cli:3/v1");
        assert_eq!(with_cli.base_url_source, Source::Cli);
        assert_eq!(with_cli.api_key.as_deref(), Some("cli-key"));
        assert_eq!(with_cli.default_model.as_deref(), Some("cli-model"));
        assert_eq!(with_cli.wire_api, WireApi::Responses);
        assert_eq!(with_cli.context_length, Some(5));
    }

    #[test]
    fn empty_values_count_as_unset() {
        let home = tempfile::tempdir().expect("tempdir");
        let env = |name: &str| match name {
            ENV_BASE_URL => Some(String::new()),
            ENV_API_KEY => Some("  ".to_string()),
            _ => None,
        };
        let file = toml("[litellm]\napi_base = \"h:1\"\n");
        let s = resolve(&CliOverrides::default(), env, &file, home.path()).unwrap();
        assert_eq!(s.base_url, "http://h:1/v1");
        assert_eq!(s.api_key, None);
        assert_eq!(s.api_key_source, None);
    }

    #[test]
    fn nothing_configured_is_not_configured() {
        let home = tempfile::tempdir().expect("tempdir");
        let err = resolve(&CliOverrides::default(), no_env, &toml(""), home.path()).unwrap_err();
        assert!(matches!(err, LiteLlmError::NotConfigured), "{err:?}");
    }

    #[test]
    fn general_table_is_the_legacy_fallback() {
        let home = tempfile::tempdir().expect("tempdir");
        let legacy = toml("[general]\nmodel_provider = \"litellm\"\napi_base = \"h:9\"\n");
        let s = resolve(&CliOverrides::default(), no_env, &legacy, home.path()).unwrap();
        assert_eq!(s.base_url, "http://h:9/v1");
        let other = toml("[general]\nmodel_provider = \"openai\"\napi_base = \"h:9\"\n");
        assert!(resolve(&CliOverrides::default(), no_env, &other, home.path()).is_err());
    }

    #[test]
    fn bad_types_and_values_name_the_setting() {
        let home = tempfile::tempdir().expect("tempdir");
        let err = resolve(
            &CliOverrides::default(),
            no_env,
            &toml("[litellm]\napi_base = 5\n"),
            home.path(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("[litellm].api_base"), "{err}");
        let err = resolve(
            &CliOverrides::default(),
            no_env,
            &toml("[litellm]\napi_base = \"h:1\"\nwire_api = \"grpc\"\n"),
            home.path(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("[litellm].wire_api"), "{err}");
        let err = resolve(
            &CliOverrides::default(),
            no_env,
            &toml("[litellm]\napi_base = \"h:1\"\n[general]\ncontext_length = -1\n"),
            home.path(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("context_length"), "{err}");
    }

    #[test]
    fn key_file_is_the_last_resort_and_written_0600() {
        let home = tempfile::tempdir().expect("tempdir");
        let file = toml("[litellm]\napi_base = \"h:1\"\n");
        let path = write_key_file(home.path(), "  sk-from-file \n").unwrap();
        assert_eq!(path, home.path().join("litellm").join("api_key"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
            let dir_mode = fs::metadata(path.parent().unwrap())
                .unwrap()
                .permissions()
                .mode()
                & 0o777;
            assert_eq!(dir_mode, 0o700);
        }
        let s = resolve(&CliOverrides::default(), no_env, &file, home.path()).unwrap();
        assert_eq!(s.api_key.as_deref(), Some("sk-from-file"));
        assert_eq!(s.api_key_source, Some(Source::KeyFile(path.clone())));

        // Overwriting a file someone loosened to 0644 makes it private again.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
            write_key_file(home.path(), "sk-second").unwrap();
            let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        // A key in config.toml wins over the key file.
        let with_key = toml("[litellm]\napi_base = \"h:1\"\napi_key = \"cfg\"\n");
        let s = resolve(&CliOverrides::default(), no_env, &with_key, home.path()).unwrap();
        assert_eq!(s.api_key.as_deref(), Some("cfg"));
    }

    #[test]
    fn explicit_key_file_path() {
        let home = tempfile::tempdir().expect("tempdir");
        fs::write(home.path().join("my.key"), "sk-custom\n").unwrap();
        let file = toml("[litellm]\napi_base = \"h:1\"\nkey_file = \"my.key\"\n");
        let s = resolve(&CliOverrides::default(), no_env, &file, home.path()).unwrap();
        assert_eq!(s.api_key.as_deref(), Some("sk-custom"));
        let missing = toml("[litellm]\napi_base = \"h:1\"\nkey_file = \"nope.key\"\n");
        let err = resolve(&CliOverrides::default(), no_env, &missing, home.path()).unwrap_err();
        assert!(err.to_string().contains("nope.key"), "{err}");
    }

    #[test]
    fn provider_spec_uses_env_key_only_for_env_keys() {
        let home = tempfile::tempdir().expect("tempdir");
        let file = toml("[litellm]\napi_base = \"h:1\"\n");
        let env = |name: &str| (name == ENV_API_KEY).then(|| "sk-env".to_string());
        let s = resolve(&CliOverrides::default(), env, &file, home.path()).unwrap();
        let spec = provider_spec(&s);
        assert_eq!(spec.name, "LiteLLM");
        assert_eq!(spec.base_url.as_deref(), Some("http://h:1/v1"));
        assert_eq!(spec.env_key.as_deref(), Some("LITELLM_API_KEY"));
        assert_eq!(spec.experimental_bearer_token, None);
        assert_eq!(spec.wire_api, WireApi::Responses);
        assert!(!spec.requires_openai_auth);

        let cli = CliOverrides {
            api_key: Some("sk-cli".to_string()),
            ..CliOverrides::default()
        };
        let s = resolve(&cli, no_env, &file, home.path()).unwrap();
        let spec = provider_spec(&s);
        assert_eq!(spec.env_key, None);
        assert_eq!(spec.experimental_bearer_token.as_deref(), Some("sk-cli"));
        assert!(!format!("{spec:?}").contains("sk-cli"));
        assert!(!format!("{s:?}").contains("sk-cli"));

        let s = resolve(&CliOverrides::default(), no_env, &file, home.path()).unwrap();
        let spec = provider_spec(&s);
        assert_eq!(spec.env_key, None);
        assert_eq!(spec.experimental_bearer_token, None);
    }

    #[test]
    fn chat_wire_api_is_a_clear_error_naming_where_it_was_set() {
        let home = tempfile::tempdir().expect("tempdir");
        let file = toml("[litellm]\napi_base = \"h:1\"\nwire_api = \"chat\"\n");
        let err = resolve(&CliOverrides::default(), no_env, &file, home.path()).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("[litellm].wire_api") && text.contains("Responses API"), "{text}");
        let env = |name: &str| (name == ENV_WIRE_API).then(|| "chat".to_string());
        let file = toml("[litellm]\napi_base = \"h:1\"\n");
        let err = resolve(&CliOverrides::default(), env, &file, home.path()).unwrap_err();
        assert!(err.to_string().contains(ENV_WIRE_API), "{err}");
    }

    #[test]
    fn wire_api_parsing() {
        for chat in ["Chat", "chat_completions", "chat/completions"] {
            let err = chat.parse::<WireApi>().unwrap_err();
            assert!(err.contains("LiteLLM serves /v1/responses"), "{err}");
        }
        assert_eq!(" responses ".parse::<WireApi>(), Ok(WireApi::Responses));
        assert!("grpc".parse::<WireApi>().is_err());
        assert_eq!(WireApi::default(), WireApi::Responses);
    }

    #[test]
    fn load_config_file_missing_and_invalid() {
        let home = tempfile::tempdir().expect("tempdir");
        assert_eq!(
            load_config_file(home.path()).unwrap(),
            toml::Value::Table(toml::Table::new())
        );
        fs::write(home.path().join("config.toml"), "[litellm\n").unwrap();
        assert!(load_config_file(home.path()).is_err());
    }
}
