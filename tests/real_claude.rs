//! `oneshot exec run-plan` with the real Claude Code CLI, talking to a scripted fake Anthropic
//! API: the CLI executes the scripted tool calls for real, under the permission rules oneshot
//! gives it. The CLI is installed at a pinned version by `scripts/install-test-tools.sh` into
//! `.tools/`. Without it the tests fail in CI (`CI` set) and are skipped, with a line that says
//! so, elsewhere.

#![allow(clippy::print_stderr)]

use std::path::PathBuf;
use std::process::Output;

use serde_json::{Value, json};

use crate::agent_fakes::{self as fakes, plan_report, repo_with_task};
use crate::fake_anthropic::{FakeAnthropic, Turn};
use crate::real_cli::{self, installed};
use crate::support::{TestEnv, TestRepo, stdout_json};

/// The version `scripts/install-test-tools.sh` installs.
pub const CLAUDE_CODE_VERSION: &str = "2.1.330";

/// The installed CLI, or `None` (after saying why) when the test should be skipped.
pub fn claude() -> Option<PathBuf> {
    installed("claude", CLAUDE_CODE_VERSION)
}

struct Setup {
    env: TestEnv,
    repo: TestRepo,
    /// The work tree as the CLI sees it (symlinks resolved).
    root: PathBuf,
}

/// A repository with a task and an environment for the CLI; the fake API, whose script needs
/// the repository's path, is started afterwards by [`Setup::api`].
fn setup(claude: &std::path::Path) -> Setup {
    let mut env = real_cli::env_for(claude);
    env.set("ANTHROPIC_API_KEY", "sk-fake");
    env.set("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1");
    let repo = repo_with_task(&env, "Add a --verbose flag to the submit command");
    let root = repo.work.canonicalize().unwrap();
    Setup { env, repo, root }
}

impl Setup {
    fn api(&mut self, script: Vec<Turn>) -> FakeAnthropic {
        let api = FakeAnthropic::start(script);
        self.env.set("ANTHROPIC_BASE_URL", api.url.clone());
        api
    }
}

fn run_plan(setup: &Setup, api: &FakeAnthropic, args: &[&str]) -> Output {
    let out = setup
        .env
        .oneshot(&setup.repo.work)
        .args(["exec", "run-plan", "--timeout-minutes", "3"])
        .args(args)
        .output()
        .unwrap();
    eprintln!(
        "oneshot exited with {:?}\nstderr:\n{}\nrequests to the fake API:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr),
        api.describe()
    );
    out
}

fn write(root: &std::path::Path, path: &str, content: &str) -> Turn {
    Turn::Tool {
        text: Some(format!("Writing {path}.")),
        name: "Write".into(),
        input: json!({"file_path": root.join(path).display().to_string(), "content": content}),
    }
}

