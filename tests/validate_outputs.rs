//! `oneshot exec validate-outputs`: the planner's `.impl/plan.md` and `.impl/plan-result.json`
//! turned into step outputs, locally and in a simulated Actions job.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::support::runner_files;
use crate::support::{TestEnv, render, stdout_json};

const PLAN: &str = "\
# Add a --verbose flag to submit

Prints each request as it is sent, so that failures can be diagnosed.

## Steps

### Step 1: Add the flag

Add `verbose: bool` to `SubmitArgs` in `src/cli.rs`.

```sh
# check it
cargo test cli
```

### Step 2: Print the requests

In `src/submit.rs`, print each request when the flag is set.
Check: `cargo test submit`.
";

const RESULT: &str =
    r#"{"title": "Add a --verbose flag to submit", "summary": "Prints each request."}"#;

/// A checkout (a git work tree) in a hermetic environment.
struct Checkout {
    env: TestEnv,
    dir: PathBuf,
}

impl Checkout {
    fn new() -> Self {
        let env = TestEnv::new();
        let dir = env.dir("work");
        env.git(&dir, ["init", "--quiet", "-b", "main"]);
        Checkout { env, dir }
    }

    fn write(&self, relative: &str, content: impl AsRef<[u8]>) -> &Self {
        let path = self.dir.join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
        self
    }

    fn plan(&self, text: &str) -> &Self {
        self.write(".impl/plan.md", text)
    }

    fn result(&self, json: &str) -> &Self {
        self.write(".impl/plan-result.json", json)
    }

    fn run_in(&self, dir: &Path) -> Output {
        self.env
            .oneshot(dir)
            .args(["exec", "validate-outputs"])
            .output()
            .unwrap()
    }

    fn run(&self) -> Output {
        self.run_in(&self.dir)
    }

    fn render(&self, output: &Output) -> String {
        render(output, &self.env)
    }

    /// Runs as a step of an Actions job: `GITHUB_OUTPUT` and `GITHUB_STEP_SUMMARY` are files.
    fn in_actions(mut self) -> Actions {
        let runner = self.env.dir("runner");
        let output = runner.join("output");
        let summary = runner.join("summary.md");
        self.env.set("GITHUB_ACTIONS", "true");
        self.env.set("GITHUB_OUTPUT", output.display().to_string());
        self.env
            .set("GITHUB_STEP_SUMMARY", summary.display().to_string());
        Actions {
            checkout: self,
            output,
            summary,
        }
    }
}

struct Actions {
    checkout: Checkout,
    output: PathBuf,
    summary: PathBuf,
}

impl Actions {
    fn output_file(&self) -> String {
        std::fs::read_to_string(&self.output).unwrap_or_default()
    }

    /// The outputs as the runner reads them.
    fn outputs(&self) -> Vec<(String, String)> {
        runner_files::parse(&self.output_file()).unwrap()
    }

    fn summary(&self) -> String {
        std::fs::read_to_string(&self.summary).unwrap_or_default()
    }
}

/// The output file with its random heredoc delimiters replaced, for snapshots.
fn filter_delimiters(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find("ghadelimiter_") {
        out.push_str(&rest[..pos + "ghadelimiter_".len()]);
        rest = &rest[pos + "ghadelimiter_".len()..];
        let uuid: String = rest.chars().take(36).collect();
        assert!(
            is_uuid_v4(&uuid),
            "delimiter is not a random UUID: {uuid:?}"
        );
        out.push_str("[UUID]");
        rest = &rest[36..];
    }
    out.push_str(rest);
    out
}

