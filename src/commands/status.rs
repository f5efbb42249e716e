//! `oneshot status <PR|branch>`: the steps of a one-shot and its latest run.

use serde_json::{Value, json};

use super::{Context, connect_github};
use crate::cli::StatusArgs;
use crate::error::{Error, Result};
use crate::git::Git;
use crate::github::{GitHub, PullRequest, Request};
use crate::launch;
use crate::markers::{self, StepRecord, StepState};
use crate::tracker::local::{self, Phase, PlanStore};

pub fn run(args: &StatusArgs, ctx: &Context) -> Result<()> {
    if let Some(store) = local_store(ctx, &args.target) {
        return local_status(args, ctx, &store);
    }
    let gh = connect_github(&args.github, ctx)?;
    let pr = find_pull(&gh, &args.target)?;
    let meta = markers::parse_meta(&pr.body);
    let steps = meta.as_ref().map(|m| m.steps.clone()).unwrap_or_default();
    let run = match meta.as_ref().and_then(|m| m.run_id.clone()) {
        Some(id) => gh
            .send(&Request::get(
                format!("{}/actions/runs/{id}", gh.repo.api_path()),
                "read the workflow run",
            ))
            .ok()
            .map(|r| r.body),
        None => None,
    };
    let pr_state = pr.state_label();
    let cost: f64 = steps.iter().filter_map(|s| s.cost_usd).sum();
    let duration: f64 = steps.iter().filter_map(|s| s.duration_s).sum();
    let run_status = run.as_ref().map(|r| {
        let status = r.get("status").and_then(Value::as_str).unwrap_or("unknown");
        match r.get("conclusion").and_then(Value::as_str) {
            Some(c) if status == "completed" => c.to_string(),
            _ => status.replace('_', " "),
        }
    });
    let run_url = run
        .as_ref()
        .and_then(|r| {
            r.get("html_url")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .or_else(|| meta.as_ref().and_then(|m| m.run_url.clone()));

    if args.json {
        return ctx.runner.print_json(&json!({
            "success": true,
            "pr_number": pr.number,
            "pr_url": pr.html_url,
            "pr_state": pr_state,
            "branch": pr.head_ref,
            "issue_number": meta.as_ref().and_then(|m| m.issue),
            "run_status": run_status,
            "run_url": run_url,
            "steps": steps,
            "completed_steps": steps.iter().filter(|s| s.state == StepState::Done).count(),
            "cost_usd": cost,
            "duration_s": duration,
        }));
    }
    let mut out = format!(
        "#{} {} — {pr_state}\n{}\n",
        pr.number, pr.title, pr.html_url
    );
    if let Some(issue) = meta.as_ref().and_then(|m| m.issue) {
        out.push_str(&format!("Plan: #{issue}\n"));
    }
    if let Some(status) = &run_status {
        out.push_str(&format!(
            "Run: {status}{}\n",
            run_url
                .as_deref()
                .map(|u| format!(" ({u})"))
                .unwrap_or_default()
        ));
    }
    if steps.is_empty() {
        out.push_str("\nNo plan yet.\n");
    } else {
        out.push('\n');
        out.push_str(&steps_table(&steps, false));
        let done = steps.iter().filter(|s| s.state == StepState::Done).count();
        out.push_str(&format!(
            "\n{done} of {} steps done · {} · ${cost:.2}\n",
            steps.len(),
            markers::format_duration(duration)
        ));
        if let Some(failed) = steps.iter().find(|s| s.state == StepState::Failed) {
            out.push_str(&format!(
                "Step {} failed. Resume with: oneshot resume {} --from-step {}\n",
                failed.number, pr.number, failed.number
            ));
        }
    }
    ctx.runner.print_line(out.trim_end());
    Ok(())
}

/// One line per step: number, title, state, time, cost (and the commit, when asked).
pub fn steps_table(steps: &[StepRecord], commits: bool) -> String {
    let width = steps
        .iter()
        .map(|s| s.title.chars().count())
        .max()
        .unwrap_or(0)
        .min(60);
    let mut out = String::new();
    for s in steps {
        let title: String = s.title.chars().take(60).collect();
        let cost = s.cost_usd.map(|c| format!("${c:.2}")).unwrap_or_default();
        let mut line = format!(
            "  {:>2}. {:<width$}  {:<11}  {:>7}  ",
            s.number,
            title,
            s.state.label(),
            s.duration_s
                .map(markers::format_duration)
                .unwrap_or_default(),
        );
        if commits {
            let commit: String = s
                .commit
                .as_deref()
                .unwrap_or_default()
                .chars()
                .take(7)
                .collect();
            line = format!("{line}{cost:<6}  {commit}").trim_end().to_string();
        } else {
            line.push_str(&cost);
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// The plan store of a local run named by `target`, when there is one (no token needed then).
fn local_store(ctx: &Context, target: &str) -> Option<PlanStore> {
    let target = target.trim();
    if target.is_empty() || target.trim_start_matches('#').parse::<u64>().is_ok() {
        return None;
    }
    let common_dir = Git::new(&ctx.dir).common_dir().ok()?;
    PlanStore::open(&common_dir, target)
}

/// `oneshot status BRANCH` for a run of `oneshot run`: the plan store, no network.
fn local_status(args: &StatusArgs, ctx: &Context, store: &PlanStore) -> Result<()> {
    let state = store.state()?;
    let resume = format!("oneshot run --resume {}", state.branch);
    let (situation, next) = match state.phase {
        Phase::Planning => (
            "planning: no valid plan yet".to_string(),
            Some(format!("Plan again with: {resume}")),
        ),
        Phase::Rejected => ("the planner rejected the task".to_string(), None),
        Phase::Planned => (
            "planned, nothing implemented yet".to_string(),
            Some(format!("Implement it with: {resume}")),
        ),
        Phase::Implementing => (
            "implementing".to_string(),
            Some(format!(
                "If it is not running any more, continue with: {resume}"
            )),
        ),
        Phase::Failed => (
            match state.failed_step() {
                Some(k) => format!("failed at step {k}"),
                None => "failed".to_string(),
            },
            Some(format!("Resume with: {resume}")),
        ),
        Phase::Done => ("done".to_string(), None),
    };
    if args.json {
        return ctx.runner.print_json(&json!({
            "success": true,
            "local": true,
            "branch": state.branch,
            "phase": state.phase,
            "worktree": state.worktree.display().to_string(),
            "store": store.dir.display().to_string(),
            "base_commit": state.base_commit,
            "base_ref": state.base_ref,
            "plan_title": state.plan_title,
            "reason": state.reason,
            "pushed": state.pushed,
            "steps": state.steps,
            "completed_steps": state.done_steps(),
            "failed_step": state.failed_step(),
            "cost_usd": state.cost_usd(),
            "duration_s": state.duration_s(),
        }));
    }
    let mut out = format!("{} (local run) — {situation}\n", state.branch);
    if let Some(title) = &state.plan_title {
        out.push_str(&format!(
            "Plan: {title} ({})\n",
            store.path(local::PLAN).display()
        ));
    }
    if let Some(reason) = &state.reason {
        out.push_str(&format!(
            "Reason: {}\n",
            reason.lines().next().unwrap_or_default()
        ));
    }
    if !state.steps.is_empty() {
        out.push('\n');
        out.push_str(&steps_table(&state.steps, true));
        out.push_str(&format!(
            "\n{} of {} steps done · {} · ${:.2}\n",
            state.done_steps(),
            state.steps.len(),
            markers::format_duration(state.duration_s()),
            state.cost_usd()
        ));
    }
    if state.phase != Phase::Rejected {
        out.push('\n');
        out.push_str(&super::run::review_lines(&state));
    }
    if let Some(next) = next {
        out.push_str(&format!("{next}\n"));
    }
    ctx.runner.print_line(out.trim_end());
    Ok(())
}

/// The pull request named by number, or found by its head branch.
pub fn find_pull(gh: &GitHub, target: &str) -> Result<PullRequest> {
    let target = target.trim().trim_start_matches('#');
    if let Ok(number) = target.parse::<u64>() {
        return gh.get_pull(number);
    }
    let list = gh
        .send(&launch::list_pulls_for_branch(&gh.repo, target))?
        .body;
    match list.as_array().and_then(|a| a.first()) {
        Some(first) => PullRequest::from_json(first),
        None => Err(Error::input(format!("no pull request has the branch `{target}`"))
            .hint("pass the pull request's number, or check the branch name with `git ls-remote origin`")),
    }
}
