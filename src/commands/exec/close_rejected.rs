//! `oneshot exec close-rejected`: the planner said no; the draft PR is closed with its reason.

use serde_json::json;

use super::Context;
use crate::actions::{Annotation, Level, Outputs};
use crate::cli::CloseRejectedArgs;
use crate::commands::connect_github;
use crate::error::{Error, Result};
use crate::plan::{self, PlanResult};
use crate::workspace::{self, Workspace};

pub const REJECTED_COMMENT: &str = "rejected";

pub fn run(args: &CloseRejectedArgs, ctx: &Context) -> Result<Outputs> {
    let ws = Workspace::find(&ctx.dir)?;
    let text = std::fs::read_to_string(ws.path(workspace::PLAN_RESULT)).map_err(|e| {
        Error::input(format!("could not read {}: {e}", workspace::PLAN_RESULT))
            .hint("run `oneshot exec validate-outputs` first")
    })?;
    let reason = match plan::parse_plan_result(&text) {
        Ok(PlanResult::Rejected { reason }) => reason,
        Ok(PlanResult::Accepted { .. }) => {
            return Err(Error::input(
                "the planner did not reject the task; there is nothing to close",
            ));
        }
        Err(problem) => {
            return Err(Error::input(format!(
                "{} is malformed: {}",
                workspace::PLAN_RESULT,
                problem.message
            )));
        }
    };
    let gh = connect_github(&args.github, ctx)?;
    let body = format!(
        "The planning session declined this task, so nothing was implemented:\n\n> {}\n\nReword the task and dispatch it again if it should be done.",
        reason.trim().replace('\n', "\n> ")
    );
    gh.upsert_owned_comment(args.pr, REJECTED_COMMENT, &body, false)?;
    gh.update_issue(
        args.pr,
        json!({ "state": "closed" }),
        "close the pull request",
    )?;
    let notice = format!("The task was rejected: {}", reason.trim());
    ctx.runner
        .annotate(Level::Notice, &notice, &Annotation::default());
    ctx.runner.summary(&format!(
        "### Task rejected\n\n> {}\n\nThe draft pull request #{} was closed.\n\n",
        reason.trim().replace('\n', "\n> "),
        args.pr
    ))?;
    Ok(Outputs::new()
        .with("rejected", true)
        .with("pr_number", args.pr))
}
