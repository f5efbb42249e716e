//! One job's steps on a fresh runner: directories, the runner's variables, the environment files
//! of each step, `run:` scripts in their shell, `uses:` steps (see `uses`), the `steps` context,
//! and the job's outputs.

use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command as Process, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use super::expr::{self, Scope, Status};
use super::{JobReport, Run, StepReport, WorkflowFile, commands, uses, yaml};
use crate::support::runner_files;

pub(super) struct JobSpec<'a> {
    pub path: String,
    pub id: String,
    pub name: String,
    pub job: &'a Value,
    pub workflow: &'a Value,
    pub file: &'a WorkflowFile,
    /// github (with `job`), inputs, needs, vars, secrets.
    pub scope: Scope,
    /// The workflow's `env:`, evaluated.
    pub workflow_env: Vec<(String, String)>,
}

const STEP_KEYS: &[&str] = &[
    "id",
    "name",
    "if",
    "run",
    "uses",
    "with",
    "env",
    "shell",
    "working-directory",
    "continue-on-error",
    "timeout-minutes",
];

/// What running a step produced.
#[derive(Default)]
pub(super) struct Exec {
    pub exit_code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// Outputs of a step the runner performs itself (a replaced action).
    pub outputs: BTreeMap<String, String>,
    /// Directories the step adds to PATH (as through `GITHUB_PATH`).
    pub path: Vec<String>,
}

impl Exec {
    pub fn success(&self) -> bool {
        self.exit_code == Some(0)
    }
}

/// The directories and variables of one job on its runner.
pub(super) struct Machine {
    pub workspace: PathBuf,
    pub temp: PathBuf,
    pub home: PathBuf,
    pub files: PathBuf,
}

