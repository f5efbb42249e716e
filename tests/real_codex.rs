//! The real Codex CLI (`codex exec`, pinned by `scripts/install-test-tools.sh` into `.tools/`)
//! run by oneshot against the scripted fake Responses API (`fake_openai`): through `oneshot
//! run` and through `exec run-plan` / `exec run-implement`, with a dropped connection, an API
//! error and an API that cannot be reached. Without the CLI the tests fail in CI (`CI` set)
//! and are skipped, with a line that says so, elsewhere.

#![allow(clippy::print_stderr)]

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::{Value, json};

use crate::agent_fakes::{FakeAgent, plan_report, repo_with_task};
use crate::fake_http::unreachable_url;
use crate::fake_openai::{self as api, FakeOpenAi, Fault, Session, Turn, add_file, session, shell};
use crate::real_cli::{
    self, IMPLEMENT_BRANCH, PLAN, PLAN_RESULT, assert_implements_two_steps,
    assert_no_token_reached, assert_plan_failed, assert_runs_two_steps,
    assert_unreachable_api_ends_the_session, installed, show,
};
use crate::support::github::World;
use crate::support::{TestEnv, TestRepo, stdout_json};

/// The version `scripts/install-test-tools.sh` installs.
pub const CODEX_VERSION: &str = "0.169.0";

fn codex() -> Option<PathBuf> {
    installed("codex", CODEX_VERSION)
}

const PLAN_MARKER: &str = "oneshot: plan the task";

fn planner() -> Session {
    session(
        PLAN_MARKER,
        vec![
            add_file(".impl/plan.md", PLAN),
            add_file(".impl/plan-result.json", PLAN_RESULT),
            Turn::Text("Wrote the plan: Add a greeting (2 steps).".into()),
        ],
    )
}

fn steps() -> Vec<Session> {
    vec![
        session(
            "implement step 1 of the plan",
            vec![
                add_file("src/one.txt", "one"),
                Turn::Text("Wrote one.".into()),
            ],
        ),
        // A command through codex's sandbox (bubblewrap), not only its patch tool.
        session(
            "implement step 2 of the plan",
            vec![
                shell("mkdir -p src && printf 'two\\n' > src/two.txt"),
                Turn::Text("Wrote two.".into()),
            ],
        ),
    ]
}

fn env_for(codex: &Path) -> TestEnv {
    let mut env = real_cli::env_for(codex);
    env.set("OPENAI_API_KEY", "sk-fake");
    env
}

fn run_plan(env: &TestEnv, repo: &TestRepo, args: &[&str]) -> Output {
    real_cli::run_plan(env, repo, "codex", args)
}

/// A repository with a task, an environment whose OPENAI_BASE_URL is the fake, and the fake.
fn plan_setup(
    codex: &Path,
    sessions: Vec<Session>,
    fault: Fault,
) -> (TestEnv, TestRepo, FakeOpenAi) {
    let mut env = env_for(codex);
    let api = FakeOpenAi::start(sessions, fault);
    env.set("OPENAI_BASE_URL", api.url.clone());
    let repo = repo_with_task(&env, "Add a greeting in two files");
    (env, repo, api)
}

#[test]
fn codex_plans_and_implements_two_steps_through_oneshot_run() {
    let Some(codex) = codex() else { return };
    let mut env = env_for(&codex);
    let mut sessions = vec![planner()];
    sessions.extend(steps());
    let api = FakeOpenAi::start(sessions, Fault::None);
    env.set("OPENAI_BASE_URL", api.url.clone());
    let repo = env.repo_with_origin();
    let (json, branch) = assert_runs_two_steps(&env, &repo, "codex", &api);
    assert_eq!(json["plan_title"], "Add a greeting");
    assert_eq!(
        env.git(&repo.work, ["show", &format!("{branch}:src/one.txt")]),
        "one\n"
    );
}

