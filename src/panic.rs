//! A panic hook that logs the panic to the console and shows it on the page, since a
//! panicked WebAssembly module stops responding until the page is reloaded.

use wasm_bindgen::JsValue;

/// Id of the element in `index.html` that shows a panic.
pub const PANIC_ELEMENT_ID: &str = "panic-message";

/// Installs the hook; later panics log with `console.error` and fill `#panic-message`.
pub fn install() {
    std::panic::set_hook(Box::new(|info| {
        let message = format!("The page stopped because of an internal error: {info}");
        web_sys::console::error_1(&JsValue::from_str(&message));
        let element = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.get_element_by_id(PANIC_ELEMENT_ID));
        if let Some(element) = element {
            element.set_text_content(Some(&format!("{message}. Reload the page to start again.")));
            // Ignoring a failure here is deliberate: the message is already in the console.
            let _ = element.remove_attribute("hidden");
        }
    }));
}
