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

impl Cli {
    /// Whether the command was asked for one JSON object on stdout (`--json`).
    pub fn wants_json(&self) -> bool {
        match &self.command {
            Command::Dispatch(a) => a.json,
            Command::Run(a) => a.json,
            Command::Status(a) => a.json,
            Command::Resume(a) => a.json,
            Command::Init(a) => a.json,
            Command::Exec(_) => false,
        }
    }
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

    Dispatch(DispatchArgs),

    Run(RunArgs),

    Status(StatusArgs),

    Resume(ResumeArgs),

    Init(InitArgs),
}

/// Set a repository up for oneshot: the workflow, the agent prompts, the configuration.
///
/// Writes .github/workflows/oneshot.yml (the workflow `oneshot dispatch` starts; it calls
/// oneshot's reusable workflow at the version of this binary), the planner's and the
/// implementer's prompts under .claude/commands/oneshot/, and .github/oneshot.toml with every
/// setting shown and commented out. A file that is already there with the same content is left
/// as it is ("unchanged"); one with other content is left alone ("skipped") unless --force is
/// given. Then it lists the secrets the workflow reads and the commands to run next.
///
/// Example:
///   oneshot init --dir ../my-repo
#[derive(Debug, Args)]
pub struct InitArgs {
    /// The repository to set up (any directory inside its work tree) [default: the current
    /// directory].
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,

    /// Overwrite files whose content differs from what oneshot would write.
    #[arg(long)]
    pub force: bool,

    /// Print one JSON object on stdout: the files with their status, the secrets, the next
    /// commands.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum ExecCommand {
    WritePrompt(WritePromptArgs),
    DetectTrunk(DetectTrunkArgs),
    ValidateOutputs(ValidateOutputsArgs),
    RunPlan(RunPlanArgs),
    Prepare(PrepareArgs),
    PlanSaveToIssue(PlanSaveToIssueArgs),
    RegisterOneShotPlan(RegisterOneShotPlanArgs),
    FetchPlan(FetchPlanArgs),
    RunImplement(RunImplementArgs),
    Finalize(FinalizeArgs),
    CloseRejected(CloseRejectedArgs),
    PlanFailed(PlanFailedArgs),
    InstallAgent(InstallAgentArgs),
}

/// How to reach GitHub: shared by every command that talks to it.
#[derive(Debug, Args, Clone)]
pub struct GitHubArgs {
    /// The repository, OWNER/REPO [default: GITHUB_REPOSITORY, else the `origin` remote].
    #[arg(long, value_name = "OWNER/REPO")]
    pub repo: Option<String>,

    /// The GitHub token [default: GH_TOKEN, GITHUB_TOKEN, then `gh auth token`].
    #[arg(
        long,
        env = "ONESHOT_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub token: Option<String>,
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
    /// The agent: claude, codex, gemini, or command:<program> [args…]
    /// [default: ONESHOT_AGENT, then .github/oneshot.toml, then claude].
    #[arg(long, value_name = "AGENT")]
    pub agent: Option<String>,

    /// The model: h/haiku, s/sonnet, o/opus, or the agent's own model name
    /// [default: ONESHOT_MODEL, then .github/oneshot.toml, then the agent's default].
    #[arg(long, value_name = "MODEL")]
    pub model: Option<String>,

    /// Stop the session after this many minutes, fractions allowed [default: from
    /// .github/oneshot.toml, else 30].
    #[arg(long, value_name = "MINUTES")]
    pub timeout_minutes: Option<f64>,

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

/// Save the plan as a GitHub issue (created once, updated on re-runs).
///
/// The issue's title is the plan's title and its body the plan, followed by a hidden
/// `<!-- oneshot:meta … -->` marker (branch, PR, run, agent, model, plan hash). A re-run for the
/// same branch or PR finds the issue through that marker and updates it: there is never a second
/// issue. The issue carries the label `oneshot:plan`, created if missing.
/// Outputs: `issue_number`, `issue_url`, `issue_title`.
///
/// Example:
///   oneshot exec plan-save-to-issue --pr 42 --branch oneshot-add-verbose-01-15-1430
#[derive(Debug, Args)]
pub struct PlanSaveToIssueArgs {
    /// The draft pull request the plan belongs to.
    #[arg(long, value_name = "NUMBER")]
    pub pr: Option<u64>,

    /// The branch the plan will be implemented on [default: the checked-out branch].
    #[arg(long, value_name = "BRANCH")]
    pub branch: Option<String>,

    /// The agent that wrote the plan, recorded in the issue's metadata.
    #[arg(long, value_name = "AGENT")]
    pub agent: Option<String>,