#[test]
fn codex_writes_a_plan_through_exec_run_plan() {
    let Some(codex) = codex() else { return };
    let (env, repo, api) = plan_setup(&codex, vec![planner()], Fault::None);
    let out = run_plan(&env, &repo, &["--model", "s", "--budget-usd", "2"]);
    assert!(out.status.success(), "{}", show(&out, &api));
    assert_eq!(stdout_json(&out)["plan_success"], true);
    assert_eq!(repo.read(".impl/plan.md"), PLAN);

    let report = plan_report(&repo.work);
    assert_eq!(report["outcome"], "success", "{report}");
    assert_eq!(report["model"], "gpt-6.1-sol");
    assert_eq!(
        report["final_text"],
        "Wrote the plan: Add a greeting (2 steps)."
    );
    // Tokens of the three answers; the model has no price in the table, so no cost.
    assert_eq!(report["input_tokens"], 3 * api::INPUT_TOKENS, "{report}");
    assert_eq!(report["output_tokens"], 3 * api::OUTPUT_TOKENS, "{report}");
    assert_eq!(report["cost_usd"], Value::Null);
    assert_eq!(
        report["turns"], 3,
        "two file changes and the message: {report}"
    );
    // The shortcut named a model of codex's catalog: codex warns about no unknown model.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("warning: Model metadata"), "{stderr}");
    assert!(stderr.contains("tokens, cost unknown)"), "{stderr}");
    assert!(
        stderr.contains("note: codex has no budget limit and the price of gpt-6.1-sol is not known to oneshot, so the budget cannot be enforced"),
        "{stderr}"
    );
    assert_eq!(
        report["notes"][0]
            .as_str()
            .map(|n| n.contains("cannot be enforced")),
        Some(true),
        "{report}"
    );
    let requests = api.requests();
    assert!(
        requests
            .iter()
            .all(|r| r.target == "/v1/responses" && r.body["model"] == "gpt-6.1-sol"),
        "{}",
        api.describe()
    );
    assert_eq!(requests[0].body["stream"], true);
    assert_no_token_reached(&api);
}

#[test]
fn codex_implements_two_steps_through_exec_run_implement() {
    let Some(codex) = codex() else { return };
    let mut w = World::new();
    w.env.prepend_path(codex.parent().unwrap());
    w.env.set("OPENAI_API_KEY", "sk-fake");
    let api = FakeOpenAi::start(steps(), Fault::None);
    w.env.set("OPENAI_BASE_URL", api.url.clone());
    assert_implements_two_steps(&mut w, "codex", &api);
    assert_eq!(
        w.env.git(
            &w.repo.origin,
            ["show", &format!("{IMPLEMENT_BRANCH}:src/two.txt")]
        ),
        "two\n"
    );
}

#[test]
fn codex_recovers_from_a_dropped_connection() {
    let Some(codex) = codex() else { return };
    let (env, repo, api) = plan_setup(&codex, vec![planner()], Fault::DisconnectOnce { turn: 1 });
    let out = run_plan(&env, &repo, &[]);
    assert!(out.status.success(), "{}", show(&out, &api));
    let report = plan_report(&repo.work);
    assert_eq!(report["outcome"], "success", "{report}");
    assert_eq!(report["error"], Value::Null);
    let requests = api.requests();
    assert!(requests.iter().any(|r| r.cut), "{}", api.describe());
    assert_eq!(
        requests
            .iter()
            .filter(|r| r.answered == Some((0, 1)))
            .count(),
        2,
        "{}",
        api.describe()
    );
    // The retry is in the live log as a note, not as an error.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("retrying: 1/5 (stream disconnected before completion"),
        "{stderr}"
    );
    assert_eq!(repo.read(".impl/plan.md"), PLAN);
}

#[test]
fn an_api_error_fails_the_codex_session_with_the_apis_message() {
    let Some(codex) = codex() else { return };
    let fault = Fault::Status {
        code: 400,
        message: "fake model API says no".into(),
    };
    let (env, repo, api) = plan_setup(&codex, vec![planner()], fault);
    let out = run_plan(&env, &repo, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out, &api));
    let json = stdout_json(&out);
    let report = plan_report(&repo.work);
    assert_eq!(report["outcome"], "failed");
    assert_eq!(report["error"], "fake model API says no", "{report}");
    assert!(
        json.to_string().contains("fake model API says no"),
        "{json}"
    );
}

#[test]
fn an_unreachable_api_ends_the_codex_session_with_the_cause() {
    let Some(codex) = codex() else { return };
    let mut env = env_for(&codex);
    env.set("OPENAI_BASE_URL", format!("{}/v1", unreachable_url()));
    let repo = repo_with_task(&env, "Add a greeting in two files");
    assert_unreachable_api_ends_the_session(
        &env,
        &repo,
        "codex",
        "codex cannot reach the model API (Reconnecting... waiting for network",
        "OPENAI_BASE_URL",
    );
}

