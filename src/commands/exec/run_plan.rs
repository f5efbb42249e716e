//! `oneshot exec run-plan`: the planning session. The agent reads the repository and the task
//! and writes `.impl/plan.md` and `.impl/plan-result.json`; nothing else may change.

use std::collections::BTreeMap;
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::Context;
use crate::actions::Outputs;
use crate::agent::{self, Outcome, Phase, SessionReport, SessionRequest, SessionSettings, prompts};
use crate::cli::RunPlanArgs;
use crate::error::{Error, IoContext, Result};
use crate::workspace::{self, Workspace};

pub fn run(args: &RunPlanArgs, ctx: &Context) -> Result<Outputs> {
    let ws = Workspace::find(&ctx.dir)?;
    let overrides = crate::config::Overrides {
        agent: args.agent.clone(),
        model: args.model.clone(),
        ..Default::default()
    };
    let config = crate::config::load(&ws.root, ctx.env, &overrides)?;
    let settings = settings(args, session_settings(&config)?)?;
    let report = plan_session(ctx, &ws, &settings)?;
    let duration = (report.duration_s * 10.0).round() / 10.0;
    Ok(Outputs::new()
        .with("plan_success", true)
        .with("cost_usd", report.cost_usd)
        .with("duration_s", duration))
}

/// The planning session in the work tree `ws`, which holds the task in `.impl/task.md`: runs
/// the agent, writes its report to `.impl/runs/plan.json`, and checks that nothing changed
/// outside `.impl/`. Returns the report of a successful session; `exec run-plan` and
/// `oneshot run` both plan through here.
pub fn plan_session(
    ctx: &Context,
    ws: &Workspace,
    settings: &SessionSettings,
) -> Result<SessionReport> {
    // Check point: no session starts once oneshot was asked to stop.
    crate::interrupt::check()?;
    let task = read_task(ws)?;
    ws.ensure_impl_dir()?;
    let before = snapshot(ws)?;
    let head_before = head(ws)?;

    let prompt = prompts::plan(&ws.root, &task)?;
    if prompt.source != "built-in" {
        ctx.runner
            .info(&format!("Using the planning prompt from {}", prompt.source));
    }
    let run_dir = ws.path(workspace::RUNS_DIR);
    let run_name = agent::next_run_name(&run_dir, Phase::Plan.as_str());
    let report = {
        let _group = ctx
            .runner
            .group(&format!("Planning session: {}", settings.describe()));
        let config = ws.git.snapshot_config()?;
        let report = agent::run(
            ctx.runner,
            settings,
            &SessionRequest {
                phase: Phase::Plan,
                workdir: &ws.root,
                prompt: &prompt.text,
                run_dir: &run_dir,
                run_name: &run_name,
            },
        );
        if config.restore()? {
            ctx.runner
                .info("The planning session changed .git/config; oneshot restored it.");
        }
        report?
    };
    let report_path = agent::report_path(&run_dir, Phase::Plan);
    report.write(&report_path)?;

    let changed = match report.outcome {
        Outcome::CouldNotStart => Vec::new(),
        _ => changes_since(ws, &before)?,
    };
    // A commit leaves `git status` clean: HEAD must not have moved either.
    let head_after = head(ws)?;
    let moved = (head_after != head_before).then(|| {
        format!(
            "was {}, now {}",
            head_text(&head_before),
            head_text(&head_after)
        )
    });
    let violations: Vec<String> = moved
        .iter()
        .map(|m| format!("moved HEAD ({m})"))
        .chain(
            (!changed.is_empty())
                .then(|| format!("changed files outside .impl/: {}", list(&changed))),
        )
        .collect();

    let mut summary = report.summary_markdown("Planning session");
    if let Some(moved) = &moved {
        summary.push_str(&format!("\n**HEAD moved (not allowed):** {moved}\n"));
    }
    if !changed.is_empty() {
        summary.push_str("\n**Changed outside `.impl/` (not allowed):**\n");
        for path in changed.iter().take(50) {
            summary.push_str(&format!("- `{}`\n", path.replace('`', "'")));
        }
    }
    ctx.runner.summary(&summary)?;
    ctx.runner.info(&finish_line(&report));

    if let Some(mut err) = report.error("the planning session", &settings.agent) {
        for violation in &violations {
            err = err.cause(format!("it also {violation}"));
        }
        return Err(err);
    }
    if !violations.is_empty() {
        return Err(Error::step_failed(format!("the planning session {}", violations.join("; it also ")))
            .hint("the planner may write only .impl/plan.md and .impl/plan-result.json; the transcript in .impl/runs/ shows its tool calls")
            .hint("check the repository's agent settings (such as .claude/settings.json) for permission rules that allow more"));
    }
    Ok(report)
}

/// The planning session's settings from the layered configuration (`oneshot run`; the
/// workflow passes flags to `exec run-plan` instead).
pub fn session_settings(settings: &crate::config::Settings) -> Result<SessionSettings> {
    Ok(SessionSettings {
        budget_usd: settings.budget_usd,
        ..SessionSettings::from_phase(&settings.plan)?
    })
}

