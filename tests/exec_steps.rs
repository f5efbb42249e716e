//! `oneshot exec write-prompt` and `detect-trunk`, run as a workflow runs them.

use std::fs;

use crate::support::{TestEnv, render, run_ok, runner_files, stdout_json};

#[test]
fn write_prompt_prefers_the_committed_task() {
    let mut env = TestEnv::new();
    let repo = env.repo_with_origin();
    repo.write(".worker-impl/task.md", "Add a --verbose flag\n");
    env.set("ONESHOT_PROMPT", "from the environment");
    let out = run_ok(env.oneshot(&repo.work).args(["exec", "write-prompt"]));
    assert_eq!(repo.read(".impl/task.md"), "Add a --verbose flag\n");
    assert_eq!(stdout_json(&out), serde_json::json!({"success": true}));
    let exclude = fs::read_to_string(repo.work.join(".git/info/exclude")).unwrap();
    assert!(exclude.lines().any(|l| l == "/.impl/"), "{exclude}");
    // .impl/ is invisible to git.
    assert_eq!(
        env.git(
            &repo.work,
            ["status", "--porcelain", "--untracked-files=all"]
        ),
        "?? .worker-impl/task.md\n"
    );
}

#[test]
fn write_prompt_takes_the_file_then_the_environment() {
    let mut env = TestEnv::new();
    let repo = env.repo_with_origin();
    fs::write(env.root.path().join("prompt.txt"), "From a file").unwrap();
    env.set("ONESHOT_PROMPT", "From the environment");
    let prompt_file = env.root.path().join("prompt.txt");
    run_ok(
        env.oneshot(&repo.work)
            .args(["exec", "write-prompt", "--prompt-file"])
            .arg(&prompt_file),
    );
    assert_eq!(repo.read(".impl/task.md"), "From a file");

    run_ok(env.oneshot(&repo.work).args(["exec", "write-prompt"]));
    assert_eq!(repo.read(".impl/task.md"), "From the environment");

    // Running twice does not add the exclude line twice.
    let exclude = fs::read_to_string(repo.work.join(".git/info/exclude")).unwrap();
    assert_eq!(exclude.matches("/.impl/").count(), 1);
}

#[test]
fn write_prompt_works_from_a_subdirectory() {
    let mut env = TestEnv::new();
    let repo = env.repo_with_origin();
    repo.write("src/lib.rs", "");
    env.set("ONESHOT_PROMPT", "task");
    run_ok(
        env.oneshot(&repo.work.join("src"))
            .args(["exec", "write-prompt"]),
    );
    assert_eq!(repo.read(".impl/task.md"), "task");
}

#[test]
fn write_prompt_rejects_bad_prompts() {
    let env = TestEnv::new();
    let repo = env.repo_with_origin();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("blank", b"  \n\t\n".to_vec()),
        ("nul", b"Add\0 a flag".to_vec()),
        ("invalid_utf8", b"caf\xe9 au lait".to_vec()),
        ("too_large", vec![b'x'; 64 * 1024 + 1]),
    ];
    for (name, bytes) in cases {
        repo.write(".worker-impl/task.md", &bytes);
        let out = env
            .oneshot(&repo.work)
            .args(["exec", "write-prompt"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(3), "{name}");
        assert!(
            !repo.work.join(".impl/task.md").exists(),
            "{name}: nothing may be written"
        );
        insta::assert_snapshot!(format!("write_prompt_rejects_{name}"), render(&out, &env));
    }
}

#[test]
fn write_prompt_without_any_source_lists_what_it_tried() {
    let env = TestEnv::new();
    let repo = env.repo_with_origin();
    let out = env
        .oneshot(&repo.work)
        .args(["exec", "write-prompt"])
        .output()
        .unwrap();
    insta::assert_snapshot!(render(&out, &env));
}

#[test]
fn write_prompt_outside_a_repository() {
    let mut env = TestEnv::new();
    env.set("ONESHOT_PROMPT", "task");
    let dir = env.dir("not-a-repo");
    let out = env
        .oneshot(&dir)
        .args(["exec", "write-prompt"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5));
    let json = stdout_json(&out);
    assert_eq!(json["error_type"], "git");
    assert!(
        json["message"]
            .as_str()
            .unwrap()
            .contains("not inside a git repository")
    );
}

#[test]
fn detect_trunk_order_of_sources() {
    let env = TestEnv::new();
    let repo = env.repo_with_origin();
    let trunk = |args: &[&str]| {
        let out = run_ok(
            env.oneshot(&repo.work)
                .args(["exec", "detect-trunk"])
                .args(args),
        );
        stdout_json(&out)["trunk"].as_str().unwrap().to_string()
    };

    // No origin/HEAD locally: the remote's HEAD (main) is asked with ls-remote.
    assert_eq!(trunk(&[]), "main");

    // The remote's HEAD moves to `develop`: ls-remote follows it.
    env.git(&repo.work, ["push", "--quiet", "origin", "main:develop"]);
    env.git(&repo.origin, ["symbolic-ref", "HEAD", "refs/heads/develop"]);
    assert_eq!(trunk(&[]), "develop");

    // A local origin/HEAD wins over the remote (no network needed).
    env.git(&repo.work, ["fetch", "--quiet", "origin"]);
    env.git(
        &repo.work,
        [
            "symbolic-ref",
            "refs/remotes/origin/HEAD",
            "refs/remotes/origin/main",
        ],
    );
    assert_eq!(trunk(&[]), "main");

    // An explicit --trunk wins over everything.
    assert_eq!(trunk(&["--trunk", "release/2.0"]), "release/2.0");
}

