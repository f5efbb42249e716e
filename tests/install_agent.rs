//! `oneshot exec install-agent` against a fake `npm` on PATH that records its command line,
//! working directory and environment and installs a program that answers `--version` as the
//! real CLI does; and against runners without npm, without the agent's program, or with a
//! failing npm. The real install from the npm registry is in tests/e2e_workflows.rs.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;

use crate::agent_fakes::FakeAgent;
use crate::support::{TestEnv, TestRepo, describe, runner_files, stdout_json};

/// npm as far as `npm install --prefix P … PACKAGE@VERSION` goes: puts the package's program
/// into P/node_modules/.bin. `FAKE_NPM_FAIL=1` fails the way npm does (a stack on stderr);
/// `FAKE_NPM_REPORTS` is what the installed program says to `--version`.
const FAKE_NPM: &str = r#"#!/bin/sh
log="$FAKE_NPM_LOG"
: > "$log"
for a in "$@"; do printf '%s\n' "$a" >> "$log"; done
pwd > "$log.cwd"
env > "$log.env"
if [ -n "$FAKE_NPM_FAIL" ]; then
  echo "npm error code E404" >&2
  echo "npm error 404 Not Found - GET https://registry.npmjs.org/@anthropic-ai%2fclaude-code - Not found" >&2
  echo "npm error A complete log of this run can be found in: /tmp/npm.log" >&2
  exit 1
fi
prefix=""; prev=""
for a in "$@"; do
  [ "$prev" = "--prefix" ] && prefix="$a"
  prev="$a"; last="$a"
done
version="${last##*@}"
case "$last" in
  @anthropic-ai/claude-code@*) program=claude; line="$version (Claude Code)" ;;
  @openai/codex@*) program=codex; line="codex-cli $version" ;;
  @google/gemini-cli@*) program=gemini; line="$version" ;;
  *) echo "unknown package $last" >&2; exit 1 ;;
esac
[ -n "$FAKE_NPM_REPORTS" ] && line="$FAKE_NPM_REPORTS"
mkdir -p "$prefix/node_modules/.bin"
printf '#!/bin/sh\necho "%s"\n' "$line" > "$prefix/node_modules/.bin/$program"
chmod +x "$prefix/node_modules/.bin/$program"
"#;

struct Runner {
    env: TestEnv,
    repo: TestRepo,
    temp: PathBuf,
    output: PathBuf,
    path_file: PathBuf,
    npm_log: PathBuf,
}

/// A job on a runner: Actions' files and variables, a token in the environment (which nothing
/// started here may get), and the fake npm first on PATH unless `with_npm` is false.
fn runner(with_npm: bool) -> Runner {
    let mut env = TestEnv::new();
    let repo = env.repo_with_origin();
    let temp = env.dir("runner-temp");
    let output = env.root.path().join("github_output");
    let path_file = env.root.path().join("github_path");
    let npm_log = env.root.path().join("npm.log");
    env.set("GITHUB_ACTIONS", "true");
    env.set("GITHUB_OUTPUT", output.display().to_string());
    env.set("GITHUB_PATH", path_file.display().to_string());
    env.set("RUNNER_TEMP", temp.display().to_string());
    env.set("ONESHOT_TOKEN", "ghs_install_must_not_see_this");
    env.set("FAKE_NPM_LOG", npm_log.display().to_string());
    // A runner's gate is whatever its kernel says; the tests decide it.
    let gate = env.root.path().join("userns-gate");
    env.set("ONESHOT_USERNS_GATE_FILE", gate.display().to_string());
    if with_npm {
        let bin = env.dir("npm-bin");
        write_program(&bin.join("npm"), FAKE_NPM);
        // The real node, found where the base PATH has it, or a stand-in.
        if !["/usr/local/bin/node", "/usr/bin/node", "/bin/node"]
            .iter()
            .any(|p| Path::new(p).exists())
        {
            write_program(&bin.join("node"), "#!/bin/sh\necho v22.0.0\n");
        }
        env.prepend_path(&bin);
    } else {
        // Only git: a machine without Node.
        let bin = env.dir("git-only-bin");
        let git = which("git");
        std::os::unix::fs::symlink(git, bin.join("git")).unwrap();
        env.set("PATH", bin.display().to_string());
    }
    Runner {
        env,
        repo,
        temp,
        output,
        path_file,
        npm_log,
    }
}

