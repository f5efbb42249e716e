//! Command handlers: one file per command; `exec/` holds one file per workflow step.

pub mod exec;

use std::path::PathBuf;

use crate::actions::Runner;
use crate::cli::{Cli, Command};
use crate::config::Environment;
use crate::error::Result;

/// What every command gets: where output goes, the directory it works in, and the environment
/// as read once by `config` (commands never read environment variables themselves).
pub struct Context<'a> {
    pub runner: &'a Runner,
    pub dir: PathBuf,
    pub env: &'a Environment,
}

pub fn run(cli: Cli, runner: &Runner, env: &Environment) -> Result<()> {
    let dir = match cli.directory {
        Some(dir) => dir,
        None => std::env::current_dir().map_err(|e| {
            crate::error::Error::internal(format!("could not read the current directory: {e}"))
        })?,
    };
    let ctx = Context { runner, dir, env };
    match cli.command {
        Command::Exec(step) => exec::run(step, &ctx),
    }
}
