//! The weights editor. W and b are seeded Glorot-uniform values with the seed shown and
//! editable, or the shipped trained weights when the network is the digit network. They
//! can also be typed, one layer at a time (one kernel of a conv layer, one output of a
//! dense layer).

use std::rc::Rc;

use cnn_core::document::WeightSource;
use cnn_core::init::SplitMix64;
use cnn_core::spec::LayerPlan;
use cnn_core::{LayerSpec, Network, PoolKind};
use web_sys::HtmlSelectElement;
use yew::prelude::*;

use super::fields::{NumberField, Rule, ValueGrid};
use crate::limits::MAX_SEED;

#[derive(Properties, PartialEq)]
pub struct WeightsEditorProps {
    pub weights: WeightSource,
    /// The network on screen, with its parameters.
    pub network: Rc<Network>,
    /// The seed shown: the document's seed when the weights are seeded, else the last one.
    pub seed: u64,
    /// The pooling kind of the trained weights when the network is the trained digit
    /// network.
    pub trained: Option<PoolKind>,
    pub on_weights: Callback<WeightSource>,
}

/// Returns the seed after `seed` in a fixed sequence, so that "New seed" is reproducible:
/// SplitMix64's next output, cut to 53 bits so it stays at most [`MAX_SEED`].
pub fn next_seed(seed: u64) -> u64 {
    let next = SplitMix64::new(seed).next_u64() >> 11;
    debug_assert!(next <= MAX_SEED);
    next
}

/// Names a layer with parameters briefly enough for a menu on a phone: "conv 2@3×3".
fn short_name(layer: &LayerSpec) -> String {
    match layer {
        LayerSpec::Conv(c) => format!("conv {}@{}×{}", c.kernels, c.size[0], c.size[1]),
        LayerSpec::Dense(d) => format!("dense, {} outputs", d.outputs),
        other => other.kind().to_string(),
    }
}

/// Makes the callback of a `<select>` of numbered options.
fn select_index(set: UseStateHandle<usize>) -> Callback<Event> {
    Callback::from(move |event: Event| {
        let select: HtmlSelectElement = event.target_unchecked_into();
        if let Ok(index) = select.value().parse::<usize>() {
            set.set(index);
        }
    })
}

fn index_select(
    id: &'static str,
    label: &str,
    count: usize,
    current: usize,
    set: &UseStateHandle<usize>,
) -> Html {
    html! {
        <div class="number-field">
            <label for={id}>{ label.to_string() }</label>
            <select {id} onchange={select_index(set.clone())}>
                { for (0..count).map(|i| html! {
                    <option value={i.to_string()} selected={i == current}>{ i }</option>
                }) }
            </select>
        </div>
    }
}

