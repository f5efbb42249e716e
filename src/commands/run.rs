//! `oneshot run`: the whole one-shot on this machine, with no GitHub.
//!
//! The same steps as the workflows, wired to the local tracker: the branch `dispatch` would
//! name, in a work tree of its own; the planning session and the plan check of `exec run-plan`
//! and `exec validate-outputs`; the step loop of `exec run-implement` (`implement::Engine`).
//! The plan store in `.git/oneshot/plans/<branch>/` takes the place of the issue and the PR.
//!
//! Two decisions:
//! - The branch starts from the current commit (HEAD), not from the trunk: no network is
//!   needed, a repository without a remote works, and local commits not pushed yet are part of
//!   what the agent sees. Uncommitted changes are not (they stay in your checkout, untouched).
//! - The work tree lives in the cache directory (`$XDG_CACHE_HOME/oneshot/worktrees/…`), not
//!   under `.git/`: Claude Code refuses every edit below a `.git` directory ("a sensitive
//!   file"), even with an explicit permission rule. The work tree holds nothing that cannot be
//!   made again from the branch; `--resume` makes it again when it is gone.
//!
//! The task is not committed (`.worker-impl/task.md` in CI): it stays in the plan store, so
//! the branch holds only the steps' commits and needs no clean-up commit at the end.

use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::SecondsFormat;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::Context;
use super::exec::run_plan;
use super::exec::validate_outputs::{self, Validated};
use crate::agent::{self, AgentSpec, SessionSettings};
use crate::cli::RunArgs;
use crate::config::{self, Overrides, Settings};
use crate::error::{Error, IoContext, Result};
use crate::git::Git;
use crate::implement::{self, Engine};
use crate::markers::StepState;
use crate::tracker::local::{self, LocalState, LocalTracker, Phase, PlanStore};
use crate::tracker::{Completion, Tracker, merge_states};
use crate::workspace::{self, Workspace};

const REMOTE: &str = "origin";

/// What a local run resolves before it creates anything.
struct Setup {
    /// The checkout `oneshot run` was started in.
    repo: Workspace,
    /// The git directory shared by every work tree: the plan stores live there.
    common_dir: PathBuf,
    settings: Settings,
    plan: SessionSettings,
    implement: SessionSettings,
}

impl Setup {
    fn new(args: &RunArgs, ctx: &Context) -> Result<Self> {
        let repo = Workspace::find(&ctx.dir)?;
        let common_dir = repo.git.common_dir()?;
        let overrides = Overrides {
            agent: args.agent.clone(),
            model: args.model.clone(),
            ..Overrides::default()
        };
        let settings = config::load(&repo.root, ctx.env, &overrides)?;
        let plan = run_plan::session_settings(&settings)?;
        let implement = implement::session_settings(&settings)?;
        Ok(Setup {
            repo,
            common_dir,
            settings,
            plan,
            implement,
        })
    }
}

pub fn run(args: &RunArgs, ctx: &Context) -> Result<()> {
    let started = Instant::now();
    match &args.resume {
        Some(branch) => resume(args, ctx, branch, started),
        None => start(args, ctx, started),
    }
}

