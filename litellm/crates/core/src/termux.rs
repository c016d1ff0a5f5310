//! Termux on Android: what differs from a Linux machine, for the parts
//! this crate owns, and what `codex-litellm status` says about it.
//!
//! - DNS: Android has no `/etc/resolv.conf`; bionic's `getaddrinfo` asks
//!   the system's resolver (netd). Our HTTP clients use reqwest's default
//!   resolver, which is `getaddrinfo`, so names resolve as in any Android
//!   app and nothing here reads resolv.conf.
//! - TLS roots: Termux keeps them in `$PREFIX/etc/tls/cert.pem` (package
//!   `ca-certificates`). The OpenSSL built into the binary looks in its own
//!   build-time directory, and openssl-probe knows only the standard
//!   prefix `/data/data/com.termux/files/usr`; so our clients load the
//!   bundle of the prefix they run under, unless `SSL_CERT_FILE` names one
//!   (which OpenSSL and upstream's clients honour themselves).
//! - Temporary files: Termux sets `TMPDIR=$PREFIX/tmp`; without it Rust's
//!   `temp_dir()` is `/data/local/tmp`, which apps cannot write. Status says
//!   which one is in use and whether it can be written.
//! - Sandbox: upstream's Linux sandbox (Landlock, seccomp, bubblewrap) is
//!   not built for Android, and Android gives apps no such guarantee, so
//!   Codex runs commands with Termux's own rights; status says so.
//!
//! Everything takes the environment as a function, so it is tested on any
//! host; [`current`] is `None` off Android, which keeps other platforms
//! exactly as they were.

use std::path::Path;
use std::path::PathBuf;

/// Where Termux installs everything when the app is the standard one.
pub const STANDARD_PREFIX: &str = "/data/data/com.termux/files/usr";

/// A Termux environment: its prefix (`$PREFIX`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Termux {
    pub prefix: PathBuf,
}

/// Termux when the environment is one: `PREFIX` set together with
/// `TERMUX_VERSION` (set by Termux's shell since 0.100), or a `PREFIX`
/// inside an app's data directory (`/data/data/<app>/files/usr`, forks of
/// the app included).
pub fn detect(env: &dyn Fn(&str) -> Option<String>) -> Option<Termux> {
    let prefix = env("PREFIX").filter(|p| !p.is_empty())?;
    let in_app_data = prefix.starts_with("/data/data/") || prefix.starts_with("/data/user/");
    if env("TERMUX_VERSION").is_some() || in_app_data {
        Some(Termux {
            prefix: PathBuf::from(prefix),
        })
    } else {
        None
    }
}

/// The Termux this process runs in: only on Android.
pub fn current() -> Option<Termux> {
    if cfg!(target_os = "android") {
        detect(&|k| std::env::var(k).ok())
    } else {
        None
    }
}

impl Termux {
    /// The CA bundle our clients must load themselves: none when
    /// `SSL_CERT_FILE` is set (it is honoured already), else
    /// `$PREFIX/etc/tls/cert.pem` when it exists.
    pub fn ca_bundle(
        &self,
        env: &dyn Fn(&str) -> Option<String>,
        exists: &dyn Fn(&Path) -> bool,
    ) -> Option<PathBuf> {
        if env("SSL_CERT_FILE").is_some_and(|v| !v.is_empty()) {
            return None;
        }
        let bundle = self.prefix.join("etc").join("tls").join("cert.pem");
        exists(&bundle).then_some(bundle)
    }

    /// Where temporary files go: `$TMPDIR`, else what Rust's std falls back
    /// to on Android (`/data/local/tmp`, not writable by apps).
    pub fn temp_dir(&self, env: &dyn Fn(&str) -> Option<String>) -> PathBuf {
        env("TMPDIR")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/data/local/tmp"))
    }

    /// The lines `codex-litellm status` adds on Termux.
    pub fn status_lines(
        &self,
        env: &dyn Fn(&str) -> Option<String>,
        exists: &dyn Fn(&Path) -> bool,
        writable: &dyn Fn(&Path) -> bool,
    ) -> Vec<String> {
        let mut out = vec![format!(
            "Platform:   Termux on Android (prefix {})",
            self.prefix.display()
        )];
        out.push(match (env("SSL_CERT_FILE"), self.ca_bundle(env, exists)) {
            (Some(f), _) if !f.is_empty() => format!("TLS roots:  {f} (SSL_CERT_FILE)"),
            (_, Some(b)) => format!("TLS roots:  {}", b.display()),
            _ => format!(
                "TLS roots:  none found in {}: https:// proxies will fail (pkg install ca-certificates, or set SSL_CERT_FILE)",
                self.prefix.join("etc/tls/cert.pem").display()
            ),
        });
        let tmp = self.temp_dir(env);
        out.push(if writable(&tmp) {
            format!("Temp dir:   {}", tmp.display())
        } else {
            format!(
                "Temp dir:   {} is not writable: set TMPDIR={}",
                tmp.display(),
                self.prefix.join("tmp").display()
            )
        });
        out.push(
            "Sandbox:    none on Android (no Landlock/seccomp for apps): commands run with Termux's own rights, so keep approvals on (-a on-request or untrusted)"
                .to_string(),
        );
        out
    }
}

