//! `oneshot exec plan-failed`: the plan job failed; the draft PR says so and how to try again.

use super::Context;
use crate::actions::Outputs;
use crate::agent::{self, Phase, SessionReport};
use crate::cli::PlanFailedArgs;
use crate::commands::{connect_github, current_run_url};
use crate::error::Result;
use crate::markers;
use crate::workspace::{self, Workspace};

pub const PLAN_FAILURE_COMMENT: &str = "plan-failure";

pub fn run(args: &PlanFailedArgs, ctx: &Context) -> Result<Outputs> {
    let gh = connect_github(&args.github, ctx)?;
    // The planning session's report, when it got that far.
    let report: Option<SessionReport> = Workspace::find(&ctx.dir).ok().and_then(|ws| {
        let path = agent::report_path(&ws.path(workspace::RUNS_DIR), Phase::Plan);
        std::fs::read_to_string(path)
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok())
    });
    let mut body =
        String::from("### ❌ Planning failed\n\nNo plan was saved, so nothing was implemented.");
    if let Some(url) = current_run_url(ctx, &gh.server_url, &gh.repo) {
        body.push_str(&format!(
            " The failed step and its log are in the [workflow run]({url})."
        ));
    }
    body.push('\n');
    if let Some(report) = &report {
        body.push_str(&format!(
            "\nThe planning session ended: **{}**",
            report.outcome.as_str()
        ));
        if let Some(error) = &report.error {
            body.push_str(&format!(" — {}", markers::escape_inline(error)));
        }
        body.push('\n');
        if let Some(text) = report
            .final_text
            .as_deref()
            .filter(|t| !t.trim().is_empty())
        {
            let tail: String = text
                .chars()
                .rev()
                .take(3000)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            body.push_str(&format!(
                "\n<details><summary>The agent's last output</summary>\n\n{}\n</details>\n",
                markers::code_block(&tail, "text")
            ));
        }
    }
    body.push_str("\nTo try again, re-run the failed job, or dispatch the task again (`oneshot dispatch`). This pull request stays a draft.\n");
    let comment = gh.upsert_owned_comment(args.pr, PLAN_FAILURE_COMMENT, &body, false)?;
    ctx.runner.info(&format!(
        "Reported the failed plan on #{}: {}",
        args.pr, comment.html_url
    ));
    Ok(Outputs::new().with("pr_number", args.pr))
}
