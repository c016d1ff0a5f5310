//! Tier-0 cache: complete SSE answers stored on this machine, keyed by the
//! canonical request ([`crate::canonical::request_key`]).
//!
//! It sits in front of LiteLLM's own cache (tier 1) and the provider's
//! prompt cache (tier 2) and answers a repeated request without any network
//! traffic: re-running the same `codex exec` in a script, or a retried turn.
//! It is off by default because an agent usually wants a fresh answer, and
//! it replays answers verbatim (a cached tool call runs again).
//!
//! ```toml
//! [litellm.cache.local]
//! enabled = true
//! ttl_seconds = 3600          # default 1 hour
//! max_bytes = 52428800        # default 50 MiB for the whole cache
//! dir = "~/.codex/litellm/cache"   # default CODEX_HOME/litellm/cache
//! ```
//!
//! Entries are one file each, `<key>.sse`: a header line with the time of
//! storage and the body length, then the body. Writes go to a private
//! temporary file that is renamed into place, so readers (other Codex
//! processes included) see a whole entry or none. Files are 0600 and the
//! directory 0700 because answers contain the user's code. The caller only
//! stores complete, successful answers ([`crate::stream_observer`] tells).

use std::fs;
use std::io;
use std::io::Read;
use std::io::Write;
use std::path::Path;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering;
use std::time::Duration;
use std::time::SystemTime;
use std::time::UNIX_EPOCH;

use sha2::Digest;
use sha2::Sha256;

use crate::canonical::hex;
use crate::private_files::create_private_dir;
use crate::private_files::litellm_dir;
use crate::config_values::non_negative;
use crate::config_values::resolve_dir;
use crate::config_values::type_error;
use crate::errors::LiteLlmError;

pub const DEFAULT_TTL: Duration = Duration::from_secs(3600);
pub const DEFAULT_MAX_BYTES: u64 = 50 * 1024 * 1024;

/// First bytes of every entry; a file without them is not ours.
const MAGIC: &str = "codex-litellm-tier0 v1";
/// Entry file suffix.
const SUFFIX: &str = ".sse";
/// Temporary files left by a crash are removed after this long.
const STALE_TEMP: Duration = Duration::from_secs(3600);

/// `[litellm.cache.local]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tier0Config {
    pub enabled: bool,
    /// How long an entry is served after it was stored.
    pub ttl: Duration,
    /// Upper bound of the sum of all entry sizes.
    pub max_bytes: u64,
    pub dir: PathBuf,
}

impl Tier0Config {
    /// Defaults: disabled, 1 hour, 50 MiB, CODEX_HOME/litellm/cache.
    pub fn defaults(codex_home: &Path) -> Self {
        Self {
            enabled: false,
            ttl: DEFAULT_TTL,
            max_bytes: DEFAULT_MAX_BYTES,
            dir: litellm_dir(codex_home).join("cache"),
        }
    }

    /// Reads `[litellm.cache.local]` from the `[litellm]` table. `dir` may
    /// start with `~` (the home directory); a relative path is relative to
    /// CODEX_HOME. A value of the wrong type is an error naming the setting,
    /// not silently ignored: a cache the user thinks is off must be off.
    pub fn from_toml(
        litellm_table: Option<&toml::Value>,
        codex_home: &Path,
    ) -> Result<Self, LiteLlmError> {
        let mut cfg = Self::defaults(codex_home);
        let Some(local) = litellm_table
            .and_then(|t| t.get("cache"))
            .and_then(|c| c.get("local"))
        else {
            return Ok(cfg);
        };
        let setting = |key: &str| format!("[litellm.cache.local].{key}");
        if let Some(value) = local.get("enabled") {
            cfg.enabled = value
                .as_bool()
                .ok_or_else(|| type_error(setting("enabled"), "a boolean", value))?;
        }
        if let Some(value) = local.get("ttl_seconds") {
            cfg.ttl = Duration::from_secs(non_negative(&setting("ttl_seconds"), value)?);
        }
        if let Some(value) = local.get("max_bytes") {
            cfg.max_bytes = non_negative(&setting("max_bytes"), value)?;
        }
        if let Some(value) = local.get("dir") {
            let text = value
                .as_str()
                .ok_or_else(|| type_error(setting("dir"), "a string", value))?;
            cfg.dir = resolve_dir(text, codex_home, &setting("dir"))?;
        }
        Ok(cfg)
    }
}

/// An open tier-0 cache directory.
#[derive(Debug)]
pub struct Tier0Cache {
    cfg: Tier0Config,
}

/// Distinguishes temporary files of concurrent writers in one process.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

