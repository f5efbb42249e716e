//! A ready-made world for tests that talk to GitHub: a hermetic environment, a work tree with a
//! bare `origin` that the fake GitHub server serves as `acme/app`, and the variables Actions sets.

use std::path::PathBuf;
use std::time::Duration;

use super::fake_github::FakeGitHub;
use super::{TestEnv, TestRepo, succeeded};

pub const OWNER: &str = "acme";
pub const NAME: &str = "app";
pub const RUN_ID: &str = "9001";

pub struct World {
    pub env: TestEnv,
    pub repo: TestRepo,
    pub fake: FakeGitHub,
}

impl World {
    pub fn new() -> Self {
        Self::with(FakeGitHub::start())
    }

    pub fn ghes() -> Self {
        Self::with(FakeGitHub::start_ghes())
    }

    fn with(fake: FakeGitHub) -> Self {
        let mut env = TestEnv::new();
        let repo = env.repo_with_origin();
        fake.link_git(OWNER, NAME, &repo.origin);
        fake.set_env(&mut env);
        env.set("GITHUB_TOKEN", fake.token());
        env.set("GITHUB_REPOSITORY", format!("{OWNER}/{NAME}"));
        env.set("GITHUB_RUN_ID", RUN_ID);
        // Short limits keep fault tests fast.
        env.set("ONESHOT_HTTP_TIMEOUT_MS", "1500");
        env.set("ONESHOT_RETRY_BUDGET_MS", "8000");
        World { env, repo, fake }
    }

    /// Runs `oneshot init` on `main` and pushes what it wrote, as a user sets a repository up.
    /// The work tree is left on `main`.
    pub fn init_on_main(&self) {
        self.env
            .git(&self.repo.work, ["checkout", "--quiet", "main"]);
        let out = self
            .env
            .oneshot(&self.repo.work)
            .args(["init", "--json"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.env.git(&self.repo.work, ["add", ".github", ".claude"]);
        self.env.git(
            &self.repo.work,
            ["commit", "--quiet", "-m", "Set up oneshot"],
        );
        self.env
            .git(&self.repo.work, ["push", "--quiet", "origin", "main"]);
        self.env
            .git(&self.repo.work, ["fetch", "--quiet", "origin"]);
    }

    /// Pushes a branch with one commit and opens a draft PR for it, as dispatch would.
    pub fn draft_pr(&self, branch: &str) -> u64 {
        self.env
            .git(&self.repo.work, ["checkout", "--quiet", "-b", branch]);
        self.repo.write(
            ".worker-impl/task.md",
            "Add a --verbose flag to the submit command\n",
        );
        self.env
            .git(&self.repo.work, ["add", ".worker-impl/task.md"]);
        self.env.git(
            &self.repo.work,
            ["commit", "--quiet", "-m", "Add the oneshot task"],
        );
        self.env
            .git(&self.repo.work, ["push", "--quiet", "origin", branch]);
        self.fake.create_pull(
            OWNER,
            NAME,
            branch,
            "main",
            "[WIP] Add a --verbose flag",
            true,
        )
    }

    /// The job-local files the plan job has at this point.
    pub fn write_plan(&self, plan: &str) {
        self.repo.write(".impl/plan.md", plan);
        self.repo.write(
            ".impl/task.md",
            "Add a --verbose flag to the submit command\n",
        );
        self.repo.write(
            ".impl/plan-result.json",
            r#"{"title": "Add a --verbose flag to submit", "summary": "Adds the flag."}"#,
        );
    }

    /// What the plan job leaves for the implement job: a draft PR of `branch` and `plan` saved
    /// to its issue and registered (`register-one-shot-plan` with `register_args` added).
    /// Returns the PR and the issue.
    pub fn saved_plan(&self, branch: &str, plan: &str, register_args: &[&str]) -> (u64, u64) {
        let pr = self.draft_pr(branch);
        self.write_plan(plan);
        let saved = succeeded(
            self.env
                .oneshot(&self.repo.work)
                .args(["exec", "plan-save-to-issue", "--pr", &pr.to_string()])
                .output()
                .unwrap(),
        );
        let issue = saved["issue_number"].as_u64().unwrap();
        succeeded(
            self.env
                .oneshot(&self.repo.work)
                .args(["exec", "register-one-shot-plan", "--issue"])
                .arg(issue.to_string())
                .args(["--pr", &pr.to_string()])
                .args(register_args)
                .output()
                .unwrap(),
        );
        (pr, issue)
    }

    /// A fresh clone of `branch` of the remote in `<root>/<name>`, as a new runner checks out.
    pub fn clone_branch(&self, branch: &str, name: &str) -> PathBuf {
        let dir = self.env.root.path().join(name);
        self.env.git(
            self.env.root.path(),
            [
                "clone",
                "--quiet",
                "--branch",
                branch,
                self.repo.origin.to_str().unwrap(),
                dir.to_str().unwrap(),
            ],
        );
        dir
    }

    /// The remote's branches.
    pub fn remote_branches(&self) -> Vec<String> {
        self.env
            .git(
                &self.repo.origin,
                ["for-each-ref", "--format=%(refname:short)", "refs/heads/"],
            )
            .lines()
            .map(str::to_string)
            .collect()
    }

    pub fn wait(&self, d: Duration) {
        std::thread::sleep(d);
    }
}

pub const PLAN: &str = "# Add a --verbose flag to submit

The submit command gets a --verbose flag that prints each request.

## Steps

### Step 1: Parse the flag
Add `verbose: bool` to `SubmitArgs` in src/cli.rs. Check: `cargo build`.

### Step 2: Print requests
In src/submit.rs, print each request when verbose is set. Check: `cargo test submit`.

### Step 3: Document it
Add the flag to README.md. Check: the README mentions --verbose.
";
