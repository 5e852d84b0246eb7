//! Export and share: the permalink, the trace as a golden-case JSON file, and the NumPy
//! script that recomputes the trace and checks every value.
//!
//! The two export texts are built only when a panel opens or a download starts, because
//! the digit preset's case is about 730 kB of JSON and 380 kB of Python, and they are cached
//! until the trace changes.

use std::cell::RefCell;
use std::rc::Rc;

use cnn_core::document::{Document, InputSource, WeightSource};
use cnn_core::{export, tutorial, Case};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    Blob, BlobPropertyBag, HtmlAnchorElement, HtmlDetailsElement, HtmlInputElement, Url,
};
use yew::prelude::*;

use crate::permalink::{self, MAX_LINK_BYTES};
use crate::state::{Session, SharedTrace};

/// File name of the golden-case download.
pub const JSON_FILE: &str = "cnn-trace.json";
/// File name of the NumPy script download.
pub const PYTHON_FILE: &str = "cnn-trace.py";

/// How long an object URL stays valid after its download link is clicked. Browsers may
/// read the URL after `click()` returns, so it is revoked a little later.
const REVOKE_DELAY_MS: i32 = 10_000;

#[derive(Properties, PartialEq)]
pub struct ShareProps {
    /// The document on screen, for the permalink and the case's name.
    pub document: Document,
    /// The built network and its trace, for the exports.
    pub session: Session,
}

/// The export texts of one trace.
struct Exports {
    /// The golden case as pretty JSON, or why serialization failed.
    json: Result<AttrValue, String>,
    python: AttrValue,
    /// The place of the first NaN or infinite value, which JSON cannot write as a number.
    non_finite: Option<String>,
}

/// The exports of the last trace requested.
type ExportCache = Rc<RefCell<Option<(SharedTrace, Rc<Exports>)>>>;

#[component]
pub fn Share(props: &ShareProps) -> Html {
    let cache: ExportCache = use_mut_ref(|| None);
    let status = use_state(String::new);
    let json_open = use_state(|| false);
    let python_open = use_state(|| false);
    let permalink_ref = use_node_ref();
    let json_details = use_node_ref();
    let python_details = use_node_ref();

    // Effect: a status about an earlier view would mislead, so a new view clears it.
    {
        let status = status.clone();
        use_effect_with(props.document.clone(), move |_| status.set(String::new()));
    }

    let fragment = use_memo(props.document.clone(), permalink::encode);
    let url = page_url(&fragment);

    // Callbacks
    let on_copy = {
        let (status, permalink_ref) = (status.clone(), permalink_ref.clone());
        Callback::from(move |_: MouseEvent| copy_link(&permalink_ref, &status))
    };
    let on_toggle = |details: &NodeRef, open: &UseStateHandle<bool>| {
        let (details, open) = (details.clone(), open.clone());
        Callback::from(move |_: Event| {
            if let Some(element) = details.cast::<HtmlDetailsElement>() {
                open.set(element.open());
            }
        })
    };
    let on_download = |kind: ExportKind| {
        let (cache, status) = (cache.clone(), status.clone());
        let (document, session) = (props.document.clone(), props.session.clone());
        Callback::from(move |_: MouseEvent| {
            let exports = exports_for(&cache, &document, &session);
            status.set(start_download(&exports, kind));
        })
    };

    // The texts are built here only while a panel is open.
    let exports =
        (*json_open || *python_open).then(|| exports_for(&cache, &props.document, &props.session));
    let json_text = exports.as_ref().filter(|_| *json_open).map(|e| match &e.json {
        Ok(text) => html! {
            <pre id="export-json" class="export-text" tabindex="0" aria-label="The trace as JSON">{ text.clone() }</pre>
        },
        Err(message) => html! { <p class="error">{ message.clone() }</p> },
    });
    let python_text = exports.as_ref().filter(|_| *python_open).map(|e| html! {
        <pre id="export-python" class="export-text" tabindex="0" aria-label="The NumPy script">{ e.python.clone() }</pre>
    });
    let non_finite = exports.as_ref().and_then(|e| e.non_finite.clone());

    html! {
        <section class="share" aria-labelledby="share-heading">
            <h2 id="share-heading">{ "Export and share" }</h2>

            <label class="permalink-label" for="permalink">{ "Link to this view (network, input, weights and step)" }</label>
            <div class="permalink-row">
                <input id="permalink" type="text" readonly=true value={url} ref={permalink_ref} spellcheck="false" autocomplete="off" />
                <button type="button" id="copy-link" onclick={on_copy}>{ "Copy link" }</button>
            </div>
            if fragment.len() > MAX_LINK_BYTES {
                <p class="error">{ format!(
                    "This link is {} bytes long, more than the {MAX_LINK_BYTES} this page opens; share the JSON download instead.",
                    fragment.len()
                ) }</p>
            }
            <p id="share-status" class="share-status" role="status" aria-live="polite">{ (*status).clone() }</p>

            <h3>{ "Download" }</h3>
            <p class="hint">
                { "The JSON file is a golden case: the network, input, parameters and objective, and under \"expected\" every layer output and gradient of this trace. The Python script rebuilds the same arrays with NumPy, recomputes the forward and backward pass and checks every value; run it with " }
                <code>{ format!("python3 {PYTHON_FILE}") }</code>
                { "." }
            </p>
            <div class="download-buttons">
                <button type="button" id="download-json" onclick={on_download(ExportKind::Json)}>{ "Download the trace (JSON)" }</button>
                <button type="button" id="download-python" onclick={on_download(ExportKind::Python)}>{ "Download the NumPy script" }</button>
            </div>
            if let Some(place) = non_finite {
                <p class="error">{ format!(
                    "The trace has a value that is not a finite number ({place}). JSON has no such numbers, so the JSON file writes it as null and does not load as a golden case."
                ) }</p>
            }

            <details class="export" ref={json_details.clone()} ontoggle={on_toggle(&json_details, &json_open)}>
                <summary>{ "Show the trace as JSON" }</summary>
                { json_text.unwrap_or_default() }
            </details>
            <details class="export" ref={python_details.clone()} ontoggle={on_toggle(&python_details, &python_open)}>
                <summary>{ "Show the NumPy script" }</summary>
                { python_text.unwrap_or_default() }
            </details>
        </section>
    }
}

