//! Local telemetry: one JSON line per model request, so a person can see
//! what a session did, what it cost and how well the caches worked
//! (`codex-litellm telemetry`, in `telemetry_report`, summarises the files). Nothing is sent
//! anywhere; the files stay in a private directory.
//!
//! ```toml
//! [telemetry]
//! enabled = true                     # default; --no-telemetry turns it off
//! dir = "~/.codex/litellm/telemetry" # default CODEX_HOME/litellm/telemetry
//! max_total_bytes = 20971520         # default 20 MiB for the whole directory
//! logs.debug.enabled = false         # debug.jsonl: verbose events
//! logs.session.file = "sessions.jsonl"
//! ```
//!
//! Two promises shape this module:
//!
//! - **The directory never exceeds `max_total_bytes`**, counting every file
//!   in it, at every moment. Each log file may grow to a quarter of the
//!   budget, then is rotated (`sessions.jsonl` → `sessions.jsonl.1` → `.2`
//!   …) and the oldest rotated files (debug ones first) are deleted until
//!   the next line fits. A line that cannot fit (larger than a file's share,
//!   or the directory is full of files that are not ours) is dropped with a
//!   warning instead. Writers in several Codex processes share the
//!   directory, so each write holds an exclusive lock on `.lock`.
//! - **No credential is ever written.** Every string is redacted before
//!   serialisation: the secrets passed to [`Telemetry::open`] (the
//!   configured API key), `sk-…` keys, `Bearer …` tokens, `user:password@`
//!   in URLs, values that follow a credential-like name in text
//!   (`api_key=…`, `"token": "…"`) and whole values of JSON fields with such
//!   names all become `[REDACTED]` ([`crate::redaction`]).

use std::fs;
use std::io;
use std::io::Write;
use std::path::Path;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering;

use serde::Deserialize;
use serde::Serialize;
use serde_json::Map;
use serde_json::Value;

use crate::private_files::create_private_dir;
use crate::private_files::litellm_dir;
use crate::config_values::non_negative;
use crate::config_values::resolve_dir;
use crate::config_values::type_error;
use crate::cost::CacheTier;
use crate::cost::CostSource;
use crate::cost::RequestOutcome;
use crate::errors::LiteLlmError;
use crate::headers::RateLimits;
use crate::redaction::redact_value;
use crate::usage::Usage;

pub const DEFAULT_MAX_TOTAL_BYTES: u64 = 20 * 1024 * 1024;
pub const DEFAULT_SESSION_FILE: &str = "sessions.jsonl";
pub const DEBUG_FILE: &str = "debug.jsonl";
pub const STATUS_OK: &str = "ok";
pub const STATUS_ERROR: &str = "error";

/// Held (exclusively) while a process writes or rotates.
const LOCK_FILE: &str = ".lock";
/// Each log file's share of `max_total_bytes` is 1/FILE_SHARE: small enough
/// that rotation keeps several files of history, large enough that lines are
/// rarely too big.
const FILE_SHARE: u64 = 4;
/// Longest `error` text kept in a record.
const MAX_ERROR_CHARS: usize = 1000;

/// `[telemetry]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelemetryConfig {
    pub enabled: bool,
    pub dir: PathBuf,
    /// Budget for the whole directory, all files included.
    pub max_total_bytes: u64,
    /// `logs.debug.enabled`: also write `debug.jsonl`.
    pub debug_enabled: bool,
    /// `logs.session.file`: name of the request log inside `dir`.
    pub session_file: String,
}

impl TelemetryConfig {
    /// Defaults: enabled, CODEX_HOME/litellm/telemetry, 20 MiB, no debug log,
    /// `sessions.jsonl`.
    pub fn defaults(codex_home: &Path) -> Self {
        Self {
            enabled: true,
            dir: litellm_dir(codex_home).join("telemetry"),
            max_total_bytes: DEFAULT_MAX_TOTAL_BYTES,
            debug_enabled: false,
            session_file: DEFAULT_SESSION_FILE.to_string(),
        }
    }

