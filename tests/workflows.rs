//! Structural checks of the workflows and actions users run: the rules DESIGN.md §3 sets for them
//! (no expression inside `run:`, every step one call of the binary, checkouts without a
//! credential, least privilege) and the contracts they share with the binary (step names and
//! flags, inputs, secrets) and with `oneshot init`. scripts/lint-workflows.sh adds actionlint,
//! shellcheck and zizmor on top.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use yaml_rust2::{Yaml, YamlLoader};

use crate::support::{TestEnv, run_ok};

/// The reusable workflows, canonical in workflows/ and copied to .github/workflows/.
const REUSABLE: [&str; 2] = ["one-shot.yml", "plan-implement.yml"];

/// At most 10: older GitHub Enterprise Server versions refuse a dispatch form with more.
const ONE_SHOT_INPUTS: [&str; 10] = [
    "prompt",
    "model",
    "agent",
    "plan_only",
    "branch_name",
    "pr_number",
    "submitted_by",
    "distinct_id",
    "agent_version",
    "runs_on",
];

const PLAN_IMPLEMENT_INPUTS: [&str; 10] = [
    "issue_number",
    "branch_name",
    "pr_number",
    "base_branch",
    "model",
    "agent",
    "from_step",
    "submitted_by",
    "agent_version",
    "runs_on",
];

const SECRETS: [&str; 6] = [
    "ONESHOT_TOKEN",
    "ANTHROPIC_API_KEY",
    "CLAUDE_CODE_OAUTH_TOKEN",
    "OPENAI_API_KEY",
    "GEMINI_API_KEY",
    "ONESHOT_WEBHOOK_URL",
];

const AGENT_KEYS: [&str; 4] = [
    "ANTHROPIC_API_KEY",
    "CLAUDE_CODE_OAUTH_TOKEN",
    "OPENAI_API_KEY",
    "GEMINI_API_KEY",
];

/// `install-agent` runs twice per job: `--resolve-only` for the cache step, then the install.
const INSTALL_AGENT_FLAGS: &[&str] = &["--phase", "--agent", "--agent-version"];

/// The `oneshot exec` steps the workflows call, in order per job, with the flags each may get.
const PLAN_JOB: [(&str, &[&str]); 11] = [
    ("install-agent", INSTALL_AGENT_FLAGS),
    ("install-agent", INSTALL_AGENT_FLAGS),
    ("prepare", &["--model", "--agent", "--trunk"]),
    ("write-prompt", &[]),
    ("detect-trunk", &["--trunk"]),
    ("run-plan", &["--agent", "--model"]),
    ("validate-outputs", &[]),
    ("close-rejected", &["--pr"]),
    (
        "plan-save-to-issue",
        &["--pr", "--branch", "--agent", "--model"],
    ),
    (
        "register-one-shot-plan",
        &["--issue", "--pr", "--submitted-by", "--agent", "--model"],
    ),
    ("plan-failed", &["--pr"]),
];

const IMPLEMENT_JOB: [(&str, &[&str]); 5] = [
    ("install-agent", INSTALL_AGENT_FLAGS),
    ("install-agent", INSTALL_AGENT_FLAGS),
    ("fetch-plan", &["--issue", "--pr", "--branch"]),
    (
        "run-implement",
        &[
            "--issue",
            "--pr",
            "--from-step",
            "--agent",
            "--model",
            "--submitted-by",
        ],
    ),
    (
        "finalize",
        &["--issue", "--pr", "--outcome", "--submitted-by"],
    ),
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn parse(path: &Path) -> Yaml {
    let text = read(path);
    let mut docs = YamlLoader::load_from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not valid YAML: {e}", path.display()));
    assert_eq!(docs.len(), 1, "{}: one document expected", path.display());
    docs.remove(0)
}

fn yml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml" || e == "yaml"))
        .collect();
    files.sort();
    files
}

/// Every workflow file of the repository, canonical and copies.
fn workflow_files() -> Vec<PathBuf> {
    let mut files = yml_files(&root().join(".github/workflows"));
    files.extend(yml_files(&root().join("workflows")));
    files
}