/// A new one-shot: check everything, then branch, work tree, store, plan, implement.
fn start(args: &RunArgs, ctx: &Context, started: Instant) -> Result<()> {
    // 1. Everything that can be wrong is checked before anything is created.
    let task = crate::task::read_prompt(args.prompt.as_deref(), args.file.as_deref(), "run")?;
    let setup = Setup::new(args, ctx)?;
    let (base, base_ref) = base_commit(&setup.repo.git)?;
    let mut agents = vec![&setup.plan.agent];
    if !args.plan_only {
        agents.push(&setup.implement.agent);
    }
    check_agents(&agents, &setup.repo.root)?;
    if args.push {
        check_remote(&setup.repo.git)?;
    }
    let cache = ctx.env.cache_dir.clone().ok_or_else(|| {
        Error::config("there is no cache directory for the work tree of the branch")
            .cause("neither XDG_CACHE_HOME nor HOME is set to an absolute path")
            .hint("set HOME (or XDG_CACHE_HOME) and run again")
    })?;
    let now = crate::naming::now(ctx.env)?;
    let branch = crate::launch::branch_for(&task, None, now, |name| {
        setup
            .repo
            .git
            .ref_exists(&format!("refs/heads/{name}"))
            .unwrap_or(false)
            || setup
                .repo
                .git
                .ref_exists(&format!("refs/remotes/{REMOTE}/{name}"))
                .unwrap_or(false)
            || PlanStore::dir_for(&setup.common_dir, name).exists()
            || worktree_path(&cache, &setup.common_dir, name).exists()
    });
    let worktree = worktree_path(&cache, &setup.common_dir, &branch);
    if !setup.repo.git.changed_paths()?.is_empty() {
        ctx.runner.info(&format!(
            "Note: your uncommitted changes are not part of the run; it starts from the last commit ({}).",
            short(&base)
        ));
    }

    // 2. Create: the branch in its work tree, then the plan store.
    add_worktree(&setup.repo.git, &worktree, &branch, Some(&base))?;
    let mut state = LocalState::new(&branch, &base, &worktree);
    state.base_ref = base_ref;
    state.created_at = now.to_rfc3339_opts(SecondsFormat::Secs, true);
    state.agent = setup.plan.agent.to_string();
    state.model = setup.plan.model.clone();
    state.pushed = args.push;
    let store = match PlanStore::create(&setup.common_dir, &state, &task) {
        Ok(store) => store,
        Err(e) => {
            let _ = remove_worktree(&setup.repo.git, &worktree, &branch);
            return Err(e);
        }
    };
    let _lock = store.lock()?;
    ctx.runner.info(&format!(
        "Branch {branch} from {}; work tree {}",
        short(&base),
        worktree.display()
    ));

    // 3. Plan, then implement.
    let wt = Workspace {
        root: worktree.clone(),
        git: Git::new(&worktree),
    };
    let result = plan(ctx, &setup, &store, &wt).and_then(|()| {
        if args.plan_only {
            planned(ctx, &store, args.json, started)
        } else {
            implement(ctx, &setup, &store, &wt, None, args, started)
        }
    });
    result.map_err(|e| with_facts(ctx, e, &store, started))
}

/// Continues a local run: plans again if there is no valid plan yet, then implements from the
/// first step not done (or `--from-step`).
fn resume(args: &RunArgs, ctx: &Context, branch: &str, started: Instant) -> Result<()> {
    let setup = Setup::new(args, ctx)?;
    let store = PlanStore::open(&setup.common_dir, branch).ok_or_else(|| {
        let stores = setup.common_dir.join(local::STORE_DIR).join("plans");
        Error::input(format!("no local run has the branch `{branch}`"))
            .cause(format!(
                "{} does not exist",
                PlanStore::dir_for(&setup.common_dir, branch).display()
            ))
            .hint(format!(
                "the local runs of this repository are in {}",
                stores.display()
            ))
            .hint("a one-shot started with `oneshot dispatch` is resumed with `oneshot resume PR`")
    })?;
    let _lock = store.lock()?;
    let state = store.state()?;
    match state.phase {
        Phase::Rejected => {
            return Err(Error::input(format!(
                "the planning session rejected the task of {branch}, so there is nothing to resume"
            ))
            .cause(state.reason.unwrap_or_default())
            .hint("make the task clearer or smaller and start it again with `oneshot run`"));
        }
        Phase::Done if args.from_step.is_none() => {
            return Err(Error::input(format!("every step of {branch} is done"))
                .hint("pass --from-step K to implement steps again")
                .hint(review_lines(&state).trim_end().replace('\n', "; ")));
        }
        _ => {}
    }
    let replan = needs_planning(&store, &state)?;
    let mut agents = vec![&setup.implement.agent];
    if replan {
        agents.insert(0, &setup.plan.agent);
    }
    check_agents(&agents, &setup.repo.root)?;
    if args.push {
        check_remote(&setup.repo.git)?;
    }

    let result = open_worktree(ctx, &setup.repo.git, &store, &state).and_then(|wt| {
        if replan {
            plan(ctx, &setup, &store, &wt)?;
        }
        implement(ctx, &setup, &store, &wt, args.from_step, args, started)
    });
    result.map_err(|e| with_facts(ctx, e, &store, started))
}

/// Whether the run has no usable plan yet: planning failed, or the plan was invalid and nobody
/// fixed it in the store.
fn needs_planning(store: &PlanStore, state: &LocalState) -> Result<bool> {
    if state.phase != Phase::Planning {
        return Ok(false);
    }
    Ok(match store.read(local::PLAN)? {
        Some(text) => crate::plan::parse(&text).is_err(),
        None => true,
    })
}