fn which(program: &str) -> PathBuf {
    std::env::split_paths(&std::env::var_os("PATH").unwrap())
        .map(|d| d.join(program))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{program} is not on PATH"))
}

fn write_program(path: &Path, text: &str) {
    fs::write(path, text).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
}

impl Runner {
    fn install(&self, args: &[&str]) -> Output {
        self.env
            .oneshot(&self.repo.work)
            .args(["exec", "install-agent"])
            .args(args)
            .output()
            .unwrap()
    }

    fn outputs(&self) -> Vec<(String, String)> {
        runner_files::parse(&fs::read_to_string(&self.output).unwrap_or_default()).unwrap()
    }

    fn output(&self, name: &str) -> String {
        runner_files::get(&self.outputs(), name)
            .unwrap_or_else(|| panic!("no output {name}: {:?}", self.outputs()))
    }

    fn npm_argv(&self) -> Option<Vec<String>> {
        fs::read_to_string(&self.npm_log)
            .ok()
            .map(|t| t.lines().map(str::to_string).collect())
    }

    fn npm_file(&self, suffix: &str) -> String {
        fs::read_to_string(format!("{}{suffix}", self.npm_log.display())).unwrap()
    }

    fn github_path(&self) -> String {
        fs::read_to_string(&self.path_file).unwrap_or_default()
    }

    fn config(&self, toml: &str) {
        fs::create_dir_all(self.repo.work.join(".github")).unwrap();
        fs::write(self.repo.work.join(".github/oneshot.toml"), toml).unwrap();
    }
}

fn assert_ok(out: &Output) {
    assert!(out.status.success(), "{}", describe(out));
}

/// The exact npm command line, working directory, environment and GITHUB_PATH line of each
/// agent's install.
#[test]
fn each_agent_is_installed_into_its_own_prefix_with_the_pinned_version() {
    for (agent, package, version, reported) in [
        (
            "claude",
            "@anthropic-ai/claude-code",
            "2.1.330",
            "2.1.330 (Claude Code)",
        ),
        ("codex", "@openai/codex", "0.169.0", "codex-cli 0.169.0"),
        ("gemini", "@google/gemini-cli", "0.61.0", "0.61.0"),
    ] {
        let r = runner(true);
        let out = r.install(&["--phase", "plan", "--agent", agent]);
        assert_ok(&out);
        let root = r.temp.join("oneshot-agents");
        let prefix = root.join(format!("{agent}-{version}"));
        let cache = root.join("npm-cache");
        assert_eq!(
            r.npm_argv().unwrap(),
            [
                "install",
                "--prefix",
                &prefix.display().to_string(),
                "--cache",
                &cache.display().to_string(),
                "--prefer-offline",
                "--no-audit",
                "--no-fund",
                "--no-save",
                "--loglevel=error",
                &format!("{package}@{version}"),
            ],
            "{agent}"
        );
        assert_eq!(
            r.npm_file(".cwd").trim(),
            prefix.canonicalize().unwrap().display().to_string()
        );
        let npm_env = r.npm_file(".env");
        assert!(
            !npm_env.contains("ghs_install_must_not_see_this"),
            "npm got the token"
        );
        assert!(npm_env.lines().any(|l| l.starts_with("PATH=")), "{npm_env}");
        assert!(prefix.join("package.json").exists());
        let bin = prefix.join("node_modules/.bin");
        assert_eq!(r.github_path(), format!("{}\n", bin.display()));
        assert_eq!(r.output("agent"), agent);
        assert_eq!(r.output("agent_version"), reported);
        assert_eq!(
            r.output("agent_path"),
            bin.join(agent).display().to_string()
        );
        assert_eq!(r.output("installed"), "true");
        assert_eq!(r.output("npm_cache"), cache.display().to_string());
        assert_eq!(r.output("agent_prefix"), prefix.display().to_string());
        let key = r.output("cache_key");
        assert!(
            key.starts_with("oneshot-agent-npm-") && key.ends_with(&format!("-{agent}-{version}")),
            "{key}"
        );
    }
}

