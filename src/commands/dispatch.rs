//! `oneshot dispatch`: from one line to a draft PR and a running workflow, without touching the
//! user's checkout.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{Context, connect_github, dry_run_target, requests_json};
use crate::cli::DispatchArgs;
use crate::commands::exec::detect_trunk;
use crate::error::{Error, Result};
use crate::git::Git;
use crate::github::{self, GitHub, HttpMethod, RepoSlug, Request};
use crate::interrupt;
use crate::launch::{self, Created, Draft, DraftInfo};

const REMOTE: &str = "origin";

/// The workflow run a dispatch started.
#[derive(Debug, Clone)]
struct Run {
    id: u64,
    html_url: String,
}

pub fn run(args: &DispatchArgs, ctx: &Context) -> Result<()> {
    // 1. Validate everything that needs no network.
    let prompt =
        crate::task::read_prompt(args.prompt.as_deref(), args.file.as_deref(), "dispatch")?;
    let choice =
        crate::launch::check_agent_and_model(args.agent.as_deref(), args.model.as_deref())?;
    let now = crate::naming::now(ctx.env)?;
    let git = Git::new(&ctx.dir);
    let distinct_id = crate::actions::random_uuid().replace('-', "")[..16].to_string();

    if args.dry_run {
        return dry_run(args, ctx, &git, &prompt, now, &choice, &distinct_id);
    }

    // 2. Validate what needs GitHub: repository, token, the workflow at the ref.
    let gh = connect_github(&args.github, ctx)?;
    let trunk = match &args.git_ref {
        Some(r) => r.clone(),
        None => detect_trunk::detect(&git.remote(REMOTE), None)?,
    };
    check_workflow_exists(&gh, &args.workflow, &trunk)?;
    interrupt::check()?;

    // 3. Create: branch, draft PR, label, workflow run. Undo on any failure.
    let taken = git.remote(REMOTE).branches_with_prefix("oneshot-")?;
    let branch = launch::branch_for(&prompt, args.slug.as_deref(), now, |n| {
        taken.iter().any(|t| t == n)
    });
    let info = DraftInfo {
        agent: choice.agent.as_deref(),
        model: choice.model.as_deref(),
        distinct_id: Some(&distinct_id),
        run_url: None,
    };
    let mut draft = launch::draft(&prompt, branch, trunk, &info);
    let mut created = Created::default();
    let result = create_everything(
        args,
        ctx,
        &gh,
        &git,
        &mut draft,
        &mut created,
        &taken,
        &distinct_id,
        &choice,
    );
    let (pr, run) = match result {
        Ok(done) => done,
        Err(err) => return Err(undo(ctx, &gh, &git, &created, err)),
    };

    let summary = json!({
        "success": true,
        "dry_run": false,
        "branch": draft.branch,
        "pr_number": pr.number,
        "pr_url": pr.html_url,
        "run_id": run.as_ref().map(|r| r.id),
        "run_url": run.as_ref().map(|r| r.html_url.clone()),
    });
    if !args.json {
        ctx.runner
            .print_line(&format!("Pull request: {}", pr.html_url));
        if let Some(run) = &run {
            ctx.runner
                .print_line(&format!("Workflow run: {}", run.html_url));
        }
    }
    match (&run, args.watch) {
        // One JSON object in every case: with --watch it comes at the end, with the outcome.
        (Some(run), true) => watch(ctx, &gh, run, pr.number, args.json.then_some(summary)),
        (None, true) => Err(Error::github(
            "the workflow was dispatched, but its run is not known, so it cannot be followed",
        )
        .hint(format!(
            "follow it in the Actions tab, or later with `oneshot status {}`",
            pr.number
        ))
        .detail("pr_number", pr.number)
        .detail("pr_url", pr.html_url.clone())),
        (_, false) if args.json => ctx.runner.print_json(&summary),
        (_, false) => Ok(()),
    }
}

/// The workflow_dispatch inputs of DESIGN.md §3.
fn inputs(
    draft: &Draft,
    pr_number: Option<u64>,
    submitted_by: Option<&str>,
    plan_only: bool,
    choice: &launch::AgentChoice,
    distinct_id: &str,
) -> Value {
    let mut inputs = json!({
        "prompt": launch::input_prompt(&draft.prompt),
        "branch_name": draft.branch,
        "distinct_id": distinct_id,
    });
    let map = inputs.as_object_mut().expect("a JSON object literal");
    if let Some(n) = pr_number {
        map.insert("pr_number".into(), Value::String(n.to_string()));
    }
    if let Some(who) = submitted_by.filter(|w| !w.is_empty()) {
        map.insert("submitted_by".into(), Value::String(who.to_string()));
    }
    if let Some(model) = &choice.model {
        map.insert("model".into(), Value::String(model.clone()));
    }
    if let Some(agent) = &choice.agent {
        map.insert("agent".into(), Value::String(agent.clone()));
    }
    if plan_only {
        map.insert("plan_only".into(), Value::String("true".into()));
    }
    inputs
}

