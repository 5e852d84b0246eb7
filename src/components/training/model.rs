//! The training view's state: the settings form, the run on screen and every measurement
//! the plots draw. The worker's messages and the buttons change it through [`Action`].

use std::rc::Rc;

use cnn_core::LayerParams;
use serde::{Deserialize, Serialize};
use yew::Reducible;

use crate::training::protocol::{
    unflatten, FlatParams, Output, Progress, SamplePoint, Settings, StepPoint, TestReport,
};

/// Largest number of points a [`Curve`] keeps; past it, neighbouring points merge.
pub const MAX_CURVE_POINTS: usize = 1000;

/// Mean values over a run of consecutive steps.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CurvePoint {
    /// The last step of the run of steps.
    pub step: usize,
    pub loss: f64,
    pub delta_norms: Vec<f64>,
    pub weight_grad_norms: Vec<f64>,
}

/// The per-step measurements of a run, at most [`MAX_CURVE_POINTS`] points: each point is
/// the mean of `stride` steps, and `stride` doubles whenever the points would exceed the
/// maximum.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Curve {
    pub points: Vec<CurvePoint>,
    pub stride: usize,
    /// The point being filled and its step count, shown but not yet in `points`.
    pub partial: Option<(CurvePoint, usize)>,
}

impl Default for Curve {
    fn default() -> Self {
        Self {
            points: Vec::new(),
            stride: 1,
            partial: None,
        }
    }
}

impl Curve {
    pub fn is_empty(&self) -> bool {
        self.points.is_empty() && self.partial.is_none()
    }

    /// Returns every point, the one being filled last.
    pub fn visible(&self) -> impl Iterator<Item = &CurvePoint> {
        self.points
            .iter()
            .chain(self.partial.as_ref().map(|(point, _)| point))
    }

    /// Adds one step.
    pub fn push(&mut self, step: &StepPoint) {
        let point = CurvePoint {
            step: step.step,
            loss: step.loss,
            delta_norms: step.delta_norms.clone(),
            weight_grad_norms: step.weight_grad_norms.clone(),
        };
        let (merged, count) = match self.partial.take() {
            Some((partial, count)) => (mean(&partial, count, &point, 1), count + 1),
            None => (point, 1),
        };
        if count < self.stride {
            self.partial = Some((merged, count));
            return;
        }
        self.points.push(merged);
        if self.points.len() >= MAX_CURVE_POINTS {
            self.points = self
                .points
                .chunks(2)
                .map(|pair| match pair {
                    [a, b] => mean(a, 1, b, 1),
                    [a] => a.clone(),
                    _ => unreachable!("chunks(2) yields one or two points"),
                })
                .collect();
            self.stride *= 2;
        }
    }
}

/// Returns the weighted mean of `a` (standing for `a_count` steps) and `b` (`b_count` steps),
/// at `b`'s step.
fn mean(a: &CurvePoint, a_count: usize, b: &CurvePoint, b_count: usize) -> CurvePoint {
    let (wa, wb) = (a_count as f64, b_count as f64);
    let total = wa + wb;
    let mix = |x: f64, y: f64| (x * wa + y * wb) / total;
    let mix_all = |xs: &[f64], ys: &[f64]| xs.iter().zip(ys).map(|(x, y)| mix(*x, *y)).collect();
    CurvePoint {
        step: b.step,
        loss: mix(a.loss, b.loss),
        delta_norms: mix_all(&a.delta_norms, &b.delta_norms),
        weight_grad_norms: mix_all(&a.weight_grad_norms, &b.weight_grad_norms),
    }
}

/// The loss of one epoch, summed exactly over its steps, and its test accuracy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochStat {
    pub epoch: usize,
    pub first_step: usize,
    pub last_step: usize,
    pub loss_sum: f64,
    pub steps: usize,
    /// Accuracy on every test digit after the epoch, once the worker reported it.
    pub test_accuracy: Option<f64>,
}

impl EpochStat {
    pub fn mean_loss(&self) -> f64 {
        self.loss_sum / self.steps.max(1) as f64
    }
}

/// The curves of an earlier run, drawn faintly for comparison.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Reference {
    /// The network settings of that run, such as "sigmoid, max pooling".
    pub label: String,
    pub curve: Curve,
}

/// The state of the run on screen.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Status {
    /// No run.
    Idle,
    Running,
    Paused,
    Finished,
    /// The loss of step `step` was not finite; the message is the core's.
    Diverged {
        step: usize,
        message: String,
    },
}

impl Status {
    /// Returns the name in `data-status`.
    pub fn name(&self) -> &'static str {
        match self {
            Status::Idle => "idle",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Finished => "finished",
            Status::Diverged { .. } => "diverged",
        }
    }
}

