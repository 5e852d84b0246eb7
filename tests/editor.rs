//! Browser tests of the editor (`cargo test --target wasm32-unknown-unknown --test editor`).
//! Each test mounts the editor under a small host that plays the page's part: it rebuilds
//! the session with the core from every document the editor applies. The test then types,
//! clicks and draws, and reads the DOM and the applied documents.
#![cfg(target_arch = "wasm32")]

use std::cell::RefCell;
use std::rc::Rc;

use cnn_backprop_explorer::components::editor::Editor;
use cnn_backprop_explorer::state::{Session, SharedTrace};
use cnn_core::document::{Document, InputSource, WeightSource};
use cnn_core::{tutorial, LayerSpec, Loss, Network, Objective, Tensor, Trace};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;
use web_sys::{Element, HtmlElement, HtmlInputElement, HtmlSelectElement};
use yew::prelude::*;

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

/// Builds the session of a document with typed input values and seeded or typed weights,
/// as `state::build` does for them.
fn session_for(document: &Document) -> Result<Session, String> {
    let InputSource::Values(x) = &document.input else {
        return Err("the host supports typed inputs only".into());
    };
    let network = match &document.weights {
        WeightSource::Seeded(seed) => Network::seeded(document.network.clone(), *seed),
        WeightSource::Values(params) => Network::new(document.network.clone(), params.clone()),
        WeightSource::Trained(_) => return Err("the host has no trained weights".into()),
    }
    .map_err(|e| e.to_string())?;
    let trace = Trace::record(&network, x, &document.objective).map_err(|e| e.to_string())?;
    Ok(Session {
        network: Rc::new(network),
        input: Rc::new(x.clone()),
        objective: Rc::new(document.objective.clone()),
        trace: SharedTrace(Rc::new(trace)),
        digit_label: None,
    })
}

/// Every document the editor applied, and whether the host could build it.
type Log = Rc<RefCell<Vec<(Document, Result<(), String>)>>>;

#[derive(Properties, PartialEq)]
struct HostProps {
    start: Document,
    log: Log,
}

/// Plays the page: shows a document, and replaces it with each applied one it can build.
#[component]
fn Host(props: &HostProps) -> Html {
    let document = use_state(|| props.start.clone());
    let session = session_for(&document).ok();
    let on_apply = {
        let (document, log) = (document.clone(), props.log.clone());
        Callback::from(move |next: Document| {
            let built = session_for(&next).map(|_| ());
            log.borrow_mut().push((next.clone(), built.clone()));
            if built.is_ok() {
                document.set(next);
            }
        })
    };
    html! { <Editor document={(*document).clone()} {session} {on_apply} /> }
}

/// Mounts the editor on `start` in a fresh element and waits for the first render.
async fn mount(start: Document) -> (Element, Log) {
    let document = web_sys::window().unwrap().document().unwrap();
    let root = document.create_element("div").unwrap();
    document.body().unwrap().append_child(&root).unwrap();
    let log: Log = Rc::default();
    let props = HostProps {
        start,
        log: log.clone(),
    };
    yew::Renderer::<Host>::with_root_and_props(root.clone(), props).render();
    sleep(60).await;
    (root, log)
}

fn preset(id: &str) -> Document {
    tutorial::preset(id).unwrap().document
}

fn find(root: &Element, selector: &str) -> Element {
    root.query_selector(selector)
        .unwrap()
        .unwrap_or_else(|| panic!("no element matches {selector}"))
}

fn text(root: &Element, selector: &str) -> String {
    find(root, selector).text_content().unwrap_or_default()
}

fn event(name: &str) -> web_sys::Event {
    let init = web_sys::EventInit::new();
    init.set_bubbles(true);
    web_sys::Event::new_with_event_init_dict(name, &init).unwrap()
}

/// Types `value` into a field and commits it, as Enter or leaving the field does.
async fn type_into(root: &Element, selector: &str, value: &str) {
    let input: HtmlInputElement = find(root, selector).dyn_into().unwrap();
    input.set_value(value);
    input.dispatch_event(&event("input")).unwrap();
    sleep(20).await;
    input.dispatch_event(&event("change")).unwrap();
    sleep(60).await;
}

