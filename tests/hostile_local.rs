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
    assert_eq!(l.subjects(&branch), &STEPS[..1], "step 1 is still on the branch");
    assert_eq!(
        states(&l.state(&branch)),
        expect(&[(1, "done"), (2, "failed"), (3, "not_started")])
    );

    // Resume: the leftovers are set aside, step 2 is done again on top of step 1.
    l.agent.script_for(4, step("src/step2.txt", "two\n"));
    l.agent.script_for(5, step("src/step3.txt", "three\n"));
    let out = l.run(&["--resume", &branch, "--json"]);
    assert_three_steps(&l, &out);
    assert_eq!(l.git(&["show", &format!("{branch}:src/step1.txt")]), "one\n");
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
    assert_eq!(user_refs(&l, &branch), before, "every user ref is as it was");
    let warned = warnings(&json);
    for expected in [
        "moved refs/heads/main",
        "deleted refs/heads/feature",
        "deleted refs/tags/v1",
        "created refs/tags/agent-tag",
        "oneshot put them back",
    ] {
        assert!(warned.contains(expected), "missing {expected:?} in {warned}");
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("warning: the agent deleted refs/heads/feature, moved refs/heads/main"), "{stderr}");
}

#[test]
fn an_edit_of_the_users_checkout_by_absolute_path_is_reported_loudly() {
    let l = setup();
    let readme = l.repo.work.join("README.md");
    l.agent.script_for(1, planning(PLAN));
    l.agent.script_for(2, step("src/step1.txt", "one\n"));
    l.agent
        .script_for(3, step(readme.to_str().unwrap(), "# changed by the agent\n"));
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
