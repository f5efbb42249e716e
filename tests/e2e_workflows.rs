//! The workflows executed end to end as GitHub would run them (tests/support/workflow_runner):
//! `oneshot dispatch` or the Actions tab starts the caller workflow `oneshot init` writes, which
//! calls this tree's `one-shot.yml` (plan job) and `plan-implement.yml` (implement job), against
//! the fake GitHub server, a bare remote and the fake agent. Each test asserts the final state in
//! the fake and in the remote. One test plays a stock runner instead: no agent on PATH, so the
//! workflow installs the real Claude Code CLI from npm, which works against a fake Anthropic API.
//!
//! benches/e2e.rs times `main_run` (the same scenario) and reports its request count.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::process::Output;

use serde_json::{Value, json};

use crate::agent_fakes::{FakeAgent, init, result, write};
use crate::support::github::{NAME, OWNER, PLAN, World};
use crate::support::workflow_runner::{RunReport, WorkflowRunner, dispatch_from_actions_tab};
use crate::support::{run_ok, succeeded};

pub const PROMPT: &str = "Add a --verbose flag to the submit command";
/// What `oneshot dispatch` names the branch for PROMPT at the pinned clock.
pub const BRANCH: &str = "oneshot-add-a-verbose-flag-to-t-01-15-1430";
/// The most GitHub API requests a whole one-shot (dispatch, plan job, implement job with three
/// steps) may make.
pub const REQUEST_BUDGET: usize = 30;

const PLAN_RESULT: &str =
    r#"{"title": "Add a --verbose flag to submit", "summary": "Adds the flag."}"#;

/// A repository set up with `oneshot init` (committed and pushed to main), the fake agent on
/// PATH as `claude`, and an empty request log.
pub struct Scenario {
    pub w: World,
    pub agent: FakeAgent,
}

impl Scenario {
    pub fn new() -> Scenario {
        let mut w = World::new();
        let agent = FakeAgent::install(&mut w.env, "claude");
        run_ok(w.env.oneshot(&w.repo.work).args(["init", "--json"]));
        w.env.git(&w.repo.work, ["add", "."]);
        w.env
            .git(&w.repo.work, ["commit", "--quiet", "-m", "Set up oneshot"]);
        w.env
            .git(&w.repo.work, ["push", "--quiet", "origin", "main"]);
        w.fake.clear_requests();
        Scenario { w, agent }
    }

    /// The workflow runner with the repository's secrets: a token for oneshot (unless
    /// `github_token_only`) and the agent's key.
    pub fn runner(&self, github_token_only: bool) -> WorkflowRunner<'_> {
        let runner = WorkflowRunner::new(&self.w).secret("ANTHROPIC_API_KEY", "sk-ant-fake");
        if github_token_only {
            runner
        } else {
            runner.secret("ONESHOT_TOKEN", self.w.fake.token())
        }
    }

    /// The planner writes PLAN (3 steps) as invocation `n`.
    pub fn script_plan(&self, n: u32) {
        self.agent.script_for(
            n,
            vec![
                init(),
                write(".impl/plan.md", PLAN),
                write(".impl/plan-result.json", PLAN_RESULT),
                result("success", false, "Wrote the plan (3 steps)."),
            ],
        );
    }

    /// Invocation `n` implements step `step`: one new file.
    pub fn script_step(&self, n: u32, step: u32) {
        self.agent.script_for(
            n,
            vec![
                init(),
                write(&format!("src/step{step}.txt"), &format!("step {step}\n")),
                result("success", false, "Done."),
            ],
        );
    }

    pub fn oneshot(&self, args: &[&str]) -> Output {
        self.w
            .env
            .oneshot(&self.w.repo.work)
            .args(args)
            .output()
            .unwrap()
    }

    /// `oneshot dispatch --json PROMPT`: (PR number, run id).
    pub fn dispatch(&self) -> (u64, u64) {
        let json = succeeded(self.oneshot(&["dispatch", "--json", PROMPT]));
        (
            json["pr_number"].as_u64().unwrap(),
            json["run_id"].as_u64().unwrap(),
        )
    }

    /// Commit subjects on a remote branch after main, oldest first.
    pub fn subjects(&self, branch: &str) -> Vec<String> {
        self.w
            .env
            .git(
                &self.w.repo.origin,
                [
                    "log",
                    "--reverse",
                    "--format=%s",
                    &format!("main..{branch}"),
                ],
            )
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// Files that differ between main and the branch on the remote.
    pub fn changed_files(&self, branch: &str) -> Vec<String> {
        self.w
            .env
            .git(&self.w.repo.origin, ["diff", "--name-only", "main", branch])
            .lines()
            .map(str::to_string)
            .collect()
    }
}

