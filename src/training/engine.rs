//! The worker's training loop without any browser API, so that native tests run it: a run
//! of [`Trainer`] steps with the step and example counts over the whole run, the
//! measurements the page plots, and the test evaluation.

use cnn_core::dataset::Digits;
use cnn_core::train::{TrainError, Trainer};
use cnn_core::{CoreError, LayerSpec, Loss, Network, Objective};

use super::protocol::{
    flatten, unflatten, FlatParams, Miss, Progress, SamplePoint, Settings, StepPoint, TestReport,
};

/// Size of the sample of test digits whose accuracy is measured during training. The
/// digit files are sorted by class, so the sample takes evenly spaced digits (see
/// [`spaced`]), which covers every class.
pub const SAMPLE_SIZE: usize = 200;
/// The sample accuracy is measured each time this many more training examples are done.
pub const SAMPLE_EVERY: usize = 800;
/// Size of the probe batch (evenly spaced training digits, so every class is in it) whose
/// mean first-layer dL/dW the page shows beside the kernels.
pub const PROBE_SIZE: usize = 16;

/// The training and test digits.
#[derive(Clone, Debug)]
pub struct Data {
    pub train: Digits,
    pub test: Digits,
}

/// The state of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Running,
    Paused,
    /// Every epoch is done.
    Finished,
    /// The last step had a non-finite loss; the weights are those before it.
    Diverged,
}

/// Something a chunk of steps ended with.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// Epoch `epoch` (0-based) ended with the last step.
    EpochEnded { epoch: usize },
    /// The last epoch ended.
    Finished { step: usize },
    Diverged {
        step: usize,
        message: String,
        last_good: FlatParams,
    },
    /// The core rejected a step; the run is paused.
    Failed { message: String },
}

/// The result of one [`Engine::run`] call.
#[derive(Clone, Debug, PartialEq)]
pub struct Chunk {
    pub events: Vec<Event>,
    /// Training examples done in the chunk.
    pub examples: usize,
    /// Time spent in SGD steps, in the clock's unit, without the sample evaluations.
    pub training_time: f64,
}

struct Run {
    settings: Settings,
    trainer: Trainer,
    /// Steps and examples done before `trainer` took over, after a restore or a change of
    /// optimiser settings.
    step_offset: usize,
    example_offset: usize,
    phase: Phase,
    /// The step that diverged, which the trainer counts although it changed nothing.
    diverged_step: Option<usize>,
    pending_steps: Vec<StepPoint>,
    pending_samples: Vec<SamplePoint>,
}

/// The training run of the worker, if any, and the digits it trains on.
pub struct Engine {
    data: Data,
    run: Option<Run>,
}

/// Training examples a trainer has done after `steps` steps with batches of `batch` from
/// `count` digits: every epoch ends with a shorter batch when `batch` does not divide
/// `count`.
pub fn examples_after(steps: usize, batch: usize, count: usize) -> usize {
    let per_epoch = count.div_ceil(batch.max(1)).max(1);
    (steps / per_epoch) * count + ((steps % per_epoch) * batch).min(count)
}

impl Engine {
    pub fn new(data: Data) -> Self {
        Self { data, run: None }
    }

    pub fn data(&self) -> &Data {
        &self.data
    }

    pub fn phase(&self) -> Option<Phase> {
        self.run.as_ref().map(|run| run.phase)
    }

    pub fn is_running(&self) -> bool {
        self.phase() == Some(Phase::Running)
    }

    /// Steps done in the run, the diverged step excluded.
    pub fn step(&self) -> usize {
        self.run.as_ref().map_or(0, Run::step)
    }

    /// Training examples done in the run.
    pub fn examples(&self) -> usize {
        self.run.as_ref().map_or(0, |run| run.examples(&self.data))
    }

    /// Returns the current weights, or `None` without a run.
    pub fn network(&self) -> Option<&Network> {
        self.run.as_ref().map(|run| run.trainer.network())
    }

