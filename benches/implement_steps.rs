//! Orchestration overhead of the implement job per step: everything except the agent and the
//! verify command (issue: implement). Budget: under 1.5 s and at most 3 GitHub requests per step.
//!
//! A 3-step plan is implemented by `oneshot exec run-implement` against the fake GitHub server
//! and a bare remote, with the fake agent as a zero-latency agent (it writes one file and
//! reports success). The figure includes the fake agent's own start-up, so it is an upper bound.
//!
//! Run: cargo bench --features test-fakes --bench implement_steps

#![allow(clippy::print_stdout, clippy::print_stderr)]

#[path = "../tests/support/mod.rs"]
mod support;

#[path = "../tests/agent_fakes.rs"]
mod agent_fakes;

use std::time::Instant;

use agent_fakes::{FakeAgent, init, result, write};
use support::github::{PLAN, World};

const BRANCH: &str = "oneshot-add-a-verbose-flag-01-15-1430";
const STEPS: u32 = 3;
const RUNS: usize = 7;

fn main() {
    let mut per_step_ms = Vec::new();
    let mut requests_per_step = Vec::new();
    for _ in 0..RUNS {
        let (ms, requests) = one_run();
        per_step_ms.push(ms / f64::from(STEPS));
        requests_per_step.push(requests as f64 / f64::from(STEPS));
    }
    per_step_ms.sort_by(f64::total_cmp);
    let median = per_step_ms[RUNS / 2];
    let requests = requests_per_step.iter().copied().fold(0.0, f64::max);
    println!(
        "run-implement, {STEPS}-step plan, {RUNS} runs: median {median:.0} ms per step (min {:.0}, max {:.0}); {requests:.2} GitHub requests per step",
        per_step_ms[0],
        per_step_ms[RUNS - 1]
    );
    let ok = median < 1500.0 && requests <= 3.0;
    println!(
        "budget: < 1500 ms and <= 3 requests per step: {}",
        if ok { "OK" } else { "OVER BUDGET" }
    );
    if !ok {
        std::process::exit(1);
    }
}

/// Sets up a registered plan, then times run-implement alone. Returns (ms, GitHub requests).
fn one_run() -> (f64, usize) {
    let mut w = World::new();
    let agent = FakeAgent::install(&mut w.env, "claude");
    let pr = w.draft_pr(BRANCH).to_string();
    w.write_plan(PLAN);
    let run = |args: &[&str]| {
        let out = w
            .env
            .oneshot(&w.repo.work)
            .arg("exec")
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let issue = run(&["plan-save-to-issue", "--pr", &pr])["issue_number"].to_string();
    run(&["register-one-shot-plan", "--issue", &issue, "--pr", &pr]);
    run(&["fetch-plan", "--issue", &issue, "--pr", &pr]);
    for n in 1..=STEPS {
        agent.script_for(
            n,
            vec![
                init(),
                write(&format!("src/step{n}.txt"), "x\n"),
                result("success", false, "Done."),
            ],
        );
    }
    w.fake.clear_requests();
    let start = Instant::now();
    run(&["run-implement", "--issue", &issue, "--pr", &pr]);
    let ms = start.elapsed().as_secs_f64() * 1000.0;
    if std::env::var_os("ONESHOT_BENCH_VERBOSE").is_some() {
        eprintln!("{}", w.fake.request_summary());
    }
    (ms, w.fake.requests().len())
}
