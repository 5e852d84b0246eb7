//! Digits as small grey images, a pad to draw one, and the prediction of the current
//! weights for either.

use std::cell::RefCell;
use std::rc::Rc;

use cnn_core::{LayerParams, NetworkSpec, Tensor};
use wasm_bindgen::JsCast;
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement, PointerEvent};
use yew::prelude::*;

/// Side of the digits in pixels.
pub const SIDE: usize = 28;
/// MNIST digits fit a 20 × 20 box, centred by their centre of mass in 28 × 28.
const BOX: f64 = 20.0;
/// Pen radius in digit pixels.
const PEN_RADIUS: f64 = 1.6;

/// Draws `pixels` (0 white to 1 black, row-major `side × side`) onto `canvas`, one canvas
/// pixel per digit pixel; CSS scales it up.
pub fn paint(canvas: &HtmlCanvasElement, pixels: &[f64], side: usize) -> Result<(), String> {
    let context = canvas
        .get_context("2d")
        .ok()
        .flatten()
        .and_then(|c| c.dyn_into::<CanvasRenderingContext2d>().ok())
        .ok_or("drawing a digit failed: the canvas has no 2-D context")?;
    context.set_fill_style_str("#fff");
    context.fill_rect(0.0, 0.0, side as f64, side as f64);
    for (index, value) in pixels.iter().enumerate().take(side * side) {
        if *value <= 0.0 {
            continue;
        }
        let grey = (255.0 * (1.0 - value.clamp(0.0, 1.0))).round() as u8;
        context.set_fill_style_str(&format!("rgb({grey}, {grey}, {grey})"));
        let (row, col) = (index / side, index % side);
        context.fill_rect(col as f64, row as f64, 1.0, 1.0);
    }
    Ok(())
}

#[derive(Properties, PartialEq)]
pub struct DigitImageProps {
    /// `SIDE × SIDE` values from 0 (white) to 1 (black).
    pub pixels: Rc<[f64]>,
    pub label: AttrValue,
}

/// Shows one digit as a small image.
#[component]
pub fn DigitImage(props: &DigitImageProps) -> Html {
    let canvas = use_node_ref();
    {
        let canvas = canvas.clone();
        use_effect_with(props.pixels.clone(), move |pixels| {
            if let Some(element) = canvas.cast::<HtmlCanvasElement>() {
                if let Err(message) = paint(&element, pixels, SIDE) {
                    web_sys::console::error_1(&message.into());
                }
            }
        });
    }
    html! {
        <canvas ref={canvas} class="digit" width={SIDE.to_string()} height={SIDE.to_string()} role="img" aria-label={props.label.clone()} />
    }
}

/// Adds a round pen mark at `(x, y)` (in digit pixels) to `pixels`, keeping the darker
/// value of each pixel.
pub fn stamp(pixels: &mut [f64], x: f64, y: f64) {
    let reach = PEN_RADIUS.ceil() as isize + 1;
    let (cx, cy) = (x.floor() as isize, y.floor() as isize);
    for row in cy - reach..=cy + reach {
        for col in cx - reach..=cx + reach {
            if !(0..SIDE as isize).contains(&row) || !(0..SIDE as isize).contains(&col) {
                continue;
            }
            let distance = ((col as f64 + 0.5 - x).powi(2) + (row as f64 + 0.5 - y).powi(2)).sqrt();
            let ink = (1.0 - (distance - PEN_RADIUS + 1.0).max(0.0)).clamp(0.0, 1.0);
            let cell = &mut pixels[row as usize * SIDE + col as usize];
            *cell = cell.max(ink);
        }
    }
}

