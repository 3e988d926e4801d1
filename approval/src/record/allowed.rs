//! Who may approve: `APPROVERS_ALLOWED`, comma-separated addresses and
//! `@domain` entries, set by whoever deploys the functions, never by the
//! requester.
//!
//! Addresses compare without regard to ASCII case. `@example.com` allows every
//! address at exactly that domain, not at its subdomains: a subdomain may well
//! be run by someone else.

use sfn_callback::config::ConfigError;

use crate::notify::request::check_address;

/// The variable that lists who may approve.
pub const APPROVERS_ALLOWED_VAR: &str = "APPROVERS_ALLOWED";

/// The addresses and domains allowed to approve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApproversAllowed {
    /// Lowercase addresses.
    addresses: Vec<String>,
    /// Lowercase domains, without the `@`.
    domains: Vec<String>,
}

impl ApproversAllowed {
    /// Reads `APPROVERS_ALLOWED` through `lookup`. Unset, blank or holding
    /// anything but addresses and `@domain` entries is a config error naming
    /// the variable.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let value = lookup(APPROVERS_ALLOWED_VAR).unwrap_or_default();
        Self::parse(&value).map_err(|expected| ConfigError {
            name: APPROVERS_ALLOWED_VAR,
            value: value.clone(),
            expected,
        })
    }

    /// Parses the comma-separated list.
    pub fn parse(list: &str) -> Result<Self, String> {
        let mut allowed = Self {
            addresses: Vec::new(),
            domains: Vec::new(),
        };
        for entry in list
            .split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
        {
            let entry = entry.to_ascii_lowercase();
            if let Some(domain) = entry.strip_prefix('@') {
                check_address(&format!("approver@{domain}"))
                    .map_err(|reason| format!("{entry:?} is not an @domain entry: {reason}"))?;
                allowed.domains.push(domain.to_owned());
            } else {
                check_address(&entry)
                    .map_err(|reason| format!("{entry:?} is not an email address: {reason}"))?;
                allowed.addresses.push(entry);
            }
        }
        if allowed.addresses.is_empty() && allowed.domains.is_empty() {
            return Err(
                "expected the comma-separated addresses and @domain entries \
                        allowed to approve, e.g. alice@example.com,@ops.example.com"
                    .to_owned(),
            );
        }
        Ok(allowed)
    }

    /// Whether `address` may approve.
    pub fn allows(&self, address: &str) -> bool {
        let address = address.trim().to_ascii_lowercase();
        if self.addresses.contains(&address) {
            return true;
        }
        address
            .rsplit_once('@')
            .is_some_and(|(_, domain)| self.domains.iter().any(|allowed| *allowed == domain))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_domains_are_allowed_whatever_their_case() {
        let allowed = ApproversAllowed::parse(" Alice@Example.com , @ops.example.com ").unwrap();
        assert!(allowed.allows("alice@example.com"));
        assert!(allowed.allows("ALICE@example.COM"));
        assert!(allowed.allows("bob@OPS.example.com"));
    }

    #[test]
    fn other_addresses_subdomains_and_lookalikes_are_not_allowed() {
        let allowed = ApproversAllowed::parse("alice@example.com,@ops.example.com").unwrap();
        for address in [
            "bob@example.com",
            "alice@example.com.evil.test",
            "carol@eu.ops.example.com",
            "carol@badops.example.com",
            "ops.example.com",
            "",
        ] {
            assert!(!allowed.allows(address), "{address}");
        }
    }

    #[test]
    fn unset_or_blank_is_a_config_error_naming_the_variable() {
        for value in [None, Some(""), Some(" , ")] {
            let err = ApproversAllowed::from_lookup(|_| value.map(str::to_owned)).unwrap_err();
            assert_eq!(err.name, "APPROVERS_ALLOWED");
        }
    }

    #[test]
    fn an_entry_that_is_neither_address_nor_domain_is_a_config_error() {
        for value in [
            "alice",
            "@",
            "a b@example.com",
            "alice@example.com,@bad domain",
        ] {
            let err = ApproversAllowed::from_lookup(|_| Some(value.to_owned())).unwrap_err();
            assert_eq!(err.name, "APPROVERS_ALLOWED", "{value}");
        }
    }
}