    /// Starts a new run from the seeded weights of `settings`, and measures the sample
    /// accuracy of those weights as step 0.
    ///
    /// Errors: an invalid setting, as a sentence.
    pub fn start(&mut self, settings: Settings) -> Result<(), String> {
        settings.check()?;
        let network =
            Network::seeded(settings.network(), settings.init_seed).map_err(|e| e.to_string())?;
        let mut run = Run::new(settings, network, 0, 0, &self.data)?;
        run.phase = Phase::Running;
        let accuracy = sample_accuracy(run.trainer.network(), &self.data.test)?;
        run.pending_samples.push(SamplePoint { step: 0, accuracy });
        self.run = Some(run);
        Ok(())
    }

    /// Sets up a paused run with saved weights, `step` steps and `examples` training
    /// examples into it. The optimiser starts again with momentum 0.
    ///
    /// Errors: an invalid setting, or parameters that do not fit the network.
    pub fn restore(
        &mut self,
        settings: Settings,
        params: &FlatParams,
        step: usize,
        examples: usize,
    ) -> Result<(), String> {
        settings.check()?;
        let params = unflatten(params)?;
        let network = Network::new(settings.network(), params).map_err(|e| e.to_string())?;
        self.run = Some(Run::new(settings, network, step, examples, &self.data)?);
        Ok(())
    }

    /// Pauses a running run and returns its step count.
    pub fn pause(&mut self) -> Option<usize> {
        let run = self
            .run
            .as_mut()
            .filter(|run| run.phase == Phase::Running)?;
        run.phase = Phase::Paused;
        Some(run.step())
    }

    /// Goes on training with `settings`.
    ///
    /// Errors: no run, changed network settings, an invalid setting, or a run that has
    /// already done the epochs of `settings`.
    pub fn resume(&mut self, settings: Settings) -> Result<(), String> {
        settings.check()?;
        let data = &self.data;
        let run = self
            .run
            .as_mut()
            .ok_or("there is no run to resume; start one")?;
        if !run.settings.same_network(&settings) {
            return Err(
                "pooling, activation and initialisation seed define the network; \
                        reset and start a new run to change them"
                    .into(),
            );
        }
        if settings.epochs * data.train.len() <= run.examples(data) {
            return Err(format!(
                "the run has done its {} epochs; raise the epoch count to train further",
                settings.epochs
            ));
        }
        // After a divergence the momentum contains the step that overflowed, so a new
        // optimiser starts from the last good weights.
        if run.phase == Phase::Diverged || settings.sgd() != *run.trainer.config() {
            let network = run.trainer.network().clone();
            *run = Run::new(
                settings.clone(),
                network,
                run.step(),
                run.examples(data),
                data,
            )?;
        }
        run.settings = settings;
        run.phase = Phase::Running;
        Ok(())
    }

    /// Drops the run.
    pub fn reset(&mut self) {
        self.run = None;
    }

    /// Takes SGD steps until `out_of_time` returns true, an epoch ends or the run stops.
    /// `now` is a clock (milliseconds in the worker) for [`Chunk::training_time`].
    pub fn run(&mut self, now: &dyn Fn() -> f64, out_of_time: &mut dyn FnMut() -> bool) -> Chunk {
        let mut chunk = Chunk {
            events: Vec::new(),
            examples: 0,
            training_time: 0.0,
        };
        let data = &self.data;
        let Some(run) = self.run.as_mut().filter(|run| run.phase == Phase::Running) else {
            return chunk;
        };
        let count = data.train.len();
        let total = run.settings.epochs * count;
        loop {
            let before = run.examples(data);
            let started = now();
            let result = run.trainer.step(&data.train);
            chunk.training_time += now() - started;
            let report = match result {
                Ok(report) => report,
                Err(error @ TrainError::Diverged { .. }) => {
                    let step = run.step_offset + run.trainer.steps();
                    let message = error.to_string();
                    run.phase = Phase::Diverged;
                    run.diverged_step = Some(step);
                    chunk.events.push(Event::Diverged {
                        step,
                        message: with_run_step(&message, run.trainer.steps(), step),
                        last_good: flatten(run.trainer.network().params()),
                    });
                    return chunk;
                }
                Err(other) => {
                    run.phase = Phase::Paused;
                    chunk.events.push(Event::Failed {
                        message: other.to_string(),
                    });
                    return chunk;
                }
            };
            let after = run.examples(data);
            chunk.examples += after - before;
            run.pending_steps.push(StepPoint {
                step: run.step(),
                epoch: before / count,
                loss: report.loss,
                delta_norms: report.delta_norms,
                weight_grad_norms: report.weight_grad_norms.into_iter().flatten().collect(),
            });

            if before / SAMPLE_EVERY < after / SAMPLE_EVERY {
                match sample_accuracy(run.trainer.network(), &data.test) {
                    Ok(accuracy) => run.pending_samples.push(SamplePoint {
                        step: run.step(),
                        accuracy,
                    }),
                    Err(message) => chunk.events.push(Event::Failed { message }),
                }
            }
            if before / count < after / count {
                chunk.events.push(Event::EpochEnded {
                    epoch: after / count - 1,
                });
                if after >= total {
                    run.phase = Phase::Finished;
                    chunk.events.push(Event::Finished { step: run.step() });
                }
                return chunk;
            }
            if out_of_time() {
                return chunk;
            }
        }
    }

