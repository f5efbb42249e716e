//! `oneshot init`: sets a repository up for oneshot. Writes the workflow `oneshot dispatch`
//! starts, the agent prompts and a commented configuration, never replacing a file a person
//! changed unless asked to, and says which secrets to add.

use std::path::Path;

use serde_json::{Value, json};

use super::Context;
use crate::cli::InitArgs;
use crate::config::{CONFIG_PATH, EXAMPLE_TOML};
use crate::error::{Error, Result};
use crate::git::Git;

/// The GitHub repository oneshot itself lives in: where the reusable workflows, the composite
/// action and the release binaries are. The caller workflow `init` writes refers to it, and
/// `.github/actions/install/action.yml` downloads releases from it; `tests/workflows.rs` checks
/// that every mention in the YAML files agrees with this one.
pub const ONESHOT_REPOSITORY: &str = "oneshot-dev/oneshot";

/// The caller workflow, in the target repository. `oneshot dispatch` targets this file.
pub const CALLER_WORKFLOW_PATH: &str = ".github/workflows/oneshot.yml";

/// The caller of the implement workflow, in the target repository: `oneshot resume` dispatches
/// it to continue a one-shot from a step.
pub const RESUME_WORKFLOW_PATH: &str = ".github/workflows/oneshot-resume.yml";

/// The agent prompts `init` writes (path in the repository, content), so that a repository can
/// read and adapt them; the binary uses its embedded copies when the files are absent.
pub fn prompt_files() -> Vec<(&'static str, &'static str)> {
    crate::agent::prompts::builtin_files()
}

/// What happened to one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileStatus {
    /// It did not exist and was written.
    Created,
    /// It already had exactly this content.
    Unchanged,
    /// It has other content and was left alone (no --force).
    Skipped,
    /// It had other content and was replaced (--force).
    Overwritten,
}

impl FileStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            FileStatus::Created => "created",
            FileStatus::Unchanged => "unchanged",
            FileStatus::Skipped => "skipped",
            FileStatus::Overwritten => "overwritten",
        }
    }
}

/// A secret the workflows read: its name, whether a run needs it, and what it is for.
struct Secret {
    name: &'static str,
    need: &'static str,
    purpose: &'static str,
}

const SECRETS: &[Secret] = &[
    Secret {
        name: "ANTHROPIC_API_KEY",
        need: "one agent key",
        purpose: "the key of the claude agent (the default); or CLAUDE_CODE_OAUTH_TOKEN",
    },
    Secret {
        name: "CLAUDE_CODE_OAUTH_TOKEN",
        need: "one agent key",
        purpose: "a Claude Code OAuth token, instead of ANTHROPIC_API_KEY",
    },
    Secret {
        name: "OPENAI_API_KEY",
        need: "one agent key",
        purpose: "the key of the codex agent",
    },
    Secret {
        name: "GEMINI_API_KEY",
        need: "one agent key",
        purpose: "the key of the gemini agent",
    },
    Secret {
        name: "ONESHOT_TOKEN",
        need: "recommended",
        purpose: "a fine-grained token (Contents, Pull requests, Issues: read and write) or a \
                  GitHub App token; without it the workflow uses github.token, and CI does not \
                  run on the commits oneshot pushes",
    },
    Secret {
        name: "ONESHOT_WEBHOOK_URL",
        need: "optional",
        purpose: "a Slack-compatible webhook told when a run is done or has failed",
    },
];

pub fn run(args: &InitArgs, ctx: &Context) -> Result<()> {
    let dir = match &args.dir {
        Some(dir) => ctx.dir.join(dir),
        None => ctx.dir.clone(),
    };
    if !dir.is_dir() {
        return Err(
            Error::input(format!("{} is not a directory", dir.display()))
                .hint("pass --dir with the path of a clone of your repository"),
        );
    }
    let root = Git::new(&dir).toplevel().map_err(|mut e| {
        e.hints = vec![
            "pass --dir with a directory inside a clone of your repository, or run `git init` \
             there first"
                .to_string(),
        ];
        e
    })?;

    let mut results = Vec::new();
    for (path, content) in files(env!("CARGO_PKG_VERSION")) {
        let status = write_file(&root, path, &content, args.force)?;
        results.push((path, status));
    }

    if args.json {
        ctx.runner.print_json(&report_json(&root, &results))
    } else {
        ctx.runner.info(&report_text(&root, &results));
        Ok(())
    }
}

/// Every file `init` writes, in order: the caller workflow, the prompts, the configuration.
pub fn files(version: &str) -> Vec<(&'static str, String)> {
    let mut files = vec![
        (CALLER_WORKFLOW_PATH, caller_workflow(version)),
        (RESUME_WORKFLOW_PATH, resume_workflow(version)),
    ];
    files.extend(
        prompt_files()
            .into_iter()
            .map(|(path, content)| (path, content.to_string())),
    );
    files.push((CONFIG_PATH, EXAMPLE_TOML.to_string()));
    files
}

