//! The root component: loads the assets, owns the state, binds the keys, and lays out
//! the page.

use std::rc::Rc;

use cnn_core::document::InputSource;
use cnn_core::tutorial;
use cnn_core::PoolKind;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::{Element, HtmlElement, KeyboardEvent};
use yew::prelude::*;

use crate::assets;
use crate::components::backward_view::BackwardView;
use crate::components::controls::{Controls, Outcome};
use crate::components::editor::Editor;
use crate::components::forward_view::{describe, ForwardView};
use crate::components::share::Share;
use crate::components::step_view::{step_title, StepView};
use crate::components::stepper::{StepCommand, StepList, Stepper};
use crate::components::training::TrainingView;
use crate::hooks::use_interval;
use crate::state::{Action, AppState, ConvForm, Place, Playback, Selection, ViewMode};

/// Sets `data-state` on the status element: `busy` while a new trace is computed and
/// drawn, `ready` once every map of it is drawn, `error` when the page cannot show one.
fn set_status(status: &NodeRef, value: &str) {
    if let Some(element) = status.cast::<Element>() {
        // Ignoring the result is safe: setting a plain data attribute cannot fail here.
        let _ = element.set_attribute("data-state", value);
    }
}

/// Whether a key press belongs to a form field or a selectable map, which use the arrow
/// keys themselves.
fn typing_target(event: &KeyboardEvent) -> bool {
    let Some(target) = event
        .target()
        .and_then(|t| t.dyn_into::<HtmlElement>().ok())
    else {
        return false;
    };
    let tag = target.tag_name().to_ascii_lowercase();
    matches!(tag.as_str(), "input" | "select" | "textarea")
        || target.is_content_editable()
        || target
            .class_name()
            .split_whitespace()
            .any(|c| c == "selectable")
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

    // Effect: children draw their canvases before this runs, so a new generation or step
    // here means every map on screen is drawn.
    {
        let status = status.clone();
        let outcome = if state.fatal.is_some() {
            "error"
        } else if state.session.is_some() {
            "ready"
        } else {
            "loading"
        };
        // A rejected edit changes only the notice, and must end the busy state too.
        let key = (
            state.generation,
            state.document.step,
            state.mode,
            state.notice.clone(),
            outcome,
        );
        use_effect_with(key, move |(_, _, _, _, outcome)| {
            set_status(&status, outcome)
        });
    }

    // Effect: ←, →, Home and End move through the steps anywhere on the page except in
    // form fields and focused maps, and only while the stepper is shown. The listener
    // outlives renders, so it reads the current view from a shared cell.
    let current_mode = use_mut_ref(|| state.mode);
    *current_mode.borrow_mut() = state.mode;
    {
        let state = state.clone();
        use_effect_with((), move |_| {
            let listener = Closure::<dyn FnMut(KeyboardEvent)>::new(move |event: KeyboardEvent| {
                if typing_target(&event) || event.alt_key() || event.ctrl_key() || event.meta_key()
                {
                    return;
                }
                if *current_mode.borrow() != ViewMode::Stepper {
                    return;
                }
                let action = match event.key().as_str() {
                    "ArrowRight" => Action::NextStep,
                    "ArrowLeft" => Action::PreviousStep,
                    "Home" => Action::FirstStep,
                    "End" => Action::LastStep,
                    _ => return,
                };
                event.prevent_default();
                state.dispatch(action);
            });
            let window = web_sys::window();
            if let Some(window) = &window {
                // Ignoring a failure leaves only the buttons, which still work.
                let _ = window
                    .add_event_listener_with_callback("keydown", listener.as_ref().unchecked_ref());
            }
            move || {
                if let Some(window) = window {
                    let _ = window.remove_event_listener_with_callback(
                        "keydown",
                        listener.as_ref().unchecked_ref(),
                    );
                }
            }
        });
    }

    // Effect: once the assets are loaded, open the permalink in the URL fragment, or else
    // the view saved in this browser. This runs before the effect below overwrites both.
    {
        let state = state.clone();
        let loaded = state.assets.is_some();
        use_effect_with(loaded, move |loaded| {
            if *loaded {
                let fragment = web_sys::window()
                    .and_then(|w| w.location().hash().ok())
                    .map(|hash| hash.trim_start_matches('#').to_string())
                    .unwrap_or_default();
                if !fragment.is_empty() {
                    state.dispatch(Action::OpenLink(crate::permalink::decode(&fragment)));
                } else if let Some(stored) = crate::storage::load() {
                    state.dispatch(Action::OpenStored(stored.map_err(|e| e.to_string())));
                }
            }
        });
    }

    // Effect: keep the URL fragment equal to the permalink of the view on screen, and the
    // view saved in this browser equal to it too.
    {
        let document = state.document.clone();
        let ready = state.session.is_some();
        use_effect_with((document, ready), move |(document, ready)| {
            if *ready {
                crate::storage::save(document);
                let link = crate::permalink::encode(document);
                if let Some(history) = web_sys::window().and_then(|w| w.history().ok()) {
                    // Replacing keeps the back button for leaving the page, not for every edit.
                    let _ = history.replace_state_with_url(
                        &wasm_bindgen::JsValue::NULL,
                        "",
                        Some(&format!("#{link}")),
                    );
                }
            }
        });
    }

    // Playback: one step per tick while playing.
    {
        let state_for_tick = state.clone();
        let tick = Callback::from(move |_| state_for_tick.dispatch(Action::Tick));
        use_interval(tick, state.speed_ms, state.playback == Playback::Playing);
    }

    // Callbacks
    let busy_then = |make: fn(PoolKind) -> Action| {
        let (state, status) = (state.clone(), status.clone());
        Callback::from(move |kind: PoolKind| {
            set_status(&status, "busy");
            state.dispatch(make(kind));
        })
    };
    let on_pool = busy_then(Action::SetPool);
    let on_digit = {
        let (state, status) = (state.clone(), status.clone());
        Callback::from(move |index: usize| {
            set_status(&status, "busy");
            state.dispatch(Action::SetDigit(index));
        })
    };
    let on_command = {
        let state = state.clone();
        Callback::from(move |command: StepCommand| {
            state.dispatch(match command {
                StepCommand::First => Action::FirstStep,
                StepCommand::Previous => Action::PreviousStep,
                StepCommand::Next => Action::NextStep,
                StepCommand::Last => Action::LastStep,
                StepCommand::TogglePlay => Action::TogglePlay,
                StepCommand::Go(step) => Action::SetStep(step),
                StepCommand::Speed(ms) => Action::SetSpeed(ms),
            })
        })
    };
    let on_select = {
        let state = state.clone();
        Callback::from(move |selection: Option<Selection>| {
            state.dispatch(Action::Select(selection))
        })
    };
    let on_open_in_stepper = {
        let state = state.clone();
        Callback::from(move |selection: Selection| {
            if let Place::Backward { step, .. } = &selection.place {
                state.dispatch(Action::SetMode(ViewMode::Stepper));
                state.dispatch(Action::SetStep(*step));
                state.dispatch(Action::Select(Some(selection)));
            }
        })
    };
    let on_conv_form = {
        let state = state.clone();
        Callback::from(move |form: ConvForm| state.dispatch(Action::SetConvForm(form)))
    };
    let set_mode = |mode: ViewMode| {
        let state = state.clone();
        Callback::from(move |_: MouseEvent| state.dispatch(Action::SetMode(mode)))
    };
    let on_apply = {
        let (state, status) = (state.clone(), status.clone());
        Callback::from(move |document| {
            set_status(&status, "busy");
            state.dispatch(Action::Apply {
                document,
                preset: None,
            });
        })
    };
    let on_open_trained = {
        let (state, status) = (state.clone(), status.clone());
        Callback::from(move |document| {
            set_status(&status, "busy");
            state.dispatch(Action::Apply {
                document,
                preset: None,
            });
            state.dispatch(Action::SetMode(ViewMode::Stepper));
        })
    };
    let on_reset = {
        let (state, status) = (state.clone(), status.clone());
        Callback::from(move |_: MouseEvent| {
            // Only edits need a confirmation: a preset can be clicked again.
            let edited = state.preset.is_none();
            let confirmed = !edited
                || web_sys::window()
                    .and_then(|w| {
                        w.confirm_with_message(
                            "Discard your edits and go back to the default view?",
                        )
                        .ok()
                    })
                    .unwrap_or(false);
            if confirmed {
                crate::storage::clear();
                set_status(&status, "busy");
                state.dispatch(Action::Reset);
            }
        })
    };
    let dismiss = {
        let state = state.clone();
        Callback::from(move |_: MouseEvent| state.dispatch(Action::DismissNotice))
    };
    let preset_buttons = tutorial::presets().into_iter().map(|preset| {
        let (state, status) = (state.clone(), status.clone());
        let current = state.preset == Some(preset.id);
        let id = preset.id;
        let document = preset.document.clone();
        let onclick = Callback::from(move |_: MouseEvent| {
            set_status(&status, "busy");
            state.dispatch(Action::Apply {
                document: document.clone(),
                preset: Some(id),
            });
        });
        html! {
            <button type="button" id={format!("preset-{id}")} class={classes!("preset", current.then_some("current"))}
                aria-pressed={current.to_string()} title={preset.about} {onclick}>
                { preset.title }
            </button>
        }
    });

    let digit_count = state.assets.as_ref().map_or(0, |a| a.digits.len());
    let digit = match state.document.input {
        InputSource::Digit(index) => index,
        InputSource::Values(_) => tutorial::DIGIT_INDEX,
    };
    let network_pool = state.document.network.layers.iter().find_map(|l| match l {
        cnn_core::LayerSpec::Pool(p) => Some(p.kind),
        _ => None,
    });
    let pool = network_pool.unwrap_or(PoolKind::Max);
    let mut pool_kinds: Vec<PoolKind> = state
        .document
        .network
        .layers
        .iter()
        .filter_map(|l| match l {
            cnn_core::LayerSpec::Pool(p) => Some(p.kind),
            _ => None,
        })
        .collect();
    pool_kinds.dedup();
    pool_kinds.sort_by_key(|k| k.name());
    pool_kinds.dedup();

    let message = if let Some(fatal) = &state.fatal {
        fatal.clone()
    } else if state.session.is_none() {
        "Loading the digits and the trained weights…".to_string()
    } else {
        let source = match &state.document.input {
            InputSource::Digit(index) => format!("test digit {index}"),
            InputSource::Values(_) if state.preset.is_some() => "the preset's input".to_string(),
            InputSource::Values(_) => "an edited input".to_string(),
        };
        match network_pool {
            Some(_) => {
                let kinds: Vec<&str> = pool_kinds.iter().map(|k| k.label()).collect();
                format!("Showing {source} with {} pooling.", kinds.join(" and "))
            }
            None => format!("Showing {source}; the network has no pooling layer."),
        }
    };

    let body = match &state.session {
        None => Html::default(),
        Some(session) => {
            let trace = &session.trace.0;
            let report = trace.loss.as_ref();
            let outcome = report.map(|l| {
                let label = match &l.loss {
                    cnn_core::Loss::SoftmaxCrossEntropy { label } => Some(session.digit_label.unwrap_or(*label)),
                    cnn_core::Loss::Mse { .. } => None,
                };
                let probability = label.and_then(|label| l.probabilities.as_ref()?.data().get(label).copied());
                let formula = match &l.loss {
                    cnn_core::Loss::SoftmaxCrossEntropy { .. } => "−log softmax(y)[label]",
                    cnn_core::Loss::Mse { .. } => "½·Σ(y − t)²",
                };
                html! { <Outcome {label} predicted={l.predicted} loss={l.value} {probability} {formula} /> }
            });
            let layers = trace.network.layers.iter().enumerate().map(|(i, layer)| {
                html! { <li>{ format!("Layer {i}: {}", describe(layer)) }</li> }
            });
            let titles = Rc::new(
                (0..trace.backward.len())
                    .map(|s| step_title(session, s))
                    .collect::<Vec<_>>(),
            );
            let main_view = match state.mode {
                ViewMode::Stepper => html! { <>
                    <Stepper step={state.document.step} titles={titles.clone()} playing={state.playback == Playback::Playing} speed_ms={state.speed_ms} on_command={on_command.clone()} />
                    <StepList step={state.document.step} {titles} on_command={on_command.clone()} />
                    <StepView
                        session={session.clone()}
                        step={state.document.step}
                        selection={state.selection.clone()}
                        conv_form={state.conv_form}
                        on_select={on_select.clone()}
                        {on_conv_form}
                    />
                </> },
                // Forward maps come first here: the backward maps below are long.
                ViewMode::AllSteps => html! { <>
                    <ForwardView trace={session.trace.clone()} selection={state.selection.clone()} on_select={Some(on_select.clone())} />
                    <BackwardView trace={session.trace.clone()} on_open={Some(on_open_in_stepper.clone())} />
                </> },
                ViewMode::Training => Html::default(),
            };
            let training = state.mode == ViewMode::Training;
            html! { <>
                { outcome.unwrap_or_default() }
                { non_finite_notice(trace, &on_command) }
                <section class="network" aria-labelledby="network-heading">
                    <h2 id="network-heading">{ "Network" }</h2>
                    <ul class="layers">{ for layers }</ul>
                    <p class="hint">{ weights_note(&state.document.weights) }</p>
                </section>
                <div class="mode-tabs" role="group" aria-label="View">
                    <button type="button" aria-pressed={(state.mode == ViewMode::Stepper).to_string()} onclick={set_mode(ViewMode::Stepper)}>{ "Step through" }</button>
                    <button type="button" aria-pressed={(state.mode == ViewMode::AllSteps).to_string()} onclick={set_mode(ViewMode::AllSteps)}>{ "All steps at once" }</button>
                    <button type="button" id="mode-train" aria-pressed={training.to_string()} onclick={set_mode(ViewMode::Training)}>{ "Train" }</button>
                </div>
                // One element around the view keeps the page's structure fixed when the view
                // switches; Yew's reconciliation of differently shaped fragments failed there.
                <div class="view">{ main_view }</div>
                // Mounted from the first visit on, so that training goes on in other views.
                <TrainingView visible={training} assets={state.assets.clone()} on_open={on_open_trained} />
                if state.mode == ViewMode::Stepper {
                    <ForwardView trace={session.trace.clone()} selection={state.selection.clone()} on_select={Some(on_select)} />
                }
                <Share document={state.document.clone()} session={session.clone()} />
            </> }
        }
    };

    html! {
        <main>
            <header>
                <h1>{ "CNN Backprop Explorer" }</h1>
                <p>{ "Every number of one forward and backward pass through a small convolutional network: step through the backward pass and click any cell for its sum of products." }</p>
            </header>
            if let Some(notice) = &state.notice {
                <div id="notice" class="notice" role="alert">
                    <p>{ notice.clone() }</p>
                    <button type="button" onclick={dismiss}>{ "Dismiss" }</button>
                </div>
            }
            <nav class="presets" aria-label="Presets">
                <h2 class="visually-hidden">{ "Presets" }</h2>
                { for preset_buttons }
                <button type="button" id="reset" class="reset" onclick={on_reset}>{ "Reset to the default view" }</button>
            </nav>
            <Controls {pool} has_pool={network_pool.is_some()} mixed_pools={pool_kinds.len() > 1} {digit} {digit_count} {on_pool} {on_digit} />
            <Editor document={state.document.clone()} session={state.session.clone()} {on_apply} />
            <p id="status" ref={status} data-state="loading" role="status">{ message }</p>
            { body }
        </main>
    }
}

