//! LiteLLM proxy support for the Codex CLI.
//!
//! Everything codex-litellm adds on top of upstream Codex lives here, as
//! plain types independent of codex-core. The binary (upstream's codex-cli)
//! calls one module, [`hooks`]; codex-core, codex-client and the TUI call the
//! seam crate `codex-litellm-hooks`, which `seam` fills at activation. The
//! rest is private. From the top down (a module uses only modules listed
//! below it):
//!
//! - `seam`: this crate behind the seam crate's hooks;
//! - `command`: our flags and subcommands as clap types, and their runners;
//! - `status`: `/status` lines, the retry notice and `codex-litellm status`;
//! - `telemetry_report`: `codex-litellm telemetry`, the report over past
//!   sessions;
//! - `brand`: the product's name and version where upstream shows its own;
//! - `session`: start-up (settings, discovery with its disk cache, the model)
//!   and the process-wide state the hooks read;
//! - `exchange/`: one model request through the cache tiers, one file per
//!   job (runtime, shaping, verdict, accounting, response, stream);
//! - `setup`: the first-run wizard;
//! - `models_listing`: `codex-litellm models`, as a table or JSON;
//! - `discovery`: the proxy's models, limits, prices and health, with the
//!   disk cache;
//! - `config`: where the proxy is and how to talk to it, from flags,
//!   environment and config.toml; upstream's provider entry;
//! - `telemetry`: one private JSON line per request, within a size budget;
//! - `tier0`: the local exact-match cache of whole answers;
//! - `non_streaming`: a JSON answer where a stream was asked for, as SSE;
//! - `private_files`: CODEX_HOME/litellm, private directories, whole-file
//!   writes;
//! - `config_values`: one config.toml value read, with an error naming it;
//! - `catalog`: the proxy's models as upstream's model catalog;
//! - `cost`: what a request cost, and the session's totals;
//! - `stream_observer`: usage, cost and completion read from SSE bytes;
//! - `errors`: one error type whose messages say what to do;
//! - `model_info`: what the proxy says of one model (plain data);
//! - `headers`: LiteLLM's `x-litellm-*` and `x-ratelimit-*` headers;
//! - `usage`: token usage in one shape;
//! - `canonical`: the exact-match key of a request;
//! - `formatting`: how money, token counts and prices read;
//! - `redaction`: credentials kept out of everything written or shown.
//! - `termux`: what differs on Termux (TLS roots, temp dir, no sandbox).

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
            // Without `internals` (upstream's build) the items that only the
            // crate's tests and example call (`Client::check_model`,
            // `run_setup`, …) look dead, and every upstream build log would
            // list them. The test build, where unused private items still
            // warn, is the one that judges dead code.
            #[cfg(not(feature = "internals"))]
            #[allow(dead_code)]
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
    formatting,
    headers,
    model_info,
    models_listing,
    non_streaming,
    private_files,
    redaction,
    seam,
    session,
    setup,
    status,
    stream_observer,
    telemetry,
    telemetry_report,
    termux,
    tier0,
    usage,
);
