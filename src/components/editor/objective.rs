//! The objective editor: softmax cross-entropy with a label, mse with a target t, or a
//! given upstream gradient δ = dL/dy (seeded random, all ones, or typed).

use std::rc::Rc;

use cnn_core::{Loss, Objective, Tensor};
use web_sys::HtmlSelectElement;
use yew::prelude::*;

use super::fields::{NumberField, Rule, ValueGrid};
use super::fit::{ones, random_tensor, shape_text};
use crate::limits::Range;

#[derive(Properties, PartialEq)]
pub struct ObjectiveEditorProps {
    pub objective: Objective,
    /// The network's output shape.
    pub output: Vec<usize>,
    /// The true label when the input is a test digit, which the page uses as the label.
    pub digit_label: Option<usize>,
    /// The seed of a seeded random δ.
    pub upstream_seed: u64,
    pub on_objective: Callback<Objective>,
    /// Called with a new seed for δ, before the δ drawn from it is sent.
    pub on_upstream_seed: Callback<u64>,
}

#[component]
pub fn ObjectiveEditor(props: &ObjectiveEditorProps) -> Html {
    let channel_state = use_state(|| 0usize);
    let output = props.output.clone();
    let classes = match *output {
        [n] => Some(n),
        _ => None,
    };

    let emit = |make: Rc<dyn Fn() -> Objective>| {
        let on_objective = props.on_objective.clone();
        Callback::from(move |_: Event| on_objective.emit(make()))
    };
    let previous_label = match &props.objective {
        Objective::Loss(Loss::SoftmaxCrossEntropy { label }) => Some(*label),
        _ => None,
    };
    let start_label = previous_label
        .or(props.digit_label)
        .unwrap_or(0)
        .min(classes.unwrap_or(1).saturating_sub(1));
    let on_cross_entropy = emit(Rc::new(move || {
        Objective::Loss(Loss::SoftmaxCrossEntropy { label: start_label })
    }));
    let on_mse = {
        let n = classes.unwrap_or(1);
        emit(Rc::new(move || {
            Objective::Loss(Loss::Mse {
                target: Tensor::zeros(&[n]),
            })
        }))
    };
    let random = {
        let (output, seed) = (output.clone(), props.upstream_seed);
        Rc::new(move || Objective::Upstream(random_tensor(&output, seed, -1.0, 1.0)))
    };
    let on_upstream = emit(random.clone());

    let (is_ce, is_mse, is_upstream) = match &props.objective {
        Objective::Loss(Loss::SoftmaxCrossEntropy { .. }) => (true, false, false),
        Objective::Loss(Loss::Mse { .. }) => (false, true, false),
        Objective::Upstream(_) => (false, false, true),
    };
    let needs_dense = classes.is_none();
    let body = match &props.objective {
        Objective::Loss(Loss::SoftmaxCrossEntropy { label }) => {
            cross_entropy(props, *label, classes.unwrap_or(1))
        }
        Objective::Loss(Loss::Mse { target }) => mse(props, target),
        Objective::Upstream(g) => upstream(props, g, &channel_state),
    };

    html! {
        <div class="objective-editor">
            <fieldset class="choices">
                <legend>{ "The backward pass starts from" }</legend>
                <label class="choice">
                    <input type="radio" name="objective-kind" id="objective-cross-entropy" checked={is_ce}
                        disabled={needs_dense} onchange={on_cross_entropy} />
                    { "Softmax cross-entropy with a label" }
                </label>
                <label class="choice">
                    <input type="radio" name="objective-kind" id="objective-mse" checked={is_mse}
                        disabled={needs_dense} onchange={on_mse} />
                    { "MSE with a target t" }
                </label>
                <label class="choice">
                    <input type="radio" name="objective-kind" id="objective-upstream" checked={is_upstream}
                        onchange={on_upstream} />
                    { "A given upstream gradient δ" }
                </label>
            </fieldset>
            if needs_dense {
                <p class="hint">{ format!(
                    "The output y has shape {}; a loss needs the output vector of a dense layer.",
                    shape_text(&output)
                ) }</p>
            }
            { body }
        </div>
    }
}

fn cross_entropy(props: &ObjectiveEditorProps, label: usize, classes: usize) -> Html {
    let on_label = {
        let on_objective = props.on_objective.clone();
        Callback::from(move |value: f64| {
            on_objective.emit(Objective::Loss(Loss::SoftmaxCrossEntropy {
                label: value as usize,
            }))
        })
    };
    // The page replaces the label with a test digit's own label when it fits.
    let digit = props.digit_label.filter(|l| *l < classes);
    let shown = digit.unwrap_or(label);
    html! { <>
        <p class="formula">{ "L = −log softmax(y)[label], so δ = softmax(y) − onehot(label)" }</p>
        <NumberField id="objective-label" label={format!("Label (0 to {})", classes - 1)} name="Label"
            rule={Rule::Whole(Range { min: 0, max: classes - 1 })} value={shown.to_string()}
            disabled={digit.is_some()} on_commit={on_label} />
        if let Some(digit) = digit {
            <p class="hint">{ format!(
                "The input is a test digit, so the label is its true label, {digit}. The field applies to \
                 drawn, typed or loaded inputs."
            ) }</p>
        }
    </> }
}

