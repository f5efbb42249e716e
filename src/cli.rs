//! The command line, as clap types only. Handlers live in `src/commands/`; the doc comments here
//! are the `--help` text (first line short help, later paragraphs long help with an example).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Turn a one-line task into a ready-for-review pull request.
///
/// oneshot opens a draft pull request, lets a first AI-agent session write a plan with numbered
/// steps, saves the plan as a GitHub issue, and lets a second, fresh session implement it one
/// commit per step. Every step of the GitHub Actions workflows is an `oneshot exec` subcommand.
#[derive(Debug, Parser)]
#[command(
    name = "oneshot",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    /// Run as if oneshot was started in DIR instead of the current directory.
    #[arg(short = 'C', long = "directory", global = true, value_name = "DIR")]
    pub directory: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run one step of the oneshot workflows.
    ///
    /// Each step is what one `run:` line of the reusable workflows calls. Inside GitHub Actions
    /// (GITHUB_ACTIONS=true) a step writes its outputs to $GITHUB_OUTPUT and its report to
    /// $GITHUB_STEP_SUMMARY; outside Actions it prints its outputs as one JSON object on stdout
    /// and its progress on stderr.
    ///
    /// Example:
    ///   oneshot exec detect-trunk
    #[command(subcommand)]
    Exec(ExecCommand),
}

#[derive(Debug, Subcommand)]
pub enum ExecCommand {
    WritePrompt(WritePromptArgs),
    DetectTrunk(DetectTrunkArgs),
    ValidateOutputs(ValidateOutputsArgs),
    RunPlan(RunPlanArgs),
}

/// Write the task prompt to .impl/task.md for the planning session.
///
/// The prompt is taken from .worker-impl/task.md when the checkout has it (a branch made by
/// `oneshot dispatch`), else from --prompt-file, else from the environment variable
/// ONESHOT_PROMPT. It is never taken from a command-line argument, so a workflow never has to
/// interpolate untrusted text into a shell command. It also adds .impl/ to .git/info/exclude.
///
/// Example (in a workflow step, with `env: ONESHOT_PROMPT: ${{ inputs.prompt }}`):
///   oneshot exec write-prompt
#[derive(Debug, Args)]
pub struct WritePromptArgs {
    /// Read the prompt from this file when the checkout has no .worker-impl/task.md.
    #[arg(long, value_name = "FILE")]
    pub prompt_file: Option<PathBuf>,
}

/// Find the repository's trunk (default) branch.
///
/// Tries, in order: --trunk, refs/remotes/origin/HEAD, the remote's HEAD as reported by
/// `git ls-remote --symref origin HEAD`, and finally `main` or `master` if the remote has a
/// branch of exactly that name. Output: `trunk`.
///
/// Example:
///   oneshot exec detect-trunk --trunk develop
#[derive(Debug, Args)]
pub struct DetectTrunkArgs {
    /// Use this branch as the trunk (checked to be a plain branch name).
    #[arg(long, value_name = "BRANCH")]
    pub trunk: Option<String>,

    /// The remote to ask.
    #[arg(long, default_value = "origin", value_name = "NAME")]
    pub remote: String,
}

/// Check the plan the planning session wrote.
///
/// Reads .impl/plan.md and .impl/plan-result.json. A rejected task
/// ({"rejected": true, "reason": …}) is not an error: the step outputs rejected=true and the
/// reason, with a warning. Otherwise the plan must have a title and 1–20 numbered steps within
/// the size limits; each problem is reported as an annotation on its line of .impl/plan.md.
/// Outputs: `plan_title`, `step_count`, `rejected`, `reason`.
///
/// Example:
///   oneshot exec validate-outputs
#[derive(Debug, Args)]
pub struct ValidateOutputsArgs {}

/// Run the planning session: the agent writes .impl/plan.md and .impl/plan-result.json.
///
/// Needs .impl/task.md (written by `oneshot exec write-prompt`). The agent may read the whole
/// repository but write only under .impl/: for claude, an allow-list of reading and searching
/// tools, read-only git and shell commands, and edits limited to .impl/**, with every other tool
/// call denied without prompting. Afterwards `git status` must show no change outside .impl/,
/// or the step fails and names the files. The agent runs in its own process group with a
/// scrubbed environment (no GitHub token); its output is logged live and kept in
/// .impl/runs/plan-<n>.jsonl, and the session report is written to .impl/runs/plan.json.
/// Outputs: `plan_success`, `cost_usd`, `duration_s`.
///
/// Example:
///   oneshot exec run-plan --agent claude --model sonnet --timeout-minutes 20
#[derive(Debug, Args)]
pub struct RunPlanArgs {
    /// The agent: claude, codex, gemini, or command:<program> [args…].
    #[arg(
        long,
        env = "ONESHOT_AGENT",
        default_value = "claude",
        value_name = "AGENT"
    )]
    pub agent: String,

    /// The model: h/haiku, s/sonnet, o/opus, or the agent's own model name.
    #[arg(long, env = "ONESHOT_MODEL", value_name = "MODEL")]
    pub model: Option<String>,

    /// Stop the session after this many minutes (fractions allowed).
    #[arg(long, default_value_t = 30.0, value_name = "MINUTES")]
    pub timeout_minutes: f64,

    /// Stop the session after this many agent turns (claude only).
    #[arg(long, value_name = "N")]
    pub max_turns: Option<u32>,

    /// Stop the session when it has cost this much, in US dollars (claude only).
    #[arg(long, value_name = "USD")]
    pub budget_usd: Option<f64>,

    /// Seconds between SIGTERM and SIGKILL when the session is ended.
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS", hide = true)]
    pub kill_grace_seconds: f64,
}
