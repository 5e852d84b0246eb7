//! Component tests in headless Chromium (`cargo test --target wasm32-unknown-unknown`):
//! the heatmap draws the colours of the scale, and the digit field rejects bad input.
#![cfg(target_arch = "wasm32")]

use std::rc::Rc;

use cnn_backprop_explorer::colormap;
use cnn_backprop_explorer::components::controls::{Controls, ControlsProps};
use cnn_backprop_explorer::components::heatmap::{cell_size, Heatmap, HeatmapProps};
use cnn_core::PoolKind;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;
use web_sys::{CanvasRenderingContext2d, Element, HtmlCanvasElement, HtmlInputElement};
use yew::Callback;

wasm_bindgen_test_configure!(run_in_browser);

/// Waits `ms` milliseconds, which lets Yew render and run effects.
async fn sleep(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        web_sys::window()
            .unwrap()
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms)
            .unwrap();
    });
    JsFuture::from(promise).await.unwrap();
}

fn fresh_root() -> Element {
    let document = web_sys::window().unwrap().document().unwrap();
    let root = document.create_element("div").unwrap();
    document.body().unwrap().append_child(&root).unwrap();
    root
}

fn pixel(canvas: &HtmlCanvasElement, x: f64, y: f64) -> (u8, u8, u8) {
    let context: CanvasRenderingContext2d = canvas
        .get_context("2d")
        .unwrap()
        .unwrap()
        .dyn_into()
        .unwrap();
    let data = context.get_image_data(x, y, 1.0, 1.0).unwrap().data();
    (data[0], data[1], data[2])
}

#[wasm_bindgen_test]
async fn heatmap_draws_scale_colours() {
    let root = fresh_root();
    let values: Rc<[f64]> = vec![-2.0, 0.0, 1.0, 2.0].into();
    let props = HeatmapProps {
        values,
        rows: 2,
        cols: 2,
        scale: 2.0,
        caption: "test map".into(),
        tensor: "grad_x".into(),
        highlights: Rc::from(vec![]),
        selected: None,
        on_select: None,
    };
    yew::Renderer::<Heatmap>::with_root_and_props(root.clone(), props).render();
    sleep(50).await;

    let canvas: HtmlCanvasElement = root
        .query_selector("canvas")
        .unwrap()
        .unwrap()
        .dyn_into()
        .unwrap();
    let cell = cell_size(2, 2) as f64;
    assert_eq!(canvas.width() as f64, 2.0 * cell);
    assert_eq!(
        canvas.get_attribute("data-tensor").as_deref(),
        Some("grad_x")
    );
    let centre =
        |row: f64, col: f64| pixel(&canvas, col * cell + cell / 2.0, row * cell + cell / 2.0);
    assert_eq!(centre(0.0, 0.0), colormap::diverging(-2.0, 2.0));
    assert_eq!(centre(0.0, 1.0), colormap::diverging(0.0, 2.0));
    assert_eq!(centre(1.0, 0.0), colormap::diverging(1.0, 2.0));
    assert_eq!(centre(1.0, 1.0), colormap::diverging(2.0, 2.0));
    let label = canvas.get_attribute("aria-label").unwrap();
    assert!(label.contains("min −2, max 2"), "{label}");
    let printed = root
        .query_selector(".cell-values")
        .unwrap()
        .unwrap()
        .text_content()
        .unwrap();
    assert_eq!(printed, "−2012");
}

#[wasm_bindgen_test]
async fn heatmap_click_selects_cell() {
    let root = fresh_root();
    let picked = Rc::new(std::cell::Cell::new(None));
    let on_select = {
        let picked = picked.clone();
        Callback::from(move |index: usize| picked.set(Some(index)))
    };
    let props = HeatmapProps {
        values: vec![0.0; 6].into(),
        rows: 2,
        cols: 3,
        scale: 1.0,
        caption: "clickable".into(),
        tensor: "x".into(),
        highlights: Rc::from(vec![]),
        selected: Some(0),
        on_select: Some(on_select),
    };
    yew::Renderer::<Heatmap>::with_root_and_props(root.clone(), props).render();
    sleep(50).await;

    let canvas: HtmlCanvasElement = root
        .query_selector("canvas")
        .unwrap()
        .unwrap()
        .dyn_into()
        .unwrap();
    let cell = cell_size(2, 3) as f64;
    let scale = canvas.client_width() as f64 / canvas.width() as f64;
    let init = web_sys::MouseEventInit::new();
    init.set_client_x((canvas.get_bounding_client_rect().left() + (2.5 * cell) * scale) as i32);
    init.set_client_y((canvas.get_bounding_client_rect().top() + (1.5 * cell) * scale) as i32);
    init.set_bubbles(true);
    let click = web_sys::MouseEvent::new_with_mouse_event_init_dict("click", &init).unwrap();
    canvas.dispatch_event(&click).unwrap();
    sleep(50).await;
    assert_eq!(picked.get(), Some(5), "row 1, column 2 of a 2×3 map");

    // The arrow keys move from the selected cell.
    let init = web_sys::KeyboardEventInit::new();
    init.set_key("ArrowRight");
    init.set_bubbles(true);
    let key = web_sys::KeyboardEvent::new_with_keyboard_event_init_dict("keydown", &init).unwrap();
    canvas.dispatch_event(&key).unwrap();
    sleep(50).await;
    assert_eq!(picked.get(), Some(1));
}

#[wasm_bindgen_test]
async fn digit_field_rejects_out_of_range() {
    let root = fresh_root();
    let picked = Rc::new(std::cell::Cell::new(None));
    let on_digit = {
        let picked = picked.clone();
        Callback::from(move |index: usize| picked.set(Some(index)))
    };
    let props = ControlsProps {
        pool: PoolKind::Max,
        has_pool: true,
        mixed_pools: false,
        digit: 3,
        digit_count: 10,
        on_pool: Callback::noop(),
        on_digit,
    };
    yew::Renderer::<Controls>::with_root_and_props(root.clone(), props).render();
    sleep(50).await;

    let input: HtmlInputElement = root
        .query_selector("#digit-index")
        .unwrap()
        .unwrap()
        .dyn_into()
        .unwrap();
    let change = || web_sys::Event::new("change").unwrap();
    input.set_value("12");
    input.dispatch_event(&change()).unwrap();
    sleep(50).await;
    let error = root.query_selector("#digit-error").unwrap().unwrap();
    let text = error.text_content().unwrap_or_default();
    assert!(text.contains("0 to 9"), "error text: {text:?}");
    assert_eq!(picked.get(), None);

    input.set_value("4");
    input.dispatch_event(&change()).unwrap();
    sleep(50).await;
    assert_eq!(picked.get(), Some(4));
    assert_eq!(error.text_content().unwrap_or_default(), "");
}
