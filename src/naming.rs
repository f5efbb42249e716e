//! Branch names and slugs (DESIGN.md §3 "Branch names").
//!
//! A branch is `oneshot-{slug}-{MM-DD-HHMM}` before a plan issue exists and
//! `P{N}-{slug}-{MM-DD-HHMM}` once issue N holds the plan. Everything here is a pure function of
//! its inputs (the clock comes in as an argument), so a dry run and a real run compute the same
//! name.

#![allow(
    dead_code,
    reason = "dispatch, prepare and the plan steps call these as they land"
)]

use chrono::{DateTime, Utc};

use crate::config::{Environment, env_vars};
use crate::error::{Error, Result};

/// The prefix plus the slug is cut to this many characters, so that a name stays readable in
/// GitHub's branch list and in `git branch` output.
pub const MAX_PREFIX_AND_SLUG: usize = 31;

/// The slug used when the text has no letter or digit at all.
pub const EMPTY_SLUG: &str = "work";

/// How many `-N` suffixes [`unique_branch_name`] tries before it gives up searching.
pub const MAX_SUFFIX: u32 = 9999;

/// Which of the two branch name forms to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BranchKind {
    /// No plan issue yet: `oneshot-…`.
    OneShot,
    /// The plan is saved as issue N: `P{N}-…`.
    Plan(u64),
}

impl BranchKind {
    fn prefix(self) -> String {
        match self {
            BranchKind::OneShot => "oneshot-".to_string(),
            BranchKind::Plan(n) => format!("P{n}-"),
        }
    }
}

/// Turns any text into a slug: lower case, every run of characters outside `[a-z0-9]` becomes
/// one `-`, no `-` at either end, and `work` when nothing is left. The result is ASCII.
///
/// Lower-casing comes first, so `Ä` becomes `ä`, which is outside `[a-z0-9]` and ends up as `-`.
pub fn slug(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    // Whether a separator is pending: emitted only before the next kept character, so runs
    // collapse to one `-` and nothing trails.
    let mut gap = false;
    for c in text.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            if gap && !out.is_empty() {
                out.push('-');
            }
            gap = false;
            out.push(c);
        } else {
            gap = true;
        }
    }
    if out.is_empty() {
        out.push_str(EMPTY_SLUG);
    }
    out
}

/// The branch name for `kind`, made from `slug_source` (the prompt, or a `--slug` given by the
/// user: both go through [`slug`]) and the time `now` (in UTC).
pub fn branch_name(kind: BranchKind, slug_source: &str, now: DateTime<Utc>) -> String {
    let mut name = kind.prefix();
    name.push_str(&slug(slug_source));
    // After `slug` every character is ASCII, so a byte index is a character index. The longest
    // prefix (`P` + 20 digits + `-`) is 22 characters, so the cut never reaches into it and at
    // least one slug character (never a `-`) survives.
    name.truncate(MAX_PREFIX_AND_SLUG);
    while name.ends_with('-') {
        name.pop();
    }
    name.push('-');
    name.push_str(&now.format("%m-%d-%H%M").to_string());
    name
}

/// `base` if no branch of that name exists, else the first free `base-2`, `base-3`, … .
///
/// `exists` says whether a name is taken (on the remote); pass the same predicate in a dry run
/// and a real run to get the same answer. The search stops after `base-{MAX_SUFFIX}`: a
/// predicate that claims all of those exist gets `base-{MAX_SUFFIX + 1}` unchecked. That cannot
/// overwrite anything, because oneshot never force-pushes: the push would be rejected.
pub fn unique_branch_name(base: &str, mut exists: impl FnMut(&str) -> bool) -> String {
    if !exists(base) {
        return base.to_string();
    }
    (2..=MAX_SUFFIX)
        .map(|n| format!("{base}-{n}"))
        .find(|name| !exists(name))
        .unwrap_or_else(|| format!("{base}-{}", MAX_SUFFIX + 1))
}

