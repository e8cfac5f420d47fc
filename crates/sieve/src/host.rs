//! What a run asks of the world, through the [`Host`] trait: the time,
//! mailboxes, the duplicate tracking store, included scripts, environment
//! items, spam and virus verdicts. The interpreter itself does no I/O.

use std::sync::Arc;

use crate::date::Zoned;
use crate::program::Location;
use crate::script::Script;

/// The delivery's side of a run. Every method has a default that answers
/// "nothing known", so a host implements only what it has.
pub trait Host {
    /// Now, in the host's zone (`currentdate`, and the zone `date` converts
    /// to by default). Default: the system clock, UTC.
    fn now(&self) -> Zoned {
        let unix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        Zoned {
            unix,
            offset_minutes: 0,
        }
    }

    /// Whether the user's mailbox exists (`mailboxexists`, RFC 5490 §3.1).
    fn mailbox_exists(&self, _mailbox: &str) -> bool {
        false
    }

    /// Whether the duplicate tracking store holds `id` under `handle`,
    /// unexpired (RFC 7352). The run only asks; what to record is in
    /// [`Outcome::duplicates`](crate::Outcome::duplicates), for the host to
    /// store once the actions are carried out.
    fn duplicate_seen(&self, _handle: &str, _id: &str) -> bool {
        false
    }

    /// The compiled script `include` names (RFC 6609): `Ok(None)` when
    /// there is no such script, `Err` when it exists but cannot be used
    /// (does not compile). The host should cache compiled scripts.
    fn include(&self, _location: Location, _name: &str) -> Result<Option<Arc<Script>>, String> {
        Ok(None)
    }

    /// An environment item (RFC 5183 §4: `domain`, `host`, `location`,
    /// `name`, `phase`, `remote-host`, `remote-ip`, `version`).
    /// Default: `name` and `version` of havre, `location` "MDA", `phase` "during".
    fn environment(&self, name: &str) -> Option<String> {
        match name {
            "name" => Some("havre".into()),
            "version" => Some(env!("CARGO_PKG_VERSION").into()),
            "location" => Some("MDA".into()),
            "phase" => Some("during".into()),
            _ => None,
        }
    }

    /// The spam verdict for `spamtest` (RFC 5235 §3.1): 1 (surely not spam)
    /// to 10 (surely spam); None when the message was not tested ("0").
    fn spam_level(&self) -> Option<u8> {
        None
    }

    /// The spam verdict for `spamtest :percent` (RFC 5235 §3.2): 0 to 100;
    /// None when the message was not tested ("0").
    fn spam_percent(&self) -> Option<u8> {
        None
    }

    /// The virus verdict for `virustest` (RFC 5235 §3.3): 1 clean, 2
    /// cleaned, 3 possibly infected, 4 infected, 5 infected and dangerous;
    /// None when not tested ("0").
    fn virus_level(&self) -> Option<u8> {
        None
    }

    /// The separator of `user+detail` for `:user` and `:detail` (RFC 5233).
    fn recipient_delimiter(&self) -> &str {
        "+"
    }
}

/// A host that knows nothing beyond the defaults.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHost;

impl Host for NoHost {}
