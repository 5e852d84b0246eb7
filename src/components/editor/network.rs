//! The network editor: the input shape and one box per layer with its settings, buttons
//! to move or remove it, and buttons to add a stage or a single layer.
//!
//! The fields edit a [`NetworkDraft`], which every keystroke checks again. A committed
//! change (Enter, leaving the field, a button, a menu) sends the network up, but only when
//! the whole draft is valid and differs from the network on screen.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use cnn_core::spec::Plan;
use cnn_core::{Activation, Location, NetworkSpec, PoolKind};
use web_sys::{HtmlElement, HtmlSelectElement};
use yew::prelude::*;

use super::draft::{core_message, field_label, Check, Field, FieldKey, LayerDraft, NetworkDraft};
use super::fields::event_text;

#[derive(Properties, PartialEq)]
pub struct NetworkEditorProps {
    /// The network on screen.
    pub network: NetworkSpec,
    /// Called with a valid network that differs from `network`.
    pub on_network: Callback<NetworkSpec>,
}

/// The editor's state between renders.
struct Model {
    draft: NetworkDraft,
    /// The network on screen when the draft was last compared with it.
    seen: NetworkSpec,
    /// The field edited last, where the core's reason for rejecting the draft is shown.
    last: Option<FieldKey>,
    /// The ids of elements to focus after the next render, the first enabled one wins:
    /// a moved layer's buttons, for example.
    focus: Vec<String>,
}

impl Model {
    fn new(network: &NetworkSpec) -> Self {
        Self {
            draft: NetworkDraft::from_spec(network),
            seen: network.clone(),
            last: None,
            focus: Vec::new(),
        }
    }

    /// Starts over from `network` when it changed from outside (a preset, a link, the
    /// pooling menu) to something other than the draft.
    fn sync(&mut self, network: &NetworkSpec) {
        if self.seen == *network {
            return;
        }
        self.seen = network.clone();
        let matches =
            matches!(self.draft.check(), Check::Valid { ref spec, .. } if spec == network);
        if !matches {
            self.draft = NetworkDraft::from_spec(network);
            self.last = None;
        }
    }

    /// Returns the draft's network when it is valid and differs from the one on screen.
    fn changed(&self) -> Option<NetworkSpec> {
        match self.draft.check() {
            Check::Valid { spec, .. } if spec != self.seen => Some(spec),
            _ => None,
        }
    }
}

/// The messages of one render, by the place they are shown.
#[derive(Default)]
struct Messages {
    fields: HashMap<FieldKey, String>,
    layers: HashMap<usize, String>,
    network: Option<String>,
}

fn place_messages(check: &Check, last: Option<FieldKey>, draft: &NetworkDraft) -> Messages {
    let mut messages = Messages::default();
    match check {
        Check::Fields(problems) => messages.fields.extend(problems.iter().cloned()),
        // The core's reason goes to the field typed last, else to the layer it names.
        Check::Core { error, .. } => {
            let text = core_message(error);
            let typed = last.filter(|key| draft.text(*key).is_some());
            if let Some(key) = typed {
                messages.fields.insert(key, text);
            } else if let Some(Location::Layer { index, .. }) = error.location() {
                messages.layers.insert(*index, text);
            } else {
                messages.network = Some(text);
            }
        }
        Check::Valid { .. } => {}
    }
    messages
}

/// Builds a callback that changes the model, sends the network when it changed, and
/// renders again.
fn edit<E: 'static>(
    model: &Rc<RefCell<Model>>,
    force_update: &UseForceUpdateHandle,
    on_network: &Callback<NetworkSpec>,
    change: impl Fn(&mut Model, &E) + 'static,
) -> Callback<E> {
    let (model, force_update, on_network) =
        (model.clone(), force_update.clone(), on_network.clone());
    Callback::from(move |event: E| {
        change(&mut model.borrow_mut(), &event);
        let changed = model.borrow().changed();
        if let Some(network) = changed {
            on_network.emit(network);
        }
        force_update.force_update();
    })
}

