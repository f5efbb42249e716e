//! What the tests of the real agent CLIs (`real_codex`, `real_gemini`, `real_claude`) share:
//! finding the CLI `scripts/install-test-tools.sh` installed at its pinned version, the plan
//! the scripted planners write, and the runs and checks that are the same for every CLI
//! against its scripted fake model API.

#![allow(clippy::print_stderr)]

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

use crate::agent_fakes::plan_report;
use crate::support::github::World;
use crate::support::{TestEnv, TestRepo, stdout_json};

/// The two-step plan the scripted planners write.
pub const PLAN: &str = "# Add a greeting\n\nAdds two files.\n\n## Steps\n\n### Step 1: Write one\n\nCreate src/one.txt.\n\n### Step 2: Write two\n\nCreate src/two.txt with a shell command.\n";
pub const PLAN_RESULT: &str = r#"{"title": "Add a greeting", "summary": "Adds two files."}"#;

/// The token oneshot is given, which no request to a model API may carry.
pub const GITHUB_TOKEN: &str = "ghs_must_not_reach_the_agent";

/// `.tools/node_modules/.bin/<name>` at `version`, or `None` (after saying why) when the test
/// should be skipped; in CI a missing CLI fails the test.
pub fn installed(name: &str, version: &str) -> Option<PathBuf> {
    let bin = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(".tools/node_modules/.bin")
        .join(name);
    if !bin.exists() {
        let message = format!(
            "the {name} CLI is not installed at {}: run scripts/install-test-tools.sh",
            bin.display()
        );
        if std::env::var_os("CI").is_some() {
            panic!("{message}");
        }
        eprintln!("SKIPPED: {message}");
        return None;
    }
    let out = std::process::Command::new(&bin)
        .arg("--version")
        .output()
        .unwrap();
    let reported = String::from_utf8_lossy(&out.stdout);
    assert!(
        reported.split_whitespace().any(|w| w == version),
        "{} is version {reported:?}, the tests expect {version}: run scripts/install-test-tools.sh",
        bin.display()
    );
    Some(bin)
}

/// A fresh environment whose PATH finds the CLI at `cli`, holding a GitHub token that must not
/// reach the agent.
pub fn env_for(cli: &Path) -> TestEnv {
    let mut env = TestEnv::new();
    env.prepend_path(cli.parent().unwrap());
    env.set("GITHUB_TOKEN", GITHUB_TOKEN);
    env
}

/// What a fake model API logged, as the shared checks read it.
pub trait FakeApi {
    /// The requests as lines, for failure messages.
    fn describe(&self) -> String;
    /// Which session and turn answered each request, if a script did.
    fn answered(&self) -> Vec<Option<(usize, usize)>>;
    /// The body of each request.
    fn bodies(&self) -> Vec<Value>;
}

impl FakeApi for crate::fake_openai::FakeOpenAi {
    fn describe(&self) -> String {
        self.describe()
    }
    fn answered(&self) -> Vec<Option<(usize, usize)>> {
        self.requests().iter().map(|r| r.answered).collect()
    }
    fn bodies(&self) -> Vec<Value> {
        self.requests().into_iter().map(|r| r.body).collect()
    }
}

impl FakeApi for crate::fake_gemini::FakeGemini {
    fn describe(&self) -> String {
        self.describe()
    }
    fn answered(&self) -> Vec<Option<(usize, usize)>> {
        self.requests().iter().map(|r| r.answered).collect()
    }
    fn bodies(&self) -> Vec<Value> {
        self.requests().into_iter().map(|r| r.body).collect()
    }
}

/// oneshot's exit, output and the requests to the fake API, for failure messages.
pub fn show(out: &Output, api: &dyn FakeApi) -> String {
    format!(
        "oneshot exited with {:?}\nstdout:\n{}\nstderr:\n{}\nrequests to the fake API:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        api.describe()
    )
}

/// `oneshot exec run-plan --agent <agent>` with a 3-minute timeout and `args`.
pub fn run_plan(env: &TestEnv, repo: &TestRepo, agent: &str, args: &[&str]) -> Output {
    env.oneshot(&repo.work)
        .args([
            "exec",
            "run-plan",
            "--agent",
            agent,
            "--timeout-minutes",
            "3",
        ])
        .args(args)
        .output()
        .unwrap()
}

pub fn assert_no_token_reached(api: &dyn FakeApi) {
    assert!(
        !api.bodies()
            .iter()
            .any(|body| body.to_string().contains(GITHUB_TOKEN))
    );
}

