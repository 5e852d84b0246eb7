//! Turning an image file into input values. The browser decodes the file, and an
//! offscreen canvas scales it to the input's W × H on a white background. Each pixel then
//! becomes ink from 0 to 1 as in MNIST (white paper 0, black ink 1).

use cnn_core::Tensor;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{CanvasRenderingContext2d, File, HtmlCanvasElement, HtmlImageElement, Url};

use crate::limits::{MAX_IMAGE_BYTES, MAX_IMAGE_SIDE};

/// ITU-R BT.601 luma weights for R, G and B, the usual greyscale conversion.
const LUMA: [f64; 3] = [0.299, 0.587, 0.114];

/// Converts RGBA pixels (row-major, 4 bytes each, `shape[1]` rows of `shape[2]`) into a
/// `[C, H, W]` input. One or two channels get 1 − luma in every channel; three channels
/// get 1 − R, 1 − G and 1 − B. With `invert` the values are luma or R, G, B themselves,
/// for light ink on a dark background. Missing pixels count as white.
pub fn pixels_to_tensor(rgba: &[u8], shape: [usize; 3], invert: bool) -> Tensor {
    let [chans, _, cols] = shape;
    Tensor::from_fn3(shape, |c, h, w| {
        let start = (h * cols + w) * 4;
        let pixel = rgba.get(start..start + 3).unwrap_or(&[255, 255, 255]);
        let level = if chans == 3 {
            f64::from(pixel[c]) / 255.0
        } else {
            pixel
                .iter()
                .zip(LUMA)
                .map(|(value, weight)| f64::from(*value) * weight)
                .sum::<f64>()
                / 255.0
        };
        let ink = if invert { level } else { 1.0 - level };
        // Rounding keeps 0 and 1 exact after the floating-point luma sum.
        (ink * 1e6).round() / 1e6
    })
}

/// Decodes `file` and returns its pixels scaled to `cols` × `rows`, composited on white,
/// as RGBA bytes.
///
/// Errors, each as a sentence naming the file: a file over 20 MB (checked before
/// decoding), a file whose type is not an image, a file the browser cannot decode, an
/// image with no pixels or over 8192 pixels per side, or a failed canvas.
pub async fn decode_file(file: &File, rows: usize, cols: usize) -> Result<Vec<u8>, String> {
    let name = file.name();
    if file.size() > MAX_IMAGE_BYTES {
        return Err(format!(
            "“{name}” is {:.1} MB; choose an image file of at most {:.0} MB.",
            file.size() / 1e6,
            MAX_IMAGE_BYTES / 1e6
        ));
    }
    let kind = file.type_();
    if !kind.is_empty() && !kind.starts_with("image/") {
        return Err(format!(
            "“{name}” is not an image (its type is {kind}); choose a PNG, JPEG, GIF, WebP or SVG file."
        ));
    }

    let url = Url::create_object_url_with_blob(file)
        .map_err(|_| format!("The browser could not open “{name}”; choose the file again."))?;
    let image = HtmlImageElement::new()
        .map_err(|_| "The browser could not create an image element.".to_string());
    let decoded = match &image {
        Ok(image) => {
            image.set_src(&url);
            JsFuture::from(image.decode()).await.is_ok()
        }
        Err(_) => false,
    };
    // The object URL keeps the file's bytes alive; the decoded image no longer needs it.
    let _ = Url::revoke_object_url(&url);
    let image = image?;
    if !decoded {
        return Err(format!(
            "“{name}” could not be decoded as an image; choose a PNG, JPEG, GIF, WebP or SVG file."
        ));
    }

    let (width, height) = (image.natural_width(), image.natural_height());
    if width == 0 || height == 0 {
        return Err(format!(
            "“{name}” has no width or height; choose an image with pixels."
        ));
    }
    if width > MAX_IMAGE_SIDE || height > MAX_IMAGE_SIDE {
        return Err(format!(
            "“{name}” is {width} × {height} pixels; choose an image of at most {MAX_IMAGE_SIDE} pixels per side."
        ));
    }
    scale_to(&image, rows, cols).ok_or_else(|| {
        format!("The browser could not scale “{name}” onto a canvas; choose another file.")
    })
}

/// Draws `image` stretched to `cols` × `rows` on a white offscreen canvas and reads back
/// its pixels.
fn scale_to(image: &HtmlImageElement, rows: usize, cols: usize) -> Option<Vec<u8>> {
    let canvas: HtmlCanvasElement = web_sys::window()?
        .document()?
        .create_element("canvas")
        .ok()?
        .dyn_into()
        .ok()?;
    canvas.set_width(cols as u32);
    canvas.set_height(rows as u32);
    let context: CanvasRenderingContext2d = canvas.get_context("2d").ok()??.dyn_into().ok()?;
    context.set_fill_style_str("#ffffff");
    context.fill_rect(0.0, 0.0, cols as f64, rows as f64);
    context.set_image_smoothing_enabled(true);
    // "high" requests the browser's best downscaling filter, because with the default
    // "low" a large image shrunk to a few cells can skip most source pixels. web-sys
    // 0.3.107 has no setter for it, so it is set as a plain property. A browser that
    // ignores it keeps the default.
    let _ = js_sys::Reflect::set(&context, &"imageSmoothingQuality".into(), &"high".into());
    context
        .draw_image_with_html_image_element_and_dw_and_dh(image, 0.0, 0.0, cols as f64, rows as f64)
        .ok()?;
    let data = context
        .get_image_data(0.0, 0.0, cols as f64, rows as f64)
        .ok()?;
    Some(data.data().0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn white_is_zero_and_black_is_one() {
        let rgba = [255, 255, 255, 255, 0, 0, 0, 255];
        let x = pixels_to_tensor(&rgba, [1, 1, 2], false);
        assert_eq!(x.data(), &[0.0, 1.0]);
        let inverted = pixels_to_tensor(&rgba, [1, 1, 2], true);
        assert_eq!(inverted.data(), &[1.0, 0.0]);
    }

    #[test]
    fn grey_uses_luma_weights() {
        let rgba = [255, 0, 0, 255];
        let x = pixels_to_tensor(&rgba, [1, 1, 1], false);
        assert!((x.data()[0] - (1.0 - 0.299)).abs() < 1e-6, "{:?}", x.data());
    }

    #[test]
    fn three_channels_take_rgb() {
        let rgba = [255, 0, 51, 255];
        let x = pixels_to_tensor(&rgba, [3, 1, 1], false);
        assert_eq!(x.data(), &[0.0, 1.0, 0.8]);
    }

    #[test]
    fn two_channels_repeat_grey() {
        let rgba = [0, 0, 0, 255];
        let x = pixels_to_tensor(&rgba, [2, 1, 1], false);
        assert_eq!(x.data(), &[1.0, 1.0]);
    }

    #[test]
    fn missing_pixels_are_white() {
        let x = pixels_to_tensor(&[], [1, 2, 2], false);
        assert_eq!(x.data(), &[0.0; 4]);
    }
}
