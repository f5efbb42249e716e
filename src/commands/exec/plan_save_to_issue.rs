//! `oneshot exec plan-save-to-issue`: the plan becomes a GitHub issue, the hand-off between the
//! plan job and the implement job. Created once; every re-run updates the same issue.

use serde_json::json;

use super::Context;
use crate::actions::Outputs;
use crate::cli::PlanSaveToIssueArgs;
use crate::commands::{connect_github, current_run_url, dry_run_target, requests_json};
use crate::error::{Error, Result};
use crate::github::{self, GitHub, Issue, RepoSlug};
use crate::markers::{self, Meta};
use crate::plan::{self, Plan};
use crate::workspace::{self, Workspace};

pub const PLAN_LABEL: &str = "oneshot:plan";
const PLAN_LABEL_COLOR: &str = "5319e7";
const PLAN_LABEL_DESCRIPTION: &str =
    "A plan written by oneshot; edit its steps to change what gets implemented";

/// GitHub's limit for an issue body, in characters.
pub const MAX_BODY_CHARS: usize = 65_536;

pub fn run(args: &PlanSaveToIssueArgs, ctx: &Context) -> Result<Outputs> {
    let ws = Workspace::find(&ctx.dir)?;
    let (text, plan) = read_plan(&ws)?;
    let branch = match &args.branch {
        Some(b) => b.clone(),
        None => ws.git.current_branch()?.ok_or_else(|| {
            Error::input("HEAD is detached, so the branch of the plan is unknown")
                .hint("pass --branch BRANCH")
        })?,
    };

    if args.dry_run {
        let target = dry_run_target(&args.github, ctx)?;
        let run_url = current_run_url(ctx, &target.server_url, &target.repo);
        let meta = issue_meta(args, &branch, &plan, ctx, run_url.clone());
        let body = issue_body(&text, &meta, &branch, args.pr, run_url.as_deref())?;
        let requests = vec![
            github::list_issues_with_label(&target.repo, PLAN_LABEL, 1),
            github::create_label(
                &target.repo,
                PLAN_LABEL,
                PLAN_LABEL_COLOR,
                PLAN_LABEL_DESCRIPTION,
            ),
            github::create_issue(&target.repo, &plan.title, &body, &[PLAN_LABEL]),
        ];
        ctx.runner.info(&format!(
            "Dry run: would save the plan \"{}\" to a new issue in {}",
            plan.title, target.repo
        ));
        return Ok(Outputs::new()
            .with("dry_run", true)
            .with("issue_title", plan.title.clone())
            .with("requests", requests_json(&target.api_url, &requests)));
    }

    let gh = connect_github(&args.github, ctx)?;
    let run_url = current_run_url(ctx, &gh.server_url, &gh.repo);
    let meta = issue_meta(args, &branch, &plan, ctx, run_url.clone());
    let body = issue_body(&text, &meta, &branch, args.pr, run_url.as_deref())?;

    let existing = gh.issues_with_label(PLAN_LABEL)?;
    let label_exists = !existing.is_empty();
    let issue = match find_plan_issue(&existing, &branch, args.pr) {
        Some(found) => {
            let patch = json!({ "title": plan.title, "body": body, "state": "open" });
            let updated = gh.update_issue(found.number, patch, "update the plan issue")?;
            ctx.runner.info(&format!(
                "Updated plan issue #{} ({})",
                updated.number, updated.html_url
            ));
            updated
        }
        None => {
            if !label_exists {
                gh.ensure_label(PLAN_LABEL, PLAN_LABEL_COLOR, PLAN_LABEL_DESCRIPTION)?;
            }
            let created = create_plan_issue(&gh, &gh.repo, &plan, &body, &branch, args.pr)?;
            ctx.runner.info(&format!(
                "Created plan issue #{} ({})",
                created.number, created.html_url
            ));
            created
        }
    };

    ctx.runner.summary(&format!(
        "### Plan saved\n\n[#{} {}]({}) — {} steps\n\n",
        issue.number,
        markers::escape_inline(&plan.title),
        issue.html_url,
        plan.steps.len()
    ))?;
    Ok(Outputs::new()
        .with("issue_number", issue.number)
        .with("issue_url", issue.html_url)
        .with("issue_title", plan.title))
}

