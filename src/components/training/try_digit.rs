//! One digit with the current weights: a test digit or a drawn one, its prediction, and
//! the step-through opened on it.

use std::rc::Rc;

use cnn_core::document::{Document, InputSource, WeightSource};
use cnn_core::{LayerParams, Loss, NetworkSpec, Objective, Tensor};
use web_sys::HtmlInputElement;
use yew::prelude::*;

use super::digit::{centre, predict, DigitImage, DrawPad, SIDE};
use super::SharedAssets;
use crate::format::short;

/// The digit being tried.
#[derive(Clone, Debug, PartialEq)]
pub enum Source {
    /// Index into the test digits.
    Test(usize),
    /// A drawing, already centred, `SIDE × SIDE` values.
    Drawing(Rc<[f64]>),
}

#[derive(Properties, PartialEq)]
pub struct TryProps {
    pub assets: SharedAssets,
    pub source: Source,
    pub on_source: Callback<Source>,
    /// The network and weights of the run, when there is one.
    pub network: Option<NetworkSpec>,
    pub params: Option<Rc<Vec<Option<LayerParams>>>>,
    pub on_open: Callback<Document>,
}

/// Returns the pixels and true label of `source`.
fn pixels_of(assets: &SharedAssets, source: &Source) -> (Rc<[f64]>, Option<usize>) {
    let digits = &assets.0.digits;
    match source {
        Source::Test(index) if *index < digits.len() => (
            digits
                .pixels(*index)
                .iter()
                .map(|&p| p as f64 / 255.0)
                .collect::<Vec<_>>()
                .into(),
            Some(digits.label(*index)),
        ),
        Source::Test(_) => (vec![0.0; SIDE * SIDE].into(), None),
        Source::Drawing(pixels) => (pixels.clone(), None),
    }
}

#[component]
pub fn TryDigit(props: &TryProps) -> Html {
    let count = props.assets.0.digits.len();
    let (pixels, label) = pixels_of(&props.assets, &props.source);
    let input = Tensor::from_vec(&[1, SIDE, SIDE], pixels.to_vec());
    let prediction = match (&props.network, &props.params, &input) {
        (Some(network), Some(params), Some(input)) => Some(predict(network, params, input)),
        _ => None,
    };
    let probabilities = prediction.as_ref().and_then(|p| p.as_ref().ok());
    let predicted = probabilities.and_then(|p| {
        p.iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(class, _)| class)
    });

    let on_index = {
        let on_source = props.on_source.clone();
        Callback::from(move |event: Event| {
            let field: HtmlInputElement = event.target_unchecked_into();
            if let Ok(index) = field.value().trim().parse::<usize>() {
                if index < count {
                    on_source.emit(Source::Test(index));
                }
            }
        })
    };
    let on_draw = {
        let on_source = props.on_source.clone();
        Callback::from(move |raw: Rc<[f64]>| {
            on_source.emit(Source::Drawing(centre(&raw).into()));
        })
    };
    let on_open = {
        let (on_open, source) = (props.on_open.clone(), props.source.clone());
        let (network, params) = (props.network.clone(), props.params.clone());
        let input = input.clone();
        Callback::from(move |_: MouseEvent| {
            let (Some(network), Some(params), Some(values)) = (&network, &params, &input) else {
                return;
            };
            let input = match &source {
                Source::Test(index) => InputSource::Digit(*index),
                Source::Drawing(_) => InputSource::Values(values.clone()),
            };
            // A test digit brings its own label into the loss; a drawing is scored
            // against the predicted class.
            on_open.emit(Document {
                network: network.clone(),
                input,
                weights: WeightSource::Values((**params).clone()),
                objective: Objective::Loss(Loss::SoftmaxCrossEntropy {
                    label: label.or(predicted).unwrap_or(0),
                }),
                step: 0,
            });
        })
    };

    let index = match props.source {
        Source::Test(index) => index,
        Source::Drawing(_) => 0,
    };
    let description = match (&props.source, label) {
        (Source::Test(index), Some(label)) => format!("Test digit {index}, a {label}"),
        _ => "Your drawing, scaled and centred as MNIST digits are".to_string(),
    };
    let verdict = match (&prediction, predicted) {
        (None, _) => "No weights yet: start a run to see the prediction.".to_string(),
        (Some(Err(message)), _) => format!("The prediction failed: {message}"),
        (Some(Ok(p)), Some(class)) => {
            let correct = match label {
                Some(l) if l == class => " (correct)",
                Some(_) => " (wrong)",
                None => "",
            };
            format!("Predicted {class}{correct}, p = {}", short(p[class]))
        }
        (Some(Ok(_)), None) => "No prediction.".to_string(),
    };
    let bars = probabilities.map(|p| {
        html! {
            <ol class="probabilities" start="0" aria-label="Probability of each class">
                { for p.iter().enumerate().map(|(class, value)| html! {
                    <li class={classes!((Some(class) == predicted).then_some("top"))}>
                        <span class="class">{ class }</span>
                        <meter min="0" max="1" value={value.to_string()} />
                        <span class="value">{ format!("{}%", short(100.0 * value)) }</span>
                    </li>
                }) }
            </ol>
        }
    });
    html! {
        <section class="try-digit" aria-labelledby="try-heading">
            <h3 id="try-heading">{ "Try the current weights on one digit" }</h3>
            <div class="try-grid">
                <div class="try-source">
                    <label>
                        { format!("Test digit (0–{}) ", count.saturating_sub(1)) }
                        <input id="try-digit" type="number" min="0" max={count.saturating_sub(1).to_string()} value={index.to_string()} onchange={on_index} />
                    </label>
                    <DigitImage pixels={pixels.clone()} label={description.clone()} />
                    <p class="hint">{ description }</p>
                </div>
                <div class="try-draw">
                    <p>{ "Or draw a digit:" }</p>
                    <DrawPad on_change={on_draw} />
                </div>
                <div class="try-result">
                    <p id="try-prediction" data-predicted={predicted.map(|c| c.to_string())}>{ verdict }</p>
                    { bars.unwrap_or_default() }
                    <button type="button" id="open-trained" onclick={on_open} disabled={probabilities.is_none()}>
                        { "Open in the step-through" }
                    </button>
                </div>
            </div>
        </section>
    }
}
