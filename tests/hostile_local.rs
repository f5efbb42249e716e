//! Issue 12, findings 3 and 4 for `oneshot run`: the run's work tree is a linked work tree of
//! the user's clone, so a hostile agent can rewrite the run's branch, move or make the user's
//! refs, and edit the user's checkout by absolute path. Afterwards the branch holds exactly the
//! step commits, the user's refs are as they were, and a changed checkout is reported loudly.

use serde_json::Value;

use crate::hostile_history::{AGENT_COMMIT, hostile};
use crate::local_run::{Local, TASK, expect, planning, setup, states, step, text};
use crate::support::github::PLAN;
use crate::support::stdout_json;

const STEPS: [&str; 3] = [
    "Step 1: Parse the flag",
    "Step 2: Print requests",
    "Step 3: Document it",
];

/// A local run whose step 2 runs `shell` first; returns the `--json` output.
fn run_with_hostile_step_two(l: &Local, shell: &str) -> std::process::Output {
    l.agent.script_for(1, planning(PLAN));
    l.agent.script_for(2, step("src/step1.txt", "one\n"));
    l.agent.script_for(3, hostile(shell));
    l.agent.script_for(4, step("src/step3.txt", "three\n"));
    l.run(&[TASK, "--json"])
}

fn refs(l: &Local) -> String {
    l.git(&["for-each-ref", "--format=%(refname) %(objectname)"])
}

/// The user's refs other than the run's branch.
fn user_refs(l: &Local, branch: &str) -> String {
    refs(l)
        .lines()
        .filter(|r| !r.starts_with(&format!("refs/heads/{branch} ")))
        .map(|r| format!("{r}\n"))
        .collect()
}

fn branch_of(json: &Value) -> String {
    json["branch"].as_str().unwrap().to_string()
}

/// The run finished with three step commits by oneshot, step 2 holding the session's file.
fn assert_three_steps(l: &Local, out: &std::process::Output) -> Value {
    assert!(out.status.success(), "{}", text(out));
    let json = stdout_json(out);
    let branch = branch_of(&json);
    assert_eq!(l.subjects(&branch), STEPS);
    assert_eq!(
        l.git(&["show", &format!("{branch}~1:src/step2.txt")]),
        "two\n"
    );
    assert_eq!(
        l.git(&["log", "--format=%an", &format!("main..{branch}")]),
        "oneshot\noneshot\noneshot\n",
        "no commit of the agent's own is on the branch"
    );
    json
}