pub(super) fn run(run: &Run, spec: JobSpec) -> Result<JobReport, String> {
    let JobSpec {
        path,
        id,
        name,
        job,
        workflow,
        file,
        scope,
        workflow_env,
    } = spec;
    let n = run.next_number();
    let dir = run.root.join(format!("{n}-{id}"));
    let repo_name = run.github["repository"]
        .as_str()
        .and_then(|r| r.split('/').nth(1))
        .unwrap_or("repo")
        .to_string();
    let machine = Machine {
        workspace: dir.join("work").join(&repo_name).join(&repo_name),
        temp: dir.join("temp"),
        home: dir.join("home"),
        files: dir.join("files"),
    };
    let tool_cache = dir.join("toolcache");
    for d in [
        &machine.workspace,
        &machine.temp,
        &machine.home,
        &machine.files,
        &tool_cache,
    ] {
        std::fs::create_dir_all(d).map_err(|e| format!("{}: {e}", d.display()))?;
    }

    let mut github = scope.contexts["github"].clone();
    github["workspace"] = json!(machine.workspace.display().to_string());
    let job_ctx = |status: &str| {
        json!({
            "status": status,
            "workflow_ref": file.workflow_ref(),
            "workflow_sha": file.sha(),
            "workflow_repository": file.repository,
            "workflow_file_path": file.path,
            "container": {"network": ""},
            "services": {},
        })
    };
    let runner_ctx = json!({
        "name": format!("GitHub Actions {n}"),
        "os": "Linux",
        "arch": "X64",
        "temp": machine.temp.display().to_string(),
        "tool_cache": tool_cache.display().to_string(),
        "environment": "github-hosted",
    });

    // The job's env: the workflow's, then its own (github, needs, vars, secrets, inputs).
    let mut env: Vec<(String, String)> = workflow_env;
    for (k, v) in yaml::entries(&job["env"]) {
        let value = expr::evaluate_value(&v, &scope).map_err(|e| format!("env.{k}: {e}"))?;
        set(&mut env, &k, expr::to_string(&value));
    }

    let g = |key: &str| expr::to_string(&github[key]);
    let runner_vars: Vec<(String, String)> = vec![
        ("CI".into(), "true".into()),
        ("GITHUB_ACTIONS".into(), "true".into()),
        ("GITHUB_ACTOR".into(), g("actor")),
        ("GITHUB_API_URL".into(), g("api_url")),
        ("GITHUB_BASE_REF".into(), String::new()),
        ("GITHUB_EVENT_NAME".into(), g("event_name")),
        ("GITHUB_EVENT_PATH".into(), g("event_path")),
        ("GITHUB_GRAPHQL_URL".into(), g("graphql_url")),
        ("GITHUB_HEAD_REF".into(), String::new()),
        ("GITHUB_JOB".into(), id.clone()),
        ("GITHUB_REF".into(), g("ref")),
        ("GITHUB_REF_NAME".into(), g("ref_name")),
        ("GITHUB_REF_PROTECTED".into(), "false".into()),
        ("GITHUB_REF_TYPE".into(), g("ref_type")),
        ("GITHUB_REPOSITORY".into(), g("repository")),
        ("GITHUB_REPOSITORY_OWNER".into(), g("repository_owner")),
        ("GITHUB_RETENTION_DAYS".into(), g("retention_days")),
        ("GITHUB_RUN_ATTEMPT".into(), g("run_attempt")),
        ("GITHUB_RUN_ID".into(), g("run_id")),
        ("GITHUB_RUN_NUMBER".into(), g("run_number")),
        ("GITHUB_SERVER_URL".into(), g("server_url")),
        ("GITHUB_SHA".into(), g("sha")),
        ("GITHUB_TRIGGERING_ACTOR".into(), g("triggering_actor")),
        ("GITHUB_WORKFLOW".into(), g("workflow")),
        ("GITHUB_WORKFLOW_REF".into(), g("workflow_ref")),
        ("GITHUB_WORKFLOW_SHA".into(), g("workflow_sha")),
        ("GITHUB_WORKSPACE".into(), g("workspace")),
        ("HOME".into(), machine.home.display().to_string()),
        ("RUNNER_ARCH".into(), "X64".into()),
        ("RUNNER_ENVIRONMENT".into(), "github-hosted".into()),
        ("RUNNER_NAME".into(), format!("GitHub Actions {n}")),
        ("RUNNER_OS".into(), "Linux".into()),
        ("RUNNER_TEMP".into(), machine.temp.display().to_string()),
        ("RUNNER_TOOL_CACHE".into(), tool_cache.display().to_string()),
    ];

    let defaults = |key: &str| -> Option<String> {
        yaml::scalar(&job["defaults"]["run"][key])
            .or_else(|| yaml::scalar(&workflow["defaults"]["run"][key]))
    };
    let default_shell = defaults("shell");
    let default_dir = defaults("working-directory");

    let steps = match &job["steps"] {
        Value::Array(steps) if !steps.is_empty() => steps.clone(),
        _ => return Err("a job needs `steps` (or `uses`)".into()),
    };
    let mut steps_ctx = Map::new();
    let mut failed = false;
    let mut file_env: Vec<(String, String)> = Vec::new();
    let mut path_dirs: Vec<String> = Vec::new();
    let mut reports = Vec::new();
    let mut action_ids: BTreeMap<String, usize> = BTreeMap::new();

    for (i, step) in steps.iter().enumerate() {
        let step_no = i + 1;
        yaml::check_keys(step, STEP_KEYS, &format!("step {step_no}"))?;
        let step_id = yaml::scalar(&step["id"]);
        if let Some(sid) = &step_id
            && (sid.contains("${{") || steps_ctx.contains_key(sid))
        {
            return Err(format!(
                "step {step_no}: the id `{sid}` is invalid or repeated"
            ));
        }
        let run_text = yaml::scalar(&step["run"]);
        let uses_text = yaml::scalar(&step["uses"]);
        if run_text.is_some() == uses_text.is_some() {
            return Err(format!(
                "step {step_no}: needs exactly one of `run` and `uses`"
            ));
        }
        let where_ = format!(
            "step {step_no} ({})",
            step_id.clone().unwrap_or_else(|| "no id".into())
        );

        // The env context here: workflow, job, and what GITHUB_ENV set.
        let mut env_now = file_env.clone();
        for (k, v) in &env {
            set(&mut env_now, k, v.clone());
        }
        let mut step_scope = scope
            .clone()
            .with("github", github.clone())
            .with("job", job_ctx(if failed { "failure" } else { "success" }))
            .with("runner", runner_ctx.clone())
            .with("steps", Value::Object(steps_ctx.clone()))
            .with("env", env_object(&env_now));
        step_scope.status = Some(Status::steps(failed));

        let display = match &step["name"] {
            Value::Null => match (&run_text, &uses_text) {
                (Some(r), _) => format!("Run {}", r.lines().next().unwrap_or("")),
                (_, Some(u)) => format!("Run {u}"),
                _ => unreachable!(),
            },
            other => expr::evaluate_string(&yaml::scalar(other).unwrap_or_default(), &step_scope)
                .map_err(|e| format!("{where_}: name: {e}"))?,
        };
        let where_ = format!("{where_} \"{display}\"");
        let run_it = match &step["if"] {
            Value::Null => !failed,
            Value::Bool(b) => *b && !failed,
            other => expr::condition(&yaml::scalar(other).unwrap_or_default(), &step_scope)
                .map_err(|e| format!("{where_}: if: {e}"))?,
        };
        let mut report = StepReport {
            id: step_id.clone(),
            name: display.clone(),
            outcome: "skipped".into(),
            conclusion: "skipped".into(),
            outputs: BTreeMap::new(),
            summary: String::new(),
            stdout: String::new(),
            stderr: String::new(),
            commands: Vec::new(),
            exit_code: None,
            duration: Duration::ZERO,
        };
        if !run_it {
            if let Some(sid) = &step_id {
                steps_ctx.insert(
                    sid.clone(),
                    json!({"outputs": {}, "outcome": "skipped", "conclusion": "skipped"}),
                );
            }
            reports.push(report);
            continue;
        }

        // The step's env: evaluated with the env context of the job.
        let mut step_env = env_now.clone();
        for (k, v) in yaml::entries(&step["env"]) {
            let value = expr::evaluate_value(&v, &step_scope)
                .map_err(|e| format!("{where_}: env.{k}: {e}"))?;
            set(&mut step_env, &k, expr::to_string(&value));
        }
        step_scope.set("env", env_object(&step_env));

        // Fresh environment files for this step.
        let action_id = step_id.clone().unwrap_or_else(|| {
            let base = if run_text.is_some() {
                "__run".to_string()
            } else {
                format!(
                    "__{}",
                    uses_text
                        .as_deref()
                        .unwrap_or("")
                        .split('@')
                        .next()
                        .unwrap_or("")
                        .replace(['/', '.', '$'], "_")
                )
            };
            let count = action_ids.entry(base.clone()).or_insert(0);
            *count += 1;
            if *count == 1 {
                base
            } else {
                format!("{base}_{count}")
            }
        });
        let files = StepFiles::create(&machine.files, step_no)?;
        let mut process_env: Vec<(String, String)> = run.base_env.clone();
        for (k, v) in runner_vars.iter().chain(step_env.iter()) {
            set(&mut process_env, k, v.clone());
        }
        set(&mut process_env, "GITHUB_ACTION", action_id);
        files.export(&mut process_env);
        let base_path = process_env
            .iter()
            .find(|(k, _)| k == "PATH")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        let mut full_path = path_dirs.clone();
        full_path.push(base_path);
        set(&mut process_env, "PATH", full_path.join(":"));

        let started = Instant::now();
        let mut exec = if let Some(script) = &run_text {
            let script = expr::evaluate_string(script, &step_scope)
                .map_err(|e| format!("{where_}: run: {e}"))?;
            let shell = yaml::scalar(&step["shell"]).or_else(|| default_shell.clone());
            let cwd = match yaml::scalar(&step["working-directory"]).or_else(|| default_dir.clone())
            {
                Some(d) => {
                    let d = expr::evaluate_string(&d, &step_scope)
                        .map_err(|e| format!("{where_}: working-directory: {e}"))?;
                    machine.workspace.join(d)
                }
                None => machine.workspace.clone(),
            };
            if step.get("with").is_some() {
                return Err(format!("{where_}: `with` belongs to `uses` steps"));
            }
            run_script(
                run,
                &script,
                shell.as_deref(),
                &cwd,
                &process_env,
                &machine.temp,
                step_no,
            )
            .map_err(|e| format!("{where_}: {e}"))?
        } else {
            if step.get("shell").is_some() || step.get("working-directory").is_some() {
                return Err(format!(
                    "{where_}: `shell` and `working-directory` belong to `run` steps"
                ));
            }
            let mut with = BTreeMap::new();
            for (k, v) in yaml::entries(&step["with"]) {
                let value = expr::evaluate_value(&v, &step_scope)
                    .map_err(|e| format!("{where_}: with.{k}: {e}"))?;
                with.insert(k, expr::to_string(&value));
            }
            uses::run(
                run,
                &uses::Target {
                    file,
                    machine: &machine,
                    github: &github,
                    env: &process_env,
                },
                uses_text.as_deref().unwrap_or(""),
                &with,
            )
            .map_err(|e| format!("{where_}: {e}"))?
        };
        report.duration = started.elapsed();

        // What the step left in its files, read with the runner's rules.
        let mut outputs = std::mem::take(&mut exec.outputs);
        let mut file_error = None;
        match files.read_pairs(&files.output) {
            Ok(pairs) => outputs.extend(pairs),
            Err(e) => file_error = Some(format!("Unable to process file command 'output': {e}")),
        }
        match files.read_pairs(&files.env) {
            Ok(pairs) => {
                for (k, v) in pairs {
                    set(&mut file_env, &k, v);
                }
            }
            Err(e) => file_error = Some(format!("Unable to process file command 'env': {e}")),
        }
        let mut new_dirs: Vec<String> = exec.path.clone();
        new_dirs.extend(
            std::fs::read_to_string(&files.path)
                .unwrap_or_default()
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_string),
        );
        for d in new_dirs {
            path_dirs.retain(|x| *x != d);
            path_dirs.insert(0, d);
        }
        report.summary = std::fs::read_to_string(&files.summary).unwrap_or_default();
        let mut cmds = commands::parse(&exec.stdout).map_err(|e| format!("{where_}: {e}"))?;
        cmds.extend(commands::parse(&exec.stderr).map_err(|e| format!("{where_}: {e}"))?);
        report.commands = cmds;

        let mut ok = exec.success();
        if let Some(e) = file_error {
            exec.stderr.push_str(&format!("\n##[error]{e}\n"));
            ok = false;
        }
        let continue_on_error = match &step["continue-on-error"] {
            Value::Null => false,
            Value::Bool(b) => *b,
            other => expr::truthy(
                &expr::evaluate_value(other, &step_scope)
                    .map_err(|e| format!("{where_}: continue-on-error: {e}"))?,
            ),
        };
        report.outcome = if ok { "success" } else { "failure" }.into();
        report.conclusion = if ok || continue_on_error {
            "success"
        } else {
            "failure"
        }
        .into();
        if report.conclusion == "failure" {
            failed = true;
        }
        report.exit_code = exec.exit_code;
        report.stdout = exec.stdout;
        report.stderr = exec.stderr;
        report.outputs = outputs.clone();
        if let Some(sid) = &step_id {
            steps_ctx.insert(
                sid.clone(),
                json!({"outputs": outputs, "outcome": report.outcome, "conclusion": report.conclusion}),
            );
        }
        reports.push(report);
    }

    // The job's outputs, from what its steps left.
    let result = if failed { "failure" } else { "success" };
    let out_scope = scope
        .clone()
        .with("github", github.clone())
        .with("job", job_ctx(result))
        .with("runner", runner_ctx.clone())
        .with("steps", Value::Object(steps_ctx))
        .with("env", env_object(&env));
    let mut outputs = BTreeMap::new();
    for (k, v) in yaml::entries(&job["outputs"]) {
        let value =
            expr::evaluate_value(&v, &out_scope).map_err(|e| format!("outputs.{k}: {e}"))?;
        outputs.insert(k, expr::to_string(&value));
    }
    Ok(JobReport {
        runs_on: Value::Null,
        path,
        name,
        result: result.into(),
        outputs,
        steps: reports,
        workspace: Some(machine.workspace),
    })
}

