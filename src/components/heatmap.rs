//! One 2-D map drawn as coloured cells on a canvas, with optional printed values, lit
//! cells, a selected cell, and selection by click, touch or keyboard.

use std::rc::Rc;

use plotters::prelude::*;
use plotters_canvas::CanvasBackend;
use wasm_bindgen::JsValue;
use web_sys::HtmlCanvasElement;
use yew::prelude::*;

use crate::colormap;
use crate::format::{compact, short};

/// Largest map, in cells per side, whose values are printed in the cells.
pub const NUMBERED_MAX: usize = 12;

/// Side of one cell in pixels. Maps that print their values get cells of 40 to 64 px
/// (fitting 560 × 480 px when they can), so that three significant digits and a sign stay
/// readable on a projector; other maps fit a 400 × 112 px box, 2 to 16 px.
pub fn cell_size(rows: usize, cols: usize) -> usize {
    if rows <= NUMBERED_MAX && cols <= NUMBERED_MAX {
        return (560 / cols.max(1)).min(480 / rows.max(1)).clamp(40, 64);
    }
    (400 / cols.max(1)).min(112 / rows.max(1)).clamp(2, 16)
}

/// The pixel rectangle `[(left, top), (right, bottom)]` (right and bottom exclusive) of
/// cell `(row, col)`.
pub fn cell_rect(row: usize, col: usize, cell: usize) -> [(i32, i32); 2] {
    let (left, top) = ((col * cell) as i32, (row * cell) as i32);
    [(left, top), (left + cell as i32, top + cell as i32)]
}

/// The cell under canvas pixel `(x, y)`, where the canvas is drawn at `scale` screen pixels
/// per canvas pixel.
pub fn cell_at(x: f64, y: f64, scale: f64, cell: usize, rows: usize, cols: usize) -> Option<usize> {
    if scale <= 0.0 || x < 0.0 || y < 0.0 {
        return None;
    }
    let col = (x / scale / cell as f64) as usize;
    let row = (y / scale / cell as f64) as usize;
    (row < rows && col < cols).then_some(row * cols + col)
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
    /// Cells (row-major indices) outlined as contributing to the selected value.
    #[prop_or_default]
    pub highlights: Rc<[usize]>,
    /// The selected cell, outlined twice.
    #[prop_or_default]
    pub selected: Option<usize>,
    /// Called with a cell's row-major index when it is clicked or chosen by keyboard.
    #[prop_or_default]
    pub on_select: Option<Callback<usize>>,
}

