//! `havre spam stats`: how many messages the Bayes classifier learned as
//! spam and as ham, globally and per user (what `sa-learn --dump magic`
//! and `rspamc stat` tell), so an admin sees whether users' moves into and
//! out of Junk are being learned.

use std::path::PathBuf;

use havre_store::{BAYES_GLOBAL, BayesTotals};
use serde::Serialize;

use crate::directory_cmd::{address, store};
use crate::output::{self, Report};

#[derive(Serialize)]
struct Learned {
    /// A user's address; none for the global counts.
    owner: Option<String>,
    spam: u64,
    ham: u64,
}

impl Learned {
    fn of(owner: &str, totals: BayesTotals) -> Learned {
        Learned {
            owner: (owner != BAYES_GLOBAL).then(|| owner.to_string()),
            spam: totals.spam,
            ham: totals.ham,
        }
    }
}

#[derive(Serialize)]
#[serde(transparent)]
struct Stats(Vec<Learned>);

impl Report for Stats {
    fn text(&self) -> String {
        let name = |l: &Learned| l.owner.clone().unwrap_or_else(|| "(global)".into());
        let width = self
            .0
            .iter()
            .map(|l| name(l).len())
            .max()
            .unwrap_or(0)
            .max(5);
        let mut out = format!("{:width$}  {:>8}  {:>8}\n", "OWNER", "SPAM", "HAM");
        for l in &self.0 {
            out.push_str(&format!(
                "{:width$}  {:>8}  {:>8}\n",
                name(l),
                l.spam,
                l.ham
            ));
        }
        out
    }
}

/// Every owner that learned something (the global counts first, always
/// shown), or with `user` only that user (zeros if she learned nothing).
pub async fn run(
    explicit: Option<PathBuf>,
    user: Option<String>,
    json: bool,
) -> anyhow::Result<()> {
    let (_config, store) = store(explicit).await?;
    let stats = match user {
        Some(user) => {
            let owner = address(&user)?.key();
            let totals = store.bayes_totals(&owner).await?;
            Stats(vec![Learned::of(&owner, totals)])
        }
        None => {
            let mut owners = store.bayes_owners().await?;
            if !owners.iter().any(|(owner, _)| owner == BAYES_GLOBAL) {
                owners.insert(0, (BAYES_GLOBAL.to_string(), BayesTotals::default()));
            }
            Stats(
                owners
                    .iter()
                    .map(|(owner, totals)| Learned::of(owner, *totals))
                    .collect(),
            )
        }
    };
    output::print(&stats, json)
}
