//! The real Gemini CLI (pinned by `scripts/install-test-tools.sh` into `.tools/`) run by oneshot
//! against the scripted fake Gemini API (`fake_gemini`) through `GOOGLE_GEMINI_BASE_URL`: through
//! `oneshot run` and through `exec run-plan` / `exec run-implement`, in fresh checkouts it has
//! never trusted, with a dropped connection, an API error and an API that cannot be reached.
//! Without the CLI the tests fail in CI (`CI` set) and are skipped elsewhere.

#![allow(clippy::print_stderr)]

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::agent_fakes::{plan_report, repo_with_task};
use crate::fake_gemini::{
    self as api, FakeGemini, Fault, Session, Turn, session, shell, write_file,
};
use crate::fake_http::unreachable_url;
use crate::real_cli::{
    self, IMPLEMENT_BRANCH, PLAN, PLAN_RESULT, assert_implements_two_steps, assert_runs_two_steps,
    assert_unreachable_api_ends_the_session, installed, show,
};
use crate::support::github::World;
use crate::support::{TestEnv, TestRepo};

/// The version `scripts/install-test-tools.sh` installs.
pub const GEMINI_CLI_VERSION: &str = "0.61.0";

fn gemini() -> Option<PathBuf> {
    installed("gemini", GEMINI_CLI_VERSION)
}

fn planner() -> Session {
    session(
        "oneshot: plan the task",
        vec![
            write_file(".impl/plan.md", PLAN),
            write_file(".impl/plan-result.json", PLAN_RESULT),
            Turn::Text("Wrote the plan: Add a greeting (2 steps).".into()),
        ],
    )
}

fn steps() -> Vec<Session> {
    vec![
        session(
            "implement step 1 of the plan",
            vec![
                write_file("src/one.txt", "one\n"),
                Turn::Text("Wrote one.".into()),
            ],
        ),
        session(
            "implement step 2 of the plan",
            vec![
                shell("mkdir -p src && printf 'two\\n' > src/two.txt"),
                Turn::Text("Wrote two.".into()),
            ],
        ),
    ]
}

/// HOME holds a `~/.gemini/settings.json` of the user's, which must stay as it is.
const USER_SETTINGS: &str = r#"{"ui":{"hideTips":true}}"#;

fn env_for(gemini: &Path, base_url: &str) -> TestEnv {
    let mut env = real_cli::env_for(gemini);
    env.set("GEMINI_API_KEY", "fake-gemini-key");
    env.set("GOOGLE_GEMINI_BASE_URL", base_url);
    let settings = env.home.join(".gemini/settings.json");
    std::fs::create_dir_all(settings.parent().unwrap()).unwrap();
    std::fs::write(&settings, USER_SETTINGS).unwrap();
    env
}

fn assert_user_settings_untouched(env: &TestEnv) {
    assert_eq!(
        std::fs::read_to_string(env.home.join(".gemini/settings.json")).unwrap(),
        USER_SETTINGS
    );
}

fn run_plan(env: &TestEnv, repo: &TestRepo, args: &[&str]) -> Output {
    real_cli::run_plan(env, repo, "gemini", args)
}

fn plan_setup(gemini: &Path, fault: Fault) -> (TestEnv, TestRepo, FakeGemini) {
    let api = FakeGemini::start(vec![planner()], fault);
    let env = env_for(gemini, &api.url);
    let repo = repo_with_task(&env, "Add a greeting in two files");
    (env, repo, api)
}

#[test]
fn gemini_plans_and_implements_two_steps_through_oneshot_run() {
    let Some(gemini) = gemini() else { return };
    let mut sessions = vec![planner()];
    sessions.extend(steps());
    let api = FakeGemini::start(sessions, Fault::None);
    let env = env_for(&gemini, &api.url);
    let repo = env.repo_with_origin();
    assert_runs_two_steps(&env, &repo, "gemini", &api);
    assert_user_settings_untouched(&env);
}