#[component]
pub fn Heatmap(props: &HeatmapProps) -> Html {
    let canvas = use_node_ref();
    let cell = cell_size(props.rows, props.cols);
    {
        let canvas = canvas.clone();
        let deps = (
            props.values.clone(),
            props.rows,
            props.cols,
            props.scale.to_bits(),
            props.highlights.clone(),
            props.selected,
        );
        use_effect_with(
            deps,
            move |(values, rows, cols, scale, highlights, selected)| {
                if let Some(element) = canvas.cast::<HtmlCanvasElement>() {
                    let marks = Marks {
                        highlights,
                        selected: *selected,
                    };
                    if let Err(message) = draw(
                        element,
                        values,
                        *rows,
                        *cols,
                        f64::from_bits(*scale),
                        &marks,
                    ) {
                        web_sys::console::error_1(&JsValue::from_str(&message));
                    }
                }
            },
        );
    }

    let (rows, cols) = (props.rows, props.cols);
    let onclick = props.on_select.clone().map(|on_select| {
        let canvas = canvas.clone();
        Callback::from(move |event: MouseEvent| {
            let Some(element) = canvas.cast::<HtmlCanvasElement>() else {
                return;
            };
            let scale = element.client_width() as f64 / element.width().max(1) as f64;
            let hit = cell_at(
                event.offset_x() as f64,
                event.offset_y() as f64,
                scale,
                cell,
                rows,
                cols,
            );
            if let Some(index) = hit {
                on_select.emit(index);
            }
        })
    });
    let onkeydown = props.on_select.clone().map(|on_select| {
        let current = props.selected.unwrap_or(0);
        Callback::from(move |event: KeyboardEvent| {
            let (row, col) = (current / cols.max(1), current % cols.max(1));
            let next = match event.key().as_str() {
                "ArrowLeft" if col > 0 => Some(current - 1),
                "ArrowRight" if col + 1 < cols => Some(current + 1),
                "ArrowUp" if row > 0 => Some(current - cols),
                "ArrowDown" if row + 1 < rows => Some(current + cols),
                "Enter" | " " => Some(current),
                _ => None,
            };
            if let Some(index) = next {
                // The arrows move the selection inside the map instead of stepping the
                // backward pass, which the page binds to the same keys.
                event.prevent_default();
                event.stop_propagation();
                on_select.emit(index);
            }
        })
    });
    let selectable = props.on_select.is_some();
    let summary = text_alternative(&props.caption, &props.values, rows, cols, props.selected);
    let numbered = rows <= NUMBERED_MAX && cols <= NUMBERED_MAX;
    // The wrapper has the canvas's width so that the printed values can size themselves
    // from it (a CSS size container) and shrink with it on narrow screens.
    let style = format!("--cols: {cols}; --rows: {rows}; width: {}px;", cols * cell);
    html! {
        <figure class="map">
            <div class={classes!("map-cells", numbered.then_some("numbered"))} {style}>
                <canvas
                    ref={canvas}
                    class={classes!("heatmap", selectable.then_some("selectable"))}
                    width={(cols * cell).to_string()}
                    height={(rows * cell).to_string()}
                    data-tensor={props.tensor.clone()}
                    data-rows={rows.to_string()}
                    data-cols={cols.to_string()}
                    role="img"
                    aria-label={summary}
                    tabindex={selectable.then_some("0")}
                    {onclick}
                    {onkeydown}
                />
                if numbered {
                    <div class="cell-values" aria-hidden="true">
                        { for props.values.iter().map(|v| html! { <span class={classes!(cell_class(*v, props.scale))}>{ compact(*v) }</span> }) }
                    </div>
                }
            </div>
            <figcaption>{ props.caption.clone() }</figcaption>
        </figure>
    }
}

/// The class of a printed value: light text on dark cells, so the number stays readable.
fn cell_class(v: f64, scale: f64) -> Option<&'static str> {
    if !v.is_finite() {
        return Some("not-finite");
    }
    let (r, g, b) = colormap::diverging(v, scale);
    let luminance = (0.2126 * r as f64 + 0.7152 * g as f64 + 0.0722 * b as f64) / 255.0;
    (luminance < 0.5).then_some("on-dark")
}

/// A description of a map for screen readers: its size and range, the selected cell,
/// and for maps small enough to print, every value row by row.
pub fn text_alternative(
    caption: &str,
    values: &[f64],
    rows: usize,
    cols: usize,
    selected: Option<usize>,
) -> String {
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
    if let Some(index) = selected.filter(|&i| i < values.len()) {
        text += &format!(
            ", selected row {} column {} = {}",
            index / cols.max(1),
            index % cols.max(1),
            short(values[index])
        );
    }
    if rows <= NUMBERED_MAX && cols <= NUMBERED_MAX {
        let lines: Vec<String> = values
            .chunks(cols.max(1))
            .map(|line| line.iter().map(|v| short(*v)).collect::<Vec<_>>().join(" "))
            .collect();
        text += &format!(". Values by row: {}", lines.join("; "));
    }
    text
}

/// Cells to outline on top of the colours.
pub struct Marks<'a> {
    pub highlights: &'a [usize],
    pub selected: Option<usize>,
}