/// Types `value` into a field without committing it.
async fn type_only(root: &Element, selector: &str, value: &str) {
    let input: HtmlInputElement = find(root, selector).dyn_into().unwrap();
    input.set_value(value);
    input.dispatch_event(&event("input")).unwrap();
    sleep(40).await;
}

async fn click(root: &Element, selector: &str) {
    let element: HtmlElement = find(root, selector).dyn_into().unwrap();
    element.click();
    sleep(60).await;
}

async fn choose(root: &Element, selector: &str, value: &str) {
    let select: HtmlSelectElement = find(root, selector).dyn_into().unwrap();
    select.set_value(value);
    select.dispatch_event(&event("change")).unwrap();
    sleep(60).await;
}

fn last(log: &Log) -> Document {
    let log = log.borrow();
    let (document, built) = log.last().expect("a document was applied");
    assert_eq!(built, &Ok(()), "the applied document builds");
    document.clone()
}

fn conv_kernels(document: &Document, layer: usize) -> usize {
    match &document.network.layers[layer] {
        LayerSpec::Conv(conv) => conv.kernels,
        other => panic!("layer {layer} is {other:?}"),
    }
}

fn input_values(document: &Document) -> Tensor {
    match &document.input {
        InputSource::Values(x) => x.clone(),
        InputSource::Digit(index) => panic!("digit {index} instead of values"),
    }
}

#[wasm_bindgen_test]
async fn out_of_range_kernels_show_message() {
    let (root, log) = mount(preset("one-stage")).await;
    type_into(&root, "#layer-0-kernels", "99").await;

    let message = text(&root, "#layer-0-kernels-error");
    assert!(message.contains("99 is out of range"), "{message}");
    assert!(message.contains("from 1 to 8"), "{message}");
    let field = find(&root, "#layer-0-kernels");
    assert_eq!(field.get_attribute("aria-invalid").as_deref(), Some("true"));
    assert_eq!(
        field.get_attribute("aria-describedby").as_deref(),
        Some("layer-0-kernels-error")
    );
    assert!(log.borrow().is_empty(), "nothing is applied");
}

#[wasm_bindgen_test]
async fn message_shows_while_typing() {
    let (root, log) = mount(preset("one-stage")).await;
    type_only(&root, "#layer-0-padding-h", "4").await;
    let message = text(&root, "#layer-0-padding-h-error");
    assert!(message.contains("from 0 to 3"), "{message}");
    type_only(&root, "#layer-0-padding-h", "1").await;
    assert!(root
        .query_selector("#layer-0-padding-h-error")
        .unwrap()
        .is_none());
    assert!(log.borrow().is_empty(), "typing alone applies nothing");
}

#[wasm_bindgen_test]
async fn valid_kernels_edit_applies_network() {
    let (root, log) = mount(preset("one-stage")).await;
    type_into(&root, "#layer-0-kernels", "3").await;

    let document = last(&log);
    assert_eq!(conv_kernels(&document, 0), 3);
    let Objective::Upstream(g) = &document.objective else {
        panic!("upstream gradient expected");
    };
    assert_eq!(g.shape(), &[3, 2, 2], "δ follows the new output shape");
    let note = text(&root, "#editor-note");
    assert!(note.contains("resized to [3, 2, 2]"), "{note}");
    assert_eq!(text(&root, "#layer-0-shape"), "Output: 3 × 4 × 4");
}

#[wasm_bindgen_test]
async fn kernel_too_large_shows_core_message() {
    let (root, log) = mount(preset("one-stage")).await;
    type_into(&root, "#layer-0-size-h", "7").await;

    let message = text(&root, "#layer-0-size-h-error");
    assert!(message.contains("the kernel spans 7 rows"), "{message}");
    assert!(message.contains("padded input has only 6"), "{message}");
    assert!(log.borrow().is_empty(), "nothing is applied");

    // A fix elsewhere (padding) makes the draft valid, and it is applied.
    type_into(&root, "#layer-0-padding-h", "1").await;
    let document = last(&log);
    let LayerSpec::Conv(conv) = &document.network.layers[0] else {
        panic!("conv expected");
    };
    assert_eq!((conv.size, conv.padding), ([7, 3], [1, 0]));
}

