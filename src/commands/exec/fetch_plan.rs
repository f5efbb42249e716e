//! `oneshot exec fetch-plan`: the implement job knows the plan only from its issue.

use super::Context;
use crate::actions::Outputs;
use crate::cli::FetchPlanArgs;
use crate::commands::{connect_github, current_run_url};
use crate::error::{IoContext, Result};
use crate::tracker::Tracker;
use crate::tracker::github::GitHubTracker;
use crate::workspace::{self, Workspace};

pub fn run(args: &FetchPlanArgs, ctx: &Context) -> Result<Outputs> {
    let ws = Workspace::find(&ctx.dir)?;
    // In a workflow started without branch_name, the checkout is the trunk's: the plan issue
    // names the branch, which is then checked out. Elsewhere the checkout must match the issue.
    let follow_issue = args.branch.is_none() && ctx.runner.in_actions();
    let branch = match &args.branch {
        Some(b) => Some(b.clone()),
        None if follow_issue => None,
        None => ws.git.current_branch()?,
    };
    let gh = connect_github(&args.github, ctx)?;
    let mut tracker = GitHubTracker {
        gh: &gh,
        pr: args.pr,
        issue: args.issue,
        branch,
        run_url: current_run_url(ctx, &gh.server_url, &gh.repo),
        title_prefix: String::new(),
        reviewers: Vec::new(),
        just_read: None,
        pull: None,
    };
    let record = tracker.plan()?;
    if follow_issue
        && let Some(recorded) = &record.branch
        && ws.git.current_branch()?.as_deref() != Some(recorded.as_str())
    {
        gh.authenticated_remote(&ws.git, "origin")?
            .check_out_branch(recorded)?;
        ctx.runner.info(&format!(
            "Checked out {recorded}, the branch plan issue #{} names",
            args.issue
        ));
    }
    ws.ensure_impl_dir()?;
    let path = ws.path(workspace::PLAN);
    std::fs::write(&path, &record.text)
        .io_context(|| format!("could not write {}", workspace::PLAN))?;
    ctx.runner.info(&format!(
        "Fetched the plan \"{}\" ({} steps) from issue #{} into {}",
        record.plan.title,
        record.plan.steps.len(),
        args.issue,
        workspace::PLAN
    ));
    Ok(Outputs::new()
        .with("step_count", record.plan.steps.len())
        .with("plan_title", record.plan.title))
}
