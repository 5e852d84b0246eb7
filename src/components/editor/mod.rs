//! The network, input, weights and objective editors.

use yew::prelude::*;

use crate::state::Session;
use cnn_core::document::Document;

#[derive(Properties, PartialEq)]
pub struct EditorProps {
    /// The document on screen (the last valid one).
    pub document: Document,
    /// The session built from it, for shapes and the trace.
    pub session: Option<Session>,
    /// Called with a complete new document to show; the page validates it again.
    pub on_apply: Callback<Document>,
}

/// TODO: the editors are not built yet; this renders nothing.
#[component]
pub fn Editor(_props: &EditorProps) -> Html {
    Html::default()
}
