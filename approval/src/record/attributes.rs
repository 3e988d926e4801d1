//! Reading and writing item attributes. Reading never panics: an attribute
//! that is missing or of another type is a [`TableError::Malformed`] naming
//! the item and the attribute, never quoting a value.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use super::error::TableError;
use super::schema::Key;

/// An item as the SDK gives and takes it.
pub(crate) type Attributes = HashMap<String, AttributeValue>;

/// A string attribute.
pub(crate) fn string(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

/// A number attribute.
pub(crate) fn number(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// A list of strings.
pub(crate) fn string_list(values: &[String]) -> AttributeValue {
    AttributeValue::L(values.iter().cloned().map(AttributeValue::S).collect())
}

/// The attributes of `key`: a new item's first two, or the key of a
/// `GetItem`, `UpdateItem` or `DeleteItem`.
pub(crate) fn key_attributes(key: Key) -> Attributes {
    HashMap::from([
        (super::schema::PARTITION_KEY.to_owned(), string(key.pk)),
        (super::schema::SORT_KEY.to_owned(), string(key.sk)),
    ])
}

/// An item read from the table, and the kind of item it should be.
pub(crate) struct Item<'a> {
    kind: &'static str,
    attributes: &'a Attributes,
}

impl<'a> Item<'a> {
    pub(crate) fn new(kind: &'static str, attributes: &'a Attributes) -> Self {
        Self { kind, attributes }
    }

    fn malformed(&self, name: &str, problem: &str) -> TableError {
        TableError::malformed(self.kind, format!("{name} {problem}"))
    }

    /// The attribute `name`, unless it is absent or NULL.
    fn present(&self, name: &str) -> Option<&AttributeValue> {
        self.attributes
            .get(name)
            .filter(|value| !matches!(value, AttributeValue::Null(_)))
    }

    /// `value`, read from the attribute `name`, which must be there.
    fn required<T>(&self, name: &str, value: Option<T>) -> Result<T, TableError> {
        value.ok_or_else(|| self.malformed(name, "is missing"))
    }

    /// A string attribute that must be there.
    pub(crate) fn string(&self, name: &str) -> Result<String, TableError> {
        self.required(name, self.optional_string(name)?)
    }

    /// A string attribute that may be absent.
    pub(crate) fn optional_string(&self, name: &str) -> Result<Option<String>, TableError> {
        match self.present(name) {
            None => Ok(None),
            Some(AttributeValue::S(text)) => Ok(Some(text.clone())),
            Some(_) => Err(self.malformed(name, "is not a string")),
        }
    }

    /// A whole number that must be there.
    pub(crate) fn number(&self, name: &str) -> Result<u64, TableError> {
        self.required(name, self.optional_number(name)?)
    }

    /// A whole number that may be absent.
    pub(crate) fn optional_number(&self, name: &str) -> Result<Option<u64>, TableError> {
        match self.present(name) {
            None => Ok(None),
            Some(AttributeValue::N(text)) => text
                .parse::<u64>()
                .map(Some)
                .map_err(|_| self.malformed(name, "is not a whole number")),
            Some(_) => Err(self.malformed(name, "is not a number")),
        }
    }

    /// A list of strings; absent reads as empty.
    pub(crate) fn string_list(&self, name: &str) -> Result<Vec<String>, TableError> {
        match self.present(name) {
            None => Ok(Vec::new()),
            Some(AttributeValue::L(values)) => values
                .iter()
                .map(|value| match value {
                    AttributeValue::S(text) => Ok(text.clone()),
                    _ => Err(self.malformed(name, "holds something other than strings")),
                })
                .collect(),
            Some(_) => Err(self.malformed(name, "is not a list")),
        }
    }
}

/// Items for the unit tests of the record modules.
#[cfg(test)]
pub(crate) mod fixtures {
    use super::{AttributeValue, Attributes};

    /// The item of `pairs`.
    pub(crate) fn item(pairs: &[(&str, AttributeValue)]) -> Attributes {
        pairs
            .iter()
            .map(|(name, value)| ((*name).to_owned(), value.clone()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::item;
    use super::*;

    #[test]
    fn present_attributes_read_as_written() {
        let attributes = item(&[
            ("s", string("text")),
            ("n", number(42)),
            ("l", string_list(&["a".into(), "b".into()])),
        ]);
        let item = Item::new("request", &attributes);
        assert_eq!(item.string("s"), Ok("text".into()));
        assert_eq!(item.number("n"), Ok(42));
        assert_eq!(item.string_list("l"), Ok(vec!["a".into(), "b".into()]));
        assert_eq!(item.optional_string("missing"), Ok(None));
        assert_eq!(item.optional_number("missing"), Ok(None));
        assert_eq!(item.string_list("missing"), Ok(Vec::new()));
    }

    #[test]
    fn wrong_types_and_missing_required_attributes_are_malformed_without_values() {
        let attributes = item(&[
            ("s", number(1)),
            ("n", AttributeValue::N("-1".into())),
            ("f", AttributeValue::N("1.5".into())),
            ("l", AttributeValue::L(vec![number(1)])),
            ("secret", AttributeValue::N("SECRET".into())),
        ]);
        let item = Item::new("request", &attributes);
        for err in [
            item.string("s").unwrap_err(),
            item.number("n").unwrap_err(),
            item.number("f").unwrap_err(),
            item.string_list("l").unwrap_err(),
            item.string("missing").unwrap_err(),
            item.number("secret").unwrap_err(),
        ] {
            assert!(matches!(err, TableError::Malformed { .. }), "{err:?}");
            assert!(!err.to_string().contains("SECRET"), "{err}");
        }
    }
}
