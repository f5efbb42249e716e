//! Command handlers: one file per command; `exec/` holds one file per workflow step.

pub mod dispatch;
pub mod exec;
pub mod init;
mod resume;
mod run;
mod status;

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
        // A directory the user named: missing or not a directory is their input, not git's.
        Some(dir) if !dir.is_dir() => {
            let why = if dir.exists() {
                "is not a directory"
            } else {
                "does not exist"
            };
            return Err(crate::error::Error::input(format!(
                "the directory {} given with -C {why}",
                dir.display()
            ))
            .hint("name the directory of a clone of the repository"));
        }
        Some(dir) => dir,
        None => std::env::current_dir().map_err(|e| {
            crate::error::Error::config(format!("could not read the current directory: {e}"))
                .hint("the directory may have been removed: change to an existing one")
        })?,
    };
    let ctx = Context { runner, dir, env };
    // Before anything else, so that a signal at any point is caught.
    let catches_signals = is_long_running(&cli.command) && crate::interrupt::install();
    let result = match cli.command {
        Command::Exec(step) => exec::run(step, &ctx),
        Command::Status(args) => status::run(&args, &ctx),
        Command::Resume(args) => resume::run(&args, &ctx),
        Command::Dispatch(args) => dispatch::run(&args, &ctx),
        Command::Init(args) => init::run(&args, &ctx),
        Command::Run(args) => run::run(&args, &ctx),
    };
    if catches_signals {
        crate::interrupt::settle(result)
    } else {
        result
    }
}

/// The commands that catch SIGINT, SIGTERM and SIGHUP from their start, stop at their next
/// check point and exit 130: those that run agents, the verify command, pushes, or create
/// things on GitHub. The short ones keep the default: a signal ends them at once.
fn is_long_running(command: &Command) -> bool {
    use crate::cli::ExecCommand;
    match command {
        Command::Run(_) | Command::Resume(_) | Command::Dispatch(_) => true,
        Command::Exec(step) => matches!(
            step,
            ExecCommand::RunPlan(_)
                | ExecCommand::Prepare(_)
                | ExecCommand::RunImplement(_)
                | ExecCommand::Finalize(_)
        ),
        Command::Status(_) | Command::Init(_) => false,
    }
}

/// Connects to GitHub with the command's `--repo`/`--token` and the environment.
pub fn connect_github(
    args: &crate::cli::GitHubArgs,
    ctx: &Context,
) -> Result<crate::github::GitHub> {
    crate::github::connect(&connect_options(args, ctx), ctx.runner)
}

fn connect_options(args: &crate::cli::GitHubArgs, ctx: &Context) -> crate::github::ConnectOptions {
    crate::github::ConnectOptions {
        token: args.token.clone(),
        repo: args.repo.clone(),
        env: ctx.env.github.clone(),
        dir: ctx.dir.clone(),
    }
}

/// Where a dry run would send its requests: no token, no network.
pub struct DryRunTarget {
    pub repo: crate::github::RepoSlug,
    pub api_url: String,
    pub server_url: String,
}

pub fn dry_run_target(args: &crate::cli::GitHubArgs, ctx: &Context) -> Result<DryRunTarget> {
    let options = connect_options(args, ctx);
    let (repo, host) =
        crate::github::discover_repo(options.repo.as_deref(), &options.env, &options.dir)?;
    let (api_url, _, server_url) = crate::github::api_urls(&options.env, host.as_deref());
    Ok(DryRunTarget {
        repo,
        api_url,
        server_url,
    })
}

/// The link to the current workflow run, when running in one.
pub fn current_run_url(
    ctx: &Context,
    server_url: &str,
    repo: &crate::github::RepoSlug,
) -> Option<String> {
    ctx.env
        .github
        .run_id
        .as_ref()
        .map(|id| format!("{server_url}/{repo}/actions/runs/{id}"))
}

/// The requests a dry run would send, as JSON for the outputs.
pub fn requests_json(base: &str, requests: &[crate::github::Request]) -> serde_json::Value {
    serde_json::Value::Array(
        requests
            .iter()
            .map(|r| {
                let url = if r.graphql { format!("{base}/graphql") } else { format!("{base}{}", r.path) };
                let mut v = serde_json::json!({ "method": r.method.as_str(), "url": url, "purpose": r.purpose });
                if let Some(body) = &r.body {
                    v["body"] = body.clone();
                }
                v
            })
            .collect(),
    )
}
