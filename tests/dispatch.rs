//! Issue 5: `oneshot dispatch` against the fake GitHub server and a bare remote.

use std::process::Output;

use serde_json::json;

use crate::support::fake_github::Fault;
use crate::support::github::{NAME, OWNER, World};
use crate::support::{render, stdout_json};

const PROMPT: &str = "Add a --verbose flag to the submit command";
const BRANCH: &str = "oneshot-add-a-verbose-flag-to-t-01-15-1430";

fn world() -> World {
    let w = World::new();
    // The workflows `oneshot init` writes, as a user would commit them.
    w.init_on_main();
    w.fake.clear_requests();
    w
}

fn dispatch(w: &World, args: &[&str]) -> Output {
    w.env
        .oneshot(&w.repo.work)
        .arg("dispatch")
        .args(args)
        .output()
        .unwrap()
}

/// Everything about the user's checkout that dispatch must not touch.
fn checkout_state(w: &World) -> (String, String, String, String) {
    let git = |args: &[&str]| w.env.git(&w.repo.work, args);
    (
        git(&["status", "--porcelain=v1", "--untracked-files=all"]),
        git(&["diff", "--cached"]),
        git(&["symbolic-ref", "-q", "HEAD"]),
        git(&[
            "for-each-ref",
            "--format=%(refname) %(objectname)",
            "refs/heads/",
        ]),
    )
}

