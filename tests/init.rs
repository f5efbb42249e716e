//! `oneshot init` in temp repositories: what it writes, that it never replaces a changed file
//! without --force, and what it tells the person to do next.

use serde_json::Value;

use crate::support::{TestEnv, render, run_ok, stdout_json};

const WORKFLOW: &str = ".github/workflows/oneshot.yml";
const RESUME: &str = ".github/workflows/oneshot-resume.yml";
const PLAN_PROMPT: &str = ".claude/commands/oneshot/plan.md";
const IMPLEMENT_PROMPT: &str = ".claude/commands/oneshot/implement.md";
const CONFIG: &str = ".github/oneshot.toml";
const FILES: [&str; 5] = [WORKFLOW, RESUME, PLAN_PROMPT, IMPLEMENT_PROMPT, CONFIG];

/// The status of each file in `oneshot init --json` output, as (path, status).
fn statuses(json: &Value) -> Vec<(String, String)> {
    json["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_string(),
                f["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn all(status: &str) -> Vec<(String, String)> {
    except(status, "", "")
}

/// Every file with `status`, except `path`, which has `other`.
fn except(status: &str, path: &str, other: &str) -> Vec<(String, String)> {
    FILES
        .iter()
        .map(|f| {
            (
                f.to_string(),
                if *f == path { other } else { status }.to_string(),
            )
        })
        .collect()
}

#[test]
fn first_run_writes_every_file_and_says_what_to_do_next() {
    let env = TestEnv::new();
    let repo = env.repo_with_origin();
    let out = run_ok(env.oneshot(&repo.work).arg("init"));
    insta::assert_snapshot!(render(&out, &env));

    let workflow = repo.read(WORKFLOW);
    let version = env!("CARGO_PKG_VERSION");
    assert!(
        workflow.contains(&format!(
            "uses: oneshot-dev/oneshot/.github/workflows/one-shot.yml@v{version}\n"
        )),
        "{workflow}"
    );
    assert!(repo.read(CONFIG).starts_with("# oneshot configuration."));
}

#[test]
fn json_lists_files_secrets_and_next_commands() {
    let env = TestEnv::new();
    let repo = env.repo_with_origin();
    let json = stdout_json(&run_ok(env.oneshot(&repo.work).args(["init", "--json"])));
    assert_eq!(json["success"], true);
    assert_eq!(json["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(statuses(&json), all("created"));
    let secrets: Vec<&str> = json["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        secrets,
        [
            "ANTHROPIC_API_KEY",
            "CLAUDE_CODE_OAUTH_TOKEN",
            "OPENAI_API_KEY",
            "GEMINI_API_KEY",
            "ONESHOT_TOKEN",
            "ONESHOT_WEBHOOK_URL"
        ]
    );
    let next = json["next"].as_array().unwrap();
    assert_eq!(
        next[0],
        format!(
            "git add {} && git commit -m \"Set up oneshot\" && git push",
            FILES.join(" ")
        )
    );
    assert!(next[1].as_str().unwrap().starts_with("oneshot dispatch "));
}

#[test]
fn second_run_changes_nothing() {
    let env = TestEnv::new();
    let repo = env.repo_with_origin();
    run_ok(env.oneshot(&repo.work).arg("init"));
    let before = (repo.read(WORKFLOW), repo.read(CONFIG));

    let out = run_ok(env.oneshot(&repo.work).arg("init"));
    insta::assert_snapshot!(render(&out, &env));
    assert_eq!((repo.read(WORKFLOW), repo.read(CONFIG)), before);

    let json = stdout_json(&run_ok(env.oneshot(&repo.work).args(["init", "--json"])));
    assert_eq!(statuses(&json), all("unchanged"));
    // Nothing to commit: the only next step is starting a task.
    assert_eq!(json["next"].as_array().unwrap().len(), 1);
}

#[test]
fn a_changed_file_is_skipped_then_overwritten_with_force() {
    let env = TestEnv::new();
    let repo = env.repo_with_origin();
    run_ok(env.oneshot(&repo.work).arg("init"));
    let original = repo.read(CONFIG);
    let edited = format!("{original}model = \"opus\"\n");
    repo.write(CONFIG, &edited);

    let out = run_ok(env.oneshot(&repo.work).arg("init"));
    insta::assert_snapshot!(render(&out, &env));
    assert_eq!(repo.read(CONFIG), edited, "a changed file was replaced");

    let json = stdout_json(&run_ok(env.oneshot(&repo.work).args(["init", "--json"])));
    assert_eq!(statuses(&json), except("unchanged", CONFIG, "skipped"));

    let json = stdout_json(&run_ok(
        env.oneshot(&repo.work).args(["init", "--force", "--json"]),
    ));
    assert_eq!(statuses(&json), except("unchanged", CONFIG, "overwritten"));
    assert_eq!(repo.read(CONFIG), original);
}

#[test]
fn a_deleted_file_is_written_again() {
    let env = TestEnv::new();
    let repo = env.repo_with_origin();
    run_ok(env.oneshot(&repo.work).arg("init"));
    std::fs::remove_file(repo.work.join(WORKFLOW)).unwrap();
    let json = stdout_json(&run_ok(env.oneshot(&repo.work).args(["init", "--json"])));
    assert_eq!(statuses(&json), except("unchanged", WORKFLOW, "created"));
}

#[test]
fn dir_inside_the_work_tree_writes_at_its_top() {
    let env = TestEnv::new();
    let repo = env.repo_with_origin();
    let sub = repo.work.join("src/deep");
    std::fs::create_dir_all(&sub).unwrap();
    let elsewhere = env.dir("elsewhere");
    run_ok(env.oneshot(&elsewhere).args(["init", "--dir"]).arg(&sub));
    assert!(repo.work.join(WORKFLOW).is_file());
    assert!(!sub.join(".github").exists());
}

#[test]
fn outside_a_repository_it_says_what_to_do() {
    let env = TestEnv::new();
    let plain = env.dir("plain");
    let out = env.oneshot(&plain).arg("init").output().unwrap();
    insta::assert_snapshot!(render(&out, &env));
    assert!(!plain.join(".github").exists());
}

#[test]
fn a_missing_dir_is_an_input_error_in_json_too() {
    let env = TestEnv::new();
    let out = env
        .oneshot(env.root.path())
        .args(["init", "--json", "--dir", "no/such/dir"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let json = stdout_json(&out);
    assert_eq!(json["success"], false);
    assert_eq!(json["error_type"], "invalid_input");
}