/// `--resolve-only` (the step before the cache restore) names what the install will do and
/// changes nothing.
#[test]
fn resolve_only_says_what_would_be_installed_and_changes_nothing() {
    let r = runner(true);
    let out = r.install(&["--phase", "implement", "--resolve-only"]);
    assert_ok(&out);
    assert_eq!(r.npm_argv(), None, "npm ran");
    assert_eq!(r.github_path(), "");
    assert!(!r.temp.join("oneshot-agents").exists());
    assert_eq!(r.output("agent"), "claude");
    assert_eq!(r.output("agent_version"), "2.1.330");
    assert_eq!(r.output("install"), "true");
    assert_eq!(
        r.output("npm_cache"),
        r.temp
            .join("oneshot-agents/npm-cache")
            .display()
            .to_string()
    );
    assert!(r.output("cache_key").ends_with("-claude-2.1.330"));
}

/// A self-hosted runner may have the CLI: it is used, its version reported, nothing installed.
#[test]
fn a_program_already_on_path_is_reported_and_not_installed() {
    let mut r = runner(true);
    let _agent = FakeAgent::install(&mut r.env, "claude");
    let out = r.install(&["--phase", "plan"]);
    assert_ok(&out);
    assert_eq!(r.npm_argv(), None, "npm ran");
    assert_eq!(r.github_path(), "");
    assert_eq!(r.output("installed"), "false");
    assert_eq!(r.output("agent_version"), "0.0.0 (fake agent)");
    let log = String::from_utf8_lossy(&out.stdout);
    assert!(
        log.contains("claude is on PATH already") && log.contains("0.0.0 (fake agent)"),
        "{log}"
    );

    // Resolving says no install is needed, so the workflow skips the cache.
    let out = r.install(&["--phase", "plan", "--resolve-only"]);
    assert_ok(&out);
    assert_eq!(r.output("install"), "false");

    // A version asked for explicitly that differs is a warning, not a reinstall.
    let out = r.install(&["--phase", "plan", "--agent-version", "2.1.330"]);
    assert_ok(&out);
    let log = String::from_utf8_lossy(&out.stdout);
    assert!(
        log.lines()
            .any(|l| l.starts_with("::warning::agent_version 2.1.330 was asked for")),
        "{log}"
    );
    assert_eq!(r.npm_argv(), None, "npm ran");
}

/// The agent of each phase is the one its session will use: per-session agents in the file.
#[test]
fn the_agent_is_resolved_per_phase_as_the_sessions_resolve_it() {
    let r = runner(true);
    r.config("[plan]\nagent = \"gemini\"\n[implement]\nagent = \"codex\"\n");
    assert_ok(&r.install(&["--phase", "plan", "--resolve-only"]));
    assert_eq!(r.output("agent"), "gemini");
    assert_ok(&r.install(&["--phase", "implement", "--resolve-only"]));
    assert_eq!(r.output("agent"), "codex");
    // The flag (workflow input) beats the file, and ONESHOT_AGENT comes between.
    assert_ok(&r.install(&[
        "--phase",
        "implement",
        "--agent",
        "claude",
        "--resolve-only",
    ]));
    assert_eq!(r.output("agent"), "claude");
    let mut r = r;
    r.env.set("ONESHOT_AGENT", "gemini");
    assert_ok(&r.install(&["--phase", "implement", "--resolve-only"]));
    assert_eq!(r.output("agent"), "gemini");
}

#[test]
fn the_version_is_overridden_by_the_input_then_by_the_config_file() {
    let r = runner(true);
    r.config("[agent_versions]\nclaude = \"2.1.300\"\ncodex = \"0.170.0\"\n");
    assert_ok(&r.install(&["--phase", "plan"]));
    assert_eq!(
        r.npm_argv().unwrap().last().unwrap(),
        "@anthropic-ai/claude-code@2.1.300"
    );
    assert_eq!(r.output("agent_version"), "2.1.300 (Claude Code)");
    assert!(r.output("cache_key").ends_with("-claude-2.1.300"));

    assert_ok(&r.install(&["--phase", "plan", "--agent-version", "2.1.310"]));
    assert_eq!(
        r.npm_argv().unwrap().last().unwrap(),
        "@anthropic-ai/claude-code@2.1.310"
    );
    assert!(
        r.github_path()
            .ends_with("oneshot-agents/claude-2.1.310/node_modules/.bin\n")
    );

    // An empty input (a workflow passes every input) leaves the file in charge.
    assert_ok(&r.install(&["--phase", "plan", "--agent", "codex", "--agent-version", ""]));
    assert_eq!(
        r.npm_argv().unwrap().last().unwrap(),
        "@openai/codex@0.170.0"
    );
}

