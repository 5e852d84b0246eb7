//! The input editor. A drawing grid shows one channel of the input map x and takes mouse,
//! touch or pen strokes (pointer events) and the keyboard. Beside it are a field for the
//! selected cell, a table of every value, Clear, seeded Random, and an image file that
//! the browser decodes.

use std::rc::Rc;

use cnn_core::Tensor;
use wasm_bindgen::JsCast;
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement, HtmlInputElement, PointerEvent};
use yew::prelude::*;

use super::fields::{value_text, NumberField, Rule, ValueGrid};
use super::fit::random_tensor;
use super::image::{decode_file, pixels_to_tensor};
use crate::colormap;
use crate::format::short;
use crate::limits::Range;

#[derive(Properties, PartialEq)]
pub struct InputEditorProps {
    /// The input on screen, `[C, H, W]`.
    pub input: Rc<Tensor>,
    /// The test digit's index when the input is a test digit.
    pub digit: Option<usize>,
    /// Called with new input values of the same shape.
    pub on_input: Callback<Tensor>,
}

/// The pointer's action on the grid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tool {
    Draw,
    Erase,
    Select,
}

/// A pointer stroke in progress: the values painted so far, drawn on the canvas without
/// rerunning the network until the pointer is lifted.
struct Stroke {
    x: Tensor,
    pointer: i32,
    last: (usize, usize),
    changed: bool,
}

/// A message about the last image file.
#[derive(Clone, Debug, PartialEq)]
struct FileMessage {
    error: bool,
    text: String,
}

/// Returns the side of one grid cell in canvas pixels, about 288 pixels for the longer
/// side of the map.
fn cell_pixels(rows: usize, cols: usize) -> usize {
    (288 / rows.max(cols).max(1)).clamp(6, 48)
}

/// Lists the cells on a straight line from `from` to `to`, both included, so that a fast
/// stroke leaves no gaps between the pointer events.
pub fn cells_between(from: (usize, usize), to: (usize, usize)) -> Vec<(usize, usize)> {
    let (dr, dc) = (to.0 as f64 - from.0 as f64, to.1 as f64 - from.1 as f64);
    let steps = dr.abs().max(dc.abs()) as usize;
    if steps == 0 {
        return vec![to];
    }
    (0..=steps)
        .map(|t| {
            let f = t as f64 / steps as f64;
            (
                (from.0 as f64 + dr * f).round() as usize,
                (from.1 as f64 + dc * f).round() as usize,
            )
        })
        .collect()
}

/// Sets cell `(row, col)` of channel `channel` to `value`; returns whether it changed.
fn paint(x: &mut Tensor, channel: usize, (row, col): (usize, usize), value: f64) -> bool {
    let flat = x.flat_index(&[channel, row, col]);
    match flat {
        Some(flat) if x.data()[flat] != value => {
            x.data_mut()[flat] = value;
            true
        }
        _ => false,
    }
}

fn shape3(x: &Tensor) -> [usize; 3] {
    match *x.shape() {
        [c, h, w] => [c, h, w],
        _ => [1, 1, x.len().max(1)],
    }
}

/// Draws channel `channel` of `x` on `canvas` with the maps' colour scale, a grid and the
/// selected cell outlined.
fn draw(canvas: &HtmlCanvasElement, x: &Tensor, channel: usize, selected: (usize, usize)) {
    let [_, rows, cols] = shape3(x);
    let cell = cell_pixels(rows, cols);
    let (width, height) = ((cols * cell) as u32, (rows * cell) as u32);
    if canvas.width() != width || canvas.height() != height {
        canvas.set_width(width);
        canvas.set_height(height);
    }

    let Some(context) = canvas
        .get_context("2d")
        .ok()
        .flatten()
        .and_then(|c| c.dyn_into::<CanvasRenderingContext2d>().ok())
    else {
        return;
    };

    // The scale covers at least 0..1, so that drawn ink looks the same on any input.
    let scale = x.max_abs().max(1.0);
    let size = cell as f64;
    for row in 0..rows {
        for col in 0..cols {
            let value = x.get(&[channel, row, col]).unwrap_or(0.0);
            context.set_fill_style_str(&colormap::css(colormap::diverging(value, scale)));
            context.fill_rect(col as f64 * size, row as f64 * size, size, size);
        }
    }

    // Grid lines only where cells are large enough to keep their colour visible.
    if cell >= 8 {
        context.set_stroke_style_str("rgba(0, 0, 0, 0.15)");
        context.set_line_width(1.0);
        for row in 0..=rows {
            context.begin_path();
            context.move_to(0.0, row as f64 * size + 0.5);
            context.line_to(width as f64, row as f64 * size + 0.5);
            context.stroke();
        }
        for col in 0..=cols {
            context.begin_path();
            context.move_to(col as f64 * size + 0.5, 0.0);
            context.line_to(col as f64 * size + 0.5, height as f64);
            context.stroke();
        }
    }

    // A white ring inside a black one shows on both dark and light cells.
    let (left, top) = (selected.1 as f64 * size, selected.0 as f64 * size);
    context.set_line_width(2.0);
    context.set_stroke_style_str("#000000");
    context.stroke_rect(left + 1.0, top + 1.0, size - 2.0, size - 2.0);
    context.set_stroke_style_str("#ffffff");
    context.stroke_rect(left + 3.0, top + 3.0, size - 6.0, size - 6.0);
}

