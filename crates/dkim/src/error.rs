use std::path::PathBuf;

/// What can go wrong with keys and signatures. Messages name the file or the
/// domain, and say what to do when there is something to do.
#[derive(Debug, thiserror::Error)]
pub enum DkimError {
    #[error("{0:?} is not a valid domain name")]
    InvalidDomain(String),
    #[error(
        "{0:?} is not a valid DKIM selector (letters, digits and '-', in dot-separated labels)"
    )]
    InvalidSelector(String),
    #[error(
        "{domain} already has a DKIM key with selector {selector} ({}); choose another \
         selector, or replace it (mail signed with the old key then fails verification)",
        path.display()
    )]
    KeyExists {
        domain: String,
        selector: String,
        path: PathBuf,
    },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {message}", path.display())]
    BadKey { path: PathBuf, message: String },
    #[error("cannot generate the {algorithm} key: {message}")]
    Generate {
        algorithm: crate::Algorithm,
        message: String,
    },
    #[error("cannot read the message to sign: {0}")]
    Read(#[source] std::io::Error),
    #[error("the message has no header to sign (no From: header)")]
    NoFrom,
    #[error("DKIM signing with {domain}/{selector} failed: {message}")]
    Sign {
        domain: String,
        selector: String,
        message: String,
    },
}

impl DkimError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> DkimError {
        let path = path.into();
        move |source| DkimError::Io { path, source }
    }

    pub(crate) fn bad_key(path: impl Into<PathBuf>, message: impl ToString) -> DkimError {
        DkimError::BadKey {
            path: path.into(),
            message: message.to_string(),
        }
    }
}