/// A warning naming where the trace first holds a NaN or an infinity, with a button to the
/// backward step that produced it; nothing when every value is finite.
fn non_finite_notice(trace: &cnn_core::Trace, on_command: &Callback<StepCommand>) -> Html {
    use cnn_core::NonFinitePlace;
    let Some(found) = trace.first_non_finite() else {
        return Html::default();
    };
    let value = crate::format::short(found.value);
    let symbol = crate::formulas::symbol(found.tensor);
    let (place, go) = match found.place {
        NonFinitePlace::Forward(layer) => (
            format!(
                "the forward pass, layer {layer} ({})",
                describe(&trace.network.layers[layer])
            ),
            None,
        ),
        NonFinitePlace::Backward(step) => (format!("backward step {}", step + 1), Some(step)),
    };
    let go_button = go.map(|step| {
        let on_command = on_command.clone();
        let onclick = Callback::from(move |_: MouseEvent| on_command.emit(StepCommand::Go(step)));
        html! { <button type="button" {onclick}>{ "Go to that step" }</button> }
    });
    html! {
        <div id="non-finite" class="notice non-finite" role="status">
            <p>{ format!(
                "This trace holds values that are not finite numbers. The first is {symbol}{:?} = {value}, produced in {place}; the maps draw such cells black with a white cross and print them as NaN, +∞ or −∞. Smaller weights or inputs avoid the overflow.",
                found.index
            ) }</p>
            { go_button.unwrap_or_default() }
        </div>
    }
}

fn weights_note(weights: &cnn_core::document::WeightSource) -> String {
    use cnn_core::document::WeightSource;
    match weights {
        WeightSource::Trained(_) => "Weights: trained by this project's own core on 4,000 MNIST training digits (see the README); the digit is from the 1,000 held-out test digits.".into(),
        WeightSource::Seeded(seed) => format!("Weights: Glorot-uniform random values from seed {seed}, biases 0."),
        WeightSource::Values(_) => "Weights: given values, typed in the editor or trained in the Train view.".into(),
    }
}
