//! Implementing a plan step by step: one fresh agent session per step, the verify command, one
//! commit per step, a push, and the progress shown through the tracker. At the first failure it
//! stops, keeps every finished step, keeps the failed step's partial work as a patch, and says
//! how to resume. `exec run-implement` (CI, GitHub tracker) and `oneshot run` (local tracker) run
//! this same code.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::actions::Runner;
use crate::agent::{self, Phase, SessionRequest, SessionSettings, prompts};
use crate::error::{Error, ErrorKind, IoContext, Result};
use crate::git::{Git, Remote};
use crate::markers::{StepRecord, StepState};
use crate::plan::Step;
use crate::tracker::{FailureReport, PlanRecord, Tracker, merge_states};
use crate::workspace::{self, Workspace};

/// Paths no implementation session may change, whatever the configuration says.
/// The configuration and the prompts are among them: a step must not change the rules (protected
/// paths, the verify command, the prompts) that later steps and resumed runs read from the branch.
const ALWAYS_PROTECTED: &[&str] = &[
    ".impl/**",
    ".worker-impl/**",
    ".git/**",
    ".github/oneshot.toml",
    ".claude/commands/oneshot/**",
];
/// The end of the verify command's output shown to the agent and in reports.
const OUTPUT_TAIL: usize = 6_000;
/// Longest patch shown inline in the failure report.
const INLINE_DIFF_LIMIT: usize = 20_000;

/// Everything the step loop needs, resolved by the caller.
pub struct Engine<'a> {
    pub runner: &'a Runner,
    pub ws: &'a Workspace,
    /// git for the step's local commands (commits, diffs): never with a credential.
    pub git: Git,
    pub branch: String,
    /// Where the steps are pushed (with the push credential in CI).
    pub remote: Remote,
    /// Push after each step (CI); a local run pushes only when asked.
    pub push: bool,
    pub session: SessionSettings,
    pub verify_command: Option<String>,
    pub verify_timeout: Duration,
    pub verify_retries: u32,
    pub step_timeout: Duration,
    /// Cost cap for the whole one-shot, counting steps done in earlier runs.
    pub budget_usd: Option<f64>,
    pub protected_paths: Vec<String>,
    /// Added to each step commit as a `Co-authored-by` trailer.
    pub submitted_by: Option<String>,
    /// How to resume from a step, in words for the failure report.
    pub resume_hint: Box<dyn Fn(u32) -> String + 'a>,
    /// What the caller watches outside the branch around every session (`oneshot run`: the
    /// user's refs and checkout, which its linked work tree shares).
    pub watch: Option<&'a dyn Watch>,
}

/// State outside the step's branch that an agent session must leave as it was.
pub trait Watch {
    /// Records the state; called before a step's first session.
    fn record(&self) -> Result<()>;
    /// Compares with the record after a session or the verify command: puts back what it can
    /// and reports it; an error (what could not be put back) fails the step.
    fn check(&self) -> Result<()>;
}

/// How a run of the step loop ended.
#[derive(Debug, Clone, Default)]
pub struct RunOutcome {
    pub completed: Vec<u32>,
    pub cost_usd: f64,
    pub duration_s: f64,
    pub steps: Vec<StepRecord>,
}

/// A step that could not be finished, with the evidence.
struct StepFailure {
    cause: String,
    agent_output: Option<String>,
    cost_usd: f64,
    /// HEAD when the step started: the partial work is everything since.
    base: Option<String>,
    /// The kind of the error the step ends with: `StepFailed`, or `Interrupted` when oneshot
    /// was stopped by a signal during the session (exit 130, not 1).
    kind: ErrorKind,
}

struct StepDone {
    commit: Option<String>,
    cost_usd: f64,
}

