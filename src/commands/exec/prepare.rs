//! `oneshot exec prepare`: the branch and draft PR for a run started from the Actions tab with
//! only a prompt. The same code as `oneshot dispatch`, minus the dispatch.

use std::os::unix::ffi::OsStrExt;

use super::Context;
use crate::actions::Outputs;
use crate::cli::PrepareArgs;
use crate::commands::{connect_github, current_run_url};
use crate::error::{Error, IoContext, Result};
use crate::git::Git;
use crate::launch::{self, Created, DraftInfo};
use crate::task::validate_prompt;

const REMOTE: &str = "origin";

pub fn run(args: &PrepareArgs, ctx: &Context) -> Result<Outputs> {
    let prompt = match (&args.prompt_file, &ctx.env.prompt) {
        (Some(file), _) => {
            let bytes = std::fs::read(ctx.dir.join(file))
                .user_file(|| format!("could not read the prompt file {}", file.display()))?;
            validate_prompt(&bytes, &file.display().to_string())?
        }
        (None, Some(value)) => validate_prompt(value.as_bytes(), "ONESHOT_PROMPT")?,
        (None, None) => {
            return Err(Error::input("no prompt was given: ONESHOT_PROMPT is not set and --prompt-file was not given")
                .hint("in the workflow, pass the prompt through `env: ONESHOT_PROMPT: ${{ inputs.prompt }}`"));
        }
    };
    let choice = launch::check_agent_and_model(args.agent.as_deref(), args.model.as_deref())?;
    let now = crate::naming::now(ctx.env)?;
    let gh = connect_github(&args.github, ctx)?;
    let remote = gh.authenticated_remote(&Git::new(&ctx.dir), REMOTE)?;
    let trunk = super::detect_trunk::detect(&remote, args.trunk.as_deref())?;

    let run_url = current_run_url(ctx, &gh.server_url, &gh.repo);
    // A re-run of this workflow run's job finds what its first attempt made.
    if let Some(url) = &run_url
        && let Some(pr) = pr_of_run(&gh, url)?
    {
        ctx.runner.info(&format!(
            "This run already made branch {} and draft pull request #{}; going on with them",
            pr.head_ref, pr.number
        ));
        remote.check_out_branch(&pr.head_ref)?;
        return Ok(Outputs::new()
            .with("branch", pr.head_ref)
            .with("pr_number", pr.number)
            .with("pr_url", pr.html_url));
    }

    let taken = remote.branches_with_prefix("oneshot-")?;
    let branch = launch::branch_for(&prompt, None, now, |n| taken.iter().any(|t| t == n));
    let info = DraftInfo {
        agent: choice.agent.as_deref(),
        model: choice.model.as_deref(),
        distinct_id: None,
        run_url: run_url.as_deref(),
    };
    let mut draft = launch::draft(&prompt, branch, trunk, &info);
    let mut created = Created::default();

    let result = (|| -> Result<crate::github::PullRequest> {
        // Check points: nothing is created after a signal, and what was is undone below.
        crate::interrupt::check()?;
        let pushed = launch::push_task_branch(&remote, &draft, |n| taken.iter().any(|t| t == n))?;
        if pushed != draft.branch {
            draft = launch::draft(&prompt, pushed.clone(), draft.trunk.clone(), &info);
        }
        created.branch = Some(pushed);
        crate::interrupt::check()?;
        let pr = launch::open_draft_pr(&gh, &draft)?;
        created.pr = Some(pr.clone());
        crate::interrupt::check()?;
        // The label is not essential: register-one-shot-plan sets it again.
        let _ = gh.send(&launch::add_label(&gh.repo, pr.number));
        Ok(pr)
    })();
    let pr = match result {
        Ok(pr) => pr,
        Err(err) if created.is_empty() => return Err(err),
        Err(err) => {
            return Err(match launch::rollback(Some(&gh), &remote, &created) {
                Ok(()) => err.hint("the branch and the draft PR made so far were removed"),
                Err(left) => err.cause(format!("the undo failed too; left behind:\n{left}")),
            });
        }
    };
    ctx.runner.info(&format!(
        "Created branch {} and draft pull request #{} {}",
        draft.branch, pr.number, pr.html_url
    ));
    // The rest of the plan job works on the task branch, as it does after `oneshot dispatch`.
    remote.check_out_branch(&draft.branch)?;
    ctx.runner.summary(&format!(
        "### Started\n\nBranch `{}` and draft pull request [#{}]({}).\n\n",
        draft.branch, pr.number, pr.html_url
    ))?;
    Ok(Outputs::new()
        .with("branch", draft.branch)
        .with("pr_number", pr.number)
        .with("pr_url", pr.html_url))
}

/// The open oneshot pull request whose metadata names this workflow run.
fn pr_of_run(
    gh: &crate::github::GitHub,
    run_url: &str,
) -> Result<Option<crate::github::PullRequest>> {
    let request = crate::github::Request::get(
        format!("{}/pulls?state=open&per_page=100", gh.repo.api_path()),
        "look for a pull request this run already opened",
    );
    let list = gh.send(&request)?.body;
    let found = list.as_array().into_iter().flatten().find(|p| {
        let body = p
            .get("body")
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default();
        crate::markers::parse_meta(body)
            .and_then(|m| m.run_url)
            .as_deref()
            == Some(run_url)
    });
    found.map(crate::github::PullRequest::from_json).transpose()
}
