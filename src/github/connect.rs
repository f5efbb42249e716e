//! Finding the token, the repository and the API URLs, and building the client.

use std::fmt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use octocrab::Octocrab;

use super::transport::Transport;
use super::{GitHub, RetryPolicy};
use crate::actions::Runner;
use crate::config::GitHubEnv;
use crate::error::{Error, Result};
use crate::git::Git;

/// The REST API version oneshot is written against.
pub const API_VERSION: &str = "2022-11-28";

/// Everything needed to connect: flags, the environment, and the checkout (for its remote).
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// `--token` (clap also fills it from `ONESHOT_TOKEN`).
    pub token: Option<String>,
    /// `--repo OWNER/REPO`.
    pub repo: Option<String>,
    pub env: GitHubEnv,
    pub dir: PathBuf,
}

/// `owner/name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoSlug {
    pub owner: String,
    pub name: String,
}

impl fmt::Display for RepoSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

impl RepoSlug {
    /// Parses `owner/name`, with GitHub's character rules.
    pub fn parse(text: &str) -> Result<Self> {
        let text = text.trim();
        let valid = |s: &str| {
            !s.is_empty()
                && s.len() <= 100
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
                && s != "."
                && s != ".."
        };
        match text.split_once('/') {
            Some((owner, name)) if valid(owner) && valid(name) => Ok(RepoSlug {
                owner: owner.to_string(),
                name: name.trim_end_matches(".git").to_string(),
            }),
            _ => Err(Error::input(format!(
                "{text:?} is not a repository name of the form OWNER/REPO"
            ))
            .hint("for example: --repo octo-org/hello-world")),
        }
    }

    /// `/repos/owner/name`.
    pub fn api_path(&self) -> String {
        format!("/repos/{}/{}", self.owner, self.name)
    }
}

/// Host and `owner/name` from a remote URL: `https://host/o/r(.git)`, `ssh://git@host[:port]/o/r.git`,
/// `git@host:o/r.git`.
pub fn parse_remote_url(url: &str) -> Option<(String, RepoSlug)> {
    let url = url.trim();
    let (host, path) = if let Some(rest) = url.split_once("://").map(|(_, r)| r) {
        let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
        let (host, path) = rest.split_once('/')?;
        (host.split(':').next()?.to_string(), path)
    } else {
        // scp-like: [user@]host:owner/repo
        let rest = url.rsplit_once('@').map_or(url, |(_, r)| r);
        let (host, path) = rest.split_once(':')?;
        (host.to_string(), path)
    };
    let path = path.trim_matches('/').trim_end_matches(".git");
    // The last two segments: GHES may serve repos below a path prefix.
    let mut segments = path.rsplitn(3, '/');
    let name = segments.next()?;
    let owner = segments.next()?;
    let slug = RepoSlug::parse(&format!("{owner}/{name}")).ok()?;
    Some((host, slug))
}

/// The first token found among `--token`/`ONESHOT_TOKEN`, `GH_TOKEN`, `GITHUB_TOKEN`, and
/// `gh auth token`. With none, the error lists everything it checked.
pub fn discover_token(flag: Option<&str>, env: &GitHubEnv) -> Result<String> {
    let mut checked = Vec::new();
    let candidates = [
        ("--token / ONESHOT_TOKEN", flag.map(str::to_string)),
        ("GH_TOKEN", env.gh_token.clone()),
        ("GITHUB_TOKEN", env.github_token.clone()),
    ];
    for (name, value) in candidates {
        match value {
            Some(v) if !v.trim().is_empty() => return Ok(v.trim().to_string()),
            Some(_) => checked.push(format!(
                "{name} is set but empty (in a workflow: is the secret defined?)"
            )),
            None => checked.push(format!("{name} is not set")),
        }
    }
    match gh_auth_token() {
        Ok(token) => return Ok(token),
        Err(why) => checked.push(why),
    }
    let mut err = Error::auth("no GitHub token found");
    for c in checked {
        err = err.cause(c);
    }
    Err(err
        .hint("set ONESHOT_TOKEN (or GH_TOKEN) to a token with contents, issues, pull-requests and actions write access")
        .hint("or log in with the GitHub CLI: gh auth login"))
}

fn gh_auth_token() -> std::result::Result<String, String> {
    let Ok(gh) = which::which("gh") else {
        return Err("`gh` (GitHub CLI) is not installed".into());
    };
    let out = Command::new(gh)
        .args(["auth", "token"])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("`gh auth token` could not run: {e}"))?;
    let token = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if out.status.success() && !token.is_empty() {
        Ok(token)
    } else {
        Err("`gh auth token` returned no token (not logged in)".into())
    }
}

