//! The seam between upstream Codex and this crate: everything our patches
//! call, and nothing else. Each function is inert unless [`activate`] was
//! called (the `codex-litellm` binary does it first thing), and the
//! provider-specific ones act only for our provider, so upstream's own
//! binaries and tests built from the same tree behave exactly as stock Codex.
//!
//! Call sites, by patch:
//! - cli: [`activate`], [`startup`] before a session, [`or_exit`],
//!   [`run_models`] / [`run_status`] / [`run_telemetry`] for our subcommands;
//! - core/config: [`provider_json`], [`default_provider_id`],
//!   [`default_model`], [`context_window`], [`model_catalog`], [`is_active`]
//!   (where `/model` saves its choice) and [`PROVIDER_ID`];
//! - codex-client's transport: [`exchange`] around every streamed request;
//! - tui /status: [`status_lines`], and [`is_litellm_session`] to leave out
//!   ChatGPT's rate-limit lines and links;
//! - branding (tui header and /status title, the /model hint, core's resume
//!   command): [`product_name`], [`product_version`], [`model_picker_hint`],
//!   [`command_name`].

pub use crate::analytics::run_telemetry;
pub use crate::brand::command_name;
pub use crate::brand::model_picker_hint;
pub use crate::brand::product_name;
pub use crate::brand::product_version;
pub use crate::config::PROVIDER_ID;
pub use crate::exchange::exchange;
pub use crate::session::Startup;
pub use crate::session::activate;
pub use crate::session::context_window;
pub use crate::session::default_model;
pub use crate::session::default_provider_id;
pub use crate::session::is_active;
pub use crate::session::model_catalog;
pub use crate::session::or_exit;
pub use crate::session::provider_json;
pub use crate::session::run_models;
pub use crate::session::startup;
pub use crate::status::is_litellm_session;
pub use crate::status::run_status;
pub use crate::status::status_lines;