impl Engine<'_> {
    /// Runs every step from `from_step` (default: the first step not done). Returns the outcome;
    /// a failed step is an `Err` of kind `StepFailed` after the tracker was told.
    pub fn run(
        &self,
        tracker: &mut dyn Tracker,
        record: &PlanRecord,
        from_step: Option<u32>,
    ) -> Result<RunOutcome> {
        let plan = &record.plan;
        let recorded = tracker.recorded_steps()?;
        let mut steps = merge_states(plan, &recorded);
        let start = match from_step {
            Some(k) => {
                if plan.step(k).is_none() {
                    return Err(Error::input(format!(
                        "the plan has no step {k} (it has steps 1 to {})",
                        plan.steps.len()
                    )));
                }
                k
            }
            None => match steps.iter().find(|s| s.state != StepState::Done) {
                Some(s) => s.number,
                None => {
                    self.runner.info("Every step is already done.");
                    return Ok(RunOutcome {
                        completed: Vec::new(),
                        steps,
                        ..Default::default()
                    });
                }
            },
        };
        for s in steps.iter_mut().filter(|s| s.number >= start) {
            *s = StepRecord {
                state: StepState::Queued,
                duration_s: None,
                cost_usd: None,
                commit: None,
                note: None,
                ..s.clone()
            };
        }
        let spent_before: f64 = steps
            .iter()
            .filter(|s| s.number < start)
            .filter_map(|s| s.cost_usd)
            .sum();
        let run_start = Instant::now();
        let mut outcome = RunOutcome::default();
        let mut any_change = steps.iter().any(|s| s.number < start && s.commit.is_some());

        set_state(&mut steps, start, StepState::InProgress);
        tracker.set_progress(&steps)?;

        let todo: Vec<&Step> = plan.steps.iter().filter(|s| s.number >= start).collect();
        for (i, step) in todo.iter().enumerate() {
            let step_start = Instant::now();
            let done: Vec<u32> = steps
                .iter()
                .filter(|s| s.state == StepState::Done)
                .map(|s| s.number)
                .collect();
            let result = {
                let _group = self
                    .runner
                    .group(&format!("Step {}: {}", step.number, step.title));
                let base = self.git.head().ok();
                self.run_step(record, step, &done, spent_before + outcome.cost_usd)
                    .map_err(|f| StepFailure {
                        base: base.clone(),
                        ..f
                    })
            };
            let elapsed = step_start.elapsed().as_secs_f64();
            match result {
                Ok(finished) => {
                    outcome.cost_usd += finished.cost_usd;
                    outcome.completed.push(step.number);
                    any_change |= finished.commit.is_some();
                    if let Some(s) = steps.iter_mut().find(|s| s.number == step.number) {
                        s.state = StepState::Done;
                        s.duration_s = Some(elapsed);
                        s.cost_usd = Some(finished.cost_usd);
                        s.commit = finished.commit.clone();
                        s.note = finished.commit.is_none().then(|| "no changes".to_string());
                    }
                    self.runner.info(&format!(
                        "Step {} done in {}{}",
                        step.number,
                        crate::markers::format_duration(elapsed),
                        finished
                            .commit
                            .as_deref()
                            .map(|c| format!(", commit {}", &c[..c.len().min(7)]))
                            .unwrap_or_else(|| ", no changes".into())
                    ));
                    // Past the budget: stop before the next step, cleanly, like a failure.
                    let spent = spent_before + outcome.cost_usd;
                    if let (Some(budget), Some(next)) = (self.budget_usd, todo.get(i + 1))
                        && spent >= budget
                    {
                        let cause = format!(
                            "the budget of ${budget:.2} is spent (${spent:.2} so far); step {} was not started",
                            next.number
                        );
                        return Err(
                            self.stop(tracker, &mut steps, next, cause, None, None, outcome)
                        );
                    }
                    if let Some(next) = todo.get(i + 1) {
                        set_state(&mut steps, next.number, StepState::InProgress);
                    }
                    // The step is committed and pushed: failing to show it must not fail it
                    // (finalize would then have it redone). The next update shows it anyway.
                    if let Err(e) = tracker.set_progress(&steps) {
                        self.runner.annotate(
                            crate::actions::Level::Warning,
                            &format!(
                                "step {} is done, but the progress could not be updated: {}",
                                step.number,
                                e.render()
                            ),
                            &crate::actions::Annotation::default(),
                        );
                    }
                }
                Err(failure) => {
                    outcome.cost_usd += failure.cost_usd;
                    if let Some(s) = steps.iter_mut().find(|s| s.number == step.number) {
                        s.duration_s = Some(elapsed);
                        s.cost_usd = Some(failure.cost_usd);
                    }
                    let patch = self.keep_partial_work(step.number, failure.base.as_deref())?;
                    let kind = failure.kind;
                    let mut err = self.stop(
                        tracker,
                        &mut steps,
                        step,
                        failure.cause,
                        failure.agent_output,
                        patch,
                        outcome,
                    );
                    err.kind = kind;
                    return Err(err);
                }
            }
        }
        outcome.duration_s = run_start.elapsed().as_secs_f64();
        outcome.steps = steps;
        if !any_change {
            return Err(Error::step_failed(
                "no step changed anything: the plan was implemented as empty steps",
            )
            .hint("check the plan's steps and the agent's transcripts in .impl/runs/"));
        }
        Ok(outcome)
    }

    /// Marks `step` failed and the rest not started, tells the tracker, and returns the error.
    #[allow(clippy::too_many_arguments)]
    fn stop(
        &self,
        tracker: &mut dyn Tracker,
        steps: &mut [StepRecord],
        step: &Step,
        cause: String,
        agent_output: Option<String>,
        patch: Option<(PathBuf, String)>,
        outcome: RunOutcome,
    ) -> Error {
        for s in steps.iter_mut() {
            if s.number == step.number {
                s.state = StepState::Failed;
                s.note = Some(one_line(&cause, 200));
            } else if s.number > step.number && s.state != StepState::Done {
                s.state = StepState::NotStarted;
            }
        }
        let (diff, artifacts_note) = match &patch {
            Some((path, text)) if text.len() <= INLINE_DIFF_LIMIT => (Some(text.clone()), None),
            Some((path, text)) => (
                None,
                Some(format!(
                    "The partial work ({} KiB) is kept as `{}` in the run's artifacts, next to the session transcripts.",
                    text.len() / 1024,
                    relative(&self.ws.root, path)
                )),
            ),
            None => (None, None),
        };
        let report = FailureReport {
            step: step.number,
            step_title: step.title.clone(),
            cause: cause.clone(),
            agent_output,
            diff,
            artifacts_note,
            resume: (self.resume_hint)(step.number),
        };
        let mut err = Error::step_failed(format!(
            "step {} ({}) failed: {cause}",
            step.number, step.title
        ))
        .hint(format!("to resume: {}", report.resume));
        if !outcome.completed.is_empty() {
            let done: Vec<String> = outcome.completed.iter().map(u32::to_string).collect();
            let (noun, verb) = if done.len() == 1 {
                ("step", "is")
            } else {
                ("steps", "are")
            };
            err = err.hint(format!("{noun} {} {verb} done and kept", done.join(", ")));
        }
        if let Err(e) = tracker.set_progress(steps) {
            err = err.cause(format!(
                "also, the progress could not be updated: {}",
                e.render()
            ));
        }
        if let Err(e) = tracker.report_failure(&report) {
            err = err.cause(format!(
                "also, the failure report could not be posted: {}",
                e.render()
            ));
        }
        err
    }

    /// One step: sessions until the verify command passes (or the retries run out), then the
    /// commit and the push.
    fn run_step(
        &self,
        record: &PlanRecord,
        step: &Step,
        done: &[u32],
        spent: f64,
    ) -> std::result::Result<StepDone, StepFailure> {
        let started = Instant::now();
        let head_before = self
            .git
            .head()
            .map_err(|e| failure(e.render(), None, 0.0))?;
        if let Some(watch) = self.watch {
            watch.record().map_err(|e| failure(e.render(), None, 0.0))?;
        }
        let mut cost = 0.0;
        let mut feedback: Option<String> = None;
        let mut attempt = 0;
        loop {
            // Check point: no session starts once oneshot was asked to stop (this is also the
            // check between steps).
            interrupted(cost)?;
            let remaining = self.step_timeout.saturating_sub(started.elapsed());
            if remaining.is_zero() {
                return Err(failure(
                    format!(
                        "the step took longer than its limit of {}",
                        human(self.step_timeout)
                    ),
                    None,
                    cost,
                ));
            }
            let mut settings = self.session.clone();
            settings.timeout = settings.timeout.min(remaining);
            settings.protected_paths = self.protected_paths.clone();
            if let Some(budget) = self.budget_usd {
                let left = budget - spent - cost;
                if left <= 0.0 {
                    return Err(failure(
                        format!("the budget of ${budget:.2} is spent"),
                        None,
                        cost,
                    ));
                }
                settings.budget_usd = Some(settings.budget_usd.map_or(left, |b| b.min(left)));
            }
            let prompt = self
                .prompt(record, step, done, feedback.as_deref())
                .map_err(|e| failure(e.render(), None, cost))?;
            let run_dir = self.ws.path(workspace::RUNS_DIR);
            let run_name =
                agent::next_run_name(&run_dir, &format!("implement-step{}", step.number));
            let config = self
                .git
                .snapshot_config()
                .map_err(|e| failure(e.render(), None, cost))?;
            let report = agent::run(
                self.runner,
                &settings,
                &SessionRequest {
                    phase: Phase::Implement,
                    workdir: &self.ws.root,
                    prompt: &prompt,
                    run_dir: &run_dir,
                    run_name: &run_name,
                },
            );
            if config
                .restore()
                .map_err(|e| failure(e.render(), None, cost))?
            {
                self.runner
                    .info("The session changed .git/config; oneshot restored it.");
            }
            let report = report.map_err(|e| failure(e.render(), None, cost))?;
            let _ = report.write(&run_dir.join(format!("{run_name}.json")));
            cost += report.cost_usd.unwrap_or(0.0);
            let last_words = report
                .final_text
                .clone()
                .or_else(|| report.stderr_tail.clone())
                .map(|t| tail(&t, OUTPUT_TAIL));
            // Before anything else reads the work tree: the branch is where the step started.
            self.after_agent(&head_before)
                .map_err(|cause| failure(cause, last_words.clone(), cost))?;
            if let Some(err) = report.error(
                &format!("the session for step {}", step.number),
                &settings.agent,
            ) {
                return Err(StepFailure {
                    kind: match err.kind {
                        ErrorKind::Interrupted => ErrorKind::Interrupted,
                        _ => ErrorKind::StepFailed,
                    },
                    ..failure(
                        err.render().lines().next().unwrap_or_default().to_string(),
                        last_words,
                        cost,
                    )
                });
            }

            let changed = self
                .git
                .files_changed_since(&head_before)
                .map_err(|e| failure(e.render(), None, cost))?;
            let protected: Vec<&String> = changed.iter().filter(|f| self.is_protected(f)).collect();
            if !protected.is_empty() {
                return Err(failure(
                    format!(
                        "the agent changed protected paths, which oneshot refuses to commit: {}",
                        protected
                            .iter()
                            .map(|p| format!("`{p}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    last_words,
                    cost,
                ));
            }

            let Some(command) = &self.verify_command else {
                break;
            };
            let config = self
                .git
                .snapshot_config()
                .map_err(|e| failure(e.render(), None, cost))?;
            let runner_files = self.runner.guard_files();
            let verified = run_verify(
                command,
                &self.ws.root,
                self.verify_timeout,
                self.session.kill_grace,
            );
            // Processes of the check that left its group go too, before its writes are undone.
            crate::agent::process::end_leftover_processes();
            runner_files
                .restore()
                .map_err(|e| failure(e.render(), None, cost))?;
            // The check runs the agent's code too: what it wrote to the config goes.
            if config
                .restore()
                .map_err(|e| failure(e.render(), None, cost))?
            {
                self.runner
                    .info("The check command changed .git/config; oneshot restored it.");
            }
            // The check runs code the agent wrote, which can move refs as well as a session.
            self.after_agent(&head_before)
                .map_err(|cause| failure(cause, None, cost))?;
            match verified {
                Ok(()) => break,
                Err(VerifyFailure::Interrupted) => return Err(interruption(cost)),
                Err(VerifyFailure::Failed(output)) if attempt < self.verify_retries => {
                    attempt += 1;
                    self.runner.info(&format!(
                        "The check `{command}` failed; giving the agent another session ({attempt} of {})",
                        self.verify_retries
                    ));
                    feedback = Some(output);
                }
                Err(VerifyFailure::Failed(output)) => {
                    let tries = if self.verify_retries == 0 {
                        String::new()
                    } else {
                        format!(" after {} retries", self.verify_retries)
                    };
                    return Err(failure(
                        format!("the check `{command}` failed{tries}"),
                        Some(output),
                        cost,
                    ));
                }
            }
        }

        // Check point: a step interrupted before its commit is not committed (its work is kept
        // as a patch, like a failed step's). Once committed, the step is finished: its push is
        // let through (a push is never cut short), and the next check point stops the run.
        interrupted(cost)?;
        let mut message = format!("Step {}: {}\n", step.number, step.title);
        if let Some(who) = self
            .submitted_by
            .as_deref()
            .filter(|w| !w.is_empty() && !w.ends_with("[bot]"))
        {
            message.push_str(&format!(
                "\nCo-authored-by: {who} <{who}@users.noreply.github.com>\n"
            ));
        }
        // Protected paths again, on what is committed: the check command runs after the look
        // above and can write them.
        let commit = self
            .git
            .commit_all_checked(&message, &head_before, |staged| {
                let protected: Vec<String> = staged
                    .iter()
                    .filter(|f| self.is_protected(f))
                    .map(|p| format!("`{p}`"))
                    .collect();
                match protected.is_empty() {
                    true => Ok(()),
                    false => Err(Error::git(format!(
                        "the agent's code changed protected paths, which oneshot refuses to commit: {}",
                        protected.join(", ")
                    ))),
                }
            })
            .and_then(|commit| self.confirm_on_branch(&head_before, commit))
            .map_err(|e| failure(e.render(), None, cost))?;
        let commit = match commit {
            Some(commit) if self.push => Some(self.publish(&commit).map_err(|e| {
                failure(
                    e.render().lines().next().unwrap_or_default().to_string(),
                    None,
                    cost,
                )
            })?),
            other => other,
        };
        Ok(StepDone {
            commit,
            cost_usd: cost,
        })
    }

    /// After a session or the verify command: the branch first, then what the caller watches.
    /// The error is the cause of the step's failure.
    fn after_agent(&self, base: &str) -> std::result::Result<(), String> {
        let secured = match self.secure_branch(base) {
            Ok(Ok(None)) => Ok(()),
            Ok(Ok(Some(note))) => {
                self.runner.info(&note);
                Ok(())
            }
            Ok(Err(cause)) => Err(cause),
            Err(e) => Err(e.render()),
        };
        // The watch runs even when the step fails: what the agent did to the user's refs is put
        // back (or named) whatever else it did.
        let watched = match self.watch {
            Some(watch) => watch.check().map_err(|e| e.render()),
            None => Ok(()),
        };
        match (secured, watched) {
            (Ok(()), Ok(())) => Ok(()),
            (Err(cause), Ok(())) | (Ok(()), Err(cause)) => Err(cause),
            (Err(cause), Err(watch)) => Err(format!("{cause}; and {watch}")),
        }
    }

    /// Puts HEAD and the step's branch back where the step started (`base`), keeping the work
    /// tree, whatever the agent did to them (commits, `checkout -b`, `--detach`, `reset`,
    /// `--amend`). The step's commit is then made from `base` with the session's tree, so every
    /// earlier step stays on the branch and no commit of the agent's own (or its message) gets
    /// there.
    ///
    /// That is without loss only while the history the agent left checked out still contains
    /// `base`: its work tree then holds every finished step plus the session's changes. When it
    /// does not (a reset, an amend, a checkout of an older commit), the work tree may lack a
    /// finished step's changes, and committing it would undo that step: the step fails, saying
    /// what the agent did; the branch is put back all the same.
    ///
    /// `Ok(Ok(Some(note)))`: repaired, with what the agent did; `Ok(Err(cause))`: the step fails.
    fn secure_branch(&self, base: &str) -> Result<std::result::Result<Option<String>, String>> {
        let branch_ref = format!("refs/heads/{}", self.branch);
        // The branch itself made a symbolic ref (to the user's `main`, say): every read below
        // would follow it, and so would a plain `update-ref`, moving the ref it points at.
        let branch_target = self.git.symbolic_ref_target(&branch_ref)?;
        if let Some(target) = &branch_target {
            self.git.run(
                "make the branch a branch again",
                &[
                    "update-ref",
                    "--no-deref",
                    "-m",
                    "oneshot: the agent made the branch a symbolic ref",
                    &branch_ref,
                    base,
                ],
            )?;
            self.runner.annotate(
                crate::actions::Level::Warning,
                &format!(
                    "The agent made the branch `{}` a symbolic ref to {}; oneshot made it a branch again at {}",
                    self.branch,
                    describe_ref(target),
                    short(base)
                ),
                &Default::default(),
            );
        }
        let head_ref = self.git.symbolic_ref("HEAD")?;
        let head = self.git.commit_of("HEAD")?;
        let tip = self.git.commit_of(&branch_ref)?;
        if head_ref.as_deref() == Some(branch_ref.as_str()) && tip.as_deref() == Some(base) {
            return Ok(Ok(None));
        }

        let mut did = Vec::new();
        match (&head_ref, &head) {
            (Some(r), _) if *r == branch_ref => {}
            (Some(r), Some(c)) => did.push(format!(
                "switched HEAD to {} at {}",
                describe_ref(r),
                short(c)
            )),
            (Some(r), None) => did.push(format!(
                "switched HEAD to {}, which has no commit",
                describe_ref(r)
            )),
            (None, Some(c)) => did.push(format!(
                "moved HEAD off the branch to {} (a detached HEAD)",
                short(c)
            )),
            (None, None) => did.push("left HEAD pointing at no commit".to_string()),
        }
        match &tip {
            None => did.push(format!("deleted the branch `{}`", self.branch)),
            Some(t) if t == base => {}
            Some(t) if self.git.is_ancestor(base, t)? => {
                did.push("committed on the branch itself".to_string());
            }
            Some(t) if self.git.is_ancestor(t, base)? => did.push(format!(
                "reset the branch `{}` back to {}",
                self.branch,
                short(t)
            )),
            Some(t) => did.push(format!(
                "rewrote the branch `{}` (it now points at {}, which does not contain {})",
                self.branch,
                self.git
                    .run("read a commit", &["log", "-1", "--format=%h \"%s\"", t])?
                    .trim(),
                short(base)
            )),
        }
        let kept = match &head {
            Some(h) => self.git.is_ancestor(base, h)?,
            None => false,
        };
        if kept {
            // The session's tree, staged before HEAD moves: the step's commit is made from it.
            self.git
                .run("stage the session's work", &["add", "--all"])?;
        }
        self.git.run(
            "put the branch back",
            &[
                "update-ref",
                "--no-deref",
                "-m",
                "oneshot: put back after an agent session",
                &branch_ref,
                base,
            ],
        )?;
        self.git.run(
            "put HEAD back on the branch",
            &["symbolic-ref", "HEAD", &branch_ref],
        )?;

        let did = did.join(", ");
        if kept {
            let own = match &head {
                Some(h) if h != base => self.git.commits_in(&format!("{base}..{h}"))?,
                _ => Vec::new(),
            };
            let folded = if own.is_empty() {
                String::new()
            } else {
                format!(
                    "; its own commits ({}) are folded into the step's commit, with oneshot's message",
                    list_commits(&own)
                )
            };
            return Ok(Ok(Some(format!(
                "The agent {did}. oneshot put HEAD and the branch back at {}, keeping the session's work{folded}.",
                short(base)
            ))));
        }
        let lost = match &head {
            Some(h) => self.git.commits_in(&format!("{h}..{base}"))?,
            None => self.git.commits_in(base)?,
        };
        let missing = match lost.as_slice() {
            [(sha, subject)] => match subject.split_once(':') {
                Some((step, _)) if step.starts_with("Step ") => {
                    format!("{step}'s commit {sha} is no longer in its history")
                }
                _ => format!("the commit {sha} \"{subject}\" is no longer in its history"),
            },
            _ => format!(
                "{} commits ({}) are no longer in its history",
                lost.len(),
                list_commits(&lost)
            ),
        };
        Ok(Err(format!(
            "the agent {did}: {missing}, so its work tree may lack finished work and was not committed; \
             oneshot put the branch back at {} (the partial work is kept as a patch)",
            short(base)
        )))
    }

    /// The step's commit (or, with no changes, `base`) is what the branch and HEAD point at,
    /// and its parent is `base`: only then is the step done.
    fn confirm_on_branch(&self, base: &str, commit: Option<String>) -> Result<Option<String>> {
        let branch_ref = format!("refs/heads/{}", self.branch);
        let expected = commit.as_deref().unwrap_or(base);
        let tip = self.git.commit_of(&branch_ref)?;
        let on_branch = self.git.symbolic_ref("HEAD")?.as_deref() == Some(branch_ref.as_str());
        let parent = match &commit {
            Some(c) => self.git.commit_of(&format!("{c}~1"))?,
            None => Some(base.to_string()),
        };
        if tip.as_deref() != Some(expected) || !on_branch || parent.as_deref() != Some(base) {
            return Err(Error::git(format!(
                "the step's commit {} is not on top of {} on the branch {}",
                short(expected),
                short(base),
                self.branch
            ))
            .hint("the branch is left as it is; resume from this step"));
        }
        Ok(commit)
    }

    fn prompt(
        &self,
        record: &PlanRecord,
        step: &Step,
        done: &[u32],
        feedback: Option<&str>,
    ) -> Result<String> {
        let steps: Vec<(u32, String)> = record
            .plan
            .steps
            .iter()
            .map(|s| (s.number, s.title.clone()))
            .collect();
        let prompt = prompts::implement(
            &self.ws.root,
            &prompts::ImplementInput {
                plan: &record.text,
                steps: &steps,
                current: step.number,
                step_body: &step.body,
                done,
                verify_command: self.verify_command.as_deref(),
                protected_paths: &self.protected_paths,
            },
        )?;
        let mut text = prompt.text;
        if let Some(output) = feedback {
            text.push_str(&format!(
                "\n\n## The check failed\n\nAfter the last session, `{}` failed. Fix the cause; its output ends with:\n\n{}\n",
                self.verify_command.as_deref().unwrap_or_default(),
                crate::markers::code_block(output, "text")
            ));
        }
        Ok(text)
    }

    fn is_protected(&self, path: &str) -> bool {
        ALWAYS_PROTECTED
            .iter()
            .copied()
            .chain(self.protected_paths.iter().map(String::as_str))
            .any(|g| glob_match(g, path))
    }

    /// Pushes the step's commit to the branch, and nothing else (no tag, no other ref the agent
    /// may have made); if the branch moved on the remote, rebases the commit onto it when it
    /// applies cleanly, else fails with the reason. Returns the commit that was pushed.
    fn publish(&self, commit: &str) -> Result<String> {
        if self.remote.push_commit(commit, &self.branch)? {
            return Ok(commit.to_string());
        }
        self.runner.info(&format!(
            "{} moved on the remote; rebasing this step onto it",
            self.branch
        ));
        let upstream = self.remote.branch_commit(&self.branch)?.ok_or_else(|| {
            Error::git(format!(
                "the branch {} was deleted on the remote",
                self.branch
            ))
        })?;
        self.remote.fetch_objects(&self.branch)?;
        let bot = self
            .git
            .with_config("user.name", crate::git::BOT_NAME)
            .with_config("user.email", crate::git::BOT_EMAIL);
        let rebase = bot.try_run(
            "rebase onto the remote branch",
            &["rebase", "--quiet", &upstream],
        )?;
        if !rebase.success {
            let _ = self.git.try_run("abort the rebase", &["rebase", "--abort"]);
            return Err(Error::git(format!(
                "{} moved on the remote and this step's commit does not apply on top of it",
                self.branch
            ))
            .cause(rebase.stderr.trim().to_string())
            .hint("someone pushed to the branch while oneshot worked; merge their change, then resume from this step"));
        }
        let rebased = self.git.head()?;
        if !self.remote.push_commit(&rebased, &self.branch)? {
            return Err(Error::git(format!(
                "{} keeps moving on the remote; could not push",
                self.branch
            )));
        }
        Ok(rebased)
    }

    /// Saves the failed step's changes (commits it made and uncommitted work) as a patch in
    /// `.impl/runs/`, without pushing anything.
    fn keep_partial_work(
        &self,
        step: u32,
        base: Option<&str>,
    ) -> Result<Option<(PathBuf, String)>> {
        // Staging makes new files part of the diff; nothing is committed.
        let _ = self.git.run("stage the partial work", &["add", "--all"]);
        let base = base.unwrap_or("HEAD");
        let diff = self.git.run(
            "save the partial work",
            &["diff", "--cached", "--binary", base],
        )?;
        if diff.trim().is_empty() {
            return Ok(None);
        }
        let dir = self.ws.path(workspace::RUNS_DIR);
        std::fs::create_dir_all(&dir)
            .io_context(|| format!("could not create {}", dir.display()))?;
        let path = dir.join(format!("step-{step}-partial.patch"));
        std::fs::write(&path, &diff)
            .io_context(|| format!("could not write {}", path.display()))?;
        Ok(Some((path, diff)))
    }
}

/// The implementing sessions' settings from the layered configuration.
pub fn session_settings(settings: &crate::config::Settings) -> Result<SessionSettings> {
    Ok(SessionSettings {
        protected_paths: settings.protected_paths.clone(),
        ..SessionSettings::from_phase(&settings.implement)?
    })
}

fn failure(cause: String, agent_output: Option<String>, cost_usd: f64) -> StepFailure {
    StepFailure {
        cause,
        agent_output,
        cost_usd,
        base: None,
        kind: ErrorKind::StepFailed,
    }
}

/// A check point of the step loop: the step's failure if oneshot received a signal.
fn interrupted(cost_usd: f64) -> std::result::Result<(), StepFailure> {
    if crate::interrupt::interrupted() {
        Err(interruption(cost_usd))
    } else {
        Ok(())
    }
}

/// The step ends because oneshot received a signal (exit 130, not 1).
fn interruption(cost_usd: f64) -> StepFailure {
    StepFailure {
        kind: ErrorKind::Interrupted,
        ..failure(crate::interrupt::error().message, None, cost_usd)
    }
}

fn set_state(steps: &mut [StepRecord], number: u32, state: StepState) {
    if let Some(s) = steps.iter_mut().find(|s| s.number == number) {
        s.state = state;
    }
}

/// Why the verify command did not pass.
enum VerifyFailure {
    /// It failed: the end of its output.
    Failed(String),
    /// oneshot received a signal; the command's process group was ended.
    Interrupted,
}

/// Runs the verify command with `sh -c` in its own process group; a failure carries the end of
/// its output (stdout and stderr together, as a person would see them). A signal sent to oneshot
/// ends the group: SIGTERM, then SIGKILL after `grace`, or at once on a second signal.
fn run_verify(
    command: &str,
    dir: &Path,
    timeout: Duration,
    grace: Duration,
) -> std::result::Result<(), VerifyFailure> {
    use nix::sys::signal::{Signal, killpg};
    use std::os::unix::process::CommandExt;
    use std::sync::mpsc;
    let failed = |why: String| Err(VerifyFailure::Failed(why));
    let log = match tempfile::tempfile() {
        Ok(f) => f,
        Err(e) => {
            return failed(format!(
                "could not make a temporary file for the check's output: {e}"
            ));
        }
    };
    let (Ok(out), Ok(err)) = (log.try_clone(), log.try_clone()) else {
        return failed("could not set up the check's output".into());
    };
    // The command runs code the agent just wrote: it gets no token and no key.
    let env: Vec<_> = crate::config::inherited_environment()
        .into_iter()
        .filter(|(k, _)| {
            k.to_str()
                .is_some_and(|name| !crate::agent::env::is_secret(name))
        })
        .collect();
    let (signals_tx, signals) = mpsc::channel::<Signal>();
    let _subscription = crate::interrupt::subscribe(move |s| {
        let _ = signals_tx.send(s);
    });
    // Its own process group: a terminal's Ctrl-C reaches only oneshot, which ends the group.
    let mut child = match Command::new("sh")
        .arg("-c")
        .arg(command)
        .env_clear()
        .envs(env)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err))
        .process_group(0)
        .spawn()
    {
        Ok(c) => c,
        Err(e) => return failed(format!("could not start `sh -c {command}`: {e}")),
    };
    let pgid = nix::unistd::Pid::from_raw(child.id() as i32);
    let started = Instant::now();
    // When oneshot was asked to stop, and whether SIGKILL was sent.
    let mut stop_asked: Option<Instant> = None;
    let mut killed = false;
    let kill_group = |killed: &mut bool| {
        *killed = true;
        let _ = killpg(pgid, Signal::SIGKILL);
    };
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if stop_asked.is_none() && started.elapsed() >= timeout => {
                kill_group(&mut killed);
                let _ = child.wait();
                break None;
            }
            Ok(None) => {}
            Err(e) => return failed(format!("could not wait for the check: {e}")),
        }
        if let Some(asked) = stop_asked
            && !killed
            && asked.elapsed() >= grace
        {
            kill_group(&mut killed);
        }
        match signals.recv_timeout(Duration::from_millis(50)) {
            Ok(_) if stop_asked.is_none() => {
                stop_asked = Some(Instant::now());
                let _ = killpg(pgid, Signal::SIGTERM);
            }
            // Asked twice: no more grace.
            Ok(_) if !killed => kill_group(&mut killed),
            _ => {}
        }
    };
    if stop_asked.is_some() || crate::interrupt::interrupted() {
        end_group(
            pgid,
            stop_asked.unwrap_or_else(Instant::now),
            grace,
            &signals,
        );
        return Err(VerifyFailure::Interrupted);
    }
    let output = read_tail(log, OUTPUT_TAIL);
    match status {
        Some(s) if s.success() => Ok(()),
        Some(s) => failed(format!(
            "{output}\n(exit code {})",
            s.code().map_or("signal".into(), |c| c.to_string())
        )),
        None => failed(format!("{output}\n(stopped after {})", human(timeout))),
    }
}

