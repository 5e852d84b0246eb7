//! The training panel: the bridge to the worker, the controls, the plots, and saving the
//! state.

use std::rc::Rc;

use cnn_core::document::Document;
use cnn_core::{Activation, PoolKind};
use yew::prelude::*;
use yew_agent::reactor::{use_reactor_bridge, ReactorEvent, UseReactorBridgeHandle};

use super::chart::Chart;
use super::confusion::{Confusion, Misses};
use super::form::SettingsForm;
use super::kernels::Kernels;
use super::model::{Action, Model, Status};
use super::series::{self, Norm};
use super::storage;
use super::try_digit::{Source, TryDigit};
use super::SharedAssets;
use crate::format::short;
use crate::training::protocol::{flatten, Input, Settings};
use crate::training::reactor::TrainingReactor;

/// Paths of the digit files, relative to the page.
const TRAIN_URL: &str = "data/mnist-train.bin";
const TEST_URL: &str = crate::assets::TEST_DIGITS_URL;
/// While training, the state is saved at most this often, in milliseconds; every change
/// of status saves at once.
const SAVE_EVERY_MS: f64 = 5000.0;
/// Plotted points averaged at each end of the loss curve for `data-first-loss` and
/// `data-last-loss`.
const LOSS_END_WINDOW: usize = 10;
/// Epochs of each run of a comparison.
const COMPARE_EPOCHS: usize = 1;

#[derive(Properties, PartialEq)]
pub struct PanelProps {
    pub visible: bool,
    pub assets: SharedAssets,
    pub on_open: Callback<Document>,
}

/// Returns the absolute URL of `path` relative to the page, which a `blob:` worker needs.
fn absolute_url(path: &str) -> Result<String, String> {
    let href = web_sys::window()
        .and_then(|w| w.location().href().ok())
        .ok_or("the page has no location")?;
    web_sys::Url::new_with_base(path, &href)
        .map(|url| url.href())
        .map_err(|_| format!("{path} does not resolve against {href}"))
}

type Bridge = UseReactorBridgeHandle<TrainingReactor>;

/// Loads the digits in the worker and restores the saved state, once.
#[hook]
fn use_start_up(bridge: &Bridge, model: &UseReducerHandle<Model>) {
    let (bridge, model) = (bridge.clone(), model.clone());
    use_effect_with((), move |_| {
        match (absolute_url(TRAIN_URL), absolute_url(TEST_URL)) {
            (Ok(train_url), Ok(test_url)) => bridge.send(Input::Load {
                train_url,
                test_url,
            }),
            (Err(message), _) | (_, Err(message)) => model.dispatch(Action::Notice(Some(format!(
                "The training digits cannot be loaded: {message}."
            )))),
        }
        match storage::load() {
            Ok(Some(saved)) => {
                if let (Some(settings), Some(params)) = (&saved.run, &saved.params) {
                    bridge.send(Input::Restore {
                        settings: settings.clone(),
                        params: flatten(params),
                        step: saved.step,
                        examples: saved.examples,
                    });
                }
                model.dispatch(Action::Restored(Box::new(saved)));
            }
            Ok(None) => {}
            Err(message) => model.dispatch(Action::Notice(Some(message))),
        }
    });
}

/// Saves the state on every change of status and at most every [`SAVE_EVERY_MS`]
/// otherwise. The first render shows the default state, which must not overwrite the
/// saved one before it is restored.
#[hook]
fn use_saving(model: &UseReducerHandle<Model>) {
    let last = use_mut_ref(|| None::<(f64, Status, Settings)>);
    let first = use_mut_ref(|| true);
    let model = model.clone();
    let deps = (model.revision, model.status.clone(), model.settings.clone());
    use_effect_with(deps, move |(_, status, settings)| {
        if std::mem::replace(&mut *first.borrow_mut(), false) {
            return;
        }
        let now = js_sys::Date::now();
        let due = match &*last.borrow() {
            None => true,
            Some((at, saved_status, saved_settings)) => {
                saved_status != status || saved_settings != settings || now - at >= SAVE_EVERY_MS
            }
        };
        if !due {
            return;
        }
        *last.borrow_mut() = Some((now, status.clone(), settings.clone()));
        if let Err(message) = storage::save(&model) {
            model.dispatch(Action::Notice(Some(format!(
                "Saving the training state failed: {message}. A reload will lose it."
            ))));
        }
    });
}