/// Writes `content` to `root/relative` unless a different file is there (and `force` is off).
fn write_file(root: &Path, relative: &str, content: &str, force: bool) -> Result<FileStatus> {
    let path = root.join(relative);
    let status = match std::fs::read(&path) {
        Ok(existing) if same_text(&existing, content) => return Ok(FileStatus::Unchanged),
        Ok(_) if !force => return Ok(FileStatus::Skipped),
        Ok(_) => FileStatus::Overwritten,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => FileStatus::Created,
        Err(e) => return Err(write_error(&path, "read", e)),
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| write_error(parent, "create", e))?;
    }
    std::fs::write(&path, content).map_err(|e| write_error(&path, "write", e))?;
    Ok(status)
}

/// Equal content, also when a checkout turned the line ends into CRLF.
fn same_text(existing: &[u8], content: &str) -> bool {
    existing == content.as_bytes()
        || String::from_utf8_lossy(existing).replace("\r\n", "\n") == content
}

fn write_error(path: &Path, verb: &str, e: std::io::Error) -> Error {
    let message = format!("could not {verb} {}: {e}", path.display());
    // A directory in the way, or no permission: something the person can fix, not a bug.
    Error::input(message).hint("check that the repository's files are writable by you")
}

fn report_text(root: &Path, results: &[(&str, FileStatus)]) -> String {
    let mut out = format!("oneshot init in {}\n", root.display());
    for (path, status) in results {
        let note = match status {
            FileStatus::Skipped => " (differs; use --force to overwrite it)",
            _ => "",
        };
        out.push_str(&format!("  {:<12} {path}{note}\n", status.as_str()));
    }

    out.push_str(NEXT_SECRETS);
    let mut step = 4;
    let changed = changed_paths(results);
    if !changed.is_empty() {
        out.push_str(&format!(
            "  {step}. Commit and push the files:\n       {}\n",
            commit_command(&changed)
        ));
        step += 1;
    }
    out.push_str(&format!(
        "  {step}. Start a task:\n       {}\n",
        dispatch_example()
    ));
    if results.iter().any(|(_, s)| *s == FileStatus::Skipped) {
        out.push_str(
            "\nFiles marked skipped were left as they are. To see what oneshot would write, run\n`oneshot init --force` in a clean work tree and look at `git diff`.\n",
        );
    }
    out
}

fn report_json(root: &Path, results: &[(&str, FileStatus)]) -> Value {
    let files: Vec<Value> = results
        .iter()
        .map(|(path, status)| json!({ "path": path, "status": status.as_str() }))
        .collect();
    let secrets: Vec<Value> = SECRETS
        .iter()
        .map(|s| json!({ "name": s.name, "need": s.need, "purpose": s.purpose }))
        .collect();
    let changed = changed_paths(results);
    let mut next = Vec::new();
    if !changed.is_empty() {
        next.push(commit_command(&changed));
    }
    next.push(dispatch_example().to_string());
    json!({
        "success": true,
        "dir": root.display().to_string(),
        "version": env!("CARGO_PKG_VERSION"),
        "files": files,
        "secrets": secrets,
        "next": next,
    })
}

/// The files the person has to commit: the ones this run wrote.
fn changed_paths<'a>(results: &[(&'a str, FileStatus)]) -> Vec<&'a str> {
    results
        .iter()
        .filter(|(_, s)| matches!(s, FileStatus::Created | FileStatus::Overwritten))
        .map(|(path, _)| *path)
        .collect()
}

fn commit_command(paths: &[&str]) -> String {
    format!(
        "git add {} && git commit -m \"Set up oneshot\" && git push",
        paths.join(" ")
    )
}

/// The secrets part of the report; `SECRETS` holds the same for `--json`.
const NEXT_SECRETS: &str = "
Next:
  1. Add the agent's key as a repository secret (Settings > Secrets and variables > Actions,
     or `gh secret set NAME`), one of:
       ANTHROPIC_API_KEY or CLAUDE_CODE_OAUTH_TOKEN   for claude, the default agent
       OPENAI_API_KEY                                 for codex
       GEMINI_API_KEY                                 for gemini
  2. Recommended: ONESHOT_TOKEN, a fine-grained token with Contents, Pull requests and Issues
     read and write (or a GitHub App token). Without it the workflow uses github.token: CI does
     not run on the commits oneshot pushes, and Actions must be allowed to create pull requests
     (Settings > Actions > General > Workflow permissions).
  3. Optional: ONESHOT_WEBHOOK_URL, a Slack-compatible webhook told when a run ends.
