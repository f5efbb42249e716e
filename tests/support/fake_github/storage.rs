//! The git side of a repository: refs, commits and file contents. Either kept in memory (with
//! helpers to add branches and files) or read from a bare repository on disk by running git, so
//! that branches pushed with real git show up in the API.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use sha2::{Digest, Sha256};

#[derive(Clone, Debug)]
pub enum Storage {
    Memory(MemoryRepo),
    Git(PathBuf),
}

#[derive(Clone, Debug, Default)]
pub struct MemoryRepo {
    /// Full ref name ("refs/heads/main") -> commit sha.
    refs: BTreeMap<String, String>,
    commits: BTreeMap<String, MemoryCommit>,
    counter: u64,
}

#[derive(Clone, Debug)]
struct MemoryCommit {
    parent: Option<String>,
    tree: String,
    message: String,
    timestamp: String,
    files: BTreeMap<String, Vec<u8>>,
}

/// A commit as the API shows it (`head_commit` of a run, for instance).
#[derive(Clone, Debug)]
pub struct CommitInfo {
    pub sha: String,
    pub tree: String,
    pub message: String,
    pub author_name: String,
    pub author_email: String,
    pub author_date: String,
    pub committer_name: String,
    pub committer_email: String,
    pub committer_date: String,
}

/// What a path names at some commit.
#[derive(Clone, Debug)]
pub enum Entry {
    File { sha: String, content: Vec<u8> },
    Dir(Vec<DirEntry>),
}

#[derive(Clone, Debug)]
pub struct DirEntry {
    pub name: String,
    pub path: String,
    /// "file", "dir", "symlink" or "submodule", as the contents API names them.
    pub kind: &'static str,
    pub sha: String,
    pub size: u64,
}

/// Why a ref could not be changed, in GitHub's words.
#[derive(Debug)]
pub enum RefError {
    AlreadyExists,
    NoSuchObject,
    NoSuchRef,
    NotFastForward,
    Git(String),
}

impl RefError {
    pub fn message(&self) -> String {
        match self {
            RefError::AlreadyExists => "Reference already exists".into(),
            RefError::NoSuchObject => "Object does not exist".into(),
            RefError::NoSuchRef => "Reference does not exist".into(),
            RefError::NotFastForward => "Update is not a fast forward".into(),
            RefError::Git(e) => format!("git failed: {e}"),
        }
    }
}

impl Storage {
    /// A repository with one commit (a README) on `branch`, like a repository created on GitHub
    /// with "Add a README file".
    pub fn new_memory(name: &str, branch: &str, timestamp: &str) -> Storage {
        let mut repo = MemoryRepo::default();
        repo.commit(
            branch,
            "README.md",
            format!("# {name}\n").into_bytes(),
            "Initial commit",
            timestamp,
        );
        Storage::Memory(repo)
    }

    /// The commit a branch, tag, full ref or sha names.
    pub fn resolve(&self, rev: &str) -> Option<String> {
        match self {
            Storage::Memory(m) => {
                if m.commits.contains_key(rev) {
                    return Some(rev.to_string());
                }
                let candidates = [
                    rev.to_string(),
                    format!("refs/heads/{rev}"),
                    format!("refs/tags/{rev}"),
                ];
                candidates.iter().find_map(|r| m.refs.get(r).cloned())
            }
            Storage::Git(path) => {
                if rev.starts_with('-') {
                    return None;
                }
                let candidates = if rev.starts_with("refs/") {
                    vec![rev.to_string()]
                } else {
                    vec![
                        format!("refs/heads/{rev}"),
                        format!("refs/tags/{rev}"),
                        rev.to_string(),
                    ]
                };
                candidates.iter().find_map(|r| {
                    git(
                        path,
                        &[
                            "rev-parse",
                            "--verify",
                            "--quiet",
                            &format!("{r}^{{commit}}"),
                        ],
                    )
                    .ok()
                    .map(|s| s.trim().to_string())
                })
            }
        }
    }

    /// The sha a full ref points to (not peeled), if it exists.
    pub fn ref_target(&self, full_ref: &str) -> Option<String> {
        self.refs()
            .into_iter()
            .find(|(r, _)| r == full_ref)
            .map(|(_, sha)| sha)
    }

