//! `oneshot exec register-one-shot-plan`: links the plan issue and the draft PR. The PR title and
//! body are essential; the issue comment is reported honestly if it fails, but does not fail the
//! step.

use serde_json::json;

use super::Context;
use crate::actions::{Annotation, Level, Outputs};
use crate::cli::RegisterOneShotPlanArgs;
use crate::commands::{connect_github, current_run_url, dry_run_target, requests_json};
use crate::error::{Error, Result};
use crate::github::{self, Issue};
use crate::markers::{self, Meta, StepRecord};
use crate::plan::Plan;
use crate::pr_body::{self, Section};
use crate::workspace::{self, Workspace};

pub const PR_LABEL: &str = "oneshot";
pub const LINK_COMMENT: &str = "pr-link";

/// One thing the step does, and how it went.
struct Operation {
    name: &'static str,
    essential: bool,
    outcome: std::result::Result<String, Error>,
}

pub fn run(args: &RegisterOneShotPlanArgs, ctx: &Context) -> Result<Outputs> {
    let ws = Workspace::find(&ctx.dir)?;
    let (_, plan) = super::plan_save_to_issue::read_plan(&ws)?;
    let prompt = read_prompt(&ws)?;
    let title = format!("{}{}", args.title_prefix, plan.title);
    let steps = queued_steps(&plan);

    if args.dry_run {
        let target = dry_run_target(&args.github, ctx)?;
        let run_url = current_run_url(ctx, &target.server_url, &target.repo);
        let meta = pr_meta(args, None, &plan, &steps, ctx, run_url.clone());
        let body = pr_body::apply(
            "",
            &section(args, &prompt, run_url.as_deref(), &steps),
            &meta,
        );
        let requests = vec![
            github::get_issue(&target.repo, args.pr, "read the pull request"),
            github::update_issue(
                &target.repo,
                args.pr,
                json!({ "title": title, "body": body, "labels": [PR_LABEL] }),
                "update the pull request",
            ),
            github::create_comment(
                &target.repo,
                args.issue,
                &github::with_comment_marker(LINK_COMMENT, &link_comment(args.pr)),
            ),
        ];
        return Ok(Outputs::new()
            .with("dry_run", true)
            .with("pr_number", args.pr)
            .with("issue_number", args.issue)
            .with("requests", requests_json(&target.api_url, &requests)));
    }

    let gh = connect_github(&args.github, ctx)?;
    let run_url = current_run_url(ctx, &gh.server_url, &gh.repo);
    let pr = gh.get_issue(args.pr, "read the pull request")?;
    if !pr.is_pull_request {
        return Err(
            Error::input(format!("#{} is an issue, not a pull request", args.pr))
                .hint("pass the draft PR's number with --pr"),
        );
    }
    let old_meta = markers::parse_meta(&pr.body);
    let branch = old_meta.as_ref().and_then(|m| m.branch.clone());
    let meta = pr_meta(args, branch, &plan, &steps, ctx, run_url.clone());
    let body = pr_body::apply(
        &pr.body,
        &section(args, &prompt, run_url.as_deref(), &steps),
        &meta,
    );

    let mut operations = Vec::new();
    let mut labels = pr.labels.clone();
    if !labels.iter().any(|l| l == PR_LABEL) {
        labels.push(PR_LABEL.to_string());
    }
    // Title, body and label in one request: the issues endpoint edits a PR's labels too.
    let updated: Result<Issue> = gh.update_issue(
        args.pr,
        json!({ "title": title, "body": body, "labels": labels }),
        "update the pull request",
    );
    let pr_url = updated
        .as_ref()
        .map(|u| u.html_url.clone())
        .unwrap_or_else(|_| pr.html_url.clone());
    operations.push(Operation {
        name: "PR title, body and label",
        essential: true,
        outcome: updated.map(|u| format!("[#{}]({})", u.number, u.html_url)),
    });

    if operations[0].outcome.is_ok() {
        // The comment can only exist if an earlier run already registered this issue.
        let known_absent = old_meta.as_ref().and_then(|m| m.issue) != Some(args.issue);
        let comment = gh.upsert_owned_comment(
            args.issue,
            LINK_COMMENT,
            &link_comment(args.pr),
            known_absent,
        );
        operations.push(Operation {
            name: "link comment on the plan issue",
            essential: false,
            outcome: comment.map(|c| format!("[comment]({})", c.html_url)),
        });
    }

    report(ctx, &operations)?;
    let failed: Vec<&str> = operations
        .iter()
        .filter(|o| o.outcome.is_err())
        .map(|o| o.name)
        .collect();
    if let Some(essential) = operations
        .into_iter()
        .find(|o| o.essential && o.outcome.is_err())
    {
        return Err(essential.outcome.unwrap_err());
    }
    Ok(Outputs::new()
        .with("pr_number", args.pr)
        .with("pr_url", pr_url)
        .with("issue_number", args.issue)
        .with("failed_operations", failed.join(",")))
}

fn read_prompt(ws: &Workspace) -> Result<String> {
    for file in [workspace::TASK, workspace::WORKER_TASK] {
        if let Ok(text) = std::fs::read_to_string(ws.path(file)) {
            return Ok(text);
        }
    }
    Err(Error::input(format!(
        "the task prompt is missing: neither {} nor {} exists",
        workspace::TASK,
        workspace::WORKER_TASK
    ))
    .hint("run `oneshot exec write-prompt` first"))
}

pub fn queued_steps(plan: &Plan) -> Vec<StepRecord> {
    plan.steps
        .iter()
        .map(|s| StepRecord::queued(s.number, &s.title))
        .collect()
}

fn section<'a>(
    args: &'a RegisterOneShotPlanArgs,
    prompt: &'a str,
    run_url: Option<&'a str>,
    steps: &'a [StepRecord],
) -> Section<'a> {
    Section {
        prompt,
        issue: Some(args.issue),
        run_url,
        submitted_by: args.submitted_by.as_deref(),
        agent: args.agent.as_deref(),
        model: args.model.as_deref(),
        steps,
        status: None,
    }
}

fn pr_meta(
    args: &RegisterOneShotPlanArgs,
    branch: Option<String>,
    plan: &Plan,
    steps: &[StepRecord],
    ctx: &Context,
    run_url: Option<String>,
) -> Meta {
    Meta {
        branch,
        pr: Some(args.pr),
        issue: Some(args.issue),
        run_id: ctx.env.github.run_id.clone(),
        run_url,
        agent: args.agent.clone(),
        model: args.model.clone(),
        plan_sha256: Some(plan.sha256()),
        steps: steps.to_vec(),
        ..Meta::new()
    }
}

fn link_comment(pr: u64) -> String {
    format!(
        "This plan is being implemented in #{pr}. Progress is shown in the pull request; edit the steps in this issue before implementation starts to change what gets built."
    )
}

/// A table in the step summary and an annotation per failure.
fn report(ctx: &Context, operations: &[Operation]) -> Result<()> {
    let mut md = String::from("### Plan registered\n\n| operation | result |\n|---|---|\n");
    for op in operations {
        let result = match &op.outcome {
            Ok(link) => format!("✅ {link}"),
            Err(e) => format!("❌ {}", markers::escape_inline(&e.render())),
        };
        md.push_str(&format!("| {} | {result} |\n", op.name));
        if let Err(e) = &op.outcome {
            let level = if op.essential {
                Level::Error
            } else {
                Level::Warning
            };
            ctx.runner.annotate(
                level,
                &format!("{} failed: {}", op.name, e.render()),
                &Annotation::default(),
            );
        }
    }
    md.push('\n');
    ctx.runner.summary(&md)
}
