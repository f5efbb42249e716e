//! Helpers for tests that drive agent sessions: the fake agent on PATH under an agent's name,
//! its script and what it recorded, and a repository ready for `exec run-plan`.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::support::{TestEnv, TestRepo};

/// The fake agent (tests/fakes/fake_agent.rs), installed as a program on PATH.
pub struct FakeAgent {
    /// The program path (`<bin>/claude`); its script and record files sit next to it.
    pub path: PathBuf,
}

impl FakeAgent {
    /// Puts the fake agent first on the environment's PATH under `name`.
    pub fn install(env: &mut TestEnv, name: &str) -> Self {
        let binary = option_env!("CARGO_BIN_EXE_fake-agent").unwrap_or_else(|| {
            panic!(
                "the fake agent is not built: run the tests with `cargo test --features test-fakes`"
            )
        });
        let bin = env.dir("fake-bin");
        let path = bin.join(name);
        std::os::unix::fs::symlink(binary, &path).unwrap();
        env.prepend_path(&bin);
        FakeAgent { path }
    }

    fn file(&self, suffix: &str) -> PathBuf {
        let mut text = self.path.as_os_str().to_owned();
        text.push(suffix);
        PathBuf::from(text)
    }

    /// The script every invocation runs (unless a per-invocation script exists).
    pub fn script(&self, steps: Vec<Value>) {
        std::fs::write(
            self.file(".script.json"),
            json!({ "steps": steps }).to_string(),
        )
        .unwrap();
    }

    /// The script of the n-th invocation (1-based).
    pub fn script_for(&self, invocation: u32, steps: Vec<Value>) {
        std::fs::write(
            self.file(&format!(".script.{invocation}.json")),
            json!({ "steps": steps }).to_string(),
        )
        .unwrap();
    }

    /// Everything the fake recorded: one object per invocation, plus one per stubborn child.
    /// A line still being written (no newline yet) is left out.
    pub fn records(&self) -> Vec<Value> {
        let text = std::fs::read_to_string(self.file(".record.jsonl")).unwrap_or_default();
        let complete = &text[..text.rfind('\n').map_or(0, |i| i + 1)];
        complete
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// The records of the agent invocations (not of the children they started).
    pub fn invocations(&self) -> Vec<Value> {
        self.records()
            .into_iter()
            .filter(|r| r.get("argv").is_some())
            .collect()
    }

    pub fn record_path(&self) -> PathBuf {
        self.file(".record.jsonl")
    }
}

/// A repository with `.impl/task.md`, as `exec write-prompt` leaves it.
pub fn repo_with_task(env: &TestEnv, task: &str) -> TestRepo {
    let repo = env.repo_with_origin();
    repo.write(".impl/task.md", task);
    repo.write(".git/info/exclude", "/.impl/\n");
    repo
}

// Stream-json events as Claude Code writes them.

pub fn init() -> Value {
    json!({"emit": {"type": "system", "subtype": "init", "cwd": "/repo", "session_id": "s-1", "model": "claude-sonnet-5", "tools": ["Read", "Edit", "Write", "Bash"], "permissionMode": "dontAsk"}})
}

pub fn text(text: &str) -> Value {
    json!({"emit": {"type": "assistant", "message": {"id": "msg_1", "type": "message", "role": "assistant", "content": [{"type": "text", "text": text}]}, "session_id": "s-1"}})
}

pub fn tool_use(id: &str, name: &str, input: Value) -> Value {
    json!({"emit": {"type": "assistant", "message": {"id": "msg_2", "type": "message", "role": "assistant", "content": [{"type": "tool_use", "id": id, "name": name, "input": input}]}, "session_id": "s-1"}})
}

pub fn tool_result(id: &str, content: &str) -> Value {
    json!({"emit": {"type": "user", "message": {"role": "user", "content": [{"type": "tool_result", "tool_use_id": id, "content": content}]}, "session_id": "s-1"}})
}

pub fn result(subtype: &str, is_error: bool, text: &str) -> Value {
    json!({"emit": {
        "type": "result", "subtype": subtype, "is_error": is_error, "num_turns": 4, "result": text,
        "duration_ms": 2100, "duration_api_ms": 1900, "total_cost_usd": 0.0421, "session_id": "s-1",
        "usage": {"input_tokens": 1200, "cache_creation_input_tokens": 300, "cache_read_input_tokens": 500, "output_tokens": 420},
        "modelUsage": {}, "permission_denials": []
    }})
}

pub fn write(path: &str, content: &str) -> Value {
    json!({"write": {"path": path, "content": content}})
}

pub const PLAN: &str = "# Add a verbose flag\n\nAdds `--verbose` to the submit command.\n\n## Steps\n\n### Step 1: Parse the flag\n\n**What:** add the flag.\n**Where:** src/cli.rs.\n**Check:** `cargo test cli`.\n";

pub const PLAN_RESULT: &str =
    r#"{"title": "Add a verbose flag", "summary": "Adds --verbose to the submit command."}"#;

/// A complete, successful planning session that writes the two files (relative paths: the
/// fake runs in the repository).
pub fn planning_session() -> Vec<Value> {
    vec![
        init(),
        text("I'll read the code first."),
        tool_use("t1", "Read", json!({"file_path": "README.md"})),
        tool_result("t1", "# demo"),
        tool_use(
            "t2",
            "Write",
            json!({"file_path": ".impl/plan.md", "content": PLAN}),
        ),
        write(".impl/plan.md", PLAN),
        tool_result("t2", "File created"),
        tool_use(
            "t3",
            "Write",
            json!({"file_path": ".impl/plan-result.json", "content": PLAN_RESULT}),
        ),
        write(".impl/plan-result.json", PLAN_RESULT),
        tool_result("t3", "File created"),
        text("Wrote the plan: Add a verbose flag (1 step)."),
        result(
            "success",
            false,
            "Wrote the plan: Add a verbose flag (1 step).",
        ),
    ]
}

/// Reads `.impl/runs/plan.json`.
pub fn plan_report(repo: &Path) -> Value {
    let text = std::fs::read_to_string(repo.join(".impl/runs/plan.json"))
        .expect("the session report exists");
    serde_json::from_str(&text).unwrap()
}
