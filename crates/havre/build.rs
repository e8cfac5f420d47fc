//! Puts the git commit of the source into the binary (`havre --version`,
//! the start line of `havre serve`), so an operator can say exactly what
//! runs. Outside a git checkout (a source tarball), `HAVRE_GIT_COMMIT` from
//! the packager is used, or nothing.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=HAVRE_GIT_COMMIT");
    let from_env = std::env::var("HAVRE_GIT_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty());
    let commit = from_env.or_else(|| {
        watch_head();
        git(&["rev-parse", "--short=12", "HEAD"])
    });
    println!(
        "cargo:rustc-env=HAVRE_GIT_COMMIT={}",
        commit.unwrap_or_default()
    );
}

/// The output of `git ARGS` run in this crate's directory, if git is there
/// and says something.
fn git(args: &[&str]) -> Option<String> {
    let dir = std::env::var_os("CARGO_MANIFEST_DIR")?;
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !text.is_empty()).then_some(text)
}

/// Runs this script again when HEAD moves: a commit, a checkout (of a
/// worktree too, whose HEAD is not in the main .git).
fn watch_head() {
    let Some(git_dir) = git(&["rev-parse", "--absolute-git-dir"]).map(PathBuf::from) else {
        return;
    };
    let common = git(&["rev-parse", "--git-common-dir"])
        .map(|d| absolute(&git_dir, &d))
        .unwrap_or_else(|| git_dir.clone());
    let head = git_dir.join("HEAD");
    watch(&head);
    watch(&git_dir.join("logs/HEAD"));
    if let Ok(text) = std::fs::read_to_string(&head)
        && let Some(reference) = text.trim().strip_prefix("ref: ")
    {
        watch(&common.join(reference));
        watch(&common.join("packed-refs"));
    }
}

fn absolute(base: &Path, dir: &str) -> PathBuf {
    let path = Path::new(dir);
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        // `--git-common-dir` may be relative to the current directory,
        // which is the crate's.
        std::env::var_os("CARGO_MANIFEST_DIR")
            .map(|m| PathBuf::from(m).join(path))
            .unwrap_or_else(|| base.join(path))
    }
}

fn watch(path: &Path) {
    if path.exists() {
        println!("cargo:rerun-if-changed={}", path.display());
    }
}