#[wasm_bindgen_test]
async fn stage_is_added_and_removed() {
    let start = preset("one-stage");
    let (root, log) = mount(start.clone()).await;
    click(&root, "#add-stage").await;
    let document = last(&log);
    let kinds: Vec<&str> = document.network.layers.iter().map(|l| l.kind()).collect();
    assert_eq!(
        kinds,
        ["conv", "activation", "pool", "conv", "activation", "pool"]
    );
    assert!(root.query_selector("#layer-5-pool-kind").unwrap().is_some());

    for layer in [5, 4, 3] {
        click(&root, &format!("#layer-{layer}-remove")).await;
    }
    let document = last(&log);
    assert_eq!(document.network, start.network);
    assert!(root.query_selector("#layer-3-kernels").unwrap().is_none());
}

#[wasm_bindgen_test]
async fn layer_moves_down() {
    let (root, log) = mount(preset("one-stage")).await;
    // Only an open panel's buttons can take the focus.
    find(&root, "#editor").set_attribute("open", "").unwrap();
    click(&root, "#layer-1-down").await;
    let document = last(&log);
    let kinds: Vec<&str> = document.network.layers.iter().map(|l| l.kind()).collect();
    assert_eq!(kinds, ["conv", "pool", "activation"]);
    assert_eq!(
        find(&root, "#layer-1-pool-kind").tag_name().to_lowercase(),
        "select"
    );
    let focused = web_sys::window()
        .unwrap()
        .document()
        .unwrap()
        .active_element()
        .map(|e| e.id());
    assert_eq!(
        focused.as_deref(),
        Some("layer-2-up"),
        "the focus moves to the moved layer's enabled move button"
    );
}

#[wasm_bindgen_test]
async fn removing_dense_switches_to_upstream() {
    let (root, log) = mount(preset("two-stages")).await;
    click(&root, "#layer-6-remove").await;
    let document = last(&log);
    let Objective::Upstream(g) = &document.objective else {
        panic!("upstream gradient expected, got {:?}", document.objective);
    };
    assert_eq!(g.shape(), &[3, 1, 1]);
    let note = text(&root, "#editor-note");
    assert!(
        note.contains("needs the output vector of a dense layer"),
        "{note}"
    );
    let cross_entropy: HtmlInputElement =
        find(&root, "#objective-cross-entropy").dyn_into().unwrap();
    assert!(cross_entropy.disabled(), "a loss needs a dense layer");
}

#[wasm_bindgen_test]
async fn label_edit_applies_and_rejects() {
    let (root, log) = mount(preset("two-stages")).await;
    type_into(&root, "#objective-label", "3").await;
    let message = text(&root, "#objective-label-error");
    assert!(message.contains("from 0 to 2"), "{message}");
    assert!(log.borrow().is_empty());

    type_into(&root, "#objective-label", "2").await;
    assert_eq!(
        last(&log).objective,
        Objective::Loss(Loss::SoftmaxCrossEntropy { label: 2 })
    );
}

#[wasm_bindgen_test]
async fn input_cell_is_typed() {
    let (root, log) = mount(preset("one-stage")).await;
    type_into(&root, "#cell-row", "2").await;
    type_into(&root, "#cell-col", "3").await;
    let label = text(&root, "label[for='input-cell-value']");
    assert_eq!(label, "Value of x[0][2][3]");
    type_into(&root, "#input-cell-value", "0.75").await;

    let x = input_values(&last(&log));
    assert_eq!(x.get(&[0, 2, 3]), Some(0.75));

    type_into(&root, "#input-cell-value", "1e7").await;
    let message = text(&root, "#input-cell-value-error");
    assert!(
        message.starts_with("x[0][2][3]: 1e7 is out of range"),
        "{message}"
    );
    assert_eq!(log.borrow().len(), 1, "the bad value is not applied");
}

#[wasm_bindgen_test]
async fn keyboard_paints_selected_cell() {
    let (root, log) = mount(preset("one-stage")).await;
    let grid: HtmlElement = find(&root, "#input-grid").dyn_into().unwrap();
    grid.focus().unwrap();
    for key in ["ArrowDown", "ArrowRight", "ArrowRight", "Enter"] {
        let init = web_sys::KeyboardEventInit::new();
        init.set_key(key);
        init.set_bubbles(true);
        let event =
            web_sys::KeyboardEvent::new_with_keyboard_event_init_dict("keydown", &init).unwrap();
        grid.dispatch_event(&event).unwrap();
        sleep(40).await;
    }
    let x = input_values(&last(&log));
    assert_eq!(x.get(&[0, 1, 2]), Some(1.0), "the brush value is 1");
    let label = grid.get_attribute("aria-label").unwrap();
    assert!(label.contains("Selected cell x[0][1][2] = 1"), "{label}");
}