/// Session 1 in the work tree, then the plan check, both as in CI. A valid plan goes into the
/// store; a rejected task ends the run and removes its empty branch.
fn plan(ctx: &Context, setup: &Setup, store: &PlanStore, wt: &Workspace) -> Result<()> {
    let task = store.read(local::TASK)?.ok_or_else(|| {
        Error::input(format!(
            "the task of {} is missing ({})",
            store.branch,
            store.path(local::TASK).display()
        ))
    })?;
    wt.ensure_impl_dir()?;
    for stale in [workspace::PLAN, workspace::PLAN_RESULT] {
        let _ = std::fs::remove_file(wt.path(stale));
    }
    std::fs::write(wt.path(workspace::TASK), &task)
        .io_context(|| format!("could not write {}", workspace::TASK))?;

    let wt_ctx = Context {
        runner: ctx.runner,
        dir: wt.root.clone(),
        env: ctx.env,
    };
    let watch = UserRepoWatch::new(ctx, setup, store);
    implement::Watch::record(&watch)?;
    let session = run_plan::plan_session(&wt_ctx, wt, &setup.plan);
    implement::Watch::check(&watch)?;
    store.keep_runs(&wt.path(workspace::RUNS_DIR))?;
    let again = format!("`oneshot run --resume {}`", store.branch);
    let report = match session {
        Ok(report) => report,
        Err(e) => {
            store.update(|s| s.reason = Some(e.message.clone()))?;
            return Err(e.hint(format!("to plan again: {again}")));
        }
    };
    store.update(|s| {
        s.plan_cost_usd = Some(s.plan_cost_usd.unwrap_or(0.0) + report.cost_usd.unwrap_or(0.0));
        s.plan_duration_s = Some(s.plan_duration_s.unwrap_or(0.0) + report.duration_s);
    })?;
    if let Ok(text) = std::fs::read_to_string(wt.path(workspace::PLAN_RESULT)) {
        store.write(local::PLAN_RESULT, &text)?;
    }
    let plan_text = std::fs::read_to_string(wt.path(workspace::PLAN)).ok();
    match validate_outputs::validate(&wt_ctx, wt) {
        Err(e) => {
            if let Some(text) = &plan_text {
                store.write(local::PLAN, text)?;
            }
            store.update(|s| s.reason = Some(e.message.clone()))?;
            let mut e = e.hint(format!("to plan again: {again}"));
            if plan_text.is_some() {
                e = e.hint(format!(
                    "or fix the plan in {} and resume: a valid plan there is used as it is",
                    store.path(local::PLAN).display()
                ));
            }
            Err(e)
        }
        Ok(Validated::Rejected(reason)) => {
            store.update(|s| {
                s.phase = Phase::Rejected;
                s.reason = Some(reason.clone());
            })?;
            // Nothing was committed: the branch and its work tree go; the store keeps the task,
            // the reason and the transcripts.
            if let Err(e) = remove_worktree(&setup.repo.git, &wt.root, &store.branch) {
                ctx.runner.info(&format!(
                    "Could not remove the branch {} and its work tree: {}",
                    store.branch,
                    e.render()
                ));
            }
            Err(Error::input("the planning session rejected the task")
                .cause(&reason)
                .hint("make the task clearer or smaller, then run `oneshot run` again")
                .hint(format!(
                    "the planner's transcript is in {}",
                    store.path(local::RUNS).display()
                )))
        }
        Ok(Validated::Plan(plan)) => {
            store.write(local::PLAN, plan_text.as_deref().unwrap_or_default())?;
            store.update(|s| {
                s.phase = Phase::Planned;
                s.reason = None;
                s.plan_title = Some(plan.title.clone());
                s.plan_sha256 = Some(plan.sha256());
                s.steps = merge_states(&plan, &[]);
            })?;
            Ok(())
        }
    }
}

/// `--plan-only`: the plan is in the store; say where and how to go on.
fn planned(ctx: &Context, store: &PlanStore, json: bool, started: Instant) -> Result<()> {
    let state = store.state()?;
    let plan_path = store.path(local::PLAN);
    if json {
        let mut value = facts(&state, started);
        value["success"] = Value::Bool(true);
        value["plan_only"] = Value::Bool(true);
        value["plan"] = Value::String(plan_path.display().to_string());
        value["step_count"] = json!(state.steps.len());
        return ctx.runner.print_json(&value);
    }
    let mut out = format!(
        "Plan: {} ({} steps), on branch {}\n\n",
        state.plan_title.as_deref().unwrap_or_default(),
        state.steps.len(),
        state.branch
    );
    for s in &state.steps {
        out.push_str(&format!("  {:>2}. {}\n", s.number, s.title));
    }
    out.push_str(&format!(
        "\nThe plan is in {} (edit it if you like).\nImplement it with: oneshot run --resume {}",
        plan_path.display(),
        state.branch
    ));
    ctx.runner.print_line(&out);
    Ok(())
}

