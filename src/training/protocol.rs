//! The messages between the page and the training worker, and the settings of a run.
//!
//! yew-agent encodes every message with bincode, which cannot read formats that need
//! `deserialize_any`. [`cnn_core::Tensor`] deserializes that way (it accepts nested lists
//! of any depth), so parameters cross the worker boundary as [`FlatParams`]: shapes and
//! flat values.

use cnn_core::presets::digit_network;
use cnn_core::train::SgdConfig;
use cnn_core::{Activation, LayerParams, LayerSpec, NetworkSpec, PoolKind, Tensor};
use serde::{Deserialize, Serialize};

/// Largest batch size the page accepts. A pause request waits for the step in progress,
/// and a step of 256 examples takes about 0.3 s in the worker (estimated from the 950
/// examples per second measured in headless Chromium on a 2-core machine).
pub const MAX_BATCH_SIZE: usize = 256;
/// Largest number of epochs the page accepts.
pub const MAX_EPOCHS: usize = 50;

/// The network and optimiser settings of one training run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// Pooling kind of both pool layers of the digit network.
    pub pool: PoolKind,
    /// Activation function of both activation layers.
    pub activation: Activation,
    /// Seed of the Glorot-uniform initial weights.
    pub init_seed: u64,
    pub learning_rate: f64,
    pub momentum: f64,
    pub batch_size: usize,
    pub epochs: usize,
    /// Seed of the shuffle of the training digits.
    pub shuffle_seed: u64,
}

impl Default for Settings {
    /// Returns the settings the shipped weights were trained with
    /// (`core/examples/train_default.rs`).
    fn default() -> Self {
        Self {
            pool: PoolKind::Max,
            activation: Activation::Relu,
            init_seed: 2024,
            learning_rate: 0.02,
            momentum: 0.9,
            batch_size: 16,
            epochs: 6,
            shuffle_seed: 7,
        }
    }
}

impl Settings {
    /// Returns the default digit network with this pooling kind, and this activation in
    /// place of both relu layers.
    pub fn network(&self) -> NetworkSpec {
        let mut spec = digit_network(self.pool);
        for layer in &mut spec.layers {
            if let LayerSpec::Activation(activation) = layer {
                *activation = self.activation;
            }
        }
        spec
    }

    /// Returns the optimiser settings for [`cnn_core::train::Trainer`].
    pub fn sgd(&self) -> SgdConfig {
        SgdConfig {
            learning_rate: self.learning_rate,
            momentum: self.momentum,
            batch_size: self.batch_size,
            seed: self.shuffle_seed,
        }
    }

    /// Returns whether `other` trains the same network from the same initial weights, so
    /// that a paused run can go on with `other`'s optimiser settings.
    pub fn same_network(&self, other: &Settings) -> bool {
        self.pool == other.pool
            && self.activation == other.activation
            && self.init_seed == other.init_seed
    }

    /// Returns a short name of the network settings, such as "relu, max pooling".
    pub fn label(&self) -> String {
        format!("{}, {} pooling", self.activation.name(), self.pool.name())
    }

    /// Checks the limits the core does not check: the epoch count and the largest batch.
    /// The core's [`cnn_core::train::Trainer::new`] checks the rest.
    ///
    /// Errors: a sentence naming the setting and its allowed range.
    pub fn check(&self) -> Result<(), String> {
        if !(1..=MAX_EPOCHS).contains(&self.epochs) {
            return Err(format!(
                "invalid epoch count {}: use 1 to {MAX_EPOCHS}",
                self.epochs
            ));
        }
        if !(1..=MAX_BATCH_SIZE).contains(&self.batch_size) {
            return Err(format!(
                "invalid batch size {}: use 1 to {MAX_BATCH_SIZE}",
                self.batch_size
            ));
        }
        Ok(())
    }
}

/// The weights and bias of one layer as shapes and row-major values.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FlatLayer {
    pub weight_shape: Vec<usize>,
    pub weights: Vec<f64>,
    pub bias_shape: Vec<usize>,
    pub bias: Vec<f64>,
}

/// One entry per layer, `None` for layers without parameters.
pub type FlatParams = Vec<Option<FlatLayer>>;

