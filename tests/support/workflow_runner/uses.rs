//! `uses:` steps. `actions/checkout` is performed the way the action does it (a shallow fetch
//! of the one ref into an empty workspace, no credential kept); oneshot's install action puts
//! the binary under test on PATH; artifact actions are recorded no-ops, and so are the cache
//! actions unless the runner has a cache store; any other action is an error.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command as Process;
use std::time::Duration;

use serde_json::Value;

use super::job::{Exec, Machine, spawn_and_wait};
use super::{Run, WorkflowFile};

pub(super) struct Target<'a> {
    /// The workflow the step is in (what `$/` means).
    pub file: &'a WorkflowFile,
    pub machine: &'a Machine,
    pub github: &'a Value,
    /// The step's process environment.
    pub env: &'a [(String, String)],
}

/// Actions performed as no-ops (the e2e runs need no artifacts and no cache).
const NOOPS: &[&str] = &[
    "actions/upload-artifact",
    "actions/download-artifact",
    "actions/cache",
    "actions/cache/restore",
    "actions/cache/save",
];

const INSTALL: &str = ".github/actions/install";

pub(super) fn run(
    run: &Run,
    target: &Target,
    uses: &str,
    with: &BTreeMap<String, String>,
) -> Result<Exec, String> {
    if uses.starts_with("docker://") {
        return Err(format!("`{uses}`: container actions are not supported"));
    }
    // `$/path`: the workflow's own repository at the commit it runs from.
    if let Some(path) = uses.strip_prefix("$/") {
        let path = path.trim_end_matches('/');
        let action = target
            .file
            .read(&format!("{path}/action.yml"))
            .map_err(|e| format!("`{uses}`: {e}"))?;
        return local_action(target, uses, path, &action, with);
    }
    // `./path`: the checkout in the workspace, whatever repository the workflow comes from.
    if let Some(path) = uses.strip_prefix("./") {
        let path = path.trim_end_matches('/');
        let action = std::fs::read_to_string(target.machine.workspace.join(path).join("action.yml"))
            .map_err(|_| {
                format!(
                    "`{uses}`: {path}/action.yml is not in the workspace (a `./` action is read from the checkout, not from the workflow's repository)"
                )
            })?;
        return local_action(target, uses, path, &action, with);
    }
    let (name, version) = uses
        .split_once('@')
        .ok_or_else(|| format!("`{uses}`: an action needs @ref"))?;
    if name == "actions/checkout" {
        return checkout(run, target, with);
    }
    if let (Some(store), Some(kind)) =
        (&run.runner.cache_store, name.strip_prefix("actions/cache/"))
    {
        return cache(run, store, kind, with);
    }
    if NOOPS.contains(&name) {
        run.noops.borrow_mut().push(uses.to_string());
        return Ok(Exec {
            exit_code: Some(0),
            stdout: format!("{name}@{version}: not performed by the workflow runner\n"),
            ..Exec::default()
        });
    }
    // oneshot's own actions at a ref: read from this source tree.
    if let Some(path) = name
        .strip_prefix(super::ONESHOT_REPOSITORY)
        .and_then(|p| p.strip_prefix('/'))
        && let Some(dir) = run.runner.sources.get(super::ONESHOT_REPOSITORY)
    {
        let action = std::fs::read_to_string(dir.join(path).join("action.yml"))
            .map_err(|e| format!("`{uses}`: {e}"))?;
        return local_action(target, uses, path, &action, with);
    }
    Err(format!(
        "`{uses}` is an action the workflow runner does not know"
    ))
}

/// An action of a repository: only the install action is known. Its `with:` must name inputs
/// the action declares (GitHub only warns; here it is an error).
fn local_action(
    target: &Target,
    uses: &str,
    path: &str,
    action_yml: &str,
    with: &BTreeMap<String, String>,
) -> Result<Exec, String> {
    if path != INSTALL {
        return Err(format!(
            "`{uses}` is an action the workflow runner does not know"
        ));
    }
    let action = super::yaml::load(action_yml, uses)?;
    if let Some(k) = with
        .keys()
        .find(|k| action["inputs"].get(k.as_str()).is_none())
    {
        return Err(format!("`{uses}`: `{k}` is not an input of the action"));
    }
    install(target, with.get("ref").map(String::as_str).unwrap_or(""))
}

/// The install action, replaced: the binary under test, linked into a directory that goes on
/// PATH the way the action does it (through GITHUB_PATH).
fn install(target: &Target, git_ref: &str) -> Result<Exec, String> {
    let bin = target.machine.temp.join("oneshot-test/bin");
    std::fs::create_dir_all(&bin).map_err(|e| e.to_string())?;
    let link = bin.join("oneshot");
    if !link.exists() {
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_oneshot"), &link)
            .map_err(|e| e.to_string())?;
    }
    let mut outputs = BTreeMap::new();
    outputs.insert("version".into(), env!("CARGO_PKG_VERSION").to_string());
    outputs.insert("path".into(), link.display().to_string());
    outputs.insert("source".into(), "test".into());
    Ok(Exec {
        exit_code: Some(0),
        stdout: format!(
            "oneshot {} (the binary under test; ref {git_ref:?})\n",
            env!("CARGO_PKG_VERSION")
        ),
        outputs,
        path: vec![bin.display().to_string()],
        ..Exec::default()
    })
}

