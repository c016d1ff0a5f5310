//! What the `codex-litellm` binary (upstream's codex-cli, through the cli
//! patches) calls, and nothing else:
//! - [`activate`] first thing, with the stamped version: codex-litellm
//!   behaviour on for this process, and this crate installed behind the seam
//!   crate `codex-litellm-hooks`, through which codex-core, codex-client and
//!   the TUI reach it (see `seam`);
//! - our [`Flags`] and [`Command`]s, flattened into upstream's command line,
//!   and [`run_command`] for them;
//! - [`start_or_exit`] before a session that talks to a model.
//!
//! Only codex-cli depends on this crate: a change here rebuilds this crate
//! and the binary, not most of upstream's workspace.

pub use crate::command::Command;
pub use crate::command::Flags;
pub use crate::command::run_command;
pub use crate::command::start_or_exit;
pub use crate::session::activate;
