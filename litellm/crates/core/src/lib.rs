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
//! - `exchange/`: one model request through the cache tiers, tool shapes,
//!   cost, budget and telemetry, one file per job, its `verdict` being what
//!   upstream is told to do when a request fails mid-session (retry with the
//!   attempt count, or stop with a message naming the URL); it uses
//!   `canonical`, `tier0`, `cost`, `headers`, `stream_observer`, `fallback`,
//!   `usage` and `telemetry`;
//! - `status`: `/status` lines and `codex-litellm status`;
//! - `analytics`: `codex-litellm telemetry`, the report over past sessions;
//! - `errors`: one error type whose messages say what to do;
//! - `brand`: the product's name and version where upstream shows its own.

pub mod hooks;

/// Declares the crate's private modules, from one list. With the
/// `internals` feature (which only the crate's own integration tests and
/// example turn on, through a dev-dependency on themselves) each one is also
/// reachable as `internals::<module>`; without it, which is how upstream's
/// workspace builds the crate, they are private and patches see nothing but
/// [`hooks`].
macro_rules! private_modules {
    ($($name:ident),* $(,)?) => {
        $(
            #[cfg(feature = "internals")]
            #[doc(hidden)]
            pub mod $name;
            #[cfg(not(feature = "internals"))]
            mod $name;
        )*

        /// The crate's internals under one name, for its integration tests
        /// and example only (`internals` feature).
        #[cfg(feature = "internals")]
        #[doc(hidden)]
        pub mod internals {
            $(pub use crate::$name;)*
        }
    };
}

private_modules!(
    analytics,
    brand,
    canonical,
    catalog,
    command,
    config,
    config_values,
    cost,
    discovery,
    errors,
    exchange,
    fallback,
    formatting,
    headers,
    model_info,
    models_cmd,
    private_files,
    redaction,
    session,
    setup,
    status,
    stream_observer,
    telemetry,
    tier0,
    usage,
);
