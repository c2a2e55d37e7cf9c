//! An AWS account as people know it: its id, the alias they call it by, and the role the app
//! assumes there. Parsing `ACCOUNTS` and building SDK credentials for it is `aws::accounts`.

/// One account. `id` is known when configured (or derived from the role ARN).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct Account {
    pub id: Option<String>,
    pub alias: Option<String>,
    pub role_arn: Option<String>,
    pub external_id: Option<String>,
}

impl Account {
    /// The app's own credentials, no alias.
    pub fn ambient() -> Self {
        Self {
            id: None,
            alias: None,
            role_arn: None,
            external_id: None,
        }
    }

    /// How messages name it: "prod (111122223333)", "111122223333", or "this account".
    pub fn label(&self) -> String {
        match (&self.alias, &self.id) {
            (Some(a), Some(id)) => format!("{a} ({id})"),
            (Some(a), None) => a.clone(),
            (None, Some(id)) => id.clone(),
            (None, None) => "this account".into(),
        }
    }

    /// Whether `account:<word>` names this account (alias or id, case-insensitive).
    pub fn matches(&self, word: &str) -> bool {
        names_account(self.alias.as_deref(), self.id.as_deref(), word)
    }
}

/// Whether `account:<word>` names the account with this alias and id (the alias without regard
/// to case, or the exact id). An organization's account names may hold spaces, which a
/// command word cannot: `account:prod-payments` names "Prod Payments" (spaces, `-` and `_`
/// are the same here). One rule for configured accounts and for activities.
pub fn names_account(alias: Option<&str>, id: Option<&str>, word: &str) -> bool {
    alias.is_some_and(|a| same_name(a, word)) || id == Some(word)
}

fn same_name(a: &str, b: &str) -> bool {
    let norm = |s: &str| {
        s.split(|c: char| c.is_whitespace() || c == '-' || c == '_')
            .filter(|p| !p.is_empty())
            .map(str::to_lowercase)
            .collect::<Vec<_>>()
    };
    a.eq_ignore_ascii_case(b) || norm(a) == norm(b)
}

#[cfg(test)]
mod tests {
    use super::names_account;

    #[test]
    fn names_with_spaces_are_written_with_dashes_or_underscores() {
        for (alias, word, wanted) in [
            ("Prod Payments", "prod-payments", true),
            ("Prod Payments", "PROD_PAYMENTS", true),
            ("Prod  Payments", "prod-payments", true),
            ("prod", "PROD", true),
            ("Prod Payments", "prod", false),
            ("Prod Payments", "prodpayments", false),
        ] {
            assert_eq!(
                names_account(Some(alias), None, word),
                wanted,
                "{alias} / {word}"
            );
        }
        assert!(names_account(None, Some("111122223333"), "111122223333"));
    }
}