/// The root action and every action under .github/actions/.
fn action_files() -> Vec<PathBuf> {
    let mut files = vec![root().join("action.yml")];
    for entry in std::fs::read_dir(root().join(".github/actions")).unwrap() {
        let path = entry.unwrap().path().join("action.yml");
        if path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    files
}

fn keys(yaml: &Yaml) -> Vec<String> {
    yaml.as_hash()
        .map(|h| h.keys().map(|k| k.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

fn str_of<'a>(yaml: &'a Yaml, what: &str) -> &'a str {
    yaml.as_str()
        .unwrap_or_else(|| panic!("{what} is not a string: {yaml:?}"))
}

/// (job id, job) of a workflow.
fn jobs(doc: &Yaml) -> Vec<(String, &Yaml)> {
    doc["jobs"]
        .as_hash()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.as_str().unwrap().to_string(), v))
        .collect()
}

/// (where, step) for every step of a workflow or a composite action.
fn steps(doc: &Yaml) -> Vec<(String, &Yaml)> {
    let mut out = Vec::new();
    if let Some(list) = doc["runs"]["steps"].as_vec() {
        for (i, step) in list.iter().enumerate() {
            out.push((format!("runs.steps[{i}]"), step));
        }
    }
    if doc["jobs"].as_hash().is_some() {
        for (id, job) in jobs(doc) {
            for (i, step) in job["steps"].as_vec().into_iter().flatten().enumerate() {
                out.push((format!("jobs.{id}.steps[{i}]"), step));
            }
        }
    }
    out
}

/// The `oneshot exec` step a script calls, and the flags it may add: from `oneshot exec NAME`
/// and from `args+=(--flag …)` / `args=(--flag …)`.
fn exec_call(script: &str) -> Option<(String, BTreeSet<String>)> {
    let name = script.lines().find_map(|line| {
        let line = line.trim();
        let rest = line
            .strip_prefix("exec ")
            .unwrap_or(line)
            .strip_prefix("oneshot exec ")?;
        Some(rest.split_whitespace().next()?.to_string())
    })?;
    let mut flags = BTreeSet::new();
    for line in script.lines() {
        for part in line
            .split("args+=(")
            .skip(1)
            .chain(line.split("args=(").skip(1))
        {
            if let Some(flag) = part
                .split_whitespace()
                .next()
                .filter(|f| f.starts_with("--"))
            {
                flags.insert(flag.trim_end_matches(')').to_string());
            }
        }
    }
    Some((name, flags))
}

fn env_names(step: &Yaml) -> BTreeSet<String> {
    keys(&step["env"]).into_iter().collect()
}

#[test]
fn the_copies_under_github_workflows_are_identical() {
    for name in REUSABLE {
        let canonical = root().join("workflows").join(name);
        let copy = root().join(".github/workflows").join(name);
        assert!(
            read(&canonical) == read(&copy),
            ".github/workflows/{name} differs from workflows/{name}: copy workflows/{name} over it"
        );
    }
    let canonical: Vec<_> = yml_files(&root().join("workflows"))
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(canonical, REUSABLE, "workflows/ holds other files");
}

