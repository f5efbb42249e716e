//! Issue 6: the implement job end to end with the fake agent, the fake GitHub server and a bare
//! remote: fetch-plan, run-implement, finalize, resume.

use std::path::PathBuf;
use std::process::Output;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::agent_fakes::{FakeAgent, init, result, write};
use crate::support::github::{NAME, OWNER, PLAN, World};
use crate::support::{stdout_json, succeeded};

pub(crate) const BRANCH: &str = "oneshot-add-a-verbose-flag-01-15-1430";

pub(crate) struct Job {
    pub w: World,
    pub agent: FakeAgent,
    pub pr: u64,
    pub issue: u64,
    /// The implement job's own checkout of the branch (a fresh clone, as on a new runner).
    pub dir: PathBuf,
}

/// The plan job has run: the branch and draft PR exist, the plan issue is saved and registered.
pub(crate) fn job() -> Job {
    job_in(World::new())
}

fn job_in(mut w: World) -> Job {
    let agent = FakeAgent::install(&mut w.env, "claude");
    let (pr, issue) = w.saved_plan(BRANCH, PLAN, &["--submitted-by", "octocat"]);
    let dir = w.clone_branch(BRANCH, "implement-job");
    w.fake.clear_requests();
    Job {
        w,
        agent,
        pr,
        issue,
        dir,
    }
}

/// A session that writes one file and succeeds.
pub(crate) fn session(path: &str, content: &str) -> Vec<Value> {
    vec![
        init(),
        write(path, content),
        result("success", false, "Done."),
    ]
}

impl Job {
    fn exec(&self, args: &[&str]) -> Output {
        self.w
            .env
            .oneshot(&self.dir)
            .arg("exec")
            .args(args)
            .output()
            .unwrap()
    }

    pub(crate) fn fetch_plan(&self) -> Value {
        succeeded(self.exec(&[
            "fetch-plan",
            "--issue",
            &self.issue.to_string(),
            "--pr",
            &self.pr.to_string(),
        ]))
    }

    pub(crate) fn run_implement(&self, extra: &[&str]) -> Output {
        let (issue, pr) = (self.issue.to_string(), self.pr.to_string());
        let mut args = vec![
            "run-implement",
            "--issue",
            &issue,
            "--pr",
            &pr,
            "--submitted-by",
            "octocat",
        ];
        args.extend(extra);
        self.exec(&args)
    }

    fn finalize(&self, outcome: &str) -> Output {
        self.exec(&[
            "finalize",
            "--issue",
            &self.issue.to_string(),
            "--pr",
            &self.pr.to_string(),
            "--outcome",
            outcome,
            "--submitted-by",
            "octocat",
        ])
    }