#[component]
pub fn NetworkEditor(props: &NetworkEditorProps) -> Html {
    let model = use_mut_ref(|| Model::new(&props.network));
    let force_update = use_force_update();
    model.borrow_mut().sync(&props.network);

    // Effect: a keyboard user who moves or removes a layer keeps working on it. Moving
    // can reinsert the layer's DOM node and removing drops it, either of which loses the
    // focus, so it goes to the same button at the layer's new place.
    let root = use_node_ref();
    {
        let (model, root) = (model.clone(), root.clone());
        use_effect(move || {
            let targets = std::mem::take(&mut model.borrow_mut().focus);
            let root = root.cast::<web_sys::Element>();
            let element = targets.iter().find_map(|id| {
                root.as_ref()?
                    .query_selector(&format!("#{id}"))
                    .ok()
                    .flatten()
                    .filter(|e| !e.has_attribute("disabled"))
                    .and_then(|e| wasm_bindgen::JsCast::dyn_into::<HtmlElement>(e).ok())
            });
            if let Some(element) = element {
                // A failed focus leaves the focus where the browser put it.
                let _ = element.focus();
            }
        });
    }

    let on_network = &props.on_network;
    let typing = |key: FieldKey| {
        let (model, force_update) = (model.clone(), force_update.clone());
        Callback::from(move |event: InputEvent| {
            let mut model = model.borrow_mut();
            model.draft.set_text(key, &event_text(&event));
            model.last = Some(key);
            drop(model);
            force_update.force_update();
        })
    };
    let commit = |key: FieldKey| {
        edit(
            &model,
            &force_update,
            on_network,
            move |m: &mut Model, event: &Event| {
                m.draft.set_text(key, &event_text(event));
                m.last = Some(key);
            },
        )
    };
    let structure = |change: fn(&mut NetworkDraft), focus: String| {
        edit(
            &model,
            &force_update,
            on_network,
            move |m: &mut Model, _: &MouseEvent| {
                change(&mut m.draft);
                m.last = None;
                m.focus = vec![focus.clone()];
            },
        )
    };

    let model_ref = model.borrow();
    let draft = &model_ref.draft;
    let check = draft.check();
    let messages = place_messages(&check, model_ref.last, draft);
    let plan = match &check {
        Check::Valid { plan, .. } => Some(plan),
        _ => None,
    };
    let field = |key: FieldKey, labelled: bool| -> Html {
        number_input(
            key,
            draft,
            messages.fields.get(&key),
            labelled,
            typing(key),
            commit(key),
        )
    };

    let input_fields = [Field::InputChannels, Field::InputHeight, Field::InputWidth].map(|f| {
        let key = FieldKey::input(f);
        html! {
            <div class="number-field">
                <label for={key.id()}>{ input_label(f) }</label>
                { field(key, true) }
            </div>
        }
    });
    let input_errors = [Field::InputChannels, Field::InputHeight, Field::InputWidth].map(|f| {
        let key = FieldKey::input(f);
        html! { <>{ error_line(key, messages.fields.get(&key)) }{ kept_line(draft, key) }</> }
    });

    let count = draft.layers.len();
    let layers = draft.layers.iter().enumerate().map(|(index, layer)| {
        let up = edit(&model, &force_update, on_network, move |m: &mut Model, _: &MouseEvent| {
            m.draft.move_up(index);
            m.last = None;
            let moved = index.saturating_sub(1);
            m.focus = vec![format!("layer-{moved}-up"), format!("layer-{moved}-down")];
        });
        let down = edit(&model, &force_update, on_network, move |m: &mut Model, _: &MouseEvent| {
            m.draft.move_down(index);
            m.last = None;
            let moved = (index + 1).min(m.draft.layers.len().saturating_sub(1));
            m.focus = vec![format!("layer-{moved}-down"), format!("layer-{moved}-up")];
        });
        let remove = edit(&model, &force_update, on_network, move |m: &mut Model, _: &MouseEvent| {
            m.draft.remove(index);
            m.last = None;
            let next = index.min(m.draft.layers.len().saturating_sub(1));
            m.focus = vec![format!("layer-{next}-remove"), "add-stage".into()];
        });
        let settings = match &layer.draft {
            LayerDraft::Conv { .. } => html! { <>
                <div class="number-field">
                    <label for={FieldKey::layer(index, Field::Kernels).id()}>{ "Kernels K" }</label>
                    { field(FieldKey::layer(index, Field::Kernels), true) }
                </div>
                { axis_table(index, &[
                    ("Size F", Field::KernelSize(0), Field::KernelSize(1)),
                    ("Stride S", Field::ConvStride(0), Field::ConvStride(1)),
                    ("Padding P", Field::Padding(0), Field::Padding(1)),
                    ("Dilation D", Field::Dilation(0), Field::Dilation(1)),
                ], &field) }
            </> },
            LayerDraft::Activation(function) => {
                let onchange = edit(&model, &force_update, on_network, move |m: &mut Model, event: &Event| {
                    let select: HtmlSelectElement = event.target_unchecked_into();
                    if let Some(f) = Activation::ALL.into_iter().find(|f| f.name() == select.value()) {
                        m.draft.set_activation(index, f);
                    }
                    m.last = None;
                });
                let id = format!("layer-{index}-activation");
                html! {
                    <div class="number-field">
                        <label for={id.clone()}>{ "Function f" }</label>
                        <select {id} {onchange}>
                            { for Activation::ALL.iter().map(|f| html! {
                                <option value={f.name()} selected={f == function}>{ f.name() }</option>
                            }) }
                        </select>
                    </div>
                }
            }
            LayerDraft::Pool { kind, .. } => {
                let onchange = edit(&model, &force_update, on_network, move |m: &mut Model, event: &Event| {
                    let select: HtmlSelectElement = event.target_unchecked_into();
                    if let Some(k) = PoolKind::ALL.into_iter().find(|k| k.name() == select.value()) {
                        m.draft.set_pool_kind(index, k);
                    }
                    m.last = None;
                });
                let id = format!("layer-{index}-pool-kind");
                html! { <>
                    <div class="number-field">
                        <label for={id.clone()}>{ "Kind" }</label>
                        <select {id} {onchange}>
                            { for PoolKind::ALL.iter().map(|k| html! {
                                <option value={k.name()} selected={k == kind}>{ k.name() }</option>
                            }) }
                        </select>
                    </div>
                    { axis_table(index, &[
                        ("Window", Field::PoolSize(0), Field::PoolSize(1)),
                        ("Stride S", Field::PoolStride(0), Field::PoolStride(1)),
                    ], &field) }
                </> }
            }
            LayerDraft::Dense { .. } => html! {
                <div class="number-field">
                    <label for={FieldKey::layer(index, Field::Outputs).id()}>{ "Outputs" }</label>
                    { field(FieldKey::layer(index, Field::Outputs), true) }
                </div>
            },
        };
        let errors = layer
            .draft
            .fields()
            .into_iter()
            .map(|f| error_line(FieldKey::layer(index, f), messages.fields.get(&FieldKey::layer(index, f))));
        let kept = layer
            .draft
            .fields()
            .into_iter()
            .map(|f| kept_line(draft, FieldKey::layer(index, f)));
        let layer_error = messages.layers.get(&index).map(|message| html! {
            <p id={format!("layer-{index}-error")} class="field-error" role="alert">{ message.clone() }</p>
        });
        let heading = format!("Layer {index}: {}", layer.draft.kind());

        html! {
            <li key={layer.id} class={classes!("layer-box", format!("layer-{}", layer.draft.kind()))}>
                <fieldset>
                    <legend>{ heading }</legend>
                    <div class="layer-buttons">
                        <button type="button" id={format!("layer-{index}-up")} disabled={index == 0} onclick={up}>
                            { "Move up" }<span class="visually-hidden">{ format!(" layer {index}") }</span>
                        </button>
                        <button type="button" id={format!("layer-{index}-down")} disabled={index + 1 >= count} onclick={down}>
                            { "Move down" }<span class="visually-hidden">{ format!(" layer {index}") }</span>
                        </button>
                        <button type="button" id={format!("layer-{index}-remove")} disabled={count <= 1} onclick={remove}>
                            { "Remove" }<span class="visually-hidden">{ format!(" layer {index}") }</span>
                        </button>
                    </div>
                    <div class="layer-settings">{ settings }</div>
                    <p class="shape" id={format!("layer-{index}-shape")}>{ output_text(plan, index) }</p>
                    { for errors }
                    { for kept }
                    { layer_error.unwrap_or_default() }
                </fieldset>
            </li>
        }
    });

    let has_dense = draft.has_dense();
    let network_error = messages.network.clone();
    html! {
        <div class="network-editor" ref={root}>
            <fieldset class="input-shape">
                <legend>{ "Input x: C × H × W" }</legend>
                <div class="layer-settings">{ for input_fields }</div>
                { for input_errors }
            </fieldset>
            <ol class="layer-list" start="0">{ for layers }</ol>
            if let Some(message) = network_error {
                <p id="network-error" class="field-error" role="alert">{ message }</p>
            }
            <div class="add-buttons" role="group" aria-label="Add layers">
                <button type="button" id="add-stage" onclick={structure(NetworkDraft::add_stage, "add-stage".into())}>{ "Add stage (conv, relu, pool)" }</button>
                <button type="button" id="add-conv" onclick={structure(NetworkDraft::add_conv, "add-conv".into())}>{ "Add conv" }</button>
                <button type="button" id="add-activation" onclick={structure(NetworkDraft::add_activation, "add-activation".into())}>{ "Add activation" }</button>
                <button type="button" id="add-pool" onclick={structure(NetworkDraft::add_pool, "add-pool".into())}>{ "Add pool" }</button>
                <button type="button" id="add-dense" disabled={has_dense} onclick={structure(NetworkDraft::add_dense, "add-stage".into())}>{ "Add final dense layer" }</button>
            </div>
            <p class="hint">{ "New layers go before the dense layer. A change applies when you press Enter or leave the field; until the whole network is valid the page keeps the last valid one." }</p>
        </div>
    }
}

