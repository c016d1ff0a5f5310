//! `codex-litellm telemetry [--json]`: what the local telemetry says about
//! past sessions (sessions, per-model tokens and cost, cache hit rates per
//! tier, errors), read with the same code that writes it
//! ([`crate::telemetry`]) and added up with the same rules as `/status`
//! ([`crate::cost::SessionTotals`]), so the two never disagree about what a
//! record means.
//!
//! The directory is `--dir`, else `[telemetry].dir` of config.toml (with
//! `-c telemetry.dir=…` overrides), else CODEX_HOME/litellm/telemetry: the
//! place the binary writes to. Rotated files are read oldest first; lines
//! that are not records are counted and reported, never fatal.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::path::Path;
use std::path::PathBuf;

use serde_json::Value;
use serde_json::json;

use crate::cost::CacheTier;
use crate::cost::SessionTotals;
use crate::cost::Totals;
use crate::errors::LiteLlmError;
use crate::formatting::count;
use crate::formatting::money;
use crate::session::codex_home;
use crate::session::effective_config;
use crate::telemetry::ReadResult;
use crate::telemetry::TelemetryConfig;
use crate::telemetry::read_all;

const TIERS: [CacheTier; 3] = [CacheTier::Tier0, CacheTier::Litellm, CacheTier::Provider];

/// One session: its first and last request and what it added up to.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionSummary {
    pub id: String,
    pub first: String,
    pub last: String,
    pub totals: Totals,
}

/// Everything the report shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub dir: PathBuf,
    pub files: Vec<PathBuf>,
    pub bad_lines: u64,
    /// Oldest first (by the first request's time, then id).
    pub sessions: Vec<SessionSummary>,
    /// Most requests first, then by name.
    pub models: Vec<(String, Totals)>,
    pub total: Totals,
}

/// `codex-litellm telemetry [--json] [--dir DIR]`: the report as text (a
/// table per section) or one JSON document. `raw_overrides` are the `-c`
/// overrides (`telemetry.dir=…` applies).
pub fn run_telemetry(
    raw_overrides: &[String],
    json: bool,
    dir: Option<&str>,
) -> Result<String, LiteLlmError> {
    report(&codex_home(), raw_overrides, json, dir)
}

/// [`run_telemetry`] for a given CODEX_HOME (tests must not change the
/// process environment).
fn report(
    codex_home: &Path,
    raw_overrides: &[String],
    json: bool,
    dir: Option<&str>,
) -> Result<String, LiteLlmError> {
    let config = effective_config(codex_home, raw_overrides)?;
    let cfg = TelemetryConfig::from_toml(config.get("telemetry"), codex_home, None)?;
    let dir = match dir {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                dir
            } else {
                std::env::current_dir()
                    .map_err(|err| LiteLlmError::io("find", "the current directory", err))?
                    .join(dir)
            }
        }
        None => cfg.dir.clone(),
    };
    if !dir.is_dir() {
        return Err(LiteLlmError::NoTelemetry {
            dir,
            disabled: !cfg.enabled,
        });
    }
    let summary = summarize(&dir, read_all(&dir, &cfg.session_file));
    if json {
        serde_json::to_string_pretty(&summary_json(&summary))
            .map_err(|err| LiteLlmError::invalid("telemetry report", err.to_string()))
    } else {
        Ok(format_summary(&summary))
    }
}

/// Adds the records up per session, per model and in total.
pub fn summarize(dir: &Path, read: ReadResult) -> Summary {
    let mut sessions: BTreeMap<String, SessionSummary> = BTreeMap::new();
    let mut totals = SessionTotals::new();
    for record in &read.records {
        let outcome = record.outcome();
        totals.add(&record.model, &outcome);
        let session = sessions
            .entry(record.session_id.clone())
            .or_insert_with(|| SessionSummary {
                id: record.session_id.clone(),
                first: record.ts.clone(),
                last: record.ts.clone(),
                totals: Totals::default(),
            });
        if earlier(&record.ts, &session.first) {
            session.first = record.ts.clone();
        }
        if earlier(&session.last, &record.ts) {
            session.last = record.ts.clone();
        }
        session.totals.add(&outcome);
    }
    let mut sessions: Vec<SessionSummary> = sessions.into_values().collect();
    sessions.sort_by(|a, b| by_time(&a.first, &b.first).then_with(|| a.id.cmp(&b.id)));
    let mut models: Vec<(String, Totals)> = totals.per_model.into_iter().collect();
    models.sort_by(|a, b| b.1.requests.cmp(&a.1.requests).then_with(|| a.0.cmp(&b.0)));
    Summary {
        dir: dir.to_path_buf(),
        files: read.files,
        bad_lines: read.bad_lines,
        sessions,
        models,
        total: totals.total,
    }
}

