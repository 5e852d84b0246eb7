//! Permalinks: a [`Document`] encoded into the page's URL fragment.

use cnn_core::document::Document;

/// Encodes a document as a URL fragment payload (without the `#`).
pub fn encode(_document: &Document) -> String {
    String::new()
}

/// Decodes a URL fragment payload (without the `#`).
///
/// Errors: a sentence naming what is wrong with the link.
pub fn decode(_fragment: &str) -> Result<Document, String> {
    Err("permalinks are not supported yet".into())
}