/// Converts the core's parameters into [`FlatParams`].
pub fn flatten(params: &[Option<LayerParams>]) -> FlatParams {
    params
        .iter()
        .map(|layer| {
            layer.as_ref().map(|p| FlatLayer {
                weight_shape: p.weights.shape().to_vec(),
                weights: p.weights.data().to_vec(),
                bias_shape: p.bias.shape().to_vec(),
                bias: p.bias.data().to_vec(),
            })
        })
        .collect()
}

/// Converts [`FlatParams`] back into the core's parameters.
///
/// Errors: a layer whose value count differs from the product of its shape. Whether the
/// parameters fit a network is checked by [`cnn_core::Network::new`].
pub fn unflatten(flat: &[Option<FlatLayer>]) -> Result<Vec<Option<LayerParams>>, String> {
    flat.iter()
        .enumerate()
        .map(|(index, layer)| {
            let Some(layer) = layer else {
                return Ok(None);
            };
            let tensor = |shape: &[usize], values: &[f64], name: &str| {
                Tensor::from_vec(shape, values.to_vec()).ok_or_else(|| {
                    format!(
                        "layer {index} has {} {name} values for shape {shape:?}",
                        values.len()
                    )
                })
            };
            Ok(Some(LayerParams {
                weights: tensor(&layer.weight_shape, &layer.weights, "weight")?,
                bias: tensor(&layer.bias_shape, &layer.bias, "bias")?,
            }))
        })
        .collect()
}

/// A message from the page to the worker.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Input {
    /// Fetch the training and test digits from these absolute URLs. The worker runs from
    /// a `blob:` URL, against which relative URLs do not resolve.
    Load {
        train_url: String,
        test_url: String,
    },
    /// Start a new run from seeded weights and train.
    Start(Settings),
    /// Set up a paused run from saved weights, `step` steps and `examples` training
    /// examples into it.
    Restore {
        settings: Settings,
        params: FlatParams,
        step: usize,
        examples: usize,
    },
    Pause,
    /// Go on training the paused run with these settings. A changed optimiser setting
    /// starts a new optimiser (momentum 0) on the current weights; changed network
    /// settings are rejected.
    Resume(Settings),
    /// Drop the run.
    Reset,
    /// Evaluate the current weights on every test digit.
    Evaluate,
}

/// The values of one SGD step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepPoint {
    /// 1-based step number over the whole run.
    pub step: usize,
    /// 0-based epoch the step belongs to.
    pub epoch: usize,
    /// Mean loss over the batch, before the update.
    pub loss: f64,
    /// Per layer, the batch-mean L2 norm of δ = dL/d(layer input).
    pub delta_norms: Vec<f64>,
    /// Per layer with parameters, the L2 norm of the batch-mean dL/dW.
    pub weight_grad_norms: Vec<f64>,
}

/// Accuracy on the fixed sample of test digits, measured during training.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct SamplePoint {
    pub step: usize,
    pub accuracy: f64,
}

/// What the worker did since its previous progress message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    /// Every step since the previous progress message, in order.
    pub steps: Vec<StepPoint>,
    /// Sample accuracies measured since the previous progress message.
    pub samples: Vec<SamplePoint>,
    /// Steps and training examples done so far in the run.
    pub step: usize,
    pub examples: usize,
    /// 0-based epoch of the next step.
    pub epoch: usize,
    /// Training speed over the recent chunks, in examples per second.
    pub examples_per_second: f64,
    /// Estimated time to the end of the last epoch, in seconds, evaluation excluded.
    pub seconds_left: f64,
    /// The weights of the first conv layer, `[kernels, channels, rows, cols]` row-major.
    pub kernels: Vec<f64>,
    /// dL/dW of the first conv layer averaged over the probe batch, when measured in
    /// this chunk.
    pub kernel_grads: Option<Vec<f64>>,
    /// Every parameter of the network after the last step.
    pub params: FlatParams,
}

/// A test digit the network got wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Miss {
    /// Index into the 1,000 test digits.
    pub index: usize,
    pub label: usize,
    pub predicted: usize,
}