    /// The model that wrote the plan, recorded in the issue's metadata.
    #[arg(long, value_name = "MODEL")]
    pub model: Option<String>,

    /// Print the requests that would be sent; send none (needs no token).
    #[arg(long)]
    pub dry_run: bool,

    #[command(flatten)]
    pub github: GitHubArgs,
}

/// Link the plan issue and the draft pull request.
///
/// Sets the PR title to `[WIP] <plan title>` and rebuilds the part of the PR body oneshot owns:
/// the prompt, `Closes #<issue>`, the run link, who submitted it, and the progress block with
/// every step queued. Text a person wrote outside oneshot's markers is kept. Adds the label
/// `oneshot` and one comment on the issue that links to the PR (edited, not repeated, on
/// re-runs). Exits 0 when the PR title and body were updated; other failed operations are
/// listed in the output `failed_operations` and in the step summary.
///
/// Example:
///   oneshot exec register-one-shot-plan --issue 43 --pr 42 --submitted-by octocat
#[derive(Debug, Args)]
pub struct RegisterOneShotPlanArgs {
    /// The plan issue.
    #[arg(long, value_name = "NUMBER")]
    pub issue: u64,

    /// The draft pull request.
    #[arg(long, value_name = "NUMBER")]
    pub pr: u64,

    /// Who asked for the work (a GitHub login), shown in the PR.
    #[arg(long, value_name = "LOGIN")]
    pub submitted_by: Option<String>,

    /// The agent, recorded in the PR's metadata.
    #[arg(long, value_name = "AGENT")]
    pub agent: Option<String>,

    /// The model, recorded in the PR's metadata.
    #[arg(long, value_name = "MODEL")]
    pub model: Option<String>,

    /// The prefix of the PR title while the work is in progress.
    #[arg(long, default_value = "[WIP] ", value_name = "TEXT")]
    pub title_prefix: String,

    /// Print the requests that would be sent; send none (needs no token).
    #[arg(long)]
    pub dry_run: bool,