/// The main run: dispatch from the CLI, then the plan job and the implement job (3 steps).
/// Returns the run's report and the PR number.
pub fn main_run(s: &Scenario) -> (RunReport, u64) {
    s.script_plan(1);
    for step in 1..=3 {
        s.script_step(step + 1, step);
    }
    let (pr, run_id) = s.dispatch();
    let report = s.runner(false).run_dispatched(run_id);
    (report, pr)
}

/// The step states in the PR's hidden metadata.
fn step_states(body: &str) -> Vec<(u64, String)> {
    let start =
        body.find("<!-- oneshot:meta ").expect("a meta marker") + "<!-- oneshot:meta ".len();
    let end = body[start..].find(" -->").unwrap() + start;
    let meta: Value = serde_json::from_str(&body[start..end]).unwrap();
    meta["steps"]
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

fn progress_block(body: &str) -> &str {
    let start = body
        .find("<!-- oneshot:progress:start -->")
        .expect("a progress block");
    let end = body
        .find("<!-- oneshot:progress:end -->")
        .expect("the end of the progress block");
    &body[start..end]
}

fn all_done() -> Vec<(u64, String)> {
    (1..=3).map(|n| (n, "done".to_string())).collect()
}

/// What a finished one-shot looks like: the PR ready with the three step commits and no staging
/// files, the progress all done, the plan issue linked.
fn assert_finished(s: &Scenario, pr: u64, branch: &str, report: &RunReport) {
    let state = s.w.fake.state();
    let pull = state.pull(OWNER, NAME, pr).unwrap();
    assert!(!pull.draft, "the PR is ready for review\n{}", report.log());
    assert_eq!(pull.state, "open");
    assert!(!pull.title.starts_with("[WIP]"), "{}", pull.title);
    let body = pull.body.clone().unwrap();
    assert_eq!(step_states(&body), all_done(), "{body}");
    let progress = progress_block(&body);
    for n in 1..=3 {
        assert!(
            progress
                .lines()
                .any(|l| l.contains(&format!("Step {n}")) && l.contains("done")),
            "step {n} is not done in the progress block:\n{progress}"
        );
    }
    let subjects = s.subjects(branch);
    let steps: Vec<&String> = subjects.iter().filter(|s| s.starts_with("Step ")).collect();
    assert_eq!(
        steps,
        vec![
            "Step 1: Parse the flag",
            "Step 2: Print requests",
            "Step 3: Document it"
        ],
        "{subjects:?}"
    );
    assert_eq!(
        s.changed_files(branch),
        vec!["src/step1.txt", "src/step2.txt", "src/step3.txt"],
        "the finished PR has the steps' changes and no staging files"
    );
    assert!(
        s.w.fake.schema_violations().is_empty(),
        "{}",
        s.w.fake.request_summary()
    );
}

/// The plan issue of a PR (from its metadata), with the plan in its body.
fn plan_issue(s: &Scenario, pr: u64) -> u64 {
    let body =
        s.w.fake
            .state()
            .pull(OWNER, NAME, pr)
            .unwrap()
            .body
            .unwrap();
    let start = body.find("<!-- oneshot:meta ").unwrap() + "<!-- oneshot:meta ".len();
    let end = body[start..].find(" -->").unwrap() + start;
    let meta: Value = serde_json::from_str(&body[start..end]).unwrap();
    let issue = meta["issue"].as_u64().expect("the PR names its plan issue");
    let issue_body =
        s.w.fake
            .state()
            .issue(OWNER, NAME, issue)
            .unwrap()
            .body
            .unwrap();
    for heading in [
        "# Add a --verbose flag to submit",
        "### Step 1: Parse the flag",
        "### Step 2: Print requests",
        "### Step 3: Document it",
    ] {
        assert!(
            issue_body.contains(heading),
            "{heading:?} missing:\n{issue_body}"
        );
    }
    issue
}

#[test]
fn a_dispatched_one_shot_runs_both_jobs_to_a_ready_pull_request() {
    let s = Scenario::new();
    let (report, pr) = main_run(&s);
    assert_eq!(report.conclusion, "success", "{}", report.log());
    assert_eq!(report.job("oneshot/plan").result, "success");
    for job in ["oneshot/plan", "oneshot/implement/implement"] {
        let job = report.job(job);
        assert_eq!(job.runs_on, json!("ubuntu-latest"));
        // The agent on PATH (a self-hosted runner's, here the fake) is used and not installed.
        let install = job
            .steps
            .iter()
            .find(|s| s.id.as_deref() == Some("install-agent"))
            .unwrap();
        assert_eq!(install.outputs["installed"], "false", "{}", report.log());
        assert_eq!(install.outputs["agent_version"], "0.0.0 (fake agent)");
    }
    assert!(
        report.caches.is_empty() && !report.noops.iter().any(|n| n.starts_with("actions/cache")),
        "nothing to cache when nothing is installed: {:?}",
        report.noops
    );
    assert_eq!(report.job("oneshot/implement").result, "success");
    let implement = report.job("oneshot/implement/implement");
    assert_eq!(implement.result, "success", "{}", report.log());
    assert_eq!(
        implement.outputs.get("completed_steps").map(String::as_str),
        Some("3")
    );
    let plan = report.job("oneshot/plan");
    assert_eq!(plan.outputs["branch"], BRANCH);
    assert_eq!(plan.outputs["pr_number"], pr.to_string());
    assert_eq!(plan.outputs["rejected"], "false");
    // The prepare step is for runs started from the Actions tab only.
    let prepare = plan
        .steps
        .iter()
        .find(|s| s.id.as_deref() == Some("prepare"))
        .unwrap();
    assert_eq!(prepare.outcome, "skipped");

    let dispatch = &s.w.fake.state().dispatches()[0];
    assert_eq!(
        report.run_name,
        format!("oneshot [{}]: {PROMPT}", dispatch.inputs["distinct_id"]),
        "dispatch finds its run by this name"
    );

    // The fake's run went through its states.
    let run = s.w.fake.state().run(report.run_id).unwrap();
    assert_eq!(
        (run.status.as_str(), run.conclusion.as_deref()),
        ("completed", Some("success"))
    );

    let issue = plan_issue(&s, pr);
    assert_eq!(plan.outputs["issue_number"], issue.to_string());
    assert_finished(&s, pr, BRANCH, &report);

    // The comments: the plan issue links the pull request, and says it is implemented there.
    let issue_comments = s.w.fake.state().comments(OWNER, NAME, issue);
    assert_eq!(issue_comments.len(), 2, "{issue_comments:#?}");
    assert!(
        issue_comments
            .iter()
            .any(|c| c.body.contains(&format!("Implemented in #{pr}"))),
        "{issue_comments:#?}"
    );
    assert!(
        s.w.fake.response_violations().is_empty(),
        "the fake answered outside GitHub's schema"
    );

    // The agent sessions never held a GitHub token.
    let tokens = [s.w.fake.token(), report.github_token.clone()];
    let sessions = s.agent.invocations();
    assert_eq!(sessions.len(), 4, "one planning and three step sessions");
    for session in &sessions {
        let env = session["env"].to_string();
        for token in &tokens {
            assert!(
                !env.contains(token.as_str()),
                "a token reached the agent: {env}"
            );
        }
    }

    // Every job left a summary of what it did.
    let summaries = report.summaries();
    for job in ["oneshot/plan", "oneshot/implement/implement"] {
        assert!(
            summaries.iter().any(|(at, _)| at.starts_with(job)),
            "no step summary in {job}: {summaries:#?}"
        );
    }
    assert!(
        report.annotations().iter().all(|(_, a)| a.name != "error"),
        "{:#?}",
        report.annotations()
    );

    // The whole one-shot within the request budget.
    let requests = s.w.fake.requests().len();
    assert!(
        requests <= REQUEST_BUDGET,
        "{requests} GitHub requests (budget {REQUEST_BUDGET}):\n{}",
        s.w.fake.request_summary()
    );
}

#[test]
fn a_start_from_the_actions_tab_with_only_a_prompt_creates_the_branch_and_pr() {
    let s = Scenario::new();
    s.script_plan(1);
    for step in 1..=3 {
        s.script_step(step + 1, step);
    }
    let run_id = dispatch_from_actions_tab(
        &s.w,
        &s.w.fake.token(),
        "oneshot.yml",
        "main",
        &[
            ("prompt", PROMPT),
            ("runs_on", r#"["self-hosted", "linux"]"#),
        ],
    );
    // No ONESHOT_TOKEN secret: the workflows fall back to the run's github.token.
    let report = s.runner(true).run_dispatched(run_id);
    assert_eq!(report.conclusion, "success", "{}", report.log());
    assert_eq!(report.run_name, format!("oneshot: {PROMPT}"));
    // A JSON list of labels reaches both jobs as a list.
    for job in ["oneshot/plan", "oneshot/implement/implement"] {
        assert_eq!(
            report.job(job).runs_on,
            json!(["self-hosted", "linux"]),
            "{job}"
        );
    }
    let plan = report.job("oneshot/plan");
    let prepare = plan
        .steps
        .iter()
        .find(|s| s.id.as_deref() == Some("prepare"))
        .unwrap();
    assert_eq!(prepare.outcome, "success");
    let branch = plan.outputs["branch"].clone();
    assert!(branch.starts_with("oneshot-add-a-verbose-flag"), "{branch}");
    let pr: u64 = plan.outputs["pr_number"].parse().unwrap();

    let state = s.w.fake.state();
    let pull = state.pull(OWNER, NAME, pr).unwrap();
    assert_eq!(pull.head, branch);
    assert_eq!(pull.base, "main");
    assert_eq!(
        pull.user, "github-actions[bot]",
        "opened with the run's token"
    );
    plan_issue(&s, pr);
    assert_finished(&s, pr, &branch, &report);
    // The task commit made by prepare is on the branch, under the steps.
    assert!(s.subjects(&branch)[0].starts_with("Add the oneshot task"));
    // The run says that CI did not run on pushes made with github.token.
    assert!(
        report
            .annotations()
            .iter()
            .any(|(_, a)| a.name == "warning" && a.message.contains("ONESHOT_TOKEN")),
        "{:#?}",
        report.annotations()
    );
}

#[test]
fn a_rejected_plan_closes_the_pull_request_with_the_reason_and_implements_nothing() {
    let s = Scenario::new();
    let reason = "The task names no submit command; this repository has none.";
    s.agent.script_for(
        1,
        vec![
            init(),
            write(
                ".impl/plan-result.json",
                &json!({"rejected": true, "reason": reason}).to_string(),
            ),
            result("success", false, "Rejected."),
        ],
    );
    let (pr, run_id) = s.dispatch();
    let report = s.runner(false).run_dispatched(run_id);
    assert_eq!(report.conclusion, "success", "{}", report.log());
    let plan = report.job("oneshot/plan");
    assert_eq!(plan.outputs["rejected"], "true");
    assert_eq!(report.job("oneshot/implement").result, "skipped");
    assert!(!report.has_job("oneshot/implement/implement"));
    for id in ["save", "register"] {
        let step = plan
            .steps
            .iter()
            .find(|s| s.id.as_deref() == Some(id))
            .unwrap();
        assert_eq!(step.outcome, "skipped", "{id}");
    }

    // A clear notice in the run.
    let annotations = report.annotations();
    assert!(
        annotations
            .iter()
            .any(|(_, a)| matches!(a.name.as_str(), "notice" | "warning")
                && a.message.contains(reason)),
        "no notice with the reason: {annotations:#?}\n{}",
        report.log()
    );
    // The PR is closed, and says why.
    let state = s.w.fake.state();
    let pull = state.pull(OWNER, NAME, pr).unwrap();
    assert_eq!(pull.state, "closed");
    let comments = state.comments(OWNER, NAME, pr);
    assert!(
        comments.iter().any(|c| c.body.contains(reason)),
        "{comments:#?}"
    );
    // No plan issue, no step commit.
    assert!(state.issues(OWNER, NAME).iter().all(|i| i.pull.is_some()));
    assert!(s.subjects(BRANCH).iter().all(|s| !s.starts_with("Step ")));
    assert!(s.w.fake.schema_violations().is_empty());
}

#[test]
fn a_failure_at_step_two_then_oneshot_resume_finishes_the_work() {
    let s = Scenario::new();
    s.script_plan(1);
    s.script_step(2, 1);
    s.agent.script_for(
        3,
        vec![
            init(),
            write("src/partial.txt", "half done\n"),
            result(
                "error_during_execution",
                true,
                "I could not finish: the API is down.",
            ),
        ],
    );
    let (pr, run_id) = s.dispatch();
    let report = s.runner(false).run_dispatched(run_id);

    // The implement job is red; finalize ran and left the failure comment.
    assert_eq!(report.conclusion, "failure", "{}", report.log());
    assert_eq!(report.job("oneshot/plan").result, "success");
    let implement = report.job("oneshot/implement/implement");
    assert_eq!(implement.result, "failure");
    let step = |id: &str| {
        implement
            .steps
            .iter()
            .find(|s| s.id.as_deref() == Some(id))
            .unwrap()
    };
    assert_eq!(step("run-implement").outcome, "failure");
    assert_eq!(step("finalize").outcome, "success", "{}", report.log());
    assert_eq!(implement.outputs["failed_step"], "2");
    let run = s.w.fake.state().run(run_id).unwrap();
    assert_eq!(run.conclusion.as_deref(), Some("failure"));

    let state = s.w.fake.state();
    let pull = state.pull(OWNER, NAME, pr).unwrap();
    assert!(pull.draft, "a failed one-shot stays a draft");
    assert_eq!(
        step_states(pull.body.as_deref().unwrap()),
        vec![
            (1, "done".to_string()),
            (2, "failed".to_string()),
            (3, "not_started".to_string())
        ]
    );
    let comments = state.comments(OWNER, NAME, pr);
    let failure = comments
        .iter()
        .find(|c| c.body.contains("I could not finish: the API is down."))
        .unwrap_or_else(|| panic!("no failure comment: {comments:#?}"));
    assert!(
        failure
            .body
            .contains(&format!("oneshot resume {pr} --from-step 2")),
        "{}",
        failure.body
    );
    assert_eq!(s.subjects(BRANCH).last().unwrap(), "Step 1: Parse the flag");

    // `oneshot resume` dispatches the resume workflow init wrote; its run finishes the work.
    s.script_step(4, 2);
    s.script_step(5, 3);
    let resumed = succeeded(s.oneshot(&["resume", &pr.to_string(), "--json"]));
    assert_eq!(resumed["from_step"], 2);
    let resume_run = resumed["run_id"]
        .as_u64()
        .expect("the run id of the resume");
    let dispatched = s.w.fake.state().run(resume_run).unwrap();
    assert_eq!(
        dispatched.workflow_path,
        ".github/workflows/oneshot-resume.yml"
    );
    let report = s.runner(false).run_dispatched(resume_run);
    assert_eq!(report.conclusion, "success", "{}", report.log());
    assert_eq!(report.job("implement/implement").result, "success");

    assert_finished(&s, pr, BRANCH, &report);
    let comments = s.w.fake.state().comments(OWNER, NAME, pr);
    assert_eq!(
        comments
            .iter()
            .filter(|c| c.body.contains("I could not finish"))
            .count(),
        1,
        "the failure comment is not repeated: {comments:#?}"
    );
}

// -- the workflow runner itself ---------------------------------------------------------------------

/// A repository whose main branch has these workflow files, and a dispatch of the first one.
fn world_with_workflows(files: &[(&str, &str)], inputs: &[(&str, &str)]) -> (World, u64) {
    let w = World::new();
    for (name, text) in files {
        w.repo.write(&format!(".github/workflows/{name}"), text);
    }
    w.env.git(&w.repo.work, ["add", "."]);
    w.env
        .git(&w.repo.work, ["commit", "--quiet", "-m", "Add workflows"]);
    w.env
        .git(&w.repo.work, ["push", "--quiet", "origin", "main"]);
    let run = dispatch_from_actions_tab(&w, &w.fake.token(), files[0].0, "main", inputs);
    (w, run)
}

const RUNNER_SELFTEST: &str = r#"name: selftest
run-name: "selftest ${{ inputs.flag && 'on' || 'off' }} ${{ inputs.word }}"
on:
  workflow_dispatch:
    inputs:
      flag: { type: boolean, default: false }
      word: { type: string, default: "x" }
env:
  WF: workflow
jobs:
  first:
    runs-on: ubuntu-latest
    env:
      JOB: job
    outputs:
      greeting: ${{ steps.say.outputs.greeting }}
      multi: ${{ steps.say.outputs.multi }}
      after: ${{ steps.after.outputs.ok }}
    steps:
      - uses: actions/checkout@v5
      - id: say
        env:
          STEP: step
          WORD: ${{ inputs.word }}
        run: |
          test -f README.md
          test "$(git rev-parse --is-shallow-repository)" = true
          echo "greeting=$WF-$JOB-$STEP-$WORD" >> "$GITHUB_OUTPUT"
          { echo 'multi<<EOF'; echo 'a'; echo 'b'; echo 'EOF'; } >> "$GITHUB_OUTPUT"
          echo "FROM_ENV=set" >> "$GITHUB_ENV"
          mkdir -p "$RUNNER_TEMP/bin"
          printf '#!/bin/sh\necho tool\n' > "$RUNNER_TEMP/bin/mytool"
          chmod +x "$RUNNER_TEMP/bin/mytool"
          echo "$RUNNER_TEMP/bin" >> "$GITHUB_PATH"
          echo "::notice title=Hello%3A there::one%0Atwo"
          # No shell given: `bash -e`, without pipefail.
          false | true
      - id: later
        shell: bash
        run: |
          test "$FROM_ENV" = set
          test "$(mytool)" = tool
          test "$GITHUB_ACTIONS" = true
          test "$GITHUB_REPOSITORY" = acme/app
          test -z "${GIT_AUTHOR_NAME:-}" && test -z "${GITHUB_TOKEN:-}"
          # `shell: bash` has pipefail.
          if false | true; then exit 9; fi
          echo "the summary" >> "$GITHUB_STEP_SUMMARY"
      - id: broken
        continue-on-error: true
        run: exit 3
      - id: after
        if: steps.broken.outcome == 'failure' && steps.broken.conclusion == 'success' && env.FROM_ENV == 'set'
        run: echo "ok=yes" >> "$GITHUB_OUTPUT"
      - uses: actions/upload-artifact@v4
        with:
          name: logs
          path: .
  second:
    needs: first
    if: needs.first.outputs.greeting == 'WORKFLOW-job-step-word'
    runs-on: ubuntu-latest
    outputs:
      cleaned: ${{ steps.cleanup.outputs.cleaned }}
    steps:
      - id: fail
        run: exit 1
      - id: never
        run: echo never
      - id: cleanup
        if: failure() && steps.never.outcome == 'skipped'
        run: echo "cleaned=1" >> "$GITHUB_OUTPUT"
  third:
    needs: second
    runs-on: ubuntu-latest
    steps:
      - run: echo never
  fourth:
    needs: [first, second]
    if: always() && needs.second.result == 'failure'
    uses: ./.github/workflows/callee.yml
    with:
      flag: ${{ !inputs.flag }}
      count: 3
      text: ${{ format('{0}+{1}', needs.first.outputs.multi, needs.second.outputs.cleaned) }}
    secrets:
      KEY: ${{ secrets.MY_SECRET }}
"#;

const CALLEE: &str = r#"name: callee
on:
  workflow_call:
    inputs:
      flag: { type: boolean, required: true }
      count: { type: number, required: true }
      text: { type: string, required: false, default: "none" }
      unset: { type: string, required: false, default: "d" }
    secrets:
      KEY: { required: true }
    outputs:
      seen:
        value: ${{ jobs.inner.outputs.seen }}
jobs:
  inner:
    runs-on: ubuntu-latest
    outputs:
      seen: ${{ steps.s.outputs.seen }}
    steps:
      - id: s
        env:
          SEEN: ${{ format('{0} {1} {2} {3} {4} {5}', inputs.flag, inputs.flag == true, inputs.count, inputs.text, inputs.unset, secrets.KEY) }}
        run: |
          { echo "seen<<END"; echo "$SEEN"; echo END; } >> "$GITHUB_OUTPUT"
"#;

#[test]
fn the_workflow_runner_follows_the_runner_s_rules() {
    let (w, run) = world_with_workflows(
        &[("selftest.yml", RUNNER_SELFTEST), ("callee.yml", CALLEE)],
        &[("word", "word")],
    );
    let report = WorkflowRunner::new(&w)
        .secret("MY_SECRET", "s3cret")
        .run_dispatched(run);
    let log = report.log();
    assert_eq!(report.run_name, "selftest off word");
    assert_eq!(report.conclusion, "failure", "{log}");
    let first = report.job("first");
    assert_eq!(first.result, "success", "{log}");
    assert_eq!(first.outputs["greeting"], "workflow-job-step-word");
    assert_eq!(first.outputs["multi"], "a\nb");
    assert_eq!(first.outputs["after"], "yes", "{log}");
    let broken = &first.steps[3];
    assert_eq!(
        (broken.outcome.as_str(), broken.conclusion.as_str()),
        ("failure", "success")
    );
    assert_eq!(first.steps[2].summary, "the summary\n");
    assert_eq!(report.noops, vec!["actions/upload-artifact@v4"]);
    let notices = report.annotations();
    assert_eq!(notices.len(), 1);
    assert_eq!(notices[0].1.property("title"), Some("Hello: there"));
    assert_eq!(notices[0].1.message, "one\ntwo");

    let second = report.job("second");
    assert_eq!(second.result, "failure", "{log}");
    let outcomes: Vec<&str> = second.steps.iter().map(|s| s.outcome.as_str()).collect();
    assert_eq!(outcomes, vec!["failure", "skipped", "success"]);
    assert_eq!(second.outputs["cleaned"], "1");
    assert_eq!(report.job("third").result, "skipped");
    let fourth = report.job("fourth");
    assert_eq!(fourth.result, "success", "{log}");
    assert_eq!(fourth.outputs["seen"], "true true 3 a\nb+1 d s3cret");
    assert_eq!(report.job("fourth/inner").result, "success");

    let run = w.fake.state().run(run).unwrap();
    assert_eq!(
        (run.status.as_str(), run.conclusion.as_deref()),
        ("completed", Some("failure"))
    );
}

#[test]
fn the_workflow_runner_refuses_what_it_does_not_understand() {
    let cases = [
        ("steps:\n      - uses: someone/else@v1\n", "does not know"),
        (
            "steps:\n      - run: echo\n        env:\n          X: ${{ nope.x }}\n",
            "Unrecognized named-value: 'nope'",
        ),
        (
            "steps:\n      - run: echo\n        env:\n          X: ${{ hashFiles('x') }}\n",
            "hashFiles",
        ),
        (
            "strategy: { matrix: { a: [1] } }\n    steps:\n      - run: echo\n",
            "`strategy` is not supported",
        ),
        (
            "steps:\n      - uses: ./.github/actions/install\n",
            "not in the workspace",
        ),
        (
            "steps:\n      - run: echo\n        if: ${{ true }} && false\n",
            "mixes text",
        ),
    ];
    for (job, expected) in cases {
        let workflow = format!(
            "name: t\non:\n  workflow_dispatch:\njobs:\n  j:\n    runs-on: ubuntu-latest\n    {job}"
        );
        let (w, run) = world_with_workflows(&[("t.yml", &workflow)], &[]);
        let err = WorkflowRunner::new(&w)
            .try_run_dispatched(run)
            .expect_err(&workflow);
        assert!(err.contains(expected), "{expected:?} not in: {err}");
    }
}

// -- a stock runner ----------------------------------------------------------------------------

/// A 2-step plan for the stock-runner run.
const STOCK_PLAN: &str = "# Add a --verbose flag to submit

The submit command gets a --verbose flag that prints each request.

## Steps

### Step 1: Parse the flag
Add `verbose: bool` to `SubmitArgs` in src/cli.rs. Check: `cargo build`.

### Step 2: Print requests
In src/submit.rs, print each request when verbose is set. Check: `cargo test submit`.
";

/// PATH as a stock GitHub-hosted runner has it for this test: node, npm and git (and the
/// shell), and no agent CLI. `None` when npm is not installed here.
fn stock_runner_path() -> Option<String> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let find = |program: &str| {
        std::env::split_paths(&path)
            .map(|d| d.join(program))
            .find(|p| p.is_file())
    };
    let mut dirs: Vec<std::path::PathBuf> = Vec::new();
    for program in ["node", "npm", "git", "bash"] {
        let dir = find(program)?.parent().unwrap().to_path_buf();
        if !dirs.contains(&dir) {
            dirs.push(dir);
        }
    }
    for dir in ["/usr/bin", "/bin"].map(std::path::PathBuf::from) {
        if !dirs.contains(&dir) {
            dirs.push(dir);
        }
    }
    for dir in &dirs {
        for agent in ["claude", "codex", "gemini"] {
            assert!(
                !dir.join(agent).exists(),
                "{} has {agent}: this machine cannot play a stock runner",
                dir.display()
            );
        }
    }
    Some(std::env::join_paths(dirs).unwrap().into_string().unwrap())
}

/// npm's own cache on this machine (which scripts/install-test-tools.sh filled), if it has one.
fn machine_npm_cache() -> Option<std::path::PathBuf> {
    let out = std::process::Command::new("npm")
        .args(["config", "get", "cache"])
        .output()
        .ok()?;
    let dir = std::path::PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    (out.status.success() && dir.join("_cacache").is_dir()).then_some(dir)
}

/// Issue 11: both jobs on a runner with no agent CLI at all. The workflow's own install step
/// installs the real Claude Code CLI from the npm registry (npm's cache is the one
/// scripts/install-test-tools.sh filled, handed over as an Actions cache hit, so CI downloads
/// it once), and that CLI plans and implements a 2-step plan against the scripted fake
/// Anthropic API.
#[test]
fn on_a_stock_runner_the_workflow_installs_the_agent_and_the_real_cli_does_the_work() {
    use crate::fake_anthropic::{FakeAnthropic, Turn};
    use crate::real_claude::CLAUDE_CODE_VERSION;

    let Some(path) = stock_runner_path() else {
        let message = "npm is not installed: the stock-runner test needs Node and npm";
        if std::env::var_os("CI").is_some() {
            panic!("{message}");
        }
        eprintln!("SKIPPED: {message}");
        return;
    };
    let mut w = World::new();
    run_ok(w.env.oneshot(&w.repo.work).args(["init", "--json"]));
    w.env.git(&w.repo.work, ["add", "."]);
    w.env
        .git(&w.repo.work, ["commit", "--quiet", "-m", "Set up oneshot"]);
    w.env
        .git(&w.repo.work, ["push", "--quiet", "origin", "main"]);

    let write = |file: &str, content: &str| Turn::Tool {
        text: None,
        name: "Write".into(),
        input: json!({"file_path": format!("{{workdir}}/{file}"), "content": content}),
    };
    let api = FakeAnthropic::start_sessions(vec![
        (
            "oneshot: plan the task".into(),
            vec![
                write(".impl/plan.md", STOCK_PLAN),
                write(".impl/plan-result.json", PLAN_RESULT),
                Turn::Text("Wrote the plan (2 steps).".into()),
            ],
        ),
        (
            "implement step 1 of the plan".into(),
            vec![
                write("src/step1.txt", "step 1\n"),
                Turn::Text("Done.".into()),
            ],
        ),
        (
            "implement step 2 of the plan".into(),
            vec![
                write("src/step2.txt", "step 2\n"),
                Turn::Text("Done.".into()),
            ],
        ),
    ]);
    w.env.set("ANTHROPIC_BASE_URL", api.url.clone());
    w.env.set("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1");

    // The Actions cache, holding npm's cache of this machine (and no installed CLI) under the
    // key the step computes, so that the install step does run npm.
    let store = w.env.dir("actions-cache");
    let key = format!(
        "oneshot-agent-npm-{}-{}-claude-{CLAUDE_CODE_VERSION}",
        std::env::consts::OS,
        std::env::consts::ARCH
    );
    let seeded = machine_npm_cache()
        .map(|cache| {
            let entry = w.env.dir(&format!("actions-cache/{key}"));
            std::os::unix::fs::symlink(cache, entry.join("0")).unwrap()
        })
        .is_some();
    // How this machine reaches the registry (a runner has its own): proxies and extra
    // certificate authorities.
    for (name, value) in std::env::vars() {
        let network = name.eq_ignore_ascii_case("https_proxy")
            || name.eq_ignore_ascii_case("http_proxy")
            || name.eq_ignore_ascii_case("no_proxy")
            || ["NODE_EXTRA_CA_CERTS", "SSL_CERT_FILE", "SSL_CERT_DIR"].contains(&name.as_str());
        if network {
            w.env.set(&name, value);
        }
    }

    let out = w
        .env
        .oneshot(&w.repo.work)
        .args(["dispatch", "--json", PROMPT])
        .output()
        .unwrap();
    let json = succeeded(out);
    let (pr, run_id) = (
        json["pr_number"].as_u64().unwrap(),
        json["run_id"].as_u64().unwrap(),
    );
    let report = WorkflowRunner::new(&w)
        .secret("ANTHROPIC_API_KEY", "sk-ant-fake")
        .secret("ONESHOT_TOKEN", w.fake.token())
        .path(path)
        .cache_store(&store)
        .step_timeout(std::time::Duration::from_secs(900))
        .run_dispatched(run_id);
    let context = format!(
        "{}\nrequests to the fake API:\n{}",
        report.log(),
        api.describe()
    );
    assert_eq!(report.conclusion, "success", "{context}");

    // Each job installed the CLI itself, at the pinned version, into its own RUNNER_TEMP.
    for job in ["oneshot/plan", "oneshot/implement/implement"] {
        let job = report.job(job);
        let step = job
            .steps
            .iter()
            .find(|s| s.id.as_deref() == Some("install-agent"))
            .unwrap();
        assert_eq!(step.outcome, "success", "{context}");
        assert_eq!(step.outputs["installed"], "true", "{context}");
        assert_eq!(
            step.outputs["agent_version"],
            format!("{CLAUDE_CODE_VERSION} (Claude Code)")
        );
        assert!(
            step.outputs["agent_path"].ends_with(&format!(
                "/temp/oneshot-agents/claude-{CLAUDE_CODE_VERSION}/node_modules/.bin/claude"
            )),
            "{}",
            step.outputs["agent_path"]
        );
    }
    let restores: Vec<&String> = report
        .caches
        .iter()
        .filter(|c| c.starts_with("restore"))
        .collect();
    assert_eq!(restores.len(), 2, "{:?}", report.caches);
    if seeded {
        assert!(
            report.caches.iter().all(|c| c.starts_with("restore hit")),
            "{:?}",
            report.caches
        );
    } else {
        // The first job downloads and saves; the second restores what it saved.
        assert_eq!(
            report.caches,
            [
                format!("restore miss {key}"),
                format!("save {key}"),
                format!("restore hit {key}")
            ]
        );
    }

    // The real CLI did the work: the plan issue and the two step commits.
    let requests = api.requests();
    for marker in [
        "oneshot: plan the task",
        "implement step 1 of the plan",
        "implement step 2 of the plan",
    ] {
        assert!(
            requests.iter().any(|r| r.turn == Some(1)
                && r.body["messages"][0]["content"]
                    .to_string()
                    .contains(marker)),
            "no session for {marker:?}\n{context}"
        );
    }
    let state = w.fake.state();
    let pull = state.pull(OWNER, NAME, pr).unwrap();
    assert!(!pull.draft, "the PR is ready for review\n{context}");
    let subjects: Vec<String> = w
        .env
        .git(
            &w.repo.origin,
            [
                "log",
                "--reverse",
                "--format=%s",
                &format!("main..{BRANCH}"),
            ],
        )
        .lines()
        .filter(|s| s.starts_with("Step "))
        .map(str::to_string)
        .collect();
    assert_eq!(
        subjects,
        ["Step 1: Parse the flag", "Step 2: Print requests"],
        "{context}"
    );
    assert_eq!(
        w.env
            .git(&w.repo.origin, ["show", &format!("{BRANCH}:src/step2.txt")]),
        "step 2\n"
    );
}
