//! The page's view kept in `localStorage`, so that a reload restores the network, the
//! input, the weights and the step even without a permalink.
//!
//! The stored value is `{"version": 1, "document": …}`. A value of another version, or
//! one that does not parse, is reported and ignored; it never stops the page.

use cnn_core::document::Document;
use serde::{Deserialize, Serialize};

/// The `localStorage` key of the page's view.
pub const KEY: &str = "cnn-explorer/page/v1";
/// The format version written by [`save`].
pub const VERSION: u32 = 1;
/// Largest stored value read back, in bytes; the permalink limit applies to the same text.
pub const MAX_BYTES: usize = crate::permalink::MAX_LINK_BYTES;

#[derive(Serialize, Deserialize)]
struct Stored {
    version: u32,
    document: Document,
}

/// Why a stored view was not restored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RestoreError {
    /// The stored text is not a view of any version this page knows.
    Corrupt(String),
    /// The stored view has another format version.
    OtherVersion(u32),
}

impl std::fmt::Display for RestoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RestoreError::Corrupt(reason) => write!(f, "the view saved in this browser is damaged ({reason})"),
            RestoreError::OtherVersion(found) => write!(
                f,
                "the view saved in this browser has format version {found}, but this page reads version {VERSION}"
            ),
        }
    }
}

/// Encodes a document as the stored text.
pub fn to_text(document: &Document) -> String {
    let stored = Stored {
        version: VERSION,
        document: document.clone(),
    };
    serde_json::to_string(&stored).unwrap_or_default()
}

/// Decodes stored text.
///
/// Errors: text over [`MAX_BYTES`], text that is not JSON with a version, a version other
/// than [`VERSION`], or a document that does not parse.
pub fn from_text(text: &str) -> Result<Document, RestoreError> {
    if text.len() > MAX_BYTES {
        return Err(RestoreError::Corrupt(format!(
            "{} bytes, over the limit of {MAX_BYTES}",
            text.len()
        )));
    }
    #[derive(Deserialize)]
    struct VersionOnly {
        version: u32,
    }
    let version: VersionOnly =
        serde_json::from_str(text).map_err(|e| RestoreError::Corrupt(short_reason(&e)))?;
    if version.version != VERSION {
        return Err(RestoreError::OtherVersion(version.version));
    }
    let stored: Stored =
        serde_json::from_str(text).map_err(|e| RestoreError::Corrupt(short_reason(&e)))?;
    Ok(stored.document)
}

fn short_reason(error: &serde_json::Error) -> String {
    error.to_string().chars().take(200).collect()
}

fn local_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

/// Saves the view; a browser that refuses storage (private mode, quota) loses only the
/// restore on reload, so the failure is logged and otherwise ignored.
pub fn save(document: &Document) {
    let Some(storage) = local_storage() else {
        return;
    };
    if let Err(error) = storage.set_item(KEY, &to_text(document)) {
        web_sys::console::warn_1(
            &format!("saving the view in localStorage failed: {error:?}").into(),
        );
    }
}

/// The saved view, `None` when there is none, or why it cannot be restored.
pub fn load() -> Option<Result<Document, RestoreError>> {
    let text = local_storage()?.get_item(KEY).ok().flatten()?;
    Some(from_text(&text))
}

/// Forgets the saved view.
pub fn clear() {
    if let Some(storage) = local_storage() {
        // A failure leaves a stale view that the next save overwrites.
        let _ = storage.remove_item(KEY);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_view_round_trips() {
        for preset in cnn_core::tutorial::presets() {
            let text = to_text(&preset.document);
            assert_eq!(from_text(&text).unwrap(), preset.document, "{}", preset.id);
        }
    }

    #[test]
    fn other_version_is_reported() {
        let preset = cnn_core::tutorial::presets().remove(0);
        let text = to_text(&preset.document).replacen("\"version\":1", "\"version\":0", 1);
        assert_eq!(from_text(&text), Err(RestoreError::OtherVersion(0)));
    }

    #[test]
    fn damaged_view_is_reported() {
        for text in [
            "",
            "{",
            "null",
            "{\"version\":1}",
            "{\"version\":1,\"document\":{\"network\":3}}",
            "[1,2]",
        ] {
            let result = from_text(text);
            assert!(
                matches!(result, Err(RestoreError::Corrupt(_))),
                "{text:?}: {result:?}"
            );
        }
        let message = from_text("{").unwrap_err().to_string();
        assert!(
            message.starts_with("the view saved in this browser is damaged"),
            "{message}"
        );
    }
}
