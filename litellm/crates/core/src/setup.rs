//! First-run wizard and the message shown instead when there is no terminal.
//!
//! The wizard is generic over `BufRead`/`Write` so tests can drive it with
//! scripted input. It reads lines synchronously: it runs before the TUI
//! starts, when blocking the runtime thread on stdin is harmless.
//!
//! The API key is never written to the output. In a terminal
//! ([`run_setup_masked`]) the terminal's own echo is turned off with `stty`
//! while the key is typed and each character shows as `*`, so typing and
//! pasting both give feedback without revealing the key; from a pipe
//! ([`run_setup`]) nothing echoes, so the key is read as a plain line.
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
use std::process::Command;
use std::process::Stdio;

use toml_edit::DocumentMut;

use crate::config::DEFAULT_BASE_URL;
use crate::config::WireApi;
use crate::private_files::create_private_dir;
use crate::config::key_file_path;
use crate::config::normalize_base_url;
use crate::config::proxy_root;
use crate::config::read_key_file;
use crate::private_files::write_atomically;
use crate::config::write_key_file;
use crate::discovery::Client;
use crate::model_info::ModelInfo;
use crate::errors::LiteLlmError;
use crate::errors::NOT_CONFIGURED_MESSAGE;
use crate::formatting::tokens;

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

/// Turns the terminal's echo off while the API key is typed, and back on.
pub trait KeyEcho {
    /// Stops the terminal echoing and buffering lines, so the wizard sees
    /// each key press and can show `*` for it.
    fn hide(&mut self) -> io::Result<()>;
    /// Puts the terminal back as it was before [`KeyEcho::hide`]. Called on
    /// every path out of the key prompt (Enter, Ctrl-C, end of input, an
    /// error, a panic), and harmless when nothing was hidden.
    fn restore(&mut self);
}

/// [`KeyEcho`] through `stty` on the controlling terminal (`/dev/tty`), so
/// no terminal library is needed. `stty -g` saves the exact settings first,
/// so restoring does not guess what the user had.
#[derive(Debug, Default)]
pub struct Stty {
    saved: Option<String>,
}