/// A record's time; `None` when it does not parse (such records sort last).
fn time_of(ts: &str) -> Option<chrono::DateTime<chrono::FixedOffset>> {
    chrono::DateTime::parse_from_rfc3339(ts).ok()
}

/// Compares timestamps as times: as text, `10:00:00Z` and `10:00:00.500Z`
/// would sort the wrong way round.
fn by_time(a: &str, b: &str) -> Ordering {
    match (time_of(a), time_of(b)) {
        (Some(a), Some(b)) => a.cmp(&b),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

fn earlier(a: &str, b: &str) -> bool {
    by_time(a, b) == Ordering::Less
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", count(n), if n == 1 { one } else { many })
}

/// Label of a tier in the report, as `/status` names it.
fn tier_label(tier: CacheTier) -> &'static str {
    match tier {
        CacheTier::Tier0 => "local (tier 0)",
        CacheTier::Litellm => "LiteLLM",
        CacheTier::Provider => "provider prompt cache",
    }
}

fn hits(t: &Totals, tier: CacheTier) -> u64 {
    match tier {
        CacheTier::Tier0 => t.cache_hits.tier0,
        CacheTier::Litellm => t.cache_hits.litellm,
        CacheTier::Provider => t.cache_hits.provider,
    }
}

/// Columns padded to the widest cell; the first `left` columns (text) are
/// left-aligned, the rest (numbers) right-aligned.
fn table(header: &[&str], rows: &[Vec<String>], left: usize) -> Vec<String> {
    let widths: Vec<usize> = header
        .iter()
        .enumerate()
        .map(|(i, h)| {
            rows.iter()
                .map(|r| r.get(i).map_or(0, |c| c.chars().count()))
                .fold(h.chars().count(), usize::max)
        })
        .collect();
    let line = |cells: Vec<String>| -> String {
        let cells: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let w = widths.get(i).copied().unwrap_or(0);
                if i < left {
                    format!("{c:<w$}")
                } else {
                    format!("{c:>w$}")
                }
            })
            .collect();
        format!("  {}", cells.join("  ")).trim_end().to_string()
    };
    let mut out = vec![line(header.iter().map(ToString::to_string).collect())];
    out.extend(rows.iter().cloned().map(line));
    out
}

/// The report as text.
pub fn format_summary(s: &Summary) -> String {
    let t = &s.total;
    let mut out = vec![format!(
        "Telemetry: {} ({}, {})",
        s.dir.display(),
        plural(s.files.len() as u64, "file", "files"),
        plural(t.requests, "record", "records"),
    )];
    if s.bad_lines > 0 {
        out.push(format!(
            "Skipped {} that {} not records.",
            plural(s.bad_lines, "line", "lines"),
            if s.bad_lines == 1 { "is" } else { "are" }
        ));
    }
    if t.requests == 0 {
        out.push("No requests recorded yet.".to_string());
        return out.join("\n");
    }
    out.push(String::new());
    out.push(format!("Sessions: {}", s.sessions.len()));
    let rows: Vec<Vec<String>> = s
        .sessions
        .iter()
        .map(|x| {
            vec![
                x.id.clone(),
                x.first.clone(),
                x.last.clone(),
                count(x.totals.requests),
                count(x.totals.errors),
                money(x.totals.cost_usd),
            ]
        })
        .collect();
    out.extend(table(
        &["SESSION", "FIRST", "LAST", "REQUESTS", "ERRORS", "COST"],
        &rows,
        3,
    ));
    out.push(String::new());
    out.push("Models:".to_string());
    let rows: Vec<Vec<String>> = s
        .models
        .iter()
        .map(|(model, m)| {
            vec![
                model.clone(),
                count(m.requests),
                count(m.errors),
                count(m.tokens_in),
                count(m.tokens_cached),
                count(m.tokens_out),
                money(m.cost_usd),
            ]
        })
        .collect();
    out.extend(table(
        &[
            "MODEL",
            "REQUESTS",
            "ERRORS",
            "TOKENS IN",
            "CACHED",
            "OUT",
            "COST",
        ],
        &rows,
        1,
    ));
    out.push(String::new());
    let rates: Vec<String> = TIERS
        .iter()
        .map(|tier| {
            format!(
                "{} {:.1}% ({})",
                tier_label(*tier),
                t.hit_rate_percent(*tier),
                count(hits(t, *tier))
            )
        })
        .collect();
    out.push(format!("Cache hits: {}", rates.join(", ")));
    // A request without a known cost makes the sum a lower bound: say so.
    let lower_bound = if t.uncosted_requests > 0 {
        format!(
            " (at least; {} without a known cost)",
            plural(t.uncosted_requests, "request", "requests")
        )
    } else {
        String::new()
    };
    out.push(format!(
        "Totals: {}, {}, {}, tokens in {} (cached {}), out {} (reasoning {}), cost {}{lower_bound}",
        plural(s.sessions.len() as u64, "session", "sessions"),
        plural(t.requests, "request", "requests"),
        plural(t.errors, "error", "errors"),
        count(t.tokens_in),
        count(t.tokens_cached),
        count(t.tokens_out),
        count(t.tokens_reasoning),
        money(t.cost_usd),
    ));
    out.join("\n")
}

