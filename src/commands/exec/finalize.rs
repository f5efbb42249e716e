//! `oneshot exec finalize`: the end of the implement job, on success and on failure.

use super::Context;
use crate::actions::{Annotation, Level, Outputs};
use crate::cli::{FinalizeArgs, Outcome};
use crate::commands::{connect_github, current_run_url};
use crate::config::{self, Overrides};
use crate::error::{Error, Result};
use crate::github::GitHub;
use crate::markers::{StepRecord, StepState};
use crate::tracker::github::GitHubTracker;
use crate::tracker::{Completion, FailureReport, Tracker};
use crate::workspace::{self, Workspace};

const REMOTE: &str = "origin";

pub fn run(args: &FinalizeArgs, ctx: &Context) -> Result<Outputs> {
    let ws = Workspace::find(&ctx.dir)?;
    let settings = config::load(&ws.root, ctx.env, &Overrides::default())?;
    let gh = connect_github(&args.github, ctx)?;
    let pr = match args.pr {
        Some(pr) => pr,
        None => crate::tracker::github::pr_of_issue(&gh, args.issue)?,
    };
    let branch = match &args.branch {
        Some(b) => b.clone(),
        None => ws
            .git
            .current_branch()?
            .ok_or_else(|| Error::input("HEAD is detached").hint("pass --branch BRANCH"))?,
    };
    let mut reviewers = settings.pr.reviewers.clone();
    if let Some(who) = args
        .submitted_by
        .as_deref()
        .filter(|w| !w.is_empty() && !w.ends_with("[bot]"))
    {
        reviewers.insert(0, who.to_string());
    }
    reviewers.dedup();
    let run_url = current_run_url(ctx, &gh.server_url, &gh.repo);
    let mut tracker = GitHubTracker {
        gh: &gh,
        pr: Some(pr),
        issue: args.issue,
        branch: Some(branch.clone()),
        run_url: run_url.clone(),
        title_prefix: settings.pr.title_prefix.clone(),
        reviewers,
        just_read: None,
        pull: None,
    };
    let steps = tracker.recorded_steps()?;
    // Check point: nothing is written once oneshot was asked to stop.
    crate::interrupt::check()?;
    match args.outcome {
        Outcome::Success => success(
            ctx,
            &ws,
            &gh,
            &mut tracker,
            &settings,
            &branch,
            steps,
            run_url.as_deref(),
        ),
        _ => failure(ctx, &mut tracker, steps, args, &settings),
    }
}

