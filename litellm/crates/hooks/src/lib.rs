//! The seam between upstream Codex and codex-litellm: the functions that
//! upstream's crates (codex-core, codex-client, codex-tui) call through our
//! patches, and nothing else.
//!
//! Each one answers exactly as stock Codex does (upstream's own words, no
//! provider, no change to a request) until the `codex-litellm` binary
//! installs its implementation at start-up ([`install`], called by
//! codex-litellm-core's `activate`). Upstream's own binaries and tests built
//! from the same tree therefore behave as stock Codex.
//!
//! This crate holds no logic of ours: that lives in codex-litellm-core, which
//! only the binary depends on. A change there rebuilds that crate and the
//! binary; this one changes only when a hook's signature does.
//!
//! Call sites, by patch:
//! - core/config: [`provider_json`], [`default_provider_id`],
//!   [`default_model`], [`context_window`], [`model_catalog`], [`is_active`]
//!   (where `/model` saves its choice, and to leave out upstream's update
//!   check, which knows only openai/codex's releases) and [`PROVIDER_ID`];
//! - core's retry notice: [`retry_notice`];
//! - codex-client's transport: [`exchange`] around every streamed request;
//! - tui /status: [`status_lines`], and [`is_litellm_session`] to leave out
//!   ChatGPT's rate-limit lines and links;
//! - branding (the TUI's header, /status title and "no saved session" hint,
//!   the /model hint, core's resume command): [`product_name`],
//!   [`product_version`], [`model_picker_hint`], [`command_name`].

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;

use serde_json::Value;

/// The id of codex-litellm's built-in provider (`[model_providers.litellm]`
/// in config.toml replaces it).
pub const PROVIDER_ID: &str = "litellm";

/// A boxed future, as the object-safe [`Hooks::exchange`] passes them.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Upstream's own send of one request, given the body to send.
pub type SendFn<'a> =
    dyn Fn(Option<Value>) -> BoxFuture<'a, Result<reqwest::Response, SendError>> + Send + Sync + 'a;

/// An error of upstream's send, carried through the exchange unchanged: the
/// exchange reads its words (for telemetry) and hands the value back.
pub struct SendError {
    message: String,
    error: Box<dyn Any + Send>,
}

impl SendError {
    fn new<E: fmt::Display + Send + 'static>(error: E) -> Self {
        Self {
            message: error.to_string(),
            error: Box::new(error),
        }
    }

    fn into_inner<E: 'static>(self) -> Result<E, Self> {
        match self.error.downcast::<E>() {
            Ok(error) => Ok(*error),
            Err(error) => Err(Self {
                message: self.message,
                error,
            }),
        }
    }
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Debug for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SendError({:?})", self.message)
    }
}

/// What codex-litellm does at each hook; installed once, by the binary.
pub trait Hooks: Send + Sync {
    fn provider_json(
        &self,
        litellm: Option<&toml::Value>,
        general: Option<&toml::Value>,
    ) -> Option<Value>;
    fn default_provider_id(&self, general: Option<&toml::Value>) -> Option<String>;
    fn default_model(&self, provider_id: &str, litellm: Option<&toml::Value>) -> Option<String>;
    fn context_window(&self, provider_id: &str, general: Option<&toml::Value>) -> Option<i64>;
    fn model_catalog(&self, provider_id: &str, template: Value) -> Option<Value>;
    fn retry_notice(&self, upstream: String, details: String) -> (String, Option<String>);
    fn is_litellm_session(&self) -> bool;
    fn status_lines(&self) -> Vec<(&'static str, String)>;
    fn product_name(&self) -> &'static str;
    fn product_version(&self, upstream: &str) -> String;
    fn command_name(&self) -> &'static str;
    fn model_picker_hint(&self, upstream: &'static str) -> &'static str;
    /// One model request through codex-litellm's exchange; `send` is called
    /// as [`exchange`] describes, and its errors come back unchanged.
    fn exchange<'a>(
        &'a self,
        url: &'a str,
        body: Option<Value>,
        send: &'a SendFn<'a>,
    ) -> BoxFuture<'a, Result<reqwest::Response, SendError>>;
}

static HOOKS: OnceLock<&'static dyn Hooks> = OnceLock::new();

/// Installs codex-litellm's implementation for the rest of the process (the
/// first call wins). Called by the binary before anything else runs.
pub fn install(hooks: &'static dyn Hooks) {
    let _ = HOOKS.set(hooks);
}

fn installed() -> Option<&'static dyn Hooks> {
    HOOKS.get().copied()
}

/// Whether the codex-litellm binary installed its implementation.
pub fn is_active() -> bool {
    installed().is_some()
}

/// The built-in `litellm` provider as upstream's `ModelProviderInfo` JSON.
pub fn provider_json(
    litellm: Option<&toml::Value>,
    general: Option<&toml::Value>,
) -> Option<Value> {
    installed()?.provider_json(litellm, general)
}

/// `[general].model_provider`, codex-litellm's own default provider.
pub fn default_provider_id(general: Option<&toml::Value>) -> Option<String> {
    installed()?.default_provider_id(general)
}

/// `[litellm].model` (or the environment's) for our provider.
pub fn default_model(provider_id: &str, litellm: Option<&toml::Value>) -> Option<String> {
    installed()?.default_model(provider_id, litellm)
}

