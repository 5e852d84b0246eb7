//! The benchmark's workloads for `cnn_core::fast`: a network built from a spec and a seed,
//! with a fixed-seed batch of inputs and labels, run the same way in Node (through the
//! wasm-bindgen exports of [`wasm`], on wasm32) and natively (`src/bin/native.rs`).

use cnn_core::fast::{Engine, Targets};
use cnn_core::init::SplitMix64;
use cnn_core::{Network, NetworkSpec};

#[cfg(target_arch = "wasm32")]
pub mod wasm;

/// Mixed into the seed of the inputs, so that they do not repeat the weights' numbers.
const INPUT_SEED: u64 = 0x1D_F00D;

/// The work of one benchmark step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// The forward pass of the batch.
    Forward,
    /// Forward, backward and every weight and bias gradient of the batch's mean
    /// softmax cross-entropy; no parameter update.
    Train,
}

/// A network with seeded weights and a fixed batch of inputs and labels, and the engine
/// that runs it.
pub struct Workload {
    pub network: Network,
    pub engine: Engine,
    pub batch: usize,
    /// `batch` examples of `C·H·W` values uniform in `[0, 1)`.
    pub inputs: Vec<f32>,
    /// One class label per example.
    pub labels: Vec<usize>,
}

impl Workload {
    /// Builds the network of `spec_json` with [`Network::seeded`] weights and a batch of
    /// `batch` inputs and labels drawn from `seed`.
    ///
    /// Errors: a spec that does not parse or plan, or a batch of 0.
    pub fn new(spec_json: &str, seed: u64, batch: usize) -> Result<Self, String> {
        if batch == 0 {
            return Err("the batch size is 0; use at least 1".to_string());
        }
        let spec: NetworkSpec =
            serde_json::from_str(spec_json).map_err(|e| format!("invalid network spec: {e}"))?;
        let network = Network::seeded(spec, seed).map_err(|e| e.to_string())?;
        let engine = Engine::new(&network);
        let mut rng = SplitMix64::new(seed ^ INPUT_SEED);
        let inputs = (0..batch * engine.input_len())
            .map(|_| rng.next_f64() as f32)
            .collect();
        let labels = (0..batch).map(|_| rng.below(engine.output_len())).collect();
        Ok(Self {
            network,
            engine,
            batch,
            inputs,
            labels,
        })
    }

    /// Runs one step and returns a value that depends on its result (the first output, or
    /// the loss), so that no step can be skipped as unused.
    pub fn step(&mut self, mode: Mode) -> f32 {
        let result = match mode {
            Mode::Forward => self.engine.forward(&self.inputs).map(|y| y[0]),
            Mode::Train => self
                .engine
                .backprop(&self.inputs, Targets::Labels(&self.labels)),
        };
        result.expect("the workload's batch is valid")
    }
}