/// The CA certificates our HTTP clients add on Termux, read from the
/// bundle [`Termux::ca_bundle`] names; empty elsewhere, or when it is
/// unreadable (status then says what is wrong).
pub fn extra_root_certificates() -> Vec<reqwest::Certificate> {
    let Some(t) = current() else {
        return Vec::new();
    };
    let Some(bundle) = t.ca_bundle(&|k| std::env::var(k).ok(), &|p| p.is_file()) else {
        return Vec::new();
    };
    std::fs::read(&bundle)
        .ok()
        .and_then(|pem| reqwest::Certificate::from_pem_bundle(&pem).ok())
        .unwrap_or_default()
}

/// Whether a directory can be written (a file can be created in it).
pub fn can_write(dir: &Path) -> bool {
    tempfile_probe(dir)
}

fn tempfile_probe(dir: &Path) -> bool {
    let probe = dir.join(format!(".codex-litellm-probe-{}", std::process::id()));
    let ok = std::fs::write(&probe, b"").is_ok();
    let _ = std::fs::remove_file(&probe);
    ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn detects_termux_by_its_prefix_or_version_and_nothing_else() {
        let t = detect(&env(&[("PREFIX", STANDARD_PREFIX), ("TERMUX_VERSION", "0.118.1")]));
        assert_eq!(
            t,
            Some(Termux {
                prefix: PathBuf::from(STANDARD_PREFIX)
            })
        );
        // A fork of the app under another package name.
        assert!(detect(&env(&[("PREFIX", "/data/data/com.termux.fork/files/usr")])).is_some());
        // A Linux machine with PREFIX set for an unrelated reason (make install PREFIX=...).
        assert_eq!(detect(&env(&[("PREFIX", "/usr/local")])), None);
        assert_eq!(detect(&env(&[])), None);
        // Off Android, never: the host running these tests is not Termux.
        if !cfg!(target_os = "android") {
            assert_eq!(current(), None);
            assert!(extra_root_certificates().is_empty());
        }
    }

    #[test]
    fn tls_roots_come_from_the_prefix_unless_ssl_cert_file_names_them() {
        let t = Termux {
            prefix: PathBuf::from("/data/data/com.termux.fork/files/usr"),
        };
        let bundle = PathBuf::from("/data/data/com.termux.fork/files/usr/etc/tls/cert.pem");
        let there = |p: &Path| p == bundle;
        assert_eq!(t.ca_bundle(&env(&[]), &there), Some(bundle.clone()));
        assert_eq!(t.ca_bundle(&env(&[]), &|_| false), None);
        assert_eq!(
            t.ca_bundle(&env(&[("SSL_CERT_FILE", "/sdcard/ca.pem")]), &there),
            None
        );
    }

    #[test]
    fn temp_dir_is_tmpdir_else_androids_unwritable_default() {
        let t = Termux {
            prefix: PathBuf::from(STANDARD_PREFIX),
        };
        assert_eq!(
            t.temp_dir(&env(&[("TMPDIR", "/data/data/com.termux/files/usr/tmp")])),
            PathBuf::from("/data/data/com.termux/files/usr/tmp")
        );
        assert_eq!(t.temp_dir(&env(&[])), PathBuf::from("/data/local/tmp"));
    }

    #[test]
    fn status_says_where_tls_roots_and_temp_files_are_and_that_there_is_no_sandbox() {
        let t = Termux {
            prefix: PathBuf::from(STANDARD_PREFIX),
        };
        let ok = t.status_lines(
            &env(&[("TMPDIR", "/data/data/com.termux/files/usr/tmp")]),
            &|_| true,
            &|_| true,
        );
        assert_eq!(
            ok,
            vec![
                "Platform:   Termux on Android (prefix /data/data/com.termux/files/usr)".to_string(),
                "TLS roots:  /data/data/com.termux/files/usr/etc/tls/cert.pem".to_string(),
                "Temp dir:   /data/data/com.termux/files/usr/tmp".to_string(),
                "Sandbox:    none on Android (no Landlock/seccomp for apps): commands run with Termux's own rights, so keep approvals on (-a on-request or untrusted)".to_string(),
            ]
        );
        let bad = t.status_lines(&env(&[]), &|_| false, &|_| false);
        assert_eq!(
            bad[1],
            "TLS roots:  none found in /data/data/com.termux/files/usr/etc/tls/cert.pem: https:// proxies will fail (pkg install ca-certificates, or set SSL_CERT_FILE)"
        );
        assert_eq!(
            bad[2],
            "Temp dir:   /data/local/tmp is not writable: set TMPDIR=/data/data/com.termux/files/usr/tmp"
        );
        let named = t.status_lines(&env(&[("SSL_CERT_FILE", "/sdcard/ca.pem")]), &|_| false, &|_| true);
        assert_eq!(named[1], "TLS roots:  /sdcard/ca.pem (SSL_CERT_FILE)");
    }

    #[test]
    fn a_writable_directory_is_told_from_one_that_is_not() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        assert!(can_write(dir.path()));
        assert!(!can_write(&dir.path().join("missing")));
    }
}