/// Finds the grid cell under a pointer event, clamped to the grid.
fn cell_under(
    canvas: &HtmlCanvasElement,
    event: &PointerEvent,
    rows: usize,
    cols: usize,
) -> (usize, usize) {
    let rect = canvas.get_bounding_client_rect();
    let fraction = |offset: f64, size: f64| if size > 0.0 { offset / size } else { 0.0 };
    let fx = fraction(event.client_x() as f64 - rect.left(), rect.width());
    let fy = fraction(event.client_y() as f64 - rect.top(), rect.height());
    let index =
        |f: f64, n: usize| ((f * n as f64).floor().max(0.0) as usize).min(n.saturating_sub(1));
    (index(fy, rows), index(fx, cols))
}

#[component]
pub fn InputEditor(props: &InputEditorProps) -> Html {
    let [chans, rows, cols] = shape3(&props.input);
    let channel_state = use_state(|| 0usize);
    let selected_state = use_state(|| (0usize, 0usize));
    let tool = use_state(|| Tool::Draw);
    let brush = use_state(|| 1.0f64);
    let seed = use_state(|| 1u64);
    let invert = use_state(|| false);
    let file_message = use_state(|| None::<FileMessage>);
    let table_open = use_state(|| false);
    let stroke = use_mut_ref(|| None::<Stroke>);
    let latest = use_mut_ref(|| props.input.clone());
    *latest.borrow_mut() = props.input.clone();
    let canvas = use_node_ref();

    let channel = (*channel_state).min(chans.saturating_sub(1));
    let selected = (
        selected_state.0.min(rows.saturating_sub(1)),
        selected_state.1.min(cols.saturating_sub(1)),
    );
    let selected_value = props
        .input
        .get(&[channel, selected.0, selected.1])
        .unwrap_or(0.0);

    // Effect: draw the grid whenever the values, the channel or the selection change.
    {
        let canvas = canvas.clone();
        use_effect_with(
            (props.input.clone(), channel, selected),
            move |(x, channel, selected)| {
                if let Some(element) = canvas.cast::<HtmlCanvasElement>() {
                    draw(&element, x, *channel, *selected);
                }
            },
        );
    }

    let paint_value = {
        let (tool, brush) = (*tool, *brush);
        move || if tool == Tool::Erase { 0.0 } else { brush }
    };
    let set_cell = {
        let (on_input, latest) = (props.on_input.clone(), latest.clone());
        move |cell: (usize, usize), value: f64| {
            let mut x = (**latest.borrow()).clone();
            if paint(&mut x, channel, cell, value) {
                on_input.emit(x);
            }
        }
    };

    let onpointerdown = {
        let (canvas, stroke, latest, selected_state) = (
            canvas.clone(),
            stroke.clone(),
            latest.clone(),
            selected_state.clone(),
        );
        let (tool, value) = (*tool, paint_value());
        Callback::from(move |event: PointerEvent| {
            // Only the main button of a mouse draws; touch and pen report button 0 too.
            if event.button() != 0 {
                return;
            }
            let Some(element) = canvas.cast::<HtmlCanvasElement>() else {
                return;
            };
            event.prevent_default();
            // Capturing keeps the stroke's events coming when the pointer leaves the grid.
            let _ = element.set_pointer_capture(event.pointer_id());
            let _ = element.focus();
            let cell = cell_under(&element, &event, rows, cols);
            selected_state.set(cell);
            if tool == Tool::Select {
                return;
            }
            let mut x = (**latest.borrow()).clone();
            let changed = paint(&mut x, channel, cell, value);
            draw(&element, &x, channel, cell);
            *stroke.borrow_mut() = Some(Stroke {
                x,
                pointer: event.pointer_id(),
                last: cell,
                changed,
            });
        })
    };
    let onpointermove = {
        let (canvas, stroke) = (canvas.clone(), stroke.clone());
        let value = paint_value();
        Callback::from(move |event: PointerEvent| {
            let mut guard = stroke.borrow_mut();
            let Some(active) = guard.as_mut().filter(|s| s.pointer == event.pointer_id()) else {
                return;
            };
            let Some(element) = canvas.cast::<HtmlCanvasElement>() else {
                return;
            };
            let cell = cell_under(&element, &event, rows, cols);
            if cell == active.last {
                return;
            }
            for step in cells_between(active.last, cell) {
                active.changed |= paint(&mut active.x, channel, step, value);
            }
            active.last = cell;
            draw(&element, &active.x, channel, cell);
        })
    };
    let end_stroke = |keep: bool| {
        let (canvas, stroke, latest) = (canvas.clone(), stroke.clone(), latest.clone());
        let (on_input, selected_state) = (props.on_input.clone(), selected_state.clone());
        Callback::from(move |event: PointerEvent| {
            let finished = {
                let mut guard = stroke.borrow_mut();
                match guard.as_ref() {
                    Some(s) if s.pointer == event.pointer_id() => guard.take(),
                    _ => None,
                }
            };
            let Some(finished) = finished else {
                return;
            };
            selected_state.set(finished.last);
            if keep && finished.changed {
                on_input.emit(finished.x);
            } else if let Some(element) = canvas.cast::<HtmlCanvasElement>() {
                // A cancelled stroke (the browser took the pointer over) is undone.
                draw(&element, &latest.borrow(), channel, finished.last);
            }
        })
    };
    let onkeydown = {
        let (selected_state, set_cell) = (selected_state.clone(), set_cell.clone());
        let value = paint_value();
        Callback::from(move |event: KeyboardEvent| {
            let (row, col) = selected;
            let moved = match event.key().as_str() {
                "ArrowUp" => Some((row.saturating_sub(1), col)),
                "ArrowDown" => Some(((row + 1).min(rows.saturating_sub(1)), col)),
                "ArrowLeft" => Some((row, col.saturating_sub(1))),
                "ArrowRight" => Some((row, (col + 1).min(cols.saturating_sub(1)))),
                _ => None,
            };
            if let Some(cell) = moved {
                // The arrows move the selected cell instead of stepping the backward pass.
                event.prevent_default();
                event.stop_propagation();
                selected_state.set(cell);
                return;
            }
            match event.key().as_str() {
                "Enter" | " " => set_cell(selected, value),
                "Delete" | "Backspace" => set_cell(selected, 0.0),
                _ => return,
            }
            event.prevent_default();
        })
    };

    let on_channel = {
        let channel_state = channel_state.clone();
        Callback::from(move |event: Event| {
            let select: web_sys::HtmlSelectElement = event.target_unchecked_into();
            if let Ok(c) = select.value().parse::<usize>() {
                channel_state.set(c);
            }
        })
    };
    let set_tool = |value: Tool| {
        let tool = tool.clone();
        Callback::from(move |_: Event| tool.set(value))
    };
    let on_row = {
        let selected_state = selected_state.clone();
        Callback::from(move |row: f64| selected_state.set((row as usize, selected.1)))
    };
    let on_col = {
        let selected_state = selected_state.clone();
        Callback::from(move |col: f64| selected_state.set((selected.0, col as usize)))
    };
    let on_value = {
        let set_cell = set_cell.clone();
        Callback::from(move |value: f64| set_cell(selected, value))
    };
    let on_brush = {
        let brush = brush.clone();
        Callback::from(move |value: f64| brush.set(value))
    };
    let on_seed = {
        let seed = seed.clone();
        Callback::from(move |value: f64| seed.set(value as u64))
    };
    let on_clear = {
        let on_input = props.on_input.clone();
        let shape = props.input.shape().to_vec();
        Callback::from(move |_: MouseEvent| on_input.emit(Tensor::zeros(&shape)))
    };
    let on_random = {
        let on_input = props.on_input.clone();
        let (shape, seed) = (props.input.shape().to_vec(), *seed);
        Callback::from(move |_: MouseEvent| on_input.emit(random_tensor(&shape, seed, 0.0, 1.0)))
    };
    let on_invert = {
        let invert = invert.clone();
        Callback::from(move |event: Event| {
            let field: HtmlInputElement = event.target_unchecked_into();
            invert.set(field.checked());
        })
    };
    let on_file = {
        let (on_input, latest, file_message) =
            (props.on_input.clone(), latest.clone(), file_message.clone());
        let invert = *invert;
        Callback::from(move |event: Event| {
            let field: HtmlInputElement = event.target_unchecked_into();
            let Some(file) = field.files().and_then(|files| files.get(0)) else {
                return;
            };
            // Clearing the field lets the same file be chosen again after an edit.
            field.set_value("");
            let shape = shape3(&latest.borrow());
            let (on_input, latest, file_message) =
                (on_input.clone(), latest.clone(), file_message.clone());
            file_message.set(Some(FileMessage {
                error: false,
                text: format!("Decoding “{}”…", file.name()),
            }));
            wasm_bindgen_futures::spawn_local(async move {
                let result = decode_file(&file, shape[1], shape[2]).await;
                let message = match result {
                    Ok(_) if shape3(&latest.borrow()) != shape => FileMessage {
                        error: true,
                        text: "The input shape changed while the image was decoding; choose the file again.".into(),
                    },
                    Ok(rgba) => {
                        on_input.emit(pixels_to_tensor(&rgba, shape, invert));
                        FileMessage {
                            error: false,
                            text: format!(
                                "Loaded “{}”, scaled to {} × {} cells.",
                                file.name(),
                                shape[2],
                                shape[1]
                            ),
                        }
                    }
                    Err(text) => FileMessage { error: true, text },
                };
                file_message.set(Some(message));
            });
        })
    };
    let on_table_toggle = {
        let table_open = table_open.clone();
        Callback::from(move |event: Event| {
            let details: web_sys::HtmlDetailsElement = event.target_unchecked_into();
            table_open.set(details.open());
        })
    };

    let plane: Rc<[f64]> = props.input.channel(channel).into();
    let grid_label = format!(
        "Input x, channel {channel}: {rows} × {cols} cells from {} to {}. Selected cell x[{channel}][{}][{}] = {}. \
         The arrow keys move the selected cell, Enter or Space paints it with the brush value, Delete sets it to 0.",
        short(plane.iter().copied().fold(f64::INFINITY, f64::min)),
        short(plane.iter().copied().fold(f64::NEG_INFINITY, f64::max)),
        selected.0,
        selected.1,
        short(selected_value),
    );
    let table = if *table_open {
        let labels: Rc<[String]> = (0..rows * cols)
            .map(|i| format!("x[{channel}][{}][{}]", i / cols, i % cols))
            .collect();
        let on_change = {
            let (on_input, latest) = (props.on_input.clone(), latest.clone());
            Callback::from(move |(index, value): (usize, f64)| {
                let mut x = (**latest.borrow()).clone();
                if paint(&mut x, channel, (index / cols, index % cols), value) {
                    on_input.emit(x);
                }
            })
        };
        html! {
            <ValueGrid key={format!("{channel}-{rows}-{cols}")} values={plane.clone()} {cols} {labels}
                caption={format!("x[{channel}]")} id="x-cell" {on_change} />
        }
    } else {
        Html::default()
    };
    let tool_radio = |value: Tool, id: &'static str, label: &'static str| {
        html! {
            <label class="choice">
                <input type="radio" name="input-tool" {id} checked={*tool == value} onchange={set_tool(value)} />
                { label }
            </label>
        }
    };

    html! {
        <div class="input-editor">
            if let Some(index) = props.digit {
                <p class="hint">{ format!(
                    "The input is test digit {index}, scaled to {rows} × {cols}. Drawing, typing or loading a file \
                     replaces it with your own values; the test digit field brings a digit back."
                ) }</p>
            }
            <div class="input-tools">
                if chans > 1 {
                    <div class="number-field">
                        <label for="input-channel">{ "Channel c" }</label>
                        <select id="input-channel" onchange={on_channel}>
                            { for (0..chans).map(|c| html! {
                                <option value={c.to_string()} selected={c == channel}>{ c }</option>
                            }) }
                        </select>
                    </div>
                }
                <fieldset class="choices">
                    <legend>{ "Pointer" }</legend>
                    { tool_radio(Tool::Draw, "tool-draw", "Draw") }
                    { tool_radio(Tool::Erase, "tool-erase", "Erase (0)") }
                    { tool_radio(Tool::Select, "tool-select", "Select a cell") }
                </fieldset>
                <NumberField id="brush-value" label="Brush value" name="Brush value" rule={Rule::Value}
                    value={value_text(*brush)} on_commit={on_brush} />
            </div>
            <canvas
                ref={canvas.clone()}
                id="input-grid"
                class="input-grid selectable"
                width={(cols * cell_pixels(rows, cols)).to_string()}
                height={(rows * cell_pixels(rows, cols)).to_string()}
                role="img"
                aria-label={grid_label}
                tabindex="0"
                {onpointerdown}
                {onpointermove}
                onpointerup={end_stroke(true)}
                onpointercancel={end_stroke(false)}
                {onkeydown}
            />
            <div class="cell-fields">
                <NumberField id="cell-row" label="Row i" name="Row i" rule={Rule::Whole(Range { min: 0, max: rows.saturating_sub(1) })}
                    value={selected.0.to_string()} on_commit={on_row} />
                <NumberField id="cell-col" label="Column j" name="Column j" rule={Rule::Whole(Range { min: 0, max: cols.saturating_sub(1) })}
                    value={selected.1.to_string()} on_commit={on_col} />
                <NumberField id="input-cell-value" label={format!("Value of x[{channel}][{}][{}]", selected.0, selected.1)}
                    name={format!("x[{channel}][{}][{}]", selected.0, selected.1)} rule={Rule::Value}
                    value={value_text(selected_value)} on_commit={on_value} />
            </div>
            <div class="input-buttons">
                <button type="button" id="input-clear" onclick={on_clear}>{ "Clear (all 0)" }</button>
                <button type="button" id="input-random" onclick={on_random}>{ "Random (seed)" }</button>
                <NumberField id="input-seed" label="Seed" name="Seed" rule={Rule::Seed}
                    value={seed.to_string()} on_commit={on_seed} />
            </div>
            <div class="input-file">
                <label for="input-file">{ "Image file (scaled to W × H)" }</label>
                <input type="file" id="input-file" accept="image/*" onchange={on_file} />
                <label class="choice">
                    <input type="checkbox" id="input-invert" checked={*invert} onchange={on_invert} />
                    { "Light ink on a dark background (invert)" }
                </label>
                if let Some(message) = (*file_message).clone() {
                    <p id="input-file-message" class={classes!(message.error.then_some("field-error"))}
                        role={if message.error { "alert" } else { "status" }}>{ message.text }</p>
                }
            </div>
            <details class="value-table" id="input-table" ontoggle={on_table_toggle}>
                <summary>{ format!("All values of channel {channel} as fields") }</summary>
                { table }
            </details>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_has_no_gaps() {
        let cells = cells_between((0, 0), (3, 1));
        assert_eq!(cells.first(), Some(&(0, 0)));
        assert_eq!(cells.last(), Some(&(3, 1)));
        assert_eq!(cells.len(), 4);
        for pair in cells.windows(2) {
            assert!(pair[0].0.abs_diff(pair[1].0) <= 1, "rows {pair:?}");
            assert!(pair[0].1.abs_diff(pair[1].1) <= 1, "columns {pair:?}");
        }
    }

    #[test]
    fn same_cell_is_one_cell() {
        assert_eq!(cells_between((2, 2), (2, 2)), vec![(2, 2)]);
    }

    #[test]
    fn paint_reports_change() {
        let mut x = Tensor::zeros(&[1, 2, 2]);
        assert!(paint(&mut x, 0, (1, 0), 1.0));
        assert!(!paint(&mut x, 0, (1, 0), 1.0));
        assert!(!paint(&mut x, 0, (5, 0), 1.0));
        assert_eq!(x.data(), &[0.0, 0.0, 1.0, 0.0]);
    }

    #[test]
    fn cell_size_fits_the_longer_side() {
        assert_eq!(cell_pixels(28, 28), 10);
        assert_eq!(cell_pixels(1, 1), 48);
        assert_eq!(cell_pixels(32, 4), 9);
    }
}