/// The plan as written and as parsed; an invalid plan is not saved.
pub fn read_plan(ws: &Workspace) -> Result<(String, Plan)> {
    let path = ws.path(workspace::PLAN);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        Error::input(format!("could not read {}: {e}", workspace::PLAN))
            .hint("the planning session writes it; run `oneshot exec run-plan` and `validate-outputs` first")
    })?;
    let plan = plan::parse(&text).map_err(|problems| {
        let mut err = Error::input(format!(
            "{} is not a valid plan ({} problems)",
            workspace::PLAN,
            problems.len()
        ));
        for p in problems.iter().take(5) {
            err = err.cause(format!("line {}: {}", p.line, p.message));
        }
        err.hint("run `oneshot exec validate-outputs` to see every problem")
    })?;
    Ok((text, plan))
}

fn issue_meta(
    args: &PlanSaveToIssueArgs,
    branch: &str,
    plan: &Plan,
    ctx: &Context,
    run_url: Option<String>,
) -> Meta {
    Meta {
        branch: Some(branch.to_string()),
        pr: args.pr,
        run_id: ctx.env.github.run_id.clone(),
        run_url,
        agent: args.agent.clone(),
        model: args.model.clone(),
        plan_sha256: Some(plan.sha256()),
        ..Meta::new()
    }
}

/// The plan, the metadata marker, then a footer. The plan is everything before the marker, so
/// `fetch-plan` reads back exactly what a person sees and edits.
pub fn issue_body(
    plan_text: &str,
    meta: &Meta,
    branch: &str,
    pr: Option<u64>,
    run_url: Option<&str>,
) -> Result<String> {
    let mut footer = String::from("---\n<sub>Plan written by oneshot");
    if let Some(pr) = pr {
        footer.push_str(&format!(" for #{pr}"));
    }
    footer.push_str(&format!(
        " on `{}`",
        markers::escape_inline(branch).replace('`', "'")
    ));
    if let Some(url) = run_url {
        footer.push_str(&format!(" · [workflow run]({url})"));
    }
    footer.push_str(". Edit the steps above before implementation starts to change what gets built; keep the `### Step N:` headings.</sub>\n");
    // A plan cannot carry markers of its own: they would read as oneshot's.
    let plan_text = plan_text.replace("<!-- oneshot:", "&lt;!-- oneshot:");
    let body = format!(
        "{}\n\n{}\n{footer}",
        plan_text.trim_end(),
        markers::render_meta(meta)
    );
    let chars = body.chars().count();
    if chars > MAX_BODY_CHARS {
        return Err(Error::input(format!(
            "the plan issue body would be {chars} characters; GitHub allows at most {MAX_BODY_CHARS}"
        ))
        .hint("the planner must write a shorter plan: fewer, more concise steps"));
    }
    Ok(body)
}

/// The plan issue of this branch or PR, found through its metadata marker.
fn find_plan_issue<'a>(issues: &'a [Issue], branch: &str, pr: Option<u64>) -> Option<&'a Issue> {
    issues.iter().find(|issue| {
        markers::parse_meta(&issue.body)
            .is_some_and(|m| m.branch.as_deref() == Some(branch) || (pr.is_some() && m.pr == pr))
    })
}

fn create_plan_issue(
    gh: &GitHub,
    repo: &RepoSlug,
    plan: &Plan,
    body: &str,
    branch: &str,
    pr: Option<u64>,
) -> Result<Issue> {
    let request = github::create_issue(repo, &plan.title, body, &[PLAN_LABEL]);
    gh.create(
        &request,
        |r| Issue::from_json(&r.body),
        |gh| Ok(find_plan_issue(&gh.issues_with_label(PLAN_LABEL)?, branch, pr).cloned()),
    )
}
