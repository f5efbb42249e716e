//! Starting a one-shot: the branch that carries the task, the draft pull request, and the undo
//! of both when a later step fails. `oneshot dispatch` (on a person's machine) and
//! `oneshot exec prepare` (in a workflow started from the Actions tab) share this code, and a dry
//! run computes every name, title and body with the same functions as a real run.

use std::ffi::OsString;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::git::{BOT_EMAIL, BOT_NAME, Git, Remote};
use crate::github::{self, GitHub, HttpMethod, PullRequest, RepoSlug, Request};
use crate::markers::{self, Meta};
use crate::naming::{self, BranchKind};
use crate::pr_body::{self, Section};
use crate::workspace::WORKER_TASK;

/// The label every oneshot pull request carries.
pub const PR_LABEL: &str = "oneshot";
/// The PR title while the work is in progress.
pub const WIP_PREFIX: &str = "[WIP] ";
/// Characters of the prompt's first line in the draft PR's title.
const TITLE_CHARS: usize = 60;
/// The prompt passed as a workflow input is cut here; the workflow reads the full task from the
/// branch (`.worker-impl/task.md`). It keeps the dispatch payload far below GitHub's limit.
const INPUT_PROMPT_CHARS: usize = 1000;

/// The agent and model a one-shot runs with, checked before anything is created.
#[derive(Debug, Clone, Default)]
pub struct AgentChoice {
    pub agent: Option<String>,
    pub model: Option<String>,
}

/// Checks the agent and model names (DESIGN.md §3 "Agents", "Model names").
pub fn check_agent_and_model(agent: Option<&str>, model: Option<&str>) -> Result<AgentChoice> {
    let agent = agent.map(str::trim).filter(|a| !a.is_empty());
    let model = model.map(str::trim).filter(|m| !m.is_empty());
    let spec = match agent {
        Some(text) => crate::agent::AgentSpec::parse(text)?,
        None => crate::agent::AgentSpec::default(),
    };
    let model = model.map(|m| spec.resolve_model(m)).transpose()?;
    Ok(AgentChoice {
        agent: agent.map(str::to_string),
        model,
    })
}

/// What a one-shot starts with, decided before anything is created.
#[derive(Debug, Clone)]
pub struct Draft {
    pub branch: String,
    pub trunk: String,
    pub pr_title: String,
    pub pr_body: String,
    pub prompt: String,
}

/// `[WIP] <first line of the prompt, cut at 60 characters with …>`.
pub fn pr_title(prompt: &str) -> String {
    let first = prompt
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("oneshot task");
    let mut title: String = first.chars().take(TITLE_CHARS).collect();
    if first.chars().count() > TITLE_CHARS {
        title = title.trim_end().to_string();
        title.push('…');
    }
    format!("{WIP_PREFIX}{title}")
}

/// The branch name for a new one-shot: the DESIGN.md name, made unique against `taken`.
pub fn branch_for(
    prompt: &str,
    slug: Option<&str>,
    now: DateTime<Utc>,
    taken: impl FnMut(&str) -> bool,
) -> String {
    let source = slug.unwrap_or_else(|| {
        prompt
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("")
    });
    naming::unique_branch_name(
        &naming::branch_name(BranchKind::OneShot, source, now),
        taken,
    )
}

/// Who and what the draft PR shows before the plan exists.
pub struct DraftInfo<'a> {
    pub agent: Option<&'a str>,
    pub model: Option<&'a str>,
    pub distinct_id: Option<&'a str>,
    pub run_url: Option<&'a str>,
}

pub fn draft(prompt: &str, branch: String, trunk: String, info: &DraftInfo) -> Draft {
    let mut meta = Meta {
        branch: Some(branch.clone()),
        agent: info.agent.map(str::to_string),
        model: info.model.map(str::to_string),
        run_url: info.run_url.map(str::to_string),
        ..Meta::new()
    };
    if let Some(id) = info.distinct_id {
        meta.other
            .insert("distinct_id".into(), Value::String(id.to_string()));
    }
    let section = Section {
        prompt,
        run_url: info.run_url,
        agent: info.agent,
        model: info.model,
        status: Some(
            "Planning… A first agent session is writing a plan; it will be saved as an issue you can edit. \
             Then a fresh session implements it, one commit per step, and this pull request is marked ready for review.",
        ),
        ..Default::default()
    };
    let body = pr_body::apply("", &section, &meta);
    Draft {
        branch,
        trunk,
        pr_title: pr_title(prompt),
        pr_body: body,
        prompt: prompt.to_string(),
    }
}