    /// Every ref under refs/heads and refs/tags, sorted by name.
    pub fn refs(&self) -> Vec<(String, String)> {
        match self {
            Storage::Memory(m) => m.refs.iter().map(|(r, s)| (r.clone(), s.clone())).collect(),
            Storage::Git(path) => git(
                path,
                &[
                    "for-each-ref",
                    "--format=%(refname) %(objectname)",
                    "refs/heads",
                    "refs/tags",
                ],
            )
            .unwrap_or_default()
            .lines()
            .filter_map(|l| {
                l.split_once(' ')
                    .map(|(r, s)| (r.to_string(), s.to_string()))
            })
            .collect(),
        }
    }

    pub fn create_ref(&mut self, full_ref: &str, sha: &str) -> Result<(), RefError> {
        if self.ref_target(full_ref).is_some() {
            return Err(RefError::AlreadyExists);
        }
        if !self.has_commit(sha) {
            return Err(RefError::NoSuchObject);
        }
        self.write_ref(full_ref, sha)
    }

    pub fn update_ref(&mut self, full_ref: &str, sha: &str, force: bool) -> Result<(), RefError> {
        let Some(old) = self.ref_target(full_ref) else {
            return Err(RefError::NoSuchRef);
        };
        if !self.has_commit(sha) {
            return Err(RefError::NoSuchObject);
        }
        if !force && old != sha && !self.is_ancestor(&old, sha) {
            return Err(RefError::NotFastForward);
        }
        self.write_ref(full_ref, sha)
    }

    pub fn delete_ref(&mut self, full_ref: &str) -> Result<(), RefError> {
        if self.ref_target(full_ref).is_none() {
            return Err(RefError::NoSuchRef);
        }
        match self {
            Storage::Memory(m) => {
                m.refs.remove(full_ref);
                Ok(())
            }
            Storage::Git(path) => git(path, &["update-ref", "-d", full_ref])
                .map(|_| ())
                .map_err(RefError::Git),
        }
    }

    fn write_ref(&mut self, full_ref: &str, sha: &str) -> Result<(), RefError> {
        match self {
            Storage::Memory(m) => {
                m.refs.insert(full_ref.to_string(), sha.to_string());
                Ok(())
            }
            Storage::Git(path) => git(path, &["update-ref", full_ref, sha])
                .map(|_| ())
                .map_err(RefError::Git),
        }
    }

    pub fn has_commit(&self, sha: &str) -> bool {
        match self {
            Storage::Memory(m) => m.commits.contains_key(sha),
            Storage::Git(path) => {
                sha.len() >= 4
                    && sha.chars().all(|c| c.is_ascii_hexdigit())
                    && git(path, &["cat-file", "-e", &format!("{sha}^{{commit}}")]).is_ok()
            }
        }
    }

    /// Whether `ancestor` is reachable from `descendant` (or equal to it).
    pub fn is_ancestor(&self, ancestor: &str, descendant: &str) -> bool {
        match self {
            Storage::Memory(m) => {
                let mut at = Some(descendant.to_string());
                while let Some(sha) = at {
                    if sha == ancestor {
                        return true;
                    }
                    at = m.commits.get(&sha).and_then(|c| c.parent.clone());
                }
                false
            }
            Storage::Git(path) => {
                git(path, &["merge-base", "--is-ancestor", ancestor, descendant]).is_ok()
            }
        }
    }

    pub fn commit_info(&self, sha: &str) -> Option<CommitInfo> {
        match self {
            Storage::Memory(m) => m.commits.get(sha).map(|c| CommitInfo {
                sha: sha.to_string(),
                tree: c.tree.clone(),
                message: c.message.clone(),
                author_name: "Test Author".into(),
                author_email: "author@example.com".into(),
                author_date: c.timestamp.clone(),
                committer_name: "Test Author".into(),
                committer_email: "author@example.com".into(),
                committer_date: c.timestamp.clone(),
            }),
            Storage::Git(path) => {
                let out = git(
                    path,
                    &[
                        "log",
                        "-1",
                        "--format=%T%x00%an%x00%ae%x00%aI%x00%cn%x00%ce%x00%cI%x00%B",
                        sha,
                    ],
                )
                .ok()?;
                let f: Vec<&str> = out.splitn(8, '\0').collect();
                if f.len() < 8 {
                    return None;
                }
                Some(CommitInfo {
                    sha: sha.to_string(),
                    tree: f[0].to_string(),
                    author_name: f[1].to_string(),
                    author_email: f[2].to_string(),
                    author_date: utc(f[3]),
                    committer_name: f[4].to_string(),
                    committer_email: f[5].to_string(),
                    committer_date: utc(f[6]),
                    message: f[7].trim_end().to_string(),
                })
            }
        }
    }

