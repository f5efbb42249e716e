//! The fake's GitHub data. `FakeGitHub::state()` hands out a copy of it, so tests read a
//! consistent picture without holding a lock while the binary under test runs.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::storage::Storage;

/// Everything the fake knows, as of one moment.
#[derive(Clone, Debug, Default)]
pub struct State {
    pub(crate) repos: BTreeMap<String, Repo>,
    pub(crate) users: BTreeMap<String, User>,
    pub(crate) dispatches: Vec<Dispatch>,
    pub(crate) runs: Vec<Run>,
    pub(crate) ids: Ids,
    pub(crate) clock: Clock,
}

/// A repository. Names are matched case-insensitively, as on GitHub.
#[derive(Clone, Debug)]
pub struct Repo {
    pub owner: String,
    pub name: String,
    pub id: u64,
    pub node_id: String,
    pub default_branch: String,
    pub private: bool,
    pub created_at: String,
    /// Whether `return_run_details: true` on a workflow dispatch is honoured (200 with the run's
    /// id and URLs) or ignored (204, the older behaviour and GHES's).
    pub return_run_details: bool,
    /// How many runs-list requests a new run stays invisible for (GitHub lists a dispatched run
    /// only after a moment).
    pub run_list_lag: usize,
    /// Issues and pull requests share one number sequence.
    pub issues: BTreeMap<u64, Issue>,
    pub comments: Vec<Comment>,
    pub labels: Vec<Label>,
    /// Workflow file path (".github/workflows/x.yml") -> workflow id.
    pub workflow_ids: BTreeMap<String, u64>,
    pub(crate) storage: Storage,
}

impl Repo {
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }

    /// The path of the bare git repository behind this repo, when it is linked to one.
    pub fn git_path(&self) -> Option<&std::path::Path> {
        match &self.storage {
            Storage::Git(path) => Some(path),
            Storage::Memory(_) => None,
        }
    }

    pub(crate) fn next_number(&self) -> u64 {
        self.issues.keys().next_back().map_or(1, |n| n + 1)
    }

    pub(crate) fn label(&self, name: &str) -> Option<&Label> {
        self.labels
            .iter()
            .find(|l| l.name.eq_ignore_ascii_case(name))
    }
}

/// An issue, or the issue side of a pull request (`pull` is then set).
#[derive(Clone, Debug)]
pub struct Issue {
    pub number: u64,
    pub id: u64,
    pub node_id: String,
    pub title: String,
    pub body: Option<String>,
    /// "open" or "closed".
    pub state: String,
    pub state_reason: Option<String>,
    /// Label names, in the order they were added.
    pub labels: Vec<String>,
    pub assignees: Vec<String>,
    /// The login of the author.
    pub user: String,
    pub locked: bool,
    pub created_at: String,
    pub updated_at: String,
    pub closed_at: Option<String>,
    pub closed_by: Option<String>,
    pub pull: Option<PullPart>,
}

/// What a pull request adds to its issue.
#[derive(Clone, Debug)]
pub struct PullPart {
    pub id: u64,
    pub node_id: String,
    /// The head branch (in the same repository).
    pub head: String,
    /// The head commit when last seen; the API shows the branch's current tip while it exists.
    pub head_sha: String,
    pub base: String,
    pub base_sha: String,
    pub draft: bool,
    pub merged: bool,
    pub merged_at: Option<String>,
    pub maintainer_can_modify: bool,
    pub requested_reviewers: Vec<String>,
    pub requested_teams: Vec<String>,
}

/// A pull request as tests look at it: the issue fields and the pull-request fields together.
#[derive(Clone, Debug)]
pub struct Pull {
    pub number: u64,
    /// The pull request's own id and node id (what GraphQL mutations take).
    pub id: u64,
    pub node_id: String,
    pub issue_id: u64,
    pub issue_node_id: String,
    pub title: String,
    pub body: Option<String>,
    pub state: String,
    pub draft: bool,
    pub merged: bool,
    pub head: String,
    pub head_sha: String,
    pub base: String,
    pub labels: Vec<String>,
    pub assignees: Vec<String>,
    pub requested_reviewers: Vec<String>,
    pub requested_teams: Vec<String>,
    pub maintainer_can_modify: bool,
    pub user: String,
    pub created_at: String,
    pub updated_at: String,
    pub closed_at: Option<String>,
}