impl Tier0Cache {
    /// `None` when the cache is disabled; otherwise creates the directory
    /// (0700).
    pub fn open(cfg: Tier0Config) -> Result<Option<Self>, LiteLlmError> {
        if !cfg.enabled {
            return Ok(None);
        }
        create_private_dir(&cfg.dir)?;
        Ok(Some(Self { cfg }))
    }

    pub fn config(&self) -> &Tier0Config {
        &self.cfg
    }

    /// The stored answer for `key`, if there is one younger than the TTL.
    /// Expired and damaged entries are removed. Never fails: a cache that
    /// cannot be read is a miss.
    pub fn get(&self, key: &str) -> Option<Vec<u8>> {
        self.get_at(key, SystemTime::now())
    }

    /// Stores `body` under `key`, then evicts the oldest entries until the
    /// cache fits in `max_bytes`. A body that alone exceeds `max_bytes` is
    /// not stored (and is not an error).
    pub fn put(&self, key: &str, body: &[u8]) -> Result<(), LiteLlmError> {
        self.put_at(key, body, SystemTime::now())
    }

    /// Removes every entry (and leftover temporary file).
    pub fn clear(&self) -> Result<(), LiteLlmError> {
        for entry in self.entries() {
            remove_quietly(&entry.path);
        }
        for temp in self.temp_files() {
            remove_quietly(&temp.0);
        }
        Ok(())
    }

    fn get_at(&self, key: &str, now: SystemTime) -> Option<Vec<u8>> {
        let path = self.path_for(key);
        let data = match fs::read(&path) {
            Ok(data) => data,
            Err(err) => {
                if err.kind() != io::ErrorKind::NotFound {
                    tracing::debug!("tier-0 cache read {}: {err}", path.display());
                }
                return None;
            }
        };
        let Some((stored, body)) = parse_entry(&data) else {
            remove_quietly(&path);
            return None;
        };
        let age = now.duration_since(stored).unwrap_or_default();
        if age > self.cfg.ttl {
            remove_quietly(&path);
            return None;
        }
        Some(body.to_vec())
    }

    fn put_at(&self, key: &str, body: &[u8], now: SystemTime) -> Result<(), LiteLlmError> {
        let stored_ms = now
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or_default();
        let header = format!("{MAGIC} {stored_ms} {}\n", body.len());
        let size = (header.len() + body.len()) as u64;
        if size > self.cfg.max_bytes {
            tracing::debug!(
                "tier-0 cache: not storing an answer of {size} bytes (max_bytes = {})",
                self.cfg.max_bytes
            );
            return Ok(());
        }
        let path = self.path_for(key);
        let temp = self.cfg.dir.join(format!(
            ".tmp-{}-{}-{}",
            std::process::id(),
            TEMP_COUNTER.fetch_add(1, Ordering::Relaxed),
            file_name(key)
        ));
        let written =
            write_private(&temp, header.as_bytes(), body).and_then(|()| fs::rename(&temp, &path));
        if let Err(err) = written {
            remove_quietly(&temp);
            return Err(LiteLlmError::io("write the tier-0 cache entry", path, err));
        }
        self.evict(now, &path);
        Ok(())
    }

    /// Drops expired entries and stale temporary files, then the oldest
    /// entries until the total fits. `keep` (the entry just written) goes
    /// last, so a put never evicts itself while something older remains.
    fn evict(&self, now: SystemTime, keep: &Path) {
        for (temp, modified) in self.temp_files() {
            if now.duration_since(modified).unwrap_or_default() > STALE_TEMP {
                remove_quietly(&temp);
            }
        }
        let mut entries = self.entries();
        entries.retain(|e| {
            let expired = now.duration_since(e.stored).unwrap_or_default() > self.cfg.ttl;
            if expired {
                remove_quietly(&e.path);
            }
            !expired
        });
        let mut total: u64 = entries.iter().map(|e| e.size).sum();
        // Oldest first; the new entry after everything else.
        entries.sort_by(|a, b| {
            (a.path == keep)
                .cmp(&(b.path == keep))
                .then(a.stored.cmp(&b.stored))
                .then_with(|| a.path.cmp(&b.path))
        });
        for entry in entries {
            if total <= self.cfg.max_bytes {
                break;
            }
            remove_quietly(&entry.path);
            total = total.saturating_sub(entry.size);
        }
    }

