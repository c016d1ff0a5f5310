//! The seam between upstream Codex and this crate: everything our patches
//! call, and nothing else. Each function is inert unless [`activate`] was
//! called (the `codex-litellm` binary does it first thing), and the
//! provider-specific ones act only for our provider, so upstream's own
//! binaries and tests built from the same tree behave exactly as stock Codex.
//!
//! Call sites, by patch:
//! - cli: [`activate`], our [`Flags`] and [`Command`]s flattened into
//!   upstream's, [`run_command`] for them, [`start_or_exit`] before a session;
//! - core/config: [`provider_json`], [`default_provider_id`],
//!   [`default_model`], [`context_window`], [`model_catalog`], [`is_active`]
//!   (where `/model` saves its choice, and to leave out upstream's update
//!   check, which knows only openai/codex's releases) and [`PROVIDER_ID`];
//! - core's retry notice: [`retry_notice`] (what the proxy answered, not
//!   "Reconnecting... n/m");
//! - codex-client's transport: [`exchange`] around every streamed request;
//! - tui /status: [`status_lines`], and [`is_litellm_session`] to leave out
//!   ChatGPT's rate-limit lines and links;
//! - branding (tui header and /status title, the /model hint, core's resume
//!   command and the TUI's "no saved session" hint): [`product_name`],
//!   [`product_version`], [`model_picker_hint`], [`command_name`].

pub use crate::brand::command_name;
pub use crate::brand::model_picker_hint;
pub use crate::brand::product_name;
pub use crate::brand::product_version;
pub use crate::command::Command;
pub use crate::command::Flags;
pub use crate::command::run_command;
pub use crate::command::start_or_exit;
pub use crate::config::PROVIDER_ID;
pub use crate::exchange::exchange;
pub use crate::session::activate;
pub use crate::session::context_window;
pub use crate::session::default_model;
pub use crate::session::default_provider_id;
pub use crate::session::is_active;
pub use crate::session::model_catalog;
pub use crate::session::provider_json;
pub use crate::status::is_litellm_session;
pub use crate::status::retry_notice;
pub use crate::status::status_lines;
