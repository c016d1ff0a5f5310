//! codex-litellm's own command line, as clap types the cli patch flattens
//! into upstream's: the global telemetry flags, the `models`, `status` and
//! `telemetry` subcommands, and the start-up check before a session. Kept
//! here so that upstream's `main.rs` carries a few lines of wiring rather
//! than our argument definitions.

use crate::telemetry_report::run_telemetry;
use crate::session::Startup;
use crate::session::or_exit;
use crate::session::run_models;
use crate::session::startup;
use crate::status::run_status;

/// codex-litellm's global flags (`--telemetry`, `--no-telemetry`).
#[derive(Debug, Default, clap::Args)]
pub struct Flags {
    /// Record telemetry for this run (overrides [telemetry].enabled).
    #[arg(long = "telemetry", global = true, conflicts_with = "no_telemetry")]
    telemetry: bool,

    /// Record no telemetry for this run.
    #[arg(long = "no-telemetry", global = true)]
    no_telemetry: bool,
}

impl Flags {
    /// The flags as the `-c` override every subcommand reads.
    pub fn apply(&self, raw_overrides: &mut Vec<String>) {
        if self.telemetry || self.no_telemetry {
            raw_overrides.push(format!("telemetry.enabled={}", self.telemetry));
        }
    }
}

/// codex-litellm's own subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// List the models your LiteLLM proxy serves, with context windows and prices.
    Models(JsonArg),

    /// Show the LiteLLM proxy's health, routing and the model in use.
    Status(JsonArg),

    /// Summarise the recorded sessions: tokens, cost and cache hits per model.
    Telemetry(TelemetryArgs),
}

/// `--json`.
#[derive(Debug, clap::Args)]
pub struct JsonArg {
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// Arguments of `codex-litellm telemetry`.
#[derive(Debug, clap::Args)]
pub struct TelemetryArgs {
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,

    /// Read this telemetry directory instead of the configured one.
    #[arg(long)]
    dir: Option<String>,
}

/// Runs one of our subcommands and prints its report; a failure prints its
/// message and exits 1. `version` is the binary's stamped version.
pub async fn run_command(command: Command, raw_overrides: &[String], version: &str) {
    let report = match command {
        Command::Models(args) => run_models(raw_overrides, args.json).await,
        Command::Status(args) => run_status(raw_overrides, args.json, version).await,
        Command::Telemetry(args) => run_telemetry(raw_overrides, args.json, args.dir.as_deref()),
    };
    println!("{}", or_exit(report));
}

/// Before a session starts: the LiteLLM proxy configured (the first-run
/// setup when a person is at the terminal), reachable and serving the model;
/// otherwise a message that says what to do, and exit 1.
pub async fn start_or_exit(model: Option<&str>, raw_overrides: &[String], oss: bool, interactive: bool) {
    or_exit(
        startup(Startup {
            model,
            raw_overrides,
            oss,
            interactive,
        })
        .await,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use pretty_assertions::assert_eq;

    /// Upstream's command line in miniature: our flags flattened into it,
    /// our subcommands flattened beside its own.
    #[derive(Debug, Parser)]
    struct Cli {
        #[clap(flatten)]
        litellm: Flags,
        #[clap(subcommand)]
        subcommand: Option<Sub>,
    }

    #[derive(Debug, clap::Subcommand)]
    enum Sub {
        Exec,
        #[clap(flatten)]
        LiteLlm(Command),
    }

    #[test]
    fn flags_become_the_telemetry_override() {
        let mut raw = vec!["model=x".to_string()];
        Cli::parse_from(["codex-litellm", "--no-telemetry", "exec"])
            .litellm
            .apply(&mut raw);
        assert_eq!(raw, ["model=x", "telemetry.enabled=false"]);
        let mut raw = Vec::new();
        Cli::parse_from(["codex-litellm", "exec", "--telemetry"])
            .litellm
            .apply(&mut raw);
        assert_eq!(raw, ["telemetry.enabled=true"]);
        let mut raw = Vec::new();
        Cli::parse_from(["codex-litellm"]).litellm.apply(&mut raw);
        assert!(raw.is_empty());
        assert!(Cli::try_parse_from(["codex-litellm", "--telemetry", "--no-telemetry"]).is_err());
    }

    #[test]
    fn our_subcommands_sit_beside_upstreams() {
        let cli = Cli::parse_from(["codex-litellm", "models", "--json"]);
        assert!(matches!(
            cli.subcommand,
            Some(Sub::LiteLlm(Command::Models(JsonArg { json: true })))
        ));
        let cli = Cli::parse_from(["codex-litellm", "telemetry", "--dir", "/d"]);
        let Some(Sub::LiteLlm(Command::Telemetry(args))) = cli.subcommand else {
            panic!("telemetry did not parse as ours");
        };
        assert_eq!((args.json, args.dir.as_deref()), (false, Some("/d")));
        assert!(matches!(
            Cli::parse_from(["codex-litellm", "exec"]).subcommand,
            Some(Sub::Exec)
        ));
    }
}
