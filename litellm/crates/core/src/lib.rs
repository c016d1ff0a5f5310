//! LiteLLM proxy support for the Codex CLI.
//!
//! Everything codex-litellm adds on top of upstream Codex lives here, as
//! plain types independent of codex-core. Upstream's patched code calls one
//! module, [`hooks`]; the rest is private:
//!
//! - `command`: our flags and subcommands as clap types, and their runners;
//! - `session`: start-up (settings, discovery with its disk cache, the model)
//!   and the process-wide state the hooks read;
//! - `config`, `setup`: where the proxy is, and the first-run wizard;
//! - `discovery`, `catalog`, `models_cmd`: the proxy's models, as upstream's
//!   model catalog and as the `models` listing;
//! - `exchange`: one model request through the cache tiers, tool shapes,
//!   cost, budget and telemetry (`canonical`, `tier0`, `cost`, `headers`,
//!   `stream_observer`, `fallback`, `usage`, `telemetry`);
//! - `faults`: what upstream is told to do when a request fails mid-session
//!   (retry with the attempt count, or stop with a message naming the URL);
//! - `status`: `/status` lines and `codex-litellm status`;
//! - `analytics`: `codex-litellm telemetry`, the report over past sessions;
//! - `errors`: one error type whose messages say what to do;
//! - `brand`: the product's name and version where upstream shows its own;
//! - `termux`: what differs on Termux (TLS roots, temp dir, no sandbox).

pub mod hooks;

/// A private module, public only when the `internals` feature is on: the
/// crate's own integration tests and benchmarks (outside `src/`) turn it on
/// through a dev-dependency on themselves. Patches never see these: they call
/// [`hooks`].
macro_rules! internal {
    ($($name:ident),* $(,)?) => {
        $(
            #[cfg(feature = "internals")]
            #[doc(hidden)]
            pub mod $name;
            #[cfg(not(feature = "internals"))]
            mod $name;
        )*
    };
}

internal!(
    analytics,
    brand,
    canonical,
    catalog,
    command,
    config,
    cost,
    discovery,
    errors,
    exchange,
    fallback,
    faults,
    headers,
    models_cmd,
    seam,
    session,
    setup,
    status,
    stream_observer,
    telemetry,
    termux,
    tier0,
    usage,
);

pub use config::LiteLlmSettings;
pub use config::WireApi;
pub use discovery::Client;
pub use discovery::ModelInfo;
pub use errors::LiteLlmError;
pub use usage::Usage;

/// The crate's internals under one name, for its integration tests and
/// benchmarks only (`internals` feature).
#[cfg(feature = "internals")]
#[doc(hidden)]
pub mod internals {
    pub use crate::analytics;
    pub use crate::brand;
    pub use crate::canonical;
    pub use crate::config;
    pub use crate::cost;
    pub use crate::discovery;
    pub use crate::errors;
    pub use crate::exchange;
    pub use crate::fallback;
    pub use crate::faults;
    pub use crate::headers;
    pub use crate::session;
    pub use crate::setup;
    pub use crate::stream_observer;
    pub use crate::telemetry;
    pub use crate::tier0;
    pub use crate::usage;
}