    /// The steps and samples since the previous call, with the current weights, or `None`
    /// without a run. `examples_per_second` is the caller's measured speed; with
    /// `with_grads` the probe batch's first-layer gradient is computed too.
    pub fn progress(&mut self, examples_per_second: f64, with_grads: bool) -> Option<Progress> {
        let data = &self.data;
        let run = self.run.as_mut()?;
        let network = run.trainer.network();
        let conv = first_conv(network);
        let kernels = conv
            .and_then(|index| network.params()[index].as_ref())
            .map(|p| p.weights.data().to_vec())
            .unwrap_or_default();
        let kernel_grads = match (with_grads, conv) {
            (true, Some(index)) => probe_gradient(network, &data.train, index).ok(),
            _ => None,
        };
        let examples = run.examples(data);
        let remaining = (run.settings.epochs * data.train.len()).saturating_sub(examples);
        let seconds_left = if examples_per_second > 0.0 {
            remaining as f64 / examples_per_second
        } else {
            0.0
        };
        Some(Progress {
            steps: std::mem::take(&mut run.pending_steps),
            samples: std::mem::take(&mut run.pending_samples),
            step: run.step(),
            examples,
            epoch: examples / data.train.len().max(1),
            examples_per_second,
            seconds_left,
            kernels,
            kernel_grads,
            params: flatten(network.params()),
        })
    }

    /// The current weights' results on every test digit, or `None` without a run.
    /// `epoch` is the epoch the report closes, if any.
    ///
    /// Errors: a core error of the forward pass, as a sentence.
    pub fn evaluate(&self, epoch: Option<usize>) -> Option<Result<TestReport, String>> {
        let run = self.run.as_ref()?;
        let test = &self.data.test;
        Some(
            test_report(run.trainer.network(), test, test.len(), run.step(), epoch)
                .map_err(|e| e.to_string()),
        )
    }
}

impl Run {
    fn new(
        settings: Settings,
        network: Network,
        step: usize,
        examples: usize,
        data: &Data,
    ) -> Result<Self, String> {
        // A new optimiser over a run already under way shuffles with another seed, so that
        // it does not repeat the first epoch's order.
        let mut config = settings.sgd();
        config.seed = config.seed.wrapping_add(step as u64);
        let trainer = Trainer::new(network, config, data.train.len()).map_err(|e| e.to_string())?;
        Ok(Self {
            settings,
            trainer,
            step_offset: step,
            example_offset: examples,
            phase: Phase::Paused,
            diverged_step: None,
            pending_steps: Vec::new(),
            pending_samples: Vec::new(),
        })
    }

    fn step(&self) -> usize {
        let steps = self.step_offset + self.trainer.steps();
        // The diverged step changed no weight, so it does not count as done.
        steps - usize::from(self.diverged_step.is_some())
    }

    fn examples(&self, data: &Data) -> usize {
        let batch = self.trainer.config().batch_size;
        let steps = self.trainer.steps() - usize::from(self.diverged_step.is_some());
        self.example_offset + examples_after(steps, batch, data.train.len())
    }
}

/// The core counts the steps of its own trainer; after a restore the run's step number is
/// larger, and the message names that one.
fn with_run_step(message: &str, trainer_step: usize, run_step: usize) -> String {
    let prefix = format!("step {trainer_step}:");
    match message.strip_prefix(&prefix) {
        Some(rest) => format!("step {run_step}:{rest}"),
        None => message.to_string(),
    }
}

