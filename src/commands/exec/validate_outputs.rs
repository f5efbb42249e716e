//! `oneshot exec validate-outputs`: checks what the planning session left in `.impl/`, the plan
//! and the result file, before the plan becomes an issue.

use std::path::Path;

use super::Context;
use crate::actions::{Annotation, Level, Outputs};
use crate::cli::ValidateOutputsArgs;
use crate::error::{Error, IoContext, Result};
use crate::plan::{self, Plan, PlanResult, Problem};
use crate::workspace::{self, Workspace};

/// GitHub shows at most 10 error annotations per step; the last one is left for the step's own
/// error, which says how many problems there are.
const ANNOTATED_PROBLEMS: usize = 9;
/// Problems listed in an error message (the step summary lists them all).
const LISTED_PROBLEMS: usize = 50;

pub fn run(_args: &ValidateOutputsArgs, ctx: &Context) -> Result<Outputs> {
    let ws = Workspace::find(&ctx.dir)?;
    Ok(match validate(ctx, &ws)? {
        Validated::Plan(plan) => Outputs::new()
            .with("plan_title", plan.title.as_str())
            .with("step_count", plan.steps.len())
            .with("rejected", false)
            .with("reason", ""),
        Validated::Rejected(reason) => Outputs::new()
            .with("rejected", true)
            .with("reason", reason)
            .with("plan_title", "")
            .with("step_count", 0),
    })
}

/// What the planning session decided, once checked.
#[derive(Debug, Clone)]
pub enum Validated {
    /// A valid plan (the text is `.impl/plan.md`).
    Plan(Plan),
    /// The planner rejected the task, for this reason.
    Rejected(String),
}

/// Checks `.impl/plan-result.json` and `.impl/plan.md` in the work tree `ws` and reports what it
/// finds (annotations, step summary). An invalid plan is an error that lists every problem.
/// `exec validate-outputs` and `oneshot run` both validate through here.
pub fn validate(ctx: &Context, ws: &Workspace) -> Result<Validated> {
    // The result first: a rejected task needs no plan.
    let result = match read_text(&ws.path(workspace::PLAN_RESULT), workspace::PLAN_RESULT)? {
        Some(text) => Some(plan::parse_plan_result(&text).map_err(|problem| {
            // A JSON error names its line and column in the message.
            Error::input(format!(
                "{} is malformed: {}",
                workspace::PLAN_RESULT,
                problem.message
            ))
            .hint("the planning session must write this file as described in its prompt")
        })?),
        None => None,
    };
    if let Some(PlanResult::Rejected { reason }) = &result {
        rejected(ctx, reason, ws.path(workspace::PLAN).is_file());
        return Ok(Validated::Rejected(reason.clone()));
    }

    let Some(text) = read_text(&ws.path(workspace::PLAN), workspace::PLAN)? else {
        let mut err = Error::input(format!(
            "the planning session did not write {}",
            workspace::PLAN
        ))
        .cause(format!(
            "{} does not exist",
            ws.path(workspace::PLAN).display()
        ));
        if result.is_none() {
            err = err.cause(format!("{} does not exist either", workspace::PLAN_RESULT));
        }
        return Err(err.hint(format!(
            "the planner must write the plan to {} or reject the task in {}; see the planning session's log above",
            workspace::PLAN,
            workspace::PLAN_RESULT
        )));
    };

    // Warnings only matter for a plan that will be used; an invalid plan shows its problems.
    let checked = plan::check(&text);
    let plan = match checked.plan {
        Ok(plan) => plan,
        Err(problems) => return Err(invalid(ctx, &problems)),
    };
    for warning in &checked.warnings {
        ctx.runner.annotate(
            Level::Warning,
            &warning.message,
            &Annotation::file_line(workspace::PLAN, warning.line),
        );
    }

    match &result {
        None => ctx.runner.annotate(
            Level::Warning,
            &format!(
                "the planning session did not write {}; the title is taken from the plan",
                workspace::PLAN_RESULT
            ),
            &Annotation::default(),
        ),
        Some(PlanResult::Accepted { title, .. }) if title.trim() != plan.title => ctx.runner.annotate(
            Level::Warning,
            &format!(
                "the title in {} ({title:?}) differs from the plan's title ({:?}); using the plan's title",
                workspace::PLAN_RESULT,
                plan.title
            ),
            &Annotation::default(),
        ),
        _ => {}
    }

    ctx.runner.info(&format!(
        "Plan: {} ({}, sha256 {})",
        plan.title,
        plural(plan.steps.len(), "step", "steps"),
        plan.sha256()
    ));
    write_summary(ctx, &plan_summary(&plan));
    Ok(Validated::Plan(plan))
}

