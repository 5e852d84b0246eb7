//! The root component: loads the assets, owns the state, and lays out the page.

use std::rc::Rc;

use cnn_core::PoolKind;
use web_sys::Element;
use yew::prelude::*;

use crate::assets;
use crate::components::backward_view::BackwardView;
use crate::components::controls::{Controls, Outcome};
use crate::components::forward_view::{describe, ForwardView};
use crate::state::{Action, AppState, View};

/// Sets `data-state` on the status element: `busy` while a new trace is computed and
/// drawn, `ready` once every map of it is drawn, `error` when the page cannot show one.
fn set_status(status: &NodeRef, value: &str) {
    if let Some(element) = status.cast::<Element>() {
        // Ignoring the result is safe: setting a plain data attribute cannot fail here.
        let _ = element.set_attribute("data-state", value);
    }
}

#[component]
pub fn App() -> Html {
    let state = use_reducer(AppState::default);
    let status = use_node_ref();

    // Effect: load the digits and weights once.
    {
        let state = state.clone();
        use_effect_with((), move |_| {
            wasm_bindgen_futures::spawn_local(async move {
                match assets::load().await {
                    Ok(loaded) => state.dispatch(Action::Loaded(Rc::new(loaded))),
                    Err(message) => state.dispatch(Action::LoadFailed(message)),
                }
            });
        });
    }

    // Effect: children draw their canvases before this runs, so a new generation here
    // means every map of the new trace is on screen.
    {
        let status = status.clone();
        let outcome = match &state.view {
            View::Loading => "loading",
            View::Ready { .. } => "ready",
            View::Failed(_) => "error",
        };
        use_effect_with((state.generation, outcome), move |(_, outcome)| {
            set_status(&status, outcome);
        });
    }

    // Callbacks
    let on_pool = {
        let (state, status) = (state.clone(), status.clone());
        Callback::from(move |kind: PoolKind| {
            set_status(&status, "busy");
            state.dispatch(Action::SetPool(kind));
        })
    };
    let on_digit = {
        let (state, status) = (state.clone(), status.clone());
        Callback::from(move |index: usize| {
            set_status(&status, "busy");
            state.dispatch(Action::SetDigit(index));
        })
    };

    let digit_count = state.assets.as_ref().map_or(0, |a| a.digits.len());
    let (message, body) = match &state.view {
        View::Loading => (
            "Loading the digits and the trained weights…".to_string(),
            Html::default(),
        ),
        View::Failed(message) => (message.clone(), Html::default()),
        View::Ready { trace, label } => {
            let report = trace.0.loss.as_ref();
            let loss = report.map_or(f64::NAN, |l| l.value);
            let predicted = report.map_or(0, |l| l.predicted);
            let probability = report
                .and_then(|l| l.probabilities.as_ref())
                .and_then(|p| p.data().get(*label).copied());
            let layers = trace.0.network.layers.iter().enumerate().map(|(i, layer)| {
                html! { <li>{ format!("Layer {i}: {}", describe(layer)) }</li> }
            });
            let body = html! { <>
                <Outcome label={*label} {predicted} {loss} {probability} />
                <section class="network" aria-labelledby="network-heading">
                    <h2 id="network-heading">{ "Network" }</h2>
                    <ul class="layers">{ for layers }</ul>
                    <p class="hint">{ "Weights: trained by this project's own core on 4,000 MNIST training digits (see the README); the digit is from the 1,000 held-out test digits." }</p>
                </section>
                <ForwardView trace={trace.clone()} />
                <BackwardView trace={trace.clone()} />
            </> };
            (
                format!(
                    "Showing test digit {} with {} pooling.",
                    state.digit,
                    state.pool.name()
                ),
                body,
            )
        }
    };

    html! {
        <main>
            <header>
                <h1>{ "CNN Backprop Explorer" }</h1>
                <p>{ "Every number of one forward and backward pass through a small convolutional network, on a real handwritten digit." }</p>
            </header>
            <Controls
                pool={state.pool}
                digit={state.digit}
                {digit_count}
                {on_pool}
                {on_digit}
            />
            <p id="status" ref={status} data-state="loading" role="status">{ message }</p>
            { body }
        </main>
    }
}
