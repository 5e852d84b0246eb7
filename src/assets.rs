//! The files the page loads at start: the test digits and the trained weights.

use cnn_core::dataset::Digits;
use cnn_core::presets::TrainedWeights;
use js_sys::Uint8Array;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::Response;

/// Path of the 1,000 held-out test digits, relative to the page.
pub const TEST_DIGITS_URL: &str = "data/mnist-test.bin";
/// Path of the trained weights, relative to the page.
pub const WEIGHTS_URL: &str = "data/weights.json";

/// The parsed start-up files.
#[derive(Debug, PartialEq)]
pub struct Assets {
    pub digits: Digits,
    pub weights: TrainedWeights,
}

/// Fetches and parses both files.
///
/// Errors: a failed request, a non-2xx status, or a file that does not parse; the message
/// names the file.
pub async fn load() -> Result<Assets, String> {
    let digit_bytes = fetch_bytes(TEST_DIGITS_URL).await?;
    let digits = Digits::parse(&digit_bytes).map_err(|e| format!("{TEST_DIGITS_URL}: {e}"))?;
    let weight_bytes = fetch_bytes(WEIGHTS_URL).await?;
    let weights: TrainedWeights = serde_json::from_slice(&weight_bytes)
        .map_err(|e| format!("{WEIGHTS_URL} is not a valid weights file: {e}"))?;
    Ok(Assets { digits, weights })
}

async fn fetch_bytes(url: &str) -> Result<Vec<u8>, String> {
    let failed = |what: &str| format!("loading {url} failed: {what}");
    let window = web_sys::window().ok_or_else(|| failed("no window"))?;
    let response = JsFuture::from(window.fetch_with_str(url))
        .await
        .map_err(|e| failed(&format!("{e:?}")))?;
    let response: Response = response.dyn_into().map_err(|_| failed("not a response"))?;
    if !response.ok() {
        return Err(failed(&format!("HTTP status {}", response.status())));
    }
    let buffer = response
        .array_buffer()
        .map_err(|e| failed(&format!("{e:?}")))?;
    let buffer = JsFuture::from(buffer)
        .await
        .map_err(|e| failed(&format!("{e:?}")))?;
    Ok(Uint8Array::new(&buffer).to_vec())
}
