//! Orchestration overhead of `oneshot run` (issue: local run): a whole local one-shot of a
//! 3-step plan — work tree, planning session, plan check, three steps with their commits, the
//! plan store — with the fake agent as a zero-latency agent (the planner writes the plan, each
//! step writes one file). Budget: under 1 s in total.
//!
//! Each run starts in a fresh repository with a fresh cache directory. The figure includes the
//! fake agent's own start-up (shown apart, from the session reports), so it is an upper bound.
//!
//! Run: cargo bench --features test-fakes --bench local_run

#![allow(clippy::print_stdout, clippy::print_stderr)]

#[path = "../tests/support/mod.rs"]
mod support;

#[path = "../tests/agent_fakes.rs"]
mod agent_fakes;

use std::time::Instant;

use agent_fakes::{FakeAgent, init, result, write};
use support::TestEnv;
use support::github::PLAN;

const RUNS: usize = 15;

fn main() {
    one_run(); // warm-up: page cache, dynamic loader
    let mut totals = Vec::new();
    let mut sessions = Vec::new();
    for _ in 0..RUNS {
        let (total, in_sessions) = one_run();
        totals.push(total);
        sessions.push(in_sessions);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (min, max) = (
        totals.iter().copied().fold(f64::MAX, f64::min),
        totals.iter().copied().fold(0.0, f64::max),
    );
    let total = median(&mut totals);
    let in_sessions = median(&mut sessions);
    println!(
        "oneshot run, 3-step plan, zero-latency fake agent, {RUNS} runs: median {total:.0} ms \
         (min {min:.0}, max {max:.0}); of which in the 4 agent sessions {in_sessions:.0} ms"
    );
    let ok = total < 1000.0;
    println!(
        "budget: < 1000 ms in total: {}",
        if ok { "OK" } else { "OVER BUDGET" }
    );
    if !ok {
        std::process::exit(1);
    }
}

/// One whole `oneshot run`. Returns (wall ms, ms inside the agent sessions).
fn one_run() -> (f64, f64) {
    let mut env = TestEnv::new();
    let agent = FakeAgent::install(&mut env, "claude");
    let repo = env.repo_with_origin();
    let plan_result = r#"{"title": "Add a --verbose flag to submit", "summary": "x"}"#;
    agent.script_for(
        1,
        vec![
            init(),
            write(".impl/plan.md", PLAN),
            write(".impl/plan-result.json", plan_result),
            result("success", false, "Wrote the plan."),
        ],
    );
    for n in 1..=3 {
        agent.script_for(
            n + 1,
            vec![
                init(),
                write(&format!("src/step{n}.txt"), "x\n"),
                result("success", false, "Done."),
            ],
        );
    }
    let start = Instant::now();
    let out = env
        .oneshot(&repo.work)
        .args([
            "run",
            "Add a --verbose flag to the submit command",
            "--json",
        ])
        .output()
        .unwrap();
    let ms = start.elapsed().as_secs_f64() * 1000.0;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["completed_steps"], 3, "{json}");
    let runs = repo
        .work
        .join(".git/oneshot/plans")
        .join(json["branch"].as_str().unwrap())
        .join("runs");
    let mut in_sessions = 0.0;
    for entry in std::fs::read_dir(runs).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let report: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            in_sessions += report["duration_s"].as_f64().unwrap_or(0.0) * 1000.0;
        }
    }
    (ms, in_sessions)
}