/// Draws `values` onto `canvas`, one `cell_size` square per value, then the outlines.
/// Non-finite values are drawn black with a white cross, a mark no finite value gets.
///
/// Errors: a canvas without a 2-D context, or a failed plotters call.
pub fn draw(
    canvas: HtmlCanvasElement,
    values: &[f64],
    rows: usize,
    cols: usize,
    scale: f64,
    marks: &Marks,
) -> Result<(), String> {
    let cell = cell_size(rows, cols);
    let backend = CanvasBackend::with_canvas_object(canvas)
        .ok_or("drawing a heatmap failed: the canvas has no 2-D context")?;
    let area = backend.into_drawing_area();
    let failed = |e: DrawingAreaErrorKind<_>| format!("drawing a heatmap failed: {e}");
    for row in 0..rows {
        for col in 0..cols {
            let v = values[row * cols + col];
            let (r, g, b) = colormap::diverging(v, scale);
            let [top_left, bottom_right] = cell_rect(row, col, cell);
            area.draw(&Rectangle::new(
                [top_left, bottom_right],
                RGBColor(r, g, b).filled(),
            ))
            .map_err(failed)?;
            if !v.is_finite() {
                let (x0, y0) = top_left;
                let (x1, y1) = (bottom_right.0 - 1, bottom_right.1 - 1);
                area.draw(&PathElement::new(vec![(x0, y0), (x1, y1)], WHITE))
                    .map_err(failed)?;
                area.draw(&PathElement::new(vec![(x0, y1), (x1, y0)], WHITE))
                    .map_err(failed)?;
            }
        }
    }
    for &index in marks.highlights.iter().filter(|&&i| i < rows * cols) {
        let [top_left, bottom_right] = cell_rect(index / cols, index % cols, cell);
        let outline = [top_left, (bottom_right.0 - 1, bottom_right.1 - 1)];
        area.draw(&Rectangle::new(outline, BLACK.stroke_width(2)))
            .map_err(failed)?;
    }
    if let Some(index) = marks.selected.filter(|&i| i < rows * cols) {
        let [(x0, y0), (x1, y1)] = cell_rect(index / cols, index % cols, cell);
        area.draw(&Rectangle::new(
            [(x0, y0), (x1 - 1, y1 - 1)],
            BLACK.stroke_width(3),
        ))
        .map_err(failed)?;
        let inner = [(x0 + 2, y0 + 2), (x1 - 3, y1 - 3)];
        area.draw(&Rectangle::new(inner, WHITE.stroke_width(1)))
            .map_err(failed)?;
    }
    area.present().map_err(failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cell_size_fits_the_box() {
        assert_eq!(cell_size(28, 28), 4);
        assert_eq!(cell_size(24, 24), 4);
        assert_eq!(cell_size(1, 10), 56);
        assert_eq!(cell_size(12, 12), 40);
        assert_eq!(cell_size(3, 3), 64);
        assert_eq!(cell_size(10, 192), 2);
        assert_eq!(cell_size(1000, 1000), 2);
    }

    #[test]
    fn cells_tile_without_gaps() {
        assert_eq!(cell_rect(0, 0, 4), [(0, 0), (4, 4)]);
        assert_eq!(cell_rect(2, 3, 4), [(12, 8), (16, 12)]);
    }

    #[test]
    fn cell_at_inverts_cell_rect() {
        assert_eq!(cell_at(13.0, 9.0, 1.0, 4, 5, 5), Some(2 * 5 + 3));
        // Drawn at half size, screen pixel (6, 4) is canvas pixel (12, 8).
        assert_eq!(cell_at(6.0, 4.0, 0.5, 4, 5, 5), Some(2 * 5 + 3));
        assert_eq!(cell_at(40.0, 0.0, 1.0, 4, 5, 5), None);
        assert_eq!(cell_at(-1.0, 0.0, 1.0, 4, 5, 5), None);
    }

    #[test]
    fn text_alternative_names_range_and_values() {
        let text = text_alternative("δ", &[-1.0, 0.5, 2.0, f64::NAN], 2, 2, Some(1));
        assert_eq!(
            text,
            "δ: 2×2 map, min −1, max 2, mean 0.5, 1 values not finite, selected row 0 column 1 = 0.5. Values by row: −1 0.5; 2 NaN"
        );
    }
}