    /// The file or directory at `path` ("" for the root) in commit `sha`.
    pub fn read(&self, sha: &str, path: &str) -> Option<Entry> {
        let path = path.trim_matches('/');
        match self {
            Storage::Memory(m) => {
                let files = &m.commits.get(sha)?.files;
                if let Some(content) = files.get(path) {
                    return Some(Entry::File {
                        sha: blob_sha(content),
                        content: content.clone(),
                    });
                }
                let prefix = if path.is_empty() {
                    String::new()
                } else {
                    format!("{path}/")
                };
                let mut entries: BTreeMap<String, DirEntry> = BTreeMap::new();
                for (file, content) in files.range(prefix.clone()..) {
                    let Some(rest) = file.strip_prefix(&prefix) else {
                        break;
                    };
                    let (name, is_dir) = match rest.split_once('/') {
                        Some((dir, _)) => (dir, true),
                        None => (rest, false),
                    };
                    entries.entry(name.to_string()).or_insert_with(|| DirEntry {
                        name: name.to_string(),
                        path: format!("{prefix}{name}"),
                        kind: if is_dir { "dir" } else { "file" },
                        sha: if is_dir {
                            digest(&format!("tree {prefix}{name} {sha}"))
                        } else {
                            blob_sha(content)
                        },
                        size: if is_dir { 0 } else { content.len() as u64 },
                    });
                }
                (!entries.is_empty()).then(|| Entry::Dir(entries.into_values().collect()))
            }
            Storage::Git(repo) => {
                let spec = format!("{sha}:{path}");
                let kind = git(repo, &["cat-file", "-t", &spec]).ok()?;
                match kind.trim() {
                    "blob" => {
                        let blob = git(repo, &["rev-parse", &spec]).ok()?.trim().to_string();
                        let content = git_bytes(repo, &["cat-file", "blob", &blob]).ok()?;
                        Some(Entry::File { sha: blob, content })
                    }
                    "tree" => {
                        let listing = git(repo, &["ls-tree", "-l", "-z", &spec]).ok()?;
                        let prefix = if path.is_empty() {
                            String::new()
                        } else {
                            format!("{path}/")
                        };
                        let entries = listing
                            .split('\0')
                            .filter(|l| !l.is_empty())
                            .filter_map(|line| {
                                let (meta, name) = line.split_once('\t')?;
                                let parts: Vec<&str> = meta.split_whitespace().collect();
                                let [mode, kind, sha, size] = parts[..] else {
                                    return None;
                                };
                                let kind = match (kind, mode) {
                                    ("tree", _) => "dir",
                                    ("commit", _) => "submodule",
                                    (_, "120000") => "symlink",
                                    _ => "file",
                                };
                                Some(DirEntry {
                                    name: name.to_string(),
                                    path: format!("{prefix}{name}"),
                                    kind,
                                    sha: sha.to_string(),
                                    size: size.parse().unwrap_or(0),
                                })
                            })
                            .collect();
                        Some(Entry::Dir(entries))
                    }
                    _ => None,
                }
            }
        }
    }

    /// The file content at `path` on `rev`, if it is a file.
    pub fn read_file(&self, rev: &str, path: &str) -> Option<Vec<u8>> {
        let sha = self.resolve(rev)?;
        match self.read(&sha, path)? {
            Entry::File { content, .. } => Some(content),
            Entry::Dir(_) => None,
        }
    }

    /// The branch HEAD of a bare repository names, if any.
    pub fn head_branch(&self) -> Option<String> {
        match self {
            Storage::Memory(_) => None,
            Storage::Git(path) => git(path, &["symbolic-ref", "--short", "HEAD"])
                .ok()
                .map(|s| s.trim().to_string()),
        }
    }

