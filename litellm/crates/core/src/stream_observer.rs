//! Watches the SSE bytes of one answer on their way to upstream's parser and
//! remembers what telemetry, cost tracking and the tier-0 cache need: token
//! usage, LiteLLM's `usage.cost`, whether the answer completed or failed,
//! and which model answered.
//!
//! It is a passive tap: it never changes or holds back bytes, and anything it
//! does not understand is ignored, so a new event type or a malformed line
//! cannot break a turn. Chunks may be split anywhere (mid-line, even inside a
//! UTF-8 sequence): only complete lines are decoded.
//!
//! The cost of watching is kept small because Responses streams are mostly
//! `*.delta` events: a data line is only parsed as JSON when it can hold one
//! of the few events of interest (every such event names its own type, so a
//! cheap substring test can rule the rest out).

use serde_json::Value;

use crate::config::WireApi;
use crate::errors::scrub_secrets;
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
#[derive(Debug, Clone)]
pub struct StreamObserver {
    api: WireApi,
    /// Bytes after the last newline (an incomplete line).
    partial: Vec<u8>,
    /// `data:` lines of the current event not yet parsed.
    data: String,
    usage: Option<Usage>,
    body_cost: Option<f64>,
    saw_end: bool,
    failed: Option<String>,
    model: Option<String>,
}

