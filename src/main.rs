//! oneshot: a one-line task in, a ready-for-review pull request out.

mod actions;
mod agent;
mod cli;
mod commands;
mod config;
mod error;
mod git;
mod github;
mod implement;
mod interrupt;
mod launch;
mod markers;
mod naming;
mod plan;
mod pr_body;
mod task;
mod tracker;
mod workspace;

use std::process::ExitCode;

use clap::Parser;

use crate::actions::{Annotation, Level, Runner};
use crate::error::{Error, ErrorKind};

fn main() -> ExitCode {
    // Not dumpable: another process of the same user (an agent oneshot started, say) cannot
    // read this one's environment or memory through /proc, where the GitHub token is.
    #[cfg(target_os = "linux")]
    let _ = nix::sys::prctl::set_dumpable(false);
    let runner = Runner::from_env();
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    // Machine-readable callers get one JSON object on stdout for every outcome, errors included.
    // Before parsing, a guess from the raw arguments (for usage errors); after, the command decides.
    let exec_step = args.iter().skip(1).any(|a| a == "exec");
    let mut json = args.iter().any(|a| a == "--json") || (!runner.in_actions() && exec_step);

    let cli = match cli::Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) => {
            let is_usage_error = e.use_stderr();
            if is_usage_error && json {
                let err = Error::new(
                    ErrorKind::Usage,
                    e.kind().as_str().unwrap_or("invalid arguments"),
                )
                .cause(e.to_string().trim_end());
                let _ = runner.print_json(&err.to_json());
            }
            let _ = e.print();
            return ExitCode::from(if is_usage_error {
                ErrorKind::Usage.exit_code()
            } else {
                0
            });
        }
    };

    json =
        cli.wants_json() || (!runner.in_actions() && matches!(cli.command, cli::Command::Exec(_)));
    let env = config::Environment::from_process();
    match commands::run(cli, &runner, &env) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            report(&runner, &err, json);
            ExitCode::from(err.kind.exit_code())
        }
    }
}

/// The one place a failed command is reported: an `::error::` annotation in Actions, `error: …`
/// on stderr elsewhere, and the JSON error object on stdout for machine-readable callers.
fn report(runner: &Runner, err: &Error, json: bool) {
    runner.annotate(Level::Error, &err.render(), &Annotation::default());
    if json && !runner.in_actions() {
        let _ = runner.print_json(&err.to_json());
    }
}
