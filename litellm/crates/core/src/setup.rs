//! First-run wizard and the message shown instead when there is no terminal.
//!
//! The wizard is generic over `BufRead`/`Write` so tests can drive it with
//! scripted input. It reads lines synchronously: it runs before the TUI
//! starts, when blocking the runtime thread on stdin is harmless.
//!
//! It writes `[litellm] api_base / model` into
//! CODEX_HOME/config.toml with `toml_edit`, so comments and unrelated
//! settings survive, and the API key into CODEX_HOME/litellm/api_key (0600),
//! never into config.toml, which people share and commit.

use std::fs;
use std::io;
use std::io::BufRead;
use std::io::Write;
use std::path::Path;
use std::path::PathBuf;

use toml_edit::DocumentMut;

use crate::config::DEFAULT_BASE_URL;
use crate::config::WireApi;
use crate::config::create_private_dir;
use crate::config::key_file_path;
use crate::config::normalize_base_url;
use crate::config::proxy_root;
use crate::config::read_key_file;
use crate::config::write_atomically;
use crate::config::write_key_file;
use crate::discovery::Client;
use crate::discovery::ModelInfo;
use crate::errors::LiteLlmError;
use crate::errors::NOT_CONFIGURED_MESSAGE;
use crate::models_cmd::format_tokens;

/// What a non-interactive run prints when nothing configures the proxy.
pub fn missing_config_message() -> &'static str {
    NOT_CONFIGURED_MESSAGE
}

/// What the wizard saved.
#[derive(Debug, Clone, PartialEq)]
pub struct SetupOutcome {
    /// Normalised base URL written to `[litellm].api_base`.
    pub base_url: String,
    /// Written to `[litellm].model`, when one was chosen.
    pub model: Option<String>,
    pub config_path: PathBuf,
    /// The key file, when a key is stored.
    pub key_path: Option<PathBuf>,
}

/// The answer to the API key question.
enum KeyChoice {
    Keep(String),
    New(String),
    None,
}

impl KeyChoice {
    fn key(&self) -> Option<String> {
        match self {
            Self::Keep(key) | Self::New(key) => Some(key.clone()),
            Self::None => None,
        }
    }
}

/// Runs the interactive setup and saves the result under `codex_home`.
///
/// Asks for the proxy URL (default: the configured one, else
/// http://localhost:4000) and API key, checks `/health/liveliness` and lists
/// the models, lets the user pick the default model, then
/// saves. Connection problems are explained and the user may try again; end
/// of input aborts with [`LiteLlmError::SetupAborted`].
pub async fn run_setup<R, W>(
    input: &mut R,
    output: &mut W,
    codex_home: &Path,
) -> Result<SetupOutcome, LiteLlmError>
where
    R: BufRead,
    W: Write,
{
    let mut term = Terminal { input, output };
    let existing = ExistingConfig::read(codex_home)?;
    term.say("Set up codex-litellm: connect Codex to your LiteLLM proxy.")?;
    term.say(&format!(
        "Settings go to {}; the API key goes to {} (readable only by you).",
        codex_home.join("config.toml").display(),
        key_file_path(codex_home).display()
    ))?;

    let (base_url, key_choice, models) = loop {
        let default_url = existing.api_base.as_deref().unwrap_or(DEFAULT_BASE_URL);
        let answer = term.ask(&format!("LiteLLM proxy URL [{default_url}]: "))?;
        let typed = if answer.is_empty() {
            default_url
        } else {
            answer.as_str()
        };
        let base_url = match normalize_base_url(typed) {
            Ok(url) => url,
            Err(err) => {
                term.say(&err.to_string())?;
                continue;
            }
        };

        let key_choice = ask_key(&mut term, codex_home)?;
        let client = Client::new(&base_url, key_choice.key())?;
        term.say(&format!("Checking {} …", proxy_root(&base_url)))?;
        let probe = async {
            client.health_liveliness().await?;
            client.discover().await
        };
        match probe.await {
            Ok(models) => {
                term.say(&format!(
                    "Connected: the proxy offers {} model(s).",
                    models.len()
                ))?;
                break (base_url, key_choice, models);
            }
            Err(err) => {
                term.say(&err.to_string())?;
                if !term.confirm("Try again? [Y/n]: ", true)? {
                    return Err(LiteLlmError::SetupAborted {
                        reason: "the proxy could not be reached".to_string(),
                    });
                }
            }
        }
    };

    let model = choose_model(&mut term, &models, existing.model.as_deref())?;

    let key_path = match &key_choice {
        KeyChoice::New(key) => Some(write_key_file(codex_home, key)?),
        KeyChoice::Keep(_) => Some(key_file_path(codex_home)),
        KeyChoice::None => {
            remove_if_exists(&key_file_path(codex_home))?;
            None
        }
    };
    // A key left in config.toml would shadow the key file (it has higher
    // precedence), so saving a new key moves it out of config.toml.
    let drop_inline_key = !matches!(key_choice, KeyChoice::Keep(_));
    let config_path = save_config(
        codex_home,
        &base_url,
        model.as_deref(),
        drop_inline_key,
    )?;

    term.say(&format!("Saved {}.", config_path.display()))?;
    if let Some(path) = &key_path {
        term.say(&format!("API key stored in {}.", path.display()))?;
    }
    Ok(SetupOutcome {
        base_url,
        model,
        config_path,
        key_path,
    })
}