impl StreamObserver {
    pub fn new(api: WireApi) -> Self {
        Self {
            api,
            partial: Vec::new(),
            data: String::new(),
            usage: None,
            body_cost: None,
            saw_end: false,
            failed: None,
            model: None,
        }
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

    /// Token usage: the Chat chunk that carries `usage` (the last one, if
    /// several do), or `response.usage` of the final Responses event.
    pub fn usage(&self) -> Option<Usage> {
        self.usage
    }

    /// The cost LiteLLM wrote into the body (`usage.cost`), USD.
    pub fn body_cost(&self) -> Option<f64> {
        self.body_cost
    }

    /// Whether the answer ended normally: Chat saw `[DONE]` or a
    /// `finish_reason`, Responses saw `response.completed`; and no error
    /// arrived. Only completed answers belong in a cache.
    pub fn completed(&self) -> bool {
        self.saw_end && self.failed.is_none()
    }

    /// The error message when the stream reported a failure (Responses
    /// `response.failed` / `response.incomplete` / `error` events, a Chat
    /// chunk with an `error` object). Credentials are masked.
    pub fn failed(&self) -> Option<String> {
        self.failed.clone()
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
        if data == "[DONE]" {
            self.saw_end = true;
            self.data.clear();
            return;
        }
        if self.api == WireApi::Responses && !RESPONSES_MARKERS.iter().any(|m| data.contains(m)) {
            self.data.clear();
            return;
        }
        let event = match serde_json::from_str::<Value>(data) {
            Ok(event) => event,
            Err(_) if eager => return,
            Err(_) => {
                self.data.clear();
                return;
            }
        };
        self.data.clear();
        match self.api {
            WireApi::Chat => self.chat_chunk(&event),
            WireApi::Responses => self.responses_event(&event),
        }
    }

    fn chat_chunk(&mut self, chunk: &Value) {
        if let Some(error) = chunk.get("error").filter(|e| !e.is_null()) {
            self.fail(error_message(error));
            return;
        }
        self.note_model(chunk.get("model"));
        if let Some(usage) = chunk.get("usage").filter(|u| u.is_object()) {
            self.note_usage(usage);
        }
        let finished = chunk
            .get("choices")
            .and_then(Value::as_array)
            .is_some_and(|choices| {
                choices
                    .iter()
                    .any(|c| c.get("finish_reason").is_some_and(|r| !r.is_null()))
            });
        if finished {
            self.saw_end = true;
        }
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
                let message = response
                    .and_then(|r| r.get("error"))
                    .filter(|e| !e.is_null())
                    .map(error_message)
                    .unwrap_or_else(|| "the response failed".to_string());
                self.fail(message);
            }
            "response.incomplete" => {
                self.note_response(response);
                let reason = response
                    .and_then(|r| r.pointer("/incomplete_details/reason"))
                    .and_then(Value::as_str)
                    .unwrap_or("unknown reason");
                self.fail(format!("the response is incomplete: {reason}"));
            }
            "error" => self.fail(error_message(event)),
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

    /// A LiteLLM Chat stream with `stream_options.include_usage`, a
    /// multi-byte character in the content and LiteLLM's `usage.cost`.
    const CHAT: &str = concat!(
        "data: {\"id\":\"chatcmpl-1\",\"created\":1,\"model\":\"gpt-4o-2024-08-06\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n",
        "data: {\"id\":\"chatcmpl-1\",\"created\":1,\"model\":\"gpt-4o-2024-08-06\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Grüße — 👋\"},\"finish_reason\":null}]}\n\n",
        "data: {\"id\":\"chatcmpl-1\",\"created\":1,\"model\":\"gpt-4o-2024-08-06\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
        "data: {\"id\":\"chatcmpl-1\",\"created\":1,\"model\":\"gpt-4o-2024-08-06\",\"object\":\"chat.completion.chunk\",\"choices\":[],\"usage\":{\"completion_tokens\":12,\"prompt_tokens\":100,\"total_tokens\":112,\"completion_tokens_details\":{\"reasoning_tokens\":4},\"prompt_tokens_details\":{\"cached_tokens\":64},\"cost\":0.000321}}\n\n",
        "data: [DONE]\n\n",
    );

    /// A LiteLLM Responses stream (CRLF line ends, `event:` lines, a
    /// keep-alive comment).
    const RESPONSES: &str = concat!(
        ": keep-alive\r\n\r\n",
        "event: response.created\r\n",
        "data: {\"type\":\"response.created\",\"sequence_number\":0,\"response\":{\"id\":\"resp_1\",\"object\":\"response\",\"status\":\"in_progress\",\"model\":\"gpt-5-mini\",\"output\":[],\"usage\":null}}\r\n\r\n",
        "event: response.output_text.delta\r\n",
        "data: {\"type\":\"response.output_text.delta\",\"sequence_number\":1,\"item_id\":\"msg_1\",\"output_index\":0,\"content_index\":0,\"delta\":\"Hallo wörld ✓\"}\r\n\r\n",
        "event: response.completed\r\n",
        "data: {\"type\":\"response.completed\",\"sequence_number\":2,\"response\":{\"id\":\"resp_1\",\"object\":\"response\",\"status\":\"completed\",\"model\":\"gpt-5-mini-2025-08-07\",\"output\":[],\"usage\":{\"input_tokens\":300,\"input_tokens_details\":{\"cached_tokens\":128},\"output_tokens\":90,\"output_tokens_details\":{\"reasoning_tokens\":64},\"total_tokens\":390,\"cost\":0.0042}}}\r\n\r\n",
    );

    fn byte_by_byte(api: WireApi, stream: &str) -> StreamObserver {
        let mut observer = StreamObserver::new(api);
        for byte in stream.as_bytes() {
            observer.feed(std::slice::from_ref(byte));
        }
        observer.finish();
        observer
    }

    fn in_chunks(api: WireApi, stream: &str, size: usize) -> StreamObserver {
        let mut observer = StreamObserver::new(api);
        for chunk in stream.as_bytes().chunks(size) {
            observer.feed(chunk);
        }
        observer.finish();
        observer
    }

    #[test]
    fn chat_stream_byte_by_byte() {
        let o = byte_by_byte(WireApi::Chat, CHAT);
        assert_eq!(
            o.usage(),
            Some(Usage {
                input_tokens: 100,
                cached_input_tokens: 64,
                output_tokens: 12,
                reasoning_output_tokens: 4,
                total_tokens: 112,
            })
        );
        assert_eq!(o.body_cost(), Some(0.000321));
        assert!(o.completed());
        assert_eq!(o.failed(), None);
        assert_eq!(o.response_model().as_deref(), Some("gpt-4o-2024-08-06"));
        // Any split gives the same result.
        for size in [1, 2, 3, 7, 64, 4096] {
            let c = in_chunks(WireApi::Chat, CHAT, size);
            assert_eq!(c.usage(), o.usage(), "chunk size {size}");
            assert_eq!(c.body_cost(), o.body_cost(), "chunk size {size}");
            assert!(c.completed(), "chunk size {size}");
        }
    }

    #[test]
    fn responses_stream_byte_by_byte() {
        let o = byte_by_byte(WireApi::Responses, RESPONSES);
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
        for size in [2, 5, 13, 100] {
            let c = in_chunks(WireApi::Responses, RESPONSES, size);
            assert_eq!(c.usage(), o.usage(), "chunk size {size}");
            assert!(c.completed(), "chunk size {size}");
        }
    }

    #[test]
    fn truncated_streams_are_not_completed() {
        // Cut before the finish chunk: no usage, not complete.
        let cut = CHAT.find("\"finish_reason\":\"stop\"").unwrap_or(0);
        let o = byte_by_byte(WireApi::Chat, &CHAT[..cut]);
        assert!(!o.completed());
        assert_eq!(o.usage(), None);
        assert_eq!(o.response_model().as_deref(), Some("gpt-4o-2024-08-06"));

        let cut = RESPONSES.find("event: response.completed").unwrap_or(0);
        let o = byte_by_byte(WireApi::Responses, &RESPONSES[..cut]);
        assert!(!o.completed());
        assert_eq!(o.usage(), None);
        assert_eq!(o.response_model().as_deref(), Some("gpt-5-mini"));

        // Without the final newline, `finish` still sees the last line.
        let mut o = StreamObserver::new(WireApi::Chat);
        o.feed(b"data: [DONE]");
        assert!(!o.completed());
        o.finish();
        assert!(o.completed());
    }

    #[test]
    fn failures_are_reported_with_keys_masked() {
        let failed = concat!(
            "data: {\"type\":\"response.created\",\"response\":{\"model\":\"m\"}}\n\n",
            "data: {\"type\":\"response.failed\",\"response\":{\"status\":\"failed\",\"error\":{\"code\":\"server_error\",\"message\":\"upstream said no to sk-live123\"},\"usage\":{\"input_tokens\":5,\"output_tokens\":0}}}\n\n",
        );
        let o = byte_by_byte(WireApi::Responses, failed);
        assert!(!o.completed());
        assert_eq!(
            o.failed().as_deref(),
            Some("upstream said no to sk-*** (server_error)")
        );
        assert_eq!(o.usage().map(|u| u.input_tokens), Some(5));

        let incomplete = "data: {\"type\":\"response.incomplete\",\"response\":{\"incomplete_details\":{\"reason\":\"max_output_tokens\"}}}\n\n";
        let o = byte_by_byte(WireApi::Responses, incomplete);
        assert_eq!(
            o.failed().as_deref(),
            Some("the response is incomplete: max_output_tokens")
        );

        let error_event = "event: error\ndata: {\"type\":\"error\",\"code\":\"rate_limit_exceeded\",\"message\":\"slow down\"}\n\n";
        let o = byte_by_byte(WireApi::Responses, error_event);
        assert_eq!(
            o.failed().as_deref(),
            Some("slow down (rate_limit_exceeded)")
        );

        // LiteLLM's mid-stream error chunk on Chat, then [DONE].
        let chat_error = concat!(
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"},\"finish_reason\":null}],\"model\":\"m\"}\n\n",
            "data: {\"error\":{\"message\":\"litellm.APIConnectionError: boom\",\"type\":\"None\",\"code\":\"500\"}}\n\n",
            "data: [DONE]\n\n",
        );
        let o = byte_by_byte(WireApi::Chat, chat_error);
        assert!(!o.completed());
        assert_eq!(
            o.failed().as_deref(),
            Some("litellm.APIConnectionError: boom (500)")
        );
    }

    #[test]
    fn garbage_and_unknown_events_are_ignored() {
        let mut o = StreamObserver::new(WireApi::Responses);
        o.feed(
            b"data: {not json\n\nretry: 100\nid: 7\ndata: {\"type\":\"response.future_event\"}\n\n",
        );
        o.feed(&[0xff, 0xfe, b'\n', b'\n']);
        o.finish();
        assert!(!o.completed());
        assert_eq!(o.failed(), None);
        assert_eq!(o.usage(), None);

        // A delta whose text mentions an interesting event is still a delta.
        let mut o = StreamObserver::new(WireApi::Responses);
        o.feed(
            b"data: {\"type\":\"response.output_text.delta\",\"delta\":\"response.completed\"}\n\n",
        );
        o.finish();
        assert!(!o.completed());
    }

    #[test]
    fn multi_line_data_events() {
        // SSE allows one event's data across several lines.
        let mut o = StreamObserver::new(WireApi::Chat);
        o.feed(b"data: {\"model\":\"m\",\n");
        o.feed(b"data: \"choices\":[{\"finish_reason\":\"length\"}]}\n\n");
        o.finish();
        assert!(o.completed());
        assert_eq!(o.response_model().as_deref(), Some("m"));
    }
}