    #[command(flatten)]
    pub github: GitHubArgs,
}

/// Start a one-shot: a branch with the task, a draft PR, and the workflow run
///
/// Checks everything first (prompt, model, repository, token, and that the repository has the
/// oneshot workflow at the ref) and creates nothing until all of it is valid. Then it commits
/// the prompt as .worker-impl/task.md on a new branch made from the trunk — without switching,
/// stashing or touching your checkout — pushes it, opens a draft PR, and dispatches the workflow.
/// It prints the PR and the run. If a later step fails, what was created is removed again.
///
/// Example:
///   oneshot dispatch "Add a --verbose flag to the submit command"
///   oneshot dispatch -f task.md --model opus --watch
///   oneshot dispatch --dry-run "Fix the flaky login test"
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct DispatchArgs {
    /// The task, in one line or more.
    #[arg(value_name = "PROMPT", conflicts_with = "file")]
    pub prompt: Option<String>,

    /// Read the task from FILE (`-` for stdin).
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: Option<PathBuf>,

    /// The model: h/haiku, s/sonnet, o/opus, or a full model id.
    #[arg(long, value_name = "MODEL")]
    pub model: Option<String>,

    /// The agent: claude (default), codex, gemini, or command:<program> [args…].
    #[arg(long, value_name = "AGENT")]
    pub agent: Option<String>,

    /// Stop after the plan: save it as an issue, implement nothing.
    #[arg(long)]
    pub plan_only: bool,

    /// The workflow to dispatch, in .github/workflows/ (written by `oneshot init`).
    #[arg(long, default_value = "oneshot.yml", value_name = "FILE")]
    pub workflow: String,

    /// The branch to start from and to dispatch the workflow on [default: the trunk].
    #[arg(long = "ref", value_name = "REF")]
    pub git_ref: Option<String>,

    /// The slug of the branch name [default: from the prompt].
    #[arg(long, value_name = "SLUG")]
    pub slug: Option<String>,

    /// Print the branch, PR title and body, workflow inputs and requests; create nothing.
    /// Needs no token and no network.
    #[arg(long)]
    pub dry_run: bool,

    /// Print one JSON object on stdout, for scripts (errors too).
    #[arg(long)]
    pub json: bool,

    /// Follow the run until both jobs finish; the exit code reflects the outcome.
    #[arg(long)]
    pub watch: bool,

    #[command(flatten)]
    pub github: GitHubArgs,
}

/// Run the whole one-shot on this machine: plan, then implement step by step, no GitHub
///
/// Inside any git repository: creates the branch `dispatch` would name, in a work tree of its
/// own started from the current commit (your checkout, index and uncommitted changes are never
/// touched; uncommitted changes are not part of the run). A first agent session writes the plan,
/// checked like in CI, and it is kept in .git/oneshot/plans/<branch>/, where you can edit it.
/// Then a fresh session per step implements it, with the verify command, one commit per step,
/// and the budget and timeouts of .github/oneshot.toml. Nothing is pushed unless --push is
/// given. At the end it prints the steps, the commits, the time and cost, and how to review the
/// branch. After a failure, --resume BRANCH continues from the failed step.
///
/// The work tree is in $XDG_CACHE_HOME/oneshot/worktrees/ (default ~/.cache), not under .git/:
/// Claude Code refuses to edit files below a .git directory.
///
/// With --json: one JSON object with success, branch, worktree, plan_title, completed_steps
/// (steps done, earlier runs included), failed_step, cost_usd (the plan and every step so far),
/// duration_s (this command) and steps; a failure is the standard JSON error object with the
/// same facts.
///
/// Example:
///   oneshot run "Add a --verbose flag to the submit command"
///   oneshot run -f task.md --model opus --plan-only
///   oneshot run --resume oneshot-add-a-verbose-flag-01-15-1430
///   oneshot run --resume oneshot-add-a-verbose-flag-01-15-1430 --from-step 2 --push
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct RunArgs {
    /// The task, in one line or more.
    #[arg(value_name = "PROMPT", conflicts_with_all = ["file", "resume"])]
    pub prompt: Option<String>,

    /// Read the task from FILE (`-` for stdin).
    #[arg(
        short = 'f',
        long = "file",
        value_name = "FILE",
        conflicts_with = "resume"
    )]
    pub file: Option<PathBuf>,

    /// The model: h/haiku, s/sonnet, o/opus, or the agent's own model name
    /// [default: from .github/oneshot.toml].
    #[arg(long, value_name = "MODEL")]
    pub model: Option<String>,

    /// The agent: claude, codex, gemini, or command:<program> [args…]
    /// [default: from .github/oneshot.toml, else claude].
    #[arg(long, value_name = "AGENT")]
    pub agent: Option<String>,

    /// Stop after the plan; implement it later with --resume.
    #[arg(long, conflicts_with = "resume")]
    pub plan_only: bool,

    /// Continue the local run of BRANCH: from the first step not done, or from --from-step.
    #[arg(long, value_name = "BRANCH")]
    pub resume: Option<String>,

    /// With --resume: start at this step (implementing it again even if it was done).
    #[arg(long, value_name = "K", requires = "resume")]
    pub from_step: Option<u32>,

    /// Push the branch to origin after each step.
    #[arg(long)]
    pub push: bool,

    /// Print one JSON object on stdout, for scripts (errors too).
    #[arg(long)]
    pub json: bool,
}

/// Create the branch and the draft PR for a workflow started from the Actions tab.
///
/// Does what `oneshot dispatch` does before it dispatches: a branch from the trunk with the task
/// in .worker-impl/task.md and a draft PR. The prompt comes from ONESHOT_PROMPT (or
/// --prompt-file). Outputs: `branch`, `pr_number`, `pr_url`.
///
/// Example (in a workflow step, with `env: ONESHOT_PROMPT: ${{ inputs.prompt }}`):
///   oneshot exec prepare --model sonnet
#[derive(Debug, Args)]
pub struct PrepareArgs {
    /// Read the prompt from this file instead of ONESHOT_PROMPT.
    #[arg(long, value_name = "FILE")]
    pub prompt_file: Option<PathBuf>,

    /// The model, recorded in the PR.
    #[arg(long, value_name = "MODEL")]
    pub model: Option<String>,

    /// The agent, recorded in the PR.
    #[arg(long, value_name = "AGENT")]
    pub agent: Option<String>,

    /// The trunk to branch from [default: detected like `exec detect-trunk`].
    #[arg(long, value_name = "BRANCH")]
    pub trunk: Option<String>,

    #[command(flatten)]
    pub github: GitHubArgs,
}

/// Fetch the plan from its issue into .impl/plan.md for the implement job.
///
/// The issue is the source of truth: a person may have edited the steps since the plan job
/// saved it. The plan is validated like `validate-outputs` does, and the issue's metadata must
/// name this branch and pull request. Outputs: `step_count`, `plan_title`.
///
/// Example:
///   oneshot exec fetch-plan --issue 43 --pr 42
#[derive(Debug, Args)]
pub struct FetchPlanArgs {
    /// The plan issue.
    #[arg(long, value_name = "NUMBER")]
    pub issue: u64,