    /// Reads the `[telemetry]` table. `override_enabled` is the
    /// `--telemetry` / `--no-telemetry` flag and wins over the table. `dir`
    /// may start with `~`; a relative one is under CODEX_HOME.
    pub fn from_toml(
        telemetry: Option<&toml::Value>,
        codex_home: &Path,
        override_enabled: Option<bool>,
    ) -> Result<Self, LiteLlmError> {
        let mut cfg = Self::defaults(codex_home);
        if let Some(table) = telemetry {
            let setting = |key: &str| format!("[telemetry].{key}");
            let boolean = |key: &str, value: &toml::Value| {
                value
                    .as_bool()
                    .ok_or_else(|| type_error(setting(key), "a boolean", value))
            };
            if let Some(value) = table.get("enabled") {
                cfg.enabled = boolean("enabled", value)?;
            }
            if let Some(value) = table.get("dir") {
                let text = value
                    .as_str()
                    .ok_or_else(|| type_error(setting("dir"), "a string", value))?;
                cfg.dir = resolve_dir(text, codex_home, &setting("dir"))?;
            }
            if let Some(value) = table.get("max_total_bytes") {
                cfg.max_total_bytes = non_negative(&setting("max_total_bytes"), value)?;
            }
            let logs = table.get("logs");
            if let Some(value) = logs
                .and_then(|l| l.get("debug"))
                .and_then(|d| d.get("enabled"))
            {
                cfg.debug_enabled = boolean("logs.debug.enabled", value)?;
            }
            if let Some(value) = logs
                .and_then(|l| l.get("session"))
                .and_then(|s| s.get("file"))
            {
                let name = value
                    .as_str()
                    .ok_or_else(|| type_error(setting("logs.session.file"), "a string", value))?
                    .trim();
                let plain = !name.is_empty()
                    && !name.starts_with('.')
                    && !name.contains(['/', '\\'])
                    && name != DEBUG_FILE;
                if !plain {
                    return Err(LiteLlmError::invalid(
                        setting("logs.session.file"),
                        format!(
                            "`{name}` must be a plain file name inside [telemetry].dir (not {DEBUG_FILE})"
                        ),
                    ));
                }
                cfg.session_file = name.to_string();
            }
        }
        if let Some(enabled) = override_enabled {
            cfg.enabled = enabled;
        }
        Ok(cfg)
    }

    /// Largest size of one log file before it is rotated.
    pub fn file_budget(&self) -> u64 {
        self.max_total_bytes / FILE_SHARE
    }
}

/// One model request, as written to the session file. Every field has a
/// default so lines written by older versions still read.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RequestRecord {
    /// RFC 3339 UTC; filled in by [`Telemetry::record`] when empty.
    pub ts: String,
    pub session_id: String,
    /// Request number within the session, from 1.
    pub seq: u64,
    /// The model Codex asked for.
    pub model: String,
    /// "responses" or "chat".
    pub wire_api: String,
    /// `x-litellm-model-id`: the deployment that answered.
    pub litellm_model_id: Option<String>,
    /// `x-litellm-model-api-base`.
    pub api_base: Option<String>,
    /// `x-litellm-call-id`, to find the call in the proxy's logs.
    pub call_id: Option<String>,
    pub latency_ms: u64,
    /// [`STATUS_OK`] or [`STATUS_ERROR`].
    pub status: String,
    pub http_status: Option<u16>,
    pub tokens_in: u64,
    pub tokens_cached: u64,
    pub tokens_out: u64,
    pub tokens_reasoning: u64,
    pub cost_usd: Option<f64>,
    pub cost_source: CostSource,
    /// "tier0", "litellm" or "provider" ([`CacheTier::as_str`]).
    pub cache_tier: Option<String>,
    /// The request's tier-0 key, to correlate repeats even when the local
    /// cache is off.
    pub tier0_key: String,
    pub error: Option<String>,
    /// The `x-ratelimit-*` headers of the answer, when the proxy sent any
    /// (`codex-litellm status` shows the last ones). Left out of the line
    /// otherwise, to keep lines short.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limits: Option<RateLimits>,
}

impl RequestRecord {
    pub fn is_error(&self) -> bool {
        self.status == STATUS_ERROR
    }

