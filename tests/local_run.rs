//! `oneshot run`: the whole one-shot on the local machine with the fake agent, no GitHub (no
//! token and no API URL are set, so any GitHub call would fail).

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::{Value, json};

use crate::agent_fakes::{FakeAgent, init, result, write};
use crate::support::github::PLAN;
use crate::support::{TestEnv, TestRepo, filter, render, stdout_json};

pub(crate) const TASK: &str = "Add a --verbose flag to the submit command";

pub(crate) struct Local {
    pub env: TestEnv,
    pub agent: FakeAgent,
    pub repo: TestRepo,
}

pub(crate) fn setup() -> Local {
    let mut env = TestEnv::new();
    let agent = FakeAgent::install(&mut env, "claude");
    let repo = env.repo_with_origin();
    Local { env, agent, repo }
}

/// The planning session: writes the plan and the result file, succeeds.
pub(crate) fn planning(plan: &str) -> Vec<Value> {
    let result_file = json!({"title": "Add a --verbose flag to submit", "summary": "x"});
    vec![
        init(),
        write(".impl/plan.md", plan),
        write(".impl/plan-result.json", &result_file.to_string()),
        result("success", false, "Wrote the plan."),
    ]
}

/// A step session that writes one file and succeeds.
pub(crate) fn step(path: &str, content: &str) -> Vec<Value> {
    vec![
        init(),
        write(path, content),
        result("success", false, "Done."),
    ]
}

fn failing_step() -> Vec<Value> {
    vec![
        init(),
        write("src/partial.txt", "half done\n"),
        result(
            "error_during_execution",
            true,
            "I could not finish: the API is down.",
        ),
    ]
}

impl Local {
    pub(crate) fn run(&self, args: &[&str]) -> Output {
        self.env
            .oneshot(&self.repo.work)
            .arg("run")
            .args(args)
            .output()
            .unwrap()
    }

    pub(crate) fn git(&self, args: &[&str]) -> String {
        self.env.git(&self.repo.work, args)
    }

    /// Commit subjects on `branch` after main, oldest first.
    pub(crate) fn subjects(&self, branch: &str) -> Vec<String> {
        self.git(&[
            "log",
            "--reverse",
            "--format=%s",
            &format!("main..{branch}"),
        ])
        .lines()
        .map(str::to_string)
        .collect()
    }

    pub(crate) fn store(&self, branch: &str) -> PathBuf {
        self.repo.work.join(".git/oneshot/plans").join(branch)
    }