/// The context window for our provider's model, from `/model/info` or `[general].context_length`.
pub fn context_window(provider_id: &str, general: Option<&toml::Value>) -> Option<i64> {
    installed()?.context_window(provider_id, general)
}

/// The proxy's models as upstream's model catalog JSON, built on `template`.
pub fn model_catalog(provider_id: &str, template: Value) -> Option<Value> {
    installed()?.model_catalog(provider_id, template)
}

/// What a retry shows: upstream's header and details, or ours for a LiteLLM session.
pub fn retry_notice(upstream: String, details: String) -> (String, Option<String>) {
    match installed() {
        Some(hooks) => hooks.retry_notice(upstream, details),
        None => (upstream, Some(details)),
    }
}

/// Whether a codex-litellm session runs in this process.
pub fn is_litellm_session() -> bool {
    installed().is_some_and(Hooks::is_litellm_session)
}

/// codex-litellm's lines for the TUI's `/status` (label, value).
pub fn status_lines() -> Vec<(&'static str, String)> {
    installed().map(Hooks::status_lines).unwrap_or_default()
}

/// The product's name in the TUI's header and `/status` card.
pub fn product_name() -> &'static str {
    installed().map_or("OpenAI Codex", |h| h.product_name())
}

/// The version beside that name.
pub fn product_version(upstream: &str) -> String {
    match installed() {
        Some(hooks) => hooks.product_version(upstream),
        None => upstream.to_string(),
    }
}

/// The command that runs this program (`codex resume ...`).
pub fn command_name() -> &'static str {
    installed().map_or("codex", |h| h.command_name())
}

/// The hint under the `/model` picker's title.
pub fn model_picker_hint(upstream: &'static str) -> &'static str {
    installed().map_or(upstream, |h| h.model_picker_hint(upstream))
}

/// Sends one request. Without codex-litellm installed, `send(body)` is called
/// once and its answer returned untouched. With it, the exchange acts for its
/// provider's URL only (cache tiers, tool shapes, cost, budget, telemetry) and
/// may call `send` a second time with a reshaped body; errors of `send` come
/// back unchanged.
pub async fn exchange<E, F, Fut>(
    url: &str,
    body: Option<Value>,
    send: F,
) -> Result<reqwest::Response, E>
where
    E: fmt::Display + Send + 'static,
    F: Fn(Option<Value>) -> Fut + Send + Sync,
    Fut: Future<Output = Result<reqwest::Response, E>> + Send,
{
    let Some(hooks) = installed() else {
        return send(body).await;
    };
    let send = &send;
    let boxed = move |body: Option<Value>| -> BoxFuture<'_, Result<reqwest::Response, SendError>> {
        Box::pin(async move { send(body).await.map_err(SendError::new) })
    };
    match hooks.exchange(url, body, &boxed).await {
        Ok(response) => Ok(response),
        // Every error the exchange returns is one `send` gave it.
        Err(error) => match error.into_inner::<E>() {
            Ok(error) => Err(error),
            Err(other) => unreachable!("the exchange returned an error send never made: {other}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    /// Before anything is installed (tests share one process, and installing
    /// is one-way, so this is the only test that looks at the inert side).
    #[tokio::test]
    async fn inert_hooks_answer_as_stock_codex() {
        assert!(!is_active());
        assert_eq!(provider_json(None, None), None);
        assert_eq!(default_provider_id(None), None);
        assert_eq!(default_model(PROVIDER_ID, None), None);
        assert_eq!(context_window(PROVIDER_ID, None), None);
        assert_eq!(model_catalog(PROVIDER_ID, Value::Null), None);
        assert_eq!(
            retry_notice("Reconnecting... 1/3".into(), "details".into()),
            (
                "Reconnecting... 1/3".to_string(),
                Some("details".to_string())
            )
        );
        assert!(!is_litellm_session());
        assert!(status_lines().is_empty());
        assert_eq!(product_name(), "OpenAI Codex");
        assert_eq!(product_version("0.125.0"), "0.125.0");
        assert_eq!(command_name(), "codex");
        assert_eq!(model_picker_hint("upstream's hint"), "upstream's hint");
        // The send runs once, with the body as it was, and its error comes back as it was.
        let calls = std::sync::atomic::AtomicUsize::new(0);
        let sent: Result<reqwest::Response, String> =
            exchange("http://x/v1/responses", Some(Value::from(1)), |body| {
                calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                async move { Err(format!("sent {body:?}")) }
            })
            .await;
        assert_eq!(sent.err(), Some("sent Some(Number(1))".to_string()));
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[test]
    fn send_errors_keep_their_type_and_words() {
        #[derive(Debug, PartialEq)]
        struct Upstream(u16);
        impl fmt::Display for Upstream {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "HTTP {}", self.0)
            }
        }
        let wrapped = SendError::new(Upstream(503));
        assert_eq!(wrapped.to_string(), "HTTP 503");
        assert_eq!(wrapped.into_inner::<Upstream>().ok(), Some(Upstream(503)));
        let wrong = SendError::new(Upstream(500)).into_inner::<String>();
        assert_eq!(
            wrong.err().map(|e| e.to_string()),
            Some("HTTP 500".to_string())
        );
    }
}
