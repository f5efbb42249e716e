//! A stateful fake GitHub server for the integration tests.
//!
//! The real `oneshot` binary runs as a separate process with `GITHUB_API_URL` and
//! `GITHUB_GRAPHQL_URL` pointed at this server. It listens on 127.0.0.1 (a random port) on its
//! own threads and stops when dropped. It keeps state like GitHub (repositories, refs, issues and
//! pull requests numbered together, labels, comments, workflow dispatches and runs), answers with
//! payloads in GitHub's shapes, checks every request body against GitHub's official schema for the
//! endpoint (`github-schemas.json`, extracted by `scripts/extract-github-schema.py`), logs every
//! request, and can inject faults per route.
//!
//! ```ignore
//! let fake = FakeGitHub::start();              // or FakeGitHub::start_ghes()
//! fake.add_repo("acme", "app");                // default branch `main`, one commit
//! fake.add_workflow("acme", "app", "oneshot.yml", WORKFLOW_YAML);
//! fake.set_env(&mut env);                     // GITHUB_API_URL, _GRAPHQL_URL, _SERVER_URL
//! env.set("GITHUB_TOKEN", fake.token());
//! fake.inject(Fault::on("POST", "/repos/acme/app/pulls").landed_then_drop());
//! // ... run the binary ...
//! let state = fake.state();
//! assert!(!state.pull("acme", "app", 1).unwrap().draft);
//! assert_eq!(fake.count("POST", "/repos/acme/app/issues/*/comments"), 1);
//! assert!(fake.schema_violations().is_empty());
//! ```
//!
//! What it serves (paths relative to `api_url()`; GHES puts them under `/api/v3`):
//! - `GET /user`; `GET /repos/{o}/{r}`; `GET /repos/{o}/{r}/contents/{path}?ref=`
//! - refs: `GET …/git/ref/{ref}`, `POST …/git/refs`, `PATCH|DELETE …/git/refs/{ref}`
//! - issues: list (`state`, `labels`, `creator`, `assignee`, `since`, `sort`, `direction`, pages),
//!   create, get, update; pull requests appear in the list with `pull_request`, like on GitHub
//! - comments: list, create, get, `PATCH` (and `POST`, as octocrab sends) and `DELETE`
//!   `…/issues/comments/{id}`
//! - labels: list, create, get; issue labels: list, add (`POST`), set (`PUT`), remove
//! - pulls: list (`state`, `head=owner:branch`, `base`, pages), create (422 when the head branch
//!   does not exist, has no new commits, or already has an open pull request), get, update (a
//!   `draft` field is ignored, as on GitHub), requested reviewers (get, add)
//! - actions: `GET …/actions/workflows/{file}` (404 unless the file is on the default branch),
//!   `POST …/dispatches` (200 with run details when asked and enabled for the repo, 204 otherwise;
//!   422 for an unknown ref, undeclared or missing required inputs, no `workflow_dispatch`),
//!   `GET …/actions/workflows/{file}/runs` (`branch`, `event`, `status`, `actor`, `head_sha`,
//!   `created`, pages), `GET …/actions/runs/{id}`; a run's `display_title` is the workflow's
//!   `run-name` at the dispatched ref with its inputs filled in
//! - GraphQL at `graphql_url()`: `markPullRequestReadyForReview`, `convertPullRequestToDraft`,
//!   `viewer`; anything else gets GitHub's error objects
//!
//! Without a valid `Authorization: Bearer|token <token>` every request is 401 ("Requires
//! authentication" without a header, "Bad credentials" with an unknown token). Injected faults
//! apply before that check. The clock is deterministic (it starts at `DEFAULT_CLOCK` and advances
//! one second per change), `html_url`s are `https://github.com/...` on the github.com layout, so
//! payloads are stable for snapshots; API URLs carry the random port.

#![allow(dead_code)]

mod faults;
mod graphql;
mod payloads;
mod rest;
mod schema;
mod server;
mod state;
mod storage;
mod workflow;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;

use serde_json::Value;