fn totals_json(t: &Totals) -> Value {
    json!({
        "requests": t.requests,
        "errors": t.errors,
        "tokens_in": t.tokens_in,
        "tokens_cached": t.tokens_cached,
        "tokens_out": t.tokens_out,
        "tokens_reasoning": t.tokens_reasoning,
        "cost_usd": t.cost_usd,
        "uncosted_requests": t.uncosted_requests,
    })
}

/// The report as one JSON document (`--json`).
pub fn summary_json(s: &Summary) -> Value {
    let t = &s.total;
    let by_tier = |f: &dyn Fn(CacheTier) -> Value| {
        TIERS
            .iter()
            .map(|tier| (tier.as_str().to_string(), f(*tier)))
            .collect::<serde_json::Map<String, Value>>()
    };
    let mut totals = totals_json(t);
    totals["sessions"] = json!(s.sessions.len());
    json!({
        "dir": s.dir,
        "files": s.files,
        "bad_lines": s.bad_lines,
        "sessions": s.sessions.iter().map(|x| {
            let mut v = totals_json(&x.totals);
            v["id"] = json!(x.id);
            v["first"] = json!(x.first);
            v["last"] = json!(x.last);
            v
        }).collect::<Vec<_>>(),
        "models": s.models.iter().map(|(model, m)| {
            let mut v = totals_json(m);
            v["model"] = json!(model);
            v
        }).collect::<Vec<_>>(),
        "cache_hits": by_tier(&|tier| json!(hits(t, tier))),
        "cache_hit_rates": by_tier(&|tier| json!(t.hit_rate_percent(tier))),
        "totals": totals,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cost::CostSource;
    use crate::telemetry::STATUS_ERROR;
    use crate::telemetry::STATUS_OK;
    use crate::telemetry::Telemetry;
    use crate::telemetry::RequestRecord;
    use pretty_assertions::assert_eq;
    use std::fs;
    use std::io::Write;

    struct Plant<'a> {
        seq: u64,
        session: &'a str,
        ts: &'a str,
        model: &'a str,
        error: bool,
        tokens: (u64, u64, u64, u64),
        cost: Option<f64>,
        tier: Option<&'a str>,
    }

    fn plant(p: Plant<'_>) -> RequestRecord {
        let (tokens_in, tokens_cached, tokens_out, tokens_reasoning) = p.tokens;
        RequestRecord {
            ts: p.ts.into(),
            session_id: p.session.into(),
            seq: p.seq,
            model: p.model.into(),
            wire_api: "responses".into(),
            litellm_model_id: Some("deploy-1".into()),
            api_base: Some("https://api.example.com".into()),
            call_id: Some(format!("call-{}", p.seq)),
            latency_ms: 100,
            status: if p.error { STATUS_ERROR } else { STATUS_OK }.into(),
            http_status: Some(if p.error { 500 } else { 200 }),
            tokens_in,
            tokens_cached,
            tokens_out,
            tokens_reasoning,
            cost_usd: p.cost,
            cost_source: if p.cost.is_some() { CostSource::Header } else { CostSource::None },
            cache_tier: p.tier.map(str::to_string),
            tier0_key: "ab".repeat(32),
            error: p.error.then(|| "the LiteLLM proxy returned HTTP 500".to_string()),
            rate_limits: None,
        }
    }

    /// Five requests in two sessions over two models, one failed, one
    /// without a known cost, one hit per cache tier.
    fn records() -> Vec<RequestRecord> {
        let base = |seq, session, ts, model| Plant {
            seq,
            session,
            ts,
            model,
            error: false,
            tokens: (0, 0, 0, 0),
            cost: None,
            tier: None,
        };
        vec![
            plant(Plant {
                tokens: (1000, 400, 100, 20),
                cost: Some(0.001),
                tier: Some("provider"),
                ..base(1, "s-a", "2025-01-01T10:00:00.000Z", "gpt-4o")
            }),
            plant(Plant {
                tokens: (500, 0, 50, 0),
                cost: Some(0.0005),
                tier: Some("tier0"),
                ..base(2, "s-a", "2025-01-01T10:01:00.000Z", "gpt-4o")
            }),
            plant(Plant {
                error: true,
                ..base(3, "s-a", "2025-01-01T10:02:00.000Z", "claude")
            }),
            plant(Plant {
                tokens: (2000, 1000, 200, 0),
                cost: Some(0.004),
                tier: Some("litellm"),
                ..base(1, "s-b", "2025-01-02T09:00:00.000Z", "claude")
            }),
            plant(Plant {
                tokens: (100, 0, 10, 0),
                ..base(2, "s-b", "2025-01-02T09:05:00.000Z", "gpt-4o")
            }),
        ]
    }

    fn append(path: &Path, text: &str) {
        let mut file = fs::OpenOptions::new().append(true).open(path).unwrap();
        file.write_all(text.as_bytes()).unwrap();
    }

    /// A CODEX_HOME whose default telemetry directory holds the records in
    /// `sessions.jsonl.2`, `.1` and the live file, written by the crate's
    /// own writer, with lines that are not records spread over them.
    fn planted_home() -> (tempfile::TempDir, PathBuf) {
        let home = tempfile::tempdir().unwrap();
        let cfg = TelemetryConfig::defaults(home.path());
        let dir = cfg.dir.clone();
        let live = dir.join(&cfg.session_file);
        let t = Telemetry::open(cfg, &[]).unwrap().unwrap();
        let r = records();
        t.record(&r[0]).unwrap();
        t.record(&r[1]).unwrap();
        fs::rename(&live, dir.join("sessions.jsonl.2")).unwrap();
        t.record(&r[2]).unwrap();
        append(&live, "{oops\n");
        fs::rename(&live, dir.join("sessions.jsonl.1")).unwrap();
        t.record(&r[3]).unwrap();
        append(&live, "\n[1,2]\n{\"session_id\":5,\"model\":\"m\"}\n{}\n");
        t.record(&r[4]).unwrap();
        append(&live, "{\"session_id\":\"x\",\"model\":\"m\",\"tokens_in\":\"many\"}\n");
        // Not part of the session log.
        fs::write(dir.join("sessions.jsonl.tmp"), "{}\n").unwrap();
        (home, dir)
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn reads_rotations_oldest_first_and_counts_bad_lines() {
        let (_home, dir) = planted_home();
        let read = read_all(&dir, "sessions.jsonl");
        let names: Vec<String> = read
            .files
            .iter()
            .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["sessions.jsonl.2", "sessions.jsonl.1", "sessions.jsonl"]);
        let ids: Vec<String> = read
            .records
            .iter()
            .map(|r| format!("{}#{}", r.session_id, r.seq))
            .collect();
        assert_eq!(ids, ["s-a#1", "s-a#2", "s-a#3", "s-b#1", "s-b#2"]);
        // `{oops`, `[1,2]`, a numeric session id, `{}` (no session) and a
        // text token count; the blank line is not counted.
        assert_eq!(read.bad_lines, 5);
    }

    #[test]
    fn computes_sessions_models_hit_rates_and_totals() {
        let (_home, dir) = planted_home();
        let s = summarize(&dir, read_all(&dir, "sessions.jsonl"));
        assert_eq!(s.sessions.len(), 2);
        let (a, b) = (&s.sessions[0], &s.sessions[1]);
        assert_eq!(
            (a.id.as_str(), a.first.as_str(), a.last.as_str()),
            ("s-a", "2025-01-01T10:00:00.000Z", "2025-01-01T10:02:00.000Z")
        );
        assert_eq!((a.totals.requests, a.totals.errors), (3, 1));
        assert!(close(a.totals.cost_usd, 0.0015), "{}", a.totals.cost_usd);
        assert_eq!(
            (b.id.as_str(), b.first.as_str(), b.last.as_str()),
            ("s-b", "2025-01-02T09:00:00.000Z", "2025-01-02T09:05:00.000Z")
        );
        assert_eq!((b.totals.requests, b.totals.errors), (2, 0));
        assert!(close(b.totals.cost_usd, 0.004));

        let names: Vec<&str> = s.models.iter().map(|(m, _)| m.as_str()).collect();
        assert_eq!(names, ["gpt-4o", "claude"]);
        let (gpt, claude) = (&s.models[0].1, &s.models[1].1);
        assert_eq!(
            (gpt.requests, gpt.errors, gpt.tokens_in, gpt.tokens_cached, gpt.tokens_out, gpt.tokens_reasoning),
            (3, 0, 1600, 400, 160, 20)
        );
        assert!(close(gpt.cost_usd, 0.0015));
        assert_eq!(
            (claude.requests, claude.errors, claude.tokens_in, claude.tokens_cached, claude.tokens_out, claude.tokens_reasoning),
            (2, 1, 2000, 1000, 200, 0)
        );
        assert!(close(claude.cost_usd, 0.004));

        let t = &s.total;
        assert_eq!(
            (t.cache_hits.tier0, t.cache_hits.litellm, t.cache_hits.provider),
            (1, 1, 1)
        );
        for tier in TIERS {
            assert!(close(t.hit_rate_percent(tier), 20.0), "{tier:?}");
        }
        assert_eq!(
            (t.requests, t.errors, t.tokens_in, t.tokens_cached, t.tokens_out, t.tokens_reasoning),
            (5, 1, 3600, 1400, 360, 20)
        );
        // The failure used no tokens: free, not unknown. s-b#2 is unknown.
        assert_eq!(t.uncosted_requests, 1);
        assert!(close(t.cost_usd, 0.0055));
        assert_eq!(s.bad_lines, 5);
    }

    #[test]
    fn prints_a_readable_report_and_one_json_document() {
        let (home, dir) = planted_home();
        let text = report(home.path(), &[], false, None).unwrap();
        assert!(text.starts_with(&format!("Telemetry: {} (3 files, 5 records)", dir.display())), "{text}");
        for expected in [
            "Skipped 5 lines that are not records.",
            "Sessions: 2",
            "  SESSION  FIRST                     LAST                      REQUESTS  ERRORS       COST",
            "  s-a      2025-01-01T10:00:00.000Z  2025-01-01T10:02:00.000Z         3       1  $0.001500",
            "  MODEL   REQUESTS  ERRORS  TOKENS IN  CACHED  OUT       COST",
            "  gpt-4o         3       0      1,600     400  160  $0.001500",
            "  claude         2       1      2,000   1,000  200  $0.004000",
            "Cache hits: local (tier 0) 20.0% (1), LiteLLM 20.0% (1), provider prompt cache 20.0% (1)",
            "Totals: 2 sessions, 5 requests, 1 error, tokens in 3,600 (cached 1,400), out 360 (reasoning 20), cost $0.005500 (at least; 1 request without a known cost)",
        ] {
            assert!(text.lines().any(|l| l == expected), "missing {expected:?} in\n{text}");
        }
        assert!(!text.contains('?'), "{text}");

        let doc: Value = serde_json::from_str(&report(home.path(), &[], true, None).unwrap()).unwrap();
        assert_eq!(doc["dir"], json!(dir));
        assert_eq!(doc["files"].as_array().map(Vec::len), Some(3));
        assert_eq!(doc["bad_lines"], 5);
        assert_eq!(doc["totals"]["requests"], 5);
        assert_eq!(doc["totals"]["sessions"], 2);
        assert_eq!(doc["totals"]["uncosted_requests"], 1);
        assert_eq!(doc["cache_hit_rates"]["tier0"], 20.0);
        assert_eq!(doc["cache_hits"]["provider"], 1);
        assert_eq!(doc["sessions"][0]["id"], "s-a");
        assert_eq!(doc["sessions"][0]["errors"], 1);
        assert_eq!(doc["models"][1]["model"], "claude");
        assert_eq!(doc["models"][1]["tokens_cached"], 1000);
    }

    #[test]
    fn finds_the_directory_through_config_and_overrides() {
        let (planted, dir) = planted_home();
        // --dir wins.
        let doc: Value = serde_json::from_str(
            &report(Path::new("/nonexistent-home"), &[], true, dir.to_str()).unwrap(),
        )
        .unwrap();
        assert_eq!(doc["totals"]["requests"], 5);

        // [telemetry].dir relative to CODEX_HOME, and logs.session.file.
        let home = tempfile::tempdir().unwrap();
        fs::write(
            home.path().join("config.toml"),
            "[litellm]\napi_base = \"http://x\"\n\n[telemetry]\ndir = \"elsewhere\"\nlogs.session.file = \"mine.jsonl\"\n",
        )
        .unwrap();
        let mut cfg = TelemetryConfig::defaults(home.path());
        cfg.dir = home.path().join("elsewhere");
        cfg.session_file = "mine.jsonl".into();
        Telemetry::open(cfg, &[]).unwrap().unwrap().record(&records()[0]).unwrap();
        let doc: Value = serde_json::from_str(&report(home.path(), &[], true, None).unwrap()).unwrap();
        assert_eq!(doc["totals"]["requests"], 1);
        assert_eq!(doc["dir"], json!(home.path().join("elsewhere")));

        // A -c override moves it again.
        let over = format!("telemetry.dir=\"{}\"", dir.display());
        let doc: Value = serde_json::from_str(
            &report(home.path(), &[over, "telemetry.logs.session.file=\"sessions.jsonl\"".into()], true, None).unwrap(),
        )
        .unwrap();
        assert_eq!(doc["totals"]["requests"], 5);
        drop(planted);
    }

    #[test]
    fn says_what_to_set_when_the_directory_is_missing() {
        let home = tempfile::tempdir().unwrap();
        let err = report(home.path(), &[], false, None).unwrap_err().to_string();
        let dir = home.path().join("litellm").join("telemetry");
        assert!(err.contains(&format!("{} does not exist", dir.display())), "{err}");
        assert!(err.contains("--dir DIR") && err.contains("CODEX_HOME"), "{err}");
        assert!(!err.contains("enabled = false)"), "{err}");
        fs::write(home.path().join("config.toml"), "[telemetry]\nenabled = false\n").unwrap();
        let err = report(home.path(), &[], false, None).unwrap_err().to_string();
        assert!(err.contains("(config.toml sets [telemetry] enabled = false)"), "{err}");
    }

    #[test]
    fn reports_an_empty_directory_without_failing() {
        let empty = tempfile::tempdir().unwrap();
        let s = summarize(empty.path(), read_all(empty.path(), "sessions.jsonl"));
        assert_eq!(s.total.requests, 0);
        for tier in TIERS {
            assert_eq!(s.total.hit_rate_percent(tier), 0.0);
        }
        let text = format_summary(&s);
        assert!(text.contains("(0 files, 0 records)"), "{text}");
        assert!(text.ends_with("No requests recorded yet."), "{text}");
        let doc = summary_json(&s);
        assert_eq!(doc["cache_hit_rates"], json!({"tier0": 0.0, "litellm": 0.0, "provider": 0.0}));
    }

    #[test]
    fn times_order_as_a_person_reads_them() {
        // Times compare as times, not text: `.5` sorts after `:00Z`.
        assert!(earlier("2025-01-01T10:00:00Z", "2025-01-01T10:00:00.500Z"));
        assert!(!earlier("2025-01-01T10:00:00.500Z", "2025-01-01T10:00:00Z"));
        // Unreadable times sort last, never first.
        assert!(earlier("2025-01-01T10:00:00Z", "garbage"));
        assert!(!earlier("garbage", "2025-01-01T10:00:00Z"));
    }
}