/// Session 2 and later: the step loop of `exec run-implement` with the local tracker.
fn implement(
    ctx: &Context,
    setup: &Setup,
    store: &PlanStore,
    wt: &Workspace,
    from_step: Option<u32>,
    args: &RunArgs,
    started: Instant,
) -> Result<()> {
    let mut tracker = LocalTracker {
        store,
        runner: ctx.runner,
        runs: Some(wt.path(workspace::RUNS_DIR)),
    };
    let record = tracker.plan()?;
    wt.ensure_impl_dir()?;
    std::fs::write(wt.path(workspace::PLAN), &record.text)
        .io_context(|| format!("could not write {}", workspace::PLAN))?;
    if args.push {
        store.update(|s| s.pushed = true)?;
    }
    let branch = store.branch.clone();
    let settings = &setup.settings;
    let watch = UserRepoWatch::new(ctx, setup, store);
    let engine = Engine {
        runner: ctx.runner,
        ws: wt,
        // The repository's hooks are not run on oneshot's own commits and pushes, as on a
        // runner's fresh checkout (the verify command is the check).
        git: wt.git.with_config("core.hooksPath", "/dev/null"),
        branch: branch.clone(),
        remote: wt.git.remote(REMOTE),
        push: args.push,
        session: setup.implement.clone(),
        verify_command: settings.verify.command.clone(),
        verify_timeout: settings.verify.timeout,
        verify_retries: settings.verify.retries,
        step_timeout: settings.step_timeout,
        budget_usd: settings.budget_usd,
        protected_paths: settings.protected_paths.clone(),
        submitted_by: None,
        resume_hint: Box::new(move |k| {
            format!("`oneshot run --resume {branch}` (it continues from step {k})")
        }),
        watch: Some(&watch),
    };
    let outcome = engine.run(&mut tracker, &record, from_step)?;

    let state = store.state()?;
    let range = format!("{}..HEAD", state.base_commit);
    let diffstat = wt
        .git
        .run("summarize the change", &["diff", "--stat", &range])?;
    let files_changed = wt
        .git
        .run(
            "list the changed files",
            &["diff", "--name-only", "-z", &range],
        )?
        .split('\0')
        .filter(|f| !f.is_empty())
        .count();
    tracker.complete(&Completion {
        steps: outcome.steps,
        diffstat,
        files_changed,
        duration_s: state.duration_s(),
        cost_usd: state.cost_usd(),
    })?;
    let state = store.state()?;

    if args.json {
        let mut value = facts(&state, started);
        value["success"] = Value::Bool(true);
        return ctx.runner.print_json(&value);
    }
    let mut out = format!(
        "{}: {} of {} steps done on {}\n\n{}\n{} steps · {files_changed} files changed · {} · ${:.2}\n\n",
        state.plan_title.as_deref().unwrap_or("Done"),
        state.done_steps(),
        state.steps.len(),
        state.branch,
        super::status::steps_table(&state.steps, true),
        state.steps.len(),
        crate::markers::format_duration(started.elapsed().as_secs_f64()),
        state.cost_usd()
    );
    out.push_str(&review_lines(&state));
    if !state.warnings.is_empty() {
        out.push_str("\nWarnings (what agent sessions did outside the branch):\n");
        for w in &state.warnings {
            out.push_str(&format!("  - {w}\n"));
        }
    }
    ctx.runner.print_line(out.trim_end());
    Ok(())
}

/// How to look at the branch: the work tree, `git log` and `git diff` against where it started,
/// and whether it is pushed.
pub fn review_lines(state: &LocalState) -> String {
    let base = state
        .base_ref
        .clone()
        .unwrap_or_else(|| short(&state.base_commit).to_string());
    let branch = &state.branch;
    let mut out = format!(
        "Work tree: {}\nReview:    git log {base}..{branch}\n           git diff {base}...{branch}\n",
        state.worktree.display()
    );
    if state.pushed {
        out.push_str(&format!("Pushed to {REMOTE}/{branch}.\n"));
    } else {
        out.push_str(&format!(
            "Nothing is pushed; when it is ready: git push {REMOTE} {branch}\n"
        ));
    }
    out
}

/// The facts of a run for `--json`, on success and (as details) on failure.
fn facts(state: &LocalState, started: Instant) -> Value {
    let round = |v: f64, digits: i32| {
        let scale = 10f64.powi(digits);
        (v * scale).round() / scale
    };
    json!({
        "branch": state.branch,
        "worktree": state.worktree.display().to_string(),
        "plan_title": state.plan_title,
        "completed_steps": state.done_steps(),
        "failed_step": state.failed_step(),
        "cost_usd": round(state.cost_usd(), 4),
        "duration_s": round(started.elapsed().as_secs_f64(), 1),
        "steps": state.steps,
        "warnings": state.warnings,
    })
}