fn set(vars: &mut Vec<(String, String)>, key: &str, value: String) {
    match vars.iter_mut().find(|(k, _)| k == key) {
        Some(entry) => entry.1 = value,
        None => vars.push((key.to_string(), value)),
    }
}

fn env_object(vars: &[(String, String)]) -> Value {
    Value::Object(
        vars.iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect(),
    )
}

/// A step's `GITHUB_OUTPUT`, `GITHUB_ENV`, `GITHUB_PATH`, `GITHUB_STEP_SUMMARY`, `GITHUB_STATE`.
struct StepFiles {
    output: PathBuf,
    env: PathBuf,
    path: PathBuf,
    summary: PathBuf,
    state: PathBuf,
}

impl StepFiles {
    fn create(dir: &Path, step: usize) -> Result<StepFiles, String> {
        let f = |name: &str| dir.join(format!("{name}_{step}"));
        let files = StepFiles {
            output: f("set_output"),
            env: f("set_env"),
            path: f("add_path"),
            summary: f("step_summary"),
            state: f("save_state"),
        };
        for p in [
            &files.output,
            &files.env,
            &files.path,
            &files.summary,
            &files.state,
        ] {
            std::fs::write(p, "").map_err(|e| format!("{}: {e}", p.display()))?;
        }
        Ok(files)
    }

