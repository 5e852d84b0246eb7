//! The wasm-bindgen exports the Node harness calls: one [`CoreNet`] per network and batch.

use cnn_core::fast::Targets;
use wasm_bindgen::prelude::*;

use crate::{Mode, Workload};

/// A [`Workload`] for JavaScript.
#[wasm_bindgen]
pub struct CoreNet {
    workload: Workload,
    /// `dL/dx` of the network input from the last [`CoreNet::train_with_input_gradient`].
    grad_input: Vec<f32>,
}

#[wasm_bindgen]
impl CoreNet {
    /// Builds the workload of `spec_json` with weights and inputs drawn from `seed`.
    #[wasm_bindgen(constructor)]
    pub fn new(spec_json: &str, seed: u32, batch: usize) -> Result<CoreNet, JsError> {
        let workload =
            Workload::new(spec_json, u64::from(seed), batch).map_err(|e| JsError::new(&e))?;
        Ok(Self {
            workload,
            grad_input: Vec::new(),
        })
    }

    /// Runs the forward pass of the batch and returns the first output value.
    pub fn forward(&mut self) -> f32 {
        self.workload.step(Mode::Forward)
    }

    /// Runs forward and backward on the batch and returns the mean loss.
    pub fn train(&mut self) -> f32 {
        self.workload.step(Mode::Train)
    }

    /// Runs [`CoreNet::train`] with the first layer's input gradient too, for the checks.
    pub fn train_with_input_gradient(&mut self) -> f32 {
        let w = &mut self.workload;
        w.engine.set_input_gradient(true);
        let loss = w.engine.backprop(&w.inputs, Targets::Labels(&w.labels));
        self.grad_input = w.engine.grad_input(0).unwrap_or(&[]).to_vec();
        w.engine.set_input_gradient(false);
        loss.expect("the workload's batch is valid")
    }

    /// Returns the network's seeded parameters as JSON, in the layout of `Network::params`.
    pub fn params_json(&self) -> String {
        let params: Vec<_> = self.workload.network.params().to_vec();
        serde_json::to_string(&params).expect("tensors serialize")
    }

    /// Returns the batch's inputs, `C·H·W` values per example.
    pub fn inputs(&self) -> Vec<f32> {
        self.workload.inputs.clone()
    }

    pub fn labels(&self) -> Vec<u32> {
        self.workload.labels.iter().map(|&l| l as u32).collect()
    }

    /// Returns the final outputs of the last forward pass.
    pub fn outputs(&self) -> Vec<f32> {
        let layers = self.workload.network.spec().layers.len();
        self.workload.engine.output(layers - 1).to_vec()
    }

    /// `dL/dW` of layer `layer` from the last training step, empty for a layer without
    /// weights.
    pub fn grad_weights(&self, layer: usize) -> Vec<f32> {
        self.workload
            .engine
            .grad_weights(layer)
            .unwrap_or(&[])
            .to_vec()
    }

    /// `dL/db` of layer `layer` from the last training step.
    pub fn grad_bias(&self, layer: usize) -> Vec<f32> {
        self.workload
            .engine
            .grad_bias(layer)
            .unwrap_or(&[])
            .to_vec()
    }

    /// `dL/dx` of the network input from the last [`CoreNet::train_with_input_gradient`].
    pub fn grad_input(&self) -> Vec<f32> {
        self.grad_input.clone()
    }
}

/// Returns whether this build uses the 128-bit SIMD instructions.
#[wasm_bindgen]
pub fn simd128() -> bool {
    cfg!(target_feature = "simd128")
}
