//! The proxy's answer stream on its way to upstream's parser, watched as it
//! passes ([`StreamObserver`]): usage, cost and completion are read on the
//! fly, the whole answer is kept for tier 0 when enabled, and the request is
//! recorded once when the stream ends, breaks off or is dropped. The
//! observer only reads SSE; this wrapper is what acts on what it read.

use std::pin::Pin;
use std::task::Context;
use std::task::Poll;

use bytes::Bytes;
use futures::Stream;
use futures::StreamExt;
use futures::stream::BoxStream;

use super::accounting::Outcome;
use super::accounting::Pending;
use super::accounting::finish;
use super::response::http_failure;
use super::response::read_body;
use super::response::rebuild;
use super::runtime::Runtime;
use super::verdict::Verdict;
use super::verdict::broken_answer;
use crate::non_streaming::is_event_stream;
use crate::non_streaming::json_to_sse;
use crate::headers::ProxyMeta;
use crate::stream_observer::StreamObserver;

/// The final HTTP answer: an error answer is recorded at once; a success is
/// streamed through the observer (converted to SSE when it is one JSON body)
/// and recorded when the stream ends.
pub(super) async fn answer(
    rt: &'static Runtime,
    pending: Pending,
    response: reqwest::Response,
) -> reqwest::Response {
    let status = response.status();
    let headers = response.headers().clone();
    if !status.is_success() {
        let (bytes, read_error) = read_body(response).await;
        return http_failure(rt, &pending, status, &headers, &bytes, read_error).await;
    }
    let meta = rt.note_answer(&headers);
    let content_type = headers
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let inner: BoxStream<'static, Result<Bytes, reqwest::Error>> =
        if is_event_stream(content_type.as_deref()) {
            response.bytes_stream().boxed()
        } else {
            // One JSON body where a stream was expected: convert it, so the
            // parser and the observer see SSE either way.
            futures::stream::once(async move {
                let body = response.bytes().await?;
                Ok(match json_to_sse(&body) {
                    Ok(sse) => Bytes::from(sse),
                    Err(err) => {
                        tracing::warn!("non-streaming answer could not be converted: {err}");
                        body
                    }
                })
            })
            .boxed()
        };
    let observed = Observed {
        rt,
        inner,
        observer: StreamObserver::new(),
        capture: rt.tier0.as_ref().map(|_| Vec::new()),
        pending: Some((pending, meta)),
        ended: false,
    };
    let mut headers = headers;
    headers.insert(
        reqwest::header::CONTENT_TYPE,
        reqwest::header::HeaderValue::from_static("text/event-stream"),
    );
    headers.remove(reqwest::header::CONTENT_LENGTH);
    rebuild(status, headers, reqwest::Body::wrap_stream(observed))
}

/// The answer stream, watched as it passes: usage, cost and completion are
/// read on the fly, and the whole answer is kept for tier 0 when enabled.
/// When the answer breaks off (the connection drops, or the proxy's stream
/// ends without completing), one more event follows the proxy's bytes: the
/// exchange's verdict, which upstream acts on instead (see [`super::verdict`]).
struct Observed {
    rt: &'static Runtime,
    inner: BoxStream<'static, Result<Bytes, reqwest::Error>>,
    observer: StreamObserver,
    capture: Option<Vec<u8>>,
    pending: Option<(Pending, ProxyMeta)>,
    /// The verdict was handed on: the stream is over.
    ended: bool,
}

impl Observed {
    /// Records the request (once). `verdict`: what the exchange decided
    /// about an answer that broke off, which is then its error.
    fn done(&mut self, verdict: Option<&Verdict>) {
        let Some((pending, meta)) = self.pending.take() else {
            return;
        };
        let rt = self.rt;
        let error = verdict
            .map(|v| v.message().to_string())
            .or_else(|| self.observer.failed())
            .or_else(|| {
                (!self.observer.completed())
                    .then(|| "the answer ended before it was complete".to_string())
            });
        if error.is_none() || verdict.is_some_and(Verdict::is_stop) {
            rt.forget_attempts();
        }
        if let Some(verdict) = verdict {
            tracing::warn!(model = %pending.model, stop = verdict.is_stop(), "{}", verdict.message());
        }
        if error.is_none()
            && meta.cache_key.is_none()
            && let (Some(cache), Some(body)) = (&rt.tier0, self.capture.take())
            && let Err(err) = cache.put(&pending.key, &body)
        {
            tracing::warn!("tier-0 cache: {err}");
        }
        let outcome = Outcome {
            http_status: Some(200),
            usage: self.observer.usage(),
            body_cost: self.observer.body_cost(),
            tier: None,
            error,
            meta,
        };
        finish(rt, &pending, outcome);
    }

    /// Ends the stream: records it, and hands on the verdict's event if any.
    fn end(&mut self, transport_error: Option<&str>) -> Poll<Option<Result<Bytes, reqwest::Error>>> {
        self.ended = true;
        let verdict = self
            .pending
            .as_ref()
            .and_then(|(pending, _)| {
                broken_answer(self.rt, &pending.key, &self.observer, transport_error)
            });
        self.done(verdict.as_ref());
        Poll::Ready(verdict.map(|v| Ok(Bytes::from(v.to_sse()))))
    }
}

impl Stream for Observed {
    type Item = Result<Bytes, reqwest::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.ended {
            return Poll::Ready(None);
        }
        match self.inner.poll_next_unpin(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                self.observer.feed(&chunk);
                if let Some(capture) = self.capture.as_mut() {
                    capture.extend_from_slice(&chunk);
                }
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(Some(Err(err))) => {
                let message = crate::errors::error_chain(&err);
                self.end(Some(&message))
            }
            Poll::Ready(None) => {
                self.observer.finish();
                self.end(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Drop for Observed {
    fn drop(&mut self) {
        // The parser may stop reading at `response.completed` without
        // draining the stream; whether the answer was whole is the
        // observer's call, not the drop's.
        if self.pending.is_some() {
            self.observer.finish();
            self.done(None);
        }
    }
}