    /// All entries with their storage time (from the header; the file's
    /// modification time when the header cannot be read).
    fn entries(&self) -> Vec<Entry> {
        let Ok(dir) = fs::read_dir(&self.cfg.dir) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for item in dir.flatten() {
            let path = item.path();
            let is_entry = path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.ends_with(SUFFIX) && !n.starts_with('.'));
            let Ok(meta) = item.metadata() else { continue };
            if !is_entry || !meta.is_file() {
                continue;
            }
            let stored = read_stored_time(&path)
                .or_else(|| meta.modified().ok())
                .unwrap_or(UNIX_EPOCH);
            out.push(Entry {
                path,
                size: meta.len(),
                stored,
            });
        }
        out
    }

    fn temp_files(&self) -> Vec<(PathBuf, SystemTime)> {
        let Ok(dir) = fs::read_dir(&self.cfg.dir) else {
            return Vec::new();
        };
        dir.flatten()
            .filter(|item| item.file_name().to_string_lossy().starts_with(".tmp-"))
            .filter_map(|item| {
                let modified = item.metadata().ok()?.modified().ok()?;
                Some((item.path(), modified))
            })
            .collect()
    }

    fn path_for(&self, key: &str) -> PathBuf {
        self.cfg.dir.join(format!("{}{SUFFIX}", file_name(key)))
    }
}

struct Entry {
    path: PathBuf,
    size: u64,
    stored: SystemTime,
}

/// The key itself when it is a safe file name (request keys are hex),
/// otherwise its SHA-256, so no key can escape the directory.
fn file_name(key: &str) -> String {
    let safe = !key.is_empty()
        && key.len() <= 128
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if safe {
        key.to_string()
    } else {
        hex(&Sha256::digest(key.as_bytes()))
    }
}

/// `MAGIC <stored ms> <len>\n<body>` → (stored time, body). `None` when the
/// header is wrong or the body is not exactly as long as it says.
fn parse_entry(data: &[u8]) -> Option<(SystemTime, &[u8])> {
    let newline = data.iter().position(|b| *b == b'\n')?;
    let (stored, len) = parse_header(std::str::from_utf8(&data[..newline]).ok()?)?;
    let body = &data[newline + 1..];
    (body.len() as u64 == len).then_some((stored, body))
}

fn parse_header(line: &str) -> Option<(SystemTime, u64)> {
    let rest = line.strip_prefix(MAGIC)?.strip_prefix(' ')?;
    let (stored_ms, len) = rest.split_once(' ')?;
    let stored = UNIX_EPOCH.checked_add(Duration::from_millis(stored_ms.parse().ok()?))?;
    Some((stored, len.parse().ok()?))
}

/// The storage time from an entry's header line, reading only that line.
fn read_stored_time(path: &Path) -> Option<SystemTime> {
    let mut file = fs::File::open(path).ok()?;
    let mut head = [0u8; 96];
    let mut filled = 0;
    while filled < head.len() {
        match file.read(&mut head[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(_) => return None,
        }
    }
    let head = &head[..filled];
    let newline = head.iter().position(|b| *b == b'\n')?;
    parse_header(std::str::from_utf8(&head[..newline]).ok()?).map(|(stored, _)| stored)
}

/// Creates `path` (0600 on Unix, failing if it exists) with `header` and
/// `body`, synced to disk before the caller renames it into place.
fn write_private(path: &Path, header: &[u8], body: &[u8]) -> io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(header)?;
    file.write_all(body)?;
    file.sync_all()
}