    fn export(&self, env: &mut Vec<(String, String)>) {
        for (k, p) in [
            ("GITHUB_OUTPUT", &self.output),
            ("GITHUB_ENV", &self.env),
            ("GITHUB_PATH", &self.path),
            ("GITHUB_STEP_SUMMARY", &self.summary),
            ("GITHUB_STATE", &self.state),
        ] {
            set(env, k, p.display().to_string());
        }
    }

    fn read_pairs(&self, path: &Path) -> Result<Vec<(String, String)>, String> {
        let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
        runner_files::parse(&text)
    }
}

/// Runs a `run:` script in its shell, in its own process group, killed at the step timeout.
fn run_script(
    run: &Run,
    script: &str,
    shell: Option<&str>,
    cwd: &Path,
    env: &[(String, String)],
    temp: &Path,
    step: usize,
) -> Result<Exec, String> {
    let template: Vec<String> = match shell {
        None => ["bash", "-e", "{0}"].map(String::from).to_vec(),
        Some("bash") => ["bash", "--noprofile", "--norc", "-eo", "pipefail", "{0}"]
            .map(String::from)
            .to_vec(),
        Some("sh") => ["sh", "-e", "{0}"].map(String::from).to_vec(),
        Some(custom) if custom.contains("{0}") => {
            custom.split_whitespace().map(String::from).collect()
        }
        Some(other) => {
            return Err(format!(
                "the shell `{other}` is not supported by the workflow runner"
            ));
        }
    };
    let script_path = temp.join(format!("step-{step}-{}.sh", run.id));
    std::fs::write(&script_path, script).map_err(|e| e.to_string())?;
    if !cwd.is_dir() {
        return Ok(Exec {
            exit_code: Some(1),
            stderr: format!(
                "##[error]An error occurred trying to start process: the working directory '{}' does not exist\n",
                cwd.display()
            ),
            ..Exec::default()
        });
    }
    let argv: Vec<String> = template
        .iter()
        .map(|a| a.replace("{0}", &script_path.display().to_string()))
        .collect();
    let mut cmd = Process::new(&argv[0]);
    cmd.args(&argv[1..])
        .current_dir(cwd)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null());
    spawn_and_wait(cmd, run.runner.step_timeout)
}