";

fn dispatch_example() -> &'static str {
    "oneshot dispatch \"Add a --verbose flag to the submit command\""
}

/// A workflow template with oneshot's version and repository filled in, and the inputs every
/// caller workflow passes on to the runner and the agent install, written once so that the
/// two workflows cannot drift apart.
fn fill(template: &str, version: &str) -> String {
    template
        .replace("%RUNNER_INPUTS%", RUNNER_INPUTS.trim_end_matches('\n'))
        .replace("%VERSION%", version)
        .replace("%REPOSITORY%", ONESHOT_REPOSITORY)
}

const RUNNER_INPUTS: &str = r#"      agent_version:
        description: "The agent CLI's npm version to install when the runner has none (empty: .github/oneshot.toml, else the version oneshot pins)"
        required: false
        type: string
        default: ""
      runs_on:
        description: "The runner: a label such as ubuntu-latest, or a JSON list of labels such as [\"self-hosted\", \"linux\"]"
        required: false
        type: string
        default: "ubuntu-latest"
"#;

/// The repository's `.github/workflows/oneshot.yml`: a `workflow_dispatch` form with the inputs
/// `oneshot dispatch` sends, calling the reusable workflow of this very oneshot version.
pub fn caller_workflow(version: &str) -> String {
    fill(CALLER_TEMPLATE, version)
}

const CALLER_TEMPLATE: &str = r#"# oneshot: a one-line task in, a ready-for-review pull request out.
#
# Written by `oneshot init` (oneshot %VERSION%). Start a task with
#   oneshot dispatch "Add a --verbose flag to the submit command"
# or from the Actions tab with only a prompt. The work is done by oneshot's reusable workflow,
# which this file calls at the same version as the binary that wrote it.
name: oneshot

# `oneshot dispatch` finds its run by the id in the name.
run-name: "${{ inputs.distinct_id && format('oneshot [{0}]: {1}', inputs.distinct_id, inputs.prompt) || format('oneshot: {0}', inputs.prompt) }}"

on:
  workflow_dispatch:
    inputs:
      prompt:
        description: "The task, e.g. \"Add a --verbose flag to the submit command\""
        required: true
        type: string
      model:
        description: "Model: haiku, sonnet, opus or a full model id (empty: the configured default)"
        required: false
        type: string
        default: ""
      agent:
        description: "Agent: claude, codex, gemini or command:<program> (empty: the configured default)"
        required: false
        type: string
        default: ""
      plan_only:
        description: "Only write the plan (saved as an issue); do not implement it"
        required: false
        type: boolean
        default: false
      branch_name:
        description: "Set by oneshot dispatch: the branch to work on (leave empty when starting by hand)"
        required: false
        type: string
        default: ""
      pr_number:
        description: "Set by oneshot dispatch: the draft pull request (leave empty when starting by hand)"
        required: false
        type: string
        default: ""
      submitted_by:
        description: "Set by oneshot dispatch: who asked for the work (leave empty when starting by hand)"
        required: false
        type: string
        default: ""
      distinct_id:
        description: "Set by oneshot dispatch: the id it finds this run by (leave empty when starting by hand)"
        required: false
        type: string
        default: ""
%RUNNER_INPUTS%

permissions: {}

jobs:
  oneshot:
    name: oneshot
    # What the called workflow's jobs need; each of them asks only for its own part.
    permissions:
      contents: write
      pull-requests: write
      issues: write
      actions: read
    uses: %REPOSITORY%/.github/workflows/one-shot.yml@v%VERSION%
    with:
      prompt: ${{ inputs.prompt }}
      model: ${{ inputs.model }}
      agent: ${{ inputs.agent }}
      plan_only: ${{ inputs.plan_only }}
      branch_name: ${{ inputs.branch_name }}
      pr_number: ${{ inputs.pr_number }}
      submitted_by: ${{ inputs.submitted_by }}
      distinct_id: ${{ inputs.distinct_id }}
      agent_version: ${{ inputs.agent_version }}
      runs_on: ${{ inputs.runs_on }}
    # The workflow reads ONESHOT_TOKEN, the agent's key (ANTHROPIC_API_KEY or
    # CLAUDE_CODE_OAUTH_TOKEN, OPENAI_API_KEY, GEMINI_API_KEY) and ONESHOT_WEBHOOK_URL.
    secrets: inherit
"#;

/// The repository's `.github/workflows/oneshot-resume.yml`: runs the implement job alone, from
/// a step, for a one-shot whose plan issue and pull request exist.
pub fn resume_workflow(version: &str) -> String {
    fill(RESUME_TEMPLATE, version)
}

