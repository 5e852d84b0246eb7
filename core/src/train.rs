//! Mini-batch SGD with momentum on labelled digits, and evaluation on held-out digits.
//!
//! Each step averages `dL/dθ` over a batch, then `v ← μ·v − η·g` and `θ ← θ + v`, with
//! learning rate `η` and momentum `μ`. The loss is softmax cross-entropy on the label.

use crate::dataset::Digits;
use crate::loss::{Loss, Objective};
use crate::network::{LayerParams, Network};
use crate::{init::SplitMix64, CoreError};

/// Training settings.
#[derive(Clone, Debug, PartialEq)]
pub struct SgdConfig {
    pub learning_rate: f64,
    pub momentum: f64,
    pub batch_size: usize,
    /// Seed of the shuffle of the training digits at each epoch.
    pub seed: u64,
}

impl Default for SgdConfig {
    fn default() -> Self {
        Self {
            learning_rate: 0.05,
            momentum: 0.9,
            batch_size: 16,
            seed: 1,
        }
    }
}

/// A failed training step.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Core(#[from] CoreError),
    #[error(
        "step {step}: the loss became {value}; lower the learning rate (now {}) and start \
         again from the last good weights",
        format_rate(*learning_rate)
    )]
    Diverged {
        step: usize,
        value: f64,
        learning_rate: f64,
    },
    #[error("invalid {name} {value}: {rule}")]
    InvalidSetting {
        name: &'static str,
        value: f64,
        rule: &'static str,
    },
    #[error("no training digits; give at least one")]
    NoData,
}

/// A learning rate in plain notation when it is ordinary, else scientific, so that a
/// rate such as 1e150 does not print as 151 digits.
fn format_rate(rate: f64) -> String {
    if (1e-4..1e4).contains(&rate.abs()) {
        format!("{rate}")
    } else {
        format!("{rate:e}")
    }
}

/// What one step did.
#[derive(Clone, Debug, PartialEq)]
pub struct StepReport {
    /// 1-based count of steps taken so far.
    pub step: usize,
    /// 0-based epoch the step belongs to.
    pub epoch: usize,
    /// Mean loss over the batch, before the update.
    pub loss: f64,
    /// Per layer, the L2 norm of δ = dL/d(layer input), averaged over the batch: how much
    /// gradient reaches each layer.
    pub delta_norms: Vec<f64>,
    /// Per layer with parameters, the L2 norm of the batch-mean dL/dW.
    pub weight_grad_norms: Vec<Option<f64>>,
}

fn norm(values: &[f64]) -> f64 {
    values.iter().map(|v| v * v).sum::<f64>().sqrt()
}

/// The state of a training run: the network, the momentum buffers and the position in
/// the shuffled digits.
#[derive(Clone, Debug)]
pub struct Trainer {
    network: Network,
    velocity: Vec<Option<LayerParams>>,
    config: SgdConfig,
    rng: SplitMix64,
    order: Vec<usize>,
    position: usize,
    epoch: usize,
    steps: usize,
}

impl Trainer {
    /// Starts training `network` on a set of `examples` digits.
    ///
    /// Errors: a learning rate that is not positive and finite, a momentum outside
    /// `[0, 1)`, a batch size of 0, no examples.
    pub fn new(network: Network, config: SgdConfig, examples: usize) -> Result<Self, TrainError> {
        if !(config.learning_rate.is_finite() && config.learning_rate > 0.0) {
            return Err(TrainError::InvalidSetting {
                name: "learning rate",
                value: config.learning_rate,
                rule: "use a positive number such as 0.05",
            });
        }
        if !(0.0..1.0).contains(&config.momentum) {
            return Err(TrainError::InvalidSetting {
                name: "momentum",
                value: config.momentum,
                rule: "use a value from 0 up to, but not including, 1",
            });
        }
        if config.batch_size == 0 {
            return Err(TrainError::InvalidSetting {
                name: "batch size",
                value: 0.0,
                rule: "use at least 1",
            });
        }
        if examples == 0 {
            return Err(TrainError::NoData);
        }
        let velocity = zeros_like(network.params());
        let mut rng = SplitMix64::new(config.seed);
        let mut order: Vec<usize> = (0..examples).collect();
        rng.shuffle(&mut order);
        Ok(Self {
            network,
            velocity,
            config,
            rng,
            order,
            position: 0,
            epoch: 0,
            steps: 0,
        })
    }

    pub fn network(&self) -> &Network {
        &self.network
    }

    pub fn into_network(self) -> Network {
        self.network
    }

    pub fn config(&self) -> &SgdConfig {
        &self.config
    }

    /// 0-based epoch of the next step.
    pub fn epoch(&self) -> usize {
        self.epoch
    }

    /// Steps taken so far.
    pub fn steps(&self) -> usize {
        self.steps
    }