#[wasm_bindgen_test]
async fn pointer_stroke_paints_cells() {
    let (root, log) = mount(preset("one-stage")).await;
    type_into(&root, "#brush-value", "0.5").await;
    let grid = find(&root, "#input-grid");
    let rect = grid.get_bounding_client_rect();
    // The one-stage input is 6 × 6: a stroke along row 0 from column 0 to column 5.
    let cell = rect.width() / 6.0;
    let at = |col: f64| rect.left() + (col + 0.5) * cell;
    let y = rect.top() + 0.5 * cell;
    let pointer = |name: &str, x: f64| {
        let init = web_sys::PointerEventInit::new();
        init.set_pointer_id(1);
        init.set_bubbles(true);
        init.set_client_x(x as i32);
        init.set_client_y(y as i32);
        init.set_button(0);
        web_sys::PointerEvent::new_with_event_init_dict(name, &init).unwrap()
    };
    grid.dispatch_event(&pointer("pointerdown", at(0.0)))
        .unwrap();
    grid.dispatch_event(&pointer("pointermove", at(5.0)))
        .unwrap();
    sleep(20).await;
    assert!(
        log.borrow().is_empty(),
        "a stroke applies when the pointer is lifted"
    );
    grid.dispatch_event(&pointer("pointerup", at(5.0))).unwrap();
    sleep(60).await;

    let x = input_values(&last(&log));
    for col in 0..6 {
        assert_eq!(x.get(&[0, 0, col]), Some(0.5), "column {col} of row 0");
    }
    assert_eq!(log.borrow().len(), 1, "one stroke, one document");
}

#[wasm_bindgen_test]
async fn clear_and_random_fill_input() {
    let (root, log) = mount(preset("one-stage")).await;
    click(&root, "#input-clear").await;
    assert!(input_values(&last(&log)).data().iter().all(|v| *v == 0.0));

    type_into(&root, "#input-seed", "7").await;
    click(&root, "#input-random").await;
    let x = input_values(&last(&log));
    assert!(x.data().iter().all(|v| (0.0..=1.0).contains(v)));
    click(&root, "#input-clear").await;
    click(&root, "#input-random").await;
    assert_eq!(
        input_values(&last(&log)),
        x,
        "the same seed gives the same values"
    );
}

#[wasm_bindgen_test]
async fn typed_weight_is_applied() {
    let start = preset("one-stage");
    let seeded = Network::seeded(start.network.clone(), 1).unwrap();
    let (root, log) = mount(start).await;
    click(&root, "#weights-typed").await;
    assert_eq!(
        last(&log).weights,
        WeightSource::Values(seeded.params().to_vec()),
        "typed values start from the seeded ones"
    );

    // Kernel 1, channel 0, row 2, column 1 of layer 0: flat index 1·9 + 2·3 + 1 = 16.
    choose(&root, "#weights-kernel", "1").await;
    type_into(&root, "#w-0-1-0-7", "0.5").await;
    let WeightSource::Values(params) = last(&log).weights else {
        panic!("typed weights expected");
    };
    let weights = &params[0].as_ref().unwrap().weights;
    assert_eq!(weights.data()[16], 0.5);
    assert_eq!(
        weights.data()[15],
        seeded.params()[0].as_ref().unwrap().weights.data()[15]
    );

    type_into(&root, "#b-0-1-0", "−0.25").await;
    let WeightSource::Values(params) = last(&log).weights else {
        panic!("typed weights expected");
    };
    assert_eq!(params[0].as_ref().unwrap().bias.data(), &[0.0, -0.25]);
}

