//! Keeping credentials out of everything codex-litellm writes or shows.
//!
//! Two strengths, for two kinds of text:
//!
//! - [`redact_text`] / [`redact_value`]: everything that reaches a file or
//!   quotes the proxy in the middle of a session (telemetry lines, the
//!   exchange's messages, via [`excerpt`]). It knows every shape a key takes
//!   in LiteLLM's and providers' text (`sk-…`, `Bearer …`, `user:password@`,
//!   `api_key=…`, JSON fields named like a credential, the session's own key)
//!   and leaves [`REDACTED`] in its place.
//! - [`scrub_secrets`] / [`mask_secret`]: the start-up errors
//!   ([`crate::errors`], the discovery client), which quote short proxy
//!   messages. They mask `sk-…` keys and bearer tokens as `***` and keep the
//!   `sk-` in front, the way LiteLLM masks keys in its own messages, so a
//!   reader still sees that a key was there.
//!
//! A leaf: it depends on no other module of the crate, so any module may use
//! it without an import circle.

use serde_json::Value;

/// What redacted text is replaced with.
pub const REDACTED: &str = "[REDACTED]";

/// Characters of proxy-provided text quoted in a message.
const EXCERPT_CHARS: usize = 200;

/// Replaces credentials in every string of `value` (object keys included)
/// and the whole value of every field with a credential-like name.
pub fn redact_value(value: &mut Value, secrets: &[String]) {
    match value {
        Value::String(text) => {
            let redacted = redact_text(text, secrets);
            if redacted != *text {
                *text = redacted;
            }
        }
        Value::Array(items) => {
            for item in items {
                redact_value(item, secrets);
            }
        }
        Value::Object(object) => {
            let keys_change = object.keys().any(|k| redact_text(k, secrets) != *k);
            if keys_change {
                let old = std::mem::take(object);
                for (key, child) in old {
                    object.insert(redact_text(&key, secrets), child);
                }
            }
            for (key, child) in object.iter_mut() {
                if is_secret_name(key) && !child.is_null() {
                    *child = Value::String(REDACTED.to_string());
                } else {
                    redact_value(child, secrets);
                }
            }
        }
        _ => {}
    }
}

/// Whether a field named `name` holds a credential: authorization, api_key,
/// x-api-key, master_key, key, secret, token, password and their
/// `*_api_key` / `*_secret` / `*_token` / `*_password` variants. Counters
/// such as `tokens_in` or `max_tokens` do not match.
pub fn is_secret_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase().replace('-', "_");
    const EXACT: &[&str] = &[
        "authorization",
        "proxy_authorization",
        "api_key",
        "apikey",
        "x_api_key",
        "master_key",
        "key",
        "secret",
        "token",
        "password",
        "passwd",
        "bearer",
        "cookie",
        "set_cookie",
    ];
    const SUFFIXES: &[&str] = &["_api_key", "_apikey", "_secret", "_token", "_password"];
    EXACT.contains(&name.as_str()) || SUFFIXES.iter().any(|s| name.ends_with(s))
}

/// Names that, in free text, announce a credential (`api_key=…`,
/// `"token": "…"`, `Authorization: Bearer …`).
const SECRET_WORDS: &[&str] = &[
    "authorization",
    "x-api-key",
    "x_api_key",
    "api-key",
    "api_key",
    "apikey",
    "master_key",
    "master-key",
    "access_token",
    "refresh_token",
    "password",
    "passwd",
    "secret",
    "token",
    "key",
];

/// `text` with credentials replaced by [`REDACTED`]: each of `secrets`,
/// `sk-…` keys (LiteLLM's format), `Bearer …` tokens, URL user info and the
/// value after a credential-like name.
pub fn redact_text(text: &str, secrets: &[String]) -> String {
    let mut text = text.to_string();
    for secret in secrets {
        if !secret.is_empty() && text.contains(secret.as_str()) {
            text = text.replace(secret.as_str(), REDACTED);
        }
    }
    let spans = secret_spans(&text);
    if spans.is_empty() {
        return text;
    }
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (start, end) in spans {
        out.push_str(&text[at..start]);
        out.push_str(REDACTED);
        at = end;
    }
    out.push_str(&text[at..]);
    out
}