#[test]
fn an_invalid_version_is_refused_before_npm_runs() {
    let r = runner(true);
    let out = r.install(&["--phase", "plan", "--agent-version=--registry=http://evil"]);
    assert_eq!(out.status.code(), Some(4), "{}", describe(&out));
    assert!(
        describe(&out).contains("is not an npm version"),
        "{}",
        describe(&out)
    );
    assert_eq!(r.npm_argv(), None);

    r.config("[agent_versions]\nclaude = \"../../x\"\n");
    let out = r.install(&["--phase", "plan"]);
    assert_eq!(out.status.code(), Some(4), "{}", describe(&out));
    assert!(describe(&out).contains("line 2"), "{}", describe(&out));
    assert_eq!(r.npm_argv(), None);
}

/// A `command:` agent is the repository's program: never installed; missing, it fails the
/// step before any session, naming the program and how to install it.
#[test]
fn a_command_agent_is_not_installed_and_a_missing_one_fails_with_its_name() {
    let r = runner(true);
    let out = r.install(&["--phase", "plan", "--agent", "command:my-agent --fast"]);
    assert_eq!(out.status.code(), Some(8), "{}", describe(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let error = stdout
        .lines()
        .find(|l| l.starts_with("::error"))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(
        error.contains("the agent program `my-agent` was not found"),
        "{error}"
    );
    assert!(
        error.contains("install it in a step before this one"),
        "{error}"
    );
    assert_eq!(r.npm_argv(), None);

    let bin = r.env.dir("my-bin");
    write_program(&bin.join("my-agent"), "#!/bin/sh\nexit 0\n");
    let mut r = r;
    r.env.prepend_path(&bin);
    let out = r.install(&["--phase", "plan", "--agent", "command:my-agent --fast"]);
    assert_ok(&out);
    assert_eq!(r.output("agent"), "command");
    assert_eq!(
        r.output("agent_path"),
        bin.join("my-agent").display().to_string()
    );
    assert_eq!(r.output("installed"), "false");
    assert_eq!(r.npm_argv(), None);
}

#[test]
fn without_node_and_npm_the_error_says_so_and_how_to_get_them() {
    let r = runner(false);
    let out = r.install(&["--phase", "plan"]);
    assert_eq!(out.status.code(), Some(8), "{}", describe(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(
            "cannot install claude (@anthropic-ai/claude-code@2.1.330): `npm` is not on PATH"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("actions/setup-node"), "{stdout}");
    assert_eq!(r.github_path(), "");

    // Outside Actions: the JSON error object, same message.
    let mut r = r;
    r.env.unset("GITHUB_ACTIONS");
    let out = r.install(&["--phase", "plan"]);
    let json = stdout_json(&out);
    assert_eq!(json["error_type"], "agent");
    assert!(
        json["message"]
            .as_str()
            .unwrap()
            .contains("`npm` is not on PATH")
    );
}

#[test]
fn a_failing_npm_gives_its_own_words_and_no_path() {
    let mut r = runner(true);
    r.env.set("FAKE_NPM_FAIL", "1");
    r.env.unset("GITHUB_ACTIONS");
    let out = r.install(&["--phase", "plan"]);
    assert_eq!(out.status.code(), Some(8), "{}", describe(&out));
    let json = stdout_json(&out);
    let message = json["message"].as_str().unwrap();
    assert!(
        message.starts_with("npm install @anthropic-ai/claude-code@2.1.330 failed (exit code 1)"),
        "{message}"
    );
    let all = json.to_string();
    assert!(all.contains("npm error 404 Not Found"), "{all}");
    assert!(all.contains("registry is reachable"), "{all}");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
    assert_eq!(r.github_path(), "");
}

#[test]
fn an_install_that_reports_another_version_fails() {
    let mut r = runner(true);
    r.env.set("FAKE_NPM_REPORTS", "2.0.0 (Claude Code)");
    let out = r.install(&["--phase", "plan"]);
    assert_eq!(out.status.code(), Some(8), "{}", describe(&out));
    assert!(
        describe(&out).contains("was installed as 2.1.330 but reports")
            && describe(&out).contains("2.0.0 (Claude Code)"),
        "{}",
        describe(&out)
    );
    assert_eq!(r.github_path(), "");
}

/// A prefix at the right version (the Actions cache put it back, or a second run in the same
/// job) is used as it is: npm does not run.
#[test]
fn an_installed_prefix_at_the_version_is_used_again() {
    let r = runner(true);
    assert_ok(&r.install(&["--phase", "plan"]));
    fs::remove_file(&r.npm_log).unwrap();
    assert_ok(&r.install(&["--phase", "plan"]));
    assert_eq!(r.npm_argv(), None, "npm ran again");
    assert_eq!(r.output("agent_version"), "2.1.330 (Claude Code)");
}

/// Codex's sandbox needs user namespaces: a closed gate is opened with `sudo -n sysctl`
/// (codex only), and a sudo that cannot is a warning that says what will happen.
#[test]
fn for_codex_a_closed_userns_gate_is_lifted_with_sudo_or_warned_about() {
    let mut r = runner(true);
    let gate = r.env.root.path().join("userns-gate");
    let sudo_log = r.env.root.path().join("sudo.log");
    let sudo = r.env.root.path().join("fake-sudo");
    write_program(
        &sudo,
        &format!(
            "#!/bin/sh\nprintf '%s\\n' \"$@\" >> {log}\nenv > {log}.env\n[ -z \"$FAKE_SUDO_FAIL\" ] || {{ echo 'sudo: a password is required' >&2; exit 1; }}\n",
            log = sudo_log.display()
        ),
    );
    r.env.set("ONESHOT_SUDO", sudo.display().to_string());

    // claude: never, whatever the gate says.
    fs::write(&gate, "1\n").unwrap();
    assert_ok(&r.install(&["--phase", "plan"]));
    assert!(!sudo_log.exists(), "sudo ran for claude");
    assert!(runner_files::get(&r.outputs(), "userns").is_none());

    // codex, gate open: nothing to do.
    fs::write(&gate, "0\n").unwrap();
    assert_ok(&r.install(&["--phase", "plan", "--agent", "codex"]));
    assert!(!sudo_log.exists(), "sudo ran though the gate was open");
    assert_eq!(r.output("userns"), "not_restricted");

    // codex, gate closed: lifted.
    fs::write(&gate, "1\n").unwrap();
    let out = r.install(&["--phase", "plan", "--agent", "codex"]);
    assert_ok(&out);
    if cfg!(target_os = "linux") {
        assert_eq!(
            fs::read_to_string(&sudo_log).unwrap(),
            "-n\nsysctl\n-w\nkernel.apparmor_restrict_unprivileged_userns=0\n"
        );
        let sudo_env = fs::read_to_string(format!("{}.env", sudo_log.display())).unwrap();
        assert!(!sudo_env.contains("ghs_install_must_not_see_this"));
        assert_eq!(r.output("userns"), "lifted");

        // No passwordless sudo: the step goes on with a warning that says what will fail.
        r.env.set("FAKE_SUDO_FAIL", "1");
        let out = r.install(&["--phase", "plan", "--agent", "codex"]);
        assert_ok(&out);
        assert_eq!(r.output("userns"), "restricted");
        let log = String::from_utf8_lossy(&out.stdout);
        let warning = log
            .lines()
            .find(|l| l.starts_with("::warning::"))
            .unwrap_or_else(|| panic!("{log}"));
        assert!(
            warning.contains("sudo: a password is required"),
            "{warning}"
        );
        assert!(warning.contains("bubblewrap"), "{warning}");
    }
}