/// The configured session settings with the flags on top. Every field is taken apart here, so
/// that a new flag that is not handled does not compile. Agent and model reached the
/// configuration as overrides already.
fn settings(args: &RunPlanArgs, configured: SessionSettings) -> Result<SessionSettings> {
    let RunPlanArgs {
        agent: _,
        model: _,
        timeout_minutes,
        max_turns,
        budget_usd,
        kill_grace_seconds,
    } = args;
    let timeout = match timeout_minutes {
        Some(minutes) => seconds(*minutes * 60.0, "--timeout-minutes", false)?,
        None => configured.timeout,
    };
    let kill_grace = seconds(*kill_grace_seconds, "--kill-grace-seconds", true)?;
    if *max_turns == Some(0) {
        return Err(Error::input("--max-turns must be at least 1"));
    }
    if let Some(budget) = budget_usd
        && (!budget.is_finite() || *budget <= 0.0)
    {
        return Err(Error::input(format!(
            "--budget-usd must be a positive amount, not {budget}"
        )));
    }
    Ok(SessionSettings {
        timeout,
        kill_grace,
        max_turns: max_turns.or(configured.max_turns),
        budget_usd: budget_usd.or(configured.budget_usd),
        ..configured
    })
}

fn seconds(value: f64, flag: &str, zero_ok: bool) -> Result<Duration> {
    let valid = value.is_finite() && (value > 0.0 || (zero_ok && value == 0.0)) && value < 1e9;
    if !valid {
        return Err(Error::input(format!("{flag} must be a positive number")));
    }
    Ok(Duration::from_secs_f64(value))
}

fn read_task(ws: &Workspace) -> Result<String> {
    let path = ws.path(workspace::TASK);
    match std::fs::read_to_string(&path) {
        Ok(text) if !text.trim().is_empty() => Ok(text),
        Ok(_) => Err(Error::input(format!("{} is empty", workspace::TASK))
            .hint("run `oneshot exec write-prompt` first; it writes the task there")),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::input(format!(
            "{} does not exist in {}",
            workspace::TASK,
            ws.root.display()
        ))
        .hint("run `oneshot exec write-prompt` first; it writes the task there")),
        Err(e) => Err(e).io_context(|| format!("could not read {}", workspace::TASK)),
    }
}

/// Changed paths outside `.impl/`, with a hash of their content (`None`: deleted or not a file).
type Snapshot = BTreeMap<String, Option<Vec<u8>>>;

fn snapshot(ws: &Workspace) -> Result<Snapshot> {
    let mut map = Snapshot::new();
    for path in ws.git.changed_paths()? {
        if path == workspace::IMPL_DIR || path.starts_with(&format!("{}/", workspace::IMPL_DIR)) {
            continue;
        }
        let hash = std::fs::read(ws.root.join(&path))
            .ok()
            .map(|bytes| Sha256::digest(&bytes).to_vec());
        map.insert(path, hash);
    }
    Ok(map)
}

/// The paths outside `.impl/` whose state differs from `before`: changed, created, deleted, or
/// a change that was there before and is now undone. Changes that were there before the
/// session and are untouched are not the session's.
fn changes_since(ws: &Workspace, before: &Snapshot) -> Result<Vec<String>> {
    let after = snapshot(ws)?;
    let mut changed: Vec<String> = after
        .iter()
        .filter(|(path, hash)| before.get(*path) != Some(hash))
        .map(|(path, _)| path.clone())
        .collect();
    changed.extend(
        before
            .keys()
            .filter(|path| !after.contains_key(*path))
            .cloned(),
    );
    changed.sort();
    changed.dedup();
    Ok(changed)
}

/// The branch HEAD is on and the commit it points at (`None` before the first commit).
type Head = (Option<String>, Option<String>);

fn head(ws: &Workspace) -> Result<Head> {
    let read = |purpose: &str, args: &[&str]| -> Result<Option<String>> {
        let out = ws.git.try_run(purpose, args)?;
        Ok(out
            .success
            .then(|| out.stdout.trim().to_string())
            .filter(|s| !s.is_empty()))
    };
    Ok((
        read(
            "read the current branch",
            &["symbolic-ref", "--quiet", "HEAD"],
        )?,
        read(
            "read the current commit",
            &["rev-parse", "--verify", "--quiet", "HEAD"],
        )?,
    ))
}

fn head_text(head: &Head) -> String {
    let commit = head
        .1
        .as_deref()
        .map(|c| &c[..c.len().min(12)])
        .unwrap_or("no commit");
    match &head.0 {
        Some(branch) => format!("{commit} on {}", branch.trim_start_matches("refs/heads/")),
        None => format!("{commit}, detached"),
    }
}

fn list(paths: &[String]) -> String {
    const SHOWN: usize = 20;
    let mut text = paths
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if paths.len() > SHOWN {
        text.push_str(&format!(" and {} more", paths.len() - SHOWN));
    }
    text
}

/// `Planning session: success in 1m 23s (12 turns, 45,120 / 3,210 tokens, $0.42)`.
fn finish_line(report: &SessionReport) -> String {
    let mut facts = Vec::new();
    if let Some(turns) = report.turns {
        facts.push(format!("{turns} turns"));
    }
    if let (Some(i), Some(o)) = (report.input_tokens, report.output_tokens) {
        facts.push(format!(
            "{} / {} tokens",
            agent::thousands(i),
            agent::thousands(o)
        ));
    }
    match (report.cost_usd, report.input_tokens) {
        (Some(cost), _) => facts.push(format!("${cost:.2}")),
        // The agent does not say, and the model's price is not known (agent::pricing).
        (None, Some(_)) => facts.push("cost unknown".into()),
        (None, None) => {}
    }
    let facts = if facts.is_empty() {
        String::new()
    } else {
        format!(" ({})", facts.join(", "))
    };
    format!(
        "Planning session: {} in {}{facts}",
        report.outcome.as_str(),
        agent::duration_text(report.duration_s)
    )
}