/// An error after the run's branch exists: the run's facts go with it (for `--json`), and the
/// state of the steps is shown.
fn with_facts(ctx: &Context, mut err: Error, store: &PlanStore, started: Instant) -> Error {
    let Ok(state) = store.state() else {
        return err.detail("branch", store.branch.clone());
    };
    if state.steps.iter().any(|s| s.state != StepState::Queued) {
        ctx.runner
            .info(&super::status::steps_table(&state.steps, true));
    }
    if let Value::Object(map) = facts(&state, started) {
        for (key, value) in map {
            err = err.detail(&key, value);
        }
    }
    if state.phase == Phase::Rejected {
        err = err
            .detail("rejected", true)
            .detail("reason", state.reason.clone());
    }
    err
}

/// The commit HEAD points at and the branch it is on (`None`: detached).
fn base_commit(git: &Git) -> Result<(String, Option<String>)> {
    let out = git.try_run(
        "read the current commit",
        &["rev-parse", "--verify", "--quiet", "HEAD^{commit}"],
    )?;
    if !out.success {
        return Err(Error::git(
            "the repository has no commit yet, so there is nothing to start the branch from",
        )
        .hint("oneshot run starts its branch from the current commit: make a first commit, then run again"));
    }
    Ok((out.stdout.trim().to_string(), git.current_branch()?))
}

/// Every agent the run will start must be installed: checked before anything is created.
fn check_agents(agents: &[&AgentSpec], dir: &Path) -> Result<()> {
    let mut checked: Vec<&AgentSpec> = Vec::new();
    for agent in agents {
        if checked.contains(agent) {
            continue;
        }
        checked.push(agent);
        if let Err(why) = agent::locate(agent, dir) {
            return Err(agent_missing(agent, &why, dir));
        }
    }
    Ok(())
}

fn agent_missing(agent: &AgentSpec, why: &str, dir: &Path) -> Error {
    let mut err = match agent {
        AgentSpec::Command { program, .. } => Error::agent(format!(
            "the agent command `{program}` cannot be run: it was not found"
        )),
        other => Error::agent(format!(
            "the agent {} is not installed: `{}` was not found on PATH",
            other.name(),
            other.name()
        )),
    }
    .cause(why)
    .hint(agent::install_hint(agent));
    for other in [AgentSpec::Claude, AgentSpec::Codex, AgentSpec::Gemini] {
        if &other != agent && agent::locate(&other, dir).is_ok() {
            err = err.hint(format!(
                "{} is installed: use it with --agent {}",
                other.name(),
                other.name()
            ));
        }
    }
    err.hint(
        "oneshot supports claude (npm install -g @anthropic-ai/claude-code), codex (npm install -g @openai/codex) \
         and gemini (npm install -g @google/gemini-cli); choose one with --agent or `agent` in .github/oneshot.toml",
    )
    .hint("or use any program as the agent, which gets the prompt on stdin: --agent 'command:my-agent --some-flag'")
}

fn check_remote(git: &Git) -> Result<()> {
    let out = git.try_run("find the remote", &["remote", "get-url", REMOTE])?;
    if out.success {
        Ok(())
    } else {
        Err(
            Error::input(format!("--push needs a remote named `{REMOTE}`")).hint(format!(
                "add it with `git remote add {REMOTE} URL`, or run without --push"
            )),
        )
    }
}

/// `<cache>/oneshot/worktrees/<repository>-<id>/<branch>`: the id tells apart repositories of
/// the same name.
fn worktree_path(cache: &Path, common_dir: &Path, branch: &str) -> PathBuf {
    let checkout = if common_dir.file_name().is_some_and(|n| n == ".git") {
        common_dir.parent().unwrap_or(common_dir)
    } else {
        common_dir
    };
    let name = checkout
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "repository".into());
    let digest = Sha256::digest(common_dir.as_os_str().as_encoded_bytes());
    let id: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
    cache
        .join("oneshot")
        .join("worktrees")
        .join(format!("{}-{id}", local::path_component(&name)))
        .join(local::path_component(branch))
}

/// `git worktree add`: a new branch at `base`, or (without `base`) the existing branch.
/// Hooks are off: a post-checkout hook of the repository is not oneshot's to run.
fn add_worktree(git: &Git, path: &Path, branch: &str, base: Option<&str>) -> Result<()> {
    let path_text = path.to_string_lossy();
    let mut args = vec!["worktree", "add", "--quiet"];
    match base {
        Some(base) => args.extend(["-b", branch, &path_text, base]),
        None => args.extend([&*path_text, branch]),
    }
    git.with_config("core.hooksPath", "/dev/null")
        .run("create the work tree of the branch", &args)?;
    Ok(())
}

fn remove_worktree(git: &Git, path: &Path, branch: &str) -> Result<()> {
    git.run(
        "remove the work tree",
        &["worktree", "remove", "--force", &path.to_string_lossy()],
    )?;
    git.run("delete the branch", &["branch", "--quiet", "-D", branch])?;
    Ok(())
}