    /// Takes one SGD step on the next batch of `data` (the set given to [`Trainer::new`]).
    /// On a non-finite loss the weights are left as they were before the step.
    ///
    /// Errors: the errors of [`Network::gradients`]; [`TrainError::Diverged`].
    pub fn step(&mut self, data: &Digits) -> Result<StepReport, TrainError> {
        let batch = self.next_batch();
        let mut sum = zeros_like(self.network.params());
        let mut loss_sum = 0.0;
        let mut delta_norms = vec![0.0; self.network.spec().layers.len()];
        for &index in &batch {
            let objective = Objective::Loss(Loss::SoftmaxCrossEntropy {
                label: data.label(index),
            });
            let (loss, gradients) = self.network.gradients(&data.image(index), &objective)?;
            loss_sum += loss.expect("a loss objective has a loss");
            for (total, grad) in delta_norms.iter_mut().zip(&gradients.grad_inputs) {
                *total += norm(grad.data()) / batch.len() as f64;
            }
            add_scaled(&mut sum, &gradients.grad_params, 1.0);
        }
        let weight_grad_norms = sum
            .iter()
            .map(|g| {
                g.as_ref()
                    .map(|g| norm(g.weights.data()) / batch.len() as f64)
            })
            .collect();
        let loss = loss_sum / batch.len() as f64;
        self.steps += 1;
        if !loss.is_finite() {
            return Err(TrainError::Diverged {
                step: self.steps,
                value: loss,
                learning_rate: self.config.learning_rate,
            });
        }

        let scale = -self.config.learning_rate / batch.len() as f64;
        for (v, g) in self.velocity.iter_mut().zip(&sum) {
            let (Some(v), Some(g)) = (v, g) else { continue };
            for (vi, gi) in v.weights.data_mut().iter_mut().zip(g.weights.data()) {
                *vi = self.config.momentum * *vi + scale * gi;
            }
            for (vi, gi) in v.bias.data_mut().iter_mut().zip(g.bias.data()) {
                *vi = self.config.momentum * *vi + scale * gi;
            }
        }
        add_scaled(self.network.params_mut(), &self.velocity, 1.0);
        Ok(StepReport {
            step: self.steps,
            epoch: self.epoch,
            loss,
            delta_norms,
            weight_grad_norms,
        })
    }

    /// The next `batch_size` indices of the shuffled order; an epoch ends at the end of
    /// the order, and the next one reshuffles.
    fn next_batch(&mut self) -> Vec<usize> {
        if self.position >= self.order.len() {
            self.position = 0;
            self.epoch += 1;
            self.rng.shuffle(&mut self.order);
        }
        let end = (self.position + self.config.batch_size).min(self.order.len());
        let batch = self.order[self.position..end].to_vec();
        self.position = end;
        batch
    }

    /// Steps per epoch for the data set this trainer runs over.
    pub fn steps_per_epoch(&self) -> usize {
        self.order.len().div_ceil(self.config.batch_size)
    }
}

fn zeros_like(params: &[Option<LayerParams>]) -> Vec<Option<LayerParams>> {
    params
        .iter()
        .map(|p| {
            p.as_ref().map(|p| LayerParams {
                weights: crate::Tensor::zeros(p.weights.shape()),
                bias: crate::Tensor::zeros(p.bias.shape()),
            })
        })
        .collect()
}

fn add_scaled(target: &mut [Option<LayerParams>], source: &[Option<LayerParams>], scale: f64) {
    for (t, s) in target.iter_mut().zip(source) {
        let (Some(t), Some(s)) = (t, s) else { continue };
        for (a, b) in t.weights.data_mut().iter_mut().zip(s.weights.data()) {
            *a += scale * b;
        }
        for (a, b) in t.bias.data_mut().iter_mut().zip(s.bias.data()) {
            *a += scale * b;
        }
    }
}

/// Accuracy, mean loss and confusion counts of a network on labelled digits.
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluation {
    pub accuracy: f64,
    pub mean_loss: f64,
    /// `confusion[label][predicted]`.
    pub confusion: Vec<Vec<usize>>,
}

/// Evaluates `network` (with one output per class) on every digit of `data`.
///
/// Errors: the errors of [`Network::forward`], a network with fewer than 10 outputs.
pub fn evaluate(network: &Network, data: &Digits) -> Result<Evaluation, CoreError> {
    let classes = network.plan().output_shape().iter().product::<usize>();
    let mut confusion = vec![vec![0; classes]; classes];
    let mut correct = 0;
    let mut loss_sum = 0.0;
    for index in 0..data.len() {
        let label = data.label(index);
        let objective = Objective::Loss(Loss::SoftmaxCrossEntropy { label });
        network.check_objective(&objective)?;
        let pass = network.forward(&data.image(index))?;
        let (value, _) = network.start_backward(&pass, &objective)?;
        loss_sum += value.expect("a loss objective has a loss").loss;
        let predicted = pass.output().argmax().unwrap_or(0);
        confusion[label][predicted] += 1;
        if predicted == label {
            correct += 1;
        }
    }
    let count = data.len().max(1) as f64;
    Ok(Evaluation {
        accuracy: correct as f64 / count,
        mean_loss: loss_sum / count,
        confusion,
    })
}
