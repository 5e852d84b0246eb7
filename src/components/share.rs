//! Export and share: the permalink, the trace as JSON, and the NumPy script.

use yew::prelude::*;

use crate::state::Session;
use cnn_core::document::Document;

#[derive(Properties, PartialEq)]
pub struct ShareProps {
    pub document: Document,
    pub session: Session,
}

/// TODO: the export buttons are not built yet; this renders nothing.
#[component]
pub fn Share(_props: &ShareProps) -> Html {
    Html::default()
}