/// The run's work tree, made again from the branch if it is gone, with leftovers of a failed
/// step set aside (kept as a patch in the store) so that the resumed step starts clean, as on a
/// fresh runner in CI.
fn open_worktree(
    ctx: &Context,
    git: &Git,
    store: &PlanStore,
    state: &LocalState,
) -> Result<Workspace> {
    let path = &state.worktree;
    if !path.join(".git").exists() {
        if !git.ref_exists(&format!("refs/heads/{}", state.branch))? {
            return Err(
                Error::git(format!("the branch {} no longer exists", state.branch))
                    .hint("start the task again with `oneshot run`"),
            );
        }
        git.run("forget removed work trees", &["worktree", "prune"])?;
        add_worktree(git, path, &state.branch, None)?;
        ctx.runner.info(&format!(
            "Made the work tree of {} again: {}",
            state.branch,
            path.display()
        ));
    }
    let wt = Workspace {
        root: path.clone(),
        git: Git::new(path),
    };
    remove_stale_git_locks(ctx, &wt.git, &state.branch)?;
    match wt.git.current_branch()? {
        Some(b) if b == state.branch => {}
        other => {
            return Err(Error::git(format!(
                "the work tree {} is on {}, not on {}",
                path.display(),
                other.as_deref().unwrap_or("a detached HEAD"),
                state.branch
            ))
            .hint(format!(
                "switch it back: git -C {} switch {}",
                path.display(),
                state.branch
            )));
        }
    }
    if !wt.git.changed_paths()?.is_empty() {
        wt.git
            .run("stage the leftover changes", &["add", "--all"])?;
        let patch = wt.git.run(
            "save the leftover changes",
            &["diff", "--cached", "--binary", "HEAD"],
        )?;
        // Usually the failed step's partial work, which the step loop already kept.
        let partial = state
            .failed_step()
            .map(|k| format!("{}/step-{k}-partial.patch", local::RUNS))
            .filter(|name| store.read(name).ok().flatten().as_deref() == Some(patch.as_str()));
        let (name, what) = match partial {
            Some(name) => (name, "the failed step's partial work"),
            None => {
                let name = (1..)
                    .map(|n| format!("{}/leftover-{n}.patch", local::RUNS))
                    .find(|n| !store.path(n).exists())
                    .expect("some number is free");
                store.write(&name, &patch)?;
                (name, "uncommitted changes")
            }
        };
        wt.git.run(
            "reset the work tree",
            &["reset", "--hard", "--quiet", "HEAD"],
        )?;
        wt.git
            .run("remove untracked files", &["clean", "-fd", "--quiet"])?;
        ctx.runner.info(&format!(
            "The work tree had {what}; it is kept as {} and the work tree is back at its last commit.",
            store.path(&name).display()
        ));
    }
    Ok(wt)
}

/// The user's repository around every agent session of a local run. The run's work tree is a
/// linked work tree of the user's clone: the agent can move any of its refs, and it can reach
/// the user's checkout by an absolute path. Before each session the refs (all but the run's own
/// branch, which the step loop keeps) and a fingerprint of the checkout are recorded; after it,
/// moved, deleted or created refs are put back, and a changed checkout is reported loudly (it
/// is not undone: the change may be the user's own, made meanwhile).
struct UserRepoWatch<'a> {
    runner: &'a crate::actions::Runner,
    store: &'a PlanStore,
    /// The user's checkout, where `oneshot run` started.
    git: Git,
    root: PathBuf,
    own_branch: String,
    recorded: std::cell::RefCell<Option<UserRepoState>>,
}

#[derive(Debug, Clone, PartialEq)]
struct UserRepoState {
    /// name → (object, symref target)
    refs: std::collections::BTreeMap<String, (String, String)>,
    checkout: Checkout,
}

/// What the user's checkout looks like, cheaply: HEAD, the index entries, and every path
/// `git status` lists with the file's size and modification time (an edit to a clean file
/// makes it listed; an edit to a listed one changes its time).
#[derive(Debug, Clone, PartialEq)]
struct Checkout {
    head: String,
    index: String,
    paths: std::collections::BTreeMap<String, String>,
}

/// A file's size and modification time, or `missing`.
fn file_stat(path: &std::path::Path) -> String {
    match std::fs::symlink_metadata(path) {
        Ok(meta) => {
            use std::os::unix::fs::MetadataExt;
            format!("{} {} {}", meta.len(), meta.mtime(), meta.mtime_nsec())
        }
        Err(_) => "missing".to_string(),
    }
}