#[wasm_bindgen_test]
async fn seed_out_of_range_is_rejected() {
    let (root, log) = mount(preset("one-stage")).await;
    type_into(&root, "#weights-seed", "9007199254740993").await;
    let message = text(&root, "#weights-seed-error");
    assert!(message.contains("from 0 to 9007199254740992"), "{message}");
    assert!(log.borrow().is_empty());

    click(&root, "#new-seed").await;
    let WeightSource::Seeded(seed) = last(&log).weights else {
        panic!("seeded weights expected");
    };
    assert_ne!(seed, 1);
}

#[wasm_bindgen_test]
async fn digit_network_stays_editable() {
    // The trained network has 12 kernels in layer 3, above the editor's range of 1 to 8.
    let mut start = preset("digit");
    start.input = InputSource::Values(Tensor::zeros(&[1, 28, 28]));
    start.weights = WeightSource::Seeded(3);
    let (root, log) = mount(start).await;
    let kept = text(&root, ".layer-box:nth-child(4) .kept");
    assert!(
        kept.contains("kernels K = 12 comes from the loaded network"),
        "{kept}"
    );

    choose(&root, "#layer-2-pool-kind", "mean").await;
    let document = last(&log);
    assert_eq!(conv_kernels(&document, 3), 12);

    type_into(&root, "#layer-0-kernels", "12").await;
    assert!(text(&root, "#layer-0-kernels-error").contains("from 1 to 8"));
    assert_eq!(log.borrow().len(), 1);
}

#[wasm_bindgen_test]
async fn invalid_draft_blocks_structure_edits() {
    let (root, log) = mount(preset("one-stage")).await;
    type_into(&root, "#layer-0-kernels", "99").await;
    assert!(root
        .query_selector("#layer-0-kernels-error")
        .unwrap()
        .is_some());
    // Adding a stage is an edit of the draft, so it is still invalid and nothing applies.
    click(&root, "#add-stage").await;
    assert!(log.borrow().is_empty());
    type_into(&root, "#layer-0-kernels", "2").await;
    assert_eq!(last(&log).network.layers.len(), 6);
}

#[wasm_bindgen_test]
async fn input_table_edits_cell() {
    let (root, log) = mount(preset("one-stage")).await;
    // Opening the table fires its toggle event, which renders the fields.
    find(&root, "#input-table")
        .set_attribute("open", "")
        .unwrap();
    sleep(60).await;
    let label = find(&root, "#x-cell-7").get_attribute("aria-label");
    assert_eq!(label.as_deref(), Some("x[0][1][1]"));
    type_into(&root, "#x-cell-7", "-0.125").await;
    let x = input_values(&last(&log));
    assert_eq!(x.get(&[0, 1, 1]), Some(-0.125));
}

#[wasm_bindgen_test]
async fn mse_target_is_typed() {
    let (root, log) = mount(preset("two-stages")).await;
    click(&root, "#objective-mse").await;
    let zeros = Objective::Loss(Loss::Mse {
        target: Tensor::zeros(&[3]),
    });
    assert_eq!(last(&log).objective, zeros);

    type_into(&root, "#target-1", "0.5").await;
    let Objective::Loss(Loss::Mse { target }) = last(&log).objective else {
        panic!("mse expected");
    };
    assert_eq!(target.data(), &[0.0, 0.5, 0.0]);
}

#[wasm_bindgen_test]
async fn upstream_gradient_is_typed_and_filled() {
    let (root, log) = mount(preset("one-stage")).await;
    // δ has shape [2, 2, 2]; channel 1's cell (0, 1) is flat index 5.
    choose(&root, "#upstream-channel", "1").await;
    type_into(&root, "#upstream-1", "2").await;
    let Objective::Upstream(g) = last(&log).objective else {
        panic!("upstream gradient expected");
    };
    assert_eq!(g.data()[5], 2.0);

    click(&root, "#upstream-ones").await;
    let Objective::Upstream(g) = last(&log).objective else {
        panic!("upstream gradient expected");
    };
    assert!(g.data().iter().all(|v| *v == 1.0), "{:?}", g.data());

    type_into(&root, "#upstream-seed", "9").await;
    let Objective::Upstream(g) = last(&log).objective else {
        panic!("upstream gradient expected");
    };
    assert_eq!(g.shape(), &[2, 2, 2]);
    assert!(g.data().iter().all(|v| (-1.0..1.0).contains(v)));
    assert!(
        g.data().iter().any(|v| *v != 1.0),
        "seeded values replace the ones"
    );
}