/// The training view's state.
#[derive(Clone, Debug, PartialEq)]
pub struct Model {
    /// The values in the settings form.
    pub settings: Settings,
    /// The settings of the run on screen.
    pub run: Option<Settings>,
    pub status: Status,
    /// Whether the worker has loaded the digits.
    pub worker_ready: bool,
    pub step: usize,
    pub examples: usize,
    /// 0-based epoch of the next step.
    pub epoch: usize,
    pub examples_per_second: f64,
    pub seconds_left: f64,
    pub curve: Rc<Curve>,
    pub epochs: Rc<Vec<EpochStat>>,
    pub samples: Rc<Vec<SamplePoint>>,
    pub reference: Option<Rc<Reference>>,
    /// First conv layer weights and the probe batch's gradient, `[6, 1, 5, 5]` each.
    pub kernels: Rc<[f64]>,
    pub kernel_grads: Rc<[f64]>,
    /// The latest weights of the run.
    pub params: Option<Rc<Vec<Option<LayerParams>>>>,
    /// The weights before the step that diverged.
    pub last_good: Option<Rc<FlatParams>>,
    pub report: Option<Rc<TestReport>>,
    /// An error or notice for the reader.
    pub message: Option<String>,
    /// Settings of the comparison runs still to start, in order.
    pub queue: Vec<Settings>,
    /// Counts the changes of plotted values, so that plots redraw only on a change.
    pub revision: u64,
}

impl Default for Model {
    fn default() -> Self {
        Self {
            settings: Settings::default(),
            run: None,
            status: Status::Idle,
            worker_ready: false,
            step: 0,
            examples: 0,
            epoch: 0,
            examples_per_second: 0.0,
            seconds_left: 0.0,
            curve: Rc::default(),
            epochs: Rc::default(),
            samples: Rc::default(),
            reference: None,
            kernels: Rc::from(Vec::new()),
            kernel_grads: Rc::from(Vec::new()),
            params: None,
            last_good: None,
            report: None,
            message: None,
            queue: Vec::new(),
            revision: 0,
        }
    }
}

pub enum Action {
    /// The worker sent a message.
    Worker(Output),
    /// The settings form changed.
    SetSettings(Settings),
    /// A notice for the reader, such as a page-side error, or `None` to dismiss it.
    Notice(Option<String>),
    /// A new run with these settings was requested; the previous run's curve becomes the
    /// reference.
    Started(Settings),
    /// The paused run goes on with these settings.
    Resumed(Settings),
    /// Runs to start one after another, for a comparison; the first starts now.
    Queue(Vec<Settings>),
    /// The next queued run was started.
    Dequeued,
    /// The run was dropped on request.
    Reset,
    /// The weights before the diverged step were sent back to the worker.
    RestoredLastGood,
    /// A saved state was read at start.
    Restored(Box<Model>),
}

impl Reducible for Model {
    type Action = Action;

    fn reduce(self: Rc<Self>, action: Action) -> Rc<Self> {
        let mut next = (*self).clone();
        match action {
            Action::Worker(output) => next.receive(output),
            Action::SetSettings(settings) => next.settings = settings,
            Action::Notice(message) => next.message = message,
            Action::Started(settings) => next.start(settings),
            Action::Resumed(settings) => {
                next.settings = settings;
                next.status = Status::Running;
                next.message = None;
                next.last_good = None;
            }
            Action::Queue(mut queue) => {
                if !queue.is_empty() {
                    let first = queue.remove(0);
                    next.start(first);
                }
                next.queue = queue;
            }
            Action::Dequeued => {
                if !next.queue.is_empty() {
                    let first = next.queue.remove(0);
                    next.start(first);
                }
            }
            Action::Reset => {
                next = Model {
                    settings: next.settings,
                    worker_ready: next.worker_ready,
                    revision: next.revision + 1,
                    ..Model::default()
                };
            }
            Action::RestoredLastGood => {
                next.status = Status::Paused;
                next.message = None;
                next.last_good = None;
            }
            Action::Restored(saved) => {
                next = Model {
                    worker_ready: next.worker_ready,
                    revision: next.revision + 1,
                    ..*saved
                };
            }
        }
        Rc::new(next)
    }
}

impl Model {
    /// Returns whether the form's network settings differ from the run's, so that only a new run
    /// can use them.
    pub fn network_changed(&self) -> bool {
        self.run
            .as_ref()
            .is_some_and(|run| !run.same_network(&self.settings))
    }

