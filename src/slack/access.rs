//! Who may use the slash command: optional allow-lists of workspaces, channels and users.

use std::collections::HashSet;

/// Empty lists allow everyone; a non-empty list must contain the caller's id.
#[derive(Debug, Clone, Default)]
pub struct AccessPolicy {
    pub teams: HashSet<String>,
    pub channels: HashSet<String>,
    pub users: HashSet<String>,
}

impl AccessPolicy {
    pub fn new(teams: &[String], channels: &[String], users: &[String]) -> Self {
        let set = |ids: &[String]| {
            ids.iter()
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect()
        };
        Self {
            teams: set(teams),
            channels: set(channels),
            users: set(users),
        }
    }

    pub fn allows(&self, team: &str, channel: &str, user: &str) -> bool {
        let ok = |set: &HashSet<String>, id: &str| set.is_empty() || set.contains(id);
        ok(&self.teams, team) && ok(&self.channels, channel) && ok(&self.users, user)
    }

    pub fn is_open(&self) -> bool {
        self.teams.is_empty() && self.channels.is_empty() && self.users.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_lists() {
        let open = AccessPolicy::default();
        assert!(open.allows("T1", "C1", "U1"));
        let p = AccessPolicy::new(&["T1".into()], &[], &["U1".into(), " U2 ".into()]);
        assert!(p.allows("T1", "C9", "U2"));
        assert!(!p.allows("T2", "C9", "U1"), "other workspace");
        assert!(!p.allows("T1", "C9", "U3"), "other user");
    }
}
