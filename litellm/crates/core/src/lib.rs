//! LiteLLM proxy support for the Codex CLI.
//!
//! This crate holds everything codex-litellm adds on top of upstream Codex
//! as plain types, independent of codex-core; small patches to upstream
//! convert between these types and upstream's. Modules:
//!
//! - [`config`]: resolve where the proxy is (flag > env > config.toml) and
//!   build the provider entry.
//! - [`discovery`]: list models, their limits and prices; health checks.
//! - [`errors`]: one error type whose messages say what to do.
//! - [`headers`]: LiteLLM's `x-litellm-*` response headers.
//! - [`usage`]: token usage from both wire APIs.
//! - [`fallback`]: turn a non-streaming JSON answer into SSE.
//! - [`models_cmd`]: the `codex-litellm models` listing.
//! - [`setup`]: the first-run wizard.
//! - [`hooks`]: the functions upstream's patched code calls.
//! - [`exchange`]: one model request through the cache tiers, cost and telemetry.
//! - [`canonical`], [`tier0`]: the exact-match key and the local cache.
//! - [`cost`], [`stream_observer`], [`telemetry`]: what a request cost and the logs.

pub mod canonical;
pub mod config;
pub mod cost;
pub mod discovery;
pub mod errors;
pub mod exchange;
pub mod fallback;
pub mod headers;
pub mod hooks;
pub mod models_cmd;
pub mod setup;
pub mod stream_observer;
pub mod telemetry;
pub mod tier0;
pub mod usage;

pub use config::CliOverrides;
pub use config::LiteLlmSettings;
pub use config::ProviderSpec;
pub use config::WireApi;
pub use config::provider_spec;
pub use discovery::Client;
pub use discovery::ModelInfo;
pub use errors::LiteLlmError;
pub use errors::classify_http_error;
pub use headers::ProxyMeta;
pub use usage::Usage;