#[component]
pub fn WeightsEditor(props: &WeightsEditorProps) -> Html {
    let layer_state = use_state(|| 0usize);
    let unit_state = use_state(|| 0usize);
    let channel_state = use_state(|| 0usize);

    let emit = |source: WeightSource| {
        let on_weights = props.on_weights.clone();
        Callback::from(move |_: Event| on_weights.emit(source.clone()))
    };
    let on_seeded = emit(WeightSource::Seeded(props.seed));
    let on_typed = emit(WeightSource::Values(props.network.params().to_vec()));
    let on_trained = props.trained.map(|kind| emit(WeightSource::Trained(kind)));
    let on_seed = {
        let on_weights = props.on_weights.clone();
        Callback::from(move |seed: f64| on_weights.emit(WeightSource::Seeded(seed as u64)))
    };
    let on_new_seed = {
        let (on_weights, seed) = (props.on_weights.clone(), props.seed);
        Callback::from(move |_: MouseEvent| on_weights.emit(WeightSource::Seeded(next_seed(seed))))
    };

    let (seeded, typed, trained) = match &props.weights {
        WeightSource::Seeded(_) => (true, false, false),
        WeightSource::Values(_) => (false, true, false),
        WeightSource::Trained(_) => (false, false, true),
    };
    let body = match &props.weights {
        WeightSource::Seeded(seed) => html! {
            <div class="weights-seed">
                <NumberField id="weights-seed" label="Seed" name="Weight seed" rule={Rule::Seed}
                    value={seed.to_string()} on_commit={on_seed} />
                <button type="button" id="new-seed" onclick={on_new_seed}>{ "New seed" }</button>
                <p class="hint">{ format!(
                    "W: Glorot-uniform random values from SplitMix64 with seed {seed}; b = 0."
                ) }</p>
            </div>
        },
        WeightSource::Trained(kind) => html! {
            <p class="hint">{ format!(
                "W and b: trained by this project's core for the digit network with {} pooling. \
                 Choose typed values to change one.",
                kind.name()
            ) }</p>
        },
        WeightSource::Values(_) => typed_editor(props, &layer_state, &unit_state, &channel_state),
    };

    html! {
        <div class="weights-editor">
            <fieldset class="choices">
                <legend>{ "Source of W and b" }</legend>
                <label class="choice">
                    <input type="radio" name="weights-source" id="weights-seeded" checked={seeded} onchange={on_seeded} />
                    { "Seeded random" }
                </label>
                <label class="choice">
                    <input type="radio" name="weights-source" id="weights-typed" checked={typed} onchange={on_typed} />
                    { "Typed values" }
                </label>
                if let Some(on_trained) = on_trained {
                    <label class="choice">
                        <input type="radio" name="weights-source" id="weights-trained" checked={trained} onchange={on_trained} />
                        { "Trained" }
                    </label>
                }
            </fieldset>
            { body }
        </div>
    }
}