#[test]
fn gemini_writes_a_plan_in_an_untrusted_checkout_through_exec_run_plan() {
    let Some(gemini) = gemini() else { return };
    let (env, repo, api) = plan_setup(&gemini, Fault::None);
    let out = run_plan(&env, &repo, &[]);
    assert!(out.status.success(), "{}", show(&out, &api));
    assert_eq!(repo.read(".impl/plan.md"), PLAN);
    let report = plan_report(&repo.work);
    assert_eq!(report["outcome"], "success", "{report}");
    assert_eq!(
        report["final_text"],
        "Wrote the plan: Add a greeting (2 steps)."
    );
    // The models really used, from result.stats.models: the main model and the router's.
    let requests = api.requests();
    let main_model = requests.iter().find(|r| !r.routing).unwrap().model.clone();
    let routing_model = requests.iter().find(|r| r.routing).map(|r| r.model.clone());
    let model = report["model"].as_str().unwrap();
    assert!(
        model.starts_with(&main_model),
        "{model} vs {}",
        api.describe()
    );
    if let Some(routing) = routing_model {
        assert!(model.contains(&routing), "{model}");
    }
    assert!(
        report["input_tokens"].as_u64().unwrap() >= 3 * api::INPUT_TOKENS,
        "{report}"
    );
    assert!(
        report["output_tokens"].as_u64().unwrap() >= 3 * api::OUTPUT_TOKENS,
        "{report}"
    );
    assert_user_settings_untouched(&env);
}

#[test]
fn gemini_implements_two_steps_through_exec_run_implement() {
    let Some(gemini) = gemini() else { return };
    let api = FakeGemini::start(steps(), Fault::None);
    let mut w = World::new();
    w.env.prepend_path(gemini.parent().unwrap());
    w.env.set("GEMINI_API_KEY", "fake-gemini-key");
    w.env.set("GOOGLE_GEMINI_BASE_URL", api.url.clone());
    assert_implements_two_steps(&mut w, "gemini", &api);
    assert_eq!(
        w.env.git(
            &w.repo.origin,
            ["show", &format!("{IMPLEMENT_BRANCH}:src/one.txt")]
        ),
        "one\n"
    );
}

#[test]
fn gemini_recovers_from_a_dropped_connection() {
    let Some(gemini) = gemini() else { return };
    let (env, repo, api) = plan_setup(&gemini, Fault::DisconnectOnce { turn: 1 });
    let out = run_plan(&env, &repo, &[]);
    assert!(out.status.success(), "{}", show(&out, &api));
    assert_eq!(plan_report(&repo.work)["outcome"], "success");
    let requests = api.requests();
    assert!(requests.iter().any(|r| r.cut), "{}", api.describe());
    assert!(
        requests
            .iter()
            .filter(|r| r.answered == Some((0, 1)))
            .count()
            >= 2,
        "{}",
        api.describe()
    );
    assert_eq!(repo.read(".impl/plan.md"), PLAN);
}

#[test]
fn an_api_error_fails_the_gemini_session_with_the_apis_message() {
    let Some(gemini) = gemini() else { return };
    let fault = Fault::Status {
        code: 400,
        message: "fake Gemini API says no".into(),
    };
    let (env, repo, api) = plan_setup(&gemini, fault);
    let out = run_plan(&env, &repo, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out, &api));
    let report = plan_report(&repo.work);
    assert_eq!(report["outcome"], "failed");
    assert_eq!(report["exit_code"], 144);
    let error = report["error"].as_str().unwrap();
    assert!(
        error.starts_with("fake Gemini API says no (HTTP 400 from the Gemini API)"),
        "{error}"
    );
    assert!(error.contains("the API answered HTTP 400"), "{error}");
}

#[test]
fn an_unreachable_api_ends_the_gemini_session_with_the_cause() {
    let Some(gemini) = gemini() else { return };
    let env = env_for(&gemini, &unreachable_url());
    let repo = repo_with_task(&env, "Add a greeting in two files");
    assert_unreachable_api_ends_the_session(
        &env,
        &repo,
        "gemini",
        "gemini cannot reach the model API (Attempt 2 failed.",
        "GOOGLE_GEMINI_BASE_URL",
    );
}