/// Index of the first conv layer.
fn first_conv(network: &Network) -> Option<usize> {
    network
        .spec()
        .layers
        .iter()
        .position(|layer| matches!(layer, LayerSpec::Conv(_)))
}

/// `count` indices spread evenly over `0..len` (all of them when `count ≥ len`).
pub fn spaced(len: usize, count: usize) -> impl Iterator<Item = usize> {
    let count = count.min(len);
    (0..count).map(move |i| i * len / count.max(1))
}

/// Computes dL/dW of layer `layer`, averaged over [`PROBE_SIZE`] evenly spaced digits of
/// `digits`.
fn probe_gradient(network: &Network, digits: &Digits, layer: usize) -> Result<Vec<f64>, CoreError> {
    let count = PROBE_SIZE.min(digits.len());
    let mut sum: Vec<f64> = Vec::new();
    for index in spaced(digits.len(), count) {
        let objective = Objective::Loss(Loss::SoftmaxCrossEntropy {
            label: digits.label(index),
        });
        let (_, gradients) = network.gradients(&digits.image(index), &objective)?;
        let Some(grad) = gradients.grad_params[layer].as_ref() else {
            return Ok(Vec::new());
        };
        if sum.is_empty() {
            sum = vec![0.0; grad.weights.len()];
        }
        for (total, g) in sum.iter_mut().zip(grad.weights.data()) {
            *total += g;
        }
    }
    Ok(sum.into_iter().map(|g| g / count.max(1) as f64).collect())
}

fn sample_accuracy(network: &Network, test: &Digits) -> Result<f64, String> {
    let count = SAMPLE_SIZE.min(test.len());
    test_report(network, test, count, 0, None)
        .map(|report| report.accuracy)
        .map_err(|e| e.to_string())
}