fn mse(props: &ObjectiveEditorProps, target: &Tensor) -> Html {
    let n = target.len();
    let labels: Rc<[String]> = (0..n).map(|i| format!("t[{i}]")).collect();
    let on_change = {
        let (on_objective, target) = (props.on_objective.clone(), target.clone());
        Callback::from(move |(index, value): (usize, f64)| {
            let mut target = target.clone();
            if let Some(slot) = target.data_mut().get_mut(index) {
                *slot = value;
            }
            on_objective.emit(Objective::Loss(Loss::Mse { target }))
        })
    };
    html! { <>
        <p class="formula">{ "L = ½ Σ (y − t)², so δ = y − t" }</p>
        <ValueGrid key={format!("t-{n}")} values={Rc::from(target.data())} cols={n.min(8)} {labels}
            caption="target t" id="target" {on_change} />
    </> }
}

fn upstream(
    props: &ObjectiveEditorProps,
    g: &Tensor,
    channel_state: &UseStateHandle<usize>,
) -> Html {
    let on_random = {
        let (on_objective, shape, seed) = (
            props.on_objective.clone(),
            g.shape().to_vec(),
            props.upstream_seed,
        );
        Callback::from(move |_: MouseEvent| {
            on_objective.emit(Objective::Upstream(random_tensor(&shape, seed, -1.0, 1.0)))
        })
    };
    let on_ones = {
        let (on_objective, shape) = (props.on_objective.clone(), g.shape().to_vec());
        Callback::from(move |_: MouseEvent| on_objective.emit(Objective::Upstream(ones(&shape))))
    };
    let on_seed = {
        let (on_objective, on_seed, shape) = (
            props.on_objective.clone(),
            props.on_upstream_seed.clone(),
            g.shape().to_vec(),
        );
        Callback::from(move |seed: f64| {
            let seed = seed as u64;
            on_seed.emit(seed);
            on_objective.emit(Objective::Upstream(random_tensor(&shape, seed, -1.0, 1.0)))
        })
    };

    // A map δ is edited one channel at a time; a vector δ as one row of fields.
    let (chans, rows, cols) = match *g.shape() {
        [c, h, w] => (c, h, w),
        _ => (1, 1, g.len()),
    };
    let c = (**channel_state).min(chans.saturating_sub(1));
    let plane = rows * cols;
    let is_map = g.shape().len() == 3;
    let labels: Rc<[String]> = (0..plane)
        .map(|i| {
            if is_map {
                format!("δ[{c}][{}][{}]", i / cols, i % cols)
            } else {
                format!("δ[{i}]")
            }
        })
        .collect();
    let on_change = {
        let (on_objective, g) = (props.on_objective.clone(), g.clone());
        Callback::from(move |(index, value): (usize, f64)| {
            let mut g = g.clone();
            if let Some(slot) = g.data_mut().get_mut(c * plane + index) {
                *slot = value;
            }
            on_objective.emit(Objective::Upstream(g))
        })
    };
    let on_channel = {
        let channel_state = channel_state.clone();
        Callback::from(move |event: Event| {
            let select: HtmlSelectElement = event.target_unchecked_into();
            if let Ok(index) = select.value().parse::<usize>() {
                channel_state.set(index);
            }
        })
    };
    let values: Rc<[f64]> = Rc::from(&g.data()[c * plane..(c + 1) * plane]);
    html! { <>
        <p class="formula">{ format!("L = Σ δ ⊙ y, so dL/dy = δ, of shape {}", shape_text(g.shape())) }</p>
        <div class="upstream-buttons">
            <button type="button" id="upstream-random" onclick={on_random}>{ "Seeded random" }</button>
            <NumberField id="upstream-seed" label="Seed" name="Seed of δ" rule={Rule::Seed}
                value={props.upstream_seed.to_string()} on_commit={on_seed} />
            <button type="button" id="upstream-ones" onclick={on_ones}>{ "All ones" }</button>
        </div>
        if chans > 1 {
            <div class="number-field">
                <label for="upstream-channel">{ "Channel c" }</label>
                <select id="upstream-channel" onchange={on_channel}>
                    { for (0..chans).map(|i| html! {
                        <option value={i.to_string()} selected={i == c}>{ i }</option>
                    }) }
                </select>
            </div>
        }
        <ValueGrid key={format!("g-{chans}-{rows}-{cols}-{c}")} {values} cols={if is_map { cols } else { cols.min(8) }}
            {labels} caption={if is_map { format!("δ[{c}]") } else { "δ".to_string() }} id="upstream" {on_change} />
    </> }
}