fn input_label(field: Field) -> &'static str {
    match field {
        Field::InputChannels => "Channels C",
        Field::InputHeight => "Height H",
        _ => "Width W",
    }
}

/// Renders one whole-number field of the draft. A `labelled` field has a visible
/// `<label>`, and the others (in the axis tables) carry their full name in `aria-label`.
fn number_input(
    key: FieldKey,
    draft: &NetworkDraft,
    error: Option<&String>,
    labelled: bool,
    oninput: Callback<InputEvent>,
    onchange: Callback<Event>,
) -> Html {
    let range = key.field.range();
    let id = key.id();
    let value = draft.text(key).unwrap_or_default().to_string();
    let name = field_label(draft, key);
    html! {
        <input
            id={id.clone()}
            type="number"
            inputmode="numeric"
            min={range.min.to_string()}
            max={range.max.to_string()}
            step="1"
            {value}
            aria-label={(!labelled).then_some(name)}
            aria-invalid={error.is_some().then_some("true")}
            aria-describedby={error.is_some().then(|| format!("{id}-error"))}
            {oninput}
            {onchange}
        />
    }
}

fn error_line(key: FieldKey, error: Option<&String>) -> Html {
    match error {
        Some(message) => html! {
            <p id={format!("{}-error", key.id())} class="field-error" role="alert">{ message.clone() }</p>
        },
        None => Html::default(),
    }
}