    fn start(&mut self, settings: Settings) {
        if !self.curve.is_empty() {
            let label = self.run.as_ref().map_or_else(String::new, Settings::label);
            self.reference = Some(Rc::new(Reference {
                label,
                curve: (*self.curve).clone(),
            }));
        }
        *self = Model {
            settings: settings.clone(),
            run: Some(settings),
            status: Status::Running,
            worker_ready: self.worker_ready,
            reference: self.reference.take(),
            queue: std::mem::take(&mut self.queue),
            revision: self.revision + 1,
            ..Model::default()
        };
    }

    fn receive(&mut self, output: Output) {
        match output {
            Output::Loaded { .. } => self.worker_ready = true,
            Output::Progress(progress) => self.progress(*progress),
            Output::Evaluated(report) => {
                if let Some(epoch) = report.epoch {
                    let epochs = Rc::make_mut(&mut self.epochs);
                    if let Some(stat) = epochs.iter_mut().find(|s| s.epoch == epoch) {
                        stat.test_accuracy = Some(report.accuracy);
                    }
                }
                self.report = Some(Rc::new(*report));
                self.revision += 1;
            }
            Output::Paused { .. } => {
                if self.status == Status::Running {
                    self.status = Status::Paused;
                }
            }
            Output::Finished { .. } => self.status = Status::Finished,
            Output::Diverged {
                step,
                message,
                last_good,
            } => {
                match unflatten(&last_good) {
                    Ok(params) => self.params = Some(Rc::new(params)),
                    Err(error) => self.message = Some(error),
                }
                self.status = Status::Diverged { step, message };
                self.last_good = Some(Rc::new(last_good));
                // A comparison stops with its diverged run.
                self.queue.clear();
                self.revision += 1;
            }
            Output::Stopped => self.status = Status::Idle,
            Output::Failed { message } => {
                if self.status == Status::Running {
                    self.status = Status::Paused;
                }
                self.queue.clear();
                self.message = Some(capitalise(&message));
            }
        }
    }

    fn progress(&mut self, progress: Progress) {
        if !progress.steps.is_empty() {
            let curve = Rc::make_mut(&mut self.curve);
            let epochs = Rc::make_mut(&mut self.epochs);
            for step in &progress.steps {
                curve.push(step);
                add_to_epoch(epochs, step);
            }
        }
        if !progress.samples.is_empty() {
            Rc::make_mut(&mut self.samples).extend(progress.samples);
        }
        self.step = progress.step;
        self.examples = progress.examples;
        self.epoch = progress.epoch;
        self.examples_per_second = progress.examples_per_second;
        self.seconds_left = progress.seconds_left;
        self.kernels = progress.kernels.into();
        if let Some(grads) = progress.kernel_grads {
            self.kernel_grads = grads.into();
        }
        match unflatten(&progress.params) {
            Ok(params) => self.params = Some(Rc::new(params)),
            Err(error) => self.message = Some(error),
        }
        self.revision += 1;
    }
}

fn add_to_epoch(epochs: &mut Vec<EpochStat>, step: &StepPoint) {
    if epochs.last().is_none_or(|last| last.epoch != step.epoch) {
        epochs.push(EpochStat {
            epoch: step.epoch,
            first_step: step.step,
            last_step: step.step,
            loss_sum: 0.0,
            steps: 0,
            test_accuracy: None,
        });
    }
    let stat = epochs.last_mut().expect("pushed above");
    stat.last_step = step.step;
    stat.loss_sum += step.loss;
    stat.steps += 1;
}

