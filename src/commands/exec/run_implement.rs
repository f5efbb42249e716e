//! `oneshot exec run-implement`: the step loop of `implement.rs` with the GitHub tracker.

use super::Context;
use crate::actions::Outputs;
use crate::cli::RunImplementArgs;
use crate::commands::{connect_github, current_run_url};
use crate::config::{self, Overrides};
use crate::error::{Error, Result};
use crate::implement::{self, Engine};
use crate::tracker::Tracker;
use crate::tracker::github::GitHubTracker;
use crate::workspace::Workspace;

pub fn run(args: &RunImplementArgs, ctx: &Context) -> Result<Outputs> {
    let ws = Workspace::find(&ctx.dir)?;
    ws.ensure_impl_dir()?;
    let overrides = Overrides {
        agent: args.agent.clone(),
        model: args.model.clone(),
        ..Overrides::default()
    };
    let settings = config::load(&ws.root, ctx.env, &overrides)?;
    let session = implement::session_settings(&settings)?;
    let branch = match &args.branch {
        Some(b) => b.clone(),
        None => ws.git.current_branch()?.ok_or_else(|| {
            Error::input("HEAD is detached, so the branch to push to is unknown")
                .hint("pass --branch BRANCH")
        })?,
    };
    let gh = connect_github(&args.github, ctx)?;
    let pr = match args.pr {
        Some(pr) => pr,
        None => crate::tracker::github::pr_of_issue(&gh, args.issue)?,
    };
    let mut tracker = GitHubTracker {
        gh: &gh,
        pr: Some(pr),
        issue: args.issue,
        branch: Some(branch.clone()),
        run_url: current_run_url(ctx, &gh.server_url, &gh.repo),
        title_prefix: settings.pr.title_prefix.clone(),
        reviewers: Vec::new(),
        just_read: None,
        pull: None,
    };
    // Step commits go to the pull request's own branch, never anywhere else (the trunk, say,
    // when a checkout was left on it).
    let head = tracker.pull_request()?.head_ref;
    if head != branch {
        return Err(Error::input(format!(
            "refusing to implement on `{branch}`: pull request #{pr} is on `{head}`"
        ))
        .hint(format!(
            "check out `{head}` first (in the workflow: the input branch_name)"
        )));
    }
    // fetch-plan, the step before in the same job, has just read and checked the issue.
    let record = match read_fetched_plan(&ws)? {
        Some(record) => record,
        None => tracker.plan()?,
    };
    let engine = Engine {
        runner: ctx.runner,
        ws: &ws,
        git: ws.git.clone(),
        branch,
        remote: gh.authenticated_remote(&ws.git, "origin")?,
        push: true,
        session,
        verify_command: settings.verify.command.clone(),
        verify_timeout: settings.verify.timeout,
        verify_retries: settings.verify.retries,
        step_timeout: settings.step_timeout,
        budget_usd: settings.budget_usd,
        protected_paths: settings.protected_paths.clone(),
        submitted_by: args.submitted_by.clone(),
        resume_hint: Box::new(move |k| {
            format!(
                "`oneshot resume {pr} --from-step {k}`, or run the plan-implement workflow with `from_step: {k}`"
            )
        }),
        watch: None,
    };
    let outcome = engine.run(&mut tracker as &mut dyn Tracker, &record, args.from_step);
    // What the agent's code started in a check after the last push does not outlive the step.
    crate::agent::process::end_leftover_processes();
    let outcome = outcome?;
    let mut summary =
        String::from("### Implementation\n\n| step | state | time | cost |\n|---|---|---|---|\n");
    for s in &outcome.steps {
        summary.push_str(&format!(
            "| {}. {} | {} | {} | {} |\n",
            s.number,
            crate::markers::escape_inline(&s.title).replace('|', "\\\\|"),
            s.state.label(),
            s.duration_s
                .map(crate::markers::format_duration)
                .unwrap_or_default(),
            s.cost_usd.map(|c| format!("${c:.2}")).unwrap_or_default()
        ));
    }
    ctx.runner.summary(&summary)?;
    Ok(Outputs::new()
        .with("completed_steps", outcome.completed.len())
        .with("failed_step", "")
        .with("cost_usd", format!("{:.4}", outcome.cost_usd))
        .with("duration_s", format!("{:.1}", outcome.duration_s)))
}

/// The plan `exec fetch-plan` wrote to `.impl/plan.md` in this job, if it is there.
fn read_fetched_plan(ws: &Workspace) -> Result<Option<crate::tracker::PlanRecord>> {
    let Ok(text) = std::fs::read_to_string(ws.path(crate::workspace::PLAN)) else {
        return Ok(None);
    };
    match crate::plan::parse(&text) {
        Ok(plan) => Ok(Some(crate::tracker::PlanRecord {
            text,
            plan,
            branch: None,
        })),
        // Not the file fetch-plan writes (it validates first): ask the issue.
        Err(_) => Ok(None),
    }
}