    /// Fills the token fields from `usage`.
    pub fn set_usage(&mut self, usage: &Usage) {
        self.tokens_in = usage.input_tokens;
        self.tokens_cached = usage.cached_input_tokens;
        self.tokens_out = usage.output_tokens;
        self.tokens_reasoning = usage.reasoning_output_tokens;
    }

    /// What this request adds to [`crate::cost::SessionTotals`].
    pub fn outcome(&self) -> RequestOutcome {
        let has_tokens = self.tokens_in + self.tokens_out > 0;
        RequestOutcome {
            error: self.is_error(),
            usage: has_tokens.then_some(Usage {
                input_tokens: self.tokens_in,
                cached_input_tokens: self.tokens_cached,
                output_tokens: self.tokens_out,
                reasoning_output_tokens: self.tokens_reasoning,
                total_tokens: self.tokens_in + self.tokens_out,
            }),
            cost_usd: self.cost_usd,
            cache_tier: self.cache_tier.as_deref().and_then(CacheTier::parse),
        }
    }
}

/// Now, as RFC 3339 UTC with milliseconds (`2025-01-02T03:04:05.678Z`).
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// An open telemetry directory.
#[derive(Debug)]
pub struct Telemetry {
    cfg: TelemetryConfig,
    secrets: Vec<String>,
    /// The lock file; the mutex orders threads of this process, the file
    /// lock orders processes.
    lock: Mutex<fs::File>,
    dropped: AtomicU64,
}

impl Telemetry {
    /// `None` when telemetry is disabled. Creates the directory (0700).
    /// `secrets` (the API key in use, …) are redacted from everything
    /// written; empty strings are ignored.
    pub fn open(cfg: TelemetryConfig, secrets: &[String]) -> Result<Option<Self>, LiteLlmError> {
        if !cfg.enabled {
            return Ok(None);
        }
        create_private_dir(&cfg.dir)?;
        let lock_path = cfg.dir.join(LOCK_FILE);
        let lock = open_private(&lock_path, false)
            .map_err(|err| LiteLlmError::io("open", lock_path, err))?;
        let mut secrets: Vec<String> = secrets
            .iter()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        // Longest first, so a secret containing another is replaced whole.
        secrets.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        secrets.dedup();
        Ok(Some(Self {
            cfg,
            secrets,
            lock: Mutex::new(lock),
            dropped: AtomicU64::new(0),
        }))
    }

    pub fn config(&self) -> &TelemetryConfig {
        &self.cfg
    }

    /// Lines dropped so far because they could not fit the budget.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Appends `rec` (redacted) to the session file.
    pub fn record(&self, rec: &RequestRecord) -> Result<(), LiteLlmError> {
        let mut rec = rec.clone();
        if rec.ts.is_empty() {
            rec.ts = now_rfc3339();
        }
        if let Some(error) = &rec.error
            && error.chars().count() > MAX_ERROR_CHARS
        {
            let cut: String = error.chars().take(MAX_ERROR_CHARS).collect();
            rec.error = Some(format!("{cut}…"));
        }
        let value = serde_json::to_value(&rec)
            .map_err(|err| LiteLlmError::invalid("telemetry record", err.to_string()))?;
        self.write_value(&self.cfg.session_file, value)
    }

    /// Appends `{ts, event, ...fields}` (redacted) to `debug.jsonl` when
    /// `logs.debug.enabled` is set. Failures are logged, never returned:
    /// debug output must not disturb a turn.
    /// Whether `debug.jsonl` is written (callers skip work it alone needs).
    pub fn debug_enabled(&self) -> bool {
        self.cfg.debug_enabled
    }

    pub fn debug(&self, event: &str, fields: Value) {
        if !self.cfg.debug_enabled {
            return;
        }
        let mut object = Map::new();
        object.insert("ts".into(), Value::String(now_rfc3339()));
        object.insert("event".into(), Value::String(event.to_string()));
        match fields {
            Value::Object(fields) => {
                for (key, value) in fields {
                    if key != "ts" && key != "event" {
                        object.insert(key, value);
                    }
                }
            }
            Value::Null => {}
            other => {
                object.insert("data".into(), other);
            }
        }
        if let Err(err) = self.write_value(DEBUG_FILE, Value::Object(object)) {
            tracing::debug!("telemetry debug log: {err}");
        }
    }

