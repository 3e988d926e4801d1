//! Approval links: the keys they are sealed with, and sealing and opening them.
//!
//! | module | job |
//! |---|---|
//! | [`key`] | key material: a key, its id, the current and previous keys |
//! | `secret` (internal) | the Secrets Manager secret: its JSON value ([`LinkKeys::to_secret_json`]) and reading it |
//! | [`source`] | where the keys come from, from the environment |
//! | [`store`] | the keys a warm function holds, read again on an interval |
//! | [`seal`](mod@seal) | sealing and opening links, and the task token the approval table keeps |

pub mod key;
pub mod seal;
mod secret;
pub mod source;
pub mod store;

pub use key::{KeyError, KeyId, LinkKey, LinkKeys};
pub(crate) use seal::MAX_SEALED_CHARS;
pub use seal::{
    Action, LinkData, OpenError, SEAL_BUDGET_CHARS, SealError, SealedLink, open, open_token, seal,
    seal_token, seal_with,
};
pub use source::{KeySettingError, KeySource};
pub use store::{KeyStore, KeysUnavailable};

/// Two keys as base64, for the tests of the key modules.
#[cfg(test)]
pub(crate) mod test_keys {
    pub const KEY_A: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    pub const KEY_B: &str = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";
}

/// A Secrets Manager double for the tests of the key modules.
#[cfg(test)]
pub(crate) mod test_secrets_manager;
