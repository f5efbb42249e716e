//! The one integration-test binary: every test runs the real `oneshot` binary in a hermetic
//! environment (see `support`).

mod support;

mod agent_fakes;
mod cli_help;
mod create_recovery;
mod dispatch;
mod e2e_workflows;
mod exec_steps;
mod exit_codes;
mod fake_anthropic;
mod fake_gemini;
mod fake_github_selftest;
mod fake_http;
mod fake_openai;
mod hostile_git;
mod hostile_history;
mod hostile_lfs_filter;
mod hostile_local;
mod hostile_local_checkout;
mod hostile_processes;
mod hostile_verify;
mod hostile_workflow;
mod hostile_worktree_config;
mod implement;
mod init;
mod install_agent;
mod local_run;
mod plan_handoff;
mod real_claude;
mod real_cli;
mod real_codex;
mod real_gemini;
mod run_plan;
mod status_resume;
mod validate_outputs;
mod workflows;

/// Every test file in tests/ must be a module of this binary, or its tests silently never run.
#[test]
fn no_test_file_is_forgotten() {
    let main = include_str!("main.rs");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "rs") && path.file_name().unwrap() != "main.rs" {
            let stem = path.file_stem().unwrap().to_str().unwrap();
            assert!(
                main.contains(&format!("mod {stem};")),
                "tests/{stem}.rs is not declared in tests/main.rs"
            );
        }
    }
}