/// Scales a drawing as MNIST digits are scaled: its bounding box to fit 20 × 20 with the
/// aspect ratio kept, then its centre of mass to the middle of the 28 × 28 image.
/// An empty drawing stays empty.
pub fn centre(pixels: &[f64]) -> Vec<f64> {
    let inked = |i: usize| pixels[i] > 0.05;
    let cells: Vec<usize> = (0..SIDE * SIDE).filter(|&i| inked(i)).collect();
    if cells.is_empty() {
        return vec![0.0; SIDE * SIDE];
    }
    let rows = cells.iter().map(|i| i / SIDE);
    let cols = cells.iter().map(|i| i % SIDE);
    let (top, bottom) = (rows.clone().min().unwrap_or(0), rows.max().unwrap_or(0));
    let (left, right) = (cols.clone().min().unwrap_or(0), cols.max().unwrap_or(0));
    let (height, width) = ((bottom - top + 1) as f64, (right - left + 1) as f64);
    let scale = BOX / height.max(width);

    // Sample the box at the scaled size by nearest neighbour, placed at the top left.
    let (scaled_h, scaled_w) = (
        (height * scale).round() as usize,
        (width * scale).round() as usize,
    );
    let mut scaled = vec![0.0; SIDE * SIDE];
    for row in 0..scaled_h.min(SIDE) {
        for col in 0..scaled_w.min(SIDE) {
            let source_row = top + ((row as f64 + 0.5) / scale) as usize;
            let source_col = left + ((col as f64 + 0.5) / scale) as usize;
            scaled[row * SIDE + col] =
                pixels[source_row.min(bottom) * SIDE + source_col.min(right)];
        }
    }

    // Shift so that the centre of mass lands on pixel (14, 14).
    let mass: f64 = scaled.iter().sum();
    let centre_of = |axis: fn(usize) -> usize| {
        scaled
            .iter()
            .enumerate()
            .map(|(i, v)| (axis(i) as f64 + 0.5) * v)
            .sum::<f64>()
            / mass
    };
    let shift_row = (SIDE as f64 / 2.0 - centre_of(|i| i / SIDE)).round() as isize;
    let shift_col = (SIDE as f64 / 2.0 - centre_of(|i| i % SIDE)).round() as isize;
    let mut centred = vec![0.0; SIDE * SIDE];
    for (index, value) in scaled.iter().enumerate() {
        let row = (index / SIDE) as isize + shift_row;
        let col = (index % SIDE) as isize + shift_col;
        if (0..SIDE as isize).contains(&row) && (0..SIDE as isize).contains(&col) {
            centred[row as usize * SIDE + col as usize] = *value;
        }
    }
    centred
}

/// Computes the class probabilities of `params` on the network `spec` for a `[1, 28, 28]` input.
///
/// Errors: weights that do not fit the network, or an input of another size.
pub fn predict(
    spec: &NetworkSpec,
    params: &[Option<LayerParams>],
    input: &Tensor,
) -> Result<Vec<f64>, String> {
    let network =
        cnn_core::Network::new(spec.clone(), params.to_vec()).map_err(|e| e.to_string())?;
    let pass = network.forward(input).map_err(|e| e.to_string())?;
    Ok(cnn_core::loss::softmax(pass.output()).data().to_vec())
}

#[derive(Properties, PartialEq)]
pub struct DrawPadProps {
    /// Called with the raw drawing (`SIDE × SIDE`, 0 to 1) after each stroke and on
    /// clearing.
    pub on_change: Callback<Rc<[f64]>>,
}