    /// `value` with every credential replaced by
    /// [`REDACTED`](crate::redaction::REDACTED).
    pub fn redact(&self, value: &mut Value) {
        redact_value(value, &self.secrets);
    }

    fn write_value(&self, file: &str, mut value: Value) -> Result<(), LiteLlmError> {
        self.redact(&mut value);
        let mut line = serde_json::to_string(&value)
            .map_err(|err| LiteLlmError::invalid("telemetry record", err.to_string()))?;
        line.push('\n');
        self.append(file, line.as_bytes())
    }

    /// Appends one line to `file`, rotating and deleting old files so the
    /// directory stays within budget (see the module comment).
    fn append(&self, file: &str, line: &[u8]) -> Result<(), LiteLlmError> {
        let len = line.len() as u64;
        if len > self.cfg.file_budget() {
            self.drop_line(format!(
                "a {len}-byte line is larger than a log file's share ({} bytes) of [telemetry].max_total_bytes",
                self.cfg.file_budget()
            ));
            return Ok(());
        }
        let guard = match self.lock.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        let lock_file: &fs::File = &guard;
        if let Err(err) = lock_file.lock() {
            // Some file systems cannot lock; writing unlocked is still
            // correct for a single process.
            tracing::debug!("telemetry: could not lock {LOCK_FILE}: {err}");
        }
        let result = self.append_locked(file, line);
        if let Err(err) = lock_file.unlock() {
            tracing::debug!("telemetry: could not unlock {LOCK_FILE}: {err}");
        }
        result
    }

    fn append_locked(&self, file: &str, line: &[u8]) -> Result<(), LiteLlmError> {
        let dir = &self.cfg.dir;
        let len = line.len() as u64;
        let live = dir.join(file);
        let live_size = fs::metadata(&live).map(|m| m.len()).unwrap_or(0);
        if live_size > 0 && live_size + len > self.cfg.file_budget() {
            rotate(dir, file).map_err(|err| LiteLlmError::io("rotate", live.clone(), err))?;
        }
        loop {
            let total = dir_size(dir);
            if total + len <= self.cfg.max_total_bytes {
                break;
            }
            let Some(oldest) = self.oldest_rotated() else {
                self.drop_line(format!(
                    "{} holds {total} bytes and nothing more can be deleted to stay within [telemetry].max_total_bytes = {}",
                    dir.display(),
                    self.cfg.max_total_bytes
                ));
                return Ok(());
            };
            fs::remove_file(&oldest).map_err(|err| LiteLlmError::io("delete", oldest, err))?;
        }
        let mut out =
            open_private(&live, true).map_err(|err| LiteLlmError::io("open", live.clone(), err))?;
        out.write_all(line)
            .map_err(|err| LiteLlmError::io("write", live, err))
    }

    /// The rotated file to delete next: debug logs before session logs,
    /// then the highest number (the oldest).
    fn oldest_rotated(&self) -> Option<PathBuf> {
        [DEBUG_FILE, self.cfg.session_file.as_str()]
            .iter()
            .find_map(|base| {
                rotated_indices(&self.cfg.dir, base)
                    .last()
                    .map(|n| self.cfg.dir.join(format!("{base}.{n}")))
            })
    }

    fn drop_line(&self, why: String) {
        self.dropped.fetch_add(1, Ordering::Relaxed);
        tracing::warn!("telemetry: dropped a record: {why}");
    }
}

/// `base.N` numbers present in `dir`, ascending.
fn rotated_indices(dir: &Path, base: &str) -> Vec<u64> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let prefix = format!("{base}.");
    let mut out: Vec<u64> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name();
            let n = name.to_str()?.strip_prefix(&prefix)?;
            // Only plain numbers: `sessions.jsonl.tmp` is not a rotation.
            if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            n.parse().ok()
        })
        .collect();
    out.sort_unstable();
    out
}