    pub(crate) fn state(&self, branch: &str) -> Value {
        let text = std::fs::read_to_string(self.store(branch).join("state.json")).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    pub(crate) fn cache(&self) -> PathBuf {
        self.env.home.join(".cache/oneshot/worktrees")
    }
}

pub(crate) fn text(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

pub(crate) fn states(state: &Value) -> Vec<(u64, String)> {
    state["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["number"].as_u64().unwrap(),
                s["state"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

pub(crate) fn expect(list: &[(u64, &str)]) -> Vec<(u64, String)> {
    list.iter().map(|(n, s)| (*n, s.to_string())).collect()
}

/// Everything about a checkout that `oneshot run` must leave as it was.
fn checkout_snapshot(l: &Local) -> String {
    [
        l.git(&["status", "--porcelain=v1", "--untracked-files=all"]),
        l.git(&["diff"]),
        l.git(&["diff", "--cached"]),
        l.git(&["rev-parse", "HEAD"]),
        l.git(&["symbolic-ref", "HEAD"]),
        l.git(&["stash", "list"]),
        std::fs::read_to_string(l.repo.work.join("README.md")).unwrap(),
        std::fs::read_to_string(l.repo.work.join("notes.txt")).unwrap(),
    ]
    .join("\n--\n")
}

#[test]
fn a_full_local_run_plans_then_commits_three_steps_without_touching_the_checkout() {
    let l = setup();
    // Uncommitted work of every kind: a modified file, a staged file, an untracked file.
    l.repo.write("README.md", "# demo\nmy unfinished edit\n");
    l.repo.write("staged.txt", "staged\n");
    l.git(&["add", "staged.txt"]);
    l.repo.write("notes.txt", "untracked notes\n");
    let before = checkout_snapshot(&l);

    l.agent.script_for(1, planning(PLAN));
    for n in 1..=3 {
        l.agent.script_for(
            n + 1,
            step(&format!("src/step{n}.txt"), &format!("step {n}\n")),
        );
    }
    let out = l.run(&[TASK, "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let json = stdout_json(&out);
    assert_eq!(json["success"], true);
    let branch = json["branch"].as_str().unwrap().to_string();
    assert_eq!(branch, "oneshot-add-a-verbose-flag-to-t-01-15-1430");
    assert_eq!(json["completed_steps"], 3);
    assert_eq!(json["failed_step"], Value::Null);
    assert_eq!(json["plan_title"], "Add a --verbose flag to submit");
    // The plan and three steps at $0.0421 each.
    assert_eq!(json["cost_usd"], 0.1684);
    assert!(json["duration_s"].as_f64().unwrap() < 30.0);
    assert_eq!(json["steps"].as_array().unwrap().len(), 3);

    // The branch: three step commits on top of the commit the checkout was at.
    assert_eq!(
        l.subjects(&branch),
        vec![
            "Step 1: Parse the flag",
            "Step 2: Print requests",
            "Step 3: Document it"
        ]
    );
    assert_eq!(
        l.git(&["rev-parse", &format!("{branch}~3")]),
        l.git(&["rev-parse", "main"])
    );
    assert_eq!(
        l.git(&["diff", "--name-only", "main", &branch]),
        "src/step1.txt\nsrc/step2.txt\nsrc/step3.txt\n",
        "only the steps' files: no task file, no .impl/, none of the checkout's uncommitted changes"
    );
    // Nothing was pushed.
    assert_eq!(
        l.env
            .git(&l.repo.origin, ["branch", "--list", &branch])
            .trim(),
        ""
    );

    // The checkout: exactly as before.
    assert_eq!(checkout_snapshot(&l), before);
    assert!(!l.repo.work.join("src").exists());

    // The work tree: outside the checkout and outside .git, on the branch.
    let worktree = PathBuf::from(json["worktree"].as_str().unwrap());
    assert!(worktree.starts_with(l.cache()), "{}", worktree.display());
    assert_eq!(
        l.env
            .git(&worktree, ["symbolic-ref", "--short", "HEAD"])
            .trim(),
        branch
    );
    assert_eq!(
        std::fs::read_to_string(worktree.join("src/step3.txt")).unwrap(),
        "step 3\n"
    );

    // The plan store.
    let store = l.store(&branch);
    assert_eq!(
        std::fs::read_to_string(store.join("task.md")).unwrap(),
        TASK
    );
    assert_eq!(
        std::fs::read_to_string(store.join("plan.md")).unwrap(),
        PLAN
    );
    let state = l.state(&branch);
    assert_eq!(state["phase"], "done");
    assert_eq!(
        states(&state),
        expect(&[(1, "done"), (2, "done"), (3, "done")])
    );
    for report in [
        "plan.json",
        "implement-step1-1.json",
        "implement-step3-1.jsonl",
    ] {
        assert!(store.join("runs").join(report).is_file(), "{report}");
    }
    let summary = std::fs::read_to_string(store.join("summary.md")).unwrap();
    assert!(summary.contains("3 steps · 3 files changed"), "{summary}");

    // The planner got the task; each step session ran in the work tree.
    let calls = l.agent.invocations();
    assert_eq!(calls.len(), 4);
    assert!(calls[0]["stdin"].as_str().unwrap().contains(TASK));
    for call in &calls {
        assert_eq!(
            Path::new(call["cwd"].as_str().unwrap())
                .canonicalize()
                .unwrap(),
            worktree.canonicalize().unwrap()
        );
    }
    // Live progress on stderr.
    let stderr = String::from_utf8_lossy(&out.stderr);
    for line in [
        "==> Planning session: claude",
        "==> Step 1: Parse the flag",
        "Step 3 done in",
    ] {
        assert!(stderr.contains(line), "missing {line:?}:\n{stderr}");
    }
}

#[test]
fn without_json_the_summary_names_the_steps_commits_and_how_to_review() {
    let l = setup();
    l.agent.script_for(1, planning(PLAN));
    for n in 1..=3 {
        l.agent
            .script_for(n + 1, step(&format!("src/step{n}.txt"), "x\n"));
    }
    let out = l.run(&[TASK]);
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let branch = "oneshot-add-a-verbose-flag-to-t-01-15-1430";
    let head = l.git(&["rev-parse", "--short=7", branch]);
    for expected in [
        &format!("Add a --verbose flag to submit: 3 of 3 steps done on {branch}"),
        "3. Document it",
        head.trim(),
        "3 steps · 3 files changed",
        "$0.17",
        &format!("git log main..{branch}"),
        &format!("git diff main...{branch}"),
        &format!("git push origin {branch}"),
    ] {
        assert!(stdout.contains(expected), "missing {expected:?}:\n{stdout}");
    }
}

#[test]
fn push_sends_each_step_to_origin() {
    let l = setup();
    l.agent.script_for(1, planning(PLAN));
    for n in 1..=3 {
        l.agent
            .script_for(n + 1, step(&format!("src/step{n}.txt"), "x\n"));
    }
    let out = l.run(&[TASK, "--push", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let branch = stdout_json(&out)["branch"].as_str().unwrap().to_string();
    assert_eq!(
        l.env.git(&l.repo.origin, ["rev-parse", &branch]),
        l.git(&["rev-parse", &branch])
    );
    assert_eq!(l.state(&branch)["pushed"], true);
}

#[test]
fn a_failure_at_step_two_stops_there_and_resume_finishes() {
    let l = setup();
    l.agent.script_for(1, planning(PLAN));
    l.agent.script_for(2, step("src/step1.txt", "one\n"));
    l.agent.script_for(3, failing_step());
    let out = l.run(&[TASK, "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let json = stdout_json(&out);
    assert_eq!(json["success"], false);
    assert_eq!(json["error_type"], "step_failed");
    assert!(
        json["message"]
            .as_str()
            .unwrap()
            .contains("step 2 (Print requests) failed"),
        "{json}"
    );
    let branch = json["branch"].as_str().unwrap().to_string();
    assert_eq!(json["failed_step"], 2);
    assert_eq!(json["completed_steps"], 1);
    let resume = format!("oneshot run --resume {branch}");
    assert!(
        json["hints"][0].as_str().unwrap().contains(&resume),
        "{json}"
    );

    assert_eq!(l.subjects(&branch), vec!["Step 1: Parse the flag"]);
    let state = l.state(&branch);
    assert_eq!(state["phase"], "failed");
    assert_eq!(
        states(&state),
        expect(&[(1, "done"), (2, "failed"), (3, "not_started")])
    );
    let store = l.store(&branch);
    let failure = std::fs::read_to_string(store.join("failure.md")).unwrap();
    for expected in [
        "Step 2: Print requests failed",
        "I could not finish: the API is down.",
        "+half done",
        &resume,
    ] {
        assert!(
            failure.contains(expected),
            "missing {expected:?}:\n{failure}"
        );
    }
    assert!(store.join("runs/step-2-partial.patch").is_file());
    // The report is printed too.
    assert!(String::from_utf8_lossy(&out.stderr).contains("I could not finish"));

    // Resume: step 2 again (from a clean work tree), then step 3.
    l.agent.script_for(4, step("src/step2.txt", "two\n"));
    l.agent.script_for(5, step("src/step3.txt", "three\n"));
    let out = l.run(&["--resume", &branch, "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let json = stdout_json(&out);
    assert_eq!(json["completed_steps"], 3);
    assert_eq!(
        l.subjects(&branch),
        vec![
            "Step 1: Parse the flag",
            "Step 2: Print requests",
            "Step 3: Document it"
        ]
    );
    assert_eq!(
        l.git(&["diff", "--name-only", "main", &branch]),
        "src/step1.txt\nsrc/step2.txt\nsrc/step3.txt\n",
        "the failed attempt's partial work is not committed"
    );
    assert_eq!(l.state(&branch)["phase"], "done");
    assert_eq!(l.agent.invocations().len(), 5, "no second planning session");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("the failed step's partial work"),
        "{stderr}"
    );

    // Resuming a finished run says so.
    let out = l.run(&["--resume", &branch]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("every step of"));
}

#[test]
fn resume_makes_a_removed_work_tree_again_and_from_step_repeats_a_step() {
    let l = setup();
    l.agent.script_for(1, planning(PLAN));
    l.agent.script_for(2, step("src/step1.txt", "one\n"));
    l.agent.script_for(3, failing_step());
    let out = l.run(&[TASK, "--json"]);
    let json = stdout_json(&out);
    let branch = json["branch"].as_str().unwrap().to_string();
    let worktree = PathBuf::from(json["worktree"].as_str().unwrap());
    std::fs::remove_dir_all(&worktree).unwrap();

    for n in 4..=6 {
        l.agent
            .script_for(n, step(&format!("src/again{n}.txt"), "x\n"));
    }
    let out = l.run(&["--resume", &branch, "--from-step", "1"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(worktree.join("src/again6.txt").is_file());
    assert_eq!(
        l.subjects(&branch),
        vec![
            "Step 1: Parse the flag",
            "Step 1: Parse the flag",
            "Step 2: Print requests",
            "Step 3: Document it"
        ]
    );
}

#[test]
fn plan_only_stops_after_the_plan_and_an_edited_plan_is_what_gets_implemented() {
    let l = setup();
    l.agent.script_for(1, planning(PLAN));
    let out = l.run(&[TASK, "--plan-only", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let json = stdout_json(&out);
    assert_eq!(json["plan_only"], true);
    assert_eq!(json["step_count"], 3);
    assert_eq!(json["completed_steps"], 0);
    let branch = json["branch"].as_str().unwrap().to_string();
    assert_eq!(l.agent.invocations().len(), 1, "only the planner ran");
    assert!(l.subjects(&branch).is_empty(), "nothing is committed");
    let state = l.state(&branch);
    assert_eq!(state["phase"], "planned");
    assert_eq!(
        states(&state),
        expect(&[(1, "queued"), (2, "queued"), (3, "queued")])
    );

    // A person edits step 3 in the store before implementing.
    let plan_path = l.store(&branch).join("plan.md");
    assert_eq!(json["plan"], plan_path.display().to_string());
    let plan = std::fs::read_to_string(&plan_path).unwrap();
    let edited = plan.replace(
        "### Step 3: Document it",
        "### Step 3: Document it in the changelog",
    );
    assert_ne!(plan, edited);
    std::fs::write(&plan_path, edited).unwrap();

    for n in 2..=4 {
        l.agent
            .script_for(n, step(&format!("src/step{n}.txt"), "x\n"));
    }
    let out = l.run(&["--resume", &branch]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        l.subjects(&branch).last().unwrap(),
        "Step 3: Document it in the changelog"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("Using the edited plan"));
}

#[test]
fn a_rejected_task_leaves_no_branch_and_says_why() {
    let l = setup();
    let rejection =
        json!({"rejected": true, "reason": "The task is ambiguous: which submit command?"});
    l.agent.script_for(
        1,
        vec![
            init(),
            write(".impl/plan-result.json", &rejection.to_string()),
            result("success", false, "Rejected."),
        ],
    );
    let out = l.run(&[TASK, "--json"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let json = stdout_json(&out);
    assert_eq!(json["success"], false);
    assert_eq!(json["error_type"], "invalid_input");
    assert_eq!(json["rejected"], true);
    assert_eq!(
        json["reason"],
        "The task is ambiguous: which submit command?"
    );
    assert!(
        json["message"]
            .as_str()
            .unwrap()
            .contains("rejected the task"),
        "{json}"
    );
    let branch = json["branch"].as_str().unwrap().to_string();
    // The empty branch and its work tree are gone; the store keeps the why.
    assert_eq!(l.git(&["branch", "--list", &branch]).trim(), "");
    assert!(!PathBuf::from(json["worktree"].as_str().unwrap()).exists());
    assert_eq!(l.state(&branch)["phase"], "rejected");
    assert!(l.store(&branch).join("runs/plan.json").is_file());
    // It cannot be resumed.
    let out = l.run(&["--resume", &branch]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("rejected the task"));
}

#[test]
fn an_invalid_plan_fails_and_a_fixed_plan_is_used_on_resume() {
    let l = setup();
    let broken = PLAN.replace("### Step 2: Print requests", "### Step 5: Print requests");
    l.agent.script_for(1, planning(&broken));
    let out = l.run(&[TASK, "--json"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let json = stdout_json(&out);
    let branch = json["branch"].as_str().unwrap().to_string();
    assert!(
        json["message"]
            .as_str()
            .unwrap()
            .contains("the plan in .impl/plan.md has"),
        "{json}"
    );
    assert_eq!(l.state(&branch)["phase"], "planning");
    // Fixed by hand in the store: the resume implements it without planning again.
    std::fs::write(l.store(&branch).join("plan.md"), PLAN).unwrap();
    for n in 2..=4 {
        l.agent
            .script_for(n, step(&format!("src/step{n}.txt"), "x\n"));
    }
    let out = l.run(&["--resume", &branch]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(l.subjects(&branch).len(), 3);
    assert_eq!(l.agent.invocations().len(), 4);
}

#[test]
fn without_an_agent_it_says_what_to_install_and_creates_nothing() {
    // No fake agent on PATH.
    let env = TestEnv::new();
    let repo = env.repo_with_origin();
    let before = env.git(&repo.work, ["for-each-ref"]);
    let out = env
        .oneshot(&repo.work)
        .args(["run", TASK])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(8), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for expected in [
        "the agent claude is not installed",
        "npm install -g @anthropic-ai/claude-code",
        "codex",
        "gemini",
        "--agent 'command:",
    ] {
        assert!(stderr.contains(expected), "missing {expected:?}:\n{stderr}");
    }
    assert_eq!(env.git(&repo.work, ["for-each-ref"]), before, "no branch");
    assert!(!repo.work.join(".git/oneshot").exists(), "no plan store");
    assert!(!env.home.join(".cache/oneshot").exists(), "no work tree");
    assert_eq!(
        env.git(&repo.work, ["worktree", "list", "--porcelain"])
            .matches("worktree ")
            .count(),
        1
    );

    // The same for a command agent, with --json.
    let out = env
        .oneshot(&repo.work)
        .args(["run", TASK, "--agent", "command:my-agent --fast", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(8));
    let json = stdout_json(&out);
    assert_eq!(json["error_type"], "agent");
    assert!(json["message"].as_str().unwrap().contains("my-agent"));
    assert!(!repo.work.join(".git/oneshot").exists());
}

#[test]
fn a_repository_without_a_commit_is_a_clear_error() {
    let mut env = TestEnv::new();
    FakeAgent::install(&mut env, "claude");
    let dir = env.dir("empty");
    env.git(&dir, ["init", "--quiet", "-b", "main"]);
    let out = env.oneshot(&dir).args(["run", TASK]).output().unwrap();
    assert_eq!(out.status.code(), Some(5), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no commit yet"));
    assert!(!dir.join(".git/oneshot").exists());
}

#[test]
fn status_shows_a_local_run_without_a_token() {
    let l = setup();
    l.agent.script_for(1, planning(PLAN));
    l.agent.script_for(2, step("src/step1.txt", "one\n"));
    l.agent.script_for(3, failing_step());
    let out = l.run(&[TASK, "--json"]);
    let json = stdout_json(&out);
    let branch = json["branch"].as_str().unwrap().to_string();
    let worktree = json["worktree"].as_str().unwrap().to_string();
    let commit = l.git(&["rev-parse", "--short=7", &branch]);
    // Times pinned, for the snapshot.
    let path = l.store(&branch).join("state.json");
    let mut state = l.state(&branch);
    state["plan_duration_s"] = json!(30.0);
    for s in state["steps"].as_array_mut().unwrap() {
        if s.get("duration_s").is_some() {
            s["duration_s"] = json!(65.0);
        }
    }
    std::fs::write(&path, state.to_string()).unwrap();

    let out = l
        .env
        .oneshot(&l.repo.work)
        .args(["status", &branch])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let shown = render(&out, &l.env)
        .replace(&filter(&worktree, &l.env), "[WORKTREE]")
        .replace(commit.trim(), "[COMMIT]");
    insta::assert_snapshot!(shown);

    let out = l
        .env
        .oneshot(&l.repo.work)
        .args(["status", &branch, "--json"])
        .output()
        .unwrap();
    let json = stdout_json(&out);
    assert_eq!(json["local"], true);
    assert_eq!(json["phase"], "failed");
    assert_eq!(json["failed_step"], 2);
    assert_eq!(json["completed_steps"], 1);
    assert_eq!(json["worktree"], worktree);
}

/// The real Claude Code CLI (installed by scripts/install-test-tools.sh; skipped without it)
/// plans and implements in the run's work tree. It refuses every edit below a `.git`
/// directory, which is why the work tree is in the cache directory: this test fails if it is
/// ever moved back under `.git/`.
#[test]
fn the_real_claude_cli_plans_and_edits_in_the_work_tree() {
    use crate::fake_anthropic::{FakeAnthropic, Turn};
    use sha2::{Digest, Sha256};

    let Some(claude) = crate::real_claude::claude() else {
        return;
    };
    let mut env = TestEnv::new();
    env.prepend_path(claude.parent().unwrap());
    env.set("ANTHROPIC_API_KEY", "sk-fake");
    env.set("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1");
    let repo = env.repo_with_origin();
    // Where the work tree will be (checked against what the run reports).
    let common = env.git(
        &repo.work,
        ["rev-parse", "--path-format=absolute", "--git-common-dir"],
    );
    let id: String = Sha256::digest(common.trim_end().as_bytes())
        .iter()
        .take(4)
        .map(|b| format!("{b:02x}"))
        .collect();
    let branch = "oneshot-add-a-verbose-flag-to-t-01-15-1430";
    let worktree = env
        .home
        .join(".cache/oneshot/worktrees")
        .join(format!(
            "{}-{id}",
            repo.work.file_name().unwrap().to_string_lossy()
        ))
        .join(branch);
    let tool = |path: &str, content: &str| Turn::Tool {
        text: None,
        name: "Write".into(),
        input: json!({"file_path": worktree.join(path).display().to_string(), "content": content}),
    };

    let planner = FakeAnthropic::start(vec![
        tool(".impl/plan.md", crate::agent_fakes::PLAN),
        tool(".impl/plan-result.json", crate::agent_fakes::PLAN_RESULT),
        Turn::Text("Wrote the plan.".into()),
    ]);
    env.set("ANTHROPIC_BASE_URL", planner.url.clone());
    let out = env
        .oneshot(&repo.work)
        .args(["run", TASK, "--plan-only", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out),
        planner.describe()
    );
    let json = stdout_json(&out);
    assert_eq!(json["worktree"], worktree.display().to_string());
    assert_eq!(json["step_count"], 1);

    let implementer = FakeAnthropic::start(vec![
        tool("src/verbose.rs", "pub const VERBOSE: bool = true;\n"),
        Turn::Text("Done.".into()),
    ]);
    env.set("ANTHROPIC_BASE_URL", implementer.url.clone());
    let out = env
        .oneshot(&repo.work)
        .args(["run", "--resume", branch, "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out),
        implementer.describe()
    );
    assert_eq!(
        env.git(&repo.work, ["show", "--name-only", "--format=%s", branch]),
        "Step 1: Parse the flag\n\nsrc/verbose.rs\n"
    );
}