#[allow(unused_imports)]
pub use faults::{Fault, FaultKind, FaultTarget, Request};
#[allow(unused_imports)]
pub use rest::MAX_BODY;
#[allow(unused_imports)]
pub use state::{
    Comment, Dispatch, Issue, Job, JobStep, Label, Pull, PullPart, Repo, Run, State, User,
};

use server::{Inner, Server, Token};
use state::{Clock, key, node_id, parse_time};
use storage::Storage;

/// The token `FakeGitHub::start()` accepts (shaped like a classic personal access token).
pub const DEFAULT_TOKEN: &str = "ghp_fake0123456789abcdefghijklmnopqrstuv";
/// The login the default token belongs to.
pub const DEFAULT_LOGIN: &str = "octocat";
/// Where the fake's clock starts (the same instant the tests pin `ONESHOT_NOW` to).
pub const DEFAULT_CLOCK: &str = "2024-01-15T14:30:00Z";

/// Schema keywords the validator understands, and those the extracted schemas use (for the
/// self-test that keeps the two in step).
pub fn schema_keywords() -> (Vec<&'static str>, Vec<String>) {
    (schema::KEYWORDS.to_vec(), schema::used_keywords())
}

/// Checks a JSON body against GitHub's request schema for an endpoint named as in the OpenAPI
/// description ("POST /repos/{owner}/{repo}/issues"); `Err` has GitHub's wording.
pub fn check_request_body(endpoint: &str, body: &Value) -> Result<(), String> {
    schema::check_request(endpoint, Some(body))
}

/// Checks a response body against GitHub's response schema for an endpoint and status.
pub fn check_response_body(endpoint: &str, status: u16, body: &Value) -> Result<(), String> {
    schema::check_response(endpoint, status, body)
}

/// The endpoints the router serves and those the schema extract covers (they must be equal).
pub fn endpoints() -> (Vec<&'static str>, Vec<String>) {
    (rest::ENDPOINTS.to_vec(), schema::extracted_endpoints())
}

/// Options for starting a fake server.
#[derive(Clone, Debug)]
pub struct Builder {
    ghes: bool,
    token: String,
    login: String,
    clock: String,
}

impl Builder {
    /// GitHub Enterprise Server layout: REST under `/api/v3`, GraphQL at `/api/graphql`,
    /// `html_url`s on the server itself, and `return_run_details` not honoured by default.
    pub fn ghes(mut self) -> Self {
        self.ghes = true;
        self
    }

    /// The token the server accepts (instead of `DEFAULT_TOKEN`) and its owner's login.
    pub fn token(mut self, token: &str, login: &str) -> Self {
        self.token = token.to_string();
        self.login = login.to_string();
        self
    }

    /// Where the fake's clock starts (RFC 3339). Every change advances it by one second.
    pub fn clock(mut self, start: &str) -> Self {
        self.clock = start.to_string();
        self
    }

    pub fn start(self) -> FakeGitHub {
        let mut state = State {
            clock: Clock {
                now: parse_time(&self.clock).expect("the clock start is RFC 3339"),
            },
            ..State::default()
        };
        state.user(&self.login);
        let mut tokens = BTreeMap::new();
        tokens.insert(
            self.token.clone(),
            Token {
                login: self.login.clone(),
                app: false,
            },
        );
        let inner = Inner {
            state,
            log: Vec::new(),
            next_seq: 0,
            faults: Vec::new(),
            tokens,
        };
        let server = Server::start(inner, self.ghes);
        FakeGitHub {
            server,
            token: self.token,
            login: self.login,
            ghes: self.ghes,
        }
    }
}

/// The running fake server. Dropping it stops the server.
pub struct FakeGitHub {
    server: Server,
    token: String,
    login: String,
    ghes: bool,
}

impl Drop for FakeGitHub {
    fn drop(&mut self) {
        self.server.stop();
    }
}

impl FakeGitHub {
    /// A github.com-style server with the default token.
    pub fn start() -> FakeGitHub {
        FakeGitHub::builder().start()
    }

    /// A GitHub Enterprise Server-style server (see `Builder::ghes`).
    pub fn start_ghes() -> FakeGitHub {
        FakeGitHub::builder().ghes().start()
    }

