//! The approval table and its client. The operations live beside their users
//! (the notifier's, the page's and the operator's), all on [`ApprovalTable`],
//! all keyed through [`schema`](super::schema).

use aws_config::SdkConfig;

/// The table of recorded mode, and the client that reaches it.
#[derive(Debug, Clone)]
pub struct ApprovalTable {
    client: aws_sdk_dynamodb::Client,
    name: String,
}

impl ApprovalTable {
    /// The table `name`, reached with `client`.
    pub fn new(client: aws_sdk_dynamodb::Client, name: impl Into<String>) -> Self {
        Self {
            client,
            name: name.into(),
        }
    }

    /// The table `name`, with a client built from `config`.
    pub fn from_sdk_config(config: &SdkConfig, name: impl Into<String>) -> Self {
        Self::new(aws_sdk_dynamodb::Client::new(config), name)
    }

    /// The table's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The client the operations use.
    pub fn client(&self) -> &aws_sdk_dynamodb::Client {
        &self.client
    }
}
