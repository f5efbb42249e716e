//! Runs GitHub Actions workflows on this machine the way the runner would, against the fake
//! GitHub server, the bare `origin` of a `World`, and the binary under test.
//!
//! ```ignore
//! let runner = WorkflowRunner::new(&world)
//!     .secret("ONESHOT_TOKEN", world.fake.token())
//!     .secret("ANTHROPIC_API_KEY", "sk-ant-fake");
//! let report = runner.run_dispatched(run_id);      // a run the fake created on a dispatch
//! assert_eq!(report.conclusion, "success", "{}", report.log());
//! ```
//!
//! What it does, per run: the fake's run goes `in_progress`; the workflow file is read from the
//! bare remote at the run's commit; its jobs run in `needs` order. A job whose `if:` is false (or
//! whose needed jobs did not succeed, without a status function) is `skipped`. A job with `uses:`
//! performs the `workflow_call`: typed `with:` inputs, `secrets: inherit` or mapped secrets, and
//! the called workflow's `outputs`. `oneshot-dev/oneshot/...@ref` (and `$/...` inside it) is read
//! from this source tree, so the workflows under test are the ones in the work tree. At the end the
//! fake's run is `completed` with the run's conclusion.
//!
//! Per job, as on a fresh runner: an empty `GITHUB_WORKSPACE`, `RUNNER_TEMP`, `HOME`; the runner's
//! variables (`GITHUB_ACTIONS=true`, `CI`, `GITHUB_REPOSITORY`, `GITHUB_RUN_ID`, the fake's
//! `GITHUB_API_URL`/`GITHUB_GRAPHQL_URL`/`GITHUB_SERVER_URL`, `GITHUB_EVENT_PATH`, …); nothing of
//! the test's own git identity or GitHub token (a runner has neither). Per step, fresh
//! `GITHUB_OUTPUT`, `GITHUB_ENV`, `GITHUB_PATH` and `GITHUB_STEP_SUMMARY` files, read afterwards
//! with the runner's rules (`runner_files::parse`); `GITHUB_ENV` and `GITHUB_PATH` apply to the
//! later steps. `run:` steps run with their `shell` (`bash` is `bash --noprofile --norc -eo
//! pipefail {0}`, no shell is `bash -e {0}`), `env:` (workflow, job, step), `working-directory`,
//! `if:`, `id`, `continue-on-error`. Workflow commands in the output (`::notice::`, …) are
//! recorded. Expressions: see `expr`.
//!
//! `uses:` steps: `actions/checkout` becomes a shallow fetch of the bare remote at `with.ref` (or
//! the triggering ref) like the real action does it, without credentials; the install action
//! (`$/.github/actions/install`, `./.github/actions/install`) puts the binary under test on PATH
//! through `GITHUB_PATH`; `actions/upload-artifact` and `download-artifact` are recorded no-ops, and
//! so are `actions/cache/restore` and `save` unless the runner has a cache store
//! (`WorkflowRunner::cache_store`), which performs them on local directories. `runs-on` is
//! evaluated and must give a label or a list of labels; `WorkflowRunner::path` gives every job
//! a PATH of its own (a stock runner's). Anything else — an unknown action, key or expression — is an error of the runner (a
//! panic in `run_dispatched`), never silently skipped.

pub mod commands;
pub mod expr;
mod job;
mod uses;
mod yaml;

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command as Process;
use std::time::Duration;

use serde_json::{Map, Value, json};

use super::github::World;
use commands::Command;
use expr::{Scope, Status};

/// Where `owner/repo/...@ref` of oneshot itself is read from: this source tree.
pub const ONESHOT_REPOSITORY: &str = "oneshot-dev/oneshot";

/// Runs workflows for one `World`.
pub struct WorkflowRunner<'w> {
    world: &'w World,
    secrets: BTreeMap<String, String>,
    /// `owner/repo` (lower case) -> a directory holding that repository's files.
    sources: BTreeMap<String, PathBuf>,
    step_timeout: Duration,
    runs: Cell<usize>,
    /// PATH of every job instead of the test environment's (a stock runner's).
    path: Option<String>,
    /// Where actions/cache keeps its entries (`<dir>/<key>`), when the cache actions are
    /// performed rather than recorded as no-ops.
    cache_store: Option<PathBuf>,
}

