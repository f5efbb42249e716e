//! The whole one-shot, end to end: `oneshot dispatch`, then the caller workflow, the plan job and
//! the implement job with three steps, run by tests/support/workflow_runner against the fake
//! GitHub server, a bare remote and a zero-latency fake agent. The scenario is `main_run` of
//! tests/e2e_workflows.rs.
//!
//! Budget: median wall time under 3 s on the 2-core machine, at most 30 GitHub API requests.
//! Only the run is timed, from the dispatch to the run's completion; setting the repository up
//! (`oneshot init`, commit, push) is not.
//!
//!     cargo bench --features test-fakes --bench e2e              # release build, 7 runs
//!     cargo bench --features test-fakes --bench e2e -- --runs 15
//!
//! Exits non-zero when a budget is exceeded.

#![allow(clippy::print_stdout, clippy::print_stderr)]

#[path = "../tests/support/mod.rs"]
mod support;

#[path = "../tests/agent_fakes.rs"]
mod agent_fakes;

// Its helpers for the tests are not all used here.
#[allow(dead_code, unused_imports)]
#[path = "../tests/e2e_workflows.rs"]
mod e2e_workflows;

use std::time::{Duration, Instant};

use e2e_workflows::{REQUEST_BUDGET, Scenario, main_run};

const WALL_BUDGET: Duration = Duration::from_secs(3);

fn main() {
    let mut runs = 7usize;
    let mut args = std::env::args().skip(1);
    // `cargo bench` also passes --bench, and maybe a filter: neither is used.
    while let Some(arg) = args.next() {
        if arg == "--runs" {
            runs = args
                .next()
                .and_then(|n| n.parse().ok())
                .filter(|n| *n > 0)
                .expect("--runs N");
        }
    }

    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    println!("e2e one-shot: {runs} runs (+1 warm-up), {profile} build");
    let mut times = Vec::new();
    let mut requests = Vec::new();
    for i in 0..=runs {
        let scenario = Scenario::new();
        let start = Instant::now();
        let (report, _pr) = main_run(&scenario);
        let elapsed = start.elapsed();
        assert_eq!(report.conclusion, "success", "{}", report.log());
        let count = scenario.w.fake.requests().len();
        if i == 0 {
            println!(
                "  warm-up: {:>6.0} ms, {count} requests",
                elapsed.as_secs_f64() * 1000.0
            );
            continue;
        }
        println!(
            "  run {i:>2}: {:>6.0} ms, {count} requests",
            elapsed.as_secs_f64() * 1000.0
        );
        times.push(elapsed);
        requests.push(count);
    }
    times.sort();
    let median = times[times.len() / 2];
    let most_requests = *requests.iter().max().expect("at least one run");
    println!(
        "median {:.0} ms (min {:.0}, max {:.0}; budget {} ms); requests {} (budget {})",
        median.as_secs_f64() * 1000.0,
        times[0].as_secs_f64() * 1000.0,
        times[times.len() - 1].as_secs_f64() * 1000.0,
        WALL_BUDGET.as_millis(),
        most_requests,
        REQUEST_BUDGET
    );
    let mut over = false;
    if median > WALL_BUDGET {
        eprintln!("over budget: the median run took {median:?}");
        over = true;
    }
    if most_requests > REQUEST_BUDGET {
        eprintln!("over budget: {most_requests} GitHub requests");
        over = true;
    }
    if over {
        std::process::exit(1);
    }
}