/// Starts `text` with a capital letter, for the core's lowercase messages.
pub fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().collect::<String>() + chars.as_str(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(step: usize, epoch: usize, loss: f64) -> StepPoint {
        StepPoint {
            step,
            epoch,
            loss,
            delta_norms: vec![loss; 2],
            weight_grad_norms: vec![2.0 * loss],
        }
    }

    fn progress(steps: Vec<StepPoint>) -> Output {
        Output::Progress(Box::new(Progress {
            step: steps.last().map_or(0, |s| s.step),
            examples: 0,
            epoch: 0,
            examples_per_second: 0.0,
            seconds_left: 0.0,
            samples: Vec::new(),
            steps,
            kernels: vec![1.0; 3],
            kernel_grads: None,
            params: Vec::new(),
        }))
    }

    #[test]
    fn curve_keeps_every_step_below_maximum() {
        let mut curve = Curve::default();
        for i in 1..=10 {
            curve.push(&step(i, 0, i as f64));
        }
        assert_eq!(curve.points.len(), 10);
        assert_eq!(curve.stride, 1);
        assert_eq!(curve.visible().count(), 10);
    }

    #[test]
    fn curve_merges_pairs_at_maximum() {
        let mut curve = Curve::default();
        for i in 1..=MAX_CURVE_POINTS {
            curve.push(&step(i, 0, i as f64));
        }
        assert_eq!(curve.points.len(), MAX_CURVE_POINTS / 2);
        assert_eq!(curve.stride, 2);
        // Steps 1 and 2 became one point at step 2 with their mean.
        assert_eq!(curve.points[0].step, 2);
        assert_eq!(curve.points[0].loss, 1.5);
        assert_eq!(curve.points[0].weight_grad_norms, vec![3.0]);
        // The next step waits for its pair, but is visible.
        curve.push(&step(MAX_CURVE_POINTS + 1, 0, 7.0));
        assert_eq!(curve.points.len(), MAX_CURVE_POINTS / 2);
        assert_eq!(curve.visible().last().map(|p| p.step), Some(1001));
        curve.push(&step(MAX_CURVE_POINTS + 2, 0, 9.0));
        assert_eq!(curve.points.last().map(|p| p.loss), Some(8.0));
        assert!(curve.partial.is_none());
    }

    #[test]
    fn progress_sums_epochs_exactly() {
        let model = Rc::new(Model::default());
        let model = model.reduce(Action::Started(Settings::default()));
        let model = model.reduce(Action::Worker(progress(vec![
            step(1, 0, 2.0),
            step(2, 0, 1.0),
            step(3, 1, 0.5),
        ])));
        assert_eq!(model.epochs.len(), 2);
        assert_eq!(model.epochs[0].mean_loss(), 1.5);
        assert_eq!(
            (model.epochs[0].first_step, model.epochs[0].last_step),
            (1, 2)
        );
        assert_eq!(model.epochs[1].steps, 1);
        assert_eq!(model.step, 3);
        assert_eq!(model.status, Status::Running);
        assert_eq!(&model.kernels[..], &[1.0; 3]);
    }

    #[test]
    fn new_run_keeps_previous_as_reference() {
        let model = Rc::new(Model::default()).reduce(Action::Started(Settings::default()));
        let model = model.reduce(Action::Worker(progress(vec![step(1, 0, 2.0)])));
        let sigmoid = Settings {
            activation: cnn_core::Activation::Sigmoid,
            ..Settings::default()
        };
        let model = model.reduce(Action::Started(sigmoid.clone()));
        let reference = model.reference.as_ref().expect("a reference");
        assert_eq!(reference.label, "relu, max pooling");
        assert_eq!(reference.curve.points.len(), 1);
        assert!(model.curve.is_empty());
        assert_eq!(model.run, Some(sigmoid));
    }

    #[test]
    fn queue_starts_runs_in_order() {
        let first = Settings {
            epochs: 1,
            ..Settings::default()
        };
        let second = Settings {
            epochs: 2,
            ..Settings::default()
        };
        let model =
            Rc::new(Model::default()).reduce(Action::Queue(vec![first.clone(), second.clone()]));
        assert_eq!(model.run, Some(first));
        assert_eq!(model.queue, vec![second.clone()]);
        let model = model.reduce(Action::Worker(Output::Finished { step: 3 }));
        assert_eq!(model.status, Status::Finished);
        let model = model.reduce(Action::Dequeued);
        assert_eq!(model.run, Some(second));
        assert!(model.queue.is_empty());
    }

    #[test]
    fn divergence_stops_with_message() {
        let model = Rc::new(Model::default()).reduce(Action::Started(Settings::default()));
        let model = model.reduce(Action::Worker(Output::Diverged {
            step: 12,
            message: "step 12: the loss became NaN".into(),
            last_good: Vec::new(),
        }));
        assert_eq!(model.status.name(), "diverged");
        assert!(model.last_good.is_some());
        let model = model.reduce(Action::RestoredLastGood);
        assert_eq!(model.status, Status::Paused);
        assert!(model.last_good.is_none());
    }

    #[test]
    fn failure_pauses_running_run() {
        let model = Rc::new(Model::default()).reduce(Action::Started(Settings::default()));
        let model = model.reduce(Action::Worker(Output::Failed {
            message: "invalid learning rate".into(),
        }));
        assert_eq!(model.status, Status::Paused);
        assert_eq!(model.message.as_deref(), Some("Invalid learning rate"));
    }

    #[test]
    fn network_change_is_detected() {
        let model = Rc::new(Model::default()).reduce(Action::Started(Settings::default()));
        assert!(!model.network_changed());
        let faster = Settings {
            learning_rate: 0.1,
            ..Settings::default()
        };
        let model = model.reduce(Action::SetSettings(faster));
        assert!(!model.network_changed());
        let mean = Settings {
            pool: cnn_core::PoolKind::Mean,
            ..Settings::default()
        };
        let model = model.reduce(Action::SetSettings(mean));
        assert!(model.network_changed());
    }
}