#[allow(clippy::too_many_arguments)]
fn success(
    ctx: &Context,
    ws: &Workspace,
    gh: &GitHub,
    tracker: &mut GitHubTracker,
    settings: &config::Settings,
    branch: &str,
    steps: Vec<StepRecord>,
    run_url: Option<&str>,
) -> Result<Outputs> {
    if steps.is_empty() {
        return Err(Error::step_failed("the pull request records no steps")
            .hint("run `oneshot exec run-implement` first"));
    }
    if let Some(open) = steps.iter().find(|s| s.state != StepState::Done) {
        return Err(Error::step_failed(format!(
            "step {} ({}) is {}, not done",
            open.number,
            open.title,
            open.state.label()
        ))
        .hint(format!(
            "resume with `oneshot resume {} --from-step {}`",
            tracker.pr.unwrap_or_default(),
            open.number
        )));
    }

    // The staging file leaves the branch in a commit of its own.
    let git = &ws.git;
    let remote = gh.authenticated_remote(git, REMOTE)?;
    if ws.path(workspace::WORKER_DIR).exists() {
        git.run(
            "remove the task file",
            &["rm", "-r", "--quiet", workspace::WORKER_DIR],
        )?;
        crate::interrupt::check()?;
        let message = format!(
            "Remove the oneshot task file\n\nThe task and its plan are kept in issue #{}.\n",
            tracker.issue
        );
        if git.commit_all(&message)?.is_some() && !remote.push_head(branch)? {
            return Err(Error::git(format!(
                "could not push the final commit: {branch} moved on the remote"
            ))
            .hint("re-run the job; finalize is safe to repeat"));
        }
    }

    // Check point: a push is let finish; the pull request is not marked ready after a signal
    // (finalize is safe to repeat).
    crate::interrupt::check()?;
    let pull = tracker.pull_request()?;
    let (diffstat, files_changed) = diffstat(&remote, &pull.base_ref, branch)?;
    let completion = Completion {
        duration_s: steps.iter().filter_map(|s| s.duration_s).sum(),
        cost_usd: steps.iter().filter_map(|s| s.cost_usd).sum(),
        steps,
        diffstat,
        files_changed,
    };
    tracker.complete(&completion)?;
    ctx.runner.info(&format!(
        "Pull request #{} is ready for review: {}",
        pull.number, pull.html_url
    ));

    let mut summary = format!(
        "### Ready for review\n\n[#{}]({}) — {} steps, {} files changed, {}, ${:.2}\n\n",
        pull.number,
        pull.html_url,
        completion.steps.len(),
        completion.files_changed,
        crate::markers::format_duration(completion.duration_s),
        completion.cost_usd
    );
    if ctx.env.token_is_github_token {
        let warning = "These pushes were made with the workflow's GITHUB_TOKEN, so they do not trigger other workflows: CI did not run on this pull request. Add a fine-grained personal access token or a GitHub App token as the ONESHOT_TOKEN secret (contents, issues, pull requests: read and write) to have CI run.";
        ctx.runner
            .annotate(Level::Warning, warning, &Annotation::default());
        summary.push_str(&format!("> [!WARNING]\n> {warning}\n\n"));
    }
    ctx.runner.summary(&summary)?;

    let text = format!(
        "✅ oneshot: <{}|#{} {}> is ready for review ({} steps)",
        pull.html_url,
        pull.number,
        pull.title,
        completion.steps.len()
    );
    notify(ctx, settings, &text, &pull.html_url, run_url);

    Ok(Outputs::new()
        .with("pr_number", pull.number)
        .with("pr_url", pull.html_url)
        .with("completed_steps", completion.steps.len())
        .with("cost_usd", format!("{:.4}", completion.cost_usd))
        .with("duration_s", format!("{:.1}", completion.duration_s)))
}

/// `git diff --stat` of the whole change against the base branch, and the number of files.
fn diffstat(remote: &crate::git::Remote, base: &str, branch: &str) -> Result<(String, usize)> {
    let git = remote.local();
    let Some(base_sha) = remote.branch_commit(base)? else {
        return Ok((String::new(), 0));
    };
    if !git.has_commit(&base_sha)? {
        remote.fetch_objects(base)?;
    }
    reach_merge_base(remote, &base_sha, branch)?;
    let range = format!("{base_sha}...HEAD");
    let stat = git.run("summarise the change", &["diff", "--stat=100", &range])?;
    let files = git
        .run("count the changed files", &["diff", "--name-only", &range])?
        .lines()
        .count();
    Ok((stat, files))
}

/// actions/checkout fetches one commit, so the branch's history may end before it meets the
/// base, and `base...HEAD` has no merge base. Fetches more of the branch (4, 16, 64, … commits
/// deeper) until it meets the base or the clone is no longer shallow.
fn reach_merge_base(remote: &crate::git::Remote, base_sha: &str, branch: &str) -> Result<()> {
    let git = remote.local();
    let mut deepen = 4;
    while !git
        .try_run(
            "find where the branch starts",
            &["merge-base", base_sha, "HEAD"],
        )?
        .success
    {
        let shallow = git.run(
            "check for a shallow clone",
            &["rev-parse", "--is-shallow-repository"],
        )?;
        if shallow.trim() != "true" || deepen > 65_536 {
            // The diff below fails with git's own words.
            return Ok(());
        }
        remote.deepen(branch, deepen)?;
        deepen *= 4;
    }
    Ok(())
}