/// `oneshot run --agent <agent> --json` of the task [`PLAN`] answers, in `repo`: it succeeds
/// with both steps committed on its branch, each of the three sessions (plan, two steps)
/// reaching its last scripted turn, and no request carrying the GitHub token. Returns the
/// JSON result and the branch.
pub fn assert_runs_two_steps(
    env: &TestEnv,
    repo: &TestRepo,
    agent: &str,
    api: &dyn FakeApi,
) -> (Value, String) {
    let out = env
        .oneshot(&repo.work)
        .args([
            "run",
            "Add a greeting in two files",
            "--agent",
            agent,
            "--json",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", show(&out, api));
    let json = stdout_json(&out);
    assert_eq!(json["completed_steps"], 2, "{json}");
    let branch = json["branch"].as_str().unwrap().to_string();
    let subjects = env.git(
        &repo.work,
        [
            "log",
            "--reverse",
            "--format=%s",
            &format!("main..{branch}"),
        ],
    );
    assert_eq!(subjects, "Step 1: Write one\nStep 2: Write two\n");
    assert_eq!(
        env.git(&repo.work, ["show", &format!("{branch}:src/two.txt")]),
        "two\n"
    );

    // Each session's conversation reached its last scripted turn, on the endpoint configured.
    let answered: Vec<(usize, usize)> = api.answered().into_iter().flatten().collect();
    for expected in [(0, 2), (1, 1), (2, 1)] {
        assert!(
            answered.contains(&expected),
            "{expected:?}: {}",
            api.describe()
        );
    }
    assert_no_token_reached(api);
    (json, branch)
}

/// The branch the implement runs push.
pub const IMPLEMENT_BRANCH: &str = "oneshot-add-a-greeting-01-15-1430";

/// [`PLAN`] saved to an issue for a draft PR of [`IMPLEMENT_BRANCH`], then `exec run-implement
/// --agent <agent>`: it succeeds with both steps pushed, in order.
pub fn assert_implements_two_steps(w: &mut World, agent: &str, api: &dyn FakeApi) {
    let pr = w.draft_pr(IMPLEMENT_BRANCH);
    w.write_plan(PLAN);
    let saved = w
        .env
        .oneshot(&w.repo.work)
        .args(["exec", "plan-save-to-issue", "--pr", &pr.to_string()])
        .output()
        .unwrap();
    assert!(saved.status.success(), "{}", show(&saved, api));
    let issue = stdout_json(&saved)["issue_number"]
        .as_u64()
        .unwrap()
        .to_string();

    let out = w
        .env
        .oneshot(&w.repo.work)
        .args([
            "exec",
            "run-implement",
            "--agent",
            agent,
            "--issue",
            &issue,
            "--pr",
            &pr.to_string(),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", show(&out, api));
    let json = stdout_json(&out);
    assert_eq!(json["completed_steps"], 2, "{json}");
    let remote = w
        .env
        .git(&w.repo.origin, ["log", "--format=%s", IMPLEMENT_BRANCH]);
    assert!(
        remote.starts_with("Step 2: Write two\nStep 1: Write one\n"),
        "{remote}"
    );
}

/// The report of a planning session that failed: oneshot exited with 1 and the session's
/// outcome is "failed". `agent` names the session in failure messages. Returns the report and
/// its error.
pub fn assert_plan_failed(out: &Output, repo: &TestRepo, agent: &str) -> (Value, String) {
    assert_eq!(
        out.status.code(),
        Some(1),
        "{agent}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = plan_report(&repo.work);
    assert_eq!(report["outcome"], "failed", "{agent}: {report}");
    let error = report["error"].as_str().unwrap().to_string();
    (report, error)
}

/// The planning session of `agent`, whose API cannot be reached, fails (exit 1) on the
/// evidence, not by the 3-minute timeout: its error starts with `cause` and names the variable
/// `base_url_var` that points the CLI at its API.
pub fn assert_unreachable_api_ends_the_session(
    env: &TestEnv,
    repo: &TestRepo,
    agent: &str,
    cause: &str,
    base_url_var: &str,
) {
    let out = run_plan(env, repo, agent, &[]);
    let (_, error) = assert_plan_failed(&out, repo, agent);
    assert!(error.starts_with(cause), "{error}");
    assert!(error.contains(base_url_var), "{error}");
}
