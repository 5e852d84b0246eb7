//! The colour bar beside each group of maps: the scale from −m through 0 to +m.

use plotters::prelude::*;
use plotters_canvas::CanvasBackend;
use wasm_bindgen::JsValue;
use web_sys::HtmlCanvasElement;
use yew::prelude::*;

use crate::colormap;
use crate::format::short;

const WIDTH: usize = 120;
const HEIGHT: usize = 10;

#[derive(Properties, PartialEq)]
pub struct LegendProps {
    /// The bar runs from `−scale` to `+scale`.
    pub scale: f64,
}

#[component]
pub fn Legend(props: &LegendProps) -> Html {
    let canvas = use_node_ref();
    {
        let canvas = canvas.clone();
        // The bar is the same for every scale; only the labels change.
        use_effect_with((), move |_| {
            if let Some(element) = canvas.cast::<HtmlCanvasElement>() {
                if let Err(message) = draw(element) {
                    web_sys::console::error_1(&JsValue::from_str(&message));
                }
            }
        });
    }
    let low = short(-props.scale);
    let high = short(props.scale);
    html! {
        <div class="legend" role="img" aria-label={format!("colour scale from {low} (blue) through 0 (white) to {high} (red)")}>
            <span class="legend-low">{ low }</span>
            <canvas ref={canvas} class="legend-bar" width={WIDTH.to_string()} height={HEIGHT.to_string()} />
            <span class="legend-high">{ high }</span>
        </div>
    }
}

fn draw(canvas: HtmlCanvasElement) -> Result<(), String> {
    let backend = CanvasBackend::with_canvas_object(canvas)
        .ok_or("drawing a legend failed: the canvas has no 2-D context")?;
    let area = backend.into_drawing_area();
    for x in 0..WIDTH {
        // Column x shows the colour of its position on [−1, 1].
        let t = (x as f64 + 0.5) / WIDTH as f64 * 2.0 - 1.0;
        let (r, g, b) = colormap::diverging(t, 1.0);
        let rect = [(x as i32, 0), (x as i32 + 1, HEIGHT as i32)];
        area.draw(&Rectangle::new(rect, RGBColor(r, g, b).filled()))
            .map_err(|e| format!("drawing a legend failed: {e}"))?;
    }
    area.present()
        .map_err(|e| format!("drawing a legend failed: {e}"))
}
