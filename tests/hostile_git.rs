//! Issue 12, finding 1: a hostile agent plants programs everywhere git would start one (the
//! global, XDG and included config, attributes files, credential helper, ssh command, diff
//! driver) and watches every process's environment; the implement job still pushes every step,
//! and the token shows up in nothing those programs or the watcher saw. The agent runs as an
//! unprivileged user (when the tests run as root, the job is started with `setpriv`), as on a
//! runner: root could read any process's memory anyway.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::agent_fakes::{FakeAgent, init, result, write};
use crate::support::github::{PLAN, World};
use crate::support::succeeded;

pub const BRANCH: &str = "oneshot-add-a-verbose-flag-01-15-1430";

/// The user the job runs as when the tests run as root.
const NOBODY: u32 = 65534;

/// The implement job of a saved, registered plan, in a fresh clone of the branch.
pub struct ImplementJob {
    pub w: World,
    pub agent: FakeAgent,
    pub pr: u64,
    pub issue: u64,
    pub dir: PathBuf,
}

impl ImplementJob {
    pub fn new() -> Self {
        let mut w = World::new();
        let agent = FakeAgent::install(&mut w.env, "claude");
        let (pr, issue) = w.saved_plan(BRANCH, PLAN, &[]);
        let dir = w.clone_branch(BRANCH, "implement-job");
        ImplementJob {
            w,
            agent,
            pr,
            issue,
            dir,
        }
    }

    /// `oneshot exec run-implement`, as the job's user.
    pub fn run_implement(&self) -> Command {
        let mut cmd = self.as_job_user(Path::new(env!("CARGO_BIN_EXE_oneshot")));
        cmd.args(["exec", "run-implement", "--issue"])
            .arg(self.issue.to_string())
            .args(["--pr", &self.pr.to_string()]);
        cmd
    }

    /// `program` in the job's checkout with the test environment, as an unprivileged user when
    /// the tests run as root.
    pub fn as_job_user(&self, program: &Path) -> Command {
        let mut cmd = if running_as_root() {
            let mut cmd = Command::new(setpriv());
            cmd.args([
                &format!("--reuid={NOBODY}"),
                &format!("--regid={NOBODY}"),
                "--clear-groups",
                "--",
            ])
            .arg(program);
            cmd
        } else {
            Command::new(program)
        };
        cmd.current_dir(&self.dir)
            .env_clear()
            .envs(self.w.env.vars());
        cmd
    }

    /// Hands everything the job touches to its user (after the root-run setup).
    pub fn give_to_job_user(&self) {
        if !running_as_root() {
            return;
        }
        let status = Command::new("chown")
            .args(["-R", &format!("{NOBODY}:{NOBODY}")])
            .arg(self.w.env.root.path())
            .status()
            .unwrap();
        assert!(status.success(), "chown failed");
    }

    /// git as the test (root may work in the job user's repositories).
    pub fn git(&self, dir: &Path, args: &[&str]) -> String {
        let mut all = vec!["-c", "safe.directory=*"];
        all.extend(args);
        self.w.env.git(dir, all)
    }

    pub fn remote_subjects(&self) -> Vec<String> {
        self.git(
            &self.w.repo.origin,
            &[
                "log",
                "--reverse",
                "--format=%s",
                &format!("main..{BRANCH}"),
            ],
        )
        .lines()
        .map(str::to_string)
        .collect()
    }
}

/// Whether the tests run as root (the owner of `/proc/self` is the process's user).
pub fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

fn setpriv() -> PathBuf {
    which::which("setpriv").unwrap_or_else(|_| {
        panic!("the tests run as root and need setpriv (util-linux) to run the job unprivileged")
    })
}