    /// Commit subjects on the remote branch, oldest first, after the task commit.
    pub(crate) fn remote_subjects(&self) -> Vec<String> {
        self.w
            .env
            .git(
                &self.w.repo.origin,
                [
                    "log",
                    "--reverse",
                    "--format=%s",
                    &format!("main..{BRANCH}"),
                ],
            )
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn pr_body(&self) -> String {
        self.w
            .fake
            .state()
            .pull(OWNER, NAME, self.pr)
            .unwrap()
            .body
            .unwrap()
    }

    pub(crate) fn step_states(&self) -> Vec<(u64, String)> {
        let body = self.pr_body();
        let start = body.find("<!-- oneshot:meta ").unwrap() + "<!-- oneshot:meta ".len();
        let end = body[start..].find(" -->").unwrap() + start;
        let meta: Value = serde_json::from_str(&body[start..end]).unwrap();
        meta["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["number"].as_u64().unwrap(),
                    s["state"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }

    fn comments_on_pr(&self) -> Vec<String> {
        self.w
            .fake
            .state()
            .comments(OWNER, NAME, self.pr)
            .into_iter()
            .map(|c| c.body)
            .collect()
    }
}

pub(crate) fn states(list: &[(u64, &str)]) -> Vec<(u64, String)> {
    list.iter().map(|(n, s)| (*n, s.to_string())).collect()
}

#[test]
fn a_three_step_plan_all_done_ends_ready_for_review() {
    let job = job();
    for n in 1..=3 {
        job.agent.script_for(
            n,
            session(&format!("src/step{n}.txt"), &format!("step {n}\n")),
        );
    }
    assert_eq!(job.fetch_plan()["step_count"], 3);
    let out = succeeded(job.run_implement(&[]));
    assert_eq!(out["completed_steps"], 3);

    // At most 3 GitHub requests per step (reading and writing the progress block).
    let requests = job.w.fake.requests().len();
    assert!(
        requests <= 3 * 3 + 2,
        "{requests} requests:\n{}",
        job.w.fake.request_summary()
    );

    assert_eq!(
        job.remote_subjects(),
        vec![
            "Add the oneshot task",
            "Step 1: Parse the flag",
            "Step 2: Print requests",
            "Step 3: Document it"
        ]
    );
    let trailer = job.w.env.git(
        &job.w.repo.origin,
        ["log", "-1", "--format=%an <%ae>%n%b", BRANCH],
    );
    assert!(
        trailer.starts_with("oneshot <oneshot@users.noreply.github.com>"),
        "{trailer}"
    );
    assert!(
        trailer.contains("Co-authored-by: octocat <octocat@users.noreply.github.com>"),
        "{trailer}"
    );

    let finalized = succeeded(job.finalize("success"));
    assert_eq!(finalized["completed_steps"], 3);
    let pull = job.w.fake.state().pull(OWNER, NAME, job.pr).unwrap();
    assert!(!pull.draft, "the PR is ready for review");
    assert_eq!(pull.title, "Add a --verbose flag to submit");
    assert_eq!(
        job.step_states(),
        states(&[(1, "done"), (2, "done"), (3, "done")])
    );
    let body = pull.body.unwrap();
    assert!(
        body.contains("**Done:** 3 steps · 3 files changed"),
        "{body}"
    );
    // No staging files in the finished PR.
    let files = job
        .w
        .env
        .git(&job.w.repo.origin, ["diff", "--name-only", "main", BRANCH]);
    assert_eq!(files, "src/step1.txt\nsrc/step2.txt\nsrc/step3.txt\n");
    let issue_comments = job.w.fake.state().comments(OWNER, NAME, job.issue);
    assert!(
        issue_comments
            .iter()
            .any(|c| c.body.contains(&format!("Implemented in #{}", job.pr)))
    );
    assert!(
        job.w.fake.schema_violations().is_empty(),
        "{}",
        job.w.fake.request_summary()
    );
}

fn fail_at_step_two(job: &Job) -> Output {
    job.agent.script_for(1, session("src/step1.txt", "one\n"));
    job.agent.script_for(
        2,
        vec![
            init(),
            write("src/partial.txt", "half done\n"),
            result(
                "error_during_execution",
                true,
                "I could not finish: the API is down.",
            ),
        ],
    );
    job.fetch_plan();
    job.run_implement(&[])
}

#[test]
fn a_failure_at_step_two_keeps_step_one_and_says_how_to_resume() {
    let job = job();
    let out = fail_at_step_two(&job);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json = stdout_json(&out);
    assert_eq!(json["error_type"], "step_failed");
    assert!(
        json["message"]
            .as_str()
            .unwrap()
            .contains("step 2 (Print requests) failed"),
        "{json}"
    );

    assert_eq!(
        job.remote_subjects(),
        vec!["Add the oneshot task", "Step 1: Parse the flag"]
    );
    assert_eq!(
        job.step_states(),
        states(&[(1, "done"), (2, "failed"), (3, "not_started")])
    );
    let comments = job.comments_on_pr();
    assert_eq!(comments.len(), 1);
    let comment = &comments[0];
    for expected in [
        "Step 2: Print requests failed",
        "I could not finish: the API is down.",
        "src/partial.txt",
        "+half done",
        &format!("oneshot resume {} --from-step 2", job.pr),
        "actions/runs/9001",
    ] {
        assert!(
            comment.contains(expected),
            "missing {expected:?} in:\n{comment}"
        );
    }
    // The partial work is kept as a patch next to the transcripts, not pushed.
    let patch = std::fs::read_to_string(job.dir.join(".impl/runs/step-2-partial.patch")).unwrap();
    assert!(patch.contains("+half done"));

    // finalize after a failure reports, without hiding the failure.
    let finalized = succeeded(job.finalize("failure"));
    assert_eq!(finalized["failed_step"], 2);
    assert!(job.w.fake.state().pull(OWNER, NAME, job.pr).unwrap().draft);
}

#[test]
fn a_resume_from_step_two_completes() {
    let job = job();
    assert!(!fail_at_step_two(&job).status.success());
    // A new runner: a fresh clone of the branch.
    let dir = job.w.env.root.path().join("resume-job");
    job.w.env.git(
        job.w.env.root.path(),
        [
            "clone",
            "--quiet",
            "--branch",
            BRANCH,
            job.w.repo.origin.to_str().unwrap(),
            dir.to_str().unwrap(),
        ],
    );
    let job = Job { dir, ..job };
    job.agent.script_for(3, session("src/step2.txt", "two\n"));
    job.agent.script_for(4, session("src/step3.txt", "three\n"));
    job.fetch_plan();
    let out = succeeded(job.run_implement(&["--from-step", "2"]));
    assert_eq!(out["completed_steps"], 2);
    assert_eq!(
        job.remote_subjects(),
        vec![
            "Add the oneshot task",
            "Step 1: Parse the flag",
            "Step 2: Print requests",
            "Step 3: Document it"
        ]
    );
    assert_eq!(
        job.step_states(),
        states(&[(1, "done"), (2, "done"), (3, "done")])
    );
    succeeded(job.finalize("success"));
    assert!(!job.w.fake.state().pull(OWNER, NAME, job.pr).unwrap().draft);
    assert_eq!(
        job.comments_on_pr().len(),
        1,
        "still one failure comment, not a second"
    );
}

#[test]
fn a_human_edit_of_step_three_is_what_gets_implemented() {
    let job = job();
    job.w.fake.edit(|state| {
        let issue = state.repo_mut(OWNER, NAME).unwrap().issues.get_mut(&job.issue).unwrap();
        let body = issue.body.take().unwrap();
        issue.body = Some(body.replace(
            "### Step 3: Document it\nAdd the flag to README.md. Check: the README mentions --verbose.",
            "### Step 3: Document it in the changelog\nAdd an entry to CHANGELOG.md instead of the README.",
        ));
    });
    for n in 1..=3 {
        job.agent
            .script_for(n, session(&format!("src/step{n}.txt"), "x\n"));
    }
    job.fetch_plan();
    succeeded(job.run_implement(&[]));
    assert_eq!(
        job.remote_subjects().last().unwrap(),
        "Step 3: Document it in the changelog"
    );
    let third = &job.agent.invocations()[2];
    let prompt = format!("{}{}", third["stdin"].as_str().unwrap_or(""), third["argv"]);
    assert!(
        prompt.contains("Add an entry to CHANGELOG.md instead of the README."),
        "the edited step reached the agent"
    );
}

#[test]
fn a_verify_failure_is_fixed_on_retry() {
    let mut job = job();
    job.w.env.set(
        "ONESHOT_VERIFY_COMMAND",
        "test -f verified.txt || { echo 'verified.txt is missing'; exit 1; }",
    );
    job.agent.script_for(1, session("src/step1.txt", "one\n"));
    job.agent.script_for(2, session("verified.txt", "ok\n"));
    job.agent.script_for(3, session("src/step2.txt", "two\n"));
    job.agent.script_for(4, session("src/step3.txt", "three\n"));
    job.fetch_plan();
    succeeded(job.run_implement(&[]));
    let retry = &job.agent.invocations()[1];
    let prompt = format!("{}{}", retry["stdin"].as_str().unwrap_or(""), retry["argv"]);
    assert!(
        prompt.contains("verified.txt is missing"),
        "the retry session saw the check's output"
    );
    // The retry's fix is part of step 1's commit.
    let files = job.w.env.git(
        &job.w.repo.origin,
        ["show", "--name-only", "--format=", &format!("{BRANCH}~2")],
    );
    assert_eq!(files, "src/step1.txt\nverified.txt\n");
}

#[test]
fn a_change_to_a_protected_path_is_refused() {
    let job = job();
    job.agent
        .script_for(1, session(".github/workflows/evil.yml", "on: push\n"));
    job.fetch_plan();
    let out = job.run_implement(&[]);
    assert_eq!(out.status.code(), Some(1));
    let message = stdout_json(&out)["message"].as_str().unwrap().to_string();
    assert!(
        message.contains("protected paths") && message.contains(".github/workflows/evil.yml"),
        "{message}"
    );
    assert_eq!(
        job.remote_subjects(),
        vec!["Add the oneshot task"],
        "nothing was pushed"
    );
    assert_eq!(
        job.step_states(),
        states(&[(1, "failed"), (2, "not_started"), (3, "not_started")])
    );
}

#[test]
fn a_push_race_is_rebased_when_it_applies() {
    let job = job();
    let marker = job.w.env.root.path().join("step2-started");
    job.agent.script_for(1, session("src/step1.txt", "one\n"));
    job.agent.script_for(
        2,
        vec![
            init(),
            write(marker.to_str().unwrap(), "go"),
            json_sleep(1500),
            write("src/step2.txt", "two\n"),
            result("success", false, "Done."),
        ],
    );
    job.agent.script_for(3, session("src/step3.txt", "three\n"));
    job.fetch_plan();
    let child = job
        .w
        .env
        .oneshot(&job.dir)
        .args([
            "exec",
            "run-implement",
            "--issue",
            &job.issue.to_string(),
            "--pr",
            &job.pr.to_string(),
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();

    // While step 2 runs, someone else pushes to the branch.
    let started = Instant::now();
    while !marker.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "step 2 never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let other = job.w.env.root.path().join("colleague");
    job.w.env.git(
        job.w.env.root.path(),
        [
            "clone",
            "--quiet",
            "--branch",
            BRANCH,
            job.w.repo.origin.to_str().unwrap(),
            other.to_str().unwrap(),
        ],
    );
    std::fs::write(other.join("NOTES.md"), "a colleague's note\n").unwrap();
    job.w.env.git(&other, ["add", "NOTES.md"]);
    job.w
        .env
        .git(&other, ["commit", "--quiet", "-m", "A colleague's note"]);
    job.w.env.git(&other, ["push", "--quiet", "origin", BRANCH]);

    succeeded(child.wait_with_output().unwrap());
    assert_eq!(
        job.remote_subjects(),
        vec![
            "Add the oneshot task",
            "Step 1: Parse the flag",
            "A colleague's note",
            "Step 2: Print requests",
            "Step 3: Document it"
        ]
    );
}

#[test]
fn the_budget_stops_cleanly_before_the_next_step() {
    let mut job = job();
    // Each fake session reports $0.0421.
    job.w.env.set("ONESHOT_BUDGET_USD", "0.05");
    for n in 1..=3 {
        job.agent
            .script_for(n, session(&format!("src/step{n}.txt"), "x\n"));
    }
    job.fetch_plan();
    let out = job.run_implement(&[]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        job.step_states(),
        states(&[(1, "done"), (2, "done"), (3, "failed")])
    );
    assert!(job.comments_on_pr()[0].contains("the budget of $0.05 is spent"));
}

#[test]
fn fetch_plan_refuses_another_branch_s_issue() {
    let job = job();
    let out = job.exec(&[
        "fetch-plan",
        "--issue",
        &job.issue.to_string(),
        "--branch",
        "someone-else",
    ]);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stdout_json(&out)["message"]
            .as_str()
            .unwrap()
            .contains("belongs to the branch")
    );
}

fn json_sleep(ms: u64) -> Value {
    serde_json::json!({ "sleep_ms": ms })
}

/// A webhook receiver on 127.0.0.1 that keeps every JSON body it gets.
fn webhook() -> (String, std::sync::Arc<std::sync::Mutex<Vec<Value>>>) {
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let url = format!(
        "http://{}/hooks/T000/B000",
        server.server_addr().to_ip().unwrap()
    );
    let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = received.clone();
    std::thread::spawn(move || {
        for mut request in server.incoming_requests() {
            let mut body = String::new();
            let _ = request.as_reader().read_to_string(&mut body);
            let auth = request
                .headers()
                .iter()
                .any(|h| h.field.equiv("Authorization"));
            let mut value: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
            value["saw_authorization"] = Value::Bool(auth);
            sink.lock().unwrap().push(value);
            let _ = request.respond(tiny_http::Response::from_string("ok"));
        }
    });
    (url, received)
}

#[test]
fn the_webhook_hears_of_success_and_of_failure_without_the_token() {
    let (url, received) = webhook();

    let mut done = job();
    done.w.env.set("ONESHOT_WEBHOOK_URL", url.clone());
    for n in 1..=3 {
        done.agent
            .script_for(n, session(&format!("src/step{n}.txt"), "x\n"));
    }
    done.fetch_plan();
    succeeded(done.run_implement(&[]));
    succeeded(done.finalize("success"));

    let mut failed = job();
    failed.w.env.set("ONESHOT_WEBHOOK_URL", url);
    assert!(!fail_at_step_two(&failed).status.success());
    succeeded(failed.finalize("failure"));

    let bodies = received.lock().unwrap().clone();
    assert_eq!(bodies.len(), 2, "{bodies:?}");
    assert!(
        bodies[0]["text"]
            .as_str()
            .unwrap()
            .contains("is ready for review (3 steps)"),
        "{}",
        bodies[0]
    );
    assert!(
        bodies[1]["text"]
            .as_str()
            .unwrap()
            .contains("stopped at step 2"),
        "{}",
        bodies[1]
    );
    assert!(
        bodies.iter().all(|b| b["saw_authorization"] == false),
        "the GitHub token must never reach the webhook"
    );
}

#[test]
fn on_github_enterprise_server_the_pr_is_marked_ready_through_api_graphql() {
    let mut w = World::ghes();
    // Only the REST base is known: GraphQL's URL is derived from it.
    w.env.unset("GITHUB_GRAPHQL_URL");
    let job = job_in(w);
    for n in 1..=3 {
        job.agent
            .script_for(n, session(&format!("src/step{n}.txt"), "x\n"));
    }
    job.fetch_plan();
    succeeded(job.run_implement(&[]));
    succeeded(job.finalize("success"));
    assert!(!job.w.fake.state().pull(OWNER, NAME, job.pr).unwrap().draft);
    let graphql: Vec<String> = job
        .w
        .fake
        .requests()
        .into_iter()
        .filter(|r| r.route == "/graphql")
        .map(|r| r.path)
        .collect();
    assert_eq!(graphql, ["/api/graphql"]);
}

#[test]
fn without_branch_name_the_job_follows_the_plan_issue_and_never_commits_elsewhere() {
    let mut job = job();
    let main_before = job.w.env.git(&job.w.repo.origin, ["rev-parse", "main"]);
    // A checkout of the trunk, as actions/checkout makes it when branch_name is empty.
    let dir = job.w.env.root.path().join("trunk-job");
    job.w.env.git(
        job.w.env.root.path(),
        [
            "clone",
            "--quiet",
            "--branch",
            "main",
            job.w.repo.origin.to_str().unwrap(),
            dir.to_str().unwrap(),
        ],
    );

    // Outside Actions, run-implement on the trunk is refused: commits go to the PR's branch only.
    let refused = job
        .w
        .env
        .oneshot(&dir)
        .args(["exec", "run-implement", "--issue", &job.issue.to_string()])
        .output()
        .unwrap();
    assert_eq!(
        refused.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    assert!(
        stdout_json(&refused)["message"]
            .as_str()
            .unwrap()
            .contains("refusing to implement on `main`")
    );
    assert_eq!(
        job.w.env.git(&job.w.repo.origin, ["rev-parse", "main"]),
        main_before,
        "the trunk is untouched"
    );

    // In a workflow, fetch-plan checks out the branch the plan issue names.
    job.w.env.set("GITHUB_ACTIONS", "true");
    job.w.env.set(
        "GITHUB_OUTPUT",
        job.w
            .env
            .root
            .path()
            .join("github_output")
            .display()
            .to_string(),
    );
    let out = job
        .w
        .env
        .oneshot(&dir)
        .args(["exec", "fetch-plan", "--issue", &job.issue.to_string()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(
        job.w.env.git(&dir, ["branch", "--show-current"]).trim(),
        BRANCH
    );
}