/// What a run did.
#[derive(Clone, Debug)]
pub struct RunReport {
    pub run_id: u64,
    /// The workflow's `run-name` as GitHub renders it (its `name` when it has none).
    pub run_name: String,
    /// `success` or `failure`.
    pub conclusion: String,
    /// The run's `github.token` (an installation token the fake accepts).
    pub github_token: String,
    /// Every job, in the order they finished; a job that called a workflow comes after the
    /// called workflow's jobs. Paths: `oneshot`, `oneshot/plan`, `oneshot/implement/implement`.
    pub jobs: Vec<JobReport>,
    /// The `uses:` steps performed as recorded no-ops (`actions/upload-artifact@…`).
    pub noops: Vec<String>,
    /// What the performed cache actions did: `restore hit KEY`, `restore miss KEY`, `save KEY`.
    pub caches: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct JobReport {
    pub path: String,
    pub name: String,
    /// `success`, `failure` or `skipped`.
    pub result: String,
    pub outputs: BTreeMap<String, String>,
    pub steps: Vec<StepReport>,
    /// The job's `GITHUB_WORKSPACE` (none for skipped jobs and workflow calls).
    pub workspace: Option<PathBuf>,
    /// `runs-on`, evaluated: a label or a list of labels (null for skipped jobs and calls).
    pub runs_on: Value,
}

#[derive(Clone, Debug)]
pub struct StepReport {
    pub id: Option<String>,
    pub name: String,
    /// `success`, `failure` or `skipped` (before `continue-on-error`).
    pub outcome: String,
    /// `outcome`, except `success` for a failure with `continue-on-error`.
    pub conclusion: String,
    pub outputs: BTreeMap<String, String>,
    /// What the step wrote to `GITHUB_STEP_SUMMARY`.
    pub summary: String,
    pub stdout: String,
    pub stderr: String,
    /// Workflow commands in the output (annotations, groups, masks).
    pub commands: Vec<Command>,
    pub exit_code: Option<i32>,
    pub duration: Duration,
}

impl RunReport {
    /// The job at `path` (`oneshot/plan`); panics with the list of jobs when there is none.
    pub fn job(&self, path: &str) -> &JobReport {
        self.jobs
            .iter()
            .find(|j| j.path == path)
            .unwrap_or_else(|| {
                panic!(
                    "no job {path}; jobs: {:?}",
                    self.jobs.iter().map(|j| &j.path).collect::<Vec<_>>()
                )
            })
    }

    pub fn has_job(&self, path: &str) -> bool {
        self.jobs.iter().any(|j| j.path == path)
    }

    /// Every annotation (`error`, `warning`, `notice`) with the job and step that wrote it.
    pub fn annotations(&self) -> Vec<(String, Command)> {
        self.jobs
            .iter()
            .flat_map(|j| {
                j.steps.iter().flat_map(move |s| {
                    s.commands
                        .iter()
                        .filter(|c| c.is_annotation())
                        .map(move |c| (format!("{} / {}", j.path, s.name), c.clone()))
                })
            })
            .collect()
    }

    /// The step summaries that are not empty: (`job / step`, Markdown).
    pub fn summaries(&self) -> Vec<(String, String)> {
        self.jobs
            .iter()
            .flat_map(|j| {
                j.steps
                    .iter()
                    .filter(|s| !s.summary.is_empty())
                    .map(move |s| (format!("{} / {}", j.path, s.name), s.summary.clone()))
            })
            .collect()
    }

    /// Everything that happened, for assertion messages.
    pub fn log(&self) -> String {
        let mut out = format!("run {} -> {}\n", self.run_id, self.conclusion);
        for job in &self.jobs {
            out.push_str(&format!(
                "== job {} ({}): {}\n",
                job.path, job.name, job.result
            ));
            for (k, v) in &job.outputs {
                out.push_str(&format!("   output {k}={v:?}\n"));
            }
            for step in &job.steps {
                out.push_str(&format!(
                    "-- step {} [{}]: {} / {} ({:?}, {} ms)\n",
                    step.name,
                    step.id.as_deref().unwrap_or("-"),
                    step.outcome,
                    step.conclusion,
                    step.exit_code,
                    step.duration.as_millis()
                ));
                for (k, v) in &step.outputs {
                    out.push_str(&format!("   output {k}={v:?}\n"));
                }
                for (name, text) in [("stdout", &step.stdout), ("stderr", &step.stderr)] {
                    if !text.trim().is_empty() {
                        out.push_str(&format!("   {name}:\n"));
                        for line in text.lines() {
                            out.push_str(&format!("   | {line}\n"));
                        }
                    }
                }
            }
        }
        out
    }
}

impl<'w> WorkflowRunner<'w> {
    pub fn new(world: &'w World) -> Self {
        let mut sources = BTreeMap::new();
        sources.insert(
            ONESHOT_REPOSITORY.to_string(),
            PathBuf::from(env!("CARGO_MANIFEST_DIR")),
        );
        WorkflowRunner {
            world,
            secrets: BTreeMap::new(),
            sources,
            step_timeout: Duration::from_secs(120),
            runs: Cell::new(0),
            path: None,
            cache_store: None,
        }
    }

    /// Every job gets this PATH instead of the test environment's.
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = Some(path.into());
        self
    }