/// Renders the note for a loaded value outside the editor's range, which the draft keeps.
fn kept_line(draft: &NetworkDraft, key: FieldKey) -> Html {
    let Some(value) = draft.kept_out_of_range(key) else {
        return Html::default();
    };
    let range = key.field.range();
    html! {
        <p class="hint kept">{ format!(
            "{} = {value} comes from the loaded network and is kept; a typed value must be from {} to {}.",
            field_label(draft, key),
            range.min,
            range.max
        ) }</p>
    }
}

/// Renders a table of settings with one row per setting and a column per axis.
fn axis_table(
    index: usize,
    rows: &[(&str, Field, Field)],
    field: &dyn Fn(FieldKey, bool) -> Html,
) -> Html {
    html! {
        <table class="axis-table">
            <thead>
                <tr>
                    <th scope="col"><span class="visually-hidden">{ "Setting" }</span></th>
                    <th scope="col">{ "rows" }</th>
                    <th scope="col">{ "columns" }</th>
                </tr>
            </thead>
            <tbody>
                { for rows.iter().map(|(title, h, w)| html! {
                    <tr>
                        <th scope="row">{ *title }</th>
                        <td>{ field(FieldKey::layer(index, *h), false) }</td>
                        <td>{ field(FieldKey::layer(index, *w), false) }</td>
                    </tr>
                }) }
            </tbody>
        </table>
    }
}

/// "Output: 2 × 4 × 4" from the draft's plan, or a dash while the draft is invalid.
fn output_text(plan: Option<&Plan>, index: usize) -> String {
    match plan.and_then(|p| p.shapes.get(index + 1)) {
        Some(shape) => format!(
            "Output: {}",
            shape
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
                .join(" × ")
        ),
        None => "Output: — until the network is valid".into(),
    }
}