#[test]
fn happy_path_in_at_most_nine_requests_without_touching_the_checkout() {
    let w = world();
    // Uncommitted, staged and untracked changes that must survive.
    w.repo.write("README.md", "# demo\nwork in progress\n");
    w.repo.write("notes.txt", "untracked\n");
    w.repo.write("staged.txt", "staged\n");
    w.env.git(&w.repo.work, ["add", "staged.txt"]);
    let before = checkout_state(&w);

    let out = dispatch(&w, &["--json", "--model", "opus", PROMPT]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json = stdout_json(&out);
    assert_eq!(json["success"], true);
    assert_eq!(json["branch"], BRANCH);
    assert_eq!(json["dry_run"], false);
    let pr_number = json["pr_number"].as_u64().unwrap();
    assert!(json["run_url"].as_str().unwrap().contains("/actions/runs/"));

    let requests = w.fake.requests();
    assert!(
        requests.len() <= 9,
        "{} requests:\n{}",
        requests.len(),
        w.fake.request_summary()
    );
    assert!(
        w.fake.schema_violations().is_empty(),
        "{}",
        w.fake.request_summary()
    );
    assert_eq!(checkout_state(&w), before, "the checkout was touched");

    // The branch: trunk plus exactly one commit adding the task.
    assert!(w.remote_branches().contains(&BRANCH.to_string()));
    let files = w
        .env
        .git(&w.repo.origin, ["diff", "--name-only", "main", BRANCH]);
    assert_eq!(files, ".worker-impl/task.md\n");
    assert_eq!(
        w.env.git(
            &w.repo.origin,
            ["show", &format!("{BRANCH}:.worker-impl/task.md")]
        ),
        PROMPT
    );

    let state = w.fake.state();
    let pull = state.pull(OWNER, NAME, pr_number).unwrap();
    assert!(pull.draft);
    assert_eq!(
        pull.title,
        "[WIP] Add a --verbose flag to the submit command"
    );
    assert_eq!(pull.head, BRANCH);
    assert_eq!(pull.labels, vec!["oneshot"]);
    assert!(
        pull.body
            .unwrap()
            .contains("> Add a --verbose flag to the submit command")
    );

    let dispatches = state.dispatches();
    assert_eq!(dispatches.len(), 1);
    let inputs = &dispatches[0].inputs;
    assert_eq!(inputs["branch_name"], BRANCH);
    assert_eq!(inputs["pr_number"], pr_number.to_string());
    assert_eq!(inputs["model"], "opus");
    assert_eq!(inputs["submitted_by"], "octocat");
    assert_eq!(inputs["distinct_id"].len(), 16);
    assert_eq!(dispatches[0].git_ref, "main");
}

#[test]
fn the_run_is_found_by_polling_on_older_servers() {
    let w = world();
    w.fake.set_return_run_details(OWNER, NAME, false);
    w.fake.set_run_list_lag(OWNER, NAME, 1);
    let out = dispatch(&w, &["--json", PROMPT]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json = stdout_json(&out);
    let run_id = json["run_id"].as_u64().unwrap();
    let run = w.fake.state().run(run_id).unwrap();
    assert!(run.display_title.contains(&run.inputs["distinct_id"]));
    assert!(w.fake.requests().len() <= 9, "{}", w.fake.request_summary());
}

#[test]
fn dry_run_sends_nothing_and_creates_nothing() {
    let mut w = world();
    w.env.unset("GITHUB_TOKEN");
    let refs_before = w.env.git(&w.repo.origin, ["for-each-ref"]);
    let out = dispatch(&w, &["--dry-run", "--json", PROMPT]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json = stdout_json(&out);
    assert_eq!(json["dry_run"], true);
    assert_eq!(json["branch"], BRANCH);
    assert_eq!(
        json["pr_title"],
        "[WIP] Add a --verbose flag to the submit command"
    );
    assert_eq!(json["inputs"]["branch_name"], BRANCH);
    assert_eq!(json["requests"].as_array().unwrap().len(), 4);
    assert!(w.fake.requests().is_empty());
    assert_eq!(w.env.git(&w.repo.origin, ["for-each-ref"]), refs_before);

    // The human form names the same branch.
    let out = dispatch(&w, &["--dry-run", PROMPT]);
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("Branch:     {BRANCH}")));
}

#[test]
fn every_validation_error_creates_nothing() {
    let w = world();
    std::fs::write(w.env.root.path().join("task.md"), "From a file").unwrap();
    let file = w.env.root.path().join("task.md").display().to_string();
    let cases: Vec<(&str, Vec<&str>, i32)> = vec![
        ("blank_prompt", vec!["   "], 3),
        ("no_prompt", vec![], 2),
        ("prompt_and_file", vec!["-f", &file, PROMPT], 2),
        ("unknown_model", vec!["--model", "gpt-5", PROMPT], 3),
        ("unknown_agent", vec!["--agent", "cursor", PROMPT], 3),
        (
            "missing_workflow",
            vec!["--workflow", "other.yml", PROMPT],
            3,
        ),
        ("bad_repo", vec!["--repo", "not a repo", PROMPT], 3),
    ];
    for (name, args, code) in cases {
        let mut all = vec!["--json"];
        all.extend(args);
        let out = dispatch(&w, &all);
        assert_eq!(
            out.status.code(),
            Some(code),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let json = stdout_json(&out);
        assert_eq!(json["success"], false, "{name}");
        insta::assert_snapshot!(format!("dispatch_rejects_{name}"), render(&out, &w.env));
    }
    assert_eq!(w.remote_branches(), vec!["main"]);
    assert!(w.fake.state().pulls(OWNER, NAME).is_empty());
    assert!(w.fake.state().dispatches().is_empty());
}

#[test]
fn no_token_creates_nothing() {
    let mut w = world();
    w.env.unset("GITHUB_TOKEN");
    let out = dispatch(&w, &["--json", PROMPT]);
    assert_eq!(out.status.code(), Some(7));
    assert_eq!(stdout_json(&out)["error_type"], "auth");
    assert_eq!(w.remote_branches(), vec!["main"]);
}

#[test]
fn a_taken_branch_name_gets_a_suffix() {
    let w = world();
    w.env.git(
        &w.repo.work,
        [
            "push",
            "--quiet",
            "origin",
            &format!("main:refs/heads/{BRANCH}"),
        ],
    );
    let out = dispatch(&w, &["--json", PROMPT]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout_json(&out)["branch"], format!("{BRANCH}-2"));
    // The existing branch was not touched.
    assert_eq!(
        w.env.git(&w.repo.origin, ["rev-parse", BRANCH]),
        w.env.git(&w.repo.origin, ["rev-parse", "main"])
    );
}

#[test]
fn a_failure_at_each_creation_point_is_undone() {
    struct Case {
        name: &'static str,
        fault: Option<Fault>,
        reject_push: bool,
    }
    let cases = vec![
        Case { name: "push", fault: None, reject_push: true },
        Case {
            name: "pull_request",
            fault: Some(Fault::on("POST", "/repos/acme/app/pulls").status(422, json!({"message": "Validation Failed", "errors": [{"resource": "PullRequest", "code": "custom", "message": "nope"}]}))),
            reject_push: false,
        },
        Case {
            name: "dispatch",
            fault: Some(Fault::on("POST", "/repos/acme/app/actions/workflows/*/dispatches").status(422, json!({"message": "Unexpected inputs provided: [\"x\"]"}))),
            reject_push: false,
        },
    ];
    for case in cases {
        let w = world();
        if case.reject_push {
            let hook = w.repo.origin.join("hooks/pre-receive");
            std::fs::write(&hook, "#!/bin/sh\necho 'pushes are frozen' >&2\nexit 1\n").unwrap();
            let mut perms = std::fs::metadata(&hook).unwrap().permissions();
            std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
            std::fs::set_permissions(&hook, perms).unwrap();
        }
        if let Some(fault) = case.fault {
            w.fake.inject(fault);
        }
        let out = dispatch(&w, &["--json", PROMPT]);
        assert!(!out.status.success(), "{}", case.name);
        let json = stdout_json(&out);
        assert_eq!(json["success"], false, "{}", case.name);
        assert_eq!(
            w.remote_branches(),
            vec!["main"],
            "{}: the branch was left behind",
            case.name
        );
        for pull in w.fake.state().pulls(OWNER, NAME) {
            assert_eq!(pull.state, "closed", "{}: the PR was left open", case.name);
        }
        assert!(w.fake.state().dispatches().is_empty() || case.name == "dispatch");
    }
}

#[test]
fn a_failed_undo_says_exactly_what_is_left() {
    let w = world();
    w.fake.inject(
        Fault::on("POST", "/repos/acme/app/actions/workflows/*/dispatches").status(
            422,
            json!({"message": "Workflow does not have 'workflow_dispatch' trigger"}),
        ),
    );
    w.fake.inject(
        Fault::on("PATCH", "/repos/acme/app/pulls/*")
            .status(403, json!({"message": "Resource not accessible"})),
    );
    let out = dispatch(&w, &["--json", PROMPT]);
    assert_eq!(out.status.code(), Some(6));
    let message = stdout_json(&out)["message"].as_str().unwrap().to_string();
    assert!(message.contains("left behind"), "{message}");
    assert!(message.contains("gh pr close 1"), "{message}");
    // The branch could be deleted, so it is not listed.
    assert!(!message.contains("git push origin --delete"), "{message}");
}

#[test]
fn unborn_and_detached_heads_are_fine() {
    // Detached HEAD with local changes.
    let w = world();
    let head = w.env.git(&w.repo.work, ["rev-parse", "HEAD"]);
    w.env.git(
        &w.repo.work,
        ["checkout", "--quiet", "--detach", head.trim()],
    );
    w.repo.write("README.md", "changed\n");
    let before = checkout_state_detached(&w);
    let out = dispatch(&w, &["--json", PROMPT]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(checkout_state_detached(&w), before);

    // A fresh `git init` that only knows the remote: HEAD is unborn.
    let w = world();
    let fresh = w.env.dir("fresh");
    w.env.git(&fresh, ["init", "--quiet", "-b", "main"]);
    w.env.git(
        &fresh,
        ["remote", "add", "origin", w.repo.origin.to_str().unwrap()],
    );
    std::fs::write(fresh.join("draft.txt"), "not committed").unwrap();
    let out = w
        .env
        .oneshot(&fresh)
        .args([
            "dispatch", "--json", "--ref", "main", "--repo", "acme/app", PROMPT,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        w.env.git(&fresh, ["status", "--porcelain"]),
        "?? draft.txt\n"
    );
    assert!(
        w.env
            .git(&fresh, ["for-each-ref", "refs/heads/"])
            .is_empty(),
        "no local branch was made"
    );
}

fn checkout_state_detached(w: &World) -> (String, String) {
    (
        w.env.git(&w.repo.work, ["status", "--porcelain=v1"]),
        w.env.git(&w.repo.work, ["rev-parse", "HEAD"]),
    )
}

#[test]
fn human_output_prints_the_pr_and_the_run() {
    let w = world();
    let out = dispatch(&w, &[PROMPT]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("Pull request: https://github.com/acme/app/pull/1"),
        "{stdout}"
    );
    assert!(stdout.contains("Workflow run: "), "{stdout}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("Pushed branch {BRANCH}")),
        "{stderr}"
    );
}

/// Plays a run's progress in the fake: jobs and steps start and finish, then the run completes.
fn play_run(fake: &crate::support::fake_github::FakeGitHub, conclusion: &'static str) {
    use crate::support::fake_github::{Job, JobStep};
    use std::time::{Duration, Instant};
    let started = Instant::now();
    let run_id = loop {
        if let Some(run) = fake.state().runs().first() {
            break run.id;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no run was dispatched"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let step = |name: &str, status: &str, conclusion: Option<&str>| JobStep {
        name: name.into(),
        status: status.into(),
        conclusion: conclusion.map(str::to_string),
    };
    let job = |name: &str, status: &str, conclusion: Option<&str>, steps: Vec<JobStep>| Job {
        name: name.into(),
        status: status.into(),
        conclusion: conclusion.map(str::to_string),
        steps,
    };
    let pause = || std::thread::sleep(Duration::from_millis(150));
    fake.set_run_status(run_id, "in_progress", None);
    fake.set_run_jobs(
        run_id,
        vec![job(
            "plan",
            "in_progress",
            None,
            vec![step("Plan the work", "in_progress", None)],
        )],
    );
    pause();
    let planned = job(
        "plan",
        "completed",
        Some("success"),
        vec![step("Plan the work", "completed", Some("success"))],
    );
    fake.set_run_jobs(
        run_id,
        vec![
            planned.clone(),
            job(
                "implement",
                "in_progress",
                None,
                vec![step("Implement the plan", "in_progress", None)],
            ),
        ],
    );
    pause();
    fake.set_run_jobs(
        run_id,
        vec![
            planned,
            job(
                "implement",
                "completed",
                Some(conclusion),
                vec![step("Implement the plan", "completed", Some(conclusion))],
            ),
        ],
    );
    fake.set_run_status(run_id, "completed", Some(conclusion));
}

#[test]
fn watch_follows_the_run_to_its_end_and_the_exit_code_says_how_it_ended() {
    for (conclusion, code) in [("success", 0), ("failure", 1)] {
        let mut w = world();
        w.env.set("ONESHOT_WATCH_INTERVAL_MS", "40");
        let out = std::thread::scope(|scope| {
            scope.spawn(|| play_run(&w.fake, conclusion));
            dispatch(&w, &["--watch", PROMPT])
        });
        assert_eq!(
            out.status.code(),
            Some(code),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        for line in [
            "plan › Plan the work: in progress",
            "plan › Plan the work: success",
            &format!("implement › Implement the plan: {conclusion}"),
        ] {
            assert!(stderr.contains(line), "missing {line:?} in:\n{stderr}");
        }
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains(&format!("Run {conclusion}; pull request #1 is draft")),
            "{stdout}"
        );
        assert!(
            w.fake.response_violations().is_empty(),
            "{}",
            w.fake.request_summary()
        );
    }
}

#[test]
fn ctrl_c_midway_undoes_what_was_created() {
    use std::time::{Duration, Instant};
    let w = world();
    // The PR request is slow, so the interruption lands while dispatch waits for it.
    w.fake.inject(
        crate::support::fake_github::Fault::on("POST", "/repos/acme/app/pulls")
            .delay(Duration::from_millis(1500)),
    );
    let child = w
        .env
        .oneshot(&w.repo.work)
        .args(["dispatch", "--json", PROMPT])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while !w.remote_branches().contains(&BRANCH.to_string()) {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the branch was never pushed"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout_json(&out)["error_type"], "interrupted");
    assert_eq!(
        w.remote_branches(),
        vec!["main"],
        "the branch was left behind"
    );
    for pull in w.fake.state().pulls(OWNER, NAME) {
        assert_eq!(pull.state, "closed", "the PR was left open");
    }
    assert!(w.fake.state().dispatches().is_empty());
}

#[test]
fn watch_with_json_prints_one_object_whatever_the_outcome() {
    for (conclusion, code) in [("success", 0), ("failure", 1)] {
        let mut w = world();
        w.env.set("ONESHOT_WATCH_INTERVAL_MS", "40");
        let out = std::thread::scope(|scope| {
            scope.spawn(|| play_run(&w.fake, conclusion));
            dispatch(&w, &["--watch", "--json", PROMPT])
        });
        assert_eq!(
            out.status.code(),
            Some(code),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let json = stdout_json(&out);
        assert_eq!(json["success"], code == 0);
        assert_eq!(json["run_conclusion"], conclusion);
        assert_eq!(json["pr_number"], 1);
        assert_eq!(json["branch"], BRANCH);
    }
}