    /// Performs actions/cache (restore and save) with its entries in `store`: an entry is the
    /// directory `<store>/<key>` (or a symlink to one); a restore links the step's `path` to
    /// it, a save copies `path` there. Without a store the cache actions are no-ops.
    pub fn cache_store(mut self, store: &Path) -> Self {
        self.cache_store = Some(store.to_path_buf());
        self
    }

    /// A repository secret.
    pub fn secret(mut self, name: &str, value: impl Into<String>) -> Self {
        self.secrets.insert(name.to_string(), value.into());
        self
    }

    /// Reads `repository/...@ref` from `dir` instead of refusing it.
    pub fn source(mut self, repository: &str, dir: &Path) -> Self {
        self.sources
            .insert(repository.to_ascii_lowercase(), dir.to_path_buf());
        self
    }

    /// The time a step may take before it is killed (and fails).
    pub fn step_timeout(mut self, limit: Duration) -> Self {
        self.step_timeout = limit;
        self
    }

    /// Runs the workflow run the fake created on a dispatch; panics on anything the runner does
    /// not understand (the message names the job and step).
    /// With `ONESHOT_E2E_LOG=1` in the test's environment the run's log goes to stderr.
    #[allow(clippy::print_stderr)]
    pub fn run_dispatched(&self, run_id: u64) -> RunReport {
        let report = self
            .try_run_dispatched(run_id)
            .unwrap_or_else(|e| panic!("the workflow runner failed: {e}"));
        if std::env::var_os("ONESHOT_E2E_LOG").is_some_and(|v| v == "1") {
            eprintln!("{}", report.log());
        }
        report
    }

    pub fn try_run_dispatched(&self, run_id: u64) -> Result<RunReport, String> {
        let fake = &self.world.fake;
        let state = fake.state();
        let run = state
            .run(run_id)
            .ok_or_else(|| format!("the fake has no run {run_id}"))?;
        if run.event != "workflow_dispatch" {
            return Err(format!("run {run_id} has event {}", run.event));
        }
        let repo = state
            .repo(&run.owner, &run.repo)
            .ok_or_else(|| format!("no repository {}/{}", run.owner, run.repo))?;
        let repository = repo.full_name();
        let git_dir = repo
            .git_path()
            .ok_or_else(|| format!("{repository} is not linked to a bare repository"))?
            .to_path_buf();
        let default_branch = repo.default_branch.clone();

        let file = WorkflowFile {
            repository: repository.clone(),
            path: run.workflow_path.clone(),
            git_ref: format!("refs/heads/{}", run.head_branch),
            place: Place::Bare {
                git_dir: git_dir.clone(),
                sha: run.head_sha.clone(),
            },
        };
        let text = file.read(&file.path)?;
        let workflow = yaml::load(&text, &run.workflow_path)?;

        // The run's GITHUB_TOKEN: an installation token, as Actions gives each run.
        let token = format!("ghs_run{run_id:0>33}");
        fake.add_app_token(&token);

        let n = self.runs.get() + 1;
        self.runs.set(n);
        let root = self.world.env.dir(&format!("runner/{n}-run-{run_id}"));
        let api_url = fake.api_url();
        let (owner, name) = repository.split_once('/').expect("owner/name");
        let event = json!({
            "inputs": run.inputs,
            "ref": file.git_ref,
            "repository": {
                "default_branch": default_branch,
                "full_name": repository,
                "name": name,
                "owner": {"login": owner},
                "html_url": format!("{}/{repository}", fake.server_url()),
            },
            "sender": {"login": run.actor},
            "workflow": run.workflow_path,
        });
        std::fs::write(root.join("event.json"), event.to_string()).map_err(|e| e.to_string())?;
        let github = json!({
            "token": token,
            "repository": repository,
            "repository_owner": owner,
            "run_id": run_id.to_string(),
            "run_number": run.run_number.to_string(),
            "run_attempt": "1",
            "event_name": "workflow_dispatch",
            "event": event,
            "event_path": root.join("event.json").display().to_string(),
            "ref": file.git_ref,
            "ref_name": run.head_branch,
            "ref_type": "branch",
            "ref_protected": false,
            "sha": run.head_sha,
            "actor": run.actor,
            "triggering_actor": run.actor,
            "workflow": run.name,
            "workflow_ref": file.workflow_ref(),
            "workflow_sha": run.head_sha,
            "server_url": fake.server_url(),
            "api_url": api_url,
            "graphql_url": fake.graphql_url(),
            "retention_days": "90",
            "secret_source": "Actions",
            "base_ref": "",
            "head_ref": "",
            "repositoryUrl": format!("git://github.com/{repository}.git"),
        });
        let mut secrets = Map::new();
        for (k, v) in &self.secrets {
            secrets.insert(k.clone(), Value::String(v.clone()));
        }
        secrets.insert("GITHUB_TOKEN".into(), Value::String(token.clone()));

        let ctx = Run {
            runner: self,
            id: run_id,
            root,
            github,
            git_dir,
            base_env: self.base_env(),
            jobs: RefCell::new(Vec::new()),
            noops: RefCell::new(Vec::new()),
            caches: RefCell::new(Vec::new()),
            counter: Cell::new(0),
        };

        fake.set_run_status(run_id, "in_progress", None);
        let dispatch = workflow_dispatch_inputs(&workflow, &run.inputs)?;
        let run_name = match &workflow["run-name"] {
            Value::Null => run.name.clone(),
            template => {
                let scope = Scope::new()
                    .with("github", ctx.github.clone())
                    .with("inputs", dispatch.clone())
                    .with("vars", Value::Object(Map::new()));
                expr::evaluate_value(template, &scope)
                    .map(|v| expr::to_string(&v))
                    .map_err(|e| format!("{}: run-name: {e}", file.workflow_ref()))?
            }
        };
        let outcome = ctx.run_workflow(&workflow, &file, dispatch, Value::Object(secrets), "");
        let jobs = match outcome {
            Ok(jobs) => jobs,
            Err(e) => {
                fake.set_run_status(run_id, "completed", Some("failure"));
                return Err(e);
            }
        };
        let conclusion = if jobs.values().any(|j| j["result"] == "failure") {
            "failure"
        } else {
            "success"
        };
        fake.set_run_status(run_id, "completed", Some(conclusion));
        Ok(RunReport {
            run_id,
            run_name,
            conclusion: conclusion.to_string(),
            github_token: token,
            jobs: ctx.jobs.into_inner(),
            noops: ctx.noops.into_inner(),
            caches: ctx.caches.into_inner(),
        })
    }