/// A program that appends its arguments and environment to `log`, then does what its role
/// needs (a filter passes its input through, a textconv prints the file, the rest fail).
fn recorder(path: &Path, log: &Path) {
    let script = format!(
        "#!/bin/sh\n{{ echo \"=== $*\"; env; }} >> '{}'\ncase \"$1\" in\n  filter) exec cat ;;\n  textconv) exec cat \"$2\" ;;\n  *) exit 1 ;;\nesac\n",
        log.display()
    );
    std::fs::write(path, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// The first session: plants the programs, writes a file of each kind the attributes name, and
/// starts a watcher that copies every environment it can read (the check command starts it
/// again after every session, to be running when oneshot pushes). It reads the processes that
/// work in the job's checkout: other tests run as the same user with the same fake token.
fn hostile_session(rec: &Path, watch_log: &Path) -> Vec<Value> {
    let rec = rec.display();
    let watch = watch_log.display();
    let script = format!(
        r#"set -e
H="$HOME"
cat > "$H/.gitconfig" <<EOF
[include]
	path = $H/evil.inc
[filter "x"]
	clean = {rec} filter global-clean
	smudge = {rec} filter global-smudge
[filter "lfs"]
	clean = {rec} filter lfs-clean
	process = {rec} filter lfs-process
[diff "x"]
	textconv = {rec} textconv
[core]
	attributesFile = $H/evil-attributes
	sshCommand = {rec} ssh
	askPass = {rec} askpass
	pager = {rec} pager
	editor = {rec} editor
[credential]
	helper = !{rec} credential
[gpg]
	program = {rec} gpg
[push]
	gpgSign = if-asked
[protocol]
	allow = always
EOF
cat > "$H/evil.inc" <<EOF
[filter "z"]
	clean = {rec} filter include-clean
[diff "z"]
	textconv = {rec} textconv
[credential]
	helper = !{rec} include-credential
EOF
mkdir -p "$XDG_CONFIG_HOME/git"
cat > "$XDG_CONFIG_HOME/git/config" <<EOF
[filter "y"]
	clean = {rec} filter xdg-clean
[credential]
	helper = !{rec} xdg-credential
EOF
printf '*.rs filter=y diff=x\n' > "$H/evil-attributes"
printf '*.txt filter=x diff=x\n' >> .git/info/attributes
printf '*.md filter=z diff=z\n*.bin filter=lfs diff=lfs\n*.w filter=w\n' > .gitattributes
git config filter.w.clean "{rec} filter local-clean"
git config credential.helper "!{rec} local-credential"
echo a > hostile.txt; echo b > hostile.md; echo c > hostile.rs; echo d > hostile.bin; echo e > hostile.w
# Every environment this user can read: the ancestors now, every process from now on.
p=$$
while [ "$p" -gt 1 ]; do
  tr '\0' '\n' < /proc/$p/environ >> "{watch}" 2>/dev/null || echo "unreadable: $p" >> "{watch}"
  p=$(sed 's/.*) //' /proc/$p/stat | cut -d' ' -f2)
done
cat > .watcher.sh <<EOF
JOB="$PWD"
EOF
cat >> .watcher.sh <<'EOF'
while :; do for d in /proc/[0-9]*; do case "$(readlink $d/cwd)" in "$JOB"*) tr "\0" "\n" < $d/environ; tr "\0" "\n" < $d/cmdline;; esac; done >> "{watch}" 2>/dev/null; done
EOF
setsid sh .watcher.sh < /dev/null > /dev/null 2>&1 &
"#
    );
    vec![
        init(),
        json!({"run": ["sh", "-c", script]}),
        result("success", false, "Done."),
    ]
}

fn session(path: &str, content: &str) -> Vec<Value> {
    vec![
        init(),
        write(path, content),
        result("success", false, "Done."),
    ]
}

#[test]
fn a_hostile_agent_s_programs_never_see_the_token_and_the_push_still_works() {
    let mut job = ImplementJob::new();
    // A stock machine: git reads the user's global and XDG config.
    job.w.env.unset("GIT_CONFIG_GLOBAL");
    job.w.env.unset("GIT_CONFIG_NOSYSTEM");
    let xdg = job.w.env.home.join(".config");
    job.w.env.set("XDG_CONFIG_HOME", xdg.display().to_string());
    let traps = job.w.env.dir("traps");
    let log = traps.join("programs.log");
    let watch_log = traps.join("environments.log");
    let rec = traps.join("rec.sh");
    recorder(&rec, &log);
    std::fs::write(&log, "").unwrap();
    std::fs::write(&watch_log, "").unwrap();
    job.agent.script_for(1, hostile_session(&rec, &watch_log));
    job.w.env.set(
        "ONESHOT_VERIFY_COMMAND",
        "if [ -f .watcher.sh ]; then setsid sh .watcher.sh < /dev/null > /dev/null 2>&1 & fi; true",
    );
    job.agent
        .script_for(2, session("src/step2.txt", "step 2\n"));
    job.agent
        .script_for(3, session("src/step3.txt", "step 3\n"));
    job.give_to_job_user();

    let out = succeeded(job.run_implement().output().unwrap());
    assert_eq!(out["completed_steps"], 3);
    assert_eq!(
        job.remote_subjects(),
        vec![
            "Add the oneshot task",
            "Step 1: Parse the flag",
            "Step 2: Print requests",
            "Step 3: Document it"
        ]
    );
    // The hostile files are in the step commit as they are (no filter rewrote them).
    let step1 = job.git(
        &job.w.repo.origin,
        &["show", &format!("{BRANCH}~2:hostile.bin")],
    );
    assert_eq!(step1, "d\n");

    let token = job.w.fake.token();
    use base64::Engine;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("x-access-token:{token}"));
    let programs = std::fs::read_to_string(&log).unwrap();
    let environments = std::fs::read_to_string(&watch_log).unwrap();
    for (what, text) in [
        ("the planted programs", &programs),
        ("the environments", &environments),
    ] {
        assert!(
            !text.contains(&token) && !text.contains(&basic) && !text.contains("x-access-token"),
            "{what} saw the token:\n{text}"
        );
    }
    // The watcher ran and read what it could (the agent's own environment at least).
    assert!(environments.contains("HOME="), "{environments}");
    // oneshot's git started none of them.
    assert_eq!(programs, "", "oneshot's git ran planted programs");

    // The traps were armed: a stock git of the same user runs every one of them.
    std::fs::write(job.dir.join("more.txt"), "1\n").unwrap();
    std::fs::write(job.dir.join("more.md"), "2\n").unwrap();
    std::fs::write(job.dir.join("more.rs"), "3\n").unwrap();
    std::fs::write(job.dir.join("more.bin"), "4\n").unwrap();
    job.give_to_job_user();
    let git = which::which("git").unwrap();
    let stock = |args: &[&str], input: Option<&str>| {
        let mut cmd = job.as_job_user(&git);
        cmd.args(args);
        if let Some(input) = input {
            use std::io::Write;
            let mut child = cmd
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap();
            child
                .stdin
                .take()
                .unwrap()
                .write_all(input.as_bytes())
                .unwrap();
            let _ = child.wait();
        } else {
            let _ = cmd.output().unwrap();
        }
    };
    stock(&["add", "more.txt", "more.md", "more.rs", "more.bin"], None);
    stock(&["diff", "--cached"], None);
    stock(
        &["credential", "fill"],
        Some("protocol=https\nhost=example.com\n\n"),
    );
    stock(&["ls-remote", "ssh://example.invalid/repo"], None);
    let armed = std::fs::read_to_string(&log).unwrap();
    for trap in [
        "global-clean",
        "include-clean",
        "xdg-clean",
        "lfs-",
        "textconv",
        "=== credential",
        "include-credential",
        "xdg-credential",
        "=== ssh",
    ] {
        assert!(armed.contains(trap), "{trap} did not run:\n{armed}");
    }
}