/// actions/cache/restore and /save on a local store (see `WorkflowRunner::cache_store`). Only
/// an exact key is looked up. `path` is one directory a line; the entry `<store>/<key>` holds
/// the n-th one as `<n>/` (a restore links each path that the entry has to it).
fn cache(
    run: &Run,
    store: &std::path::Path,
    kind: &str,
    with: &BTreeMap<String, String>,
) -> Result<Exec, String> {
    let input = |name: &str| {
        with.get(name)
            .filter(|v| !v.is_empty())
            .cloned()
            .ok_or_else(|| format!("actions/cache/{kind}: `{name}` is required"))
    };
    let key = input("key")?;
    let paths: Vec<PathBuf> = input("path")?
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(PathBuf::from)
        .collect();
    if let Some(k) = with.keys().find(|k| *k != "key" && *k != "path") {
        return Err(format!(
            "actions/cache/{kind}: `{k}` is not supported by the workflow runner"
        ));
    }
    if key.contains('/') || key.contains(',') || key.len() > 512 {
        return Err(format!("actions/cache: the key `{key}` is invalid"));
    }
    if let Some(p) = paths.iter().find(|p| !p.is_absolute()) {
        return Err(format!(
            "actions/cache/{kind}: `{}` is not absolute (the workflow runner needs absolute paths)",
            p.display()
        ));
    }
    let entry = store.join(&key);
    let mut outputs = BTreeMap::new();
    let stdout = match kind {
        "restore" => {
            let hit = entry.exists();
            outputs.insert("cache-hit".into(), hit.to_string());
            outputs.insert("cache-primary-key".into(), key.clone());
            run.caches.borrow_mut().push(format!(
                "restore {} {key}",
                if hit { "hit" } else { "miss" }
            ));
            if hit {
                outputs.insert("cache-matched-key".into(), key.clone());
                for (n, path) in paths.iter().enumerate() {
                    let Ok(target) = entry.join(n.to_string()).canonicalize() else {
                        continue;
                    };
                    if let Some(parent) = path.parent() {
                        std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
                    }
                    std::os::unix::fs::symlink(&target, path).map_err(|e| {
                        format!("actions/cache/restore: linking {}: {e}", path.display())
                    })?;
                }
                format!("Cache restored from key: {key}\n")
            } else {
                format!("Cache not found for input keys: {key}\n")
            }
        }
        "save" => {
            if entry.exists() {
                format!(
                    "Failed to save: Unable to reserve cache with key {key}, another job may be creating this cache.\n"
                )
            } else {
                std::fs::create_dir_all(&entry).map_err(|e| e.to_string())?;
                for (n, path) in paths.iter().enumerate().filter(|(_, p)| p.exists()) {
                    let status = Process::new("cp")
                        .arg("-a")
                        .arg(path)
                        .arg(entry.join(n.to_string()))
                        .status()
                        .map_err(|e| e.to_string())?;
                    if !status.success() {
                        return Err(format!(
                            "actions/cache/save: copying {} failed",
                            path.display()
                        ));
                    }
                }
                run.caches.borrow_mut().push(format!("save {key}"));
                format!("Cache saved with key: {key}\n")
            }
        }
        other => return Err(format!("actions/cache/{other} is not an action")),
    };
    Ok(Exec {
        exit_code: Some(0),
        stdout,
        outputs,
        ..Exec::default()
    })
}

const CHECKOUT_INPUTS: &[&str] = &[
    "repository",
    "ref",
    "token",
    "persist-credentials",
    "path",
    "fetch-depth",
    "fetch-tags",
    "clean",
    "show-progress",
    "set-safe-directory",
];