    pub fn builder() -> Builder {
        Builder {
            ghes: false,
            token: DEFAULT_TOKEN.into(),
            login: DEFAULT_LOGIN.into(),
            clock: DEFAULT_CLOCK.into(),
        }
    }

    // -- addresses -------------------------------------------------------------------------------

    pub fn addr(&self) -> SocketAddr {
        self.server.addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.server.addr)
    }

    /// The REST base (`GITHUB_API_URL`): the base URL, or `…/api/v3` for GHES.
    pub fn api_url(&self) -> String {
        self.server.shared.urls.api.clone()
    }

    /// The GraphQL endpoint (`GITHUB_GRAPHQL_URL`): `…/graphql`, or `…/api/graphql` for GHES.
    pub fn graphql_url(&self) -> String {
        if self.ghes {
            format!("{}/api/graphql", self.base_url())
        } else {
            format!("{}/graphql", self.base_url())
        }
    }

    /// The web base of `html_url`s (`GITHUB_SERVER_URL`): `https://github.com`, or the server
    /// itself for GHES.
    pub fn server_url(&self) -> String {
        self.server.shared.urls.web.clone()
    }

    /// Points a test environment at this server: `GITHUB_API_URL`, `GITHUB_GRAPHQL_URL` and
    /// `GITHUB_SERVER_URL`, as Actions sets them. The token variable is the caller's choice.
    pub fn set_env(&self, env: &mut super::TestEnv) {
        env.set("GITHUB_API_URL", self.api_url());
        env.set("GITHUB_GRAPHQL_URL", self.graphql_url());
        env.set("GITHUB_SERVER_URL", self.server_url());
    }

    pub fn is_ghes(&self) -> bool {
        self.ghes
    }

    // -- tokens ----------------------------------------------------------------------------------

    /// The default valid token.
    pub fn token(&self) -> String {
        self.token.clone()
    }

    /// The login of the default token.
    pub fn login(&self) -> String {
        self.login.clone()
    }

    /// Accepts another token, owned by `login`.
    pub fn add_token(&self, token: &str, login: &str) {
        let mut inner = self.server.shared.lock();
        inner.state.user(login);
        inner.tokens.insert(
            token.to_string(),
            Token {
                login: login.to_string(),
                app: false,
            },
        );
    }

    /// Accepts an installation token like Actions' `GITHUB_TOKEN`: it acts as
    /// `github-actions[bot]`, and `GET /user` answers 403 "Resource not accessible by integration".
    pub fn add_app_token(&self, token: &str) {
        let mut inner = self.server.shared.lock();
        inner.state.user("github-actions[bot]");
        inner.tokens.insert(
            token.to_string(),
            Token {
                login: "github-actions[bot]".into(),
                app: true,
            },
        );
    }

    /// Stops accepting a token (a revoked or expired one).
    pub fn revoke_token(&self, token: &str) {
        self.server.shared.lock().tokens.remove(token);
    }

    // -- repositories ----------------------------------------------------------------------------

    /// Adds a repository kept in memory: default branch `main` with one commit (a README).
    /// Adding an existing repository does nothing.
    pub fn add_repo(&self, owner: &str, name: &str) {
        let mut inner = self.server.shared.lock();
        if inner.state.repo(owner, name).is_some() {
            return;
        }
        let state = &mut inner.state;
        state.user(owner);
        let id = state.ids.next("repo");
        let now = state.clock.current();
        let ghes = self.ghes;
        state.repos.insert(
            key(owner, name),
            Repo {
                owner: owner.to_string(),
                name: name.to_string(),
                id,
                node_id: node_id("R", id),
                default_branch: "main".into(),
                private: false,
                created_at: now.clone(),
                return_run_details: !ghes,
                run_list_lag: 0,
                issues: BTreeMap::new(),
                comments: Vec::new(),
                labels: Vec::new(),
                workflow_ids: BTreeMap::new(),
                storage: Storage::new_memory(name, "main", &now),
            },
        );
    }

    /// Backs a repository (added if needed) by a bare git repository on disk: refs, contents and
    /// workflow files are then read from it with git, so branches pushed with git show up in the
    /// API, and ref changes through the API change it. The default branch becomes the one its
    /// HEAD names.
    pub fn link_git(&self, owner: &str, name: &str, bare_path: &Path) {
        self.add_repo(owner, name);
        let storage = Storage::Git(bare_path.to_path_buf());
        let head = storage.head_branch();
        let mut inner = self.server.shared.lock();
        let repo = inner.state.repo_mut(owner, name).expect("added");
        repo.storage = storage;
        if let Some(head) = head {
            repo.default_branch = head;
        }
    }

    pub fn set_default_branch(&self, owner: &str, name: &str, branch: &str) {
        self.with_repo(owner, name, |r| r.default_branch = branch.to_string());
    }

    pub fn set_private(&self, owner: &str, name: &str, private: bool) {
        self.with_repo(owner, name, |r| r.private = private);
    }

    /// Whether `return_run_details: true` on a dispatch is honoured (200 with the run's id and
    /// URLs) or ignored (204, the older behaviour). Default: honoured, except on GHES.
    pub fn set_return_run_details(&self, owner: &str, name: &str, honour: bool) {
        self.with_repo(owner, name, |r| r.return_run_details = honour);
    }

    /// Makes each new run of this repository invisible to the next `requests` runs-list requests
    /// (GitHub lists a dispatched run only after a moment; clients that poll must cope).
    pub fn set_run_list_lag(&self, owner: &str, name: &str, requests: usize) {
        self.with_repo(owner, name, |r| r.run_list_lag = requests);
    }

    fn with_repo<T>(&self, owner: &str, name: &str, f: impl FnOnce(&mut Repo) -> T) -> T {
        let mut inner = self.server.shared.lock();
        let repo = inner
            .state
            .repo_mut(owner, name)
            .unwrap_or_else(|| panic!("no repository {owner}/{name}: add_repo first"));
        f(repo)
    }

    /// Commits a file on a branch of an in-memory repository (the branch is created from the
    /// default branch when missing). Returns the new commit's sha.
    pub fn add_file(
        &self,
        owner: &str,
        name: &str,
        branch: &str,
        path: &str,
        content: &str,
    ) -> String {
        let mut inner = self.server.shared.lock();
        let now = inner.state.clock.tick();
        let repo = inner
            .state
            .repo_mut(owner, name)
            .unwrap_or_else(|| panic!("no repository {owner}/{name}"));
        let default = repo.default_branch.clone();
        repo.storage
            .commit_file(branch, &default, path, content.as_bytes().to_vec(), &now)
    }

    /// Creates a branch of an in-memory repository at what `from` (a branch or sha) names.
    pub fn add_branch(&self, owner: &str, name: &str, branch: &str, from: &str) -> String {
        self.with_repo(owner, name, |r| {
            r.storage
                .create_branch(branch, from)
                .unwrap_or_else(|| panic!("{from} does not exist in {owner}/{name}"))
        })
    }

    /// Commits `.github/workflows/{file}` on the default branch of an in-memory repository.
    pub fn add_workflow(&self, owner: &str, name: &str, file: &str, yaml: &str) -> String {
        let branch = self.with_repo(owner, name, |r| r.default_branch.clone());
        self.add_file(
            owner,
            name,
            &branch,
            &format!(".github/workflows/{file}"),
            yaml,
        )
    }

    /// The commit a branch points to (from git for linked repositories).
    pub fn branch_sha(&self, owner: &str, name: &str, branch: &str) -> Option<String> {
        let inner = self.server.shared.lock();
        inner
            .state
            .repo(owner, name)?
            .storage
            .resolve(&format!("refs/heads/{branch}"))
    }

    /// A file's content at a branch, tag or sha.
    pub fn file(&self, owner: &str, name: &str, rev: &str, path: &str) -> Option<String> {
        let inner = self.server.shared.lock();
        let content = inner
            .state
            .repo(owner, name)?
            .storage
            .read_file(rev, path)?;
        Some(String::from_utf8_lossy(&content).into_owned())
    }

    // -- seeding state ---------------------------------------------------------------------------

    /// Creates a label (as an existing repository would have it).
    pub fn create_label(&self, owner: &str, name: &str, label: &str, color: &str) {
        let mut inner = self.server.shared.lock();
        let id = inner.state.ids.next("label");
        let repo = inner
            .state
            .repo_mut(owner, name)
            .unwrap_or_else(|| panic!("no repository {owner}/{name}"));
        if repo.label(label).is_none() {
            repo.labels.push(Label {
                id,
                node_id: node_id("LA", id),
                name: label.to_string(),
                color: color.to_string(),
                description: None,
                default: false,
            });
        }
    }

    /// Creates an issue authored by the default token's owner; returns its number.
    pub fn create_issue(
        &self,
        owner: &str,
        name: &str,
        title: &str,
        body: &str,
        labels: &[&str],
    ) -> u64 {
        for label in labels {
            self.create_label(owner, name, label, "ededed");
        }
        let mut inner = self.server.shared.lock();
        let state = &mut inner.state;
        let id = state.ids.next("issue");
        let now = state.clock.tick();
        let repo = state
            .repo_mut(owner, name)
            .unwrap_or_else(|| panic!("no repository {owner}/{name}"));
        let number = repo.next_number();
        repo.issues.insert(
            number,
            Issue {
                number,
                id,
                node_id: node_id("I", id),
                title: title.to_string(),
                body: Some(body.to_string()),
                state: "open".into(),
                state_reason: None,
                labels: labels.iter().map(|l| l.to_string()).collect(),
                assignees: vec![],
                user: self.login.clone(),
                locked: false,
                created_at: now.clone(),
                updated_at: now,
                closed_at: None,
                closed_by: None,
                pull: None,
            },
        );
        number
    }

    /// Creates a pull request from an existing branch (no checks); returns its number.
    pub fn create_pull(
        &self,
        owner: &str,
        name: &str,
        head: &str,
        base: &str,
        title: &str,
        draft: bool,
    ) -> u64 {
        let mut inner = self.server.shared.lock();
        let state = &mut inner.state;
        let issue_id = state.ids.next("issue");
        let pull_id = state.ids.next("pull");
        let now = state.clock.tick();
        let repo = state
            .repo_mut(owner, name)
            .unwrap_or_else(|| panic!("no repository {owner}/{name}"));
        let head_sha = repo
            .storage
            .resolve(&format!("refs/heads/{head}"))
            .unwrap_or_else(|| panic!("no branch {head}"));
        let base_sha = repo
            .storage
            .resolve(&format!("refs/heads/{base}"))
            .unwrap_or_else(|| panic!("no branch {base}"));
        let number = repo.next_number();
        repo.issues.insert(
            number,
            Issue {
                number,
                id: issue_id,
                node_id: node_id("I", issue_id),
                title: title.to_string(),
                body: None,
                state: "open".into(),
                state_reason: None,
                labels: vec![],
                assignees: vec![],
                user: self.login.clone(),
                locked: false,
                created_at: now.clone(),
                updated_at: now,
                closed_at: None,
                closed_by: None,
                pull: Some(PullPart {
                    id: pull_id,
                    node_id: node_id("PR", pull_id),
                    head: head.to_string(),
                    head_sha,
                    base: base.to_string(),
                    base_sha,
                    draft,
                    merged: false,
                    merged_at: None,
                    maintainer_can_modify: true,
                    requested_reviewers: vec![],
                    requested_teams: vec![],
                }),
            },
        );
        number
    }

    /// Adds a comment by `login` to an issue or pull request; returns its id.
    pub fn add_comment(
        &self,
        owner: &str,
        name: &str,
        number: u64,
        login: &str,
        body: &str,
    ) -> u64 {
        let mut inner = self.server.shared.lock();
        let state = &mut inner.state;
        state.user(login);
        let id = state.ids.next("comment");
        let now = state.clock.tick();
        let repo = state
            .repo_mut(owner, name)
            .unwrap_or_else(|| panic!("no repository {owner}/{name}"));
        repo.comments.push(Comment {
            id,
            node_id: node_id("IC", id),
            issue_number: number,
            body: body.to_string(),
            user: login.to_string(),
            created_at: now.clone(),
            updated_at: now,
        });
        id
    }

    /// Moves a workflow run on (`"in_progress"`, or `"completed"` with a conclusion such as
    /// `"success"` or `"failure"`).
    /// Sets the jobs (and their steps) a run lists.
    pub fn set_run_jobs(&self, run_id: u64, jobs: Vec<Job>) {
        let mut inner = self.server.shared.lock();
        let run = inner
            .state
            .runs
            .iter_mut()
            .find(|r| r.id == run_id)
            .unwrap_or_else(|| panic!("no run {run_id}"));
        run.jobs = jobs;
    }

    pub fn set_run_status(&self, run_id: u64, status: &str, conclusion: Option<&str>) {
        let mut inner = self.server.shared.lock();
        let now = inner.state.clock.tick();
        let run = inner
            .state
            .runs
            .iter_mut()
            .find(|r| r.id == run_id)
            .unwrap_or_else(|| panic!("no run {run_id}"));
        run.status = status.to_string();
        run.conclusion = conclusion.map(String::from);
        run.updated_at = now;
    }

    // -- state, faults and the request log -------------------------------------------------------

    /// A copy of everything the fake knows now.
    pub fn state(&self) -> State {
        self.server.shared.lock().state.clone()
    }

    /// Changes the state directly, for situations no endpoint creates (a merged or locked pull
    /// request, a cancelled run): `fake.edit(|s| s.repo_mut("o", "r").unwrap().issues...)`.
    pub fn edit<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.server.shared.lock().state)
    }

    /// Injects a fault for the next matching request(s); faults are tried in the order given.
    pub fn inject(&self, fault: Fault) {
        self.server.shared.lock().faults.push(fault);
    }

    /// How many injected fault applications are still pending.
    pub fn faults_left(&self) -> usize {
        self.server
            .shared
            .lock()
            .faults
            .iter()
            .map(|f| f.times)
            .sum()
    }

    pub fn clear_faults(&self) {
        self.server.shared.lock().faults.clear();
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<Request> {
        self.server.shared.lock().log.clone()
    }

    /// The requests whose method and API path match (see `Fault` for the pattern syntax:
    /// `*` is one path segment, `**` any number; method `"*"` is any method).
    pub fn requests_to(&self, method: &str, pattern: &str) -> Vec<Request> {
        self.server
            .shared
            .lock()
            .log
            .iter()
            .filter(|r| {
                faults::method_matches(method, &r.method) && faults::path_matches(pattern, &r.route)
            })
            .cloned()
            .collect()
    }

    /// How many requests match (see `requests_to`).
    pub fn count(&self, method: &str, pattern: &str) -> usize {
        self.requests_to(method, pattern).len()
    }

    /// The JSON bodies of the matching requests.
    pub fn bodies(&self, method: &str, pattern: &str) -> Vec<Value> {
        self.requests_to(method, pattern)
            .into_iter()
            .filter_map(|r| r.body)
            .collect()
    }

    /// Requests whose body GitHub's schema refused (or that were not JSON). Tests assert this is
    /// empty to prove every body the binary sent was valid.
    pub fn schema_violations(&self) -> Vec<Request> {
        self.server
            .shared
            .lock()
            .log
            .iter()
            .filter(|r| r.schema_violation.is_some())
            .cloned()
            .collect()
    }

    /// Answers of the fake that do not match GitHub's response schema (bugs in the fake).
    pub fn response_violations(&self) -> Vec<Request> {
        self.server
            .shared
            .lock()
            .log
            .iter()
            .filter(|r| r.response_violation.is_some())
            .cloned()
            .collect()
    }

    /// Forgets the request log (state and faults stay).
    pub fn clear_requests(&self) {
        self.server.shared.lock().log.clear();
    }

    /// One line per request ("POST /repos/o/r/issues -> 201"), for assertion messages.
    pub fn request_summary(&self) -> String {
        self.requests()
            .iter()
            .map(Request::summary)
            .collect::<Vec<_>>()
            .join("\n")
    }
}
