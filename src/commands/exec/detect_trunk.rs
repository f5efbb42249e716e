//! `oneshot exec detect-trunk`: which branch the work starts from and the PR targets.

use super::Context;
use crate::actions::Outputs;
use crate::cli::DetectTrunkArgs;
use crate::error::{Error, Result};
use crate::git::{Git, Remote};

pub fn run(args: &DetectTrunkArgs, ctx: &Context) -> Result<Outputs> {
    let remote = Git::new(&ctx.dir).remote(&args.remote);
    let trunk = detect(&remote, args.trunk.as_deref())?;
    ctx.runner.info(&format!("Trunk: {trunk}"));
    Ok(Outputs::new().with("trunk", trunk))
}

/// Tries each source in order and returns the first answer; the error lists every attempt.
pub fn detect(server: &Remote, explicit: Option<&str>) -> Result<String> {
    let git = server.local();
    let remote = server.name();
    if let Some(name) = explicit {
        git.check_branch_name(name)?;
        return Ok(name.to_string());
    }
    let mut tried = Vec::new();

    let tracking_head = format!("refs/remotes/{remote}/HEAD");
    match git.symbolic_ref(&tracking_head)? {
        Some(target) => {
            let prefix = format!("refs/remotes/{remote}/");
            if let Some(branch) = target.strip_prefix(&prefix).filter(|b| !b.is_empty()) {
                return Ok(branch.to_string());
            }
            tried.push(format!(
                "{tracking_head} points at {target}, which is not a branch of {remote}"
            ));
        }
        None => tried.push(format!("{tracking_head} is not set")),
    }

    match server.head_branch() {
        Ok(Some(branch)) => return Ok(branch),
        Ok(None) => tried.push(format!(
            "`git ls-remote --symref {remote} HEAD` reported no HEAD branch"
        )),
        Err(e) => tried.push(format!(
            "`git ls-remote --symref {remote} HEAD` failed: {}",
            e.causes
                .last()
                .and_then(|c| c.lines().next())
                .unwrap_or(&e.message)
        )),
    }

    const CANDIDATES: [&str; 2] = ["main", "master"];
    let found = match server.branches(&CANDIDATES) {
        Ok(found) => found,
        // The remote cannot be reached: what we fetched from it before is the best knowledge.
        Err(_) => CANDIDATES
            .iter()
            .filter(|b| {
                git.ref_exists(&format!("refs/remotes/{remote}/{b}"))
                    .unwrap_or(false)
            })
            .map(|b| b.to_string())
            .collect(),
    };
    if let Some(branch) = CANDIDATES.iter().find(|c| found.iter().any(|f| f == *c)) {
        return Ok(branch.to_string());
    }
    tried.push(format!(
        "{remote} has no branch named exactly `main` or `master`"
    ));

    let mut err = Error::git("could not find the trunk branch");
    for attempt in tried {
        err = err.cause(attempt);
    }
    Err(err
        .hint("pass it explicitly: oneshot exec detect-trunk --trunk <branch>".to_string())
        .hint(format!(
            "or set the remote's HEAD locally: git remote set-head {remote} --auto"
        )))
}

/// The trunk from what the clone already knows, without asking the remote (dry runs).
pub fn detect_offline(git: &Git, remote: &str) -> Result<String> {
    let tracking_head = format!("refs/remotes/{remote}/HEAD");
    if let Some(target) = git.symbolic_ref(&tracking_head)?
        && let Some(branch) = target
            .strip_prefix(&format!("refs/remotes/{remote}/"))
            .filter(|b| !b.is_empty())
    {
        return Ok(branch.to_string());
    }
    for candidate in ["main", "master"] {
        if git.ref_exists(&format!("refs/remotes/{remote}/{candidate}"))? {
            return Ok(candidate.to_string());
        }
    }
    Err(
        Error::git("could not tell the trunk branch without asking the remote")
            .cause(format!(
                "{tracking_head} is not set, and there is no {remote}/main or {remote}/master"
            ))
            .hint("pass it with --ref BRANCH"),
    )
}