/// `base.N` → `base.N+1` from the highest N down, then `base` → `base.1`.
fn rotate(dir: &Path, base: &str) -> io::Result<()> {
    for n in rotated_indices(dir, base).into_iter().rev() {
        fs::rename(
            dir.join(format!("{base}.{n}")),
            dir.join(format!("{base}.{}", n + 1)),
        )?;
    }
    fs::rename(dir.join(base), dir.join(format!("{base}.1")))
}

/// Bytes in all files under `dir` (subdirectories included).
fn dir_size(dir: &Path) -> u64 {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(meta) if meta.is_dir() => dir_size(&e.path()),
            Ok(meta) => meta.len(),
            Err(_) => 0,
        })
        .sum()
}

/// Opens (creating with mode 0600) for appending, or just for locking.
fn open_private(path: &Path, append: bool) -> io::Result<fs::File> {
    let mut options = fs::OpenOptions::new();
    options.create(true);
    if append {
        options.append(true);
    } else {
        options.write(true).truncate(false);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

/// What [`read_all`] found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReadResult {
    /// The files read, oldest first.
    pub files: Vec<PathBuf>,
    pub records: Vec<RequestRecord>,
    /// Non-blank lines that are not records.
    pub bad_lines: u64,
}

/// The records of `file` in `dir` and its rotations, oldest first
/// (`file.N` … `file.1`, then `file`). Lines that do not parse are skipped.
pub fn read_records(dir: &Path, file: &str) -> Vec<RequestRecord> {
    read_all(dir, file).records
}

/// [`read_records`], also saying which files were read and how many lines
/// were not records. A line is a record when it is a JSON object of
/// [`RequestRecord`]'s shape with a session id; anything else (a line cut
/// short by a crash, a hand edit, invalid UTF-8) is counted, never fatal, so
/// one bad line does not hide the rest of the history.
pub fn read_all(dir: &Path, file: &str) -> ReadResult {
    let mut paths: Vec<PathBuf> = rotated_indices(dir, file)
        .into_iter()
        .rev()
        .map(|n| dir.join(format!("{file}.{n}")))
        .collect();
    paths.push(dir.join(file));
    let mut out = ReadResult::default();
    for path in paths {
        let Ok(bytes) = fs::read(&path) else {
            continue;
        };
        out.files.push(path);
        for line in bytes.split(|b| *b == b'\n') {
            let Ok(line) = std::str::from_utf8(line) else {
                out.bad_lines += 1;
                continue;
            };
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<RequestRecord>(line) {
                Ok(record) if !record.session_id.is_empty() => out.records.push(record),
                _ => out.bad_lines += 1,
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cost::SessionTotals;
    use crate::redaction::REDACTED;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    fn config(dir: &Path, max_total_bytes: u64) -> TelemetryConfig {
        TelemetryConfig {
            enabled: true,
            dir: dir.join("telemetry"),
            max_total_bytes,
            debug_enabled: false,
            session_file: DEFAULT_SESSION_FILE.to_string(),
        }
    }

    fn record(seq: u64) -> RequestRecord {
        RequestRecord {
            ts: format!("2025-01-01T00:00:{:02}.000Z", seq % 60),
            session_id: "s1".into(),
            seq,
            model: "gpt-4o".into(),
            wire_api: "responses".into(),
            litellm_model_id: Some("deploy-1".into()),
            api_base: Some("https://api.openai.com".into()),
            call_id: Some(format!("call-{seq}")),
            latency_ms: 120 + seq,
            status: STATUS_OK.into(),
            http_status: Some(200),
            tokens_in: 1000,
            tokens_cached: 400,
            tokens_out: 100,
            tokens_reasoning: 20,
            cost_usd: Some(0.001),
            cost_source: CostSource::Prices,
            cache_tier: Some("provider".into()),
            tier0_key: "ab".repeat(32),
            error: None,
            rate_limits: None,
        }
    }

    fn all_files(dir: &Path) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect();
        out.sort();
        out
    }

    #[test]
    fn config_defaults_table_and_flags() {
        let home = Path::new("/home/u/.codex");
        let cfg = TelemetryConfig::from_toml(None, home, None).unwrap();
        assert_eq!(
            cfg,
            TelemetryConfig {
                enabled: true,
                dir: PathBuf::from("/home/u/.codex/litellm/telemetry"),
                max_total_bytes: 20 * 1024 * 1024,
                debug_enabled: false,
                session_file: "sessions.jsonl".into(),
            }
        );
        let table: toml::Value = toml::from_str(
            "enabled = false\ndir = \"/var/t\"\nmax_total_bytes = 4096\nlogs.debug.enabled = true\nlogs.session.file = \"s.jsonl\"\n",
        )
        .unwrap();
        let cfg = TelemetryConfig::from_toml(Some(&table), home, None).unwrap();
        assert_eq!(
            cfg,
            TelemetryConfig {
                enabled: false,
                dir: PathBuf::from("/var/t"),
                max_total_bytes: 4096,
                debug_enabled: true,
                session_file: "s.jsonl".into(),
            }
        );
        assert!(
            TelemetryConfig::from_toml(Some(&table), home, Some(true))
                .unwrap()
                .enabled
        );
        assert!(
            !TelemetryConfig::from_toml(None, home, Some(false))
                .unwrap()
                .enabled
        );

        if let Some(user_home) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
            let tilde: toml::Value = toml::from_str("dir = \"~/tele\"").unwrap();
            assert_eq!(
                TelemetryConfig::from_toml(Some(&tilde), home, None)
                    .unwrap()
                    .dir,
                PathBuf::from(user_home).join("tele")
            );
        }
        for (bad, setting) in [
            ("enabled = 1", "enabled"),
            ("max_total_bytes = -5", "max_total_bytes"),
            ("logs.debug.enabled = \"yes\"", "logs.debug.enabled"),
            ("logs.session.file = \"../x\"", "logs.session.file"),
            ("logs.session.file = \"debug.jsonl\"", "logs.session.file"),
            ("dir = 3", "dir"),
        ] {
            let table: toml::Value = toml::from_str(bad).unwrap();
            let err = TelemetryConfig::from_toml(Some(&table), home, None).unwrap_err();
            assert!(err.to_string().contains(setting), "{bad}: {err}");
        }
    }

    #[test]
    fn disabled_telemetry_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = config(dir.path(), 1 << 20);
        cfg.enabled = false;
        assert!(Telemetry::open(cfg, &[]).unwrap().is_none());
        assert!(!dir.path().join("telemetry").exists());
    }

    #[test]
    fn records_roundtrip_with_private_files() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(dir.path(), 1 << 20);
        let t = Telemetry::open(cfg.clone(), &[]).unwrap().unwrap();
        let mut first = record(1);
        first.ts.clear();
        t.record(&first).unwrap();
        t.record(&record(2)).unwrap();
        // Debug is off: nothing written there.
        t.debug("request", json!({"x": 1}));
        let read = read_records(&cfg.dir, &cfg.session_file);
        assert_eq!(read.len(), 2);
        assert!(
            chrono::DateTime::parse_from_rfc3339(&read[0].ts).is_ok(),
            "{}",
            read[0].ts
        );
        assert!(read[0].ts.ends_with('Z'), "{}", read[0].ts);
        assert_eq!(read[1], record(2));
        assert!(!cfg.dir.join(DEBUG_FILE).exists());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&cfg.dir), 0o700);
            for file in all_files(&cfg.dir) {
                assert_eq!(mode(&file), 0o600, "{}", file.display());
            }
        }
        // Lines are single JSON objects with the documented field names.
        let text = fs::read_to_string(cfg.dir.join(&cfg.session_file)).unwrap();
        let line: Value = serde_json::from_str(text.lines().nth(1).unwrap()).unwrap();
        for field in [
            "ts",
            "session_id",
            "seq",
            "model",
            "wire_api",
            "litellm_model_id",
            "api_base",
            "call_id",
            "latency_ms",
            "status",
            "http_status",
            "tokens_in",
            "tokens_cached",
            "tokens_out",
            "tokens_reasoning",
            "cost_usd",
            "cost_source",
            "cache_tier",
            "tier0_key",
            "error",
        ] {
            assert!(line.get(field).is_some(), "missing {field}");
        }
        assert_eq!(line["cost_source"], "prices");
    }

    #[test]
    fn heavy_writer_never_exceeds_the_cap() {
        let dir = tempfile::tempdir().unwrap();
        let cap = 64 * 1024;
        let mut cfg = config(dir.path(), cap);
        cfg.debug_enabled = true;
        let t = Telemetry::open(cfg.clone(), &[]).unwrap().unwrap();
        let mut max_seen = 0;
        for seq in 1..=20_000u64 {
            t.record(&record(seq)).unwrap();
            if seq % 3 == 0 {
                t.debug("stream", json!({"seq": seq, "bytes": 1234}));
            }
            let size = dir_size(&cfg.dir);
            assert!(size <= cap, "{size} > {cap} after record {seq}");
            max_seen = max_seen.max(size);
        }
        assert_eq!(t.dropped(), 0);
        // The budget is actually used, not just respected.
        assert!(max_seen > cap / 2, "{max_seen}");
        // Rotations read back in order, ending with the newest record.
        let read = read_records(&cfg.dir, &cfg.session_file);
        assert!(read.len() > 50, "{}", read.len());
        assert_eq!(read.last().map(|r| r.seq), Some(20_000));
        for pair in read.windows(2) {
            assert_eq!(pair[1].seq, pair[0].seq + 1, "order broken");
        }
        let rotated = rotated_indices(&cfg.dir, &cfg.session_file);
        assert!(!rotated.is_empty());
        assert_eq!(
            rotated,
            (1..=rotated.len() as u64).collect::<Vec<_>>(),
            "no gaps"
        );
    }

    #[test]
    fn oversized_lines_are_dropped_not_written() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(dir.path(), 4096);
        let t = Telemetry::open(cfg.clone(), &[]).unwrap().unwrap();
        let mut big = record(1);
        big.model = "m".repeat(2000);
        t.record(&big).unwrap();
        assert_eq!(t.dropped(), 1);
        assert!(read_records(&cfg.dir, &cfg.session_file).is_empty());
        // A foreign file filling the directory: records are dropped, the
        // foreign file is left alone, the cap holds.
        fs::write(cfg.dir.join("notes.txt"), vec![b'x'; 4000]).unwrap();
        t.record(&record(2)).unwrap();
        assert_eq!(t.dropped(), 2);
        assert!(dir_size(&cfg.dir) <= 4096);
        assert!(cfg.dir.join("notes.txt").exists());
    }

    #[test]
    fn rotation_order_is_preserved_in_read_records() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(dir.path(), 40 * 1024);
        let t = Telemetry::open(cfg.clone(), &[]).unwrap().unwrap();
        for seq in 1..=60 {
            t.record(&record(seq)).unwrap();
        }
        let rotated = rotated_indices(&cfg.dir, &cfg.session_file);
        assert!(rotated.len() >= 2, "{rotated:?}");
        // The live file has the newest records, `.1` the ones before.
        let live = fs::read_to_string(cfg.dir.join(&cfg.session_file)).unwrap();
        let one = fs::read_to_string(cfg.dir.join(format!("{}.1", cfg.session_file))).unwrap();
        let seq_of = |line: &str| serde_json::from_str::<RequestRecord>(line).unwrap().seq;
        assert_eq!(
            seq_of(one.lines().last().unwrap()) + 1,
            seq_of(live.lines().next().unwrap())
        );
        // Bad lines are skipped, not fatal.
        let mut file = open_private(&cfg.dir.join(&cfg.session_file), true).unwrap();
        file.write_all(b"{broken\n\n[1,2]\n").unwrap();
        t.record(&record(61)).unwrap();
        let seqs: Vec<u64> = read_records(&cfg.dir, &cfg.session_file)
            .iter()
            .map(|r| r.seq)
            .collect();
        let first = seqs[0];
        assert_eq!(seqs, (first..=61).collect::<Vec<_>>());
        assert!(read_records(&dir.path().join("missing"), "x.jsonl").is_empty());
    }

    #[test]
    fn planted_key_never_reaches_a_file() {
        const KEY: &str = "sk-PLANTED-1234567890abcdef";
        const PLAIN: &str = "PLANTEDplainsecret42";
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = config(dir.path(), 1 << 20);
        cfg.debug_enabled = true;
        let t = Telemetry::open(cfg.clone(), &[PLAIN.to_string(), String::new()])
            .unwrap()
            .unwrap();
        let planted = |s: &str| format!("{s} {KEY} {PLAIN} Bearer {PLAIN}x");
        let rec = RequestRecord {
            ts: planted("ts"),
            session_id: planted("session"),
            seq: 1,
            model: format!("{PLAIN}/{KEY}"),
            wire_api: planted("wire"),
            litellm_model_id: Some(planted("id")),
            api_base: Some(format!(
                "https://user:{PLAIN}@proxy.example.com/?api_key=PLANTEDquery"
            )),
            call_id: Some(KEY.to_string()),
            latency_ms: 1,
            status: PLAIN.to_string(),
            http_status: Some(401),
            cost_source: CostSource::Header,
            cache_tier: Some(KEY.to_string()),
            tier0_key: PLAIN.to_string(),
            error: Some(format!(
                "Authentication Error, Received API Key = {KEY}; {{\"api_key\": \"PLANTEDjson\"}} authorization: Bearer PLANTEDbearer password=PLANTEDpw"
            )),
            ..RequestRecord::default()
        };
        t.record(&rec).unwrap();
        t.debug(
            "request",
            json!({
                "headers": {
                    "Authorization": "Bearer PLANTEDheader",
                    "x-api-key": "PLANTEDxkey",
                    "api-key": 12345,
                    "content-type": "application/json",
                },
                "body": {"master_key": "PLANTEDmaster", "messages": [{"content": format!("my key is {KEY}")}]},
                "client_secret": "PLANTEDclient",
                "refresh_token": "PLANTEDrefresh",
                "text": "token=PLANTEDtok&x=1",
                format!("field-{PLAIN}"): 1,
                "tokens_in": 5,
            }),
        );
        t.debug(KEY, Value::String(planted("data")));
        let mut seen = 0;
        for file in all_files(&cfg.dir) {
            let text = fs::read_to_string(&file).unwrap();
            assert!(!text.contains("PLANTED"), "{}: {text}", file.display());
            seen += text.len();
        }
        assert!(seen > 0);
        let debug = fs::read_to_string(cfg.dir.join(DEBUG_FILE)).unwrap();
        let first: Value = serde_json::from_str(debug.lines().next().unwrap()).unwrap();
        // Harmless fields survive redaction.
        assert_eq!(first["headers"]["content-type"], "application/json");
        assert_eq!(first["tokens_in"], 5);
        assert_eq!(first["headers"]["Authorization"], REDACTED);
        // The record still reads back; numbers are intact.
        let read = read_records(&cfg.dir, &cfg.session_file);
        assert_eq!(read.len(), 1);
        assert_eq!(read[0].http_status, Some(401));
        assert_eq!(read[0].tier0_key, REDACTED);
    }

    #[test]
    fn records_feed_session_totals() {
        let mut totals = SessionTotals::new();
        let mut failed = record(2);
        failed.status = STATUS_ERROR.into();
        failed.tokens_in = 0;
        failed.tokens_out = 0;
        failed.cost_usd = None;
        failed.cache_tier = None;
        for rec in [record(1), failed] {
            totals.add(&rec.model, &rec.outcome());
        }
        assert_eq!(totals.total.requests, 2);
        assert_eq!(totals.total.errors, 1);
        assert_eq!(totals.total.tokens_in, 1000);
        assert_eq!(totals.total.cache_hits.provider, 1);
        assert_eq!(totals.total.uncosted_requests, 0);
        let mut rec = RequestRecord::default();
        rec.set_usage(&Usage {
            input_tokens: 3,
            cached_input_tokens: 1,
            output_tokens: 2,
            reasoning_output_tokens: 1,
            total_tokens: 5,
        });
        assert_eq!(
            (
                rec.tokens_in,
                rec.tokens_cached,
                rec.tokens_out,
                rec.tokens_reasoning
            ),
            (3, 1, 2, 1)
        );
    }
}