impl Pull {
    pub(crate) fn from_issue(issue: &Issue) -> Option<Pull> {
        let p = issue.pull.as_ref()?;
        Some(Pull {
            number: issue.number,
            id: p.id,
            node_id: p.node_id.clone(),
            issue_id: issue.id,
            issue_node_id: issue.node_id.clone(),
            title: issue.title.clone(),
            body: issue.body.clone(),
            state: issue.state.clone(),
            draft: p.draft,
            merged: p.merged,
            head: p.head.clone(),
            head_sha: p.head_sha.clone(),
            base: p.base.clone(),
            labels: issue.labels.clone(),
            assignees: issue.assignees.clone(),
            requested_reviewers: p.requested_reviewers.clone(),
            requested_teams: p.requested_teams.clone(),
            maintainer_can_modify: p.maintainer_can_modify,
            user: issue.user.clone(),
            created_at: issue.created_at.clone(),
            updated_at: issue.updated_at.clone(),
            closed_at: issue.closed_at.clone(),
        })
    }
}

/// An issue comment (on an issue or a pull request).
#[derive(Clone, Debug)]
pub struct Comment {
    pub id: u64,
    pub node_id: String,
    pub issue_number: u64,
    pub body: String,
    pub user: String,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Clone, Debug)]
pub struct Label {
    pub id: u64,
    pub node_id: String,
    pub name: String,
    /// Six hex digits, no `#`.
    pub color: String,
    pub description: Option<String>,
    pub default: bool,
}

/// An account the fake knows (token owners, authors, requested reviewers).
#[derive(Clone, Debug)]
pub struct User {
    pub login: String,
    pub id: u64,
    pub node_id: String,
    /// "User" or "Bot".
    pub kind: String,
}

/// One accepted `workflow_dispatch` request.
#[derive(Clone, Debug)]
pub struct Dispatch {
    pub owner: String,
    pub repo: String,
    /// The workflow as the request named it (file name or id).
    pub workflow: String,
    pub workflow_path: String,
    /// The ref as sent.
    pub git_ref: String,
    pub inputs: BTreeMap<String, String>,
    /// `return_run_details` as sent (`None` when absent).
    pub return_run_details: Option<bool>,
    pub run_id: u64,
    /// The raw request body.
    pub body: Value,
}

/// A workflow run, created by a dispatch.
#[derive(Clone, Debug)]
pub struct Run {
    pub id: u64,
    pub node_id: String,
    pub owner: String,
    pub repo: String,
    pub workflow_id: u64,
    pub workflow_path: String,
    /// The workflow's name.
    pub name: String,
    /// The rendered `run-name` (or the workflow's name).
    pub display_title: String,
    pub head_branch: String,
    pub head_sha: String,
    pub run_number: u64,
    pub event: String,
    /// "queued", "in_progress", "completed", ...
    pub status: String,
    /// "success", "failure", "cancelled", ... once completed.
    pub conclusion: Option<String>,
    pub actor: String,
    pub inputs: BTreeMap<String, String>,
    pub created_at: String,
    pub updated_at: String,
    /// Runs-list requests left before this run is listed.
    pub(crate) hidden_for: usize,
    /// The run's jobs as `GET …/runs/{id}/jobs` lists them (set by tests or the workflow runner).
    pub jobs: Vec<Job>,
}

/// A job of a run and its steps, as a test sets them.
#[derive(Clone, Debug, Default)]
pub struct Job {
    pub name: String,
    /// "queued", "in_progress" or "completed".
    pub status: String,
    pub conclusion: Option<String>,
    pub steps: Vec<JobStep>,
}

#[derive(Clone, Debug, Default)]
pub struct JobStep {
    pub name: String,
    pub status: String,
    pub conclusion: Option<String>,
}

/// Id sequences, one per kind of object, in distinct ranges so that mixing up an id of one kind
/// with another (or with a number) finds nothing instead of the wrong thing.
#[derive(Clone, Debug, Default)]
pub(crate) struct Ids {
    next: BTreeMap<&'static str, u64>,
}

impl Ids {
    pub fn next(&mut self, kind: &'static str) -> u64 {
        let base = match kind {
            "user" => 1_000,
            "repo" => 500_000_000,
            "issue" => 2_000_000_000,
            "pull" => 1_500_000_000,
            "comment" => 3_000_000_000,
            "label" => 6_000_000_000,
            "workflow" => 80_000_000,
            "run" => 9_000_000_000,
            _ => 100,
        };
        let n = self.next.entry(kind).or_insert(base);
        *n += 1;
        *n
    }
}

/// The fake's clock: deterministic timestamps that start at a fixed moment and advance one second
/// per change, so that payloads are stable for snapshots and ordered like real ones.
#[derive(Clone, Debug)]
pub(crate) struct Clock {
    pub now: chrono::DateTime<chrono::Utc>,
}

impl Default for Clock {
    fn default() -> Self {
        Clock {
            now: parse_time(super::DEFAULT_CLOCK).expect("valid default clock"),
        }
    }
}