/// Shows a 28 × 28 pad to draw a digit on with a mouse, pen or finger.
#[component]
pub fn DrawPad(props: &DrawPadProps) -> Html {
    let canvas = use_node_ref();
    let pixels = use_mut_ref(|| vec![0.0; SIDE * SIDE]);
    // The last pen position while the pointer is down.
    let pen: Rc<RefCell<Option<(f64, f64)>>> = use_mut_ref(|| None);

    let position = |canvas: &NodeRef, event: &PointerEvent| {
        let element = canvas.cast::<HtmlCanvasElement>()?;
        let scale = SIDE as f64 / element.client_width().max(1) as f64;
        Some((
            event.offset_x() as f64 * scale,
            event.offset_y() as f64 * scale,
        ))
    };
    let draw_to = {
        let (canvas, pixels, pen) = (canvas.clone(), pixels.clone(), pen.clone());
        move |to: (f64, f64)| {
            let from = pen.borrow().unwrap_or(to);
            // Stamps every half pixel along the move, so that fast strokes stay whole.
            let distance = ((to.0 - from.0).powi(2) + (to.1 - from.1).powi(2)).sqrt();
            let count = (distance * 2.0).ceil().max(1.0) as usize;
            let mut values = pixels.borrow_mut();
            for i in 1..=count {
                let t = i as f64 / count as f64;
                stamp(
                    &mut values,
                    from.0 + t * (to.0 - from.0),
                    from.1 + t * (to.1 - from.1),
                );
            }
            *pen.borrow_mut() = Some(to);
            if let Some(element) = canvas.cast::<HtmlCanvasElement>() {
                if let Err(message) = paint(&element, &values, SIDE) {
                    web_sys::console::error_1(&message.into());
                }
            }
        }
    };
    let onpointerdown = {
        let (canvas, draw_to, pen) = (canvas.clone(), draw_to.clone(), pen.clone());
        Callback::from(move |event: PointerEvent| {
            event.prevent_default();
            if let Some(element) = canvas.cast::<HtmlCanvasElement>() {
                // Without capture a stroke that leaves the pad never ends.
                let _ = element.set_pointer_capture(event.pointer_id());
            }
            *pen.borrow_mut() = None;
            if let Some(at) = position(&canvas, &event) {
                draw_to(at);
            }
        })
    };
    let onpointermove = {
        let (canvas, pen) = (canvas.clone(), pen.clone());
        Callback::from(move |event: PointerEvent| {
            if pen.borrow().is_none() {
                return;
            }
            if let Some(at) = position(&canvas, &event) {
                draw_to(at);
            }
        })
    };
    let end_stroke = {
        let (pixels, pen, on_change) = (pixels.clone(), pen.clone(), props.on_change.clone());
        Callback::from(move |_: PointerEvent| {
            if pen.borrow_mut().take().is_some() {
                on_change.emit(Rc::from(pixels.borrow().clone()));
            }
        })
    };
    let clear = {
        let (canvas, pixels, on_change) = (canvas.clone(), pixels.clone(), props.on_change.clone());
        Callback::from(move |_: MouseEvent| {
            let mut values = pixels.borrow_mut();
            values.iter_mut().for_each(|v| *v = 0.0);
            if let Some(element) = canvas.cast::<HtmlCanvasElement>() {
                let _ = paint(&element, &values, SIDE);
            }
            on_change.emit(Rc::from(values.clone()));
        })
    };
    {
        let canvas = canvas.clone();
        use_effect_with((), move |_| {
            if let Some(element) = canvas.cast::<HtmlCanvasElement>() {
                let _ = paint(&element, &[], SIDE);
            }
        });
    }
    html! {
        <div class="draw-pad">
            <canvas ref={canvas} id="draw-pad" class="digit pad" width={SIDE.to_string()} height={SIDE.to_string()}
                role="img" aria-label="Drawing pad: draw a digit with the mouse, a pen or a finger"
                {onpointerdown} {onpointermove} onpointerup={end_stroke.clone()} onpointercancel={end_stroke} />
            <button type="button" onclick={clear}>{ "Clear the drawing" }</button>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn centre_of_mass(pixels: &[f64]) -> (f64, f64) {
        let mass: f64 = pixels.iter().sum();
        let row = pixels
            .iter()
            .enumerate()
            .map(|(i, v)| ((i / SIDE) as f64 + 0.5) * v)
            .sum::<f64>();
        let col = pixels
            .iter()
            .enumerate()
            .map(|(i, v)| ((i % SIDE) as f64 + 0.5) * v)
            .sum::<f64>();
        (row / mass, col / mass)
    }

    #[test]
    fn stamp_inks_around_the_pen() {
        let mut pixels = vec![0.0; SIDE * SIDE];
        stamp(&mut pixels, 10.5, 10.5);
        assert_eq!(pixels[10 * SIDE + 10], 1.0);
        assert!(pixels[10 * SIDE + 11] > 0.5);
        assert_eq!(pixels[10 * SIDE + 14], 0.0);
        stamp(&mut pixels, -5.0, 40.0);
        assert_eq!(pixels.iter().filter(|v| **v > 0.0).count(), 9);
    }

    #[test]
    fn centre_scales_and_moves_to_middle() {
        // A small square in the top-left corner.
        let mut pixels = vec![0.0; SIDE * SIDE];
        for row in 1..5 {
            for col in 2..6 {
                pixels[row * SIDE + col] = 1.0;
            }
        }
        let centred = centre(&pixels);
        let inked = centred.iter().filter(|v| **v > 0.0).count();
        assert_eq!(inked, 400, "the 4×4 square becomes 20×20");
        let (row, col) = centre_of_mass(&centred);
        assert!(
            (row - 14.0).abs() <= 0.5 && (col - 14.0).abs() <= 0.5,
            "{row}, {col}"
        );
    }

    #[test]
    fn centre_keeps_empty_drawing() {
        assert!(centre(&vec![0.0; SIDE * SIDE]).iter().all(|v| *v == 0.0));
    }

    #[test]
    fn predict_returns_probabilities() {
        let spec = crate::training::protocol::Settings::default().network();
        let network = cnn_core::Network::seeded(spec.clone(), 1).unwrap();
        let input = Tensor::zeros(&[1, SIDE, SIDE]);
        let probabilities = predict(&spec, network.params(), &input).unwrap();
        assert_eq!(probabilities.len(), 10);
        assert!((probabilities.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!(predict(&spec, &network.params()[1..], &input).is_err());
    }
}