/// The request that opens the draft PR (shared by dry and real runs).
pub fn create_pull_request(repo: &RepoSlug, draft: &Draft) -> Request {
    Request::new(
        HttpMethod::Post,
        format!("{}/pulls", repo.api_path()),
        "open the draft pull request",
    )
    .body(json!({
        "title": draft.pr_title,
        "head": draft.branch,
        "base": draft.trunk,
        "body": draft.pr_body,
        "draft": true,
        "maintainer_can_modify": true,
    }))
    .creating()
}

pub fn add_label(repo: &RepoSlug, number: u64) -> Request {
    Request::new(
        HttpMethod::Post,
        format!("{}/issues/{number}/labels", repo.api_path()),
        "label the pull request",
    )
    .body(json!({ "labels": [PR_LABEL] }))
}

pub fn close_pull_request(repo: &RepoSlug, number: u64) -> Request {
    Request::new(
        HttpMethod::Patch,
        format!("{}/pulls/{number}", repo.api_path()),
        "close the draft pull request",
    )
    .body(json!({ "state": "closed" }))
}

pub fn list_pulls_for_branch(repo: &RepoSlug, branch: &str) -> Request {
    Request::get(
        format!(
            "{}/pulls?head={}&state=all&per_page=10",
            repo.api_path(),
            github::encode(&format!("{}:{branch}", repo.owner))
        ),
        format!("look for the pull request of {branch}"),
    )
}

/// What has been created so far, so that a failure can undo exactly that.
#[derive(Debug, Default)]
pub struct Created {
    pub branch: Option<String>,
    pub pr: Option<PullRequest>,
}

impl Created {
    pub fn is_empty(&self) -> bool {
        self.branch.is_none() && self.pr.is_none()
    }
}

/// Makes the task commit on top of the remote trunk, with git plumbing and a private index, and
/// pushes it as a new branch. The user's working tree, index, HEAD and branches are never touched.
/// Returns the branch name actually used (a suffix is added if the name was taken meanwhile).
pub fn push_task_branch(
    server: &Remote,
    draft: &Draft,
    mut taken: impl FnMut(&str) -> bool,
) -> Result<String> {
    let trunk = &draft.trunk;
    let git = server.local();
    let remote = server.name();
    let base = server.branch_commit(trunk)?.ok_or_else(|| {
        Error::git(format!("the remote `{remote}` has no branch `{trunk}`"))
            .hint("pass the trunk with --ref BRANCH")
    })?;
    if !git.has_commit(&base)? {
        server.fetch_objects(trunk)?;
    }
    let commit = task_commit(git, &base, &draft.prompt, &draft.branch)?;

    let mut branch = draft.branch.clone();
    let mut rejected: Vec<String> = Vec::new();
    for _ in 0..5 {
        let out = server.push_new_branch(&commit, &branch)?;
        if out.success {
            return Ok(branch);
        }
        // Someone created the branch between our check and the push: take the next name.
        let text = format!("{}{}", out.stdout, out.stderr);
        if !(text.contains("stale info")
            || text.contains("already exists")
            || text.contains("rejected"))
        {
            return Err(
                Error::git(format!("could not push the branch {branch}")).cause(text.trim())
            );
        }
        rejected.push(branch.clone());
        let base_name = draft.branch.clone();
        branch =
            naming::unique_branch_name(&base_name, |n| rejected.iter().any(|r| r == n) || taken(n));
    }
    Err(Error::git("could not find a free branch name")
        .cause(format!("tried {}", rejected.join(", "))))
}