impl Clock {
    /// Advances the clock and returns the new time as GitHub prints it.
    pub fn tick(&mut self) -> String {
        self.now += chrono::Duration::seconds(1);
        self.current()
    }

    pub fn current(&self) -> String {
        self.now.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    }
}

pub(crate) fn parse_time(text: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|d| d.with_timezone(&chrono::Utc))
}

pub(crate) fn key(owner: &str, name: &str) -> String {
    format!(
        "{}/{}",
        owner.to_ascii_lowercase(),
        name.to_ascii_lowercase()
    )
}

impl State {
    pub fn repo(&self, owner: &str, name: &str) -> Option<&Repo> {
        self.repos.get(&key(owner, name))
    }

    /// For `FakeGitHub::edit`: change anything, e.g. mark a pull request merged.
    pub fn repo_mut(&mut self, owner: &str, name: &str) -> Option<&mut Repo> {
        self.repos.get_mut(&key(owner, name))
    }

    /// The issues of a repository (pull requests excluded), by number.
    pub fn issues(&self, owner: &str, name: &str) -> Vec<Issue> {
        self.repo(owner, name)
            .map(|r| {
                r.issues
                    .values()
                    .filter(|i| i.pull.is_none())
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The issue (or the issue side of the pull request) with this number.
    pub fn issue(&self, owner: &str, name: &str, number: u64) -> Option<Issue> {
        self.repo(owner, name)?.issues.get(&number).cloned()
    }

    pub fn pulls(&self, owner: &str, name: &str) -> Vec<Pull> {
        self.repo(owner, name)
            .map(|r| r.issues.values().filter_map(Pull::from_issue).collect())
            .unwrap_or_default()
    }

    pub fn pull(&self, owner: &str, name: &str, number: u64) -> Option<Pull> {
        Pull::from_issue(self.repo(owner, name)?.issues.get(&number)?)
    }

    /// The comments on one issue or pull request, oldest first.
    pub fn comments(&self, owner: &str, name: &str, number: u64) -> Vec<Comment> {
        self.repo(owner, name)
            .map(|r| {
                r.comments
                    .iter()
                    .filter(|c| c.issue_number == number)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Every comment in a repository, oldest first.
    pub fn all_comments(&self, owner: &str, name: &str) -> Vec<Comment> {
        self.repo(owner, name)
            .map(|r| r.comments.clone())
            .unwrap_or_default()
    }

    pub fn labels(&self, owner: &str, name: &str) -> Vec<Label> {
        self.repo(owner, name)
            .map(|r| r.labels.clone())
            .unwrap_or_default()
    }

    pub fn dispatches(&self) -> Vec<Dispatch> {
        self.dispatches.clone()
    }

    pub fn runs(&self) -> Vec<Run> {
        self.runs.clone()
    }

    pub fn run(&self, id: u64) -> Option<Run> {
        self.runs.iter().find(|r| r.id == id).cloned()
    }

    pub fn run_mut(&mut self, id: u64) -> Option<&mut Run> {
        self.runs.iter_mut().find(|r| r.id == id)
    }

    /// The user with this login, created on first sight (GitHub knows everyone).
    pub(crate) fn user(&mut self, login: &str) -> User {
        if let Some(u) = self.users.get(&login.to_ascii_lowercase()) {
            return u.clone();
        }
        let id = self.ids.next("user");
        let kind = if login.ends_with("[bot]") {
            "Bot"
        } else {
            "User"
        };
        let user = User {
            login: login.to_string(),
            id,
            node_id: node_id(if kind == "Bot" { "BOT" } else { "U" }, id),
            kind: kind.to_string(),
        };
        self.users.insert(login.to_ascii_lowercase(), user.clone());
        user
    }

    /// A user already known; falls back to a stable made-up one (used while rendering, where the
    /// state is not mutable).
    pub(crate) fn known_user(&self, login: &str) -> User {
        self.users
            .get(&login.to_ascii_lowercase())
            .cloned()
            .unwrap_or_else(|| User {
                login: login.to_string(),
                id: 999,
                node_id: node_id("U", 999),
                kind: "User".into(),
            })
    }
}

/// A node id in GitHub's current format: a type prefix, an underscore and an opaque string.
pub(crate) fn node_id(prefix: &str, id: u64) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut n = id;
    let mut tail = String::new();
    while n > 0 {
        tail.insert(0, ALPHABET[(n % 62) as usize] as char);
        n /= 62;
    }
    format!("{prefix}_kwDOAA{tail}")
}

/// Inputs as a JSON object, for messages and logs.
pub(crate) fn inputs_json(inputs: &BTreeMap<String, String>) -> Value {
    Value::Object(
        inputs
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect::<Map<_, _>>(),
    )
}
