//! The exit codes of README.md's table where they are easy to get wrong: a signal during an agent
//! session is 130 (`interrupted`) in every command that runs one; a file the user named that is
//! missing or unreadable is 3 (`invalid_input`); every configuration error is 4 and names the
//! file and line.

use std::path::PathBuf;
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::{Value, json};

use crate::agent_fakes::{FakeAgent, init, result, write};
use crate::support::github::{NAME, OWNER, PLAN, World};
use crate::support::{TestEnv, TestRepo, stdout_json};

const TASK: &str = "Add a --verbose flag to the submit command";
const BRANCH: &str = "oneshot-add-a-verbose-flag-01-15-1430";

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn ok(out: &Output) -> Value {
    assert!(out.status.success(), "{}", text(out));
    stdout_json(out)
}

fn step(path: &str, content: &str) -> Vec<Value> {
    vec![
        init(),
        write(path, content),
        result("success", false, "Done."),
    ]
}

/// A step session that has written part of its work and then sleeps until it is ended.
fn sleeping_step() -> Vec<Value> {
    vec![
        init(),
        write("src/partial.txt", "half done\n"),
        json!({"sleep_ms": 60_000}),
    ]
}

/// Waits until the fake agent was started `n` times and has had a moment to reach its sleep.
fn wait_for_invocation(agent: &FakeAgent, n: usize, child: &mut Child) {
    let started = Instant::now();
    while agent.invocations().len() < n {
        if let Some(status) = child.try_wait().unwrap() {
            let mut stderr = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut e, &mut stderr);
            }
            panic!("oneshot ended ({status}) before the agent's invocation {n}:\n{stderr}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the agent was started {} times, not {n}",
            agent.invocations().len()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
}

fn signal(child: &Child, signal: Signal) {
    kill(Pid::from_raw(child.id() as i32), signal).unwrap();
}

fn spawn(cmd: &mut std::process::Command) -> Child {
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn assert_interrupted(out: &Output) -> Value {
    assert_eq!(out.status.code(), Some(130), "{}", text(out));
    let json = stdout_json(out);
    assert_eq!(json["error_type"], "interrupted", "{json}");
    json
}

// ---- signals during a session: `oneshot run` ----

struct Local {
    env: TestEnv,
    agent: FakeAgent,
    repo: TestRepo,
}

fn local() -> Local {
    let mut env = TestEnv::new();
    let agent = FakeAgent::install(&mut env, "claude");
    let repo = env.repo_with_origin();
    Local { env, agent, repo }
}

fn planning() -> Vec<Value> {
    let result_file = json!({"title": "Add a --verbose flag to submit", "summary": "x"});
    vec![
        init(),
        write(".impl/plan.md", PLAN),
        write(".impl/plan-result.json", &result_file.to_string()),
        result("success", false, "Wrote the plan."),
    ]
}

fn local_run_interrupted_at_step_two(sig: Signal) {
    let l = local();
    l.agent.script_for(1, planning());
    l.agent.script_for(2, step("src/step1.txt", "one\n"));
    l.agent.script_for(3, sleeping_step());
    let mut child = spawn(l.env.oneshot(&l.repo.work).args(["run", TASK, "--json"]));
    wait_for_invocation(&l.agent, 3, &mut child);
    signal(&child, sig);
    let out = child.wait_with_output().unwrap();
    let json = assert_interrupted(&out);
    let branch = json["branch"]
        .as_str()
        .expect("the branch is named")
        .to_string();
    assert_eq!(json["completed_steps"], 1, "{json}");

    // The finished step is kept; the interrupted one is not committed.
    let subjects = l.env.git(
        &l.repo.work,
        [
            "log",
            "--reverse",
            "--format=%s",
            &format!("main..{branch}"),
        ],
    );
    assert_eq!(subjects, "Step 1: Parse the flag\n");
    let state_file = l
        .repo
        .work
        .join(".git/oneshot/plans")
        .join(&branch)
        .join("state.json");
    let state: Value = serde_json::from_str(&std::fs::read_to_string(state_file).unwrap()).unwrap();
    assert_eq!(state["steps"][0]["state"], "done", "{state}");
    assert_eq!(state["steps"][1]["state"], "failed", "{state}");
    let note = state["steps"][1]["note"].as_str().unwrap_or_default();
    assert!(note.contains("interrupted"), "{state}");
}

#[test]
fn sigterm_during_a_step_of_a_local_run_exits_130_and_keeps_the_finished_steps() {
    local_run_interrupted_at_step_two(Signal::SIGTERM);
}

#[test]
fn ctrl_c_during_a_step_of_a_local_run_exits_130() {
    local_run_interrupted_at_step_two(Signal::SIGINT);
}

#[test]
fn sighup_during_a_step_of_a_local_run_exits_130() {
    local_run_interrupted_at_step_two(Signal::SIGHUP);
}

#[test]
fn sigterm_during_the_planning_session_of_a_local_run_exits_130() {
    let l = local();
    l.agent
        .script_for(1, vec![init(), json!({"sleep_ms": 60_000})]);
    let mut child = spawn(l.env.oneshot(&l.repo.work).args(["run", TASK, "--json"]));
    wait_for_invocation(&l.agent, 1, &mut child);
    signal(&child, Signal::SIGTERM);
    let out = child.wait_with_output().unwrap();
    assert_interrupted(&out);
}

// ---- signals during a session: `exec run-plan` ----

#[test]
fn sighup_during_the_planning_step_exits_130() {
    let mut env = TestEnv::new();
    let agent = FakeAgent::install(&mut env, "claude");
    let repo = crate::agent_fakes::repo_with_task(&env, TASK);
    agent.script(vec![init(), json!({"sleep_ms": 60_000})]);
    let mut child =
        spawn(
            env.oneshot(&repo.work)
                .args(["exec", "run-plan", "--kill-grace-seconds", "1"]),
        );
    wait_for_invocation(&agent, 1, &mut child);
    signal(&child, Signal::SIGHUP);
    let out = child.wait_with_output().unwrap();
    assert_interrupted(&out);
    let report = crate::agent_fakes::plan_report(&repo.work);
    assert_eq!(report["outcome"], "interrupted", "{report}");
}

// ---- signals during a session: `exec run-implement` ----

/// The plan job has run: branch, draft PR, saved and registered plan issue, and the implement
/// job's own clone of the branch with the plan fetched.
struct Job {
    w: World,
    agent: FakeAgent,
    pr: u64,
    issue: u64,
    dir: PathBuf,
}

fn implement_job() -> Job {
    let mut w = World::new();
    let agent = FakeAgent::install(&mut w.env, "claude");
    let pr = w.draft_pr(BRANCH);
    w.write_plan(PLAN);
    let exec = |dir: &std::path::Path, args: &[&str]| {
        w.env.oneshot(dir).arg("exec").args(args).output().unwrap()
    };
    let saved = ok(&exec(
        &w.repo.work,
        &["plan-save-to-issue", "--pr", &pr.to_string()],
    ));
    let issue = saved["issue_number"].as_u64().unwrap();
    ok(&exec(
        &w.repo.work,
        &[
            "register-one-shot-plan",
            "--issue",
            &issue.to_string(),
            "--pr",
            &pr.to_string(),
        ],
    ));
    let dir = w.env.root.path().join("implement-job");
    w.env.git(
        w.env.root.path(),
        [
            "clone",
            "--quiet",
            "--branch",
            BRANCH,
            w.repo.origin.to_str().unwrap(),
            dir.to_str().unwrap(),
        ],
    );
    ok(&exec(
        &dir,
        &[
            "fetch-plan",
            "--issue",
            &issue.to_string(),
            "--pr",
            &pr.to_string(),
        ],
    ));
    Job {
        w,
        agent,
        pr,
        issue,
        dir,
    }
}

fn step_states(job: &Job) -> Vec<(u64, String, String)> {
    let body = job
        .w
        .fake
        .state()
        .pull(OWNER, NAME, job.pr)
        .unwrap()
        .body
        .unwrap();
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
                s["note"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn run_implement_interrupted_at_step_two(sig: Signal) {
    let job = implement_job();
    job.agent.script_for(1, step("src/step1.txt", "one\n"));
    job.agent.script_for(2, sleeping_step());
    let mut child = spawn(job.w.env.oneshot(&job.dir).args([
        "exec",
        "run-implement",
        "--issue",
        &job.issue.to_string(),
        "--pr",
        &job.pr.to_string(),
    ]));
    wait_for_invocation(&job.agent, 2, &mut child);
    signal(&child, sig);
    let out = child.wait_with_output().unwrap();
    assert_interrupted(&out);

    let subjects = job.w.env.git(
        &job.w.repo.origin,
        [
            "log",
            "--reverse",
            "--format=%s",
            &format!("main..{BRANCH}"),
        ],
    );
    assert_eq!(
        subjects, "Add the oneshot task\nStep 1: Parse the flag\n",
        "the finished step is pushed, the interrupted one is not"
    );
    let states = step_states(&job);
    assert_eq!(states[0].1, "done", "{states:?}");
    assert_eq!(states[1].1, "failed", "{states:?}");
    assert!(states[1].2.contains("interrupted"), "{states:?}");
}

#[test]
fn sigterm_during_a_step_of_run_implement_exits_130_and_keeps_the_finished_steps() {
    run_implement_interrupted_at_step_two(Signal::SIGTERM);
}

#[test]
fn sighup_during_a_step_of_run_implement_exits_130() {
    run_implement_interrupted_at_step_two(Signal::SIGHUP);
}

// ---- signals: `oneshot dispatch` ----

fn dispatch_interrupted_by(sig: Signal) {
    let w = World::new();
    w.init_on_main();
    // The PR request is slow (within the client's timeout), so the signal lands while
    // dispatch waits for it.
    w.fake.inject(
        crate::support::fake_github::Fault::on("POST", "/repos/acme/app/pulls")
            .delay(Duration::from_millis(1000)),
    );
    let mut child = spawn(
        w.env
            .oneshot(&w.repo.work)
            .args(["dispatch", "--json", TASK]),
    );
    let started = Instant::now();
    while w.fake.count("POST", "/repos/acme/app/pulls") == 0 {
        assert!(started.elapsed() < Duration::from_secs(30), "no PR request");
        std::thread::sleep(Duration::from_millis(20));
    }
    signal(&child, sig);
    let out = child.wait_with_output().unwrap();
    assert_interrupted(&out);
    let branches = w.env.git(
        &w.repo.origin,
        ["for-each-ref", "--format=%(refname:short)", "refs/heads/"],
    );
    assert_eq!(branches, "main\n", "the branch was left behind");
    for pull in w.fake.state().pulls(OWNER, NAME) {
        assert_eq!(pull.state, "closed", "the PR was left open");
    }
}

#[test]
fn sigterm_during_dispatch_exits_130_and_undoes_what_was_created() {
    dispatch_interrupted_by(Signal::SIGTERM);
}

#[test]
fn sighup_during_dispatch_exits_130_and_undoes_what_was_created() {
    dispatch_interrupted_by(Signal::SIGHUP);
}
