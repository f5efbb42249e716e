//! `oneshot resume <PR> [--from-step K]`: continue a one-shot with the implement workflow.

use serde_json::{Value, json};

use super::status::find_pull;
use super::{Context, connect_github};
use crate::cli::ResumeArgs;
use crate::error::{Error, Result};
use crate::github::{self, HttpMethod, Request};
use crate::markers::{self, StepState};

pub fn run(args: &ResumeArgs, ctx: &Context) -> Result<()> {
    let choice =
        crate::launch::check_agent_and_model(args.agent.as_deref(), args.model.as_deref())?;
    let gh = connect_github(&args.github, ctx)?;
    let pr = find_pull(&gh, &args.pr.to_string())?;
    if pr.state == "closed" {
        return Err(
            Error::input(format!("pull request #{} is closed", pr.number))
                .hint("reopen it first if the work should go on"),
        );
    }
    let meta = markers::parse_meta(&pr.body).ok_or_else(|| {
        Error::input(format!(
            "pull request #{} has no oneshot metadata",
            pr.number
        ))
        .hint("resume works on pull requests oneshot opened and planned")
    })?;
    let issue = meta.issue.ok_or_else(|| {
        Error::input(format!("pull request #{} has no plan yet", pr.number))
            .hint("the plan job has not saved a plan issue; dispatch the task again")
    })?;
    let from_step = match args.from_step {
        Some(k) => {
            if !meta.steps.is_empty() && !meta.steps.iter().any(|s| s.number == k) {
                return Err(Error::input(format!(
                    "the plan has no step {k} (steps 1 to {})",
                    meta.steps.len()
                )));
            }
            k
        }
        None => match meta.steps.iter().find(|s| s.state != StepState::Done) {
            Some(s) => s.number,
            None if !meta.steps.is_empty() => {
                return Err(
                    Error::input(format!("every step of #{} is done", pr.number))
                        .hint("pass --from-step K to implement steps again"),
                );
            }
            None => 1,
        },
    };
    if meta.steps.iter().any(|s| s.state == StepState::InProgress) {
        ctx.runner.info("Note: a step is recorded as in progress; if a run is still going, this one waits for it (runs of a branch are queued).");
    }
    let mut inputs = json!({
        "issue_number": issue.to_string(),
        "pr_number": pr.number.to_string(),
        "branch_name": pr.head_ref,
        "from_step": from_step.to_string(),
    });
    let map = inputs.as_object_mut().expect("a JSON object literal");
    if let Some(m) = &choice.model {
        map.insert("model".into(), Value::String(m.clone()));
    }
    if let Some(a) = &choice.agent {
        map.insert("agent".into(), Value::String(a.clone()));
    }
    if let Ok(user) = gh.send(&Request::get("/user", "read who is resuming"))
        && let Some(login) = user.body.get("login").and_then(Value::as_str)
    {
        map.insert("submitted_by".into(), Value::String(login.to_string()));
    }
    let request = Request::new(
        HttpMethod::Post,
        format!(
            "{}/actions/workflows/{}/dispatches",
            gh.repo.api_path(),
            github::encode(&args.workflow)
        ),
        "dispatch the implement workflow",
    )
    .body(json!({ "ref": pr.base_ref, "inputs": inputs, "return_run_details": true }))
    .creating();
    // Check point: nothing is dispatched once oneshot was asked to stop.
    crate::interrupt::check()?;
    // Sent once: the resume run's name carries no distinct id to look for, so a dispatch
    // that may have landed is not sent again blindly; the error says to look first.
    let response = gh.send(&request).map_err(|e| {
        let may_have_landed = e.causes.iter().any(|c| {
            c.starts_with("GitHub answered 5") || c.contains("timed out") || c.contains("POST ")
        });
        if e.causes.iter().any(|c| c.contains("404")) {
            e.hint(format!(
                "the repository needs .github/workflows/{}: run `oneshot init` and push it",
                args.workflow
            ))
        } else if may_have_landed {
            e.hint(format!(
                "the run may have started anyway: look for \"oneshot resume #{issue}\" in the Actions tab before resuming again"
            ))
        } else {
            e
        }
    })?;
    let run_url = response
        .body
        .get("html_url")
        .and_then(Value::as_str)
        .map(str::to_string);
    if args.json {
        return ctx.runner.print_json(&json!({
            "success": true,
            "pr_number": pr.number,
            "issue_number": issue,
            "from_step": from_step,
            "run_id": response.body.get("workflow_run_id"),
            "run_url": run_url,
        }));
    }
    ctx.runner.print_line(&format!(
        "Resuming #{} from step {from_step} (plan #{issue}){}",
        pr.number,
        run_url.map(|u| format!(": {u}")).unwrap_or_default()
    ));
    Ok(())
}