/// Starts the next run of a comparison when the previous one finishes.
#[hook]
fn use_queue(bridge: &Bridge, model: &UseReducerHandle<Model>) {
    let (bridge, model) = (bridge.clone(), model.clone());
    let deps = (model.status.clone(), model.queue.clone());
    use_effect_with(deps, move |(status, queue)| {
        if *status == Status::Finished {
            if let Some(next) = queue.first() {
                bridge.send(Input::Start(next.clone()));
                model.dispatch(Action::Dequeued);
            }
        }
    });
}

/// Returns the progress line under the buttons.
fn progress_text(model: &Model) -> String {
    let epochs = model.run.as_ref().map_or(0, |r| r.epochs);
    let epoch = (model.epoch + 1).min(epochs.max(1));
    match &model.status {
        Status::Idle if !model.worker_ready => "Loading the training digits in the worker…".into(),
        Status::Idle => "No run yet: Start trains the network on the 4,000 training digits.".into(),
        Status::Running => format!(
            "Training: epoch {epoch} of {epochs}, step {}, {} examples, {} examples/s, about {} left.",
            model.step,
            model.examples,
            short(model.examples_per_second.round()),
            duration(model.seconds_left),
        ),
        Status::Paused => format!(
            "Paused at step {} (epoch {epoch} of {epochs}, {} examples).",
            model.step, model.examples
        ),
        Status::Finished => format!(
            "Finished {epochs} epoch{}: {} steps, {} examples.",
            if epochs == 1 { "" } else { "s" },
            model.step,
            model.examples
        ),
        Status::Diverged { step, .. } => format!(
            "Stopped at step {step}: the loss was not finite with learning rate {}.",
            model.run.as_ref().map_or_else(String::new, |r| short(r.learning_rate))
        ),
    }
}

/// `seconds` as "42 s" or "3 min 5 s".
pub fn duration(seconds: f64) -> String {
    if !seconds.is_finite() || seconds <= 0.0 {
        return "an unknown time".into();
    }
    let whole = seconds.round() as u64;
    if whole < 60 {
        format!("{whole} s")
    } else {
        format!("{} min {} s", whole / 60, whole % 60)
    }
}