impl Stty {
    fn run(args: &[&str]) -> io::Result<String> {
        let tty = fs::File::open("/dev/tty")?;
        let out = Command::new("stty")
            .args(args)
            .stdin(tty)
            .stderr(Stdio::piped())
            .output()?;
        if !out.status.success() {
            return Err(io::Error::other(format!(
                "stty {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }
}

impl KeyEcho for Stty {
    fn hide(&mut self) -> io::Result<()> {
        let saved = Self::run(&["-g"])?;
        // Without `icanon` each key press arrives at once (for the `*`);
        // without `isig` Ctrl-C arrives as a byte instead of killing the
        // process with the echo still off.
        Self::run(&["-echo", "-icanon", "-isig", "min", "1", "time", "0"])?;
        self.saved = Some(saved);
        Ok(())
    }

    fn restore(&mut self) {
        if let Some(saved) = self.saved.take()
            && let Err(err) = Self::run(&[saved.as_str()])
        {
            tracing::warn!("could not restore the terminal after the API key prompt: {err}");
        }
    }
}

/// Runs the interactive setup and saves the result under `codex_home`,
/// reading every answer as a line (input from a pipe or a test, which
/// echoes nothing). See [`run_setup_masked`] for a terminal.
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
    setup(Terminal::new(input, output, None), codex_home).await
}

/// [`run_setup`] for a person at a terminal: the API key is read with the
/// terminal's echo off (through `echo`) and shown as one `*` per
/// character. Backspace and Ctrl-U edit, Ctrl-C cancels the wizard. When
/// the echo cannot be turned off the wizard says so and reads a line.
pub async fn run_setup_masked<R, W>(
    input: &mut R,
    output: &mut W,
    codex_home: &Path,
    echo: &mut (dyn KeyEcho + Send),
) -> Result<SetupOutcome, LiteLlmError>
where
    R: BufRead,
    W: Write,
{
    setup(Terminal::new(input, output, Some(echo)), codex_home).await
}

async fn setup<R, W>(
    mut term: Terminal<'_, R, W>,
    codex_home: &Path,
) -> Result<SetupOutcome, LiteLlmError>
where
    R: BufRead,
    W: Write,
{
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
    let answer = term.ask_secret(question)?;
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
            Some(_) => format!("  ({} tokens context)", tokens(model.context_window)),
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
    /// Set for a terminal: the key is then read masked.
    echo: Option<&'a mut (dyn KeyEcho + Send)>,
}

/// Restores the terminal when dropped, so every way out of the key prompt
/// (a `?`, a panic) leaves the echo on.
struct EchoGuard<'a>(&'a mut (dyn KeyEcho + Send));

impl Drop for EchoGuard<'_> {
    fn drop(&mut self) {
        self.0.restore();
    }
}

const CTRL_C: u8 = 0x03;
const CTRL_D: u8 = 0x04;
const BACKSPACE: u8 = 0x08;
const CTRL_U: u8 = 0x15;
const ESC: u8 = 0x1b;
const DELETE: u8 = 0x7f;

impl<'a, R: BufRead, W: Write> Terminal<'a, R, W> {
    fn new(
        input: &'a mut R,
        output: &'a mut W,
        echo: Option<&'a mut (dyn KeyEcho + Send)>,
    ) -> Self {
        Self {
            input,
            output,
            echo,
        }
    }

    fn say(&mut self, line: &str) -> Result<(), LiteLlmError> {
        writeln!(self.output, "{line}").map_err(output_error)
    }

    /// Prints `question` and returns the trimmed answer; end of input aborts.
    fn ask(&mut self, question: &str) -> Result<String, LiteLlmError> {
        write!(self.output, "{question}").map_err(output_error)?;
        self.output.flush().map_err(output_error)?;
        self.read_answer()
    }

    /// Like [`Terminal::ask`] for the API key: masked in a terminal; the
    /// answer is never written to the output either way.
    fn ask_secret(&mut self, question: &str) -> Result<String, LiteLlmError> {
        write!(self.output, "{question}").map_err(output_error)?;
        self.output.flush().map_err(output_error)?;
        let Some(echo) = self.echo.as_deref_mut() else {
            return self.read_answer();
        };
        if let Err(err) = echo.hide() {
            echo.restore();
            writeln!(self.output).map_err(output_error)?;
            self.say(&format!(
                "(The key cannot be hidden as you type it: {err}. It will be visible on screen.)"
            ))?;
            write!(self.output, "{question}").map_err(output_error)?;
            self.output.flush().map_err(output_error)?;
            return self.read_answer();
        }
        let guard = EchoGuard(echo);
        let typed = read_masked(self.input, self.output);
        drop(guard);
        // Enter was not echoed: end the prompt's line ourselves.
        writeln!(self.output).map_err(output_error)?;
        typed.map(|key| key.trim().to_string())
    }

    fn read_answer(&mut self) -> Result<String, LiteLlmError> {
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

/// Reads one key press at a time until Enter, writing `*` for each
/// character (pasted text arrives the same way). Escape sequences (arrow
/// keys, bracketed-paste markers) are skipped; Ctrl-C cancels, Ctrl-D or
/// the end of input on an empty answer ends the wizard.
fn read_masked<R: BufRead, W: Write>(input: &mut R, output: &mut W) -> Result<String, LiteLlmError> {
    let mut key: Vec<u8> = Vec::new();
    loop {
        let Some(byte) = next_byte(input)? else {
            if key.is_empty() {
                return Err(LiteLlmError::SetupAborted {
                    reason: "input ended".to_string(),
                });
            }
            break;
        };
        match byte {
            b'\r' | b'\n' => break,
            CTRL_C => {
                return Err(LiteLlmError::SetupAborted {
                    reason: "cancelled with Ctrl-C".to_string(),
                });
            }
            CTRL_D if key.is_empty() => {
                return Err(LiteLlmError::SetupAborted {
                    reason: "input ended".to_string(),
                });
            }
            CTRL_D => break,
            DELETE | BACKSPACE => {
                if pop_char(&mut key) {
                    show(output, "\x08 \x08")?;
                }
            }
            CTRL_U => {
                while pop_char(&mut key) {
                    show(output, "\x08 \x08")?;
                }
            }
            ESC => skip_escape(input)?,
            b if b < 0x20 => {}
            b => {
                key.push(b);
                // One `*` per character, not per UTF-8 byte.
                if b & 0xC0 != 0x80 {
                    show(output, "*")?;
                }
            }
        }
    }
    Ok(String::from_utf8_lossy(&key).into_owned())
}

/// Writes `text` at once: the prompt line is never ended until Enter.
fn show<W: Write>(output: &mut W, text: &str) -> Result<(), LiteLlmError> {
    write!(output, "{text}").map_err(output_error)?;
    output.flush().map_err(output_error)
}

/// Removes the last character (all its UTF-8 bytes); false when empty.
fn pop_char(key: &mut Vec<u8>) -> bool {
    let Some(mut at) = key.len().checked_sub(1) else {
        return false;
    };
    while at > 0 && key[at] & 0xC0 == 0x80 {
        at -= 1;
    }
    key.truncate(at);
    true
}

/// After ESC: skips a CSI/SS3 sequence (`ESC [ … final`, `ESC O x`).
fn skip_escape<R: BufRead>(input: &mut R) -> Result<(), LiteLlmError> {
    match next_byte(input)? {
        Some(b'[') => {
            while let Some(b) = next_byte(input)? {
                if (0x40..=0x7e).contains(&b) {
                    break;
                }
            }
        }
        Some(b'O') => {
            next_byte(input)?;
        }
        _ => {}
    }
    Ok(())
}

fn next_byte<R: BufRead>(input: &mut R) -> Result<Option<u8>, LiteLlmError> {
    let mut byte = [0u8; 1];
    loop {
        match input.read(&mut byte) {
            Ok(0) => return Ok(None),
            Ok(_) => return Ok(Some(byte[0])),
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(LiteLlmError::io("read", "standard input", err)),
        }
    }
}

fn output_error(err: io::Error) -> LiteLlmError {
    LiteLlmError::io("write to", "the terminal", err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    /// Records what the wizard asked of the terminal.
    #[derive(Default)]
    struct FakeEcho {
        events: Vec<&'static str>,
        fail: bool,
    }

    impl KeyEcho for FakeEcho {
        fn hide(&mut self) -> io::Result<()> {
            self.events.push("hide");
            if self.fail {
                return Err(io::Error::other("no terminal"));
            }
            Ok(())
        }
        fn restore(&mut self) {
            self.events.push("restore");
        }
    }

    fn ask_key_masked(typed: &[u8], echo: &mut FakeEcho) -> (Result<String, LiteLlmError>, String) {
        let mut input = io::Cursor::new(typed.to_vec());
        let mut output = Vec::new();
        let answer = Terminal::new(&mut input, &mut output, Some(echo)).ask_secret("API key: ");
        (answer, String::from_utf8(output).unwrap())
    }

    #[test]
    fn masked_key_shows_stars_and_never_the_key() {
        let mut echo = FakeEcho::default();
        // Typed with a typo fixed by Backspace, then the rest pasted at once
        // (a paste arrives as one burst of bytes), then Enter.
        let (key, shown) = ask_key_masked(b"sk-x\x7fsecret-\xc3\xa9t\r", &mut echo);
        assert_eq!(key.unwrap(), "sk-secret-\u{e9}t");
        assert_eq!(echo.events, ["hide", "restore"]);
        assert!(!shown.contains("secret"), "{shown:?}");
        // 4 stars, one rubbed out, then 9 more (é is one character).
        assert_eq!(shown, "API key: ****\x08 \x08*********\n");
    }

    #[test]
    fn masked_key_edits_and_skips_escape_sequences() {
        let mut echo = FakeEcho::default();
        // Ctrl-U clears, an arrow key and bracketed-paste markers are ignored.
        let typed = b"wrong\x15\x1b[D\x1b[200~sk-pasted\x1b[201~\n";
        let (key, shown) = ask_key_masked(typed, &mut echo);
        assert_eq!(key.unwrap(), "sk-pasted");
        assert!(!shown.contains("pasted") && !shown.contains("wrong"), "{shown:?}");
        assert_eq!(shown.matches('*').count(), 5 + 9);
    }

    #[test]
    fn ctrl_c_and_end_of_input_restore_the_terminal() {
        let mut echo = FakeEcho::default();
        let (err, shown) = ask_key_masked(b"sk-half\x03", &mut echo);
        let err = err.unwrap_err();
        assert!(err.to_string().contains("Ctrl-C"), "{err}");
        assert_eq!(echo.events, ["hide", "restore"]);
        assert!(!shown.contains("sk-half"), "{shown:?}");

        for typed in [&b""[..], b"\x04"] {
            let mut echo = FakeEcho::default();
            let (err, _) = ask_key_masked(typed, &mut echo);
            assert!(err.unwrap_err().to_string().contains("input ended"));
            assert_eq!(echo.events, ["hide", "restore"]);
        }
        // Input that ends after some characters keeps them (a paste without Enter).
        let mut echo = FakeEcho::default();
        assert_eq!(ask_key_masked(b"sk-end", &mut echo).0.unwrap(), "sk-end");
    }

    #[test]
    fn key_prompt_falls_back_to_a_line_when_echo_cannot_be_hidden() {
        let mut echo = FakeEcho {
            fail: true,
            ..FakeEcho::default()
        };
        let (key, shown) = ask_key_masked(b"sk-visible\n", &mut echo);
        assert_eq!(key.unwrap(), "sk-visible");
        assert!(shown.contains("cannot be hidden") && shown.contains("no terminal"), "{shown}");
        assert!(!shown.contains("sk-visible"), "{shown}");
        assert_eq!(echo.events, ["hide", "restore"]);
    }

    #[test]
    fn plain_key_prompt_reads_a_line_without_touching_a_terminal() {
        let mut input = io::Cursor::new(b"  sk-line  \n".to_vec());
        let mut output = Vec::new();
        let key = Terminal::new(&mut input, &mut output, None)
            .ask_secret("API key: ")
            .unwrap();
        assert_eq!(key, "sk-line");
        assert_eq!(String::from_utf8(output).unwrap(), "API key: ");
    }

    /// Needs a real terminal, so it is ignored by default; run it under a
    /// pseudo-terminal: `script -qec "cargo test -p codex-litellm-core --lib
    /// stty_ -- --ignored" /dev/null`.
    #[test]
    #[ignore = "needs a terminal on /dev/tty"]
    fn stty_hides_the_echo_and_restores_it_exactly() {
        let before = Stty::run(&["-g"]).unwrap();
        let mut stty = Stty::default();
        stty.hide().unwrap();
        let hidden = Stty::run(&["-a"]).unwrap();
        for flag in ["-echo", "-icanon", "-isig"] {
            assert!(hidden.split_whitespace().any(|w| w == flag), "{flag}: {hidden}");
        }
        stty.restore();
        assert_eq!(Stty::run(&["-g"]).unwrap(), before);
        // A second restore does nothing.
        stty.restore();
        assert_eq!(Stty::run(&["-g"]).unwrap(), before);
    }

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