/// Git LFS keeps its filter in the global config, which oneshot's git does not read: the exact
/// filter `git lfs install` writes is passed on, so a step's new LFS file is committed as a
/// pointer, not as its content.
#[test]
fn a_git_lfs_repository_gets_pointers_in_its_step_commits() {
    let Ok(git_lfs) = which::which("git-lfs") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "git-lfs is not installed (apt-get install git-lfs)"
        );
        #[allow(clippy::print_stderr)]
        {
            eprintln!("skipped: git-lfs is not installed (apt-get install git-lfs)");
        }
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
    std::fs::write(
        job.dir.join(".gitattributes"),
        "*.bin filter=lfs diff=lfs merge=lfs -text\n",
    )
    .unwrap();
    job.git(&job.dir, &["add", ".gitattributes"]);
    job.git(
        &job.dir,
        &["commit", "--quiet", "-m", "Track .bin files with LFS"],
    );
    job.git(&job.dir, &["push", "--quiet", "origin", BRANCH]);
    job.agent
        .script_for(1, session("assets/big.bin", "a large binary payload\n"));
    job.agent
        .script_for(2, session("src/step2.txt", "step 2\n"));
    job.agent
        .script_for(3, session("src/step3.txt", "step 3\n"));
    job.give_to_job_user();

    let out = succeeded(job.run_implement().output().unwrap());
    assert_eq!(out["completed_steps"], 3);
    let committed = job.git(
        &job.w.repo.origin,
        &["show", &format!("{BRANCH}~2:assets/big.bin")],
    );
    assert!(
        committed.starts_with("version https://git-lfs.github.com/spec/v1\n"),
        "the step committed the content, not an LFS pointer:\n{committed}"
    );
}