    /// The test environment's variables a runner also has: PATH (with the fake agent), the
    /// pinned clock, git's config isolation, the client's time limits. Not the test's git
    /// identity, GitHub token or GitHub variables: a runner has none of them.
    fn base_env(&self) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = self
            .world
            .env
            .vars()
            .filter(|(k, _)| {
                !(k.starts_with("GITHUB_")
                    || k.starts_with("GIT_AUTHOR_")
                    || k.starts_with("GIT_COMMITTER_")
                    || *k == "GH_TOKEN"
                    || *k == "HOME")
            })
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        if let Some(path) = &self.path {
            env.retain(|(k, _)| k != "PATH");
            env.push(("PATH".into(), path.clone()));
        }
        env
    }
}

/// A dispatch as the Actions tab's "Run workflow" button sends it: a POST to the dispatch
/// endpoint with the form's inputs, as the user whose token is given. Returns the new run's id.
pub fn dispatch_from_actions_tab(
    world: &World,
    token: &str,
    workflow: &str,
    git_ref: &str,
    inputs: &[(&str, &str)],
) -> u64 {
    let fake = &world.fake;
    let before: BTreeSet<u64> = fake.state().runs().iter().map(|r| r.id).collect();
    let prefix = fake
        .api_url()
        .trim_start_matches(&fake.base_url())
        .to_string();
    let inputs: Map<String, Value> = inputs
        .iter()
        .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
        .collect();
    let body = json!({"ref": git_ref, "inputs": inputs}).to_string();
    let path = format!(
        "{prefix}/repos/{}/{}/actions/workflows/{workflow}/dispatches",
        super::github::OWNER,
        super::github::NAME
    );
    let status = http_post(fake.addr(), &path, token, &body);
    assert!(
        status == 204 || status == 200,
        "the dispatch was refused with {status}:\n{}",
        fake.request_summary()
    );
    let runs = fake.state().runs();
    runs.iter()
        .map(|r| r.id)
        .find(|id| !before.contains(id))
        .expect("the dispatch created a run")
}

fn http_post(addr: std::net::SocketAddr, path: &str, token: &str, body: &str) -> u16 {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).expect("the fake listens");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: actions-tab\r\nAuthorization: Bearer {token}\r\nAccept: application/vnd.github+json\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    let text = String::from_utf8_lossy(&answer);
    text.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

// -- workflow files --------------------------------------------------------------------------------

/// A workflow file and the repository state it comes from.
#[derive(Clone, Debug)]
pub(crate) struct WorkflowFile {
    /// `owner/name`.
    pub repository: String,
    /// `.github/workflows/x.yml`.
    pub path: String,
    /// The full ref it was used at (`refs/heads/main`, `refs/tags/v0.1.0`, a sha).
    pub git_ref: String,
    pub place: Place,
}

#[derive(Clone, Debug)]
pub(crate) enum Place {
    /// In the bare remote, at a commit.
    Bare { git_dir: PathBuf, sha: String },
    /// In a directory (this source tree).
    Local(PathBuf),
}

