//! The check command (`ONESHOT_VERIFY_COMMAND`) runs code the agent wrote, after the session,
//! and oneshot restores `.git/config` only around the session, not around the check.
//!
//! The attack, which used to work: the check sets
//! `remote.origin.pushurl` to a repository of the agent's; oneshot's authenticated push then
//! goes there (with the credential, were the remote an HTTPS one on the same server), the step
//! is reported done, and the real remote never gets it. The same gap lets the check add an
//! `include.path`, `http.proxy` with `http.sslVerify=false` (the header to a proxy of the
//! agent's choosing) or `url.<x>.insteadOf` before the push.

use crate::agent_fakes::{init, result, write};
use crate::hostile_git::{BRANCH, ImplementJob};

#[test]
fn the_check_command_cannot_redirect_the_push() {
    let mut job = ImplementJob::new();
    let decoy = job.w.env.root.path().join("decoy.git");
    job.w.env.git(
        job.w.env.root.path(),
        ["init", "--quiet", "--bare", decoy.to_str().unwrap()],
    );
    job.w.env.set(
        "ONESHOT_VERIFY_COMMAND",
        format!(
            "git config --local remote.origin.pushurl '{}'",
            decoy.display()
        ),
    );
    for n in 1..=3 {
        job.agent.script_for(
            n,
            vec![
                init(),
                write(&format!("src/step{n}.txt"), &format!("step {n}\n")),
                result("success", false, "Done."),
            ],
        );
    }
    job.give_to_job_user();
    let out = job.run_implement().output().unwrap();
    let origin_steps = job
        .remote_subjects()
        .iter()
        .filter(|s| s.starts_with("Step "))
        .count();
    // The agent's repository has no such branch when nothing reached it.
    let decoy_log = std::process::Command::new("git")
        .args(["-c", "safe.directory=*", "log", "--format=%s", BRANCH, "--"])
        .current_dir(&decoy)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap();
    assert!(
        !out.status.success() || origin_steps == 3,
        "oneshot reported success with {origin_steps} of 3 steps on the remote; the agent's \
         repository got:\n{decoy_log}\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !decoy_log.contains("Step "),
        "the step commits were pushed to the agent's repository:\n{decoy_log}"
    );
}

/// The attack, which used to work: the protected paths are checked after
/// the session and before the check command, and the step commit is made after the check; a
/// check that writes `.github/oneshot.toml` (which decides the agent, the check command and the
/// npm spec `install-agent` installs for the next job) gets it committed and pushed.
#[test]
fn the_check_command_cannot_commit_a_protected_path() {
    let mut job = ImplementJob::new();
    job.w.env.set(
        "ONESHOT_VERIFY_COMMAND",
        "mkdir -p .github && printf '# planted by the check\\n' >> .github/oneshot.toml",
    );
    for n in 1..=3 {
        job.agent.script_for(
            n,
            vec![
                init(),
                write(&format!("src/step{n}.txt"), &format!("step {n}\n")),
                result("success", false, "Done."),
            ],
        );
    }
    job.give_to_job_user();
    let out = job.run_implement().output().unwrap();
    let pushed = job.w.env.git(
        &job.w.repo.origin,
        [
            "-c",
            "safe.directory=*",
            "log",
            "--format=%s",
            "--name-only",
            BRANCH,
        ],
    );
    let planted = std::process::Command::new("git")
        .args(["-c", "safe.directory=*", "show"])
        .arg(format!("{BRANCH}:.github/oneshot.toml"))
        .current_dir(&job.w.repo.origin)
        .output()
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&planted.stdout).contains("planted by the check"),
        "a protected path written by the check was committed and pushed (exit {:?}):\n{pushed}",
        out.status.code()
    );
}

/// The attack, which used to work: the same gap turned into the token.
/// oneshot's authenticated commands allow the `file` transport (`GIT_ALLOW_PROTOCOL=https:file`).
/// The check points the push at a local repository of the agent's (here `pushurl`; on a runner
/// `url.<file:///…>.insteadOf=https://github.com/` does the same); git runs that repository's
/// `git-receive-pack` on the machine, which runs its `pre-receive` hook (oneshot's
/// `core.hooksPath=/dev/null` does not reach the receiving side), and the hook reads
/// `/proc/<pushing git>/environ`, where `GIT_CONFIG_VALUE_n` holds the `AUTHORIZATION` header.
#[test]
fn the_check_command_cannot_make_the_push_run_a_hook_that_reads_the_credential() {
    let mut job = ImplementJob::new();
    let decoy = job.w.env.root.path().join("decoy.git");
    let stolen = job.w.env.root.path().join("stolen.txt");
    job.w.env.git(
        job.w.env.root.path(),
        ["init", "--quiet", "--bare", decoy.to_str().unwrap()],
    );
    let hook = decoy.join("hooks/pre-receive");
    std::fs::write(
        &hook,
        format!(
            "#!/bin/sh\np=$PPID\nwhile [ \"$p\" -gt 1 ]; do\n  tr '\\0' '\\n' < /proc/$p/environ 2>/dev/null | grep -a -i authorization >> '{}'\n  p=$(awk '{{print $4}}' /proc/$p/stat)\ndone\nexit 0\n",
            stolen.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    job.w.env.set(
        "ONESHOT_VERIFY_COMMAND",
        format!(
            "git config --local remote.origin.pushurl '{}'",
            decoy.display()
        ),
    );
    for n in 1..=3 {
        job.agent.script_for(
            n,
            vec![
                init(),
                write(&format!("src/step{n}.txt"), &format!("step {n}\n")),
                result("success", false, "Done."),
            ],
        );
    }
    job.give_to_job_user();
    let _ = job.run_implement().output().unwrap();
    let stolen = std::fs::read_to_string(&stolen).unwrap_or_default();
    assert!(
        stolen.is_empty(),
        "a hook of the agent's read the push credential:\n{stolen}"
    );
}
