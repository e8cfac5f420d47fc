//! Which backend a user goes to when nothing pins her yet: consistent
//! hashing of the user name over the backends that are up, each backend
//! holding as many points on the ring as its weight (Dovecot's "vhost
//! count"). A backend added, removed or reweighted moves only the users
//! whose points it takes or gives up; the assignments kept in the shared
//! state (`assign.rs`) keep even those where they are until they expire.

use xxhash_rust::xxh3::xxh3_64;

/// A backend as the ring sees it: its address and its weight (0 takes no
/// new user).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member<'a> {
    pub address: &'a str,
    pub weight: u32,
}

/// The ring: points sorted by hash, each naming the member it belongs to.
#[derive(Debug, Clone, Default)]
pub struct Ring {
    points: Vec<(u64, usize)>,
    addresses: Vec<String>,
}

impl Ring {
    pub fn new<'a>(members: impl IntoIterator<Item = Member<'a>>) -> Ring {
        let mut ring = Ring::default();
        for member in members {
            let index = ring.addresses.len();
            ring.addresses.push(member.address.to_string());
            for n in 0..member.weight {
                let point = xxh3_64(format!("{}-{n}", member.address).as_bytes());
                ring.points.push((point, index));
            }
        }
        // Ties (two points with the same hash) go to the first address, on
        // every director alike.
        ring.points.sort_unstable();
        ring
    }

    /// Whether no backend takes new users.
    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// The backend for `user` (case-insensitive, as logins are): the owner
    /// of the first point at or after the user's hash, wrapping around.
    /// `None` when no member has a weight.
    pub fn pick(&self, user: &str) -> Option<&str> {
        if self.points.is_empty() {
            return None;
        }
        let hash = xxh3_64(user.to_lowercase().as_bytes());
        let at = self.points.partition_point(|(point, _)| *point < hash);
        let (_, index) = self.points[at % self.points.len()];
        Some(&self.addresses[index])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(members: &[(&'static str, u32)]) -> Ring {
        Ring::new(members.iter().map(|(address, weight)| Member {
            address,
            weight: *weight,
        }))
    }

    fn users() -> impl Iterator<Item = String> {
        (0..3000).map(|n| format!("student{n}@univ.example"))
    }

    #[test]
    fn users_spread_over_the_backends_by_weight() {
        let ring = ring(&[("10.0.0.2", 100), ("10.0.0.3", 100), ("10.0.0.4", 200)]);
        let mut counts = std::collections::HashMap::new();
        for user in users() {
            *counts
                .entry(ring.pick(&user).unwrap().to_string())
                .or_insert(0) += 1;
        }
        let share = |a: &str| f64::from(counts[a]) / 3000.0;
        assert!((share("10.0.0.4") - 0.5).abs() < 0.08, "{counts:?}");
        assert!((share("10.0.0.2") - 0.25).abs() < 0.08, "{counts:?}");
        assert!((share("10.0.0.3") - 0.25).abs() < 0.08, "{counts:?}");
    }

    #[test]
    fn a_backend_taken_out_moves_only_its_own_users() {
        let three = ring(&[("10.0.0.2", 100), ("10.0.0.3", 100), ("10.0.0.4", 100)]);
        let two = ring(&[("10.0.0.2", 100), ("10.0.0.4", 100)]);
        for user in users() {
            let before = three.pick(&user).unwrap();
            if before != "10.0.0.3" {
                assert_eq!(two.pick(&user), Some(before), "{user} moved");
            }
        }
    }

    #[test]
    fn the_same_user_goes_to_the_same_backend_whatever_her_case_and_the_order_of_the_list() {
        let a = ring(&[("10.0.0.2", 100), ("10.0.0.3", 100)]);
        let b = ring(&[("10.0.0.3", 100), ("10.0.0.2", 100)]);
        for user in users() {
            assert_eq!(a.pick(&user), b.pick(&user.to_uppercase()));
        }
    }

    #[test]
    fn no_backend_with_a_weight_means_no_answer() {
        assert_eq!(Ring::default().pick("alice"), None);
        assert_eq!(ring(&[("10.0.0.2", 0)]).pick("alice"), None);
    }
}