/// Computes the accuracy, mean loss, confusion counts and misclassified digits of
/// `network` on `count` evenly spaced digits of `digits` (all of them when `count` is at
/// least their number). It computes what [`cnn_core::train::evaluate`] computes, and keeps
/// the misclassified indices too.
///
/// Errors: the errors of [`Network::forward`].
pub fn test_report(
    network: &Network,
    digits: &Digits,
    count: usize,
    step: usize,
    epoch: Option<usize>,
) -> Result<TestReport, CoreError> {
    let classes = network.plan().output_shape().iter().product::<usize>();
    let mut confusion = vec![vec![0; classes]; classes];
    let mut misses = Vec::new();
    let mut loss_sum = 0.0;
    let count = count.min(digits.len());
    for index in spaced(digits.len(), count) {
        let label = digits.label(index);
        let objective = Objective::Loss(Loss::SoftmaxCrossEntropy { label });
        network.check_objective(&objective)?;
        let pass = network.forward(&digits.image(index))?;
        let (value, _) = network.start_backward(&pass, &objective)?;
        loss_sum += value.map_or(f64::NAN, |v| v.loss);
        let predicted = pass.output().argmax().unwrap_or(0);
        confusion[label][predicted] += 1;
        if predicted != label {
            misses.push(Miss {
                index,
                label,
                predicted,
            });
        }
    }
    let total = count.max(1) as f64;
    Ok(TestReport {
        step,
        epoch,
        accuracy: (count - misses.len()) as f64 / total,
        mean_loss: loss_sum / total,
        confusion,
        misses,
    })
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::path::Path;

    use cnn_core::train::evaluate;

    use super::*;

    /// The first `count` digits of a shipped digit file.
    fn digits(name: &str, count: usize) -> Digits {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("www/data")
            .join(name);
        let bytes =
            std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let record = 1 + bytes[12] as usize * bytes[13] as usize;
        let mut subset = bytes[..16 + count * record].to_vec();
        subset[8..12].copy_from_slice(&(count as u32).to_le_bytes());
        Digits::parse(&subset).unwrap()
    }

    #[test]
    fn spaced_indices_cover_every_class() {
        let indices: Vec<usize> = spaced(1000, 200).collect();
        assert_eq!(indices.len(), 200);
        assert_eq!(indices[1], 5);
        // The test file holds 100 digits per class in class order.
        let classes: std::collections::BTreeSet<usize> = indices.iter().map(|i| i / 100).collect();
        assert_eq!(classes.len(), 10);
        assert_eq!(spaced(3, 10).collect::<Vec<_>>(), vec![0, 1, 2]);
    }

    /// 64 training digits (4 steps of 16 per epoch) and 40 test digits.
    fn engine() -> Engine {
        Engine::new(Data {
            train: digits("mnist-train.bin", 64),
            test: digits("mnist-test.bin", 40),
        })
    }

    fn settings() -> Settings {
        Settings {
            epochs: 2,
            ..Settings::default()
        }
    }

    /// Runs up to `steps` steps in one chunk.
    fn run_steps(engine: &mut Engine, steps: usize) -> Chunk {
        let calls = Cell::new(0);
        let clock = || 0.0;
        let mut out_of_time = || {
            calls.set(calls.get() + 1);
            calls.get() >= steps
        };
        engine.run(&clock, &mut out_of_time)
    }

    #[test]
    fn examples_after_counts_short_batches() {
        assert_eq!(examples_after(0, 16, 64), 0);
        assert_eq!(examples_after(3, 16, 64), 48);
        assert_eq!(examples_after(4, 16, 64), 64);
        // 50 digits in batches of 16: 16, 16, 16, 2.
        assert_eq!(examples_after(4, 16, 50), 50);
        assert_eq!(examples_after(5, 16, 50), 66);
    }

    #[test]
    fn start_reports_steps_and_kernels() {
        let mut engine = engine();
        engine.start(settings()).unwrap();
        let chunk = run_steps(&mut engine, 3);
        assert!(chunk.events.is_empty(), "{:?}", chunk.events);
        assert_eq!(chunk.examples, 48);
        let progress = engine.progress(100.0, true).unwrap();
        let steps: Vec<usize> = progress.steps.iter().map(|s| s.step).collect();
        assert_eq!(steps, vec![1, 2, 3]);
        assert!(progress.steps.iter().all(|s| s.loss.is_finite()));
        assert_eq!(progress.steps[0].delta_norms.len(), 7);
        assert_eq!(progress.steps[0].weight_grad_norms.len(), 3);
        assert_eq!(progress.samples[0].step, 0);
        assert_eq!(progress.examples, 48);
        assert_eq!(progress.kernels.len(), 6 * 25);
        assert_eq!(progress.kernel_grads.as_ref().map(Vec::len), Some(150));
        // 2 epochs of 64 digits, 48 done, at 100 examples per second.
        assert!((progress.seconds_left - 0.8).abs() < 1e-12);
        // A second call has nothing new.
        assert!(engine.progress(100.0, false).unwrap().steps.is_empty());
    }

    #[test]
    fn pause_and_resume_continue_the_run() {
        let mut straight = engine();
        straight.start(settings()).unwrap();
        run_steps(&mut straight, 3);
        let expected = straight.progress(0.0, false).unwrap();

        let mut paused = engine();
        paused.start(settings()).unwrap();
        run_steps(&mut paused, 2);
        assert_eq!(paused.pause(), Some(2));
        assert!(
            run_steps(&mut paused, 1).examples == 0,
            "a paused run takes no step"
        );
        paused.resume(settings()).unwrap();
        run_steps(&mut paused, 1);
        let progress = paused.progress(0.0, false).unwrap();
        assert_eq!(progress.steps, expected.steps);
        assert_eq!(progress.params, expected.params);
    }

    #[test]
    fn epoch_end_and_finish() {
        let mut engine = engine();
        engine.start(settings()).unwrap();
        let first = run_steps(&mut engine, 100);
        assert_eq!(first.events, vec![Event::EpochEnded { epoch: 0 }]);
        assert_eq!(engine.step(), 4);
        let second = run_steps(&mut engine, 100);
        assert_eq!(
            second.events,
            vec![Event::EpochEnded { epoch: 1 }, Event::Finished { step: 8 }]
        );
        assert_eq!(engine.phase(), Some(Phase::Finished));
        let error = engine.resume(settings()).unwrap_err();
        assert!(error.contains("raise the epoch count"), "{error}");
        engine
            .resume(Settings {
                epochs: 3,
                ..settings()
            })
            .unwrap();
        assert!(engine.is_running());
    }

    #[test]
    fn divergence_names_step_and_keeps_weights() {
        let mut engine = engine();
        let wild = Settings {
            learning_rate: 1e150,
            ..settings()
        };
        engine.start(wild).unwrap();
        let mut events = Vec::new();
        let mut previous = flatten(engine.network().unwrap().params());
        for _ in 0..20 {
            previous = flatten(engine.network().unwrap().params());
            events = run_steps(&mut engine, 1).events;
            if !engine.is_running() {
                break;
            }
        }
        let Some(Event::Diverged {
            step,
            message,
            last_good,
        }) = events.first().cloned()
        else {
            panic!("expected a divergence within 20 steps, got {events:?}");
        };
        assert!(message.starts_with(&format!("step {step}:")), "{message}");
        assert_eq!(last_good, previous);
        assert_eq!(engine.step(), step - 1);
        assert_eq!(engine.phase(), Some(Phase::Diverged));

        // A lower rate goes on from the last good weights, and the next step has the
        // diverged step's number. Weights after one step at this rate are so large that
        // the next step may diverge again.
        engine.resume(settings()).unwrap();
        let chunk = run_steps(&mut engine, 1);
        let progress = engine.progress(0.0, false).unwrap();
        let next = match (progress.steps.last(), chunk.events.first()) {
            (Some(point), _) => Some(point.step),
            (None, Some(Event::Diverged { step, .. })) => Some(*step),
            _ => None,
        };
        assert_eq!(next, Some(step));
    }

    #[test]
    fn restore_continues_counts() {
        let mut engine = engine();
        engine.start(settings()).unwrap();
        run_steps(&mut engine, 2);
        let params = engine.progress(0.0, false).unwrap().params;

        let mut restored = self::engine();
        restored.restore(settings(), &params, 2, 32).unwrap();
        assert_eq!(restored.phase(), Some(Phase::Paused));
        assert_eq!(restored.step(), 2);
        assert_eq!(restored.examples(), 32);
        restored.resume(settings()).unwrap();
        // 32 done, so the epoch of 64 ends after two more steps.
        let chunk = run_steps(&mut restored, 100);
        assert_eq!(chunk.events, vec![Event::EpochEnded { epoch: 0 }]);
        assert_eq!(restored.step(), 4);
    }

    #[test]
    fn restore_rejects_wrong_params() {
        let mut engine = engine();
        let other = Network::seeded(Settings::default().network(), 1).unwrap();
        let mut params = flatten(other.params());
        params.pop();
        assert!(engine.restore(settings(), &params, 0, 0).is_err());
    }

    #[test]
    fn resume_rejects_network_change() {
        let mut engine = engine();
        engine.start(settings()).unwrap();
        engine.pause();
        let sigmoid = Settings {
            activation: cnn_core::Activation::Sigmoid,
            ..settings()
        };
        assert!(engine.resume(sigmoid).unwrap_err().contains("reset"));
    }

    #[test]
    fn test_report_matches_core_evaluate() {
        let test = digits("mnist-test.bin", 40);
        let network = Network::seeded(Settings::default().network(), 5).unwrap();
        let report = test_report(&network, &test, test.len(), 0, None).unwrap();
        let core = evaluate(&network, &test).unwrap();
        assert_eq!(report.accuracy, core.accuracy);
        assert!((report.mean_loss - core.mean_loss).abs() < 1e-12);
        assert_eq!(report.confusion, core.confusion);
        let wrong: usize = (0..10)
            .map(|label| core.confusion[label].iter().sum::<usize>() - core.confusion[label][label])
            .sum();
        assert_eq!(report.misses.len(), wrong);
        assert!(report.misses.iter().all(|m| m.label != m.predicted));
    }

    #[test]
    fn run_step_replaces_trainer_step() {
        let message = "step 3: the loss became NaN; lower the learning rate";
        assert_eq!(
            with_run_step(message, 3, 45),
            "step 45: the loss became NaN; lower the learning rate"
        );
        assert_eq!(with_run_step("other", 3, 45), "other");
    }
}