#[test]
fn no_expression_inside_a_run_script() {
    let mut checked = 0;
    for path in workflow_files().into_iter().chain(action_files()) {
        let doc = parse(&path);
        for (place, step) in steps(&doc) {
            if let Some(script) = step["run"].as_str() {
                assert!(
                    !script.contains("${{"),
                    "{}: {place} has an expression inside run:; pass the value through env:",
                    path.display()
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 20, "only {checked} run scripts found");
}

#[test]
fn every_step_of_the_reusable_workflows_is_one_call_of_the_binary() {
    for name in REUSABLE {
        let doc = parse(&root().join("workflows").join(name));
        for (place, step) in steps(&doc) {
            if let Some(uses) = step["uses"].as_str() {
                assert!(
                    uses.starts_with("actions/checkout@")
                        || uses.starts_with("actions/upload-artifact@")
                        || uses.starts_with("actions/cache/restore@")
                        || uses.starts_with("actions/cache/save@")
                        || uses == "$/.github/actions/install",
                    "{name}: {place} uses {uses}; only the checkout, the installer, the agent's npm cache and the transcripts' upload are allowed"
                );
                continue;
            }
            let script = str_of(&step["run"], &format!("{name}: {place}.run"));
            let calls: Vec<&str> = script
                .lines()
                .map(str::trim)
                .filter(|l| {
                    l.starts_with("oneshot ")
                        || l.starts_with("exec oneshot ")
                        || l.contains(" oneshot ")
                })
                .collect();
            assert_eq!(
                calls.len(),
                1,
                "{name}: {place} must call oneshot exactly once"
            );
            assert_eq!(
                script.trim_end().lines().last().map(str::trim),
                Some(calls[0]),
                "{name}: {place}: the call of the binary must be the last line"
            );
            for line in script.lines().map(str::trim).filter(|l| !l.is_empty()) {
                let plumbing = line == "args=()"
                    || line.starts_with("args=(")
                    || (line.starts_with("[ ") && line.contains("] && "))
                    || line.starts_with("outcome=")
                    || line.starts_with('#')
                    || line.starts_with("oneshot exec ")
                    || line.starts_with("exec oneshot exec ");
                assert!(plumbing, "{name}: {place}: unexpected line in run: {line}");
            }
        }
    }
}

/// Issue 12: a shell that started the binary and waits for it would hold the step's token in
/// its environment for as long as the binary runs; `exec` replaces the shell.
#[test]
fn every_call_of_the_binary_replaces_its_shell() {
    let mut calls = 0;
    for name in REUSABLE {
        let doc = parse(&root().join("workflows").join(name));
        for (place, step) in steps(&doc) {
            let Some(script) = step["run"].as_str() else {
                continue;
            };
            for line in script.lines().map(str::trim) {
                if line.contains("oneshot exec ") {
                    assert!(
                        line.starts_with("exec oneshot exec "),
                        "{name}: {place}: `{line}` must start the binary with exec"
                    );
                    calls += 1;
                }
            }
        }
    }
    assert!(calls >= 14, "only {calls} calls found");
}

/// The agent's CLI is installed before the first session of each job, and npm's cache is saved
/// right after the install, before any agent runs (so no session can poison it for later runs),
/// under the key and path the binary resolved.
#[test]
fn each_job_installs_the_agent_before_its_first_session_and_saves_the_cache_before_it() {
    for (name, job, session) in [
        ("one-shot.yml", "plan", "run-plan"),
        ("plan-implement.yml", "implement", "run-implement"),
    ] {
        let doc = parse(&root().join("workflows").join(name));
        let list = doc["jobs"][job]["steps"].as_vec().unwrap();
        let position = |pred: &dyn Fn(&Yaml) -> bool, what: &str| {
            list.iter()
                .position(pred)
                .unwrap_or_else(|| panic!("{name}: no {what} step"))
        };
        let by_id = |id: &'static str| move |s: &Yaml| s["id"].as_str() == Some(id);
        let uses = |prefix: &'static str| {
            move |s: &Yaml| s["uses"].as_str().is_some_and(|u| u.starts_with(prefix))
        };
        let resolve = position(&by_id("agent"), "agent");
        let restore = position(&uses("actions/cache/restore@"), "cache restore");
        let install = position(&by_id("install-agent"), "install-agent");
        let save = position(&uses("actions/cache/save@"), "cache save");
        let first_session = position(&by_id(session), session);
        assert!(
            resolve < restore && restore < install && install + 1 == save && save < first_session,
            "{name}: resolve {resolve}, restore {restore}, install {install}, save {save}, {session} {first_session}"
        );
        assert!(
            str_of(&list[resolve]["run"], "agent.run").contains("--resolve-only"),
            "{name}"
        );
        for at in [restore, save] {
            assert_eq!(
                str_of(&list[at]["with"]["key"], "key"),
                "${{ steps.agent.outputs.cache_key }}"
            );
            assert_eq!(
                str_of(&list[at]["with"]["path"], "path"),
                "${{ steps.agent.outputs.npm_cache }}\n${{ steps.agent.outputs.agent_prefix }}\n"
            );
        }
        assert!(
            str_of(&list[save]["if"], "save.if").contains("cache-hit != 'true'"),
            "{name}: a hit is not saved again"
        );
        for at in [resolve, install] {
            let env = env_names(&list[at]);
            for key in AGENT_KEYS.iter().chain(&["ONESHOT_TOKEN"]) {
                assert!(!env.contains(*key), "{name}: the install gets {key}");
            }
        }
        let runs_on = str_of(&doc["jobs"][job]["runs-on"], "runs-on");
        assert!(
            runs_on.contains("fromJSON(inputs.runs_on)") && runs_on.contains("'ubuntu-latest'"),
            "{name}: {runs_on}"
        );
    }
}

#[test]
fn the_workflows_call_the_steps_of_the_contract_with_their_flags() {
    for (name, job, contract) in [
        ("one-shot.yml", "plan", &PLAN_JOB[..]),
        ("plan-implement.yml", "implement", &IMPLEMENT_JOB[..]),
    ] {
        let doc = parse(&root().join("workflows").join(name));
        let calls: Vec<(String, BTreeSet<String>)> = doc["jobs"][job]["steps"]
            .as_vec()
            .unwrap()
            .iter()
            .filter_map(|s| s["run"].as_str())
            .filter_map(exec_call)
            .collect();
        let names: Vec<&str> = calls.iter().map(|(n, _)| n.as_str()).collect();
        let expected: Vec<&str> = contract.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, expected, "{name}: the steps of job {job}");
        for ((step, flags), (_, allowed)) in calls.iter().zip(contract) {
            for flag in flags {
                assert!(
                    allowed.contains(&flag.as_str()),
                    "{name}: `oneshot exec {step}` gets {flag}, which is not in its contract {allowed:?}"
                );
            }
        }
    }
}

#[test]
fn checkouts_keep_no_credential() {
    let mut checkouts = 0;
    for path in workflow_files().into_iter().chain(action_files()) {
        let doc = parse(&path);
        for (place, step) in steps(&doc) {
            if step["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("actions/checkout@"))
            {
                assert_eq!(
                    step["with"]["persist-credentials"].as_bool(),
                    Some(false),
                    "{}: {place} must set persist-credentials: false",
                    path.display()
                );
                checkouts += 1;
            }
        }
    }
    assert!(checkouts >= 4, "only {checkouts} checkouts found");
}

/// zizmor wants every action pinned to a commit; the comment names the version for people.
#[test]
fn actions_are_pinned_to_a_commit_with_the_version_in_a_comment() {
    for path in workflow_files().into_iter().chain(action_files()) {
        for (n, line) in read(&path).lines().enumerate() {
            let Some(rest) = line
                .trim_start()
                .trim_start_matches("- ")
                .strip_prefix("uses: ")
            else {
                continue;
            };
            let (target, comment) = rest.split_once(" # ").unwrap_or((rest.trim(), ""));
            if target.starts_with("$/") {
                continue;
            }
            let at = format!("{}:{}", path.display(), n + 1);
            let (_, sha) = target
                .split_once('@')
                .unwrap_or_else(|| panic!("{at}: {target} has no @ref"));
            assert!(
                sha.len() == 40 && sha.chars().all(|c| c.is_ascii_hexdigit()),
                "{at}: {target} is not pinned to a full commit SHA"
            );
            let version = comment.trim().strip_prefix('v').unwrap_or("");
            assert!(
                version.split('.').count() == 3
                    && version.split('.').all(|p| p.parse::<u32>().is_ok()),
                "{at}: {target} needs a `# vX.Y.Z` comment"
            );
        }
    }
}

#[test]
fn permissions_are_granted_per_job_and_no_more_than_needed() {
    let allowed = [
        ("contents", "write"),
        ("pull-requests", "write"),
        ("issues", "write"),
        ("actions", "read"),
    ];
    for path in workflow_files() {
        let doc = parse(&path);
        let name = path.display();
        assert!(
            doc["permissions"].as_hash().is_some_and(|h| h.is_empty()),
            "{name}: the top level must grant nothing: permissions: {{}}"
        );
        for (id, job) in jobs(&doc) {
            let grants = job["permissions"]
                .as_hash()
                .unwrap_or_else(|| panic!("{name}: job {id} has no permissions"));
            for (scope, level) in grants {
                let pair = (scope.as_str().unwrap(), level.as_str().unwrap());
                assert!(
                    allowed.contains(&pair),
                    "{name}: job {id} asks for {pair:?}"
                );
            }
            if job["uses"].as_str().is_none() {
                assert!(
                    job["timeout-minutes"].as_i64().is_some(),
                    "{name}: job {id} has no timeout-minutes"
                );
            }
        }
    }
}

/// A second one-shot for the same branch waits; it never cancels the running one.
#[test]
fn runs_for_one_branch_queue_instead_of_cancelling() {
    for name in REUSABLE {
        let doc = parse(&root().join("workflows").join(name));
        let mut groups = 0;
        for (id, job) in jobs(&doc) {
            let concurrency = &job["concurrency"];
            if concurrency.is_badvalue() {
                assert!(
                    job["uses"].as_str().is_some(),
                    "{name}: job {id} has no concurrency group"
                );
                continue;
            }
            let group = str_of(&concurrency["group"], "concurrency.group");
            assert!(
                group.contains("inputs.branch_name"),
                "{name}: {id}: {group}"
            );
            assert_eq!(concurrency["cancel-in-progress"].as_bool(), Some(false));
            assert_eq!(concurrency["queue"].as_str(), Some("max"));
            groups += 1;
        }
        assert_eq!(
            groups, 1,
            "{name}: one job with a concurrency group expected"
        );
    }
}

#[test]
fn the_agent_sessions_get_their_keys_and_only_run_implement_a_github_token() {
    let one_shot = parse(&root().join("workflows/one-shot.yml"));
    let plan_implement = parse(&root().join("workflows/plan-implement.yml"));
    let step = |doc: &Yaml, id: &str| -> BTreeSet<String> {
        let all = steps(doc);
        let (_, step) = all
            .iter()
            .find(|(_, s)| s["id"].as_str() == Some(id))
            .unwrap_or_else(|| panic!("no step {id}"));
        env_names(step)
    };
    let plan = step(&one_shot, "run-plan");
    let implement = step(&plan_implement, "run-implement");
    for key in AGENT_KEYS {
        assert!(plan.contains(key), "run-plan lacks {key}");
        assert!(implement.contains(key), "run-implement lacks {key}");
    }
    for token in ["ONESHOT_TOKEN", "GITHUB_TOKEN", "GH_TOKEN"] {
        assert!(!plan.contains(token), "run-plan must not get {token}");
    }
    assert!(implement.contains("ONESHOT_TOKEN"), "run-implement pushes");

    // No other step gets an agent key.
    for doc in [&one_shot, &plan_implement] {
        for (place, step) in steps(doc) {
            let id = step["id"].as_str().unwrap_or("");
            if id == "run-plan" || id == "run-implement" {
                continue;
            }
            for key in AGENT_KEYS {
                assert!(!env_names(step).contains(key), "{place} ({id}) gets {key}");
            }
        }
    }
}

#[test]
fn finalize_runs_always_and_gets_the_webhook_and_the_token_warning() {
    let doc = parse(&root().join("workflows/plan-implement.yml"));
    let all = steps(&doc);
    let (_, finalize) = all
        .iter()
        .find(|(_, s)| s["id"].as_str() == Some("finalize"))
        .unwrap();
    assert!(str_of(&finalize["if"], "finalize.if").starts_with("always()"));
    let env = env_names(finalize);
    for name in [
        "ONESHOT_TOKEN",
        "ONESHOT_TOKEN_IS_GITHUB_TOKEN",
        "ONESHOT_WEBHOOK_URL",
    ] {
        assert!(env.contains(name), "finalize lacks {name}");
    }
    assert_eq!(
        str_of(&finalize["env"]["IMPLEMENT_OUTCOME"], "outcome"),
        "${{ steps.run-implement.outcome }}"
    );
}

/// Both triggers take the same inputs, which are the ones DESIGN.md §3 lists, each described.
#[test]
fn inputs_and_secrets_are_the_contract() {
    for (name, expected) in [
        ("one-shot.yml", &ONE_SHOT_INPUTS),
        ("plan-implement.yml", &PLAN_IMPLEMENT_INPUTS),
    ] {
        let doc = parse(&root().join("workflows").join(name));
        let dispatch = &doc["on"]["workflow_dispatch"]["inputs"];
        let call = &doc["on"]["workflow_call"]["inputs"];
        assert_eq!(keys(dispatch), expected, "{name}: workflow_dispatch inputs");
        assert!(dispatch == call, "{name}: the two triggers' inputs differ");
        for input in expected {
            let description = str_of(&dispatch[*input]["description"], input);
            assert!(
                !description.is_empty(),
                "{name}: {input} has no description"
            );
        }
        assert_eq!(
            dispatch[expected[0]]["required"].as_bool(),
            Some(true),
            "{name}: {} is required",
            expected[0]
        );
        let secrets = &doc["on"]["workflow_call"]["secrets"];
        assert_eq!(keys(secrets), SECRETS, "{name}: secrets");
        for secret in SECRETS {
            assert_eq!(secrets[secret]["required"].as_bool(), Some(false));
        }
    }

    let doc = parse(&root().join("workflows/one-shot.yml"));
    assert_eq!(
        keys(&doc["jobs"]["plan"]["outputs"]),
        [
            "issue_number",
            "plan_title",
            "trunk",
            "branch",
            "pr_number",
            "rejected"
        ]
    );
    let implement = &doc["jobs"]["implement"];
    assert_eq!(
        implement["uses"].as_str(),
        Some("$/.github/workflows/plan-implement.yml")
    );
    assert_eq!(keys(&implement["secrets"]), SECRETS);
    let condition = str_of(&implement["if"], "implement.if");
    assert!(condition.contains("!inputs.plan_only"), "{condition}");
    assert!(
        condition.contains("needs.plan.outputs.rejected != 'true'"),
        "{condition}"
    );
}

/// The workflow `oneshot init` writes passes every input of one-shot.yml through, declares the
/// same inputs for the Actions form, and grants what the called jobs ask for.
#[test]
fn the_caller_workflow_init_writes_matches_one_shot_yml() {
    let env = TestEnv::new();
    let repo = env.repo_with_origin();
    run_ok(env.oneshot(&repo.work).args(["init", "--json"]));
    let caller = parse(&repo.work.join(".github/workflows/oneshot.yml"));
    let one_shot = parse(&root().join("workflows/one-shot.yml"));

    let inputs = &caller["on"]["workflow_dispatch"]["inputs"];
    assert_eq!(keys(inputs), ONE_SHOT_INPUTS);
    for input in ONE_SHOT_INPUTS {
        let theirs = &one_shot["on"]["workflow_call"]["inputs"][input];
        assert_eq!(inputs[input]["type"], theirs["type"], "type of {input}");
        assert_eq!(inputs[input]["required"], theirs["required"], "{input}");
    }
    for input in ["branch_name", "pr_number", "submitted_by", "distinct_id"] {
        let description = str_of(&inputs[input]["description"], input);
        assert!(
            description.contains("leave empty when starting by hand"),
            "{input}: {description}"
        );
    }
    assert!(str_of(&caller["run-name"], "run-name").contains("inputs.distinct_id"));
    assert!(
        caller["permissions"]
            .as_hash()
            .is_some_and(|h| h.is_empty())
    );

    let (_, job) = jobs(&caller).into_iter().next().unwrap();
    assert_eq!(jobs(&caller).len(), 1);
    let uses = str_of(&job["uses"], "uses");
    assert_eq!(
        uses,
        format!(
            "{}/.github/workflows/one-shot.yml@v{}",
            release_repository(),
            env!("CARGO_PKG_VERSION")
        )
    );
    assert_eq!(job["secrets"].as_str(), Some("inherit"));
    assert_eq!(keys(&job["with"]), ONE_SHOT_INPUTS);
    for input in ONE_SHOT_INPUTS {
        assert_eq!(
            job["with"][input].as_str(),
            Some(format!("${{{{ inputs.{input} }}}}").as_str())
        );
    }
    // A called workflow's jobs can only narrow the caller's grants.
    let granted = job["permissions"].as_hash().unwrap();
    for (id, called) in jobs(&one_shot) {
        for (scope, level) in called["permissions"].as_hash().unwrap() {
            let given = granted.get(scope).and_then(Yaml::as_str);
            assert!(
                given == Some("write") || given == level.as_str(),
                "job {id} of one-shot.yml needs {scope:?}: {level:?}; the caller grants {given:?}"
            );
        }
    }
}

/// The repository releases are downloaded from, as the install action names it.
fn release_repository() -> String {
    let doc = parse(&root().join(".github/actions/install/action.yml"));
    let script = str_of(&doc["runs"]["steps"][0]["run"], "resolve step");
    script
        .lines()
        .find_map(|l| l.trim().strip_prefix("repository="))
        .expect("the install action names its release repository")
        .to_string()
}

/// zizmor.yml accepts the install action's write to GITHUB_PATH for every file named
/// action.yml (zizmor matches file names only); this keeps it the only such write.
#[test]
fn only_the_install_action_writes_environment_files() {
    let mut writes = Vec::new();
    for path in action_files() {
        let doc = parse(&path);
        for (place, step) in steps(&doc) {
            let script = step["run"].as_str().unwrap_or("");
            if script.contains("GITHUB_ENV") || script.contains("GITHUB_PATH") {
                writes.push(format!(
                    "{}: {place}",
                    path.strip_prefix(root()).unwrap().display()
                ));
            }
        }
    }
    assert_eq!(
        writes,
        [".github/actions/install/action.yml: runs.steps[5]"],
        "update zizmor.yml's reason if this changes"
    );
}

/// The release builds exactly the targets the installer downloads.
#[test]
fn the_release_builds_what_the_installer_downloads() {
    let release = parse(&root().join(".github/workflows/release.yml"));
    let built: BTreeSet<String> = release["jobs"]["build"]["strategy"]["matrix"]["include"]
        .as_vec()
        .unwrap()
        .iter()
        .map(|m| str_of(&m["target"], "target").to_string())
        .collect();
    let install = read(&root().join(".github/actions/install/action.yml"));
    let downloaded: BTreeSet<String> = install
        .lines()
        .filter_map(|l| l.split_once(") target=")?.1.split_whitespace().next())
        .filter(|t| !t.starts_with('"'))
        .map(str::to_string)
        .collect();
    assert_eq!(built, downloaded);
    assert_eq!(built.len(), 4);
}

/// Both callers `oneshot init` writes take the runner and the agent's version and pass them on,
/// with the runner's default where a dispatch leaves it out.
#[test]
fn the_callers_init_writes_pass_runs_on_and_agent_version() {
    let env = TestEnv::new();
    let repo = env.repo_with_origin();
    run_ok(env.oneshot(&repo.work).args(["init", "--json"]));
    for file in ["oneshot.yml", "oneshot-resume.yml"] {
        let caller = parse(&repo.work.join(".github/workflows").join(file));
        let inputs = &caller["on"]["workflow_dispatch"]["inputs"];
        assert_eq!(
            inputs["runs_on"]["default"].as_str(),
            Some("ubuntu-latest"),
            "{file}"
        );
        assert_eq!(
            inputs["agent_version"]["default"].as_str(),
            Some(""),
            "{file}"
        );
        let (_, job) = jobs(&caller).into_iter().next().unwrap();
        for input in ["runs_on", "agent_version"] {
            assert_eq!(
                job["with"][input].as_str(),
                Some(format!("${{{{ inputs.{input} }}}}").as_str()),
                "{file}"
            );
        }
    }
}