/// The export text that a download button saves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ExportKind {
    Json,
    Python,
}

/// Returns the page's own address with `fragment` after the `#`.
fn page_url(fragment: &str) -> String {
    let location = web_sys::window().map(|w| w.location());
    let origin = location.as_ref().and_then(|l| l.origin().ok());
    let path = location.as_ref().and_then(|l| l.pathname().ok());
    format!(
        "{}{}#{fragment}",
        origin.unwrap_or_default(),
        path.unwrap_or_default()
    )
}

/// Copies the permalink field's text with the Clipboard API, or selects it for the
/// keyboard shortcut where the API is missing or rejects the request.
fn copy_link(field: &NodeRef, status: &UseStateHandle<String>) {
    let Some(input) = field.cast::<HtmlInputElement>() else {
        return;
    };
    let select_instead = {
        let (input, status) = (input.clone(), status.clone());
        move || {
            // Ignoring a failed focus only leaves the text selected without focus.
            let _ = input.focus();
            input.select();
            status.set("The link is selected: press Ctrl+C (⌘C on a Mac) to copy it.".into());
        }
    };
    let clipboard = web_sys::window().map(|w| w.navigator().clipboard());
    // Outside a secure context `navigator.clipboard` is undefined, although web-sys types
    // it as always present.
    let Some(clipboard) = clipboard.filter(|c| {
        let value: &JsValue = c.as_ref();
        !value.is_undefined() && !value.is_null()
    }) else {
        select_instead();
        return;
    };
    let text = input.value();
    let status = status.clone();
    wasm_bindgen_futures::spawn_local(async move {
        match JsFuture::from(clipboard.write_text(&text)).await {
            Ok(_) => status.set("The link is copied to the clipboard.".into()),
            Err(_) => select_instead(),
        }
    });
}

/// Returns the cached exports of `session`'s trace, building them first when the trace is
/// new.
fn exports_for(cache: &ExportCache, document: &Document, session: &Session) -> Rc<Exports> {
    if let Some((trace, exports)) = &*cache.borrow() {
        if *trace == session.trace {
            return exports.clone();
        }
    }
    let exports = Rc::new(build_exports(document, session));
    *cache.borrow_mut() = Some((session.trace.clone(), exports.clone()));
    exports
}

fn build_exports(document: &Document, session: &Session) -> Exports {
    let (name, about) = case_name(document, session);
    let case = Case::from_trace(
        &name,
        &about,
        &session.network,
        &session.trace.0,
        &session.objective,
    );
    let json = serde_json::to_string_pretty(&case)
        .map(AttrValue::from)
        .map_err(|e| format!("The trace could not be written as JSON: {e}."));
    Exports {
        json,
        python: AttrValue::from(export::numpy_script(&case)),
        non_finite: first_non_finite(&case),
    }
}