/// Renders the fields of one layer's W (one kernel or one output at a time) and b.
fn typed_editor(
    props: &WeightsEditorProps,
    layer_state: &UseStateHandle<usize>,
    unit_state: &UseStateHandle<usize>,
    channel_state: &UseStateHandle<usize>,
) -> Html {
    let network = &props.network;
    let plan = network.plan();
    let with_params: Vec<usize> = plan
        .layers
        .iter()
        .enumerate()
        .filter(|(_, l)| l.param_shapes().is_some())
        .map(|(i, _)| i)
        .collect();
    if with_params.is_empty() {
        return html! { <p class="hint">{ "No layer of this network has weights: add a conv or dense layer." }</p> };
    }
    let layer = if with_params.contains(layer_state) {
        **layer_state
    } else {
        with_params[0]
    };
    let Some(params) = network.params().get(layer).and_then(|p| p.as_ref()) else {
        return Html::default();
    };

    let on_layer = {
        let (layer_state, unit_state) = (layer_state.clone(), unit_state.clone());
        Callback::from(move |event: Event| {
            let select: HtmlSelectElement = event.target_unchecked_into();
            if let Ok(index) = select.value().parse::<usize>() {
                layer_state.set(index);
                unit_state.set(0);
            }
        })
    };
    let layer_select = html! {
        <div class="number-field">
            <label for="weights-layer">{ "Layer" }</label>
            <select id="weights-layer" onchange={on_layer}>
                { for with_params.iter().map(|&i| html! {
                    <option value={i.to_string()} selected={i == layer}>
                        { format!("Layer {i}: {}", short_name(&network.spec().layers[i])) }
                    </option>
                }) }
            </select>
        </div>
    };

    // Writes one new value into a copy of every layer's parameters.
    let set_value = {
        let (on_weights, base) = (props.on_weights.clone(), network.params().to_vec());
        move |weight: bool, flat: usize, value: f64| {
            let mut params = base.clone();
            if let Some(Some(entry)) = params.get_mut(layer) {
                let tensor = if weight {
                    &mut entry.weights
                } else {
                    &mut entry.bias
                };
                if let Some(slot) = tensor.data_mut().get_mut(flat) {
                    if *slot == value {
                        return;
                    }
                    *slot = value;
                    on_weights.emit(WeightSource::Values(params));
                }
            }
        }
    };

    let (unit_label, unit_count, grids) = match &plan.layers[layer] {
        LayerPlan::Conv(g) => {
            let k = (**unit_state).min(g.chan_out.saturating_sub(1));
            let plane = g.k_h * g.k_w;
            let grids = (0..g.chan_in).map(|c| {
                let start = (k * g.chan_in + c) * plane;
                let labels: Rc<[String]> = (0..plane)
                    .map(|i| format!("W[{k}][{c}][{}][{}]", i / g.k_w, i % g.k_w))
                    .collect();
                let set_value = set_value.clone();
                let on_change = Callback::from(move |(i, v): (usize, f64)| set_value(true, start + i, v));
                html! {
                    <div class="weights-plane">
                        <h4>{ format!("W[{k}][{c}]") }</h4>
                        <ValueGrid key={format!("w-{layer}-{k}-{c}")} values={Rc::from(&params.weights.data()[start..start + plane])}
                            cols={g.k_w} {labels} caption={format!("W[{k}][{c}]")} id={format!("w-{layer}-{k}-{c}")} {on_change} />
                    </div>
                }
            }).collect::<Html>();
            ("Kernel k", g.chan_out, (k, grids))
        }
        LayerPlan::Dense { inputs, outputs } => {
            let o = (**unit_state).min(outputs.saturating_sub(1));
            let (chans, rows, cols) = match plan.shapes[layer].as_slice() {
                [c, h, w] => (*c, *h, *w),
                _ => (1, 1, *inputs),
            };
            let c = (**channel_state).min(chans.saturating_sub(1));
            let plane = rows * cols;
            let start = o * inputs + c * plane;
            let labels: Rc<[String]> = (0..plane)
                .map(|i| format!("W[{o}][{}]", c * plane + i))
                .collect();
            let set_value = set_value.clone();
            let on_change =
                Callback::from(move |(i, v): (usize, f64)| set_value(true, start + i, v));
            let channel_select = (chans > 1).then(|| {
                index_select(
                    "weights-channel",
                    "Input channel c",
                    chans,
                    c,
                    channel_state,
                )
            });
            let grid_cols = if rows == 1 { cols.min(8) } else { cols };
            let grids = html! {
                <div class="weights-plane">
                    { channel_select.unwrap_or_default() }
                    <h4>{ format!("W[{o}][i] for the inputs of channel {c}, i = {} to {}", c * plane, c * plane + plane - 1) }</h4>
                    <ValueGrid key={format!("w-{layer}-{o}-{c}")} values={Rc::from(&params.weights.data()[start..start + plane])}
                        cols={grid_cols} {labels} caption={format!("W[{o}]")} id={format!("w-{layer}-{o}-{c}")} {on_change} />
                </div>
            };
            ("Output o", *outputs, (o, grids))
        }
        LayerPlan::Activation(_) | LayerPlan::Pool(_) => return Html::default(),
    };
    let (unit, grids) = grids;
    let unit_id = if unit_label.starts_with("Kernel") {
        "weights-kernel"
    } else {
        "weights-output"
    };
    let bias = {
        let set_value = set_value.clone();
        let on_change = Callback::from(move |(_, v): (usize, f64)| set_value(false, unit, v));
        let labels: Rc<[String]> = Rc::from(vec![format!("b[{unit}]")]);
        let values: Rc<[f64]> = Rc::from(&params.bias.data()[unit..unit + 1]);
        html! {
            <div class="weights-plane">
                <h4>{ format!("b[{unit}]") }</h4>
                <ValueGrid key={format!("b-{layer}-{unit}")} {values} cols={1} {labels}
                    caption={format!("b[{unit}]")} id={format!("b-{layer}-{unit}")} {on_change} />
            </div>
        }
    };

    html! {
        <div class="weights-typed">
            <div class="weights-pickers">
                { layer_select }
                { index_select(unit_id, unit_label, unit_count, unit, unit_state) }
            </div>
            <div class="weights-grid">
                { grids }
                { bias }
            </div>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_seed_is_fixed_and_in_range() {
        assert_eq!(next_seed(1), next_seed(1));
        assert_ne!(next_seed(1), 1);
        for seed in [0, 1, 42, MAX_SEED] {
            assert!(next_seed(seed) <= MAX_SEED);
        }
    }
}