/// actions/checkout: `git init`, a shallow fetch of the one ref from the remote, a checkout of a
/// local branch of that name (or of the tag or commit). No credential is stored: the remote is
/// a path on disk.
fn checkout(run: &Run, target: &Target, with: &BTreeMap<String, String>) -> Result<Exec, String> {
    if let Some(k) = with.keys().find(|k| !CHECKOUT_INPUTS.contains(&k.as_str())) {
        return Err(format!(
            "actions/checkout: `{k}` is not supported by the workflow runner"
        ));
    }
    let own = target.github["repository"].as_str().unwrap_or_default();
    if let Some(r) = with.get("repository").filter(|r| !r.is_empty())
        && !r.eq_ignore_ascii_case(own)
    {
        return Err(format!(
            "actions/checkout: cannot check out {r}, only {own}"
        ));
    }
    let dir: PathBuf = match with.get("path").filter(|p| !p.is_empty()) {
        Some(p) => target.machine.workspace.join(p),
        None => target.machine.workspace.clone(),
    };
    let depth: u32 = match with.get("fetch-depth").filter(|d| !d.is_empty()) {
        Some(d) => d
            .parse()
            .map_err(|_| format!("actions/checkout: fetch-depth `{d}` is not a number"))?,
        None => 1,
    };
    let depth_arg = (depth > 0).then(|| format!("--depth={depth}"));

    let mut log = String::new();
    let git = |args: &[&str], log: &mut String| -> Result<Exec, String> {
        log.push_str(&format!("[command]git {}\n", args.join(" ")));
        let mut cmd = Process::new("git");
        cmd.args(args)
            .current_dir(&dir)
            .env_clear()
            .envs(target.env.iter().map(|(k, v)| (k, v)));
        let exec = spawn_and_wait(cmd, Duration::from_secs(60))?;
        log.push_str(&exec.stdout);
        log.push_str(&exec.stderr);
        Ok(exec)
    };
    let fail = |log: String, message: String| -> Result<Exec, String> {
        Ok(Exec {
            exit_code: Some(1),
            stdout: log,
            stderr: format!("##[error]{message}\n"),
            ..Exec::default()
        })
    };
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let remote = run.git_dir.display().to_string();
    for args in [
        vec!["init", "--quiet"],
        vec!["remote", "add", "origin", &remote],
    ] {
        if !git(&args, &mut log)?.success() {
            return fail(log, format!("git {} failed", args.join(" ")));
        }
    }

    let wanted = with.get("ref").cloned().unwrap_or_default();
    let (git_ref, sha) = if wanted.is_empty() {
        (
            target.github["ref"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            target.github["sha"].as_str().map(str::to_string),
        )
    } else {
        (wanted, None)
    };
    let mut fetch: Vec<String> = vec![
        "-c".into(),
        "protocol.version=2".into(),
        "fetch".into(),
        "--no-tags".into(),
        "--prune".into(),
        "--no-recurse-submodules".into(),
    ];
    fetch.extend(depth_arg.clone());
    fetch.push("origin".into());
    let is_sha = git_ref.len() == 40 && git_ref.chars().all(|c| c.is_ascii_hexdigit());
    // What to check out once fetched: a local branch from a remote-tracking ref, or a detached
    // commit/tag.
    let (branch, start): (Option<String>, String) = if is_sha {
        fetch.push(git_ref.clone());
        (None, git_ref.clone())
    } else if let Some(b) = git_ref.strip_prefix("refs/heads/") {
        let source = sha.clone().unwrap_or_else(|| git_ref.clone());
        fetch.push(format!("+{source}:refs/remotes/origin/{b}"));
        (Some(b.to_string()), format!("refs/remotes/origin/{b}"))
    } else if let Some(t) = git_ref.strip_prefix("refs/tags/") {
        fetch.push(format!("+{git_ref}:refs/tags/{t}"));
        (None, git_ref.clone())
    } else if git_ref.starts_with("refs/") {
        fetch.push(format!("+{git_ref}:{git_ref}"));
        (None, git_ref.clone())
    } else {
        // A short name: a branch or a tag, as the action tries both.
        fetch.push(format!(
            "+refs/heads/{git_ref}*:refs/remotes/origin/{git_ref}*"
        ));
        fetch.push(format!("+refs/tags/{git_ref}*:refs/tags/{git_ref}*"));
        (
            Some(git_ref.clone()),
            format!("refs/remotes/origin/{git_ref}"),
        )
    };
    let fetch_args: Vec<&str> = fetch.iter().map(String::as_str).collect();
    if !git(&fetch_args, &mut log)?.success() {
        return fail(log, format!("The process 'git' failed fetching {git_ref}"));
    }
    // A branch when the fetch brought one, else a tag of that name (as the action decides).
    let checked_out = match &branch {
        Some(b) => {
            git(&["checkout", "--force", "-B", b, &start], &mut log)?.success()
                || git(
                    &["checkout", "--force", &format!("refs/tags/{b}")],
                    &mut log,
                )?
                .success()
        }
        None => git(&["checkout", "--force", &start], &mut log)?.success(),
    };
    if !checked_out {
        return fail(
            log,
            format!("A branch or tag with the name '{git_ref}' could not be found"),
        );
    }
    let head = git(&["rev-parse", "HEAD"], &mut log)?;
    let mut outputs = BTreeMap::new();
    outputs.insert("ref".into(), git_ref.clone());
    outputs.insert("commit".into(), head.stdout.trim().to_string());
    Ok(Exec {
        exit_code: Some(0),
        stdout: log,
        outputs,
        ..Exec::default()
    })
}