#[test]
fn detect_trunk_falls_back_to_exact_main_or_master() {
    let env = TestEnv::new();
    let repo = env.repo_with_origin();
    // The remote's HEAD points at a branch that does not exist: ls-remote reports no symref.
    env.git(
        &repo.work,
        [
            "push",
            "--quiet",
            "origin",
            "main:master",
            "main:feature/main",
        ],
    );
    env.git(&repo.origin, ["symbolic-ref", "HEAD", "refs/heads/gone"]);
    env.git(
        &repo.work,
        ["push", "--quiet", "origin", "--delete", "main"],
    );
    env.git(&repo.work, ["tag", "main"]);
    env.git(&repo.work, ["push", "--quiet", "origin", "refs/tags/main"]);
    let out = run_ok(env.oneshot(&repo.work).args(["exec", "detect-trunk"]));
    // The tag `main` and the branch `feature/main` do not count; `master` does.
    assert_eq!(stdout_json(&out)["trunk"], "master");
}

#[test]
fn detect_trunk_error_names_everything_it_tried() {
    let env = TestEnv::new();
    let repo = env.repo_with_origin();
    env.git(
        &repo.work,
        [
            "push",
            "--quiet",
            "origin",
            "main:trunk-ish",
            "main:feature/main",
        ],
    );
    env.git(&repo.origin, ["symbolic-ref", "HEAD", "refs/heads/gone"]);
    env.git(
        &repo.work,
        ["push", "--quiet", "origin", "--delete", "main"],
    );
    env.git(&repo.work, ["update-ref", "-d", "refs/remotes/origin/main"]);
    let out = env
        .oneshot(&repo.work)
        .args(["exec", "detect-trunk"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5));
    insta::assert_snapshot!(render(&out, &env));
}

#[test]
fn detect_trunk_rejects_an_invalid_explicit_name() {
    let env = TestEnv::new();
    let repo = env.repo_with_origin();
    for bad in ["a..b", "has space", "-x", "refs/heads/ok~1", ""] {
        let out = env
            .oneshot(&repo.work)
            .args(["exec", "detect-trunk"])
            .arg(format!("--trunk={bad}"))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(3), "{bad}");
        assert_eq!(stdout_json(&out)["error_type"], "invalid_input");
    }
}

#[test]
fn steps_in_actions_write_github_output_and_annotations() {
    let mut env = TestEnv::new();
    let repo = env.repo_with_origin();
    let output = env.root.path().join("github_output");
    let summary = env.root.path().join("step_summary");
    env.set("GITHUB_ACTIONS", "true");
    env.set("GITHUB_OUTPUT", output.display().to_string());
    env.set("GITHUB_STEP_SUMMARY", summary.display().to_string());

    let out = run_ok(env.oneshot(&repo.work).args(["exec", "detect-trunk"]));
    // In Actions stdout is the log, not JSON.
    assert!(!String::from_utf8_lossy(&out.stdout).contains("\"success\""));
    let entries = runner_files::parse(&fs::read_to_string(&output).unwrap()).unwrap();
    assert_eq!(
        runner_files::get(&entries, "trunk").as_deref(),
        Some("main")
    );

    // A failure is an ::error:: annotation with the message escaped onto one line.
    let out = env
        .oneshot(&repo.work)
        .args(["exec", "write-prompt"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let error_line = stdout
        .lines()
        .find(|l| l.starts_with("::error::"))
        .expect("an ::error:: line");
    assert!(
        error_line.contains("no prompt was given%0ACaused by:"),
        "{error_line}"
    );
}

#[test]
fn usage_errors_are_json_for_exec_steps() {
    let env = TestEnv::new();
    let out = env
        .oneshot(env.root.path())
        .args(["exec", "detect-trunk", "--bogus"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let json = stdout_json(&out);
    assert_eq!(json["error_type"], "usage");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--bogus"));
}

#[test]
fn untrusted_text_in_the_actions_log_cannot_issue_workflow_commands() {
    let mut env = TestEnv::new();
    let repo = env.repo_with_origin();
    env.set("GITHUB_ACTIONS", "true");
    env.set(
        "GITHUB_OUTPUT",
        env.root.path().join("out").display().to_string(),
    );
    let title = "Fix ##[add-mask]the login flow";
    repo.write(
        ".impl/plan.md",
        format!("# {title}\n\nSummary.\n\n## Steps\n\n### Step 1: Do it\n::set-env name=X::y\n"),
    );
    repo.write(
        ".impl/plan-result.json",
        format!(r#"{{"title": "{title}", "summary": "s"}}"#),
    );
    let out = run_ok(env.oneshot(&repo.work).args(["exec", "validate-outputs"]));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("Fix ##[add-mask]the login flow"),
        "the title is logged:\n{stdout}"
    );
    // Every line with the untrusted title sits between ::stop-commands::T and ::T::.
    let mut stopped: Option<String> = None;
    for line in stdout.lines() {
        if let Some(token) = line.strip_prefix("::stop-commands::") {
            stopped = Some(token.to_string());
        } else if stopped
            .as_deref()
            .is_some_and(|t| line == format!("::{t}::"))
        {
            stopped = None;
        } else if line.contains("##[add-mask]") && !line.starts_with("::") {
            assert!(
                stopped.is_some(),
                "an untrusted line was printed with commands on: {line}\n{stdout}"
            );
        }
    }
}

#[test]
fn exec_steps_print_json_errors_also_with_a_directory_flag() {
    let env = TestEnv::new();
    let dir = env.dir("not-a-repo");
    let out = env
        .oneshot(env.root.path())
        .arg("-C")
        .arg(&dir)
        .args(["exec", "write-prompt"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5));
    assert_eq!(stdout_json(&out)["error_type"], "git");
}
