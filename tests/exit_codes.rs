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

// ---- signals outside a session: the verify command, a push ----

/// A verify command that passes at once, except once the step that writes `src/slow` is in the
/// work tree: then it starts a child (whose pid it writes to `pid_file`) and waits for it.
/// `hostile` makes both ignore SIGTERM, so that only SIGKILL ends them.
fn slow_verify(pid_file: &std::path::Path, hostile: bool) -> String {
    let pid = pid_file.display();
    if hostile {
        format!(
            "[ -e src/slow ] || exit 0; trap 'echo term >> {pid}.term' TERM; \
             (trap '' TERM; exec sleep 600) & echo $! > {pid}.tmp && mv {pid}.tmp {pid}; \
             while :; do sleep 0.1; done"
        )
    } else {
        format!(
            "[ -e src/slow ] || exit 0; sleep 600 & echo $! > {pid}.tmp && mv {pid}.tmp {pid}; wait"
        )
    }
}

/// Waits for the file the verify command writes, and returns the pid in it.
fn wait_for_pid(pid_file: &std::path::Path, child: &mut Child) -> Pid {
    let started = Instant::now();
    loop {
        if let Ok(text) = std::fs::read_to_string(pid_file)
            && let Ok(pid) = text.trim().parse::<i32>()
        {
            return Pid::from_raw(pid);
        }
        if let Some(status) = child.try_wait().unwrap() {
            let mut stderr = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut e, &mut stderr);
            }
            panic!("oneshot ended ({status}) before the verify command started:\n{stderr}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the verify command never started its child"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn assert_gone(pid: Pid) {
    assert_eq!(
        kill(pid, None),
        Err(nix::errno::Errno::ESRCH),
        "the verify command's child {pid} is still there: {:?}",
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
    );
}

fn local_run_interrupted_in_verify(sig: Signal) {
    let mut l = local();
    let pid_file = l.env.root.path().join("verify.pid");
    l.env
        .set("ONESHOT_VERIFY_COMMAND", slow_verify(&pid_file, false));
    l.agent.script_for(1, planning());
    l.agent.script_for(2, step("src/step1.txt", "one\n"));
    l.agent.script_for(3, step("src/slow", "slow\n"));
    let mut child = spawn(l.env.oneshot(&l.repo.work).args(["run", TASK, "--json"]));
    let verify_child = wait_for_pid(&pid_file, &mut child);
    signal(&child, sig);
    let out = child.wait_with_output().unwrap();
    let json = assert_interrupted(&out);
    assert_gone(verify_child);
    assert_eq!(json["completed_steps"], 1, "{json}");
    let branch = json["branch"].as_str().expect("the branch is named");
    let subjects = l.env.git(
        &l.repo.work,
        [
            "log",
            "--reverse",
            "--format=%s",
            &format!("main..{branch}"),
        ],
    );
    assert_eq!(
        subjects, "Step 1: Parse the flag\n",
        "only the finished step is committed"
    );
    let state_file = l
        .repo
        .work
        .join(".git/oneshot/plans")
        .join(branch)
        .join("state.json");
    let state: Value = serde_json::from_str(&std::fs::read_to_string(state_file).unwrap()).unwrap();
    assert_eq!(state["steps"][0]["state"], "done", "{state}");
    assert_eq!(state["steps"][1]["state"], "failed", "{state}");
    let note = state["steps"][1]["note"].as_str().unwrap_or_default();
    assert!(note.contains("interrupted"), "{state}");
}

#[test]
fn sigterm_during_the_verify_command_of_a_local_run_exits_130_and_ends_its_processes() {
    local_run_interrupted_in_verify(Signal::SIGTERM);
}

#[test]
fn ctrl_c_during_the_verify_command_of_a_local_run_exits_130_and_ends_its_processes() {
    local_run_interrupted_in_verify(Signal::SIGINT);
}

/// `exec run-implement` with a verify command that is slow at step 2; returns the job, the
/// running command and the pid of the verify command's child.
fn run_implement_in_slow_verify(hostile: bool) -> (Job, Child, Pid, PathBuf) {
    let mut job = implement_job();
    let pid_file = job.w.env.root.path().join("verify.pid");
    job.w
        .env
        .set("ONESHOT_VERIFY_COMMAND", slow_verify(&pid_file, hostile));
    job.agent.script_for(1, step("src/step1.txt", "one\n"));
    job.agent.script_for(2, step("src/slow", "slow\n"));
    let mut child = spawn(job.w.env.oneshot(&job.dir).args([
        "exec",
        "run-implement",
        "--issue",
        &job.issue.to_string(),
        "--pr",
        &job.pr.to_string(),
    ]));
    let verify_child = wait_for_pid(&pid_file, &mut child);
    (job, child, verify_child, pid_file)
}

/// Only step 1 reached the remote; step 2 is recorded as interrupted with its work kept.
fn assert_step_two_interrupted(job: &Job) {
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
    let states = step_states(job);
    assert_eq!(states[0].1, "done", "{states:?}");
    assert_eq!(states[1].1, "failed", "{states:?}");
    assert!(states[1].2.contains("interrupted"), "{states:?}");
    let patch = std::fs::read_to_string(job.dir.join(".impl/runs/step-2-partial.patch"))
        .expect("the interrupted step's work is kept as a patch");
    assert!(patch.contains("src/slow"), "{patch}");
}

fn run_implement_interrupted_in_verify(sig: Signal) {
    let (job, child, verify_child, _) = run_implement_in_slow_verify(false);
    signal(&child, sig);
    let out = child.wait_with_output().unwrap();
    assert_interrupted(&out);
    assert_gone(verify_child);
    assert_step_two_interrupted(&job);
}

#[test]
fn sigterm_during_the_verify_command_of_run_implement_exits_130_and_pushes_nothing_more() {
    run_implement_interrupted_in_verify(Signal::SIGTERM);
}

#[test]
fn ctrl_c_during_the_verify_command_of_run_implement_exits_130_and_pushes_nothing_more() {
    run_implement_interrupted_in_verify(Signal::SIGINT);
}

#[test]
fn a_second_signal_kills_a_verify_command_that_ignores_sigterm_without_the_grace_period() {
    let (job, child, verify_child, pid_file) = run_implement_in_slow_verify(true);
    signal(&child, Signal::SIGTERM);
    // The command got SIGTERM (and ignores it); the grace period (10 s) has begun.
    let term_seen = pid_file.with_extension("pid.term");
    let started = Instant::now();
    while !term_seen.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no SIGTERM reached the check"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        kill(verify_child, None),
        Ok(()),
        "SIGTERM alone ended the child"
    );
    let second = Instant::now();
    signal(&child, Signal::SIGTERM);
    let out = child.wait_with_output().unwrap();
    assert!(
        second.elapsed() < Duration::from_secs(8),
        "oneshot waited for the grace period after the second signal: {:?}",
        second.elapsed()
    );
    assert_interrupted(&out);
    assert_gone(verify_child);
    assert_step_two_interrupted(&job);
}

#[test]
fn a_signal_during_a_push_lets_the_push_finish_and_keeps_the_step() {
    let job = implement_job();
    // The remote holds the push of step 1 until the test lets it go, so the signal lands
    // while git is pushing.
    let held = job.w.env.root.path().join("push-held");
    let release = job.w.env.root.path().join("push-release");
    std::fs::create_dir_all(job.w.repo.origin.join("hooks")).unwrap();
    let hook = job.w.repo.origin.join("hooks/pre-receive");
    std::fs::write(
        &hook,
        format!(
            "#!/bin/sh\ncat > /dev/null\ntouch {}\nwhile [ ! -e {} ]; do sleep 0.05; done\n",
            held.display(),
            release.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&hook, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    job.agent.script_for(1, step("src/step1.txt", "one\n"));
    job.agent.script_for(2, step("src/step2.txt", "two\n"));
    let mut child = spawn(job.w.env.oneshot(&job.dir).args([
        "exec",
        "run-implement",
        "--issue",
        &job.issue.to_string(),
        "--pr",
        &job.pr.to_string(),
    ]));
    let started = Instant::now();
    while !held.exists() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("oneshot ended ({status}) before pushing");
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no push arrived"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    signal(&child, Signal::SIGTERM);
    std::fs::write(&release, "").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_interrupted(&out);
    assert_eq!(
        job.agent.invocations().len(),
        1,
        "step 2 was started after the signal"
    );
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
        "the step being pushed when the signal came is on the remote"
    );
    let states = step_states(&job);
    assert_eq!(states[0].1, "done", "{states:?}");
    assert_ne!(states[1].1, "done", "{states:?}");
}

/// Whether SIGHUP, SIGINT or SIGTERM is in a `/proc/PID/status` signal set (`SigBlk:\t…`).
fn has_stop_signals(line: &str) -> bool {
    let hex = line.split_whitespace().nth(1).unwrap_or_default();
    let set = u64::from_str_radix(hex, 16).unwrap();
    set & ((1 << 0) | (1 << 1) | (1 << 14)) != 0
}

#[test]
fn the_programs_oneshot_starts_can_be_stopped_by_the_signals_it_catches() {
    // oneshot catches SIGINT/SIGTERM/SIGHUP; an agent or a verify command that inherited them
    // blocked or ignored could not be stopped by them.
    let mut job = implement_job();
    let agent_status = job.w.env.root.path().join("agent-status");
    let verify_status = job.w.env.root.path().join("verify-status");
    // The verify command is `sh -c`, which clears its mask itself: its own child shows what
    // oneshot passed on, so the check looks at the agent (oneshot's direct child) too.
    job.w.env.set(
        "ONESHOT_VERIFY_COMMAND",
        format!(
            "grep -E '^Sig(Blk|Ign)' /proc/$$/status > {}",
            verify_status.display()
        ),
    );
    job.agent.script_for(
        1,
        vec![
            init(),
            json!({"run": ["sh", "-c", format!(
                "grep -E '^Sig(Blk|Ign)' /proc/$PPID/status > {}",
                agent_status.display()
            )]}),
            write("src/step1.txt", "one\n"),
            result("success", false, "Done."),
        ],
    );
    job.agent.script_for(2, step("src/step2.txt", "two\n"));
    job.agent.script_for(3, step("src/step3.txt", "three\n"));
    let out = job
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
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    for file in [&agent_status, &verify_status] {
        let status = std::fs::read_to_string(file).unwrap();
        assert_eq!(status.lines().count(), 2, "{status}");
        for line in status.lines() {
            assert!(!has_stop_signals(line), "{}: {status}", file.display());
        }
    }
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
    let child = spawn(
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

// ---- a file the user named: missing, a directory, unreadable → 3 ----

fn run_json(env: &TestEnv, dir: &std::path::Path, args: &[&str]) -> Output {
    env.oneshot(dir).args(args).output().unwrap()
}

fn assert_exit(out: &Output, code: i32, error_type: &str, says: &[&str]) {
    assert_eq!(out.status.code(), Some(code), "{}", text(out));
    let json = stdout_json(out);
    assert_eq!(json["error_type"], error_type, "{json}");
    let message = json["message"].as_str().unwrap();
    for expected in says {
        assert!(message.contains(expected), "missing {expected:?}: {json}");
    }
    assert!(
        !json["hints"].as_array().unwrap().is_empty(),
        "no hint says what to do: {json}"
    );
}

#[test]
fn a_missing_or_directory_prompt_file_is_invalid_input() {
    let mut env = TestEnv::new();
    let _agent = FakeAgent::install(&mut env, "claude");
    let repo = env.repo_with_origin();
    let missing = env.root.path().join("no-such-task.md");
    let missing = missing.to_str().unwrap();
    let dir = env.dir("a-directory");
    let dir = dir.to_str().unwrap();
    for (args, says) in [
        (
            vec!["run", "-f", missing, "--json"],
            vec![missing, "No such file"],
        ),
        (
            vec!["run", "-f", dir, "--json"],
            vec![dir, "Is a directory"],
        ),
        (vec!["dispatch", "-f", missing, "--json"], vec![missing]),
        (
            vec!["exec", "write-prompt", "--prompt-file", missing],
            vec![missing],
        ),
        (vec!["exec", "prepare", "--prompt-file", dir], vec![dir]),
    ] {
        let out = run_json(&env, &repo.work, &args);
        assert_exit(&out, 3, "invalid_input", &says);
    }
    // Nothing was created by any of them.
    let branches = env.git(&repo.origin, ["for-each-ref", "--format=%(refname:short)"]);
    assert_eq!(branches, "main\n");
}

#[test]
fn a_missing_directory_given_with_c_is_invalid_input() {
    let env = TestEnv::new();
    let missing = env.root.path().join("nowhere");
    let out = run_json(
        &env,
        env.root.path(),
        &["-C", missing.to_str().unwrap(), "run", TASK, "--json"],
    );
    assert_exit(&out, 3, "invalid_input", &["nowhere", "does not exist"]);
}

#[test]
fn an_unreadable_prompt_file_is_invalid_input_for_an_unprivileged_user() {
    // root reads any file, so the file is made unreadable for an unprivileged user, who runs
    // oneshot (as CI does, which runs as root).
    let env = TestEnv::new();
    let file = env.root.path().join("secret-task.md");
    std::fs::write(&file, TASK).unwrap();
    std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o000)).unwrap();
    // Whoever can still read it (root) runs oneshot as `nobody`.
    let privileged = std::fs::read(&file).is_ok();
    let mut cmd = if privileged {
        let mut cmd = std::process::Command::new(which_setpriv());
        cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(env!("CARGO_BIN_EXE_oneshot"));
        cmd
    } else {
        std::process::Command::new(env!("CARGO_BIN_EXE_oneshot"))
    };
    // A directory every user may enter: the prompt is read before anything else.
    let out = cmd
        .current_dir("/")
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .args(["dispatch", "-f", file.to_str().unwrap(), "--json"])
        .output()
        .unwrap();
    assert_exit(&out, 3, "invalid_input", &["Permission denied"]);
}

/// `setpriv` (util-linux), to drop root's privileges; CI must have it.
fn which_setpriv() -> PathBuf {
    for dir in ["/usr/bin", "/bin", "/usr/sbin", "/sbin"] {
        let path = PathBuf::from(dir).join("setpriv");
        if path.is_file() {
            return path;
        }
    }
    panic!("setpriv (util-linux) is needed to run this test as an unprivileged user");
}

// ---- configuration errors → 4, with the file and line ----

fn config_world(toml: &str) -> (TestEnv, TestRepo) {
    let mut env = TestEnv::new();
    let _agent = FakeAgent::install(&mut env, "claude");
    let repo = crate::agent_fakes::repo_with_task(&env, TASK);
    repo.write(".github/oneshot.toml", toml);
    (env, repo)
}

#[test]
fn an_invalid_agent_in_the_file_exits_4_and_names_the_file_and_line() {
    for (toml, says) in [
        (
            "# the agent\nagent = \"command:\"\n",
            ".github/oneshot.toml, line 2: invalid value for `agent`: the agent `command:` names no program",
        ),
        (
            "[plan]\nagent = 'command:my-agent \"two words'\n",
            ".github/oneshot.toml, line 2: invalid value for `plan.agent`: invalid agent command",
        ),
        (
            "model = \"gpt-5\"\n",
            ".github/oneshot.toml, line 1: invalid value for `model`: unknown model",
        ),
        (
            "budget_usd = -1\n",
            ".github/oneshot.toml, line 1: invalid value for `budget_usd`: must be a positive number",
        ),
    ] {
        let (env, repo) = config_world(toml);
        for args in [vec!["run", TASK, "--json"], vec!["exec", "run-plan"]] {
            let out = run_json(&env, &repo.work, &args);
            assert_eq!(
                out.status.code(),
                Some(4),
                "{toml} {args:?}: {}",
                text(&out)
            );
            let json = stdout_json(&out);
            assert_eq!(json["error_type"], "config");
            assert!(
                json["message"].as_str().unwrap().starts_with(says),
                "{toml} {args:?}: {json}"
            );
        }
    }
}

#[test]
fn the_same_bad_value_is_input_from_a_flag_and_config_from_the_file() {
    let (env, repo) = config_world("");
    let out = run_json(&env, &repo.work, &["exec", "run-plan", "--budget-usd=-1"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert_eq!(stdout_json(&out)["error_type"], "invalid_input");
    let out = run_json(
        &env,
        &repo.work,
        &["run", TASK, "--agent", "command:", "--json"],
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));

    let (env, repo) = config_world("budget_usd = -1\n");
    let out = run_json(&env, &repo.work, &["exec", "run-plan"]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));

    // The environment is configuration too, named by its variable.
    let (mut env, repo) = config_world("");
    env.set("ONESHOT_AGENT", "command:");
    let out = run_json(&env, &repo.work, &["run", TASK, "--json"]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert!(
        stdout_json(&out)["message"]
            .as_str()
            .unwrap()
            .starts_with("ONESHOT_AGENT is invalid"),
        "{}",
        text(&out)
    );
}

#[test]
fn a_directory_where_the_config_file_belongs_exits_4_and_names_it() {
    let mut env = TestEnv::new();
    let _agent = FakeAgent::install(&mut env, "claude");
    let repo = crate::agent_fakes::repo_with_task(&env, TASK);
    std::fs::create_dir_all(repo.work.join(".github/oneshot.toml")).unwrap();
    let out = run_json(&env, &repo.work, &["exec", "run-plan"]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    let message = stdout_json(&out)["message"].as_str().unwrap().to_string();
    assert!(message.contains("oneshot.toml"), "{message}");
}