/// Writes `[litellm] api_base` and `model` (when given) into
/// CODEX_HOME/config.toml, keeping everything else in the file, and
/// optionally removes `[litellm].api_key`. Replaced values keep their
/// trailing comments. The file is replaced atomically.
pub fn save_config(
    codex_home: &Path,
    base_url: &str,
    model: Option<&str>,
    remove_api_key: bool,
) -> Result<PathBuf, LiteLlmError> {
    create_private_dir(codex_home)?;
    let path = codex_home.join("config.toml");
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(err) if err.kind() == io::ErrorKind::NotFound => String::new(),
        Err(err) => return Err(LiteLlmError::io("read", path, err)),
    };
    let mut doc: DocumentMut = text.parse().map_err(|err| {
        LiteLlmError::invalid(path.display().to_string(), format!("not valid TOML: {err}"))
    })?;
    let table = doc
        .entry("litellm")
        .or_insert(toml_edit::table())
        .as_table_like_mut()
        .ok_or_else(|| LiteLlmError::invalid("[litellm]", "must be a table"))?;

    set_string(table, "api_base", base_url);
    if let Some(model) = model {
        set_string(table, "model", model);
    }
    // A `wire_api = "chat"` left from before the Responses-only upstream would
    // stop every start, so the wizard drops anything but `responses`.
    if table
        .get("wire_api")
        .and_then(toml_edit::Item::as_str)
        .is_some_and(|w| w.parse::<WireApi>().is_err())
    {
        table.remove("wire_api");
    }
    if remove_api_key {
        table.remove("api_key");
    }
    write_atomically(&path, doc.to_string().as_bytes(), None)?;
    Ok(path)
}

/// Sets `key` to a string, keeping the comment/whitespace around an existing
/// value.
fn set_string(table: &mut dyn toml_edit::TableLike, key: &str, value: &str) {
    if let Some(existing) = table.get_mut(key).and_then(toml_edit::Item::as_value_mut) {
        let decor = existing.decor().clone();
        *existing = toml_edit::Value::from(value);
        *existing.decor_mut() = decor;
    } else {
        table.insert(key, toml_edit::value(value));
    }
}

fn remove_if_exists(path: &Path) -> Result<(), LiteLlmError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(err) => Err(LiteLlmError::io("remove", path, err)),
    }
}

fn ask_key<R: BufRead, W: Write>(
    term: &mut Terminal<'_, R, W>,
    codex_home: &Path,
) -> Result<KeyChoice, LiteLlmError> {
    let saved = read_key_file(&key_file_path(codex_home))?;
    let question = if saved.is_some() {
        "API key (Enter keeps the saved key, `-` for none): "
    } else {
        "API key (Enter if the proxy needs none): "
    };
    let answer = term.ask(question)?;
    Ok(match (answer.as_str(), saved) {
        ("", Some(saved)) => KeyChoice::Keep(saved),
        ("" | "-", _) => KeyChoice::None,
        (key, _) => KeyChoice::New(key.to_string()),
    })
}