/// The repository from `--repo`, `GITHUB_REPOSITORY`, or the `origin` remote, with the host the
/// remote names (to derive GHES URLs when `GITHUB_API_URL` is not set).
pub fn discover_repo(
    flag: Option<&str>,
    env: &GitHubEnv,
    dir: &std::path::Path,
) -> Result<(RepoSlug, Option<String>)> {
    if let Some(repo) = flag {
        return Ok((RepoSlug::parse(repo)?, None));
    }
    if let Some(repo) = env.repository.as_deref().filter(|r| !r.is_empty()) {
        return Ok((
            RepoSlug::parse(repo).map_err(|e| e.context("GITHUB_REPOSITORY"))?,
            None,
        ));
    }
    let remote = Git::new(dir).try_run(
        "read the origin remote's URL",
        &["remote", "get-url", "origin"],
    );
    match remote {
        Ok(out) if out.success => {
            let url = out.stdout.trim();
            parse_remote_url(url)
                .map(|(host, slug)| (slug, Some(host)))
                .ok_or_else(|| {
                    Error::input(format!(
                        "the origin remote ({url}) does not name a GitHub repository"
                    ))
                    .hint("pass --repo OWNER/REPO")
                })
        }
        _ => Err(
            Error::input("no repository given and no `origin` remote to take it from")
                .hint("pass --repo OWNER/REPO, or run oneshot inside a clone of the repository"),
        ),
    }
}

/// REST base, GraphQL URL and web URL. Actions sets all three; elsewhere they are derived from
/// the REST base (GHES: REST at `/api/v3`, GraphQL at `/api/graphql`) or from the remote's host.
/// github.com and its hosts (`ssh.github.com` serves SSH on port 443).
fn is_github_com(host: &str) -> bool {
    host == "github.com" || host.ends_with(".github.com")
}

pub fn api_urls(env: &GitHubEnv, remote_host: Option<&str>) -> (String, String, String) {
    let api = match (&env.api_url, remote_host) {
        (Some(url), _) if !url.is_empty() => url.trim_end_matches('/').to_string(),
        (_, Some(host)) if !is_github_com(host) && !host.is_empty() => {
            format!("https://{host}/api/v3")
        }
        _ => "https://api.github.com".to_string(),
    };
    let graphql = match &env.graphql_url {
        Some(url) if !url.is_empty() => url.trim_end_matches('/').to_string(),
        _ => match api.strip_suffix("/api/v3") {
            Some(root) => format!("{root}/api/graphql"),
            None => format!("{api}/graphql"),
        },
    };
    let server = match &env.server_url {
        Some(url) if !url.is_empty() => url.trim_end_matches('/').to_string(),
        _ => match api.strip_suffix("/api/v3") {
            Some(root) => root.to_string(),
            None if api == "https://api.github.com" => "https://github.com".to_string(),
            None => api.clone(),
        },
    };
    (api, graphql, server)
}

/// An octocrab client on oneshot's own service stack. octocrab's default builder always adds
/// `User-Agent: octocrab` and its own API-version header, and extra headers are appended, so a
/// request would carry two of each; this stack sends exactly oneshot's headers. The token goes
/// only to `base`'s host (octocrab's auth layer is not used: the header is set here, and
/// redirects are not followed).
fn client(base: &str, token: Option<&str>) -> Result<Octocrab> {
    use octocrab::service::middleware::base_uri::BaseUriLayer;
    use octocrab::service::middleware::extra_headers::ExtraHeadersLayer;

    let uri: http::Uri = base.parse().map_err(|e| {
        Error::config(format!("invalid GitHub API URL {base:?}: {e}")).hint("check GITHUB_API_URL")
    })?;
    let header = |value: &str| {
        http::HeaderValue::from_str(value).map_err(|_| {
            Error::config("the token contains characters that cannot be sent in a header")
        })
    };
    let mut headers = vec![
        (
            http::header::USER_AGENT,
            header(concat!("oneshot/", env!("CARGO_PKG_VERSION")))?,
        ),
        (http::header::ACCEPT, header("application/vnd.github+json")?),
        (
            http::HeaderName::from_static("x-github-api-version"),
            header(API_VERSION)?,
        ),
    ];
    if let Some(token) = token {
        let mut value = header(&format!("Bearer {token}"))?;
        value.set_sensitive(true);
        headers.push((http::header::AUTHORIZATION, value));
    }
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_native_roots(rustls::crypto::ring::default_provider())
        .map_err(|e| {
            Error::config(format!(
                "could not load the system's root certificates: {e}"
            ))
            .hint("install the CA certificates (e.g. the ca-certificates package), or set SSL_CERT_FILE")
        })?
        .https_or_http()
        .enable_http1()
        .build();
    let http = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build(connector);
    octocrab::OctocrabBuilder::new_empty()
        .with_service(http)
        .with_layer(&BaseUriLayer::new(uri))
        .with_layer(&ExtraHeadersLayer::new(std::sync::Arc::new(headers)))
        .with_auth(octocrab::AuthState::None)
        .build()
        .map_err(|e| Error::internal(format!("could not build the GitHub client: {e}")))
}