/// Names the case after the preset whose document is on screen, with the preset's
/// description, or "custom" with a sentence on the input and weights.
fn case_name(document: &Document, session: &Session) -> (String, String) {
    let mut at_first_step = document.clone();
    at_first_step.step = 0;
    if let Some(preset) = tutorial::presets()
        .into_iter()
        .find(|p| p.document == at_first_step)
    {
        return (preset.id.to_string(), preset.about.to_string());
    }
    let input = match (&document.input, session.digit_label) {
        (InputSource::Digit(index), Some(label)) => format!("test digit {index} (a {label})"),
        (InputSource::Digit(index), None) => format!("test digit {index}"),
        (InputSource::Values(_), _) => "typed input values".to_string(),
    };
    let weights = match &document.weights {
        WeightSource::Seeded(seed) => format!("weights from seed {seed}"),
        WeightSource::Values(_) => "typed weights".to_string(),
        WeightSource::Trained(pool) => format!("the trained weights for {} pooling", pool.name()),
    };
    let about =
        format!("A network built in the CNN Backprop Explorer, on {input}, with {weights}.");
    ("custom".to_string(), about)
}

/// Names the first tensor of the case with a NaN or infinite value.
fn first_non_finite(case: &Case) -> Option<String> {
    let mut tensors = vec![("the input".to_string(), &case.input)];
    for (layer, entry) in case.params.iter().enumerate() {
        if let Some(params) = entry {
            tensors.push((format!("the weights of layer {layer}"), &params.weights));
            tensors.push((format!("the bias of layer {layer}"), &params.bias));
        }
    }
    if let Some(expected) = &case.expected {
        if expected.loss.is_some_and(|loss| !loss.is_finite()) {
            return Some("the loss".into());
        }
        for (layer, y) in expected.outputs.iter().enumerate() {
            tensors.push((format!("the output of layer {layer}"), y));
        }
        for (layer, grad_x) in expected.grad_inputs.iter().enumerate() {
            tensors.push((format!("the input gradient of layer {layer}"), grad_x));
        }
        for (layer, entry) in expected.grad_params.iter().enumerate() {
            if let Some(grads) = entry {
                tensors.push((
                    format!("the weight gradient of layer {layer}"),
                    &grads.weights,
                ));
                tensors.push((format!("the bias gradient of layer {layer}"), &grads.bias));
            }
        }
    }
    tensors
        .into_iter()
        .find(|(_, tensor)| tensor.first_non_finite().is_some())
        .map(|(name, _)| name)
}

/// Starts the download of one export and returns the status line.
fn start_download(exports: &Exports, kind: ExportKind) -> String {
    let (text, file_name, mime) = match kind {
        ExportKind::Json => match &exports.json {
            Ok(text) => (text, JSON_FILE, "application/json"),
            Err(message) => return message.clone(),
        },
        ExportKind::Python => (&exports.python, PYTHON_FILE, "text/x-python"),
    };
    match download(text, file_name, mime) {
        Ok(()) => format!("Downloading {file_name} ({}).", size_text(text.len())),
        Err(error) => format!("The download of {file_name} could not start: {error}."),
    }
}

/// Saves `text` as `file_name` through a Blob object URL and a temporary
/// `<a download>`, and revokes the URL [`REVOKE_DELAY_MS`] later.
fn download(text: &str, file_name: &str, mime: &str) -> Result<(), String> {
    let js_error = |e: JsValue| e.as_string().unwrap_or_else(|| format!("{e:?}"));
    let window = web_sys::window().ok_or("the page has no window")?;
    let document = window.document().ok_or("the page has no document")?;
    let body = document.body().ok_or("the page has no body")?;

    let options = BlobPropertyBag::new();
    options.set_type(mime);
    let parts = js_sys::Array::of1(&JsValue::from_str(text));
    let blob = Blob::new_with_str_sequence_and_options(&parts, &options).map_err(js_error)?;
    let url = Url::create_object_url_with_blob(&blob).map_err(js_error)?;

    let anchor: HtmlAnchorElement = document
        .create_element("a")
        .map_err(js_error)?
        .dyn_into()
        .map_err(|_| "the page could not create a link element".to_string())?;
    anchor.set_href(&url);
    anchor.set_download(file_name);
    anchor.set_hidden(true);
    body.append_child(&anchor).map_err(js_error)?;
    anchor.click();
    anchor.remove();

    let revoke = Closure::once_into_js(move || {
        // Ignoring a failed revoke only keeps the text in memory until the page closes.
        let _ = Url::revoke_object_url(&url);
    });
    window
        .set_timeout_with_callback_and_timeout_and_arguments_0(
            revoke.unchecked_ref(),
            REVOKE_DELAY_MS,
        )
        .map_err(js_error)?;
    Ok(())
}

/// Formats a byte count in kB or MB (powers of 1000), as browsers show download sizes.
fn size_text(bytes: usize) -> String {
    if bytes < 1_000 {
        format!("{bytes} bytes")
    } else if bytes < 1_000_000 {
        format!("{:.1} kB", bytes as f64 / 1e3)
    } else {
        format!("{:.1} MB", bytes as f64 / 1e6)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_text_picks_unit() {
        assert_eq!(size_text(999), "999 bytes");
        assert_eq!(size_text(1_500), "1.5 kB");
        assert_eq!(size_text(2_340_000), "2.3 MB");
    }
}
