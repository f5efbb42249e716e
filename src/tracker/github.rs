//! The tracker in CI: the plan issue holds the plan, the PR body shows the progress, and
//! oneshot's own comments report failure and completion.

use serde_json::{Value, json};

use super::{Completion, FailureReport, PlanRecord, Tracker};
use crate::error::{Error, Result};
use crate::github::{GitHub, HttpMethod, Issue, Request};
use crate::markers::{self, PROGRESS_END, PROGRESS_START, StepRecord};
use crate::plan;
use crate::pr_body;

pub const FAILURE_COMMENT: &str = "failure";
pub const DONE_COMMENT: &str = "done";

pub struct GitHubTracker<'a> {
    pub gh: &'a GitHub,
    /// The pull request; `None` only for reading the plan without checking whose it is.
    pub pr: Option<u64>,
    pub issue: u64,
    /// The branch the work happens on, checked against the plan issue's metadata.
    pub branch: Option<String>,
    pub run_url: Option<String>,
    pub title_prefix: String,
    pub reviewers: Vec<String>,
    /// The PR as `recorded_steps` just read it, used once by the next `set_progress` instead of
    /// reading it again (saves a request per run; later updates read it fresh to keep edits).
    pub just_read: Option<Issue>,
    /// The pull request's own fields (node id, draft, base), read once: they do not change
    /// while a step runs.
    pub pull: Option<crate::github::PullRequest>,
}

/// The pull request a plan issue names in its metadata.
pub fn pr_of_issue(gh: &GitHub, issue: u64) -> Result<u64> {
    let body = gh.get_issue(issue, "read the plan issue")?.body;
    markers::parse_meta(&body)
        .and_then(|m| m.pr)
        .ok_or_else(|| {
            Error::input(format!(
                "plan issue #{issue} does not name its pull request"
            ))
            .hint("pass --pr NUMBER")
        })
}

impl GitHubTracker<'_> {
    fn pr(&self) -> Result<u64> {
        self.pr
            .ok_or_else(|| Error::input("the pull request is not known").hint("pass --pr NUMBER"))
    }

    fn read_pr(&self) -> Result<Issue> {
        let number = self.pr()?;
        let pr = self.gh.get_issue(number, "read the pull request")?;
        if !pr.is_pull_request {
            return Err(Error::input(format!(
                "#{number} is an issue, not a pull request"
            )));
        }
        Ok(pr)
    }

    /// The pull request as the pulls endpoint shows it, read once.
    pub fn pull_request(&mut self) -> Result<crate::github::PullRequest> {
        if let Some(pull) = &self.pull {
            return Ok(pull.clone());
        }
        let pull = self.gh.get_pull(self.pr()?)?;
        self.pull = Some(pull.clone());
        Ok(pull)
    }

    fn write_pr(&self, patch: Value) -> Result<Issue> {
        self.gh
            .update_issue(self.pr()?, patch, "update the pull request")
    }
}