/// The current time, or the time pinned by `ONESHOT_NOW` (RFC 3339) for tests and reproducible
/// dry runs.
pub fn now(env: &Environment) -> Result<DateTime<Utc>> {
    let name = env_vars::NOW.name;
    if env.not_unicode.contains(&name) {
        return Err(
            Error::config(format!("{name} is not valid UTF-8")).hint(format!(
                "set {name} to a time such as 2024-01-15T14:30:00Z, or unset it"
            )),
        );
    }
    match env.now.as_deref() {
        None => Ok(Utc::now()),
        Some(raw) => DateTime::parse_from_rfc3339(raw.trim())
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| {
                Error::config(format!("{name} is not an RFC 3339 time: {raw:?}"))
                    .cause(e)
                    .hint(format!(
                        "use the form 2024-01-15T14:30:00Z (or with an offset, \
                         2024-01-15T15:30:00+01:00), or unset {name} to use the current time"
                    ))
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    fn t0() -> DateTime<Utc> {
        at(2024, 1, 15, 14, 30)
    }

    #[test]
    fn slug_rules() {
        let cases: &[(&str, &str)] = &[
            ("Add a --verbose flag", "add-a-verbose-flag"),
            ("fix_bug #42", "fix-bug-42"),
            ("  leading and trailing  ", "leading-and-trailing"),
            ("---", "work"),
            ("!!! ??? ...", "work"),
            ("", "work"),
            ("   ", "work"),
            ("already-a-slug", "already-a-slug"),
            ("a--b", "a-b"),
            ("UPPER lower 123", "upper-lower-123"),
            // Lower-cased non-ASCII letters are still outside [a-z0-9].
            ("Übersetzung ändern", "bersetzung-ndern"),
            ("Äöü", "work"),
            ("日本語のテスト", "work"),
            ("emoji 🚀 launch", "emoji-launch"),
            ("café au lait", "caf-au-lait"),
            // `İ` lower-cases to `i` plus a combining dot: the `i` is kept.
            ("İstanbul", "i-stanbul"),
            // Kelvin sign lower-cases to ASCII `k`.
            ("\u{212A}elvin", "kelvin"),
            ("tab\tnew\nline", "tab-new-line"),
            ("x", "x"),
            ("0", "0"),
        ];
        for (input, want) in cases {
            assert_eq!(slug(input), *want, "slug({input:?})");
        }
    }

    #[test]
    fn branch_name_rules() {
        let long = "implement the whole thing in one go please";
        let cases: Vec<(BranchKind, &str, DateTime<Utc>, &str)> = vec![
            (
                BranchKind::OneShot,
                "Add a --verbose flag",
                t0(),
                "oneshot-add-a-verbose-flag-01-15-1430",
            ),
            (
                BranchKind::Plan(42),
                "Add a --verbose flag",
                t0(),
                "P42-add-a-verbose-flag-01-15-1430",
            ),
            (BranchKind::OneShot, "", t0(), "oneshot-work-01-15-1430"),
            (BranchKind::OneShot, "???", t0(), "oneshot-work-01-15-1430"),
            (BranchKind::Plan(7), "日本語", t0(), "P7-work-01-15-1430"),
            // Cut to 31 characters: "oneshot-" (8) + 23 slug characters.
            (
                BranchKind::OneShot,
                long,
                t0(),
                "oneshot-implement-the-whole-thi-01-15-1430",
            ),
            // Exactly 31 characters: kept whole.
            (
                BranchKind::OneShot,
                "abcdefghijklmnopqrstuvw",
                t0(),
                "oneshot-abcdefghijklmnopqrstuvw-01-15-1430",
            ),
            // 32 characters: the last one goes.
            (
                BranchKind::OneShot,
                "abcdefghijklmnopqrstuvwx",
                t0(),
                "oneshot-abcdefghijklmnopqrstuvw-01-15-1430",
            ),
            // The cut ends on `-`: it is removed.
            (
                BranchKind::OneShot,
                "abcdefghijklmnopqrstuv wxyz",
                t0(),
                "oneshot-abcdefghijklmnopqrstuv-01-15-1430",
            ),
            // The cut ends on `-` after the number prefix.
            (
                BranchKind::Plan(1),
                "abcdefghijklmnopqrstuvwxyza b",
                t0(),
                "P1-abcdefghijklmnopqrstuvwxyza-01-15-1430",
            ),
            // Many digits leave less room for the slug.
            (
                BranchKind::Plan(123_456_789),
                long,
                t0(),
                "P123456789-implement-the-whole-01-15-1430",
            ),
            (
                BranchKind::Plan(u64::MAX),
                long,
                t0(),
                "P18446744073709551615-implement-01-15-1430",
            ),
            (
                BranchKind::Plan(u64::MAX),
                "a b c d e f g h i",
                t0(),
                "P18446744073709551615-a-b-c-d-e-01-15-1430",
            ),
            (BranchKind::Plan(0), "x", t0(), "P0-x-01-15-1430"),
            // Midnight and the turn of the year, zero-padded, in UTC.
            (
                BranchKind::OneShot,
                "x",
                at(2024, 1, 1, 0, 0),
                "oneshot-x-01-01-0000",
            ),
            (
                BranchKind::OneShot,
                "x",
                at(2023, 12, 31, 23, 59),
                "oneshot-x-12-31-2359",
            ),
            (
                BranchKind::OneShot,
                "x",
                at(2024, 2, 29, 9, 5),
                "oneshot-x-02-29-0905",
            ),
        ];
        for (kind, source, now, want) in cases {
            let got = branch_name(kind, source, now);
            assert_eq!(got, want, "branch_name({kind:?}, {source:?}, {now})");
        }
    }

    #[test]
    fn branch_name_uses_utc() {
        let local = DateTime::parse_from_rfc3339("2024-01-01T00:30:00+02:00").unwrap();
        let name = branch_name(BranchKind::OneShot, "x", local.with_timezone(&Utc));
        assert_eq!(name, "oneshot-x-12-31-2230");
    }

    #[test]
    fn user_slug_goes_through_the_same_rules() {
        assert_eq!(
            branch_name(BranchKind::OneShot, "My Custom_Slug!", t0()),
            "oneshot-my-custom-slug-01-15-1430"
        );
    }

    #[test]
    fn unique_name_appends_the_first_free_number() {
        let base = "oneshot-x-01-15-1430";
        assert_eq!(unique_branch_name(base, |_| false), base);

        let taken = [base.to_string(), format!("{base}-2"), format!("{base}-3")];
        let exists = |n: &str| taken.iter().any(|t| t == n);
        assert_eq!(unique_branch_name(base, exists), format!("{base}-4"));

        // A gap is reused only if that name is free: `-2` is free here.
        let taken = [base.to_string(), format!("{base}-3")];
        let exists = |n: &str| taken.iter().any(|t| t == n);
        assert_eq!(unique_branch_name(base, exists), format!("{base}-2"));

        // Only the exact name counts, not a branch that merely starts with it.
        let taken = [format!("{base}-2")];
        let exists = |n: &str| taken.iter().any(|t| t == n);
        assert_eq!(unique_branch_name(base, exists), base);
    }

    #[test]
    fn unique_name_search_is_bounded() {
        let mut calls = 0u32;
        let name = unique_branch_name("b", |_| {
            calls += 1;
            true
        });
        assert_eq!(name, format!("b-{}", MAX_SUFFIX + 1));
        assert_eq!(calls, MAX_SUFFIX);
    }

    #[test]
    fn now_is_pinned_by_the_environment() {
        let env = Environment {
            now: Some("2024-01-15T14:30:00Z".into()),
            ..Default::default()
        };
        assert_eq!(now(&env).unwrap(), t0());

        let env = Environment {
            now: Some("2024-01-15T16:30:00+02:00".into()),
            ..Default::default()
        };
        assert_eq!(now(&env).unwrap(), t0());

        let before = Utc::now();
        let got = now(&Environment::default()).unwrap();
        assert!(got >= before && got <= Utc::now());
    }

    #[test]
    fn invalid_now_is_a_config_error_naming_the_variable() {
        for raw in [
            "yesterday",
            "2024-01-15",
            "2024-01-15 14:30",
            "2024-13-01T00:00:00Z",
        ] {
            let env = Environment {
                now: Some(raw.into()),
                ..Default::default()
            };
            let err = now(&env).unwrap_err();
            assert_eq!(err.kind, crate::error::ErrorKind::Config);
            assert!(err.message.contains("ONESHOT_NOW"), "{}", err.render());
            assert!(err.message.contains(raw), "{}", err.render());
            assert!(
                err.render().contains("2024-01-15T14:30:00Z"),
                "{}",
                err.render()
            );
        }
        let env = Environment {
            not_unicode: vec!["ONESHOT_NOW"],
            ..Default::default()
        };
        assert!(now(&env).unwrap_err().message.contains("ONESHOT_NOW"));
    }

    /// `git check-ref-format` rules that a name made of `[A-Za-z0-9-]` could break.
    fn is_valid_git_branch(name: &str) -> bool {
        !name.is_empty()
            && !name.starts_with('-')
            && !name.starts_with('.')
            && !name.ends_with('.')
            && !name.ends_with('/')
            && !name.ends_with(".lock")
            && !name.contains("..")
            && !name.contains("@{")
            && name != "@"
            && !name
                .chars()
                .any(|c| c.is_control() || " ~^:?*[\\".contains(c))
    }

    /// The slug part of a branch name and the rest, checked against the rules of DESIGN.md.
    fn check_branch_name(name: &str, kind: BranchKind, now: DateTime<Utc>) {
        let stamp = now.format("-%m-%d-%H%M").to_string();
        let head = name
            .strip_suffix(&stamp)
            .unwrap_or_else(|| panic!("{name} lacks {stamp}"));
        let prefix = kind.prefix();
        let slug_part = head
            .strip_prefix(&prefix)
            .unwrap_or_else(|| panic!("{name} lacks {prefix}"));
        assert!(
            head.chars().count() <= MAX_PREFIX_AND_SLUG,
            "{name}: prefix+slug too long"
        );
        assert!(!slug_part.is_empty(), "{name}: empty slug");
        assert!(
            slug_part
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
            "{name}: slug outside [a-z0-9-]"
        );
        assert!(
            !slug_part.starts_with('-') && !slug_part.ends_with('-'),
            "{name}: slug edge"
        );
        assert!(!slug_part.contains("--"), "{name}: `--` in slug");
        assert!(is_valid_git_branch(name), "{name}: not a valid branch name");
    }

    fn any_kind() -> impl Strategy<Value = BranchKind> {
        prop_oneof![
            Just(BranchKind::OneShot),
            any::<u64>().prop_map(BranchKind::Plan)
        ]
    }

    fn any_time() -> impl Strategy<Value = DateTime<Utc>> {
        // 1970 to 2200.
        (0i64..7_258_118_400).prop_map(|s| DateTime::from_timestamp(s, 0).unwrap())
    }

    proptest! {
        #[test]
        fn slug_is_clean_and_idempotent(text in any::<String>()) {
            let s = slug(&text);
            prop_assert!(!s.is_empty());
            let allowed = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-';
            prop_assert!(s.bytes().all(allowed));
            prop_assert!(!s.starts_with('-') && !s.ends_with('-') && !s.contains("--"));
            prop_assert_eq!(slug(&s), s);
        }

        #[test]
        fn branch_name_follows_the_rules(
            kind in any_kind(),
            text in any::<String>(),
            now in any_time(),
        ) {
            check_branch_name(&branch_name(kind, &text, now), kind, now);
        }

        #[test]
        fn branch_name_from_wordy_text(
            kind in any_kind(),
            text in "[ a-zA-Z0-9_.,!?-]{0,80}",
            now in any_time(),
        ) {
            check_branch_name(&branch_name(kind, &text, now), kind, now);
        }

        #[test]
        fn unique_name_is_never_taken(taken in proptest::collection::btree_set(0u32..12, 0..12)) {
            // Names taken: the base (0) and base-N for the other numbers.
            let base = "oneshot-x-01-15-1430";
            let names: Vec<String> = taken
                .iter()
                .map(|n| if *n == 0 { base.to_string() } else { format!("{base}-{n}") })
                .collect();
            let got = unique_branch_name(base, |n| names.iter().any(|t| t == n));
            prop_assert!(!names.contains(&got));
            let numbered = format!("{base}-");
            prop_assert!(got == base || got.starts_with(&numbered));
        }
    }

    /// The hand-written validity check agrees with git itself on a spread of generated names.
    #[test]
    fn git_accepts_generated_names() {
        let names = [
            branch_name(BranchKind::OneShot, "Add a --verbose flag", t0()),
            branch_name(BranchKind::Plan(u64::MAX), "x.lock", t0()),
            branch_name(BranchKind::OneShot, "..@{}~^:?*[\\ .lock", t0()),
            branch_name(BranchKind::Plan(3), "日本語", at(2024, 1, 1, 0, 0)),
            unique_branch_name(&branch_name(BranchKind::OneShot, "a", t0()), |n| {
                !n.ends_with("-3")
            }),
        ];
        for name in names {
            assert!(is_valid_git_branch(&name), "{name}");
            let status = std::process::Command::new("git")
                .args(["check-ref-format", "--branch", &name])
                .stdout(std::process::Stdio::null())
                .status()
                .expect("git runs");
            assert!(status.success(), "git rejects {name}");
        }
    }
}
