//! The AWS accounts written in the configuration: their ids, the aliases people know them by,
//! and the role to assume in each. From `--accounts-file` (TOML or YAML) or `ACCOUNTS` in the
//! environment; `ACCOUNTS=organization` (alone or among entries) adds every active account of
//! the organization (see `aws::organization`). With none, the one account of the app's own
//! credentials.

use std::path::Path;

use serde::Deserialize;

pub use crate::domain::Account;

/// The word in `ACCOUNTS` that asks for every active account of the organization.
pub const ORGANIZATION: &str = "organization";

#[derive(Debug, thiserror::Error)]
pub enum AccountsError {
    #[error("ACCOUNTS: `{0}` is not alias=ROLE_ARN[#EXTERNAL_ID] or alias=ACCOUNT_ID")]
    BadEntry(String),
    #[error("ACCOUNTS: `{0}` is not an IAM role ARN like arn:aws:iam::111122223333:role/Name")]
    BadRoleArn(String),
    #[error("accounts file {path}: {reason}")]
    File { path: String, reason: String },
    #[error("accounts: alias `{0}` is used twice")]
    DuplicateAlias(String),
}

#[derive(Deserialize)]
struct AccountsFile {
    accounts: Vec<Account>,
}

/// Parses `ACCOUNTS`: entries separated by `;` or newlines, each `alias=ROLE_ARN` (optionally
/// `#EXTERNAL_ID`) or `alias=ACCOUNT_ID` (that account through the app's own credentials).
pub fn parse_env(value: &str) -> Result<Vec<Account>, AccountsError> {
    Ok(parse_env_with_organization(value)?.0)
}

/// [`parse_env`], and whether the word `organization` is among the entries.
pub fn parse_env_with_organization(value: &str) -> Result<(Vec<Account>, bool), AccountsError> {
    let entries: Vec<&str> = value
        .split([';', '\n'])
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .collect();
    let organization = entries.iter().any(|e| e.eq_ignore_ascii_case(ORGANIZATION));
    let accounts = entries
        .into_iter()
        .filter(|e| !e.eq_ignore_ascii_case(ORGANIZATION))
        .map(|entry| {
            let (alias, target) = entry
                .split_once('=')
                .ok_or_else(|| AccountsError::BadEntry(entry.to_owned()))?;
            let (target, external_id) = match target.split_once('#') {
                Some((t, e)) => (t.trim(), Some(e.trim().to_owned())),
                None => (target.trim(), None),
            };
            let alias = Some(alias.trim().to_owned()).filter(|a| !a.is_empty());
            if is_account_id(target) {
                return Ok(Account {
                    id: Some(target.to_owned()),
                    alias,
                    role_arn: None,
                    external_id,
                });
            }
            Ok(Account {
                id: Some(account_of_role(target)?),
                alias,
                role_arn: Some(target.to_owned()),
                external_id,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((validate(accounts)?, organization))
}

/// Reads `[[accounts]]` (TOML) or `accounts:` (YAML) with `id`, `alias`, `role_arn`, `external_id`.
pub fn parse_file(path: &Path) -> Result<Vec<Account>, AccountsError> {
    let err = |reason: String| AccountsError::File {
        path: path.display().to_string(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    let is_toml = path.extension().is_some_and(|e| e == "toml");
    let file: AccountsFile = if is_toml {
        toml::from_str(&text).map_err(|e| err(e.to_string()))?
    } else {
        yaml_serde::from_str(&text).map_err(|e| err(e.to_string()))?
    };
    let mut accounts = file.accounts;
    for a in &mut accounts {
        if let Some(role) = &a.role_arn {
            let from_role = account_of_role(role)?;
            a.id.get_or_insert(from_role);
        }
    }
    validate(accounts)
}

fn validate(accounts: Vec<Account>) -> Result<Vec<Account>, AccountsError> {
    let mut seen = std::collections::HashSet::new();
    for a in &accounts {
        if let Some(alias) = &a.alias {
            if !seen.insert(alias.to_ascii_lowercase()) {
                return Err(AccountsError::DuplicateAlias(alias.clone()));
            }
        }
    }
    Ok(accounts)
}

fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// The account id inside `arn:aws:iam::111122223333:role/Name` (any partition).
fn account_of_role(arn: &str) -> Result<String, AccountsError> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    match parts.as_slice() {
        ["arn", _, "iam", "", id, resource]
            if is_account_id(id) && resource.starts_with("role/") =>
        {
            Ok((*id).to_owned())
        }
        _ => Err(AccountsError::BadRoleArn(arn.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_entries() {
        let accounts = parse_env(
            "prod=arn:aws:iam::111122223333:role/Read#ext-1; dev = arn:aws:iam::444455556666:role/Read\nmain=777788889999",
        )
        .unwrap();
        assert_eq!(accounts.len(), 3);
        assert_eq!(accounts[0].id.as_deref(), Some("111122223333"));
        assert_eq!(accounts[0].external_id.as_deref(), Some("ext-1"));
        assert_eq!(accounts[1].alias.as_deref(), Some("dev"));
        assert_eq!(accounts[2].role_arn, None);
        assert!(accounts[0].matches("PROD") && accounts[0].matches("111122223333"));
        assert_eq!(accounts[0].label(), "prod (111122223333)");
    }

    #[test]
    fn the_organization_among_entries() {
        let (accounts, org) =
            parse_env_with_organization("Organization; mgmt=123456789012").unwrap();
        assert!(org);
        assert_eq!(accounts.len(), 1);
        assert_eq!(accounts[0].alias.as_deref(), Some("mgmt"));
        let (accounts, org) = parse_env_with_organization("organization").unwrap();
        assert!(org && accounts.is_empty());
        assert!(!parse_env_with_organization("a=123456789012").unwrap().1);
    }

    #[test]
    fn bad_entries_say_what_is_expected() {
        for bad in [
            "prod",
            "prod=arn:aws:iam::1:role/x",
            "prod=arn:aws:s3:::bucket",
            "a=111122223333;A=444455556666",
        ] {
            assert!(parse_env(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn files_in_toml_and_yaml() {
        let dir = tempfile::tempdir().unwrap();
        let toml_path = dir.path().join("accounts.toml");
        std::fs::write(
            &toml_path,
            "[[accounts]]\nalias = \"prod\"\nrole_arn = \"arn:aws:iam::111122223333:role/Read\"\nexternal_id = \"x\"\n",
        )
        .unwrap();
        let a = parse_file(&toml_path).unwrap();
        assert_eq!(a[0].id.as_deref(), Some("111122223333"));
        let yaml_path = dir.path().join("accounts.yaml");
        std::fs::write(
            &yaml_path,
            "accounts:\n  - alias: dev\n    id: \"444455556666\"\n",
        )
        .unwrap();
        let a = parse_file(&yaml_path).unwrap();
        assert_eq!(a[0].alias.as_deref(), Some("dev"));
        assert_eq!(a[0].role_arn, None);
    }
}