/// The network's results on every test digit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TestReport {
    /// Steps taken when the report was made.
    pub step: usize,
    /// The epoch that ended with this report, or `None` for a report on request.
    pub epoch: Option<usize>,
    pub accuracy: f64,
    pub mean_loss: f64,
    /// `confusion[label][predicted]`.
    pub confusion: Vec<Vec<usize>>,
    /// Every misclassified test digit, in index order.
    pub misses: Vec<Miss>,
}

/// A message from the worker to the page.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Output {
    /// The digits arrived: the training and test counts.
    Loaded {
        train: usize,
        test: usize,
    },
    Progress(Box<Progress>),
    Evaluated(Box<TestReport>),
    /// Training stopped on request after step `step`.
    Paused {
        step: usize,
    },
    /// Training stopped after the last epoch.
    Finished {
        step: usize,
    },
    /// The loss of step `step` was not finite; the weights are those before that step.
    Diverged {
        step: usize,
        message: String,
        last_good: FlatParams,
    },
    /// The run was dropped.
    Stopped,
    /// A request could not be carried out; the message says why and what to do.
    Failed {
        message: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use cnn_core::Network;

    #[test]
    fn network_replaces_both_activations() {
        let settings = Settings {
            activation: Activation::Sigmoid,
            pool: PoolKind::Mean,
            ..Settings::default()
        };
        let spec = settings.network();
        let activations: Vec<_> = spec
            .layers
            .iter()
            .filter_map(|l| match l {
                LayerSpec::Activation(a) => Some(*a),
                _ => None,
            })
            .collect();
        assert_eq!(activations, vec![Activation::Sigmoid, Activation::Sigmoid]);
        assert!(spec.plan().is_ok());
    }

    #[test]
    fn flat_params_round_trip() {
        let network = Network::seeded(Settings::default().network(), 3).unwrap();
        let flat = flatten(network.params());
        assert_eq!(unflatten(&flat).unwrap(), network.params());
    }

    #[test]
    fn unflatten_rejects_wrong_count() {
        let network = Network::seeded(Settings::default().network(), 3).unwrap();
        let mut flat = flatten(network.params());
        flat[0].as_mut().unwrap().weights.pop();
        let message = unflatten(&flat).unwrap_err();
        assert!(
            message.contains("layer 0 has 149 weight values"),
            "{message}"
        );
    }

    #[test]
    fn check_rejects_out_of_range() {
        let zero_epochs = Settings {
            epochs: 0,
            ..Settings::default()
        };
        assert!(zero_epochs.check().unwrap_err().contains("epoch count 0"));
        let huge_batch = Settings {
            batch_size: MAX_BATCH_SIZE + 1,
            ..Settings::default()
        };
        assert!(huge_batch.check().unwrap_err().contains("batch size 257"));
        assert!(Settings::default().check().is_ok());
    }

    /// The worker boundary uses bincode; every message must survive it.
    #[test]
    fn messages_survive_bincode() {
        let network = Network::seeded(Settings::default().network(), 3).unwrap();
        let config = bincode::config::standard();
        let output = Output::Progress(Box::new(Progress {
            steps: vec![StepPoint {
                step: 1,
                epoch: 0,
                loss: 2.3,
                delta_norms: vec![0.1; 7],
                weight_grad_norms: vec![0.2; 3],
            }],
            samples: vec![SamplePoint {
                step: 1,
                accuracy: 0.1,
            }],
            step: 1,
            examples: 16,
            epoch: 0,
            examples_per_second: 500.0,
            seconds_left: 40.0,
            kernels: vec![0.5; 150],
            kernel_grads: Some(vec![0.01; 150]),
            params: flatten(network.params()),
        }));
        let bytes = bincode::serde::encode_to_vec(&output, config).unwrap();
        let (back, _): (Output, usize) = bincode::serde::decode_from_slice(&bytes, config).unwrap();
        assert_eq!(back, output);

        let input = Input::Resume(Settings::default());
        let bytes = bincode::serde::encode_to_vec(&input, config).unwrap();
        let (back, _): (Input, usize) = bincode::serde::decode_from_slice(&bytes, config).unwrap();
        assert_eq!(back, input);
    }
}
