//! What `havre --version` says: the release and the git commit it was built
//! from (see build.rs), so "which havre runs here?" has an exact answer.

const COMMIT: &str = env!("HAVRE_GIT_COMMIT");

const WITH_COMMIT: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (git ",
    env!("HAVRE_GIT_COMMIT"),
    ")"
);

/// `0.1.0 (git 1a2b3c4d5e6f)`, or `0.1.0` for a build outside git.
pub const VERSION: &str = if COMMIT.is_empty() {
    env!("CARGO_PKG_VERSION")
} else {
    WITH_COMMIT
};