fn warnings(json: &Value) -> String {
    json["warnings"]
        .as_array()
        .map(|w| {
            w.iter()
                .map(|x| x.as_str().unwrap().to_string())
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

#[test]
fn a_reset_hard_in_a_local_run_fails_the_step_keeps_step_one_and_resume_finishes() {
    let l = setup();
    let out = run_with_hostile_step_two(&l, "git reset --quiet --hard HEAD~1");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let json = stdout_json(&out);
    let message = json["message"].as_str().unwrap();
    assert!(
        message.contains("the agent reset the branch")
            && message.contains("Step 1's commit")
            && message.contains("no longer in its history"),
        "{message}"
    );
    let branch = branch_of(&json);
    assert_eq!(
        l.subjects(&branch),
        &STEPS[..1],
        "step 1 is still on the branch"
    );
    assert_eq!(
        states(&l.state(&branch)),
        expect(&[(1, "done"), (2, "failed"), (3, "not_started")])
    );

    // Resume: the leftovers are set aside, step 2 is done again on top of step 1.
    l.agent.script_for(4, step("src/step2.txt", "two\n"));
    l.agent.script_for(5, step("src/step3.txt", "three\n"));
    let out = l.run(&["--resume", &branch, "--json"]);
    assert_three_steps(&l, &out);
    assert_eq!(
        l.git(&["show", &format!("{branch}:src/step1.txt")]),
        "one\n"
    );
}

#[test]
fn an_amend_in_a_local_run_fails_the_step_and_leaves_step_one_as_it_was() {
    let l = setup();
    let out = run_with_hostile_step_two(
        &l,
        &format!("echo x > src/x.txt && git add -A && {AGENT_COMMIT} --amend -m 'agent amended'"),
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let json = stdout_json(&out);
    let message = json["message"].as_str().unwrap();
    assert!(
        message.contains("rewrote the branch") && message.contains("Step 1's commit"),
        "{message}"
    );
    let branch = branch_of(&json);
    assert_eq!(l.subjects(&branch), &STEPS[..1]);
    assert_eq!(
        l.git(&["log", "-1", "--format=%an %s", &branch]),
        "oneshot Step 1: Parse the flag\n"
    );
}

#[test]
fn own_commits_a_new_branch_a_detached_head_and_a_tag_end_as_three_step_commits() {
    for shell in [
        format!("echo a > src/a.txt && git add -A && {AGENT_COMMIT} -m 'agent commit'"),
        format!(
            "git checkout --quiet -b other && echo o > src/o.txt && git add -A && {AGENT_COMMIT} -m 'on other'"
        ),
        "git checkout --quiet --detach".to_string(),
        "git tag agent-tag && git branch agent-branch".to_string(),
    ] {
        let l = setup();
        let before = refs(&l);
        let out = run_with_hostile_step_two(&l, &shell);
        let json = assert_three_steps(&l, &out);
        let branch = branch_of(&json);
        assert_eq!(
            user_refs(&l, &branch),
            before,
            "{shell}: the agent's branches and tags are gone, the user's refs are as they were"
        );
        let warned = warnings(&json);
        if shell.contains("-b other") || shell.contains("tag") {
            assert!(warned.contains("created refs/"), "{shell}: {warned}");
        }
    }
}

#[test]
fn a_moved_deleted_or_created_user_ref_is_put_back_and_reported() {
    let l = setup();
    l.git(&["branch", "feature"]);
    l.git(&["tag", "v1"]);
    let before = refs(&l);
    let out = run_with_hostile_step_two(
        &l,
        "git update-ref refs/heads/main HEAD && git branch -D --quiet feature && \
         git tag -d v1 >/dev/null && git tag agent-tag",
    );
    let json = assert_three_steps(&l, &out);
    let branch = branch_of(&json);
    assert_eq!(
        user_refs(&l, &branch),
        before,
        "every user ref is as it was"
    );
    let warned = warnings(&json);
    for expected in [
        "moved refs/heads/main",
        "deleted refs/heads/feature",
        "deleted refs/tags/v1",
        "created refs/tags/agent-tag",
        "oneshot put them back",
    ] {
        assert!(
            warned.contains(expected),
            "missing {expected:?} in {warned}"
        );
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("warning: the agent deleted refs/heads/feature, moved refs/heads/main"),
        "{stderr}"
    );
}

#[test]
fn an_edit_of_the_users_checkout_by_absolute_path_is_reported_loudly() {
    let l = setup();
    let readme = l.repo.work.join("README.md");
    l.agent.script_for(1, planning(PLAN));
    l.agent.script_for(2, step("src/step1.txt", "one\n"));
    l.agent.script_for(
        3,
        step(readme.to_str().unwrap(), "# changed by the agent\n"),
    );
    l.agent.script_for(4, step("src/step3.txt", "three\n"));
    let out = l.run(&[TASK, "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let json = stdout_json(&out);
    let warned = warnings(&json);
    assert!(
        warned.contains("your checkout") && warned.contains("`README.md`"),
        "{warned}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("warning: your checkout"), "{stderr}");

    // Without --json the summary says it too.
    let l = setup();
    let notes = l.repo.work.join("notes.txt");
    l.agent.script_for(1, planning(PLAN));
    l.agent
        .script_for(2, step(notes.to_str().unwrap(), "planted\n"));
    l.agent.script_for(3, step("src/step2.txt", "two\n"));
    l.agent.script_for(4, step("src/step3.txt", "three\n"));
    let out = l.run(&[TASK]);
    assert!(out.status.success(), "{}", text(&out));
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(
        summary.contains("Warnings") && summary.contains("`notes.txt`"),
        "{summary}"
    );
}

/// Kills the processes a test left behind, even when it fails half-way.
struct Leftovers(Vec<i32>);

impl Drop for Leftovers {
    fn drop(&mut self) {
        for pid in &self.0 {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(*pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

/// Whether a process is alive (a zombie holds no file any more).
fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, rest)| !rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

/// Waits (for a hang, not a speed budget) until `done` holds.
fn wait_until(what: &str, done: impl Fn() -> bool) {
    for _ in 0..1200 {
        if done() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("gave up waiting until {what}");
}

#[test]
fn after_a_sigkill_the_agent_still_holds_the_run_and_a_stale_index_lock_is_removed_on_resume() {
    let l = setup();
    let pid_file = l.env.root.path().join("sleeper.pid");
    l.agent.script_for(1, planning(PLAN));
    // Step 1's agent leaves an index.lock behind (as a git command killed mid-write would) and
    // keeps working in a child that outlives the oneshot that started it.
    l.agent.script_for(
        2,
        vec![
            crate::agent_fakes::init(),
            serde_json::json!({"run": ["sh", "-c", format!(
                "touch \"$(git rev-parse --git-path index.lock)\" && echo $$ > '{}' && exec sleep 600",
                pid_file.display()
            )]}),
        ],
    );
    let mut first = l
        .env
        .oneshot(&l.repo.work)
        .args(["run", TASK, "--json"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut leftovers = Leftovers(Vec::new());
    wait_until("the step's agent is at work", || {
        std::fs::read_to_string(&pid_file).is_ok_and(|t| t.ends_with('\n'))
    });
    let sleeper: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    leftovers.0.push(sleeper);
    let agent = l.agent.invocations()[1]["pid"].as_i64().unwrap() as i32;
    leftovers.0.push(agent);
    first.kill().unwrap(); // SIGKILL: oneshot can clean nothing up
    first.wait().unwrap();
    assert!(alive(agent) && alive(sleeper));

    let branch = "oneshot-add-a-verbose-flag-to-t-01-15-1430";
    let refused = l.run(&["--resume", branch, "--json"]);
    assert_eq!(refused.status.code(), Some(3), "{}", text(&refused));
    let message = stdout_json(&refused)["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        message.contains(&format!("another oneshot run of {branch} is still working"))
            && message.contains(&format!("process {sleeper} (sleep)")),
        "{message}"
    );
    assert!(
        l.state(branch)["steps"][0]["state"] == "in_progress",
        "the refused command changed nothing"
    );

    // Once every process of the first run is gone, resume works and removes the stale lock.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(sleeper),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    wait_until("the agent has exited", || !alive(agent) && !alive(sleeper));
    for n in 1..=3 {
        l.agent.script_for(
            n + 2,
            step(&format!("src/step{n}.txt"), &format!("step {n}\n")),
        );
    }
    // A lock file some live process still has open is not removed: the error names it.
    let index_lock = l
        .git(&[
            "-C",
            l.state(branch)["worktree"].as_str().unwrap(),
            "rev-parse",
            "--path-format=absolute",
            "--git-path",
            "index.lock",
        ])
        .trim()
        .to_string();
    let held = std::fs::File::open(&index_lock).unwrap();
    let blocked = l.run(&["--resume", branch, "--json"]);
    assert!(!blocked.status.success(), "{}", text(&blocked));
    let message = stdout_json(&blocked)["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        message.contains("index.lock is held by")
            && message.contains(&format!("process {}", std::process::id())),
        "{message}"
    );
    assert!(std::path::Path::new(&index_lock).exists());
    drop(held);

    let out = l.run(&["--resume", branch, "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("index.lock: a git command of the earlier run left it"),
        "{stderr}"
    );
    assert_eq!(l.subjects(branch), STEPS);
}
