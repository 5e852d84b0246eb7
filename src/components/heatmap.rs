//! One 2-D map drawn as coloured cells on a canvas.

use std::rc::Rc;

use plotters::prelude::*;
use plotters_canvas::CanvasBackend;
use wasm_bindgen::JsValue;
use web_sys::HtmlCanvasElement;
use yew::prelude::*;

use crate::colormap;
use crate::format::short;

/// Longest side, in pixels, that a map may take on screen before its cells shrink.
const MAX_WIDTH: usize = 400;
const MAX_HEIGHT: usize = 112;

/// Side of one cell in pixels: as large as fits `MAX_WIDTH × MAX_HEIGHT`, from 2 to 16.
pub fn cell_size(rows: usize, cols: usize) -> usize {
    (MAX_WIDTH / cols.max(1))
        .min(MAX_HEIGHT / rows.max(1))
        .clamp(2, 16)
}

/// The pixel rectangle `[(left, top), (right, bottom)]` (right and bottom exclusive) of
/// cell `(row, col)`.
pub fn cell_rect(row: usize, col: usize, cell: usize) -> [(i32, i32); 2] {
    let (left, top) = ((col * cell) as i32, (row * cell) as i32);
    [(left, top), (left + cell as i32, top + cell as i32)]
}

#[derive(Properties, PartialEq)]
pub struct HeatmapProps {
    /// Row-major values, `rows × cols` of them.
    pub values: Rc<[f64]>,
    pub rows: usize,
    pub cols: usize,
    /// The colour scale runs from `−scale` to `+scale`.
    pub scale: f64,
    pub caption: AttrValue,
    /// Name of the trace tensor the map shows, as `data-tensor`.
    #[prop_or_default]
    pub tensor: AttrValue,
}

#[component]
pub fn Heatmap(props: &HeatmapProps) -> Html {
    let canvas = use_node_ref();
    let cell = cell_size(props.rows, props.cols);
    {
        let canvas = canvas.clone();
        let deps = (props.values.clone(), props.rows, props.cols, props.scale);
        use_effect_with(deps, move |(values, rows, cols, scale)| {
            if let Some(element) = canvas.cast::<HtmlCanvasElement>() {
                if let Err(message) = draw(element, values, *rows, *cols, *scale) {
                    web_sys::console::error_1(&JsValue::from_str(&message));
                }
            }
        });
    }
    let summary = text_alternative(&props.caption, &props.values, props.rows, props.cols);
    html! {
        <figure class="map">
            <canvas
                ref={canvas}
                class="heatmap"
                width={(props.cols * cell).to_string()}
                height={(props.rows * cell).to_string()}
                data-tensor={props.tensor.clone()}
                role="img"
                aria-label={summary}
            />
            <figcaption>{ props.caption.clone() }</figcaption>
        </figure>
    }
}

/// A one-line description of a map for screen readers: size, range and mean.
pub fn text_alternative(caption: &str, values: &[f64], rows: usize, cols: usize) -> String {
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    let non_finite = values.len() - finite.len();
    let min = finite.iter().copied().fold(f64::INFINITY, f64::min);
    let max = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mean = finite.iter().sum::<f64>() / finite.len().max(1) as f64;
    let mut text = format!("{caption}: {rows}×{cols} map");
    if !finite.is_empty() {
        text += &format!(
            ", min {}, max {}, mean {}",
            short(min),
            short(max),
            short(mean)
        );
    }
    if non_finite > 0 {
        text += &format!(", {non_finite} values not finite");
    }
    text
}

/// Draws `values` onto `canvas`, one `cell_size` square per value.
///
/// Errors: a canvas without a 2-D context, or a failed plotters call.
pub fn draw(
    canvas: HtmlCanvasElement,
    values: &[f64],
    rows: usize,
    cols: usize,
    scale: f64,
) -> Result<(), String> {
    let cell = cell_size(rows, cols);
    let backend = CanvasBackend::with_canvas_object(canvas)
        .ok_or("drawing a heatmap failed: the canvas has no 2-D context")?;
    let area = backend.into_drawing_area();
    for row in 0..rows {
        for col in 0..cols {
            let (r, g, b) = colormap::diverging(values[row * cols + col], scale);
            let [top_left, bottom_right] = cell_rect(row, col, cell);
            area.draw(&Rectangle::new(
                [top_left, bottom_right],
                RGBColor(r, g, b).filled(),
            ))
            .map_err(|e| format!("drawing a heatmap failed: {e}"))?;
        }
    }
    area.present()
        .map_err(|e| format!("drawing a heatmap failed: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cell_size_fits_the_box() {
        assert_eq!(cell_size(28, 28), 4);
        assert_eq!(cell_size(8, 8), 14);
        assert_eq!(cell_size(1, 10), 16);
        assert_eq!(cell_size(10, 192), 2);
        assert_eq!(cell_size(1000, 1000), 2);
    }

    #[test]
    fn cells_tile_without_gaps() {
        assert_eq!(cell_rect(0, 0, 4), [(0, 0), (4, 4)]);
        assert_eq!(cell_rect(2, 3, 4), [(12, 8), (16, 12)]);
    }

    #[test]
    fn text_alternative_names_range() {
        let text = text_alternative("δ", &[-1.0, 0.5, 2.0, f64::NAN], 2, 2);
        assert_eq!(
            text,
            "δ: 2×2 map, min −1, max 2, mean 0.5, 1 values not finite"
        );
    }
}