#[test]
fn the_real_cli_writes_a_plan_through_the_fake_api() {
    let Some(claude) = claude() else { return };
    let mut setup = setup(&claude);
    let root = setup.root.clone();
    let api = setup.api(vec![
        write(&root, ".impl/plan.md", fakes::PLAN),
        write(&root, ".impl/plan-result.json", fakes::PLAN_RESULT),
        Turn::Text("Wrote the plan: Add a verbose flag (1 step).".into()),
    ]);

    let out = run_plan(&setup, &api, &["--model", "sonnet"]);
    assert!(
        out.status.success(),
        "run-plan failed: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let json = stdout_json(&out);
    assert_eq!(json["plan_success"], true);
    assert!(json["cost_usd"].as_f64().unwrap() > 0.0, "{json}");

    // The plan has the shape validate-outputs accepts.
    let plan = setup.repo.read(".impl/plan.md");
    assert_eq!(plan, fakes::PLAN);
    assert!(
        plan.starts_with("# ") && plan.contains("\n## Steps\n") && plan.contains("\n### Step 1: ")
    );
    let result: Value = serde_json::from_str(&setup.repo.read(".impl/plan-result.json")).unwrap();
    assert_eq!(result["title"], "Add a verbose flag");

    let report = plan_report(&setup.repo.work);
    assert_eq!(report["outcome"], "success");
    assert_eq!(report["turns"], 3);
    assert_eq!(
        report["final_text"],
        "Wrote the plan: Add a verbose flag (1 step)."
    );
    assert!(
        report["input_tokens"].as_u64().unwrap() >= 3 * 1500,
        "{report}"
    );
    assert!(
        report["output_tokens"].as_u64().unwrap() >= 3 * 120,
        "{report}"
    );
    assert_eq!(report["permission_denials"], json!([]));

    // What reached the API: the model asked for, and the prompt with the task marked as data.
    let requests = api.requests();
    let main: Vec<_> = requests.iter().filter(|r| r.turn.is_some()).collect();
    assert_eq!(main.len(), 3, "{}", api.describe());
    assert!(
        main[0].body["model"].as_str().unwrap().contains("sonnet"),
        "{}",
        main[0].body["model"]
    );
    let first = main[0].body["messages"][0].to_string();
    assert!(
        first.contains("Add a --verbose flag to the submit command"),
        "{first}"
    );
    assert!(first.contains("<task_"), "{first}");
    assert!(
        !requests
            .iter()
            .any(|r| r.body.to_string().contains(real_cli::GITHUB_TOKEN))
    );
}

#[test]
fn the_real_cli_is_denied_writes_outside_impl() {
    let Some(claude) = claude() else { return };
    let mut setup = setup(&claude);
    let root = setup.root.clone();
    let api = setup.api(vec![
        write(&root, "README.md", "# replaced by the planner\n"),
        Turn::Tool {
            text: None,
            name: "Bash".into(),
            input: json!({"command": "git log --output=leak.txt", "description": "Write the log to a file"}),
        },
        Turn::Tool {
            text: None,
            name: "Bash".into(),
            input: json!({"command": "echo pwned > src.txt", "description": "Create a file"}),
        },
        Turn::Tool {
            text: None,
            name: "Bash".into(),
            input: json!({"command": "git log --oneline -1", "description": "Look at the history"}),
        },
        write(&root, ".impl/plan.md", fakes::PLAN),
        write(&root, ".impl/plan-result.json", fakes::PLAN_RESULT),
        Turn::Text("Done.".into()),
    ]);

    let out = run_plan(&setup, &api, &[]);
    assert!(
        out.status.success(),
        "run-plan failed: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(setup.repo.read("README.md"), "# demo\n");
    assert!(!setup.repo.work.join("leak.txt").exists());
    assert!(!setup.repo.work.join("src.txt").exists());
    let report = plan_report(&setup.repo.work);
    let denied: Vec<&str> = report["permission_denials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["tool"].as_str().unwrap())
        .collect();
    assert_eq!(denied, ["Write", "Bash", "Bash"], "{report}");
    assert_eq!(report["permission_denials"][0]["input"], "README.md");
    // The read-only command ran: its output went back to the model.
    let requests = api.requests();
    let after_log = requests
        .iter()
        .find(|r| r.turn == Some(4))
        .expect("a fifth turn");
    assert!(
        after_log.body["messages"]
            .to_string()
            .contains("Initial commit"),
        "git log ran"
    );
}

#[test]
fn the_real_cli_stops_at_the_turn_limit() {
    let Some(claude) = claude() else { return };
    let mut setup = setup(&claude);
    let root = setup.root.clone();
    let api = setup.api(vec![
        write(&root, ".impl/notes.md", "one"),
        write(&root, ".impl/notes.md", "two"),
        write(&root, ".impl/notes.md", "three"),
        Turn::Text("Done.".into()),
    ]);
    let out = run_plan(&setup, &api, &["--max-turns", "2"]);
    assert_eq!(out.status.code(), Some(1));
    let json = stdout_json(&out);
    assert_eq!(
        json["message"].as_str().unwrap().split(':').next(),
        Some("the planning session reached its turn limit")
    );
    assert_eq!(plan_report(&setup.repo.work)["outcome"], "turn_limit");
}