    /// The pull request the plan belongs to (checked against the issue's metadata).
    #[arg(long, value_name = "NUMBER")]
    pub pr: Option<u64>,

    /// The branch the plan belongs to [default: the checked-out branch].
    #[arg(long, value_name = "BRANCH")]
    pub branch: Option<String>,

    #[command(flatten)]
    pub github: GitHubArgs,
}

/// Finish the one-shot: ready for review on success, a clear report on failure.
///
/// On success: removes .worker-impl/ from the branch in a final commit, drops the title's
/// `[WIP] ` prefix, writes a summary (steps, files changed, time, cost) into the PR, marks it
/// ready for review, requests reviews, comments on the plan issue, and sends the webhook
/// notification if one is configured. On failure: makes sure the failed step and the steps
/// after it are shown as such and that the failure comment exists.
///
/// Example:
///   oneshot exec finalize --issue 43 --pr 42 --outcome success --submitted-by octocat
#[derive(Debug, Args)]
pub struct FinalizeArgs {
    /// The plan issue.
    #[arg(long, value_name = "NUMBER")]
    pub issue: u64,

    /// The pull request [default: the one named in the plan issue].
    #[arg(long, value_name = "NUMBER")]
    pub pr: Option<u64>,

    /// How the implement step ended.
    #[arg(long, value_enum)]
    pub outcome: Outcome,

    /// Who asked for the work: asked for review.
    #[arg(long, value_name = "LOGIN")]
    pub submitted_by: Option<String>,

    /// The branch of the work [default: the checked-out branch].
    #[arg(long, value_name = "BRANCH")]
    pub branch: Option<String>,

    #[command(flatten)]
    pub github: GitHubArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Outcome {
    Success,
    Failure,
    Cancelled,
    Skipped,
}

/// Implement the plan step by step: one fresh agent session, check, commit and push per step.
///
/// For each step from --from-step (default: the first step not done): marks it in progress in
/// the PR, runs a fresh agent session with the whole plan for context and the step as the task,
/// runs the configured verify command (retrying with its output), commits the changes as
/// `Step k: <title>` (changes to protected paths or .impl/ are refused), pushes with the token
/// the binary holds (the agent never has it), and marks the step done with its time and cost.
/// At the first failed step it stops: the step is marked failed, the rest not started, the
/// partial work is kept as a patch (not pushed), and one failure comment says what broke and
/// how to resume. Outputs: `completed_steps`, `failed_step`, `cost_usd`, `duration_s`.
///
/// Example:
///   oneshot exec run-implement --issue 43 --pr 42 --from-step 2
#[derive(Debug, Args)]
pub struct RunImplementArgs {
    /// The plan issue.
    #[arg(long, value_name = "NUMBER")]
    pub issue: u64,

    /// The pull request [default: the one named in the plan issue].
    #[arg(long, value_name = "NUMBER")]
    pub pr: Option<u64>,

    /// Start at this step (re-implementing it even if it was done) [default: the first step not done].
    #[arg(long, value_name = "K")]
    pub from_step: Option<u32>,

    /// The agent [default: ONESHOT_AGENT, then .github/oneshot.toml, then claude].
    #[arg(long, value_name = "AGENT")]
    pub agent: Option<String>,

    /// The model [default: ONESHOT_MODEL, then .github/oneshot.toml, then the agent's default].
    #[arg(long, value_name = "MODEL")]
    pub model: Option<String>,

    /// Who asked for the work: credited with `Co-authored-by` in each step commit.
    #[arg(long, value_name = "LOGIN")]
    pub submitted_by: Option<String>,

    /// The branch of the work [default: the checked-out branch].
    #[arg(long, value_name = "BRANCH")]
    pub branch: Option<String>,

    #[command(flatten)]
    pub github: GitHubArgs,
}

/// Close the draft PR of a task the planner rejected, with the reason.
///
/// Reads the reason from .impl/plan-result.json (`{"rejected": true, "reason": …}`), posts it
/// on the pull request, closes it, and shows it as a notice. Output: `rejected`.
///
/// Example:
///   oneshot exec close-rejected --pr 42
#[derive(Debug, Args)]
pub struct CloseRejectedArgs {
    /// The draft pull request.
    #[arg(long, value_name = "NUMBER")]
    pub pr: u64,

