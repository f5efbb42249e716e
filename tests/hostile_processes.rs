//! Issue 12, finding 2: an agent that leaves processes behind — in a new session (`setsid`),
//! after a double fork, in a process group of its own, one that ignores SIGTERM — has none of
//! them alive once the step is over, whether the session ends by itself or oneshot is stopped
//! with SIGTERM in the middle of it; nor does what the check command (the agent's code) leaves.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::agent_fakes::{init, result, write};
use crate::hostile_git::ImplementJob;
use crate::support::succeeded;

/// Starts the escapees; each writes its pid to a file in `pids`.
fn escape_script(pids: &Path) -> String {
    let p = pids.display();
    format!(
        r#"setsid sleep 600 < /dev/null > /dev/null 2>&1 &
echo $! > "{p}/setsid.pid"
( sh -c 'sleep 600 & echo $! > "{p}/double-fork.pid"' & ) < /dev/null > /dev/null 2>&1
( setsid sh -c 'sleep 600 & echo $! > "{p}/double-fork-setsid.pid"' & ) < /dev/null > /dev/null 2>&1
sh -c 'set -m; sleep 600 & echo $! > "{p}/own-group.pid"' < /dev/null > /dev/null 2>&1
setsid sh -c 'trap "" TERM; echo $$ > "{p}/ignores-term.pid"; while :; do sleep 1; done' < /dev/null > /dev/null 2>&1 &
# Holds the agent's output open, as a daemon that forgot to close it would.
setsid sleep 600 &
echo $! > "{p}/holds-output.pid"
# The session ends only once every escapee runs (and has said so).
while [ "$(ls "{p}" | wc -l)" -lt 6 ]; do sleep 0.05; done
"#
    )
}

const ESCAPEES: [&str; 6] = [
    "setsid",
    "double-fork",
    "double-fork-setsid",
    "own-group",
    "ignores-term",
    "holds-output",
];

/// The escapees' pids, once every one has written its file.
fn wait_for_pids(pids: &Path) -> Vec<(String, i32)> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let found: Vec<(String, i32)> = ESCAPEES
            .iter()
            .filter_map(|name| {
                let text = std::fs::read_to_string(pids.join(format!("{name}.pid"))).ok()?;
                Some((name.to_string(), text.trim().parse().ok()?))
            })
            .collect();
        if found.len() == ESCAPEES.len() {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "the escapees did not all start: {found:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A process is alive while `/proc` shows it in any state but zombie.
fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        let state = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next());
        !matches!(state, Some("Z" | "X") | None)
    })
}

fn assert_none_alive(pids: &[(String, i32)]) {
    let left: Vec<&(String, i32)> = pids.iter().filter(|(_, pid)| alive(*pid)).collect();
    // Ends them whatever the outcome, so that a failure leaves nothing running.
    for (_, pid) in &left {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(*pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    assert!(left.is_empty(), "still alive after the step: {left:?}");
}

fn pid_dir(job: &ImplementJob) -> PathBuf {
    job.w.env.dir("pids")
}

fn escaping_session(pids: &Path, then: Vec<Value>) -> Vec<Value> {
    let mut steps = vec![init(), json!({"run": ["sh", "-c", escape_script(pids)]})];
    steps.extend(then);
    steps
}

/// The check command runs the agent's code after each session: what it leaves running.
fn escaping_check(job: &mut ImplementJob, pids: &Path) {
    job.w.env.set(
        "ONESHOT_VERIFY_COMMAND",
        format!(
            "setsid sh -c 'echo $$ > \"{}/check-$$.pid\"; exec sleep 600' < /dev/null > /dev/null 2>&1 & true",
            pids.display()
        ),
    );
}

/// The pids the check's escapees wrote.
fn check_pids(pids: &Path) -> Vec<(String, i32)> {
    std::fs::read_dir(pids)
        .unwrap()
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            let pid = name
                .strip_prefix("check-")?
                .strip_suffix(".pid")?
                .parse()
                .ok()?;
            Some((name, pid))
        })
        .collect()
}

#[test]
fn every_process_a_session_left_behind_is_ended_with_the_session() {
    let mut job = ImplementJob::new();
    let pids = pid_dir(&job);
    escaping_check(&mut job, &pids);
    job.agent.script_for(
        1,
        escaping_session(
            &pids,
            vec![
                write("src/step1.txt", "step 1\n"),
                result("success", false, "Done."),
            ],
        ),
    );
    for n in 2..=3 {
        job.agent.script_for(
            n,
            vec![
                init(),
                write(&format!("src/step{n}.txt"), "step\n"),
                result("success", false, "Done."),
            ],
        );
    }
    job.give_to_job_user();
    let out = succeeded(job.run_implement().output().unwrap());
    assert_eq!(out["completed_steps"], 3);
    let started = wait_for_pids(&pids);
    assert_none_alive(&started);
    let from_checks = check_pids(&pids);
    assert_eq!(from_checks.len(), 3, "one per step: {from_checks:?}");
    assert_none_alive(&from_checks);
}

#[test]
fn sigterm_to_oneshot_mid_session_ends_every_process_the_session_started() {
    let job = ImplementJob::new();
    let pids = pid_dir(&job);
    job.agent.script_for(
        1,
        escaping_session(&pids, vec![json!({"run": ["sleep", "600"]})]),
    );
    job.give_to_job_user();
    let mut oneshot = job
        .run_implement()
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = wait_for_pids(&pids);
    // Every escapee runs while the session does.
    for (name, pid) in &started {
        assert!(alive(*pid), "{name} ({pid}) is not running");
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(oneshot.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = oneshot.wait().unwrap();
    assert!(!status.success(), "{status}");
    assert_none_alive(&started);
}