/// Spawns in a new process group, collects stdout and stderr, kills the group at the limit and
/// whatever is left of it at the end (as the runner cleans up a step's orphans).
pub(super) fn spawn_and_wait(mut cmd: Process, limit: Duration) -> Result<Exec, String> {
    use nix::sys::signal::{Signal, killpg};
    use nix::unistd::Pid;

    cmd.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("could not start {:?}: {e}", cmd.get_program()))?;
    let pgid = Pid::from_raw(child.id() as i32);
    let (tx, rx) = mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        if let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(limit) {
            let _ = killpg(pgid, Signal::SIGKILL);
            true
        } else {
            false
        }
    });
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stderr.read_to_end(&mut buf);
        buf
    });
    let mut out = Vec::new();
    let _ = stdout.read_to_end(&mut out);
    let err = err_reader.join().unwrap_or_default();
    let status = child.wait().map_err(|e| e.to_string())?;
    let _ = tx.send(());
    let timed_out = watchdog.join().unwrap_or(false);
    let _ = killpg(pgid, Signal::SIGKILL);
    let mut stderr = String::from_utf8_lossy(&err).into_owned();
    if timed_out {
        stderr.push_str(&format!(
            "\n##[error]The step was killed after {} s\n",
            limit.as_secs()
        ));
    }
    Ok(Exec {
        exit_code: if timed_out { None } else { status.code() },
        stdout: String::from_utf8_lossy(&out).into_owned(),
        stderr,
        ..Exec::default()
    })
}
