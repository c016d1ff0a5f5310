//! Watches the SSE bytes of one Responses answer on their way to upstream's
//! parser and remembers what telemetry, cost tracking and the tier-0 cache
//! need: token usage, LiteLLM's `usage.cost`, whether the answer completed
//! or failed, and which model answered.
//!
//! It is a passive tap: it never changes or holds back bytes, and anything it
//! does not understand is ignored, so a new event type or a malformed line
//! cannot break a turn. It does remember the first event whose data is not
//! JSON, so that an answer which then never completes can be reported with
//! an excerpt of what arrived instead. Chunks may be split anywhere (mid-line, even inside a
//! UTF-8 sequence): only complete lines are decoded.
//!
//! The cost of watching is kept small because Responses streams are mostly
//! `*.delta` events: a data line is only parsed as JSON when it can hold one
//! of the few events of interest (every such event names its own type, so a
//! cheap substring test can rule the rest out).

use serde_json::Value;

use crate::redaction::scrub_secrets;
use crate::usage::Usage;
use crate::usage::parse_usage;

/// Responses events the observer acts on; a data line containing none of
/// these words cannot be one of them.
const RESPONSES_MARKERS: &[&str] = &[
    "response.completed",
    "response.failed",
    "response.incomplete",
    "response.created",
    "response.in_progress",
    "\"error\"",
];

/// Longest failure message kept; providers can return whole stack traces.
const MAX_ERROR_CHARS: usize = 500;

/// Incremental observer of one SSE answer. Feed it every chunk with
/// [`StreamObserver::feed`]; call [`StreamObserver::finish`] at the end of
/// the stream so a last line without a newline is seen too.
#[derive(Debug, Clone, Default)]
pub struct StreamObserver {
    /// Bytes after the last newline (an incomplete line).
    partial: Vec<u8>,
    /// `data:` lines of the current event not yet parsed.
    data: String,
    usage: Option<Usage>,
    body_cost: Option<f64>,
    saw_end: bool,
    failed: Option<String>,
    /// `error.code` of the failure event, when it had one.
    failed_code: Option<String>,
    /// The data of the first event that was not JSON (nor `[DONE]`), as sent.
    malformed: Option<String>,
    /// `response.incomplete` arrived (the model stopped short, e.g. at its
    /// output limit): a whole answer, not a broken one.
    incomplete: bool,
    model: Option<String>,
}

impl StreamObserver {
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes the next chunk of the body.
    pub fn feed(&mut self, chunk: &[u8]) {
        let mut rest = chunk;
        while let Some(newline) = rest.iter().position(|b| *b == b'\n') {
            let (line, tail) = rest.split_at(newline);
            rest = &tail[1..];
            if self.partial.is_empty() {
                self.line(line);
            } else {
                let mut whole = std::mem::take(&mut self.partial);
                whole.extend_from_slice(line);
                self.line(&whole);
            }
        }
        self.partial.extend_from_slice(rest);
    }

    /// The stream ended: handles a final line that had no newline and a
    /// final event that had no blank line. Calling it again does nothing.
    pub fn finish(&mut self) {
        if !self.partial.is_empty() {
            let last = std::mem::take(&mut self.partial);
            self.line(&last);
        }
        self.dispatch(false);
    }

    /// Token usage: `response.usage` of the final event.
    pub fn usage(&self) -> Option<Usage> {
        self.usage
    }

    /// The cost LiteLLM wrote into the body (`usage.cost`), USD.
    pub fn body_cost(&self) -> Option<f64> {
        self.body_cost
    }

    /// Whether the answer ended normally: `response.completed` arrived and no
    /// error did. Only completed answers belong in a cache.
    pub fn completed(&self) -> bool {
        self.saw_end && self.failed.is_none()
    }

    /// The error message when the stream reported a failure
    /// (`response.failed` / `response.incomplete` / `error` events).
    /// Credentials are masked.
    pub fn failed(&self) -> Option<String> {
        self.failed.clone()
    }

    /// `error.code` of the stream's failure event (`response.failed` or
    /// `error`), e.g. `server_error` or `context_length_exceeded`.
    pub fn failed_code(&self) -> Option<String> {
        self.failed_code.clone()
    }

    /// Whether the answer ended with `response.incomplete`.
    pub fn incomplete(&self) -> bool {
        self.incomplete
    }

    /// The data of the first event that was not JSON, unredacted and whole:
    /// callers shorten and redact it before showing any of it.
    pub fn malformed(&self) -> Option<String> {
        self.malformed.clone()
    }