    #[command(flatten)]
    pub github: GitHubArgs,
}

/// Show a one-shot's progress: its steps with their states, time and cost, and the latest run
///
/// Reads the progress recorded in the pull request (by number, or found by its branch) and the
/// state of the workflow run. For a branch of `oneshot run` it reads the local plan store
/// (.git/oneshot/plans/<branch>/) instead, with no token and no network.
///
/// Example:
///   oneshot status 42
///   oneshot status oneshot-add-a-verbose-flag-01-15-1430 --json
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct StatusArgs {
    /// The pull request number, or the branch (of a pull request or of a local run).
    #[arg(value_name = "PR|BRANCH")]
    pub target: String,

    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub github: GitHubArgs,
}

/// Continue a one-shot from a step: dispatches the implement workflow for its plan and branch
///
/// Checks the step states recorded in the pull request, then dispatches
/// .github/workflows/oneshot-resume.yml (written by `oneshot init`) for the PR's plan issue and
/// branch, starting at the first step not done, or at --from-step.
///
/// Example:
///   oneshot resume 42
///   oneshot resume 42 --from-step 2
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct ResumeArgs {
    /// The pull request.
    #[arg(value_name = "PR")]
    pub pr: u64,

    /// Start at this step [default: the first step not done].
    #[arg(long, value_name = "K")]
    pub from_step: Option<u32>,

    /// The model for the remaining steps.
    #[arg(long, value_name = "MODEL")]
    pub model: Option<String>,

    /// The agent for the remaining steps.
    #[arg(long, value_name = "AGENT")]
    pub agent: Option<String>,

    /// The workflow to dispatch, in .github/workflows/.
    #[arg(long, default_value = "oneshot-resume.yml", value_name = "FILE")]
    pub workflow: String,

    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub github: GitHubArgs,
}

/// Make sure the agent of a job's sessions can start: install its CLI unless it is on PATH.
///
/// The agent is resolved as `run-plan` (--phase plan) or `run-implement` (--phase implement)
/// resolve it: --agent, then ONESHOT_AGENT, then .github/oneshot.toml, then claude. A program
/// of that name on PATH is used as it is, and its --version is reported. Otherwise its npm
/// package (@anthropic-ai/claude-code, @openai/codex, @google/gemini-cli), at the version this
/// oneshot pins, is installed with `npm install --prefix` into a
/// directory of its own ($RUNNER_TEMP/oneshot-agents/<agent>-<version>, or
/// ~/.oneshot/agents/... outside Actions), its bin directory is added to GITHUB_PATH, and its
/// --version is checked. Needs Node and npm on PATH. A `command:` agent is never installed: the
/// step fails when its program is not found. For codex on Linux, a kernel setting that keeps
/// its sandbox (bubblewrap) from creating user namespaces is lifted with `sudo -n sysctl`, or
/// a warning says why it could not be. Outputs: `agent`, `agent_version`, `agent_path`,
/// `install` (whether an install is needed), `installed`, `npm_cache` and `cache_key` (npm's
/// cache directory and its Actions cache key), `userns` (codex).
///
/// Example:
///   oneshot exec install-agent --phase plan --agent codex --agent-version 0.169.0
#[derive(Debug, Args)]
pub struct InstallAgentArgs {
    /// Whose agent: the planning session's or the implementation sessions'.
    #[arg(long, value_enum, value_name = "PHASE")]
    pub phase: SessionPhase,

    /// The agent: claude, codex, gemini, or command:<program> [args…]
    /// [default: ONESHOT_AGENT, then .github/oneshot.toml, then claude].
    #[arg(long, value_name = "AGENT")]
    pub agent: Option<String>,

    /// The npm version (or tag) of the agent's CLI [default: [agent_versions] in
    /// .github/oneshot.toml, then the version oneshot pins].
    #[arg(long, value_name = "VERSION")]
    pub agent_version: Option<String>,

    /// Only say what would be installed and where npm's cache is (the outputs), changing
    /// nothing: for the Actions cache step that comes before the install.
    #[arg(long)]
    pub resolve_only: bool,
}

/// A kind of agent session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SessionPhase {
    Plan,
    Implement,
}

/// Say on the draft PR that planning failed, and how to try again.
///
/// Runs when a step of the plan job failed (the agent session, or the plan's checks). Posts
/// one comment, edited in place on re-runs, with the run's link and, when the planning session
/// left a report, its outcome and last words. The PR stays open as a draft.
///
/// Example:
///   oneshot exec plan-failed --pr 42
#[derive(Debug, Args)]
pub struct PlanFailedArgs {
    /// The draft pull request.
    #[arg(long, value_name = "NUMBER")]
    pub pr: u64,

    #[command(flatten)]
    pub github: GitHubArgs,
}