fn choose_model<R: BufRead, W: Write>(
    term: &mut Terminal<'_, R, W>,
    models: &[ModelInfo],
    current: Option<&str>,
) -> Result<Option<String>, LiteLlmError> {
    if models.is_empty() {
        term.say("The proxy lists no models for this key.")?;
        let answer = term.ask("Default model name (Enter to skip): ")?;
        return Ok((!answer.is_empty()).then_some(answer));
    }
    term.say("Models:")?;
    for (i, model) in models.iter().enumerate() {
        let context = match model.context_window {
            Some(_) => format!("  ({} tokens context)", format_tokens(model.context_window)),
            None => String::new(),
        };
        term.say(&format!("{:>4}. {}{context}", i + 1, model.id))?;
    }
    let default_index = current
        .and_then(|c| models.iter().position(|m| m.id == c))
        .unwrap_or(0);
    let ids: Vec<String> = models.iter().map(|m| m.id.clone()).collect();
    loop {
        let answer = term.ask(&format!(
            "Default model (number or name) [{}]: ",
            default_index + 1
        ))?;
        if answer.is_empty() {
            return Ok(Some(ids[default_index].clone()));
        }
        if let Ok(n) = answer.parse::<usize>()
            && (1..=ids.len()).contains(&n)
        {
            return Ok(Some(ids[n - 1].clone()));
        }
        if ids.contains(&answer) {
            return Ok(Some(answer));
        }
        term.say(&LiteLlmError::unknown_model(answer, &ids).to_string())?;
    }
}

/// The parts of an existing config.toml the wizard offers as defaults.
struct ExistingConfig {
    api_base: Option<String>,
    model: Option<String>,
}

impl ExistingConfig {
    fn read(codex_home: &Path) -> Result<Self, LiteLlmError> {
        let config = crate::config::load_config_file(codex_home)?;
        let get = |key: &str| {
            config
                .get("litellm")
                .and_then(|t| t.get(key))
                .and_then(toml::Value::as_str)
                .map(str::to_string)
        };
        Ok(Self {
            api_base: get("api_base"),
            model: get("model"),
        })
    }
}

struct Terminal<'a, R, W> {
    input: &'a mut R,
    output: &'a mut W,
}

impl<R: BufRead, W: Write> Terminal<'_, R, W> {
    fn say(&mut self, line: &str) -> Result<(), LiteLlmError> {
        writeln!(self.output, "{line}").map_err(output_error)
    }

    /// Prints `question` and returns the trimmed answer; end of input aborts.
    fn ask(&mut self, question: &str) -> Result<String, LiteLlmError> {
        write!(self.output, "{question}").map_err(output_error)?;
        self.output.flush().map_err(output_error)?;
        let mut line = String::new();
        let read = self
            .input
            .read_line(&mut line)
            .map_err(|err| LiteLlmError::io("read", "standard input", err))?;
        if read == 0 {
            // Keep the transcript readable when input ends mid-prompt.
            let _ = writeln!(self.output);
            return Err(LiteLlmError::SetupAborted {
                reason: "input ended".to_string(),
            });
        }
        Ok(line.trim().to_string())
    }

    fn confirm(&mut self, question: &str, default: bool) -> Result<bool, LiteLlmError> {
        let answer = self.ask(question)?.to_ascii_lowercase();
        Ok(match answer.as_str() {
            "" => default,
            "y" | "yes" => true,
            _ => false,
        })
    }
}

fn output_error(err: io::Error) -> LiteLlmError {
    LiteLlmError::io("write to", "the terminal", err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn save_config_preserves_comments_and_other_tables() {
        let home = tempfile::tempdir().unwrap();
        let original = "\
# top comment
model = \"o3\" # keep me

[litellm]
# where the proxy is
api_base = \"http://old:4000\" # old proxy
api_key = \"sk-inline\"

[tui]
theme = \"dark\"
";
        fs::write(home.path().join("config.toml"), original).unwrap();
        save_config(
            home.path(),
            "http://new:4000/v1",
            Some("m/x"),
            true,
        )
        .unwrap();
        let saved = fs::read_to_string(home.path().join("config.toml")).unwrap();
        let expected = "\
# top comment
model = \"o3\" # keep me

[litellm]
# where the proxy is
api_base = \"http://new:4000/v1\" # old proxy
model = \"m/x\"

[tui]
theme = \"dark\"
";
        assert_eq!(saved, expected);
    }

    #[test]
    fn save_config_creates_the_file() {
        let home = tempfile::tempdir().unwrap();
        let nested = home.path().join("codex");
        save_config(&nested, "http://h:1/v1", None, false).unwrap();
        let saved = fs::read_to_string(nested.join("config.toml")).unwrap();
        assert_eq!(
            saved,
            "[litellm]\napi_base = \"http://h:1/v1\"\n"
        );
    }

    #[test]
    fn save_config_rejects_non_table_litellm() {
        let home = tempfile::tempdir().unwrap();
        fs::write(home.path().join("config.toml"), "litellm = 3\n").unwrap();
        let err =
            save_config(home.path(), "http://h:1/v1", None, false).unwrap_err();
        assert!(err.to_string().contains("[litellm]"), "{err}");
    }
}
