//! Snapshots of every command's `--help`, found by walking the command tree, so that every change
//! to the CLI surface is reviewed.

use crate::support::{TestEnv, run_ok};

fn help(env: &TestEnv, path: &[String]) -> String {
    let mut cmd = env.oneshot(env.root.path());
    cmd.args(path).arg("--help");
    String::from_utf8(run_ok(&mut cmd).stdout).unwrap()
}

/// The subcommand names listed under "Commands:" in a help text.
fn subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| l.trim() != "Commands:")
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_string)
        .collect()
}

#[test]
fn every_command_help_is_snapshotted() {
    let env = TestEnv::new();
    let mut queue: Vec<Vec<String>> = vec![vec![]];
    let mut seen = 0;
    while let Some(path) = queue.pop() {
        let text = help(&env, &path);
        let name = if path.is_empty() {
            "oneshot".to_string()
        } else {
            format!("oneshot {}", path.join(" "))
        };
        assert!(text.contains("Usage:"), "{name} --help has no usage line");
        if !path.is_empty() {
            assert!(text.contains("Example"), "{name} --help has no example");
        }
        insta::assert_snapshot!(name.replace(' ', "_"), text, &format!("{name} --help"));
        for sub in subcommands(&text) {
            let mut next = path.clone();
            next.push(sub);
            queue.push(next);
        }
        seen += 1;
    }
    assert!(seen >= 4, "walked only {seen} commands");
}

#[test]
fn version_prints_the_package_version() {
    let env = TestEnv::new();
    let out = run_ok(env.oneshot(env.root.path()).arg("--version"));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("oneshot {}\n", env!("CARGO_PKG_VERSION"))
    );
}
