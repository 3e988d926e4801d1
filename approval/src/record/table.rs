//! The approval table and its client. The operations live beside their users
//! (the notifier's, the page's and the operator's), all on [`ApprovalTable`],
//! all keyed through [`schema`](super::schema).

use aws_config::SdkConfig;

use super::attributes::{self, Attributes};
use super::error::TableError;
use super::id::RequestId;
use super::schema::{PARTITION_KEY, SORT_KEY, request_partition};

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

    /// Every item of `request`'s collection, or only those whose sort key
    /// begins with `sort_prefix`, in sort key order: one consistent, paginated
    /// `Query`.
    pub(super) async fn request_items(
        &self,
        request: &RequestId,
        sort_prefix: Option<&str>,
    ) -> Result<Vec<Attributes>, TableError> {
        let mut query = self
            .client
            .query()
            .table_name(&self.name)
            .expression_attribute_names("#pk", PARTITION_KEY)
            .expression_attribute_values(":pk", attributes::string(request_partition(request)))
            .consistent_read(true);
        query = match sort_prefix {
            None => query.key_condition_expression("#pk = :pk"),
            Some(prefix) => query
                .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
                .expression_attribute_names("#sk", SORT_KEY)
                .expression_attribute_values(":prefix", attributes::string(prefix)),
        };
        query
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|err| TableError::from_sdk("Query", &err))
    }
}