/// Reads a UTF-8 file; `None` when it does not exist.
fn read_text(path: &Path, name: &str) -> Result<Option<String>> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).io_context(|| format!("could not read {name}")),
    };
    match String::from_utf8(bytes) {
        Ok(text) => Ok(Some(text)),
        Err(e) => Err(Error::input(format!(
            "{name} is not valid UTF-8 (invalid bytes at offset {})",
            e.utf8_error().valid_up_to()
        ))
        .hint("the planning session must write UTF-8 text")),
    }
}

/// The task was rejected: not an error, the workflow reports it and stops.
fn rejected(ctx: &Context, reason: &str, plan_exists: bool) {
    ctx.runner.annotate(
        Level::Warning,
        reason,
        &Annotation {
            title: Some("The planning session rejected the task".into()),
            ..Default::default()
        },
    );
    if plan_exists {
        ctx.runner.info(&format!(
            "The task was rejected, so {} is not used.",
            workspace::PLAN
        ));
    }
    let quoted: String = reason.lines().map(|l| format!("> {l}\n")).collect();
    let markdown = format!(
        "## Task rejected\n\nThe planning session rejected the task, so there is no plan and nothing will be implemented.\n\n**Reason:**\n\n{quoted}"
    );
    write_summary(ctx, &markdown);
}

/// Reports every problem and returns the step's error. Inside Actions each problem is an
/// annotation on its line (up to GitHub's limit) and the step summary lists them all; outside
/// Actions the error lists them, as `file:line: message` lines.
fn invalid(ctx: &Context, problems: &[Problem]) -> Error {
    let count = problems.len();
    let mut err = Error::input(format!(
        "the plan in {} has {}",
        workspace::PLAN,
        plural(count, "problem", "problems")
    ));
    let listed = if ctx.runner.in_actions() {
        for problem in problems.iter().take(ANNOTATED_PROBLEMS) {
            ctx.runner.annotate(
                Level::Error,
                &problem.message,
                &Annotation::file_line(workspace::PLAN, problem.line),
            );
        }
        write_summary(ctx, &problems_summary(problems));
        &problems[count.min(ANNOTATED_PROBLEMS)..]
    } else {
        problems
    };
    for problem in listed.iter().take(LISTED_PROBLEMS) {
        err = err.cause(format!(
            "{}:{}: {}",
            workspace::PLAN,
            problem.line,
            problem.message
        ));
    }
    if listed.len() > LISTED_PROBLEMS {
        err = err.cause(format!("… and {} more", listed.len() - LISTED_PROBLEMS));
    }
    err.hint("the planning session must fix the plan: run the plan job again, and if the planner keeps writing invalid plans, check its prompt (.claude/commands/oneshot/plan.md)")
}

/// The step summary is a report: failing to write it must not change the step's outcome.
fn write_summary(ctx: &Context, markdown: &str) {
    if let Err(e) = ctx.runner.summary(markdown) {
        ctx.runner
            .annotate(Level::Warning, &e.render(), &Annotation::default());
    }
}

fn plan_summary(plan: &Plan) -> String {
    let mut md = format!(
        "## Plan: {}\n\n{}\n\n",
        escape_title(&plan.title),
        plural(plan.steps.len(), "step", "steps")
    );
    md.push_str("| Step | Title |\n| ---: | --- |\n");
    for step in &plan.steps {
        md.push_str(&format!(
            "| {} | {} |\n",
            step.number,
            escape_title(&step.title)
        ));
    }
    if !plan.summary.is_empty() {
        md.push_str("\n<details><summary>Summary</summary>\n\n");
        md.push_str(&plan.summary);
        md.push_str("\n\n</details>\n");
    }
    md
}

fn problems_summary(problems: &[Problem]) -> String {
    let mut md = format!(
        "## The plan is invalid\n\nThe planning session wrote a plan that oneshot cannot use. {} in `{}`:\n\n",
        plural(problems.len(), "problem", "problems"),
        workspace::PLAN
    );
    md.push_str("| Line | Problem |\n| ---: | --- |\n");
    for problem in problems {
        md.push_str(&format!(
            "| {} | {} |\n",
            problem.line,
            cell(&problem.message)
        ));
    }
    md
}

/// Text inside a Markdown table cell: no column breaks. (A `\|` stays an escaped pipe inside
/// code spans too, in GitHub's tables.)
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace(['\r', '\n'], " ")
}

/// A title in a heading or a cell: no column breaks, and `<…>` shown as text rather than taken
/// for HTML.
fn escape_title(text: &str) -> String {
    cell(text).replace('<', "\\<")
}

fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("{n} {one}")
    } else {
        format!("{n} {many}")
    }
}