/// Byte ranges of credentials in `text`, sorted and merged. All boundaries
/// are next to ASCII characters, so they are valid `str` indices.
fn secret_spans(text: &str) -> Vec<(usize, usize)> {
    let lower = text.to_ascii_lowercase();
    let bytes = lower.as_bytes();
    let mut spans: Vec<(usize, usize)> = Vec::new();
    let word_start = |i: usize| i == 0 || !is_word_byte(bytes[i - 1]);

    // `sk-…` keys, whole.
    for (i, _) in lower.match_indices("sk-") {
        let end = token_end(bytes, i + 3);
        if word_start(i) && end > i + 3 {
            spans.push((i, end));
        }
    }
    // `Bearer …`: the token after it.
    for (i, word) in lower.match_indices("bearer ") {
        let start = skip_spaces(bytes, i + word.len());
        let end = token_end(bytes, start);
        if word_start(i) && end > start {
            spans.push((start, end));
        }
    }
    // `scheme://user:password@host`: the user info.
    for (i, _) in lower.match_indices("://") {
        let start = i + 3;
        let mut end = start;
        while end < bytes.len()
            && !matches!(bytes[end], b'/' | b'@' | b'?' | b'#')
            && !bytes[end].is_ascii_whitespace()
        {
            end += 1;
        }
        if end < bytes.len() && bytes[end] == b'@' && end > start {
            spans.push((start, end));
        }
    }
    // `name = value`, `"name": "value"`, `name: Bearer value`.
    for word in SECRET_WORDS {
        for (i, _) in lower.match_indices(word) {
            let after = i + word.len();
            if !word_start(i) || bytes.get(after).is_some_and(|b| is_word_byte(*b)) {
                continue;
            }
            let mut j = after;
            while j < bytes.len() && matches!(bytes[j], b'"' | b'\'' | b'\\' | b' ' | b'\t') {
                j += 1;
            }
            if j >= bytes.len() || !matches!(bytes[j], b'=' | b':') {
                continue;
            }
            j += 1;
            while j < bytes.len() && matches!(bytes[j], b'"' | b'\'' | b'\\' | b' ' | b'\t') {
                j += 1;
            }
            let mut end = token_end(bytes, j);
            if end == j {
                continue;
            }
            // `Authorization: Bearer xyz` / `Basic xyz`: the scheme is not
            // the secret, the token after it is.
            if matches!(&lower[j..end], "bearer" | "basic") {
                let start = skip_spaces(bytes, end);
                end = token_end(bytes, start);
                if end > start {
                    spans.push((start, end));
                }
                continue;
            }
            spans.push((j, end));
        }
    }
    spans.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::with_capacity(spans.len());
    for (start, end) in spans {
        match merged.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    merged
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

/// End of the token starting at `start`: up to whitespace, a quote or
/// punctuation that closes a value in JSON, URLs and headers. Text that is
/// already [`REDACTED`] is an empty token, so it is not redacted twice.
fn token_end(bytes: &[u8], start: usize) -> usize {
    if bytes[start.min(bytes.len())..].starts_with(b"[redacted]") {
        return start;
    }
    let mut end = start;
    while end < bytes.len()
        && !bytes[end].is_ascii_whitespace()
        && !matches!(
            bytes[end],
            b'"' | b'\'' | b'\\' | b',' | b';' | b'&' | b')' | b']' | b'}' | b'<' | b'>'
        )
    {
        end += 1;
    }
    end
}

fn skip_spaces(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() && (bytes[i] == b' ' || bytes[i] == b'\t') {
        i += 1;
    }
    i
}

/// A short, redacted quote of proxy-provided text: whitespace collapsed, cut
/// to [`EXCERPT_CHARS`], and credentials (the session's key among `secrets`,
/// `sk-…` keys, bearer tokens, `key=…`) replaced before it is cut, so no
/// part of one can survive.
pub fn excerpt(text: &str, secrets: &[String]) -> String {
    let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let redacted = redact_text(&collapsed, secrets);
    if redacted.chars().count() <= EXCERPT_CHARS {
        return redacted;
    }
    let cut: String = redacted.chars().take(EXCERPT_CHARS).collect();
    format!("{cut}…")
}

/// Masks things that look like credentials in proxy-provided text: `sk-…`
/// keys (LiteLLM's own format, also shown masked as `sk-...abcd`) and
/// `Bearer …` tokens.
pub fn scrub_secrets(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    loop {
        let next_sk = find_key_start(rest);
        let next_bearer = rest.find("Bearer ").map(|i| (i, "Bearer ".len()));
        let next = match (next_sk, next_bearer) {
            (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
            (a, b) => a.or(b),
        };
        let Some((start, prefix_len)) = next else {
            out.push_str(rest);
            return out;
        };
        let token_start = start + prefix_len;
        let token_len = rest[token_start..]
            .find(|c: char| {
                c.is_whitespace() || matches!(c, '"' | '\'' | ',' | ';' | ')' | ']' | '}')
            })
            .unwrap_or(rest.len() - token_start);
        out.push_str(&rest[..token_start]);
        if token_len > 0 {
            out.push_str("***");
        }
        rest = &rest[token_start + token_len..];
    }
}

/// Replaces every occurrence of `secret` (the client's own key) in `text`
/// with `***`.
pub fn mask_secret(text: &str, secret: Option<&str>) -> String {
    match secret {
        Some(secret) if !secret.is_empty() => text.replace(secret, "***"),
        _ => text.to_string(),
    }
}

/// `sk-` at the start of a word.
fn find_key_start(text: &str) -> Option<(usize, usize)> {
    let mut offset = 0;
    while let Some(i) = text[offset..].find("sk-") {
        let at = offset + i;
        let at_word_start = text[..at]
            .chars()
            .next_back()
            .is_none_or(|c| !c.is_ascii_alphanumeric() && c != '-' && c != '_');
        if at_word_start {
            return Some((at, "sk-".len()));
        }
        offset = at + "sk-".len();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn redact_text_cases() {
        let none: [String; 0] = [];
        let cases = [
            ("plain text, no secrets", "plain text, no secrets"),
            ("key sk-abc123, done", "key [REDACTED], done"),
            ("task-1 risk-free", "task-1 risk-free"),
            (
                "Authorization: Bearer abc.def",
                "Authorization: Bearer [REDACTED]",
            ),
            (
                "authorization=Basic dXNlcg==",
                "authorization=Basic [REDACTED]",
            ),
            ("bearer xyz", "bearer [REDACTED]"),
            ("{\"api_key\": \"v\"}", "{\"api_key\": \"[REDACTED]\"}"),
            ("https://u:p@h/x", "https://[REDACTED]@h/x"),
            ("https://h/x?key=v&a=1", "https://h/x?key=[REDACTED]&a=1"),
            ("monkey: banana", "monkey: banana"),
            ("keyboard=qwerty", "keyboard=qwerty"),
            ("max_tokens: 5", "max_tokens: 5"),
            ("Grüße sk-ünïcode ok", "Grüße [REDACTED] ok"),
        ];
        for (input, expected) in cases {
            assert_eq!(redact_text(input, &none), expected, "{input:?}");
        }
        assert_eq!(
            redact_text("a hunter2 b", &["hunter2".to_string()]),
            "a [REDACTED] b"
        );
        for name in [
            "Authorization",
            "X-Api-Key",
            "api_key",
            "key",
            "openai_api_key",
            "access_token",
            "PASSWORD",
        ] {
            assert!(is_secret_name(name), "{name}");
        }
        for name in [
            "tokens_in",
            "max_tokens",
            "tier0_key",
            "prompt_cache_key",
            "model",
            "cache_key",
        ] {
            assert!(!is_secret_name(name), "{name}");
        }
    }

    #[test]
    fn excerpts_are_short_and_redacted() {
        let secret = "sk-session-key-123".to_string();
        let html = "<html>\n  <body> upstream said api_key=hunter2 and sk-other-999 and sk-session-key-123 </body></html>";
        let e = excerpt(html, std::slice::from_ref(&secret));
        assert!(!e.contains("hunter2") && !e.contains("sk-other-999") && !e.contains(&secret), "{e}");
        assert!(e.starts_with("<html> <body> upstream said"), "{e}");
        let long = format!("{} tail", "x ".repeat(300));
        let e = excerpt(&long, &[]);
        assert_eq!(e.chars().count(), EXCERPT_CHARS + 1);
        assert!(e.ends_with('…'));
        // A key cut in half by the limit is still gone: redaction comes first.
        let near = format!("{}sk-abcdefghijklmnop", "y".repeat(EXCERPT_CHARS - 5));
        assert!(!excerpt(&near, &[]).contains("sk-abcd"));
    }

    #[test]
    fn scrub_masks_keys_and_bearer_tokens() {
        assert_eq!(
            scrub_secrets("key sk-abc123, header Bearer xyz.789 end"),
            "key sk-***, header Bearer *** end"
        );
        assert_eq!(scrub_secrets("task-1 risk-free"), "task-1 risk-free");
        assert_eq!(scrub_secrets("sk-"), "sk-");
        assert_eq!(mask_secret("a secret here", Some("secret")), "a *** here");
    }
}