/// After a failed implement step: every step shows what happened, and a failure report exists
/// even if run-implement could not post one (it crashed or was cancelled).
/// Tells the webhook, if one is configured (`notify.webhook_secret` names the variable that
/// holds its URL; the workflows pass `ONESHOT_WEBHOOK_URL`). A failed notification is a
/// warning: it never fails the finished work.
fn notify(
    ctx: &Context,
    settings: &config::Settings,
    text: &str,
    pr_url: &str,
    run_url: Option<&str>,
) {
    let name = settings
        .notify
        .webhook_secret
        .as_deref()
        .unwrap_or(DEFAULT_WEBHOOK_VARIABLE);
    let Some(url) = ctx.env.lookup(name).filter(|u| !u.trim().is_empty()) else {
        return;
    };
    ctx.runner.mask(&url);
    let payload = serde_json::json!({ "text": text, "pr_url": pr_url, "run_url": run_url });
    if let Err(e) = crate::github::post_webhook(url.trim(), &payload) {
        ctx.runner.annotate(
            Level::Warning,
            &format!("the webhook notification failed: {}", e.render()),
            &Annotation::default(),
        );
    }
}

/// The variable the workflows fill from the `ONESHOT_WEBHOOK_URL` secret.
const DEFAULT_WEBHOOK_VARIABLE: &str = "ONESHOT_WEBHOOK_URL";

fn failure(
    ctx: &Context,
    tracker: &mut GitHubTracker,
    mut steps: Vec<StepRecord>,
    args: &FinalizeArgs,
    settings: &config::Settings,
) -> Result<Outputs> {
    let failed = steps
        .iter()
        .find(|s| s.state == StepState::Failed)
        .map(|s| s.number);
    let stuck = steps
        .iter()
        .find(|s| s.state == StepState::InProgress)
        .map(|s| s.number);
    let failed_step = match (failed, stuck) {
        (Some(n), _) => n,
        (None, Some(n)) => {
            let cause = match args.outcome {
                Outcome::Cancelled => "the run was cancelled during this step",
                _ => {
                    "the implement step stopped during this step without reporting why; see the run's log"
                }
            };
            for s in steps.iter_mut() {
                if s.number == n {
                    s.state = StepState::Failed;
                    s.note = Some(cause.to_string());
                } else if s.number > n && s.state != StepState::Done {
                    s.state = StepState::NotStarted;
                }
            }
            tracker.set_progress(&steps)?;
            let title = steps
                .iter()
                .find(|s| s.number == n)
                .map(|s| s.title.clone())
                .unwrap_or_default();
            tracker.report_failure(&FailureReport {
                step: n,
                step_title: title,
                cause: cause.to_string(),
                agent_output: None,
                diff: None,
                artifacts_note: None,
                resume: format!(
                    "`oneshot resume {} --from-step {n}`",
                    tracker.pr.unwrap_or_default()
                ),
            })?;
            n
        }
        (None, None) => {
            ctx.runner.annotate(
                Level::Notice,
                "the implement job did not succeed, and no step had started",
                &Annotation::default(),
            );
            0
        }
    };
    // run-implement publishes nothing when it fails, so the job's outputs come from here.
    let completed = steps.iter().filter(|s| s.state == StepState::Done).count();
    if let Ok(pull) = tracker.pull_request() {
        let text = match failed_step {
            0 => format!(
                "❌ oneshot: <{}|#{} {}> did not finish",
                pull.html_url, pull.number, pull.title
            ),
            n => format!(
                "❌ oneshot: <{}|#{} {}> stopped at step {n}; resume with `oneshot resume {} --from-step {n}`",
                pull.html_url, pull.number, pull.title, pull.number
            ),
        };
        notify(
            ctx,
            settings,
            &text,
            &pull.html_url,
            tracker.run_url.clone().as_deref(),
        );
    }
    Ok(Outputs::new()
        .with("completed_steps", completed)
        .with("failed_step", failed_step))
}
