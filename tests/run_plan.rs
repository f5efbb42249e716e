//! `oneshot exec run-plan` with the fake agent as `claude`: every way a session can end, the
//! flags and the scrubbed environment the agent gets, and the checks after the session.

use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;
use serde_json::{Value, json};

use crate::agent_fakes::{self as fakes, FakeAgent, plan_report, planning_session, repo_with_task};
use crate::support::runner_files;
use crate::support::{TestEnv, TestRepo, stdout_json};

const TASK: &str = "Add a --verbose flag to the submit command";

fn setup() -> (TestEnv, FakeAgent, TestRepo) {
    let mut env = TestEnv::new();
    let agent = FakeAgent::install(&mut env, "claude");
    let repo = repo_with_task(&env, TASK);
    (env, agent, repo)
}

fn run_plan(env: &TestEnv, repo: &TestRepo, args: &[&str]) -> Output {
    env.oneshot(&repo.work)
        .args(["exec", "run-plan"])
        .args(args)
        .output()
        .unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// No process of the group is left: not the agent, not what it started.
fn assert_group_gone(pgid: i64) {
    let group = Pid::from_raw(pgid as i32);
    assert_eq!(
        killpg(group, None),
        Err(nix::errno::Errno::ESRCH),
        "processes of group {pgid} are still there"
    );
}

#[test]
fn a_successful_session_writes_the_plan_and_the_report() {
    let (mut env, agent, repo) = setup();
    env.set("ANTHROPIC_API_KEY", "sk-ant-test");
    env.set("CLAUDE_CODE_OAUTH_TOKEN", "oauth-test");
    env.set("GITHUB_TOKEN", "ghs_must_not_leak");
    env.set("GH_TOKEN", "ghp_must_not_leak");
    env.set("ONESHOT_TOKEN", "ghp_must_not_leak_either");
    env.set("ACTIONS_RUNTIME_TOKEN", "runtime");
    env.set("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "oidc");
    env.set("OPENAI_API_KEY", "sk-other-agent");
    env.set("UNRELATED_SETTING", "x");
    env.set("LANG", "C.UTF-8");
    agent.script(planning_session());

    let out = run_plan(
        &env,
        &repo,
        &["--model", "S", "--max-turns", "25", "--budget-usd", "1.5"],
    );
    assert!(out.status.success(), "{}", text(&out));
    let json = stdout_json(&out);
    assert_eq!(json["success"], true);
    assert_eq!(json["plan_success"], true);
    assert_eq!(json["cost_usd"], 0.0421);
    assert!(json["duration_s"].as_f64().unwrap() < 30.0);
    assert_eq!(repo.read(".impl/plan.md"), fakes::PLAN);

    // The report.
    let report = plan_report(&repo.work);
    assert_eq!(report["outcome"], "success");
    assert_eq!(report["phase"], "plan");
    assert_eq!(report["agent"], "claude");
    // The model the agent reported (the fake says claude-sonnet-5), not the alias asked for.
    assert_eq!(report["model"], "claude-sonnet-5");
    assert_eq!(report["exit_code"], 0);
    assert_eq!(report["turns"], 4);
    assert_eq!(report["input_tokens"], 2000);
    assert_eq!(report["output_tokens"], 420);
    assert_eq!(
        report["final_text"],
        "Wrote the plan: Add a verbose flag (1 step)."
    );
    assert_eq!(report["transcript"], ".impl/runs/plan-1.jsonl");
    assert_eq!(report["output"]["unparsed_lines"], 0);
    let transcript = std::fs::read_to_string(repo.work.join(".impl/runs/plan-1.jsonl")).unwrap();
    assert_eq!(transcript.lines().count(), 10);
    assert!(
        transcript
            .lines()
            .all(|l| serde_json::from_str::<Value>(l).is_ok())
    );

    // The flags and the prompt the agent got.
    let calls = agent.invocations();
    assert_eq!(calls.len(), 1);
    let call = &calls[0];
    let argv: Vec<&str> = call["argv"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    let joined = argv[1..].join(" ");
    assert!(
        joined.starts_with("-p --output-format stream-json --verbose --no-session-persistence --model sonnet --max-turns 25 --max-budget-usd 1.5 --permission-mode dontAsk --allowedTools Read Glob Grep LS Edit(.impl/**) Write(.impl/**) Bash(git log:*)"),
        "{joined}"
    );
    assert!(
        !argv.contains(&"Bash")
            && !argv.contains(&"Edit")
            && !argv.contains(&"--dangerously-skip-permissions"),
        "{joined}"
    );
    assert_eq!(
        Path::new(call["cwd"].as_str().unwrap())
            .canonicalize()
            .unwrap(),
        repo.work.canonicalize().unwrap()
    );
    let stdin = call["stdin"].as_str().unwrap();
    assert!(
        stdin.contains(&format!("\n{TASK}\n</task_")),
        "the task is delimited in the prompt:\n{stdin}"
    );
    assert!(stdin.contains(".impl/plan-result.json"));
    assert_eq!(
        std::fs::read_to_string(repo.work.join(".impl/runs/plan-1.prompt.md")).unwrap(),
        stdin
    );

    // The scrubbed environment.
    let agent_env = call["env"].as_object().unwrap();
    for leaked in [
        "GITHUB_TOKEN",
        "GH_TOKEN",
        "ONESHOT_TOKEN",
        "ACTIONS_RUNTIME_TOKEN",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
        "OPENAI_API_KEY",
        "UNRELATED_SETTING",
        "ONESHOT_NOW",
        "GIT_CONFIG_GLOBAL",
    ] {
        assert!(
            !agent_env.contains_key(leaked),
            "{leaked} reached the agent"
        );
    }
    assert_eq!(agent_env["ANTHROPIC_API_KEY"], "sk-ant-test");
    assert_eq!(agent_env["CLAUDE_CODE_OAUTH_TOKEN"], "oauth-test");
    assert_eq!(agent_env["LANG"], "C.UTF-8");
    assert_eq!(agent_env["HOME"], env.home.display().to_string());
    assert!(
        agent_env["PATH"]
            .as_str()
            .unwrap()
            .starts_with(agent.path.parent().unwrap().to_str().unwrap())
    );
    // The agent runs in its own process group.
    assert_eq!(call["pgid"], call["pid"]);

    // The live log, on stderr outside Actions.
    let stderr = String::from_utf8_lossy(&out.stderr);
    for line in [
        "==> Planning session: claude (sonnet)",
        "text: I'll read the code first.",
        "Read README.md",
        "Write .impl/plan.md",
        "note: result: success (ok, 4 turns, $0.0421)",
        "Planning session: success in",
    ] {
        assert!(
            stderr.contains(line),
            "the live log lacks {line:?}:\n{stderr}"
        );
    }
}

#[test]
fn a_failing_session_is_a_failed_step_with_its_cause() {
    let (env, agent, repo) = setup();
    agent.script(vec![
        fakes::init(),
        json!({"stderr": "warning: something odd"}),
        fakes::result("success", true, "API Error: 401 invalid x-api-key"),
        json!({"exit": 1}),
    ]);
    let out = run_plan(&env, &repo, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let json = stdout_json(&out);
    assert_eq!(json["error_type"], "step_failed");
    let message = json["message"].as_str().unwrap();
    assert!(
        message.starts_with("the planning session failed: API Error: 401 invalid x-api-key"),
        "{message}"
    );
    assert!(
        message.contains("warning: something odd"),
        "the stderr tail is part of the error: {message}"
    );
    let report = plan_report(&repo.work);
    assert_eq!(report["outcome"], "failed");
    assert_eq!(report["exit_code"], 1);
    assert_eq!(report["stderr_tail"], "warning: something odd");
}

#[test]
fn an_exit_without_a_result_event_fails() {
    let (env, agent, repo) = setup();
    agent.script(vec![
        fakes::init(),
        fakes::text("Working on it…"),
        json!({"exit": 0}),
    ]);
    let out = run_plan(&env, &repo, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let message = stdout_json(&out)["message"].as_str().unwrap().to_string();
    assert!(
        message.contains("claude ended without a result event (exit code 0)"),
        "{message}"
    );
    let report = plan_report(&repo.work);
    assert_eq!(report["outcome"], "failed");
    assert_eq!(report["final_text"], "Working on it…");
}

#[test]
fn malformed_and_truncated_lines_are_survived() {
    let (env, agent, repo) = setup();
    let mut steps = vec![
        json!({"emit_raw": "Starting… (not JSON)"}),
        json!({"emit_raw": "{\"type\":\"assistant\",\"message\":{\"content\":[{\"type\":\"text\""}),
        json!({"emit_raw": "[1, 2, 3]"}),
        json!({"emit_raw": ""}),
        json!({"emit_bytes": [0xff, 0xfe, b'{' as u64, 0x80, b'\n' as u64]}),
        json!({"emit_raw": "{\"type\":\"a_future_event\",\"payload\":{\"x\":[1,2]}}"}),
        json!({"long_line": {"bytes": 5 * 1024 * 1024}}),
    ];
    steps.extend(planning_session());
    // A last line cut short, with no newline.
    steps.push(json!({"emit_partial": "{\"type\":\"system\",\"subtype\":\"ho"}));
    agent.script(steps);
    let out = run_plan(&env, &repo, &[]);
    assert!(out.status.success(), "{}", text(&out));
    let report = plan_report(&repo.work);
    assert_eq!(report["outcome"], "success");
    let output = &report["output"];
    assert_eq!(output["unparsed_lines"], 6, "{output}");
    assert_eq!(output["cut_lines"], 1, "{output}");
    assert_eq!(output["lines"], 7 + 10 + 1, "{output}");
    let transcript = std::fs::read(repo.work.join(".impl/runs/plan-1.jsonl")).unwrap();
    assert_eq!(
        output["bytes"],
        transcript.len(),
        "the transcript has every byte"
    );
    // … in order: the whole long line, then the next event.
    let long = "x".repeat(5 * 1024 * 1024);
    let expected =
        format!("{{\"type\":\"a_future_event\",\"payload\":{{\"x\":[1,2]}}}}\n{long}\n{{\"");
    assert!(
        transcript
            .windows(expected.len())
            .any(|w| w == expected.as_bytes()),
        "the long line is whole and in place"
    );
    assert!(transcript.ends_with(b"{\"type\":\"system\",\"subtype\":\"ho"));
}

#[test]
fn huge_output_is_streamed_with_a_bounded_live_log() {
    let (env, agent, repo) = setup();
    let chatter = json!({"type": "assistant", "message": {"id": "m", "content": [{"type": "text", "text": "x".repeat(900)}]}});
    let mut steps = vec![json!({"flood": {"bytes": 48 * 1024 * 1024, "line": chatter}})];
    steps.extend(planning_session());
    agent.script(steps);
    let started = Instant::now();
    let out = run_plan(&env, &repo, &[]);
    assert!(out.status.success(), "{}", text(&out));
    let report = plan_report(&repo.work);
    assert!(report["output"]["bytes"].as_u64().unwrap() >= 48 * 1024 * 1024);
    assert_eq!(report["output"]["unparsed_lines"], 0);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.lines().count() < 1_100,
        "the live log is bounded: {} lines",
        stderr.lines().count()
    );
    assert!(stderr.contains("the live log shows no more text after 1000 messages"));
    // Tool calls still show after the text budget is spent.
    assert!(stderr.contains("Write .impl/plan.md"));
    assert!(started.elapsed() < Duration::from_secs(120));
}

#[test]
fn a_timeout_ends_the_whole_group_even_a_child_that_ignores_sigterm() {
    let (env, agent, repo) = setup();
    agent.script(vec![
        fakes::init(),
        json!({"spawn_stubborn_child": true}),
        fakes::text("Thinking for a long time…"),
        json!({"sleep_ms": 60_000}),
        fakes::result("success", false, "too late"),
    ]);
    let started = Instant::now();
    let out = run_plan(
        &env,
        &repo,
        &["--timeout-minutes", "0.03", "--kill-grace-seconds", "1"],
    );
    let elapsed = started.elapsed();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(elapsed < Duration::from_secs(20), "took {elapsed:?}");
    let message = stdout_json(&out)["message"].as_str().unwrap().to_string();
    assert!(
        message.starts_with(
            "the planning session timed out: the session did not finish within its timeout of 2 s"
        ),
        "{message}"
    );
    let report = plan_report(&repo.work);
    assert_eq!(report["outcome"], "timed_out");
    assert_eq!(report["signal"], 15, "the agent itself ended on SIGTERM");

    let records = agent.records();
    let pgid = records
        .iter()
        .find_map(|r| r.get("argv").and(r["pgid"].as_i64()))
        .unwrap();
    let child = records
        .iter()
        .find_map(|r| r["stubborn_child"].as_i64())
        .expect("the stubborn child started");
    assert_eq!(
        records
            .iter()
            .find(|r| r.get("stubborn_child").is_some())
            .unwrap()["pgid"],
        pgid
    );
    assert_eq!(
        kill(Pid::from_raw(child as i32), None),
        Err(nix::errno::Errno::ESRCH),
        "the child that ignored SIGTERM is still there"
    );
    assert_group_gone(pgid);
}

#[test]
fn what_the_agent_leaves_running_is_ended_when_it_exits() {
    let (env, agent, repo) = setup();
    let mut steps = vec![json!({"spawn_stubborn_child": true})];
    steps.extend(planning_session());
    agent.script(steps);
    let out = run_plan(&env, &repo, &["--kill-grace-seconds", "0.5"]);
    assert!(out.status.success(), "{}", text(&out));
    let pgid = agent.invocations()[0]["pgid"].as_i64().unwrap();
    assert_group_gone(pgid);
}

#[test]
fn a_write_outside_impl_fails_the_step_and_names_the_files() {
    let (env, agent, repo) = setup();
    // A change that was there before the session is not the session's.
    repo.write("notes.txt", "the user's own uncommitted work\n");
    let mut steps = planning_session();
    steps.insert(1, fakes::write("README.md", "# changed by the planner\n"));
    steps.insert(1, fakes::write("src/new.rs", "fn main() {}\n"));
    agent.script(steps);
    let out = run_plan(&env, &repo, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let json = stdout_json(&out);
    assert_eq!(json["error_type"], "step_failed");
    assert_eq!(
        json["message"],
        "the planning session changed files outside .impl/: README.md, src/new.rs"
    );
    // The session itself succeeded and its report is kept.
    assert_eq!(plan_report(&repo.work)["outcome"], "success");
}

#[test]
fn a_commit_by_the_planner_fails_the_step() {
    let (env, agent, repo) = setup();
    // A commit leaves `git status` clean; HEAD moving gives it away.
    let mut steps = planning_session();
    steps.insert(1, fakes::write("src/lib.rs", "// sneaked in\n"));
    steps.insert(2, json!({"run": ["git", "add", "src/lib.rs"]}));
    steps.insert(3, json!({"run": ["git", "-c", "user.name=Planner", "-c", "user.email=p@example.com", "commit", "--quiet", "-m", "sneak"]}));
    agent.script(steps);
    let out = run_plan(&env, &repo, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let message = stdout_json(&out)["message"].as_str().unwrap().to_string();
    assert!(
        message.starts_with("the planning session moved HEAD (was "),
        "{message}"
    );
    assert!(message.contains(" on main, now "), "{message}");
    assert!(
        !message.contains("changed files"),
        "the committed file is not a change in the work tree: {message}"
    );
}

#[test]
fn turn_and_budget_limits_are_their_own_outcomes() {
    for (subtype, outcome, hint) in [
        ("error_max_turns", "turn_limit", "--max-turns"),
        ("error_max_budget_usd", "budget_limit", "--budget-usd"),
    ] {
        let (env, agent, repo) = setup();
        agent.script(vec![
            fakes::init(),
            fakes::result(subtype, true, ""),
            json!({"exit": 1}),
        ]);
        let out = run_plan(&env, &repo, &["--max-turns", "3"]);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        assert_eq!(plan_report(&repo.work)["outcome"], outcome);
        let json = stdout_json(&out);
        assert!(json["hints"].to_string().contains(hint), "{json}");
    }
}

#[test]
fn a_missing_task_is_a_clear_error() {
    let mut env = TestEnv::new();
    FakeAgent::install(&mut env, "claude");
    let repo = env.repo_with_origin();
    let out = run_plan(&env, &repo, &[]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let json = stdout_json(&out);
    assert!(
        json["message"]
            .as_str()
            .unwrap()
            .starts_with(".impl/task.md does not exist in"),
        "{json}"
    );
    assert!(
        json["hints"][0]
            .as_str()
            .unwrap()
            .contains("oneshot exec write-prompt")
    );
}

#[test]
fn a_missing_agent_cannot_start_and_says_how_to_install_it() {
    let env = TestEnv::new();
    let repo = repo_with_task(&env, TASK);
    let out = run_plan(&env, &repo, &[]);
    assert_eq!(out.status.code(), Some(8), "{}", text(&out));
    let json = stdout_json(&out);
    assert_eq!(json["error_type"], "agent");
    assert!(
        json["message"]
            .as_str()
            .unwrap()
            .contains("claude was not found on PATH"),
        "{json}"
    );
    assert!(
        json["hints"][0]
            .as_str()
            .unwrap()
            .contains("npm install -g @anthropic-ai/claude-code"),
        "{json}"
    );
    assert_eq!(plan_report(&repo.work)["outcome"], "could_not_start");
}

#[test]
fn bad_agent_and_model_names_list_the_choices() {
    let (env, _agent, repo) = setup();
    let out = run_plan(&env, &repo, &["--agent", "gpt"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        stdout_json(&out)["hints"][0]
            .as_str()
            .unwrap()
            .contains("claude, codex, gemini, or command:")
    );
    let out = run_plan(&env, &repo, &["--model", "gpt-5"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        stdout_json(&out)["hints"][0]
            .as_str()
            .unwrap()
            .contains("h or haiku, s or sonnet, o or opus")
    );
    // The environment variables of the flags work too.
    let mut env = env;
    env.set("ONESHOT_AGENT", "nope");
    let out = run_plan(&env, &repo, &[]);
    assert!(
        stdout_json(&out)["message"]
            .as_str()
            .unwrap()
            .contains("unknown agent \"nope\"")
    );
}

#[test]
fn a_command_agent_gets_the_prompt_file_and_is_judged_by_its_exit_code() {
    let (mut env, _claude, repo) = setup();
    let tool = FakeAgent::install(&mut env, "my-agent");
    tool.script(vec![
        json!({"emit_raw": "plain text output"}),
        fakes::write(".impl/plan.md", fakes::PLAN),
        fakes::write(".impl/plan-result.json", fakes::PLAN_RESULT),
        json!({"emit_raw": "done"}),
    ]);
    env.set(
        "ONESHOT_AGENT",
        "command:my-agent --prompt-file {prompt_file} --model \"{model}\"",
    );
    let out = run_plan(&env, &repo, &["--model", "o"]);
    assert!(out.status.success(), "{}", text(&out));
    let call = &tool.invocations()[0];
    let argv: Vec<&str> = call["argv"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(argv[1], "--prompt-file");
    assert!(argv[2].ends_with(".impl/runs/plan-1.prompt.md"), "{argv:?}");
    assert_eq!(&argv[3..], ["--model", "opus"]);
    assert_eq!(
        call["stdin"], "",
        "with {{prompt_file}} the prompt does not come on stdin"
    );
    let report = plan_report(&repo.work);
    assert_eq!(
        report["agent"],
        "command:my-agent --prompt-file '{prompt_file}' --model '{model}'"
    );
    assert_eq!(report["final_text"], "plain text output\ndone");

    tool.script(vec![json!({"exit": 7})]);
    let out = run_plan(&env, &repo, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stdout_json(&out)["message"]
            .as_str()
            .unwrap()
            .contains("my-agent exited with code 7")
    );
}

#[test]
fn sessions_in_sequence_keep_their_transcripts() {
    let (env, agent, repo) = setup();
    agent.script_for(
        1,
        vec![
            fakes::init(),
            fakes::result("success", true, "API Error: 529 overloaded"),
            json!({"exit": 1}),
        ],
    );
    agent.script_for(2, planning_session());
    assert_eq!(run_plan(&env, &repo, &[]).status.code(), Some(1));
    let out = run_plan(&env, &repo, &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(repo.work.join(".impl/runs/plan-1.jsonl").exists());
    assert_eq!(
        plan_report(&repo.work)["transcript"],
        ".impl/runs/plan-2.jsonl"
    );
    assert_eq!(agent.invocations().len(), 2);
}

#[test]
fn in_actions_the_live_log_is_a_group_and_the_summary_has_the_table() {
    let (mut env, agent, repo) = setup();
    let output = env.dir("runner").join("output");
    let summary = env.dir("runner").join("summary");
    env.set("GITHUB_ACTIONS", "true");
    env.set("GITHUB_OUTPUT", output.display().to_string());
    env.set("GITHUB_STEP_SUMMARY", summary.display().to_string());
    let mut steps = planning_session();
    steps.insert(1, json!({"emit_raw": "::error::injected by the agent"}));
    agent.script(steps);
    let out = run_plan(&env, &repo, &[]);
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], "::group::Planning session: claude");
    let end = lines
        .iter()
        .position(|l| *l == "::endgroup::")
        .expect("the group ends");
    assert!(
        lines[1..end]
            .iter()
            .any(|l| l.ends_with("Write .impl/plan.md")),
        "{stdout}"
    );
    assert!(
        !lines.iter().any(|l| l.starts_with("::error")),
        "agent output cannot issue workflow commands:\n{stdout}"
    );
    let outputs = runner_files::parse(&std::fs::read_to_string(&output).unwrap()).unwrap();
    let get = |k: &str| runner_files::get(&outputs, k).unwrap();
    assert_eq!(get("plan_success"), "true");
    assert_eq!(get("cost_usd"), "0.0421");
    let summary = std::fs::read_to_string(&summary).unwrap();
    assert!(
        summary.contains("| Agent | Model | Outcome | Duration | Turns | Tokens in / out | Cost |"),
        "{summary}"
    );
    assert!(
        summary.contains("| claude | claude-sonnet-5 | success |"),
        "{summary}"
    );
    assert!(summary.contains("| 4 | 2,000 / 420 | $0.04 |"), "{summary}");
}

#[test]
fn sigterm_to_oneshot_ends_the_agent_and_exits_as_interrupted() {
    let (env, agent, repo) = setup();
    agent.script(vec![
        fakes::init(),
        json!({"spawn_stubborn_child": true}),
        json!({"sleep_ms": 60_000}),
    ]);
    let child = env
        .oneshot(&repo.work)
        .args(["exec", "run-plan", "--kill-grace-seconds", "1"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while !agent
        .records()
        .iter()
        .any(|r| r.get("stubborn_child").is_some())
    {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the agent did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", text(&out));
    assert_eq!(stdout_json(&out)["error_type"], "interrupted");
    assert_eq!(plan_report(&repo.work)["outcome"], "interrupted");
    assert_group_gone(agent.invocations()[0]["pgid"].as_i64().unwrap());
}

#[test]
fn a_second_signal_kills_without_waiting_for_the_grace_period() {
    let (env, agent, repo) = setup();
    agent.script(vec![
        fakes::init(),
        json!({"ignore_sigterm": true}),
        json!({"sleep_ms": 60_000}),
    ]);
    let child = env
        .oneshot(&repo.work)
        .args(["exec", "run-plan", "--kill-grace-seconds", "60"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while agent.invocations().is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the agent did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // Give the fake time to block SIGTERM, as a stubborn agent would.
    std::thread::sleep(Duration::from_millis(300));
    let oneshot = Pid::from_raw(child.id() as i32);
    kill(oneshot, Signal::SIGTERM).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    kill(oneshot, Signal::SIGINT).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "waited for the grace period"
    );
    assert_eq!(out.status.code(), Some(130), "{}", text(&out));
    let report = plan_report(&repo.work);
    assert_eq!(report["signal"], 9, "{report}");
    assert_group_gone(agent.invocations()[0]["pgid"].as_i64().unwrap());
}

#[test]
fn the_configuration_file_chooses_model_and_turns_and_flags_win() {
    let (mut env, agent, repo) = setup();
    agent.script(planning_session());
    repo.write(
        ".github/oneshot.toml",
        "[plan]\nmodel = \"opus\"\nmax_turns = 7\n",
    );
    let out = run_plan(&env, &repo, &[]);
    assert!(out.status.success(), "{}", text(&out));
    let argv = agent.invocations()[0]["argv"].to_string();
    assert!(
        argv.contains(r#""--model","opus""#) && argv.contains(r#""--max-turns","7""#),
        "{argv}"
    );

    // The environment beats the file, and a flag beats both.
    env.set("ONESHOT_MODEL", "haiku");
    assert!(run_plan(&env, &repo, &[]).status.success());
    assert!(
        agent.invocations()[1]["argv"]
            .to_string()
            .contains(r#""--model","haiku""#)
    );
    assert!(
        run_plan(&env, &repo, &["--model", "sonnet"])
            .status
            .success()
    );
    assert!(
        agent.invocations()[2]["argv"]
            .to_string()
            .contains(r#""--model","sonnet""#)
    );
}