impl<'a> UserRepoWatch<'a> {
    fn new(ctx: &'a Context, setup: &Setup, store: &'a PlanStore) -> Self {
        UserRepoWatch {
            runner: ctx.runner,
            store,
            git: setup.repo.git.clone(),
            root: setup.repo.root.clone(),
            own_branch: format!("refs/heads/{}", store.branch),
            recorded: std::cell::RefCell::new(None),
        }
    }

    fn state(&self) -> Result<UserRepoState> {
        let refs = self
            .git
            .all_refs()?
            .into_iter()
            .filter(|(name, _, _)| *name != self.own_branch)
            .map(|(name, object, target)| (name, (object, target)))
            .collect();
        Ok(UserRepoState {
            refs,
            checkout: self.checkout()?,
        })
    }

    fn checkout(&self) -> Result<Checkout> {
        // Reading must not write: no index refresh in the user's checkout.
        let quiet = |purpose: &str, args: &[&str]| {
            let mut all = vec!["--no-optional-locks"];
            all.extend_from_slice(args);
            self.git.run(purpose, &all)
        };
        let head = format!(
            "{} {}",
            self.git.symbolic_ref("HEAD")?.unwrap_or_default(),
            self.git.commit_of("HEAD")?.unwrap_or_default()
        );
        // `-v` shows the flags too: `git status` does not look at a file marked assume-unchanged
        // or skip-worktree, so setting the flag changes this digest, and a flagged file is
        // stat-ed below like a listed one.
        let entries = quiet("read your index", &["ls-files", "--stage", "-v", "-z"])?;
        let index = Sha256::digest(&entries)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let mut unwatched_by_status = Vec::new();
        for entry in entries.split('\0').filter(|e| !e.is_empty()) {
            // `<tag> <mode> <object> <stage>\t<path>`: a lower-case tag is assume-unchanged, `S`
            // skip-worktree.
            let tag = entry.as_bytes()[0];
            if (tag.is_ascii_lowercase() || tag == b'S')
                && let Some((_, path)) = entry.split_once('\t')
            {
                unwatched_by_status.push(path.to_string());
            }
        }
        let status = quiet(
            "read your checkout's status",
            &[
                "status",
                "--porcelain=v2",
                "-z",
                "--untracked-files=all",
                "--no-renames",
            ],
        )?;
        let mut paths = std::collections::BTreeMap::new();
        for entry in status.split('\0').filter(|e| !e.is_empty()) {
            // `1 XY sub mH mI mW hH hI path`, `u XY sub m1 m2 m3 mW h1 h2 h3 path`, `? path`.
            let fields = match entry.as_bytes()[0] {
                b'1' => 8,
                b'u' => 10,
                b'?' | b'!' => 1,
                _ => continue,
            };
            let Some(path) = entry.splitn(fields + 1, ' ').nth(fields) else {
                continue;
            };
            let file = file_stat(&self.root.join(path));
            paths.insert(path.to_string(), format!("{entry} | {file}"));
        }
        for path in unwatched_by_status {
            let file = file_stat(&self.root.join(&path));
            paths.insert(path, format!("flagged | {file}"));
        }
        Ok(Checkout { head, index, paths })
    }

    /// Puts one ref back as recorded; `now` is what the session left (`None`: deleted).
    fn put_back(
        &self,
        name: &str,
        before: Option<&(String, String)>,
        now: Option<&(String, String)>,
    ) -> Result<()> {
        let purpose = format!("put back {name}");
        match (before, now) {
            (Some((_, target)), _) if !target.is_empty() => {
                self.git.run(&purpose, &["symbolic-ref", name, target])?;
            }
            (Some((object, _)), Some((current, _))) => {
                self.git.run(
                    &purpose,
                    &["update-ref", "--no-deref", name, object, current],
                )?;
            }
            (Some((object, _)), None) => {
                self.git.run(&purpose, &["update-ref", name, object, ""])?;
            }
            (None, Some((current, _))) => {
                self.git
                    .run(&purpose, &["update-ref", "--no-deref", "-d", name, current])?;
            }
            (None, None) => {}
        }
        Ok(())
    }

    fn warn(&self, warning: String) -> Result<()> {
        self.runner.annotate(
            crate::actions::Level::Warning,
            &warning,
            &crate::actions::Annotation::default(),
        );
        self.store.update(|s| s.warnings.push(warning))?;
        Ok(())
    }
}