const RESUME_TEMPLATE: &str = r#"# oneshot: continue a one-shot from a step (after a failure, or to redo steps).
#
# Written by `oneshot init` (oneshot %VERSION%). Started by
#   oneshot resume <PR> [--from-step K]
# or from the Actions tab with the plan issue's number.
name: oneshot resume

run-name: "oneshot resume #${{ inputs.issue_number }} from step ${{ inputs.from_step || 'next' }}"

on:
  workflow_dispatch:
    inputs:
      issue_number:
        description: "The plan issue"
        required: true
        type: string
      from_step:
        description: "The step to start from (empty: the first step not done)"
        required: false
        type: string
        default: ""
      branch_name:
        description: "The branch (empty: the one named in the plan issue)"
        required: false
        type: string
        default: ""
      pr_number:
        description: "The pull request (empty: the one named in the plan issue)"
        required: false
        type: string
        default: ""
      model:
        description: "Model (empty: the configured default)"
        required: false
        type: string
        default: ""
      agent:
        description: "Agent (empty: the configured default)"
        required: false
        type: string
        default: ""
      submitted_by:
        description: "Set by oneshot resume: who asked (leave empty when starting by hand)"
        required: false
        type: string
        default: ""
%RUNNER_INPUTS%

permissions: {}

jobs:
  implement:
    name: implement
    permissions:
      contents: write
      pull-requests: write
      issues: write
      actions: read
    uses: %REPOSITORY%/.github/workflows/plan-implement.yml@v%VERSION%
    with:
      issue_number: ${{ inputs.issue_number }}
      from_step: ${{ inputs.from_step }}
      branch_name: ${{ inputs.branch_name }}
      pr_number: ${{ inputs.pr_number }}
      model: ${{ inputs.model }}
      agent: ${{ inputs.agent }}
      submitted_by: ${{ inputs.submitted_by }}
      agent_version: ${{ inputs.agent_version }}
      runs_on: ${{ inputs.runs_on }}
    secrets: inherit
"#;

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_repo() -> tempfile::TempDir {
        tempfile::tempdir().unwrap()
    }

    #[test]
    fn the_text_report_names_every_secret() {
        for secret in SECRETS {
            assert!(
                NEXT_SECRETS.contains(secret.name),
                "{} is not in the text",
                secret.name
            );
        }
    }

    #[test]
    fn caller_workflow_names_this_version() {
        let text = caller_workflow("1.2.3");
        assert!(text.contains("uses: oneshot-dev/oneshot/.github/workflows/one-shot.yml@v1.2.3\n"));
        assert!(text.contains("(oneshot 1.2.3)"));
        assert!(!text.contains('%'), "a placeholder is left: {text}");
    }

    #[test]
    fn files_end_with_the_configuration() {
        let files = files("0.0.0");
        assert_eq!(files.first().unwrap().0, CALLER_WORKFLOW_PATH);
        assert_eq!(files.last().unwrap().0, CONFIG_PATH);
        assert_eq!(files.last().unwrap().1, EXAMPLE_TOML);
    }

    #[test]
    fn write_file_reports_each_case() {
        let dir = temp_repo();
        let root = dir.path();
        assert_eq!(
            write_file(root, "a/b.txt", "one\n", false).unwrap(),
            FileStatus::Created
        );
        assert_eq!(
            write_file(root, "a/b.txt", "one\n", false).unwrap(),
            FileStatus::Unchanged
        );
        std::fs::write(root.join("a/b.txt"), "changed\n").unwrap();
        assert_eq!(
            write_file(root, "a/b.txt", "one\n", false).unwrap(),
            FileStatus::Skipped
        );
        assert_eq!(
            std::fs::read_to_string(root.join("a/b.txt")).unwrap(),
            "changed\n"
        );
        assert_eq!(
            write_file(root, "a/b.txt", "one\n", true).unwrap(),
            FileStatus::Overwritten
        );
        assert_eq!(
            std::fs::read_to_string(root.join("a/b.txt")).unwrap(),
            "one\n"
        );
    }

    #[test]
    fn crlf_line_ends_count_as_unchanged() {
        let dir = temp_repo();
        std::fs::write(dir.path().join("x.yml"), "a: 1\r\nb: 2\r\n").unwrap();
        assert_eq!(
            write_file(dir.path(), "x.yml", "a: 1\nb: 2\n", false).unwrap(),
            FileStatus::Unchanged
        );
    }

    #[test]
    fn a_directory_in_the_way_is_an_input_error() {
        let dir = temp_repo();
        std::fs::create_dir_all(dir.path().join("x.yml")).unwrap();
        let err = write_file(dir.path(), "x.yml", "a\n", true).unwrap_err();
        assert_eq!(err.kind, crate::error::ErrorKind::InvalidInput);
        assert!(err.message.contains("x.yml"), "{}", err.message);
    }
}