impl WorkflowFile {
    /// A file of the same repository state.
    pub fn read(&self, path: &str) -> Result<String, String> {
        match &self.place {
            Place::Bare { git_dir, sha } => {
                let out = Process::new("git")
                    .arg("--git-dir")
                    .arg(git_dir)
                    .args(["show", &format!("{sha}:{path}")])
                    .env("GIT_CONFIG_NOSYSTEM", "1")
                    .env("GIT_CONFIG_GLOBAL", "/dev/null")
                    .output()
                    .map_err(|e| e.to_string())?;
                if !out.status.success() {
                    return Err(format!(
                        "{path} does not exist in {} at {sha}: {}",
                        self.repository,
                        String::from_utf8_lossy(&out.stderr).trim()
                    ));
                }
                Ok(String::from_utf8_lossy(&out.stdout).into_owned())
            }
            Place::Local(dir) => std::fs::read_to_string(dir.join(path)).map_err(|e| {
                format!(
                    "{path} does not exist in {} ({}): {e}",
                    self.repository,
                    dir.display()
                )
            }),
        }
    }

    pub fn exists(&self, path: &str) -> bool {
        self.read(path).is_ok()
    }

    pub fn sha(&self) -> String {
        match &self.place {
            Place::Bare { sha, .. } => sha.clone(),
            Place::Local(_) => "0".repeat(40),
        }
    }

    /// `owner/repo/.github/workflows/x.yml@refs/heads/main`, as `github.workflow_ref` and
    /// `job.workflow_ref` spell it.
    pub fn workflow_ref(&self) -> String {
        format!("{}/{}@{}", self.repository, self.path, self.git_ref)
    }

    /// The same repository state, another file.
    pub fn sibling(&self, path: &str) -> WorkflowFile {
        WorkflowFile {
            path: path.to_string(),
            ..self.clone()
        }
    }
}

/// `v0.1.0` -> `refs/tags/v0.1.0`, `main` -> `refs/heads/main`; full refs and shas stay.
fn full_ref(r: &str) -> String {
    if r.starts_with("refs/") || (r.len() == 40 && r.chars().all(|c| c.is_ascii_hexdigit())) {
        r.to_string()
    } else if r.starts_with('v') && r[1..].starts_with(|c: char| c.is_ascii_digit()) {
        format!("refs/tags/{r}")
    } else {
        format!("refs/heads/{r}")
    }
}

/// The `inputs` context of a dispatched run: the inputs sent (strings) typed by the declared
/// `workflow_dispatch` inputs, with the declared defaults for the rest.
fn workflow_dispatch_inputs(
    workflow: &Value,
    sent: &BTreeMap<String, String>,
) -> Result<Value, String> {
    let declared = &workflow["on"]["workflow_dispatch"]["inputs"];
    let mut out = Map::new();
    for (name, spec) in yaml::entries(declared) {
        let kind = yaml::scalar(&spec["type"]).unwrap_or_else(|| "string".into());
        let value = match sent.get(&name) {
            Some(text) => match kind.as_str() {
                "boolean" => match text.as_str() {
                    "true" => Value::Bool(true),
                    "false" => Value::Bool(false),
                    other => return Err(format!("input {name}: `{other}` is not a boolean")),
                },
                "number" => text
                    .parse::<f64>()
                    .ok()
                    .and_then(serde_json::Number::from_f64)
                    .map(Value::Number)
                    .ok_or_else(|| format!("input {name}: `{text}` is not a number"))?,
                _ => Value::String(text.clone()),
            },
            None => typed_default(&spec, &kind),
        };
        out.insert(name, value);
    }
    for name in sent.keys() {
        if !out.contains_key(name) {
            return Err(format!("input {name} is not declared by the workflow"));
        }
    }
    Ok(Value::Object(out))
}

fn typed_default(spec: &Value, kind: &str) -> Value {
    match (&spec["default"], kind) {
        (Value::Null, "boolean") => Value::Bool(false),
        (Value::Null, "number") => json!(0),
        (Value::Null, _) => Value::String(String::new()),
        (Value::String(s), "boolean") => Value::Bool(s == "true"),
        (v, "string") => Value::String(expr::to_string(v)),
        (v, _) => v.clone(),
    }
}

// -- one run ---------------------------------------------------------------------------------------

/// The state of one run while it goes.
pub(crate) struct Run<'r> {
    pub runner: &'r WorkflowRunner<'r>,
    pub id: u64,
    /// This run's directory for runner files.
    pub root: PathBuf,
    /// The `github` context (the job-specific fields are set per job).
    pub github: Value,
    /// The bare remote checkouts fetch from.
    pub git_dir: PathBuf,
    pub base_env: Vec<(String, String)>,
    pub jobs: RefCell<Vec<JobReport>>,
    pub noops: RefCell<Vec<String>>,
    pub caches: RefCell<Vec<String>>,
    pub counter: Cell<usize>,
}