    /// The model the answer says produced it (LiteLLM may report the
    /// deployment's name rather than the alias that was asked for).
    pub fn response_model(&self) -> Option<String> {
        self.model.clone()
    }

    /// One SSE line, without its `\n` (a trailing `\r` is dropped too).
    fn line(&mut self, raw: &[u8]) {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if raw.is_empty() {
            self.dispatch(false);
            return;
        }
        let Some(value) = raw.strip_prefix(b"data:") else {
            // `event:`, `id:`, `retry:` and `:` comments carry nothing we
            // need: every payload we read names its own type.
            return;
        };
        let value = value.strip_prefix(b" ").unwrap_or(value);
        let text = String::from_utf8_lossy(value);
        if !self.data.is_empty() {
            self.data.push('\n');
        }
        self.data.push_str(&text);
        // LiteLLM sends one JSON document per data line and does not always
        // end the last event with a blank line, so a line that looks like a
        // whole document is handled right away; if it does not parse, it is
        // kept until more lines or the end of the event arrive.
        let trimmed = self.data.trim_end();
        if trimmed.ends_with('}') || trimmed == "[DONE]" {
            self.dispatch(true);
        }
    }

    /// Handles the data gathered for the current event. `eager`: the event
    /// has not ended yet, so data that does not parse is kept for later.
    fn dispatch(&mut self, eager: bool) {
        let data = self.data.trim();
        if data.is_empty() {
            self.data.clear();
            return;
        }
        // `[DONE]` is Chat's end marker and ends nothing here: upstream's
        // parser fails a stream that closes without `response.completed`,
        // so such an answer must not be cached or counted as whole.
        if data == "[DONE]" {
            self.data.clear();
            return;
        }
        if !RESPONSES_MARKERS.iter().any(|m| data.contains(m)) {
            // Not parsed (deltas are most of a stream); only what cannot be a
            // JSON document at all is noted.
            let may_be_json = data.starts_with('{') && data.ends_with('}');
            if !eager && !may_be_json {
                self.note_malformed();
            }
            self.data.clear();
            return;
        }
        let event = match serde_json::from_str::<Value>(data) {
            Ok(event) => event,
            Err(_) if eager => return,
            Err(_) => {
                self.note_malformed();
                self.data.clear();
                return;
            }
        };
        self.data.clear();
        self.responses_event(&event);
    }

    fn responses_event(&mut self, event: &Value) {
        let kind = event
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let response = event.get("response");
        match kind {
            "response.created" | "response.in_progress" => {
                self.note_model(response.and_then(|r| r.get("model")));
            }
            "response.completed" => {
                self.note_response(response);
                self.saw_end = true;
            }
            "response.failed" => {
                // Tokens may have been spent before the failure; keep them.
                self.note_response(response);
                let error = response
                    .and_then(|r| r.get("error"))
                    .filter(|e| !e.is_null());
                let message = error
                    .map(error_message)
                    .unwrap_or_else(|| "the response failed".to_string());
                self.fail_with_code(message, error);
            }
            "response.incomplete" => {
                self.note_response(response);
                let reason = response
                    .and_then(|r| r.pointer("/incomplete_details/reason"))
                    .and_then(Value::as_str)
                    .unwrap_or("unknown reason");
                self.incomplete = true;
                self.fail(format!("the response is incomplete: {reason}"));
            }
            "error" => self.fail_with_code(error_message(event), Some(event)),
            _ => {}
        }
    }

    fn note_response(&mut self, response: Option<&Value>) {
        let Some(response) = response else {
            return;
        };
        self.note_model(response.get("model"));
        if let Some(usage) = response.get("usage").filter(|u| u.is_object()) {
            self.note_usage(usage);
        }
    }

    fn note_usage(&mut self, usage: &Value) {
        if let Some(parsed) = parse_usage(usage) {
            self.usage = Some(parsed);
        }
        if let Some(cost) = usage
            .get("cost")
            .and_then(Value::as_f64)
            .filter(|c| c.is_finite() && *c >= 0.0)
        {
            self.body_cost = Some(cost);
        }
    }

    fn note_model(&mut self, model: Option<&Value>) {
        if let Some(model) = model.and_then(Value::as_str).filter(|m| !m.is_empty()) {
            self.model = Some(model.to_string());
        }
    }

    fn fail_with_code(&mut self, message: String, error: Option<&Value>) {
        if self.failed.is_none() {
            self.failed_code = error
                .and_then(|e| e.get("code"))
                .and_then(Value::as_str)
                .map(str::to_string);
        }
        self.fail(message);
    }