impl Tracker for GitHubTracker<'_> {
    fn plan(&mut self) -> Result<PlanRecord> {
        let issue = self.gh.get_issue(self.issue, "read the plan issue")?;
        if issue.is_pull_request {
            return Err(Error::input(format!(
                "#{} is a pull request, not a plan issue",
                self.issue
            )));
        }
        let meta = markers::parse_meta(&issue.body);
        if let Some(meta) = &meta {
            if let (Some(expected), Some(recorded)) = (&self.branch, &meta.branch)
                && expected != recorded
            {
                return Err(Error::input(format!(
                    "plan issue #{} belongs to the branch `{recorded}`, not `{expected}`",
                    self.issue
                ))
                .hint(format!(
                    "pass the plan issue of this branch, or check out `{recorded}` (in the workflow: set the input branch_name to `{recorded}`)"
                )));
            }
            if let (Some(recorded), Some(expected)) = (meta.pr, self.pr)
                && recorded != expected
            {
                return Err(Error::input(format!(
                    "plan issue #{} belongs to pull request #{recorded}, not #{expected}",
                    self.issue
                ))
                .hint("pass the plan issue of this pull request"));
            }
        }
        let text = markers::before_meta(&issue.body).trim_end().to_string() + "\n";
        let plan = plan::parse(&text).map_err(|problems| {
            let mut err = Error::input(format!(
                "the plan in issue #{} is not valid ({} problems)",
                self.issue,
                problems.len()
            ));
            for p in problems.iter().take(10) {
                err = err.cause(format!("line {}: {}", p.line, p.message));
            }
            err.hint(format!(
                "edit issue #{} so that it has a `# title` and `### Step N: …` headings under `## Steps`",
                self.issue
            ))
        })?;
        Ok(PlanRecord {
            text,
            plan,
            branch: meta.and_then(|m| m.branch),
        })
    }

    fn recorded_steps(&mut self) -> Result<Vec<StepRecord>> {
        let pr = self.read_pr()?;
        let steps = markers::parse_meta(&pr.body)
            .map(|m| m.steps)
            .unwrap_or_default();
        self.just_read = Some(pr);
        Ok(steps)
    }

    fn set_progress(&mut self, steps: &[StepRecord]) -> Result<()> {
        // Read the body fresh (unless it was read a moment ago) so that edits people made
        // meanwhile are kept.
        let pr = match self.just_read.take() {
            Some(pr) => pr,
            None => self.read_pr()?,
        };
        let mut meta = markers::parse_meta(&pr.body).unwrap_or_default();
        meta.steps = steps.to_vec();
        meta.pr = self.pr;
        meta.issue = Some(self.issue);
        let body = pr_body::update_progress(&pr.body, steps, &meta);
        if body != pr.body {
            self.write_pr(json!({ "body": body }))?;
        }
        Ok(())
    }

    fn report_failure(&mut self, failure: &FailureReport) -> Result<()> {
        let body = failure_comment(failure, self.run_url.as_deref());
        self.gh
            .upsert_owned_comment(self.pr()?, FAILURE_COMMENT, &body, false)
            .map(drop)
    }

    fn complete(&mut self, completion: &Completion) -> Result<()> {
        let pr = match self.just_read.take() {
            Some(pr) => pr,
            None => self.read_pr()?,
        };
        let mut meta = markers::parse_meta(&pr.body).unwrap_or_default();
        let completed_before = meta
            .other
            .get("completed")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        meta.steps = completion.steps.clone();
        meta.other.insert("completed".into(), Value::Bool(true));
        let progress = format!(
            "{}\n{}",
            markers::render_progress(&completion.steps).trim_end(),
            completion_summary(completion)
        );
        let body = markers::set_meta(
            &markers::replace_region(&pr.body, PROGRESS_START, PROGRESS_END, &progress),
            &meta,
        );
        let title = pr
            .title
            .strip_prefix(self.title_prefix.as_str())
            .unwrap_or(&pr.title)
            .to_string();
        self.write_pr(json!({ "title": title, "body": body }))?;

        let number = self.pr()?;
        let pull = self.pull_request()?;
        if pull.draft {
            self.gh.mark_ready_for_review(&pull.node_id)?;
        }
        let reviewers: Vec<&String> = self
            .reviewers
            .iter()
            .filter(|r| !r.is_empty() && !r.eq_ignore_ascii_case(&pull.author))
            .collect();
        if !reviewers.is_empty() {
            let request = Request::new(
                HttpMethod::Post,
                format!(
                    "{}/pulls/{number}/requested_reviewers",
                    self.gh.repo.api_path()
                ),
                "request reviews",
            )
            .body(json!({ "reviewers": reviewers }));
            // A reviewer who cannot review (not a collaborator) must not fail the finished work.
            if let Err(e) = self.gh.send(&request) {
                return Err(e.context("the pull request is ready, but requesting reviews failed"));
            }
        }
        let note = format!(
            "Implemented in #{number}: {} steps, ready for review.",
            completion.steps.len()
        );
        self.gh
            .upsert_owned_comment(self.issue, DONE_COMMENT, &note, !completed_before)?;
        Ok(())
    }
}

/// `**Done:** 3 steps · 5 files changed · 4m 12s · $0.84` and the diffstat, folded.
pub fn completion_summary(c: &Completion) -> String {
    let mut out = format!(
        "\n**Done:** {} steps · {} files changed · {} · ${:.2}\n",
        c.steps.len(),
        c.files_changed,
        markers::format_duration(c.duration_s),
        c.cost_usd
    );
    if !c.diffstat.trim().is_empty() {
        out.push_str(&format!(
            "\n<details><summary>Files changed</summary>\n\n{}\n</details>\n",
            markers::code_block(c.diffstat.trim_end(), "")
        ));
    }
    out
}

/// The failure comment: cause, the agent's last words, the partial work, and how to resume.
pub fn failure_comment(f: &FailureReport, run_url: Option<&str>) -> String {
    let mut out = format!(
        "### ❌ Step {}: {} failed\n\n{}\n",
        f.step,
        markers::escape_inline(&f.step_title),
        markers::escape_inline(&f.cause)
    );
    if let Some(url) = run_url {
        out.push_str(&format!("\nRun: {url}\n"));
    }
    out.push_str(
        "\nEvery earlier step is committed and pushed; this step's partial work was not pushed.\n",
    );
    if let Some(text) = f.agent_output.as_deref().filter(|t| !t.trim().is_empty()) {
        out.push_str(&format!(
            "\n<details><summary>The agent's last output</summary>\n\n{}\n</details>\n",
            markers::code_block(text, "text")
        ));
    }
    if let Some(diff) = f.diff.as_deref().filter(|d| !d.trim().is_empty()) {
        out.push_str(&format!(
            "\n<details><summary>The step's partial work (not pushed)</summary>\n\n{}\n</details>\n",
            markers::code_block(diff, "diff")
        ));
    }
    if let Some(note) = &f.artifacts_note {
        out.push_str(&format!("\n{note}\n"));
    }
    out.push_str(&format!("\n**To resume** from this step: {}\n", f.resume));
    out
}