fn is_uuid_v4(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
        && s.chars()
            .all(|c| c == '-' || c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        && groups[2].starts_with('4')
}

#[test]
fn valid_plan() {
    let c = Checkout::new();
    c.plan(PLAN).result(RESULT);
    let out = c.run();
    insta::assert_snapshot!(c.render(&out), @r#"
    exit: 0
    ----- stdout -----
    {"success":true,"plan_title":"Add a --verbose flag to submit","step_count":2,"rejected":false,"reason":""}
    ----- stderr -----
    Plan: Add a --verbose flag to submit (2 steps, sha256 0c7928d767dcbd5609011bf7302f92b6ca146799b7c5f23adf5007b86ad85d49)
    "#);
    let json = stdout_json(&out);
    assert_eq!(json["step_count"], 2);
    assert_eq!(json["rejected"], false);
}

#[test]
fn finds_the_checkout_from_a_subdirectory() {
    let c = Checkout::new();
    c.plan(PLAN).result(RESULT);
    let sub = c.dir.join("src/deep");
    std::fs::create_dir_all(&sub).unwrap();
    let out = c.run_in(&sub);
    assert_eq!(out.status.code(), Some(0), "{}", c.render(&out));
    assert_eq!(
        stdout_json(&out)["plan_title"],
        "Add a --verbose flag to submit"
    );
}

#[test]
fn missing_result_file_is_a_warning() {
    let c = Checkout::new();
    c.plan(PLAN);
    insta::assert_snapshot!(c.render(&c.run()), @r#"
    exit: 0
    ----- stdout -----
    {"success":true,"plan_title":"Add a --verbose flag to submit","step_count":2,"rejected":false,"reason":""}
    ----- stderr -----
    warning: the planning session did not write .impl/plan-result.json; the title is taken from the plan
    Plan: Add a --verbose flag to submit (2 steps, sha256 0c7928d767dcbd5609011bf7302f92b6ca146799b7c5f23adf5007b86ad85d49)
    "#);
}

#[test]
fn a_different_title_in_the_result_is_a_warning_and_the_plan_wins() {
    let c = Checkout::new();
    c.plan(PLAN)
        .result(r#"{"title": "Something else", "summary": ""}"#);
    insta::assert_snapshot!(c.render(&c.run()), @r#"
    exit: 0
    ----- stdout -----
    {"success":true,"plan_title":"Add a --verbose flag to submit","step_count":2,"rejected":false,"reason":""}
    ----- stderr -----
    warning: the title in .impl/plan-result.json ("Something else") differs from the plan's title ("Add a --verbose flag to submit"); using the plan's title
    Plan: Add a --verbose flag to submit (2 steps, sha256 0c7928d767dcbd5609011bf7302f92b6ca146799b7c5f23adf5007b86ad85d49)
    "#);
}

#[test]
fn an_empty_summary_is_a_warning() {
    let c = Checkout::new();
    c.plan("# Add a --verbose flag\n\n## Steps\n\n### Step 1: Add it\n\nIn src/cli.rs.\n")
        .result(RESULT);
    let out = c.run();
    assert_eq!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("warning: .impl/plan.md:3: the plan has no summary"),
        "{stderr}"
    );
}

#[test]
fn rejected_task() {
    let c = Checkout::new();
    c.result(r#"{"rejected": true, "reason": "The repository has no submit command.\nNothing to add a flag to."}"#);
    let out = c.run();
    insta::assert_snapshot!(c.render(&out), @r#"
    exit: 0
    ----- stdout -----
    {"success":true,"rejected":true,"reason":"The repository has no submit command.\nNothing to add a flag to.","plan_title":"","step_count":0}
    ----- stderr -----
    warning: The planning session rejected the task: The repository has no submit command.
    Nothing to add a flag to.
    "#);
}

#[test]
fn rejected_task_ignores_a_plan() {
    let c = Checkout::new();
    c.plan("not a plan at all")
        .result(r#"{"rejected": true, "reason": "Out of scope."}"#);
    let out = c.run();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout_json(&out)["rejected"], true);
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("The task was rejected, so .impl/plan.md is not used.")
    );
}

#[test]
fn missing_plan() {
    let c = Checkout::new();
    insta::assert_snapshot!("missing_plan_and_result", c.render(&c.run()));
    c.result(RESULT);
    insta::assert_snapshot!("missing_plan", c.render(&c.run()));
}

#[test]
fn malformed_result_file() {
    let c = Checkout::new();
    c.plan(PLAN);
    for (name, json) in [
        ("not_json", "{\"title\": \"Add a flag\",\n  summary: 1}"),
        ("not_an_object", "[\"Add a flag\"]"),
        ("rejected_without_reason", r#"{"rejected": true}"#),
        ("unknown_shape", r#"{"plan": "x"}"#),
    ] {
        c.result(json);
        insta::assert_snapshot!(format!("malformed_result_{name}"), c.render(&c.run()), json);
    }
}

#[test]
fn not_utf8() {
    let c = Checkout::new();
    c.write(".impl/plan.md", b"# Caf\xe9 plan\n");
    let out = c.run();
    assert_eq!(out.status.code(), Some(3));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains(".impl/plan.md is not valid UTF-8 (invalid bytes at offset 5)")
    );
}

#[test]
fn not_a_checkout() {
    let env = TestEnv::new();
    let dir = env.dir("plain");
    let out = env
        .oneshot(&dir)
        .args(["exec", "validate-outputs"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5), "{}", render(&out, &env));
}

/// Each kind of invalid plan, run as an Actions step: one annotation per problem, on its line.
#[test]
fn invalid_plans_are_annotated() {
    let steps = |n: u32| -> String {
        (1..=n)
            .map(|i| format!("\n### Step {i}: Do thing {i}\n\nChange file {i}.\n"))
            .collect()
    };
    let head = "# Add a --verbose flag\n\nWhy.\n\n## Steps\n";
    let big = format!(
        "{head}{}{}",
        steps(1),
        "A long line of text for the step.\n".repeat(2_000)
    );
    let cases: Vec<(&str, String)> = vec![
        (
            "no_title",
            format!("Here is the plan:\n\n## Steps\n{}", steps(2)),
        ),
        (
            "short_title",
            format!("# Fix\n\nWhy.\n\n## Steps\n{}", steps(1)),
        ),
        (
            "long_title",
            format!("# {}\n\nWhy.\n\n## Steps\n{}", "Word ".repeat(30), steps(1)),
        ),
        (
            "no_steps_section",
            "# Add a --verbose flag\n\nJust a summary.\n".to_string(),
        ),
        ("no_steps", head.to_string()),
        ("too_many_steps", format!("{head}{}", steps(21))),
        (
            "gap",
            format!("{head}{}\n### Step 4: Four\n\nMore.\n", steps(2)),
        ),
        (
            "duplicate",
            format!("{head}{}\n### Step 2: Again\n\nMore.\n", steps(2)),
        ),
        (
            "empty_step_title",
            format!("{head}{}\n### Step 2:\n\nMore.\n", steps(1)),
        ),
        (
            "empty_step_body",
            format!("{head}{}\n### Step 2: Two\n", steps(1)),
        ),
        (
            "unclosed_fence",
            format!("{head}{}\n```sh\ncargo test\n", steps(1)),
        ),
        (
            "text_after_steps",
            format!("{head}{}\n## Notes\n\nRisky.\n", steps(1)),
        ),
        ("too_large", big),
    ];
    for (name, plan) in cases {
        let c = Checkout::new();
        c.plan(&plan).result(RESULT);
        let a = c.in_actions();
        let out = a.checkout.run();
        assert_eq!(out.status.code(), Some(3), "{name}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains("::error file=.impl/plan.md,line="),
            "{name}: {stdout}"
        );
        assert!(
            a.output_file().is_empty(),
            "{name}: an invalid plan has no outputs"
        );
        assert!(a.summary().contains("## The plan is invalid"), "{name}");
        insta::assert_snapshot!(
            format!("invalid_{name}"),
            a.checkout.render(&out),
            &plan.chars().take(300).collect::<String>()
        );
    }
}

#[test]
fn invalid_plan_outside_actions_lists_the_problems() {
    let c = Checkout::new();
    c.plan("# Fix\n\n## Steps\n\n### Step 2: Two\n\nBody.\n\n### Step 2:\n")
        .result(RESULT);
    let out = c.run();
    insta::assert_snapshot!(c.render(&out));
    let json = stdout_json(&out);
    assert_eq!(json["error_type"], "invalid_input");
    assert!(
        json["message"]
            .as_str()
            .unwrap()
            .contains(".impl/plan.md:1: the title \"Fix\" is 3 characters")
    );
}

/// GitHub shows 10 error annotations per step: 9 problems and the step's own error, which lists
/// the rest.
#[test]
fn many_problems_keep_within_the_annotation_limit() {
    let c = Checkout::new();
    let mut plan = String::from("# Add a --verbose flag\n\nWhy.\n\n## Steps\n");
    for i in 1..=12 {
        plan.push_str(&format!("\n### Step {i}: Step {i}\n"));
    }
    c.plan(&plan).result(RESULT);
    let a = c.in_actions();
    let out = a.checkout.run();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let errors: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("::error"))
        .collect();
    assert_eq!(errors.len(), 10, "{stdout}");
    assert!(
        errors[..9]
            .iter()
            .all(|l| l.starts_with("::error file=.impl/plan.md,line="))
    );
    assert!(errors[9].starts_with(
        "::error::the plan in .impl/plan.md has 12 problems%0ACaused by:%0A  .impl/plan.md:"
    ));
    assert_eq!(
        errors[9].matches(".impl/plan.md:").count(),
        3,
        "{}",
        errors[9]
    );
    // The step summary lists them all.
    assert_eq!(a.summary().matches("has no description").count(), 12);
}

/// The key test: values with newlines, `=`, `<<`, `%`, `::`, Unicode and the text `EOF` reach the
/// workflow exactly as written, read back the way the runner reads `$GITHUB_OUTPUT`.
#[test]
fn rejected_reason_survives_github_output() {
    let reason = "EOF\nThe task = \"rewrite\" << everything\n::error::not a command\n100% impossible\n\n漢字 ✓ 🦀\nEOF";
    let c = Checkout::new();
    c.result(&serde_json::json!({ "rejected": true, "reason": reason }).to_string());
    let a = c.in_actions();
    let out = a.checkout.run();
    assert_eq!(out.status.code(), Some(0), "{}", a.checkout.render(&out));

    let outputs = a.outputs();
    assert_eq!(
        outputs,
        vec![
            ("rejected".to_string(), "true".to_string()),
            ("reason".to_string(), reason.to_string()),
            ("plan_title".to_string(), String::new()),
            ("step_count".to_string(), "0".to_string()),
        ]
    );
    insta::assert_snapshot!(
        "rejected_github_output",
        filter_delimiters(&a.output_file())
    );
    // Every entry has its own random delimiter.
    let file = a.output_file();
    let mut delimiters: Vec<&str> = file
        .lines()
        .filter_map(|l| l.split_once("<<ghadelimiter_"))
        .map(|(_, d)| d)
        .collect();
    delimiters.sort();
    delimiters.dedup();
    assert_eq!(delimiters.len(), 4, "{file}");

    // The warning is one escaped workflow command: the reason cannot inject another.
    let stdout = String::from_utf8_lossy(&out.stdout);
    insta::assert_snapshot!("rejected_actions_stdout", a.checkout.render(&out));
    let warnings: Vec<&str> = stdout.lines().filter(|l| l.starts_with("::")).collect();
    assert_eq!(warnings.len(), 1, "{stdout}");
    assert!(
        warnings[0]
            .starts_with("::warning title=The planning session rejected the task::EOF%0AThe task")
    );
    assert!(
        warnings[0].contains("%0A::error::not a command%0A100%25 impossible%0A%0A漢字 ✓ 🦀%0AEOF")
    );

    insta::assert_snapshot!("rejected_step_summary", a.summary());
}

#[test]
fn plan_title_survives_github_output() {
    let title = "EOF: set a=b << c, 100% done :: ünïcødé 漢字 🦀 %0A";
    let plan = PLAN.replace("Add a --verbose flag to submit", title);
    let c = Checkout::new();
    c.plan(&plan)
        .result(&serde_json::json!({ "title": title, "summary": "s" }).to_string());
    let a = c.in_actions();
    let out = a.checkout.run();
    assert_eq!(out.status.code(), Some(0), "{}", a.checkout.render(&out));
    let outputs = a.outputs();
    assert_eq!(
        runner_files::get(&outputs, "plan_title").as_deref(),
        Some(title)
    );
    assert_eq!(
        runner_files::get(&outputs, "step_count").as_deref(),
        Some("2")
    );
    assert_eq!(
        runner_files::get(&outputs, "rejected").as_deref(),
        Some("false")
    );
    assert_eq!(runner_files::get(&outputs, "reason").as_deref(), Some(""));
    assert_eq!(outputs.len(), 4);
    insta::assert_snapshot!("plan_github_output", filter_delimiters(&a.output_file()));
    insta::assert_snapshot!("plan_step_summary", a.summary());
}

/// In Actions each problem is an `::error` command with the file and line, its message escaped.
#[test]
fn annotations_carry_file_and_line_and_are_escaped() {
    let c = Checkout::new();
    c.plan(&format!("{PLAN}\n## Notes: 100% done, a::b | c\n"))
        .result(RESULT);
    let a = c.in_actions();
    let out = a.checkout.run();
    assert_eq!(out.status.code(), Some(3));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines[0],
        "::error file=.impl/plan.md,line=21::section `## Notes: 100%25 done, a::b | c` after the steps: \
         everything after `## Steps` belongs to a step; move it into a step (with a `####` heading) \
         or into the summary above `## Steps`"
    );
    assert!(lines[1].starts_with("::error::the plan in .impl/plan.md has 1 problem%0Ahint: the planning session must fix the plan"));
    assert_eq!(lines.len(), 2, "{stdout}");
    // A Markdown table cell cannot be broken by a `|` in a message.
    insta::assert_snapshot!("invalid_step_summary", a.summary());
}