fn dispatch_request(repo: &RepoSlug, workflow: &str, git_ref: &str, inputs: Value) -> Request {
    Request::new(
        HttpMethod::Post,
        format!(
            "{}/actions/workflows/{}/dispatches",
            repo.api_path(),
            github::encode(workflow)
        ),
        "dispatch the workflow",
    )
    .body(json!({ "ref": git_ref, "inputs": inputs, "return_run_details": true }))
    .creating()
}

fn workflow_file_request(repo: &RepoSlug, workflow: &str, git_ref: &str) -> Request {
    Request::get(
        format!(
            "{}/contents/.github/workflows/{}?ref={}",
            repo.api_path(),
            github::encode(workflow),
            github::encode(git_ref)
        ),
        "check that the repository has the oneshot workflow",
    )
    .also_ok(&[404])
}

fn check_workflow_exists(gh: &GitHub, workflow: &str, git_ref: &str) -> Result<()> {
    let response = gh.send(&workflow_file_request(&gh.repo, workflow, git_ref))?;
    if response.status == 404 {
        return Err(Error::input(format!(
            "{} has no .github/workflows/{workflow} on `{git_ref}`",
            gh.repo
        ))
        .hint("run `oneshot init` in a clone of the repository, commit and push the files it writes, then dispatch again")
        .hint("or name another workflow file with --workflow FILE"));
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn create_everything(
    args: &DispatchArgs,
    ctx: &Context,
    gh: &GitHub,
    git: &Git,
    draft: &mut Draft,
    created: &mut Created,
    taken: &[String],
    distinct_id: &str,
    choice: &launch::AgentChoice,
) -> Result<(github::PullRequest, Option<Run>)> {
    let branch =
        launch::push_task_branch(&git.remote(REMOTE), draft, |n| taken.iter().any(|t| t == n))?;
    if branch != draft.branch {
        // The name was taken meanwhile: the body's metadata names the branch, so rebuild it.
        let info = DraftInfo {
            agent: choice.agent.as_deref(),
            model: choice.model.as_deref(),
            distinct_id: Some(distinct_id),
            run_url: None,
        };
        *draft = launch::draft(&draft.prompt, branch.clone(), draft.trunk.clone(), &info);
    }
    created.branch = Some(branch.clone());
    ctx.runner
        .info(&format!("Pushed branch {branch} (from {})", draft.trunk));
    interrupt::check()?;

    let pr = launch::open_draft_pr(gh, draft)?;
    created.pr = Some(pr.clone());
    ctx.runner.info(&format!(
        "Opened draft pull request #{} {}",
        pr.number, pr.html_url
    ));
    if let Err(e) = gh.send(&launch::add_label(&gh.repo, pr.number)) {
        ctx.runner.annotate(
            crate::actions::Level::Warning,
            &format!("could not label the pull request: {}", e.render()),
            &Default::default(),
        );
    }
    interrupt::check()?;

    let inputs = inputs(
        draft,
        Some(pr.number),
        Some(&pr.author),
        args.plan_only,
        choice,
        distinct_id,
    );
    let request = dispatch_request(&gh.repo, &args.workflow, &draft.trunk, inputs);
    // A dispatch that may have landed counts as landed only if its run shows up: the run's
    // name carries the distinct id. `Some(None)` is a dispatch that succeeded without details.
    let look_for = gh.retry_budget().min(Duration::from_secs(20));
    let run = gh.create(
        &request,
        |r| Ok(run_from_dispatch_response(&r.body)),
        |gh| Ok(find_run(gh, &args.workflow, distinct_id, look_for)?.map(Some)),
    )?;
    // The workflow is dispatched: from here on nothing is undone, whatever happens while the
    // run is looked for (the run would otherwise find its branch and PR gone).
    let run = match run {
        Some(run) => Some(run),
        None => match find_run(gh, &args.workflow, distinct_id, Duration::from_secs(60)) {
            Ok(found) => found,
            Err(e) => {
                ctx.runner.annotate(
                    crate::actions::Level::Warning,
                    &format!("could not look for the run: {}", e.render()),
                    &Default::default(),
                );
                None
            }
        },
    };
    match &run {
        Some(run) => ctx.runner.info(&format!("Started workflow run {}", run.html_url)),
        None => ctx.runner.annotate(
            crate::actions::Level::Warning,
            &format!(
                "the workflow was dispatched, but its run did not show up within a minute; look for the run named with {distinct_id} in the Actions tab"
            ),
            &Default::default(),
        ),
    }
    Ok((pr, run))
}

/// Newer servers answer a dispatch with the run's id (`return_run_details`); older ones with 204.
fn run_from_dispatch_response(body: &Value) -> Option<Run> {
    let id = body.get("workflow_run_id").and_then(Value::as_u64)?;
    let html_url = body
        .get("html_url")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    Some(Run { id, html_url })
}

/// Polls the workflow's runs for the one whose name carries `distinct_id`, with bounded backoff.
fn find_run(
    gh: &GitHub,
    workflow: &str,
    distinct_id: &str,
    within: Duration,
) -> Result<Option<Run>> {
    let start = Instant::now();
    let mut wait = Duration::from_millis(300);
    loop {
        let request = Request::get(
            format!(
                "{}/actions/workflows/{}/runs?event=workflow_dispatch&per_page=30",
                gh.repo.api_path(),
                github::encode(workflow)
            ),
            "find the workflow run",
        );
        let body = gh.send(&request)?.body;
        let found = body
            .get("workflow_runs")
            .and_then(Value::as_array)
            .and_then(|runs| {
                runs.iter().find(|r| {
                    let title = r
                        .get("display_title")
                        .or_else(|| r.get("name"))
                        .and_then(Value::as_str)
                        .unwrap_or("");
                    title.contains(distinct_id)
                })
            });
        if let Some(r) = found {
            return Ok(Some(Run {
                id: r.get("id").and_then(Value::as_u64).unwrap_or(0),
                html_url: r
                    .get("html_url")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
            }));
        }
        if start.elapsed() + wait > within {
            return Ok(None);
        }
        interrupt::check()?;
        std::thread::sleep(wait);
        wait = (wait * 2).min(Duration::from_secs(5));
    }
}

fn undo(ctx: &Context, gh: &GitHub, git: &Git, created: &Created, err: Error) -> Error {
    if created.is_empty() {
        return err;
    }
    ctx.runner.info("Undoing what was created…");
    match launch::rollback(Some(gh), &git.remote(REMOTE), created) {
        Ok(()) => err.hint("nothing was left behind: the branch and the draft PR were removed"),
        Err(left) => err.cause(format!("the undo failed too; left behind:\n{left}")),
    }
}

#[allow(clippy::too_many_arguments)]
fn dry_run(
    args: &DispatchArgs,
    ctx: &Context,
    git: &Git,
    prompt: &str,
    now: chrono::DateTime<chrono::Utc>,
    choice: &launch::AgentChoice,
    distinct_id: &str,
) -> Result<()> {
    // A clone whose remote names no GitHub repository can still show what would happen.
    let target = match dry_run_target(&args.github, ctx) {
        Ok(target) => target,
        Err(e) if args.github.repo.is_none() => {
            ctx.runner.annotate(
                crate::actions::Level::Warning,
                &format!(
                    "{}; showing OWNER/REPO instead (pass --repo OWNER/REPO)",
                    e.message
                ),
                &Default::default(),
            );
            super::DryRunTarget {
                repo: crate::github::RepoSlug {
                    owner: "OWNER".into(),
                    name: "REPO".into(),
                },
                api_url: "https://api.github.com".into(),
                server_url: "https://github.com".into(),
            }
        }
        Err(e) => return Err(e),
    };
    // Only what the clone already knows: no network.
    let trunk = match &args.git_ref {
        Some(r) => r.clone(),
        None => detect_trunk::detect_offline(git, REMOTE)?,
    };
    let taken = git.local_remote_branches(REMOTE)?;
    let branch = launch::branch_for(prompt, args.slug.as_deref(), now, |n| {
        taken.iter().any(|t| t == n)
    });
    let info = DraftInfo {
        agent: choice.agent.as_deref(),
        model: choice.model.as_deref(),
        distinct_id: Some(distinct_id),
        run_url: None,
    };
    let draft = launch::draft(prompt, branch, trunk, &info);
    let inputs = inputs(&draft, None, None, args.plan_only, choice, distinct_id);
    let requests = vec![
        workflow_file_request(&target.repo, &args.workflow, &draft.trunk),
        launch::create_pull_request(&target.repo, &draft),
        // The PR's number is known only once it exists.
        Request {
            path: launch::add_label(&target.repo, 0)
                .path
                .replace("/issues/0/", "/issues/{pr_number}/"),
            ..launch::add_label(&target.repo, 0)
        },
        dispatch_request(&target.repo, &args.workflow, &draft.trunk, inputs.clone()),
    ];
    if args.json {
        return ctx.runner.print_json(&json!({
            "success": true,
            "dry_run": true,
            "branch": draft.branch,
            "pr_number": null,
            "pr_url": null,
            "run_id": null,
            "run_url": null,
            "pr_title": draft.pr_title,
            "pr_body": draft.pr_body,
            "inputs": inputs,
            "requests": requests_json(&target.api_url, &requests),
        }));
    }
    let mut text = format!(
        "Dry run: nothing was created.\n\nRepository: {}\nTrunk:      {}\nBranch:     {}\nPR title:   {}\n\nPR body:\n{}\n\nWorkflow inputs ({}):\n{}\n\nRequests:\n",
        target.repo,
        draft.trunk,
        draft.branch,
        draft.pr_title,
        indent(&draft.pr_body),
        args.workflow,
        indent(&serde_json::to_string_pretty(&inputs).unwrap_or_default()),
    );
    text.push_str(&format!(
        "  git push {REMOTE} <commit adding {}>:refs/heads/{}\n",
        crate::workspace::WORKER_TASK,
        draft.branch
    ));
    for r in &requests {
        text.push_str(&format!(
            "  {} {}{}  ({})\n",
            r.method.as_str(),
            target.api_url,
            r.path,
            r.purpose
        ));
    }
    ctx.runner.print_line(text.trim_end());
    Ok(())
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("  {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Follows the run until it completes, printing each job's and step's state as it changes.
/// `json`: the dispatch's JSON object, printed once at the end with the run's outcome added
/// (and carried by the error when the run failed).
fn watch(ctx: &Context, gh: &GitHub, run: &Run, pr_number: u64, json: Option<Value>) -> Result<()> {
    let interval = Duration::from_millis(ctx.env.watch_interval_ms.unwrap_or(3000));
    let mut seen: Vec<String> = Vec::new();
    let mut current = String::from("waiting for the run to start");
    let started = std::time::Instant::now();
    const FRAMES: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
    let mut frame = 0;
    let conclusion = loop {
        interrupt::check()?;
        let run_json = gh
            .send(&Request::get(
                format!("{}/actions/runs/{}", gh.repo.api_path(), run.id),
                "read the workflow run",
            ))?
            .body;
        let jobs = gh
            .send(&Request::get(
                format!(
                    "{}/actions/runs/{}/jobs?per_page=100",
                    gh.repo.api_path(),
                    run.id
                ),
                "read the run's jobs",
            ))?
            .body;
        for job in jobs
            .get("jobs")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let job_name = job.get("name").and_then(Value::as_str).unwrap_or("job");
            for step in job
                .get("steps")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let name = step.get("name").and_then(Value::as_str).unwrap_or("step");
                let state = step_state(step);
                let line = format!("{job_name} › {name}: {state}");
                if step.get("status").and_then(Value::as_str) == Some("in_progress") {
                    current = format!("{job_name} › {name}");
                }
                if !seen.contains(&line) {
                    seen.push(line.clone());
                    ctx.runner.info(&line);
                }
            }
        }
        if run_json.get("status").and_then(Value::as_str) == Some("completed") {
            break run_json
                .get("conclusion")
                .and_then(Value::as_str)
                .unwrap_or("unknown")
                .to_string();
        }
        // On a terminal a spinner shows that the run goes on between step changes.
        let until = std::time::Instant::now() + interval;
        while std::time::Instant::now() < until {
            frame = (frame + 1) % FRAMES.len();
            let elapsed = crate::markers::format_duration(started.elapsed().as_secs_f64());
            ctx.runner
                .status_line(&format!("{} {current} ({elapsed})", FRAMES[frame]));
            std::thread::sleep(interval.min(Duration::from_millis(120)));
        }
    };
    ctx.runner.status_line("");
    let pr = gh.get_pull(pr_number)?;
    let pr_state = pr.state_label();
    if json.is_none() {
        ctx.runner.print_line(&format!(
            "Run {conclusion}; pull request #{} is {pr_state}: {}",
            pr.number, pr.html_url
        ));
    }
    if conclusion == "success" {
        if let Some(mut summary) = json {
            summary["run_conclusion"] = Value::String(conclusion);
            summary["pr_state"] = Value::String(pr_state.to_string());
            ctx.runner.print_json(&summary)?;
        }
        return Ok(());
    }
    let mut err =
        Error::step_failed(format!("the workflow run ended with `{conclusion}`")).hint(format!(
            "see {} for the failed step, and `oneshot resume {pr_number}` to continue",
            run.html_url
        ));
    // The one JSON object is then the error, with what the dispatch made.
    if let Some(Value::Object(summary)) = json {
        for (key, value) in summary.into_iter().filter(|(k, _)| k != "success") {
            err = err.detail(&key, value);
        }
        err = err
            .detail("run_conclusion", conclusion)
            .detail("pr_state", pr_state);
    }
    Err(err)
}

fn step_state(step: &Value) -> String {
    let status = step
        .get("status")
        .and_then(Value::as_str)
        .unwrap_or("queued");
    match (status, step.get("conclusion").and_then(Value::as_str)) {
        ("completed", Some(c)) => c.to_string(),
        (s, _) => s.replace('_', " "),
    }
}