    /// Memory repositories: commits one file on `branch` (created from `from` when missing) and
    /// returns the new commit. Not available for repositories backed by git.
    pub fn commit_file(
        &mut self,
        branch: &str,
        from: &str,
        path: &str,
        content: Vec<u8>,
        timestamp: &str,
    ) -> String {
        let Storage::Memory(m) = self else {
            panic!("this repository is backed by git: commit with git instead");
        };
        let full = format!("refs/heads/{branch}");
        if !m.refs.contains_key(&full) {
            let base = m.refs.get(&format!("refs/heads/{from}")).cloned();
            if let Some(base) = base {
                m.refs.insert(full, base);
            }
        }
        m.commit(branch, path, content, &format!("Update {path}"), timestamp)
    }

    /// Memory repositories: creates `branch` at the commit `from` names.
    pub fn create_branch(&mut self, branch: &str, from: &str) -> Option<String> {
        let sha = self.resolve(from)?;
        let Storage::Memory(m) = self else {
            panic!("this repository is backed by git: create branches with git instead");
        };
        m.refs.insert(format!("refs/heads/{branch}"), sha.clone());
        Some(sha)
    }
}

impl MemoryRepo {
    fn commit(
        &mut self,
        branch: &str,
        path: &str,
        content: Vec<u8>,
        message: &str,
        timestamp: &str,
    ) -> String {
        let full = format!("refs/heads/{branch}");
        let parent = self.refs.get(&full).cloned();
        let mut files = parent
            .as_ref()
            .and_then(|p| self.commits.get(p))
            .map(|c| c.files.clone())
            .unwrap_or_default();
        files.insert(path.trim_matches('/').to_string(), content);
        self.counter += 1;
        let tree_text: String = files
            .iter()
            .map(|(p, c)| format!("{p} {}\n", blob_sha(c)))
            .collect();
        let tree = digest(&format!("tree {tree_text}"));
        let sha = digest(&format!(
            "commit {tree} {parent:?} {message} {} {}",
            self.counter, timestamp
        ));
        self.commits.insert(
            sha.clone(),
            MemoryCommit {
                parent,
                tree,
                message: message.to_string(),
                timestamp: timestamp.to_string(),
                files,
            },
        );
        self.refs.insert(full, sha.clone());
        sha
    }
}

/// A 40-hex-digit id, shaped like a git object id.
fn digest(text: &str) -> String {
    let hash = Sha256::digest(text.as_bytes());
    hash.iter().take(20).map(|b| format!("{b:02x}")).collect()
}

fn blob_sha(content: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"blob ");
    hasher.update(content);
    hasher
        .finalize()
        .iter()
        .take(20)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// git prints dates with the committer's offset; the API shows UTC with a Z.
fn utc(date: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(date)
        .map(|d| {
            d.with_timezone(&chrono::Utc)
                .format("%Y-%m-%dT%H:%M:%SZ")
                .to_string()
        })
        .unwrap_or_else(|_| date.to_string())
}

fn git(repo: &Path, args: &[&str]) -> Result<String, String> {
    git_bytes(repo, args).map(|b| String::from_utf8_lossy(&b).into_owned())
}

/// Runs git on a bare repository with a clean environment: nothing from the test process's git
/// environment or the user's config leaks in.
fn git_bytes(repo: &Path, args: &[&str]) -> Result<Vec<u8>, String> {
    let mut cmd = Command::new("git");
    cmd.arg("-C").arg(repo).args(args);
    for var in [
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_INDEX_FILE",
        "GIT_OBJECT_DIRECTORY",
        "GIT_ALTERNATE_OBJECT_DIRECTORIES",
        "GIT_NAMESPACE",
        "GIT_CEILING_DIRECTORIES",
        "GIT_COMMON_DIR",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("LC_ALL", "C")
        .stdin(Stdio::null());
    let out = cmd
        .output()
        .map_err(|e| format!("could not run git: {e}"))?;
    if out.status.success() {
        Ok(out.stdout)
    } else {
        Err(format!(
            "git {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}
