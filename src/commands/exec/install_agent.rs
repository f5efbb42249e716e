//! `oneshot exec install-agent`: makes sure the agent of a job's sessions can start. The agent
//! is resolved by the same code as `run-plan` and `run-implement`; a program of its name that
//! is on PATH already is used (its version is reported); otherwise the pinned npm package is
//! installed into a prefix of its own, whose `bin` goes on PATH for the later steps.
//!
//! The workflow keeps npm's cache and the prefix with the Actions cache: on a hit the prefix is
//! back at its place and only its `--version` is checked; npm's cache serves an install whose
//! prefix did not come back.

use super::Context;
use crate::actions::{Annotation, Level, Outputs};
use crate::agent::install::{self, Layout, Userns};
use crate::agent::{self, AgentSpec};
use crate::cli::{InstallAgentArgs, SessionPhase};
use crate::config::{self, Overrides};
use crate::error::{Error, Result};
use crate::workspace::Workspace;

pub fn run(args: &InstallAgentArgs, ctx: &Context) -> Result<Outputs> {
    let InstallAgentArgs {
        phase,
        agent: agent_flag,
        agent_version,
        resolve_only,
    } = args;
    let ws = Workspace::find(&ctx.dir)?;
    let overrides = Overrides {
        agent: agent_flag.clone(),
        ..Overrides::default()
    };
    let settings = config::load(&ws.root, ctx.env, &overrides)?;
    // The sessions' own resolution, so that what is installed is what will run.
    let agent = match phase {
        SessionPhase::Plan => super::run_plan::session_settings(&settings)?.agent,
        SessionPhase::Implement => crate::implement::session_settings(&settings)?.agent,
    };
    let parent = config::inherited_environment();
    let install_env = &ctx.env.agent_install;
    let on_path = agent::locate(&agent, &ws.root);

    let pin = match (&agent, install::pin(&agent)) {
        // A `command:` agent is the repository's own program: oneshot cannot know how to
        // install it, so it must be there before any session starts.
        (AgentSpec::Command { program, .. }, _) => {
            return match on_path {
                Ok(path) => {
                    ctx.runner.info(&format!(
                        "Agent {agent}: {} (not installed by oneshot)",
                        path.display()
                    ));
                    Ok(Outputs::new()
                        .with("agent", agent.name())
                        .with("agent_path", path.display().to_string())
                        .with("agent_version", "")
                        .with("install", false)
                        .with("installed", false))
                }
                Err(why) => Err(Error::agent(format!(
                    "the agent program `{program}` was not found: {why}"
                ))
                .hint(format!(
                    "{}; a `command:` agent is not installed by oneshot: install it in a step before this one",
                    agent::install_hint(&agent)
                ))),
            };
        }
        (_, Some(pin)) => pin,
        (_, None) => {
            return Err(Error::internal(format!(
                "the agent {agent} has no pinned npm package"
            )));
        }
    };

    let (version, explicit) = wanted_version(
        &agent,
        pin,
        agent_version.as_deref(),
        &settings.agent_versions,
    )?;
    let layout = Layout::from_env(install_env)?;
    let npm_cache = layout.npm_cache().display().to_string();
    let prefix = layout.prefix(pin, &version);
    let cache_key = install::cache_key(pin, &version);
    let mut outputs = Outputs::new()
        .with("agent", agent.name())
        .with("npm_cache", npm_cache)
        .with("agent_prefix", prefix.display().to_string())
        .with("cache_key", cache_key)
        .with("install", on_path.is_err());

    if *resolve_only {
        return Ok(outputs.with("agent_version", version).with(
            "agent_path",
            on_path.map(|p| p.display().to_string()).unwrap_or_default(),
        ));
    }

    let (program, reported, installed) = match on_path {
        Ok(path) => {
            let reported = install::program_version(&agent, &path, &parent)?;
            ctx.runner.info(&format!(
                "{} is on PATH already: {} ({reported}); nothing installed",
                pin.program,
                path.display()
            ));
            if explicit && !install::reports_version(&reported, &version) {
                ctx.runner.annotate(
                    Level::Warning,
                    &format!(
                        "agent_version {version} was asked for, but the {} on PATH ({}) reports {reported:?}; it is used as it is",
                        pin.program,
                        path.display()
                    ),
                    &Annotation::default(),
                );
            }
            (path, reported, false)
        }
        Err(_) => {
            let cli = {
                let _group = ctx.runner.group(&format!(
                    "Installing {}@{version} into {}",
                    pin.package,
                    prefix.display()
                ));
                install::npm_install(install_env, &parent, pin, &version, &layout)?
            };
            let bin = install::bin_dir(&prefix);
            ctx.runner.add_path(&bin)?;
            ctx.runner.info(&format!(
                "{} {}: {} ({})",
                pin.program,
                if cli.reused {
                    "was in place already (restored from the cache)"
                } else {
                    "installed"
                },
                cli.program.display(),
                cli.reported
            ));
            (cli.program, cli.reported, true)
        }
    };
    outputs = outputs
        .with("agent_version", reported)
        .with("agent_path", program.display().to_string())
        .with("installed", installed);

    if agent == AgentSpec::Codex && cfg!(target_os = "linux") {
        let userns = install::lift_userns_gate(install_env, &parent);
        match &userns {
            Userns::NotRestricted => {}
            Userns::Lifted => ctx.runner.info(&format!(
                "Unprivileged user namespaces were restricted ({}=1); lifted for codex's sandbox (bubblewrap)",
                install::USERNS_GATE
            )),
            Userns::Restricted(why) => ctx.runner.annotate(
                Level::Warning,
                &format!(
                    "this runner restricts unprivileged user namespaces ({}=1) and it could not be lifted: {why}. \
                     Codex's sandbox (bubblewrap) cannot start here, so every command of a codex session will fail; \
                     run `sudo sysctl -w {}=0` in a step before, or use a runner that allows user namespaces",
                    install::USERNS_GATE,
                    install::USERNS_GATE
                ),
                &Annotation::default(),
            ),
        }
        outputs.set("userns", userns.as_str());
    }
    Ok(outputs)
}

/// The version to install and whether someone asked for it: the flag (workflow input
/// `agent_version`), then `[agent_versions]` in the configuration file, then the pin.
fn wanted_version(
    agent: &AgentSpec,
    pin: &install::Pin,
    flag: Option<&str>,
    configured: &config::AgentVersions,
) -> Result<(String, bool)> {
    if let Some(flag) = flag.filter(|f| !f.trim().is_empty()) {
        let version = config::check_agent_version(flag).map_err(|why| {
            Error::config(format!(
                "invalid --agent-version on the command line: {why}"
            ))
        })?;
        return Ok((version, true));
    }
    let from_file = match agent {
        AgentSpec::Claude => &configured.claude,
        AgentSpec::Codex => &configured.codex,
        AgentSpec::Gemini => &configured.gemini,
        AgentSpec::Command { .. } => &None,
    };
    Ok(match from_file {
        Some(v) => (v.clone(), true),
        None => (pin.version.to_string(), false),
    })
}