pub(super) fn connect(options: &ConnectOptions, runner: &Runner) -> Result<GitHub> {
    let (repo, host) = discover_repo(options.repo.as_deref(), &options.env, &options.dir)?;
    // The token goes to GitHub only: a remote on another host is not taken for GitHub
    // Enterprise Server unless GITHUB_API_URL says so.
    if let Some(host) = host.as_deref().filter(|h| !is_github_com(h))
        && options.env.api_url.as_deref().is_none_or(str::is_empty)
    {
        return Err(
            Error::config(format!("the origin remote is on {host}, not github.com"))
                .hint(format!(
                    "for GitHub Enterprise Server, set GITHUB_API_URL=https://{host}/api/v3"
                ))
                .hint("or name a github.com repository with --repo OWNER/REPO"),
        );
    }
    let token = discover_token(options.token.as_deref(), &options.env)?;
    runner.mask(&token);
    let (api_url, graphql_url, server_url) = api_urls(&options.env, host.as_deref());

    let mut policy = RetryPolicy::default();
    if let Some(ms) = options.env.http_timeout_ms {
        policy.request_timeout = Duration::from_millis(ms);
    }
    if let Some(ms) = options.env.retry_budget_ms {
        policy.total_budget = Duration::from_millis(ms);
        policy.first_backoff = policy.first_backoff.min(Duration::from_millis(ms / 10 + 1));
    }

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::internal(format!("could not start the async runtime: {e}")))?;
    let build = |base: &str| -> Result<Octocrab> {
        // hyper needs a runtime context to build its client.
        let _guard = runtime.enter();
        client(base, Some(&token))
    };
    let rest = build(&api_url)?;
    let graphql = build(&graphql_url)?;
    Ok(GitHub {
        transport: Transport::new(runtime, rest, graphql, api_url, graphql_url, policy, {
            use base64::Engine;
            let basic =
                base64::engine::general_purpose::STANDARD.encode(format!("x-access-token:{token}"));
            vec![token.clone(), basic]
        }),
        repo,
        server_url,
        token,
    })
}

/// Posts a Slack-compatible JSON notification. A client of its own, without the GitHub token:
/// the webhook's host must never see it.
pub fn post_webhook(url: &str, payload: &serde_json::Value) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::internal(format!("could not start the async runtime: {e}")))?;
    let _guard = runtime.enter();
    let uri: http::Uri = url
        .parse()
        .map_err(|_| Error::config("the webhook URL is not a valid URL"))?;
    let base = format!(
        "{}://{}",
        uri.scheme_str().unwrap_or("https"),
        uri.authority().map(|a| a.as_str()).unwrap_or("")
    );
    let client = client(&base, None)?;
    let response = runtime
        .block_on(async {
            tokio::time::timeout(Duration::from_secs(30), client._post(url, Some(payload))).await
        })
        .map_err(|_| Error::github("the webhook did not answer within 30 s"))?
        // The URL is a secret: the error never repeats it.
        .map_err(|_| Error::github("could not reach the webhook"))?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(Error::github(format!(
            "the webhook answered {}",
            response.status().as_u16()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_urls() {
        let cases = [
            (
                "https://github.com/octo/hello.git",
                "github.com",
                "octo/hello",
            ),
            (
                "https://x-access-token:abc@github.com/octo/hello",
                "github.com",
                "octo/hello",
            ),
            ("git@github.com:octo/hello.git", "github.com", "octo/hello"),
            (
                "ssh://git@ghes.example.com:2222/team/app.git",
                "ghes.example.com",
                "team/app",
            ),
            (
                "https://ghes.example.com/scm/team/app.git",
                "ghes.example.com",
                "team/app",
            ),
        ];
        for (url, host, slug) in cases {
            let (h, s) = parse_remote_url(url).unwrap_or_else(|| panic!("{url}"));
            assert_eq!((h.as_str(), s.to_string().as_str()), (host, slug), "{url}");
        }
        assert!(parse_remote_url("/tmp/origin.git").is_none());
        assert!(parse_remote_url("not a url").is_none());
    }

    #[test]
    fn repo_slug_rules() {
        assert!(RepoSlug::parse("octo/hello-world.js").is_ok());
        for bad in ["octo", "/x", "a/b/c", "a b/c", "../x", ""] {
            assert!(RepoSlug::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn urls_for_github_and_ghes() {
        let env = GitHubEnv::default();
        assert_eq!(
            api_urls(&env, None),
            (
                "https://api.github.com".into(),
                "https://api.github.com/graphql".into(),
                "https://github.com".into()
            )
        );
        let ghes = GitHubEnv {
            api_url: Some("https://ghes.example.com/api/v3/".into()),
            ..Default::default()
        };
        assert_eq!(
            api_urls(&ghes, None),
            (
                "https://ghes.example.com/api/v3".into(),
                "https://ghes.example.com/api/graphql".into(),
                "https://ghes.example.com".into()
            )
        );
        assert_eq!(
            api_urls(&env, Some("ghes.example.com")).1,
            "https://ghes.example.com/api/graphql"
        );
    }

    #[test]
    fn token_order_and_empty_secrets() {
        let env = GitHubEnv {
            gh_token: Some("  ".into()),
            github_token: Some("ghs_b".into()),
            ..Default::default()
        };
        assert_eq!(discover_token(Some("flag"), &env).unwrap(), "flag");
        assert_eq!(discover_token(None, &env).unwrap(), "ghs_b");
    }
}