#[test]
fn a_session_whose_commands_all_failed_in_bubblewrap_fails() {
    // The events codex 0.169 prints where bubblewrap cannot create its namespaces (GitHub's
    // ubuntu-24.04 runners): every command fails, and the session itself ends "completed".
    let mut env = TestEnv::new();
    let agent = FakeAgent::install(&mut env, "codex");
    let command = |id: &str| {
        json!({"emit": {"type": "item.completed", "item": {"id": id, "type": "command_execution",
            "command": "/bin/bash -lc 'ls'", "aggregated_output": "bwrap: loopback: Failed RTM_NEWADDR: Operation not permitted\n",
            "exit_code": 1, "status": "failed"}}})
    };
    agent.script(vec![
        json!({"emit": {"type": "thread.started", "thread_id": "t"}}),
        json!({"emit": {"type": "turn.started"}}),
        command("item_0"),
        command("item_1"),
        json!({"emit": {"type": "item.completed", "item": {"id": "item_2", "type": "agent_message", "text": "I could not run anything."}}}),
        json!({"emit": {"type": "turn.completed", "usage": {"input_tokens": 10, "cached_input_tokens": 0, "cache_write_input_tokens": 0, "output_tokens": 5, "reasoning_output_tokens": 0}}}),
        json!({"exit": 0}),
    ]);
    let repo = repo_with_task(&env, "Add a greeting");
    let out = run_plan(&env, &repo, &[]);
    let (_, error) = assert_plan_failed(&out, &repo, "codex");
    assert!(
        error.starts_with("all 2 commands codex ran failed in its sandbox (bwrap: loopback"),
        "{error}"
    );
    assert!(
        error.contains("kernel.apparmor_restrict_unprivileged_userns=0"),
        "{error}"
    );
}

#[test]
fn the_codex_shortcuts_name_models_of_the_pinned_cli_catalog() {
    let Some(codex) = codex() else { return };
    let home = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(&codex)
        .args(["debug", "models", "--bundled"])
        .env("CODEX_HOME", home.path())
        .env("HOME", home.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let catalog: Value = serde_json::from_slice(&out.stdout).unwrap();
    let listed: Vec<&str> = catalog["models"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["visibility"] == "list")
        .map(|m| m["slug"].as_str().unwrap())
        .collect();
    // The codex column of the one model table in the code.
    let spec = include_str!("../src/agent/spec.rs");
    let table: Vec<&str> = spec
        .lines()
        .filter(|l| l.trim_start().starts_with("(ModelTier::"))
        .map(|l| l.split('"').nth(3).unwrap())
        .collect();
    assert_eq!(table.len(), 3, "{table:?}");
    for model in table {
        assert!(
            listed.contains(&model),
            "{model} is not in codex {CODEX_VERSION}'s catalog: {listed:?}"
        );
    }
}

#[test]
fn the_install_script_pins_the_same_codex_and_gemini_versions() {
    let script = include_str!("../scripts/install-test-tools.sh");
    assert!(script.contains(&format!("\nCODEX_VERSION={CODEX_VERSION}\n")));
    assert!(script.contains(&format!(
        "\nGEMINI_CLI_VERSION={}\n",
        crate::real_gemini::GEMINI_CLI_VERSION
    )));
}

/// The verdict that ends a session does not depend on the real CLIs being installed: a fake
/// codex that says it cannot reach the network twice and then hangs is ended with the cause,
/// long before its timeout; a fake gemini that says so on stderr too.
#[test]
fn agents_that_retry_an_unreachable_api_forever_are_ended_with_the_cause() {
    let offline = json!({"emit": {"type": "error", "message": "Reconnecting... waiting for network (Connection failed: error sending request)"}});
    for (agent, steps, expected) in [
        (
            "codex",
            vec![
                json!({"emit": {"type": "thread.started", "thread_id": "t"}}),
                json!({"emit": {"type": "turn.started"}}),
                offline.clone(),
                offline.clone(),
            ],
            "codex cannot reach the model API (Reconnecting... waiting for network",
        ),
        (
            "gemini",
            vec![
                json!({"emit": {"type": "init", "session_id": "s", "model": "auto"}}),
                json!({"stderr": "Attempt 1 failed. Retrying with backoff... Error: exception TypeError: fetch failed sending request"}),
                json!({"stderr": "Attempt 2 failed. Retrying with backoff... Error: exception TypeError: fetch failed sending request"}),
            ],
            "gemini cannot reach the model API (Attempt 2 failed.",
        ),
    ] {
        let mut env = TestEnv::new();
        let fake = FakeAgent::install(&mut env, agent);
        let mut steps = steps;
        steps.push(json!({"sleep_ms": 600_000}));
        fake.script(steps);
        let repo = repo_with_task(&env, "Add a greeting");
        let out = env
            .oneshot(&repo.work)
            .args([
                "exec",
                "run-plan",
                "--agent",
                agent,
                "--timeout-minutes",
                "10",
            ])
            .output()
            .unwrap();
        let (report, error) = assert_plan_failed(&out, &repo, agent);
        assert!(error.starts_with(expected), "{agent}: {error}");
        assert_eq!(report["signal"], 15, "ended by oneshot's SIGTERM: {report}");
    }
}