const WORKFLOW_KEYS: &[&str] = &[
    "name",
    "run-name",
    "on",
    "permissions",
    "env",
    "defaults",
    "concurrency",
    "jobs",
];

const JOB_KEYS: &[&str] = &[
    "name",
    "runs-on",
    "needs",
    "if",
    "permissions",
    "timeout-minutes",
    "concurrency",
    "defaults",
    "outputs",
    "steps",
    "env",
    "uses",
    "with",
    "secrets",
];

impl Run<'_> {
    pub fn world(&self) -> &World {
        self.runner.world
    }

    pub fn next_number(&self) -> usize {
        let n = self.counter.get() + 1;
        self.counter.set(n);
        n
    }

    /// Runs a workflow's jobs; returns the `jobs` context (`{id: {result, outputs}}`).
    fn run_workflow(
        &self,
        workflow: &Value,
        file: &WorkflowFile,
        inputs: Value,
        secrets: Value,
        prefix: &str,
    ) -> Result<Map<String, Value>, String> {
        let what = file.workflow_ref();
        yaml::check_keys(workflow, WORKFLOW_KEYS, &what)?;
        let jobs = yaml::entries(&workflow["jobs"]);
        if jobs.is_empty() {
            return Err(format!("{what}: no jobs"));
        }
        let vars = Value::Object(Map::new());

        // Workflow-level env: github, secrets, inputs, vars.
        let wf_scope = Scope::new()
            .with("github", self.github.clone())
            .with("secrets", secrets.clone())
            .with("inputs", inputs.clone())
            .with("vars", vars.clone());
        let mut wf_env = Vec::new();
        for (k, v) in yaml::entries(&workflow["env"]) {
            let value =
                expr::evaluate_value(&v, &wf_scope).map_err(|e| format!("{what}: env.{k}: {e}"))?;
            wf_env.push((k, expr::to_string(&value)));
        }

        let mut done: Map<String, Value> = Map::new();
        while done.len() < jobs.len() {
            let next = jobs.iter().find(|(id, job)| {
                !done.contains_key(id)
                    && yaml::string_list(&job["needs"])
                        .iter()
                        .all(|n| done.contains_key(n))
            });
            let Some((id, job)) = next else {
                let left: Vec<_> = jobs
                    .iter()
                    .filter(|(id, _)| !done.contains_key(id))
                    .map(|(id, _)| id.clone())
                    .collect();
                return Err(format!(
                    "{what}: jobs {left:?} need jobs that do not exist or need each other"
                ));
            };
            let path = if prefix.is_empty() {
                id.clone()
            } else {
                format!("{prefix}/{id}")
            };
            let where_ = format!("{what} job {id}");
            yaml::check_keys(job, JOB_KEYS, &where_)?;
            let needs = yaml::string_list(&job["needs"]);
            for n in &needs {
                if !jobs.iter().any(|(j, _)| j == n) {
                    return Err(format!("{where_}: needs unknown job {n}"));
                }
            }
            let mut needs_ctx = Map::new();
            for n in &needs {
                needs_ctx.insert(n.clone(), done[n].clone());
            }
            let ancestors = ancestors(&jobs, id);
            let status = Status {
                success: ancestors.iter().all(|a| done[a]["result"] == "success"),
                failure: ancestors.iter().any(|a| done[a]["result"] == "failure"),
                cancelled: false,
            };
            let mut github = self.github.clone();
            github["job"] = Value::String(id.clone());
            let base = Scope::new()
                .with("github", github)
                .with("inputs", inputs.clone())
                .with("needs", Value::Object(needs_ctx))
                .with("vars", vars.clone());

            let mut if_scope = base.clone();
            if_scope.status = Some(status);
            let run_it = match &job["if"] {
                Value::Null => status.success,
                Value::Bool(b) => *b && status.success,
                other => expr::condition(&yaml::scalar(other).unwrap_or_default(), &if_scope)
                    .map_err(|e| format!("{where_}: if: {e}"))?,
            };
            let name = yaml::scalar(&job["name"]).unwrap_or_else(|| id.clone());
            // Not enforced (one run at a time here), but its expressions must evaluate.
            let group = match &job["concurrency"] {
                Value::Object(c) => c.get("group").cloned().unwrap_or(Value::Null),
                other => other.clone(),
            };
            if !group.is_null() {
                expr::evaluate_value(&group, &base)
                    .map_err(|e| format!("{where_}: concurrency: {e}"))?;
            }
            let (result, outputs) = if !run_it {
                self.jobs.borrow_mut().push(JobReport {
                    path: path.clone(),
                    name,
                    result: "skipped".into(),
                    outputs: BTreeMap::new(),
                    steps: Vec::new(),
                    workspace: None,
                    runs_on: Value::Null,
                });
                ("skipped".to_string(), BTreeMap::new())
            } else if job.get("uses").is_some() {
                let (result, outputs) =
                    self.call_workflow(job, file, &base, &secrets, &path, &where_)?;
                self.jobs.borrow_mut().push(JobReport {
                    path: path.clone(),
                    name,
                    result: result.clone(),
                    outputs: outputs.clone(),
                    steps: Vec::new(),
                    workspace: None,
                    runs_on: Value::Null,
                });
                (result, outputs)
            } else {
                // Not a machine here, but the expression must evaluate to labels.
                let runs_on = expr::evaluate_value(&job["runs-on"], &base)
                    .map_err(|e| format!("{where_}: runs-on: {e}"))?;
                let labels_ok = match &runs_on {
                    Value::String(s) => !s.is_empty(),
                    Value::Array(items) => {
                        !items.is_empty()
                            && items
                                .iter()
                                .all(|i| i.as_str().is_some_and(|s| !s.is_empty()))
                    }
                    _ => false,
                };
                if !labels_ok {
                    return Err(format!(
                        "{where_}: runs-on is {runs_on}, not a label or a list of labels"
                    ));
                }
                let scope = base.with("secrets", secrets.clone());
                let mut report = job::run(
                    self,
                    job::JobSpec {
                        path: path.clone(),
                        id: id.clone(),
                        name,
                        job,
                        workflow,
                        file,
                        scope,
                        workflow_env: wf_env.clone(),
                    },
                )
                .map_err(|e| format!("{where_}: {e}"))?;
                report.runs_on = runs_on;
                let r = (report.result.clone(), report.outputs.clone());
                self.jobs.borrow_mut().push(report);
                r
            };
            let outputs: Map<String, Value> = outputs
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect();
            done.insert(
                id.clone(),
                json!({"result": result, "outputs": Value::Object(outputs)}),
            );
        }
        Ok(done)
    }

    /// A job with `uses:`: the called workflow with its inputs and secrets; its result and
    /// outputs.
    fn call_workflow(
        &self,
        job: &Value,
        caller: &WorkflowFile,
        scope: &Scope,
        caller_secrets: &Value,
        path: &str,
        where_: &str,
    ) -> Result<(String, BTreeMap<String, String>), String> {
        for key in ["steps", "runs-on", "env", "defaults", "timeout-minutes"] {
            if job.get(key).is_some() {
                return Err(format!(
                    "{where_}: a job that calls a workflow cannot have `{key}`"
                ));
            }
        }
        let uses = yaml::scalar(&job["uses"]).unwrap_or_default();
        let file = self.resolve_workflow(caller, &uses)?;
        let what = file.workflow_ref();
        let text = file.read(&file.path)?;
        let workflow = yaml::load(&text, &what)?;
        let call = match &workflow["on"] {
            Value::String(s) if s == "workflow_call" => Value::Null,
            Value::Array(items) if items.iter().any(|i| i == "workflow_call") => Value::Null,
            Value::Object(map) if map.contains_key("workflow_call") => map["workflow_call"].clone(),
            _ => return Err(format!("{where_}: {what} has no `on: workflow_call`")),
        };

        // Inputs, typed as the called workflow declares them.
        let declared = &call["inputs"];
        let mut given = BTreeMap::new();
        for (k, v) in yaml::entries(&job["with"]) {
            let value =
                expr::evaluate_value(&v, scope).map_err(|e| format!("{where_}: with.{k}: {e}"))?;
            given.insert(k, value);
        }
        let mut inputs = Map::new();
        for (name, spec) in yaml::entries(declared) {
            let kind = yaml::scalar(&spec["type"])
                .ok_or_else(|| format!("{what}: input {name} has no type"))?;
            let value = match given.remove(&name) {
                Some(v) => match (kind.as_str(), v) {
                    ("boolean", Value::Bool(b)) => Value::Bool(b),
                    ("number", Value::Number(n)) => Value::Number(n),
                    ("string", v @ (Value::String(_) | Value::Number(_) | Value::Bool(_))) => {
                        Value::String(expr::to_string(&v))
                    }
                    (_, v) => {
                        return Err(format!(
                            "{where_}: with.{name}: the input is of type {kind}, got {v}"
                        ));
                    }
                },
                None if spec["required"] == Value::Bool(true) => {
                    return Err(format!(
                        "{where_}: the required input {name} of {what} is not given"
                    ));
                }
                None => typed_default(&spec, &kind),
            };
            inputs.insert(name, value);
        }
        if let Some(name) = given.keys().next() {
            return Err(format!("{where_}: with.{name} is not an input of {what}"));
        }

        // Secrets: all of the caller's, or the ones named (which the callee must declare).
        let declared_secrets = &call["secrets"];
        let mut secrets = Map::new();
        match &job["secrets"] {
            Value::String(s) if s == "inherit" => {
                secrets = caller_secrets.as_object().cloned().unwrap_or_default();
            }
            Value::Null => {}
            Value::Object(map) => {
                let secret_scope = scope.clone().with("secrets", caller_secrets.clone());
                for (k, v) in map {
                    if declared_secrets.get(k).is_none() {
                        return Err(format!("{where_}: secrets.{k} is not a secret of {what}"));
                    }
                    let value = expr::evaluate_value(v, &secret_scope)
                        .map_err(|e| format!("{where_}: secrets.{k}: {e}"))?;
                    secrets.insert(k.clone(), Value::String(expr::to_string(&value)));
                }
            }
            other => return Err(format!("{where_}: secrets: {other} is not understood")),
        }
        for (name, spec) in yaml::entries(declared_secrets) {
            if spec["required"] == Value::Bool(true)
                && secrets
                    .get(&name)
                    .is_none_or(|v| v.as_str().is_some_and(str::is_empty))
            {
                return Err(format!(
                    "{where_}: the required secret {name} of {what} is not given"
                ));
            }
        }
        secrets.insert("GITHUB_TOKEN".into(), self.github["token"].clone());

        let inputs = Value::Object(inputs);
        let jobs = self.run_workflow(
            &workflow,
            &file,
            inputs.clone(),
            Value::Object(secrets),
            path,
        )?;
        let result = if jobs.values().any(|j| j["result"] == "failure") {
            "failure"
        } else {
            "success"
        };
        let out_scope = Scope::new()
            .with("github", self.github.clone())
            .with("inputs", inputs)
            .with("jobs", Value::Object(jobs))
            .with("vars", Value::Object(Map::new()));
        let mut outputs = BTreeMap::new();
        for (name, spec) in yaml::entries(&call["outputs"]) {
            let value = expr::evaluate_value(&spec["value"], &out_scope)
                .map_err(|e| format!("{what}: outputs.{name}: {e}"))?;
            outputs.insert(name, expr::to_string(&value));
        }
        Ok((result.to_string(), outputs))
    }

    /// Where a job's `uses:` points: `./path` or `$/path` (the calling workflow's repository
    /// state), `owner/repo/path@ref` (a known source, or this repository's remote).
    fn resolve_workflow(&self, caller: &WorkflowFile, uses: &str) -> Result<WorkflowFile, String> {
        if let Some(path) = uses.strip_prefix("./").or_else(|| uses.strip_prefix("$/")) {
            if path.contains('@') {
                return Err(format!("`{uses}`: a local workflow takes no @ref"));
            }
            return Ok(caller.sibling(path));
        }
        let (spec, git_ref) = uses
            .split_once('@')
            .ok_or_else(|| format!("`{uses}`: a workflow in another repository needs @ref"))?;
        let mut parts = spec.splitn(3, '/');
        let (Some(owner), Some(name), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(format!("`{uses}` is not owner/repo/path@ref"));
        };
        let repository = format!("{owner}/{name}");
        if let Some(dir) = self.runner.sources.get(&repository.to_ascii_lowercase()) {
            return Ok(WorkflowFile {
                repository,
                path: path.to_string(),
                git_ref: full_ref(git_ref),
                place: Place::Local(dir.clone()),
            });
        }
        let own = self.github["repository"].as_str().unwrap_or_default();
        if repository.eq_ignore_ascii_case(own) {
            let sha = resolve_in_bare(&self.git_dir, git_ref)
                .ok_or_else(|| format!("`{uses}`: {git_ref} does not exist in {own}"))?;
            return Ok(WorkflowFile {
                repository,
                path: path.to_string(),
                git_ref: full_ref(git_ref),
                place: Place::Bare {
                    git_dir: self.git_dir.clone(),
                    sha,
                },
            });
        }
        Err(format!(
            "`{uses}`: the workflow runner knows no repository {repository} (add it with WorkflowRunner::source)"
        ))
    }
}

fn resolve_in_bare(git_dir: &Path, git_ref: &str) -> Option<String> {
    let out = Process::new("git")
        .arg("--git-dir")
        .arg(git_dir)
        .args([
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("{git_ref}^{{commit}}"),
        ])
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Every job `id` needs, directly or not.
fn ancestors(jobs: &[(String, Value)], id: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut todo = vec![id.to_string()];
    while let Some(j) = todo.pop() {
        if let Some((_, job)) = jobs.iter().find(|(k, _)| *k == j) {
            for n in yaml::string_list(&job["needs"]) {
                if out.insert(n.clone()) {
                    todo.push(n);
                }
            }
        }
    }
    out
}