impl implement::Watch for UserRepoWatch<'_> {
    fn record(&self) -> Result<()> {
        *self.recorded.borrow_mut() = Some(self.state()?);
        Ok(())
    }

    fn check(&self) -> Result<()> {
        let Some(before) = self.recorded.borrow().clone() else {
            return Ok(());
        };
        let now = self.state()?;
        if now == before {
            return Ok(());
        }
        let mut put_back = Vec::new();
        let mut failed = Vec::new();
        let names: std::collections::BTreeSet<&String> =
            before.refs.keys().chain(now.refs.keys()).collect();
        for name in names {
            let (was, is) = (before.refs.get(name), now.refs.get(name));
            if was == is {
                continue;
            }
            let what = match (was, is) {
                (Some(_), Some((object, _))) => format!("moved {name} to {}", short(object)),
                (Some(_), None) => format!("deleted {name}"),
                (None, _) => format!("created {name}"),
            };
            match self.put_back(name, was, is) {
                Ok(()) => put_back.push(what),
                Err(e) => failed.push(format!("{what}: {}", e.render().replace('\n', " "))),
            }
        }
        if !put_back.is_empty() {
            self.warn(format!(
                "the agent {} in your repository; oneshot put {} back",
                put_back.join(", "),
                if put_back.len() == 1 { "it" } else { "them" }
            ))?;
        }
        // A ref put back may be what the user's HEAD points at: compare the checkout as it
        // is now.
        let checkout = if put_back.is_empty() {
            now.checkout
        } else {
            self.checkout()?
        };
        if checkout != before.checkout {
            let (was, is) = (&before.checkout, &checkout);
            let mut changes = Vec::new();
            if was.head != is.head {
                changes.push(format!(
                    "HEAD moved ({} → {})",
                    was.head.trim(),
                    is.head.trim()
                ));
            }
            if was.index != is.index {
                changes.push("the index changed".to_string());
            }
            let files: Vec<&String> = was
                .paths
                .keys()
                .chain(is.paths.keys())
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .filter(|p| was.paths.get(*p) != is.paths.get(*p))
                .collect();
            if !files.is_empty() {
                let mut shown: Vec<String> =
                    files.iter().take(10).map(|f| format!("`{f}`")).collect();
                if files.len() > 10 {
                    shown.push(format!("and {} more", files.len() - 10));
                }
                changes.push(format!("files changed: {}", shown.join(", ")));
            }
            self.warn(format!(
                "your checkout {} changed during an agent session: {}. oneshot does not undo it \
                 (it may be your own edit); check it with `git -C {} status`",
                self.root.display(),
                changes.join("; "),
                self.root.display()
            ))?;
        }
        // What was put back or reported is the new record: it is not reported twice.
        *self.recorded.borrow_mut() = Some(self.state()?);
        if !failed.is_empty() {
            return Err(Error::git(format!(
                "the agent changed refs of your repository that oneshot could not put back: {}",
                failed.join("; ")
            ))
            .hint("put them back by hand (`git reflog` shows where they were), then resume"));
        }
        Ok(())
    }
}

/// Lock files a git command of an earlier run left when it was killed (`index.lock`, most
/// often, which blocks every later `git add`). They are stale when the run lock was free (this
/// command holds it now: no process of an earlier run of the branch lives, since every one of
/// them inherited that lock) and no live process has the file open; then they are removed with
/// a notice. One that a live process holds is an error naming it.
fn remove_stale_git_locks(ctx: &Context, git: &Git, branch: &str) -> Result<()> {
    for name in [
        "index.lock",
        "HEAD.lock",
        &format!("refs/heads/{branch}.lock"),
    ] {
        let path = git.git_path(name)?;
        if !path.exists() {
            continue;
        }
        let holders = local::processes_holding(&path);
        if !holders.is_empty() {
            return Err(Error::git(format!(
                "{} is held by {}",
                path.display(),
                holders.join(", ")
            ))
            .hint("a git command is still running in the work tree of the branch: wait for it, or stop it, then resume"));
        }
        std::fs::remove_file(&path)
            .io_context(|| format!("could not remove the stale {}", path.display()))?;
        ctx.runner.info(&format!(
            "Removed {}: a git command of the earlier run left it when it was stopped (no process holds it).",
            path.display()
        ));
    }
    Ok(())
}

fn short(commit: &str) -> &str {
    &commit[..commit.len().min(7)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn work_trees_are_outside_any_git_directory() {
        let path = worktree_path(
            Path::new("/home/me/.cache"),
            Path::new("/src/app/.git"),
            "feature/x",
        );
        let text = path.display().to_string();
        assert!(
            text.starts_with("/home/me/.cache/oneshot/worktrees/app-"),
            "{text}"
        );
        assert!(text.ends_with("/feature%2Fx"), "{text}");
        assert!(
            !path.components().any(|c| c.as_os_str() == ".git"),
            "agents refuse to edit below a .git directory: {text}"
        );
        // Two repositories of the same name get two directories.
        let other = worktree_path(
            Path::new("/home/me/.cache"),
            Path::new("/elsewhere/app/.git"),
            "feature/x",
        );
        assert_ne!(path, other);
    }
}