#[component]
pub fn TrainingPanel(props: &PanelProps) -> Html {
    let model = use_reducer(Model::default);
    let bridge = {
        let model = model.clone();
        use_reactor_bridge::<TrainingReactor, _>(move |event| match event {
            ReactorEvent::Output(output) => model.dispatch(Action::Worker(output)),
            ReactorEvent::Finished => model.dispatch(Action::Notice(Some(
                "The training worker stopped. Reload the page to train again.".into(),
            ))),
        })
    };
    use_start_up(&bridge, &model);
    use_saving(&model);
    use_queue(&bridge, &model);
    let source = use_state(|| Source::Test(0));

    // Callbacks
    let send = |make: fn(&Model) -> Option<(Input, Action)>| {
        let (bridge, model) = (bridge.clone(), model.clone());
        Callback::from(move |_: MouseEvent| {
            if let Some((input, action)) = make(&model) {
                bridge.send(input);
                model.dispatch(action);
            }
        })
    };
    let start = send(|m| {
        let settings = m.settings.clone();
        Some((Input::Start(settings.clone()), Action::Started(settings)))
    });
    let resume = send(|m| {
        let settings = m.settings.clone();
        Some((Input::Resume(settings.clone()), Action::Resumed(settings)))
    });
    let pause = {
        let bridge = bridge.clone();
        Callback::from(move |_: MouseEvent| bridge.send(Input::Pause))
    };
    let evaluate = {
        let bridge = bridge.clone();
        Callback::from(move |_: MouseEvent| bridge.send(Input::Evaluate))
    };
    let reset = send(|_| {
        storage::remove();
        Some((Input::Reset, Action::Reset))
    });
    let restore_last_good = send(|m| {
        let (settings, last_good) = (m.run.clone()?, m.last_good.clone()?);
        let input = Input::Restore {
            settings,
            params: (*last_good).clone(),
            step: m.step,
            examples: m.examples,
        };
        Some((input, Action::RestoredLastGood))
    });
    let compare = |make: fn(&Settings) -> Vec<Settings>| {
        let (bridge, model) = (bridge.clone(), model.clone());
        Callback::from(move |_: MouseEvent| {
            let runs = make(&model.settings);
            if let Some(first) = runs.first() {
                bridge.send(Input::Start(first.clone()));
                model.dispatch(Action::Queue(runs));
            }
        })
    };
    let compare_activation = compare(|s| {
        [Activation::Sigmoid, Activation::Relu]
            .map(|activation| Settings {
                activation,
                epochs: COMPARE_EPOCHS,
                ..s.clone()
            })
            .to_vec()
    });
    let compare_pooling = compare(|s| {
        [PoolKind::Mean, PoolKind::Max]
            .map(|pool| Settings {
                pool,
                epochs: COMPARE_EPOCHS,
                ..s.clone()
            })
            .to_vec()
    });
    let on_settings = {
        let model = model.clone();
        Callback::from(move |settings| model.dispatch(Action::SetSettings(settings)))
    };
    let on_source = {
        let source = source.clone();
        Callback::from(move |next: Source| source.set(next))
    };
    let on_pick = {
        let source = source.clone();
        Callback::from(move |index: usize| source.set(Source::Test(index)))
    };
    let dismiss = {
        let model = model.clone();
        Callback::from(move |_: MouseEvent| model.dispatch(Action::Notice(None)))
    };

    let running = model.status == Status::Running;
    let has_run = model.run.is_some();
    let can_resume = matches!(
        model.status,
        Status::Paused | Status::Finished | Status::Diverged { .. }
    ) && !model.network_changed();
    let network = model.run.as_ref().map(Settings::network);
    let names = series::layer_names(network.as_ref().unwrap_or(&model.settings.network()));
    let param_names =
        series::param_layer_names(network.as_ref().unwrap_or(&model.settings.network()));
    let reference = model.reference.as_deref();
    let visible = props.visible;
    let x_max = model.step as f64;

    let loss = Rc::new(series::loss_series(&model.curve, &model.epochs, reference));
    let accuracy = Rc::new(series::accuracy_series(&model.samples, &model.epochs));
    let deltas = Rc::new(series::norm_series(
        &model.curve,
        reference,
        &names,
        Norm::Delta,
    ));
    let weight_grads = Rc::new(series::norm_series(
        &model.curve,
        reference,
        &param_names,
        Norm::WeightGrad,
    ));
    let ends = series::loss_ends(&model.curve, LOSS_END_WINDOW);
    let reference_note = reference.map(|r| {
        AttrValue::from(format!(
            "Faint lines: the previous run ({}), for comparison.",
            r.label
        ))
    });
    // Max pooling moves each δ to one cell of its window, which keeps the norm.
    let max_pool_note = (model.run.as_ref().map_or(model.settings.pool, |r| r.pool)
        == PoolKind::Max)
        .then_some("Max pooling over windows that do not overlap keeps ‖δ‖, so each max pool line lies under the line of the layer after it.");
    let delta_note = match (max_pool_note, &reference_note) {
        (Some(pool), Some(reference)) => Some(AttrValue::from(format!("{pool} {reference}"))),
        (Some(pool), None) => Some(AttrValue::from(pool)),
        (None, reference) => reference.clone(),
    };
    let run_text = model.run.as_ref().map(|r| {
        format!(
            "This run: {}, initial weights Glorot-uniform from seed {}, shuffle seed {}, learning rate {}, momentum {}, batch size {}.",
            r.label(),
            r.init_seed,
            r.shuffle_seed,
            short(r.learning_rate),
            short(r.momentum),
            r.batch_size
        )
    });

    html! {
        <div class="training-panel">
            <h2 id="training-heading">{ "Train the network on handwritten digits" }</h2>
            <p>
                { "SGD with momentum on the 4,000 MNIST training digits, in a web worker so that the page stays usable. The network is the page's digit network (conv 6@5×5 → activation → pool 2×2 → conv 12@5×5 → activation → pool 2×2 → dense 10) with the pooling kind and activation chosen below. After each epoch it is tested on the 1,000 held-out digits." }
            </p>
            <SettingsForm settings={model.settings.clone()} on_change={on_settings} />
            <div class="train-buttons">
                <button type="button" id="train-start" onclick={start} disabled={!model.worker_ready || running}>
                    { if has_run { "Start a new run" } else { "Start" } }
                </button>
                <button type="button" id="train-pause" onclick={pause} disabled={!running}>{ "Pause" }</button>
                <button type="button" id="train-resume" onclick={resume} disabled={!can_resume}>{ "Resume" }</button>
                <button type="button" id="train-reset" onclick={reset} disabled={!has_run}>{ "Reset" }</button>
                <button type="button" id="train-evaluate" onclick={evaluate} disabled={!has_run}>{ "Evaluate on the test digits" }</button>
            </div>
            <div class="train-buttons compare-buttons" role="group" aria-label="Comparisons">
                <span>{ format!("Compare, {COMPARE_EPOCHS} epoch each:") }</span>
                <button type="button" id="compare-activation" onclick={compare_activation} disabled={!model.worker_ready || running}>{ "sigmoid, then relu" }</button>
                <button type="button" id="compare-pooling" onclick={compare_pooling} disabled={!model.worker_ready || running}>{ "mean, then max pooling" }</button>
            </div>
            if model.network_changed() && can_resume_status(&model.status) {
                <p class="hint">{ "The pooling, activation or seed differ from the paused run's: Resume needs the run's values, and Start a new run uses the new ones." }</p>
            }
            <p id="training-step" role="status" aria-live="polite"
                data-step={model.step.to_string()} data-status={model.status.name()}
                data-examples={model.examples.to_string()} data-epoch={model.epoch.to_string()}>
                { progress_text(&model) }
            </p>
            if let Some(text) = run_text {
                <p class="hint" id="training-run">{ text }</p>
            }
            if let Status::Diverged { step, .. } = &model.status {
                <div id="training-diverged" class="notice" role="alert">
                    <p>{ format!("Training stopped at step {step} because the loss was not finite. The weights before that step can go back into the run; lower the learning rate before resuming.") }</p>
                    <button type="button" id="train-last-good" onclick={restore_last_good} disabled={model.last_good.is_none()}>
                        { format!("Use the weights before step {step}") }
                    </button>
                </div>
            }
            if let Some(message) = &model.message {
                <div id="training-message" class="notice" role="alert">
                    <p>{ message.clone() }</p>
                    <button type="button" onclick={dismiss}>{ "Dismiss" }</button>
                </div>
            }
            <div class="train-charts">
                <div id="loss-plot" data-points={model.curve.visible().count().to_string()}
                    data-first-loss={ends.map(|e| format!("{:?}", e.0))} data-last-loss={ends.map(|e| format!("{:?}", e.1))}>
                    <Chart title="Training loss (softmax cross-entropy)" series={loss} x_label="step" y_label="loss"
                        summary={series::loss_summary(&model.curve, &model.epochs)} {visible} {x_max} />
                </div>
                <Chart title="Test accuracy" series={accuracy} x_label="step" y_label="accuracy (%)" y_range={Some((0.0, 100.0))}
                    summary={series::accuracy_summary(&model.samples, &model.epochs)} {visible} {x_max} />
                <Chart title="‖δ‖ = ‖dL/dx‖ at each layer's input, batch mean (log scale)" series={deltas} x_label="step" y_label="‖δ‖" log_y=true
                    summary={series::norm_summary(&model.curve, &names, Norm::Delta, "δ norms")} {visible} {x_max} note={delta_note} />
                <Chart title="‖dL/dW‖ of each layer, batch mean (log scale)" series={weight_grads} x_label="step" y_label="‖dL/dW‖" log_y=true
                    summary={series::norm_summary(&model.curve, &param_names, Norm::WeightGrad, "dL/dW norms")} {visible} {x_max} note={reference_note} />
            </div>
            <h3>{ "First conv layer" }</h3>
            <Kernels kernels={model.kernels.clone()} grads={model.kernel_grads.clone()} count={6} rows={5} cols={5} />
            <h3>{ "Test digits" }</h3>
            if let Some(report) = &model.report {
                <div class="test-results">
                    <Confusion report={report.clone()} />
                    <Misses report={report.clone()} assets={props.assets.clone()} {on_pick} />
                </div>
            } else {
                <p class="hint">{ "The confusion matrix appears after the first epoch, or on request." }</p>
            }
            <TryDigit assets={props.assets.clone()} source={(*source).clone()} {on_source}
                network={network} params={model.params.clone()} on_open={props.on_open.clone()} />
        </div>
    }
}

fn can_resume_status(status: &Status) -> bool {
    matches!(
        status,
        Status::Paused | Status::Finished | Status::Diverged { .. }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duration_reads_minutes() {
        assert_eq!(duration(42.4), "42 s");
        assert_eq!(duration(185.0), "3 min 5 s");
        assert_eq!(duration(0.0), "an unknown time");
        assert_eq!(duration(f64::NAN), "an unknown time");
    }

    #[test]
    fn progress_text_follows_status() {
        let mut model = Model {
            worker_ready: true,
            ..Model::default()
        };
        assert!(progress_text(&model).starts_with("No run yet"));
        model.run = Some(Settings::default());
        model.status = Status::Running;
        model.step = 12;
        model.examples = 192;
        model.examples_per_second = 401.2;
        model.seconds_left = 61.0;
        assert_eq!(
            progress_text(&model),
            "Training: epoch 1 of 6, step 12, 192 examples, 401 examples/s, about 1 min 1 s left."
        );
        model.status = Status::Diverged {
            step: 3,
            message: "step 3: the loss became NaN".into(),
        };
        assert_eq!(
            progress_text(&model),
            "Stopped at step 3: the loss was not finite with learning rate 0.02."
        );
    }
}