fn task_commit(git: &Git, base: &str, prompt: &str, branch: &str) -> Result<String> {
    let blob = git.run_with_input(
        "store the task",
        &["hash-object", "-w", "--stdin"],
        prompt.as_bytes(),
        &[],
    )?;
    let dir = tempfile::tempdir().map_err(|e| {
        Error::config(format!("could not make a temporary directory: {e}"))
            .hint("check that TMPDIR (or /tmp) exists, is writable and has room")
    })?;
    let env = [("GIT_INDEX_FILE", OsString::from(dir.path().join("index")))];
    git.run_with_env("read the trunk's tree", &["read-tree", base], &env)?;
    let cacheinfo = format!("100644,{},{WORKER_TASK}", blob.trim());
    git.run_with_env(
        "add the task to the tree",
        &["update-index", "--add", "--cacheinfo", &cacheinfo],
        &env,
    )?;
    let tree = git.run_with_env("write the tree", &["write-tree"], &env)?;
    let message = format!(
        "Add the oneshot task for {branch}\n\n{}\n",
        prompt
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("")
    );
    // The person's own identity when git has one; the bot's otherwise.
    let git = if git.config_get("user.email")?.is_some() && git.config_get("user.name")?.is_some() {
        git.clone()
    } else {
        git.with_config("user.name", BOT_NAME)
            .with_config("user.email", BOT_EMAIL)
    };
    let commit = git.run_with_input(
        "commit the task",
        &["commit-tree", tree.trim(), "-p", base, "-F", "-"],
        message.as_bytes(),
        &[],
    )?;
    Ok(commit.trim().to_string())
}

/// Opens the draft PR, never twice: after an ambiguous failure it looks for a PR of the branch.
pub fn open_draft_pr(gh: &GitHub, draft: &Draft) -> Result<PullRequest> {
    gh.create(
        &create_pull_request(&gh.repo, draft),
        |r| PullRequest::from_json(&r.body),
        |gh| {
            let list = gh
                .send(&list_pulls_for_branch(&gh.repo, &draft.branch))?
                .body;
            list.as_array()
                .and_then(|a| a.first())
                .map(PullRequest::from_json)
                .transpose()
        },
    )
}

/// Undoes what was created: closes the PR and deletes the branch. If that fails too, the error
/// says exactly what is left and how to remove it.
pub fn rollback(
    gh: Option<&GitHub>,
    server: &Remote,
    created: &Created,
) -> std::result::Result<(), String> {
    let mut left = Vec::new();
    if let Some(pr) = &created.pr {
        let closed = gh.map(|gh| {
            let note = markers::comment_marker("rollback")
                + "\noneshot could not finish starting this task and closed the pull request; see the command's output for the cause.";
            let _ = gh.send(&github::create_comment(&gh.repo, pr.number, &note));
            gh.send(&close_pull_request(&gh.repo, pr.number))
        });
        if !matches!(closed, Some(Ok(_))) {
            left.push(format!(
                "the draft pull request #{} ({}): close it with `gh pr close {}`",
                pr.number, pr.html_url, pr.number
            ));
        }
    }
    if let Some(branch) = &created.branch
        && server.delete_branch(branch).is_err()
    {
        left.push(format!(
            "the branch {branch} on {remote}: delete it with `git push {remote} --delete {branch}`",
            remote = server.name()
        ));
    }
    if left.is_empty() {
        Ok(())
    } else {
        Err(left.join("\n"))
    }
}

/// The prompt as a workflow input: the first characters only (the workflow reads the full task
/// from the branch).
pub fn input_prompt(prompt: &str) -> String {
    let mut text: String = prompt.chars().take(INPUT_PROMPT_CHARS).collect();
    if prompt.chars().count() > INPUT_PROMPT_CHARS {
        text.push_str(&format!("… (full task in {WORKER_TASK})"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_are_cut_at_60_characters() {
        assert_eq!(
            pr_title("Add a --verbose flag\nmore"),
            "[WIP] Add a --verbose flag"
        );
        let long = "x".repeat(61);
        assert_eq!(pr_title(&long), format!("[WIP] {}…", "x".repeat(60)));
        assert_eq!(
            pr_title(&"é".repeat(60)),
            format!("[WIP] {}", "é".repeat(60))
        );
        assert_eq!(pr_title("\n\n  Fix it  \n"), "[WIP] Fix it");
    }

    #[test]
    fn branch_names_skip_taken_ones() {
        let now = "2024-01-15T14:30:00Z".parse().unwrap();
        let name = branch_for("Add a --verbose flag", None, now, |n| {
            n == "oneshot-add-a-verbose-flag-01-15-1430"
        });
        assert_eq!(name, "oneshot-add-a-verbose-flag-01-15-1430-2");
        assert_eq!(
            branch_for("x", Some("My Slug"), now, |_| false),
            "oneshot-my-slug-01-15-1430"
        );
    }

    #[test]
    fn input_prompt_is_bounded() {
        assert_eq!(input_prompt("short"), "short");
        assert!(input_prompt(&"y".repeat(5000)).chars().count() < 1100);
    }
}