/// After the verify command's shell ended on a signal: ends what is left of its process group
/// (SIGTERM, SIGKILL after `grace` from `since` or at another signal) and reaps those that
/// became oneshot's children, so that no process of the check outlives the step.
fn end_group(
    pgid: nix::unistd::Pid,
    since: Instant,
    grace: Duration,
    signals: &std::sync::mpsc::Receiver<nix::sys::signal::Signal>,
) {
    use nix::sys::signal::{Signal, killpg};
    use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
    let _ = killpg(pgid, Signal::SIGTERM);
    let mut kill_at = since + grace;
    let mut killed_at: Option<Instant> = None;
    loop {
        // Reaps the group's processes that are oneshot's children (it is a subreaper).
        while let Ok(status) = waitpid(
            nix::unistd::Pid::from_raw(-pgid.as_raw()),
            Some(WaitPidFlag::WNOHANG),
        ) {
            if status == WaitStatus::StillAlive {
                break;
            }
        }
        if matches!(killpg(pgid, None), Err(nix::errno::Errno::ESRCH)) {
            return;
        }
        if signals.try_recv().is_ok() {
            kill_at = Instant::now();
        }
        match killed_at {
            None if Instant::now() >= kill_at => {
                let _ = killpg(pgid, Signal::SIGKILL);
                killed_at = Some(Instant::now());
            }
            // Zombies that are not oneshot's to reap; nothing more to do.
            Some(at) if at.elapsed() >= Duration::from_secs(5) => return,
            _ => {}
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn read_tail(mut file: std::fs::File, max: usize) -> String {
    use std::io::{Read, Seek, SeekFrom};
    let len = file.seek(SeekFrom::End(0)).unwrap_or(0);
    let start = len.saturating_sub(max as u64);
    let _ = file.seek(SeekFrom::Start(start));
    let mut bytes = Vec::new();
    let _ = file.read_to_end(&mut bytes);
    let text = String::from_utf8_lossy(&bytes).into_owned();
    if start > 0 {
        format!("…{text}")
    } else {
        text
    }
}

fn tail(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut start = text.len() - max;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    format!("…{}", &text[start..])
}

fn one_line(text: &str, max: usize) -> String {
    let line = text.lines().next().unwrap_or_default();
    if line.chars().count() <= max {
        line.to_string()
    } else {
        line.chars().take(max).collect::<String>() + "…"
    }
}

fn short(commit: &str) -> &str {
    &commit[..commit.len().min(7)]
}

/// `the branch \`x\`` for a branch ref, the ref's name otherwise.
fn describe_ref(full: &str) -> String {
    match full.strip_prefix("refs/heads/") {
        Some(b) => format!("the branch `{b}`"),
        None => format!("`{full}`"),
    }
}

/// `abc1234 "Step 2: …", def5678 "…"`, at most five.
fn list_commits(commits: &[(String, String)]) -> String {
    let mut shown: Vec<String> = commits
        .iter()
        .take(5)
        .map(|(sha, subject)| format!("{sha} \"{subject}\""))
        .collect();
    if commits.len() > 5 {
        shown.push(format!("and {} more", commits.len() - 5));
    }
    shown.join(", ")
}

fn human(d: Duration) -> String {
    crate::markers::format_duration(d.as_secs_f64())
}

fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// Glob matching for protected paths: `**` any number of path segments, `*` any characters in a
/// segment, `?` one character; a pattern without a slash also matches the file name anywhere.
pub fn glob_match(pattern: &str, path: &str) -> bool {
    fn segments(p: &[&str], s: &[&str]) -> bool {
        match (p.first(), s.first()) {
            (None, None) => true,
            (Some(&"**"), _) => segments(&p[1..], s) || (!s.is_empty() && segments(p, &s[1..])),
            (Some(pat), Some(seg)) => {
                segment(pat.as_bytes(), seg.as_bytes()) && segments(&p[1..], &s[1..])
            }
            _ => false,
        }
    }
    fn segment(p: &[u8], s: &[u8]) -> bool {
        match (p.first(), s.first()) {
            (None, None) => true,
            (Some(b'*'), _) => segment(&p[1..], s) || (!s.is_empty() && segment(p, &s[1..])),
            (Some(b'?'), Some(_)) => segment(&p[1..], &s[1..]),
            (Some(a), Some(b)) if a == b => segment(&p[1..], &s[1..]),
            _ => false,
        }
    }
    let pattern = pattern.trim_start_matches("./").trim_start_matches('/');
    let pattern = pattern
        .strip_suffix('/')
        .map(|p| format!("{p}/**"))
        .unwrap_or_else(|| pattern.to_string());
    let p: Vec<&str> = pattern.split('/').collect();
    let s: Vec<&str> = path.split('/').collect();
    if !pattern.contains('/') {
        return s
            .iter()
            .any(|seg| segment(pattern.as_bytes(), seg.as_bytes()));
    }
    segments(&p, &s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match(
            ".github/workflows/**",
            ".github/workflows/ci.yml"
        ));
        assert!(glob_match(
            ".github/workflows/**",
            ".github/workflows/a/b.yml"
        ));
        assert!(!glob_match(
            ".github/workflows/**",
            ".github/dependabot.yml"
        ));
        assert!(glob_match(".impl/**", ".impl/plan.md"));
        assert!(glob_match("*.lock", "sub/Cargo.lock"));
        assert!(glob_match("secrets/", "secrets/key.pem"));
        assert!(glob_match("src/*.rs", "src/main.rs"));
        assert!(!glob_match("src/*.rs", "src/a/main.rs"));
        assert!(glob_match("src/**/*.rs", "src/main.rs"));
    }

    fn verify(command: &str, dir: &Path, timeout: Duration) -> Result<(), String> {
        run_verify(command, dir, timeout, Duration::from_secs(1)).map_err(|f| match f {
            VerifyFailure::Failed(output) => output,
            VerifyFailure::Interrupted => "interrupted".into(),
        })
    }

    #[test]
    fn verify_runs_with_a_time_bound() {
        let dir = tempfile::tempdir().unwrap();
        assert!(verify("true", dir.path(), Duration::from_secs(5)).is_ok());
        let err = verify(
            "echo broken >&2; exit 3",
            dir.path(),
            Duration::from_secs(5),
        )
        .unwrap_err();
        assert!(
            err.contains("broken") && err.contains("exit code 3"),
            "{err}"
        );
        let started = Instant::now();
        let err = verify("sleep 30", dir.path(), Duration::from_millis(300)).unwrap_err();
        assert!(err.contains("stopped after"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn tails_keep_the_end() {
        assert_eq!(tail("abcdef", 3), "…def");
        assert_eq!(tail("ab", 3), "ab");
    }
}