fn remove_quietly(path: &Path) {
    if let Err(err) = fs::remove_file(path)
        && err.kind() != io::ErrorKind::NotFound
    {
        tracing::debug!("tier-0 cache: could not remove {}: {err}", path.display());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn cache(dir: &Path, max_bytes: u64) -> Tier0Cache {
        Tier0Cache::open(Tier0Config {
            enabled: true,
            ttl: Duration::from_secs(60),
            max_bytes,
            dir: dir.join("cache"),
        })
        .unwrap()
        .unwrap()
    }

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_700_000_000 + secs)
    }

    fn total_size(dir: &Path) -> u64 {
        fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.metadata().unwrap().len())
            .sum()
    }

    #[test]
    fn config_defaults_and_table() {
        let home = Path::new("/home/u/.codex");
        let cfg = Tier0Config::from_toml(None, home).unwrap();
        assert_eq!(cfg, Tier0Config::defaults(home));
        assert!(!cfg.enabled);
        assert_eq!(cfg.ttl, Duration::from_secs(3600));
        assert_eq!(cfg.max_bytes, 50 * 1024 * 1024);
        assert_eq!(cfg.dir, PathBuf::from("/home/u/.codex/litellm/cache"));

        let table: toml::Value = toml::from_str(
            "[cache.local]\nenabled = true\nttl_seconds = 5\nmax_bytes = 1000\ndir = \"c\"\n",
        )
        .unwrap();
        let cfg = Tier0Config::from_toml(Some(&table), home).unwrap();
        assert_eq!(
            cfg,
            Tier0Config {
                enabled: true,
                ttl: Duration::from_secs(5),
                max_bytes: 1000,
                dir: PathBuf::from("/home/u/.codex/c"),
            }
        );

        let absolute: toml::Value = toml::from_str("[cache.local]\ndir = \"/var/c\"\n").unwrap();
        assert_eq!(
            Tier0Config::from_toml(Some(&absolute), home).unwrap().dir,
            PathBuf::from("/var/c")
        );
        for (bad, setting) in [
            ("[cache.local]\nenabled = \"yes\"\n", "enabled"),
            ("[cache.local]\nttl_seconds = -1\n", "ttl_seconds"),
            ("[cache.local]\nmax_bytes = 1.5\n", "max_bytes"),
            ("[cache.local]\ndir = \"\"\n", "dir"),
        ] {
            let table: toml::Value = toml::from_str(bad).unwrap();
            let err = Tier0Config::from_toml(Some(&table), home).unwrap_err();
            assert!(err.to_string().contains(setting), "{err}");
        }
    }

    #[test]
    fn disabled_cache_opens_to_none() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = Tier0Config::defaults(dir.path());
        assert!(Tier0Cache::open(cfg).unwrap().is_none());
        assert!(!dir.path().join("litellm").exists());
    }

    #[test]
    fn put_get_roundtrip_with_private_files() {
        let dir = tempfile::tempdir().unwrap();
        let cache = cache(dir.path(), 1 << 20);
        let key = crate::canonical::request_key(&serde_json::json!({"model": "m"}));
        assert_eq!(cache.get(&key), None);
        let body = b"data: {\"x\":1}\n\ndata: [DONE]\n\n";
        cache.put(&key, body).unwrap();
        assert_eq!(cache.get(&key).as_deref(), Some(&body[..]));
        // Overwriting replaces.
        cache.put(&key, b"second").unwrap();
        assert_eq!(cache.get(&key).as_deref(), Some(&b"second"[..]));
        // Keys that are not file names stay inside the directory.
        cache.put("../../escape", b"x").unwrap();
        assert_eq!(cache.get("../../escape").as_deref(), Some(&b"x"[..]));
        assert!(!dir.path().join("escape.sse").exists());
        let names: Vec<String> = fs::read_dir(&cache.config().dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
        assert!(
            names.iter().all(|n| n.ends_with(".sse")),
            "no temp files left: {names:?}"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&cache.config().dir), 0o700);
            for name in names {
                assert_eq!(mode(&cache.config().dir.join(name)), 0o600);
            }
        }
    }

    #[test]
    fn ttl_is_honoured() {
        let dir = tempfile::tempdir().unwrap();
        let cache = cache(dir.path(), 1 << 20);
        cache.put_at("k", b"body", at(0)).unwrap();
        assert!(cache.get_at("k", at(59)).is_some());
        assert!(cache.get_at("k", at(60)).is_some());
        assert_eq!(cache.get_at("k", at(61)), None);
        // The expired entry was removed.
        assert_eq!(cache.get_at("k", at(0)), None);
        // A clock that went backwards does not make an entry expire.
        cache.put_at("k", b"body", at(100)).unwrap();
        assert!(cache.get_at("k", at(50)).is_some());
    }

    #[test]
    fn eviction_keeps_the_total_under_max_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let max = 1000;
        let cache = cache(dir.path(), max);
        let body = vec![b'x'; 150];
        for i in 0..20u64 {
            cache.put_at(&format!("k{i:02}"), &body, at(i)).unwrap();
            assert!(total_size(&cache.config().dir) <= max, "after put {i}");
            // The newest entry is always there.
            assert!(
                cache.get_at(&format!("k{i:02}"), at(i)).is_some(),
                "k{i:02}"
            );
        }
        // Only the newest survive, oldest evicted first.
        let entry = (MAGIC.len() + " 1700000019000 150\n".len() + 150) as u64;
        let fit = (max / entry) as usize;
        for i in 0..20u64 {
            let present = cache.get_at(&format!("k{i:02}"), at(19)).is_some();
            assert_eq!(present, i as usize >= 20 - fit, "k{i:02}");
        }
        // Too big to ever fit: not stored, nothing evicted for it.
        cache.put_at("huge", &vec![b'y'; 1001], at(20)).unwrap();
        assert_eq!(cache.get_at("huge", at(20)), None);
        assert!(cache.get_at("k19", at(20)).is_some());
        cache.clear().unwrap();
        assert_eq!(total_size(&cache.config().dir), 0);
    }

    #[test]
    fn damaged_entries_are_misses() {
        let dir = tempfile::tempdir().unwrap();
        let cache = cache(dir.path(), 1 << 20);
        let path = cache.path_for("k");
        fs::write(&path, b"not an entry").unwrap();
        assert_eq!(cache.get("k"), None);
        assert!(!path.exists());
        cache.put("k", b"abcdef").unwrap();
        let data = fs::read(&path).unwrap();
        fs::write(&path, &data[..data.len() - 2]).unwrap();
        assert_eq!(cache.get("k"), None, "truncated body");
    }
}