    fn note_malformed(&mut self) {
        if self.malformed.is_none() {
            self.malformed = Some(self.data.trim().to_string());
        }
    }

    /// Keeps the first failure: later ones are usually consequences.
    fn fail(&mut self, message: String) {
        if self.failed.is_none() {
            self.failed = Some(message);
        }
    }
}

/// `{message, code, type}` (or a bare string) → one line of text.
fn error_message(error: &Value) -> String {
    let text = match error {
        Value::String(s) => s.clone(),
        _ => {
            let field = |k: &str| {
                error.get(k).and_then(|v| match v {
                    Value::String(s) if !s.is_empty() && s != "None" => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    _ => None,
                })
            };
            match (field("message"), field("code").or_else(|| field("type"))) {
                (Some(m), Some(c)) => format!("{m} ({c})"),
                (Some(m), None) => m,
                (None, Some(c)) => c,
                (None, None) => error.to_string(),
            }
        }
    };
    let text = scrub_secrets(&text);
    if text.chars().count() > MAX_ERROR_CHARS {
        let cut: String = text.chars().take(MAX_ERROR_CHARS).collect();
        format!("{cut}…")
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    /// A LiteLLM Responses stream (CRLF line ends, `event:` lines, a
    /// keep-alive comment, multi-byte characters in a delta, LiteLLM's
    /// `usage.cost`).
    const RESPONSES: &str = concat!(
        ": keep-alive\r\n\r\n",
        "event: response.created\r\n",
        "data: {\"type\":\"response.created\",\"sequence_number\":0,\"response\":{\"id\":\"resp_1\",\"object\":\"response\",\"status\":\"in_progress\",\"model\":\"gpt-5-mini\",\"output\":[],\"usage\":null}}\r\n\r\n",
        "event: response.output_text.delta\r\n",
        "data: {\"type\":\"response.output_text.delta\",\"sequence_number\":1,\"item_id\":\"msg_1\",\"output_index\":0,\"content_index\":0,\"delta\":\"Hallo wörld ✓ Grüße — 👋\"}\r\n\r\n",
        "event: response.completed\r\n",
        "data: {\"type\":\"response.completed\",\"sequence_number\":2,\"response\":{\"id\":\"resp_1\",\"object\":\"response\",\"status\":\"completed\",\"model\":\"gpt-5-mini-2025-08-07\",\"output\":[],\"usage\":{\"input_tokens\":300,\"input_tokens_details\":{\"cached_tokens\":128},\"output_tokens\":90,\"output_tokens_details\":{\"reasoning_tokens\":64},\"total_tokens\":390,\"cost\":0.0042}}}\r\n\r\n",
    );

    fn byte_by_byte(stream: &str) -> StreamObserver {
        let mut observer = StreamObserver::new();
        for byte in stream.as_bytes() {
            observer.feed(std::slice::from_ref(byte));
        }
        observer.finish();
        observer
    }

    fn in_chunks(stream: &str, size: usize) -> StreamObserver {
        let mut observer = StreamObserver::new();
        for chunk in stream.as_bytes().chunks(size) {
            observer.feed(chunk);
        }
        observer.finish();
        observer
    }

    #[test]
    fn responses_stream_byte_by_byte() {
        let o = byte_by_byte(RESPONSES);
        assert_eq!(
            o.usage(),
            Some(Usage {
                input_tokens: 300,
                cached_input_tokens: 128,
                output_tokens: 90,
                reasoning_output_tokens: 64,
                total_tokens: 390,
            })
        );
        assert_eq!(o.body_cost(), Some(0.0042));
        assert!(o.completed());
        assert_eq!(o.failed(), None);
        assert_eq!(o.response_model().as_deref(), Some("gpt-5-mini-2025-08-07"));
        // Any split gives the same result.
        for size in [1, 2, 3, 5, 7, 13, 64, 100, 4096] {
            let c = in_chunks(RESPONSES, size);
            assert_eq!(c.usage(), o.usage(), "chunk size {size}");
            assert_eq!(c.body_cost(), o.body_cost(), "chunk size {size}");
            assert!(c.completed(), "chunk size {size}");
        }
    }

    #[test]
    fn truncated_streams_are_not_completed() {
        let cut = RESPONSES.find("event: response.completed").unwrap_or(0);
        let o = byte_by_byte(&RESPONSES[..cut]);
        assert!(!o.completed());
        assert_eq!(o.usage(), None);
        assert_eq!(o.response_model().as_deref(), Some("gpt-5-mini"));

        // Chat's end marker does not complete a Responses answer.
        let o = byte_by_byte(&format!("{}data: [DONE]\n\n", &RESPONSES[..cut]));
        assert!(!o.completed());

        // Without the final newline, `finish` still sees the last line.
        let mut o = StreamObserver::new();
        o.feed(b"data: {\"type\":\"response.completed\",\"response\":{\"usage\":{\"input_tokens\":1,\"output_tokens\":2}}}");
        assert!(!o.completed());
        o.finish();
        assert!(o.completed());
        assert_eq!(o.usage().map(|u| u.output_tokens), Some(2));
    }

    #[test]
    fn failures_are_reported_with_keys_masked() {
        let failed = concat!(
            "data: {\"type\":\"response.created\",\"response\":{\"model\":\"m\"}}\n\n",
            "data: {\"type\":\"response.failed\",\"response\":{\"status\":\"failed\",\"error\":{\"code\":\"server_error\",\"message\":\"upstream said no to sk-live123\"},\"usage\":{\"input_tokens\":5,\"output_tokens\":0}}}\n\n",
        );
        let o = byte_by_byte(failed);
        assert!(!o.completed());
        assert_eq!(
            o.failed().as_deref(),
            Some("upstream said no to sk-*** (server_error)")
        );
        assert_eq!(o.usage().map(|u| u.input_tokens), Some(5));

        let incomplete = "data: {\"type\":\"response.incomplete\",\"response\":{\"incomplete_details\":{\"reason\":\"max_output_tokens\"}}}\n\n";
        let o = byte_by_byte(incomplete);
        assert_eq!(
            o.failed().as_deref(),
            Some("the response is incomplete: max_output_tokens")
        );

        let error_event = "event: error\ndata: {\"type\":\"error\",\"code\":\"rate_limit_exceeded\",\"message\":\"slow down\"}\n\n";
        let o = byte_by_byte(error_event);
        assert_eq!(
            o.failed().as_deref(),
            Some("slow down (rate_limit_exceeded)")
        );
    }

    #[test]
    fn garbage_and_unknown_events_are_ignored() {
        let mut o = StreamObserver::new();
        o.feed(
            b"data: {not json\n\nretry: 100\nid: 7\ndata: {\"type\":\"response.future_event\"}\n\n",
        );
        o.feed(&[0xff, 0xfe, b'\n', b'\n']);
        o.finish();
        assert!(!o.completed());
        assert_eq!(o.failed(), None);
        assert_eq!(o.usage(), None);

        // A delta whose text mentions an interesting event is still a delta.
        let mut o = StreamObserver::new();
        o.feed(
            b"data: {\"type\":\"response.output_text.delta\",\"delta\":\"response.completed\"}\n\n",
        );
        o.finish();
        assert!(!o.completed());
    }

    #[test]
    fn multi_line_data_events() {
        // SSE allows one event's data across several lines.
        let mut o = StreamObserver::new();
        o.feed(b"data: {\"type\":\"response.completed\",\n");
        o.feed(b"data: \"response\":{\"model\":\"m\"}}\n\n");
        o.finish();
        assert!(o.completed());
        assert_eq!(o.response_model().as_deref(), Some("m"));
    }

    #[test]
    fn failure_code_and_malformed_events_are_noted() {
        let failed = concat!(
            "data: {\"type\":\"response.created\",\"response\":{\"id\":\"r\",\"model\":\"m\"}}\n\n",
            "data: {\"type\":\"response.output_text.delta\",\"delta\":<<broken sk-abc123\n\n",
            "event: response.failed\n",
            "data: {\"type\":\"response.failed\",\"response\":{\"error\":{\"code\":\"server_error\",\"message\":\"boom\"}}}\n\n",
            "data: [DONE]\n\n",
        );
        for size in [1, 3, 4096] {
            let o = in_chunks(failed, size);
            assert_eq!(o.failed_code().as_deref(), Some("server_error"), "chunk size {size}");
            assert_eq!(o.failed().as_deref(), Some("boom (server_error)"));
            assert_eq!(
                o.malformed().as_deref(),
                Some("{\"type\":\"response.output_text.delta\",\"delta\":<<broken sk-abc123"),
                "chunk size {size}"
            );
            assert!(!o.completed());
        }
        // A garbled final event is noted too; whole documents and [DONE] are not.
        let garbled = "data: {\"type\":\"response.completed\",\"response\":{\"id\":<<cut\n\n";
        assert!(in_chunks(garbled, 5).malformed().is_some());
        assert_eq!(in_chunks(RESPONSES, 7).malformed(), None);
        assert_eq!(in_chunks("data: [DONE]\n\n", 2).malformed(), None);
    }
}
