//! The numeric core of the CNN Backprop Explorer: conv, activation, pooling and dense
//! layers with their forward and backward passes, losses, and a [`Trace`] of every step.
//!
//! All values are `f64`. Conventions (cross-correlation, floor-mode pooling, first maximum
//! wins, relu′(0) = 0, L2 gradient 0 for an all-zero window, mse without division by the
//! count) are stated in each layer's module.
//!
//! ```
//! use cnn_core::{Network, NetworkSpec, Objective, Loss, Tensor, Trace};
//!
//! let spec: NetworkSpec = serde_json::from_str(r#"{"input": [1, 6, 6], "layers": [
//!     {"conv": {"kernels": 2, "size": [3, 3]}},
//!     {"activation": "sigmoid"},
//!     {"pool": {"kind": "mean", "size": [2, 2], "stride": [2, 2]}},
//!     {"dense": {"outputs": 3}}]}"#).unwrap();
//! let network = Network::seeded(spec, 42).unwrap();
//! let x = Tensor::from_fn3([1, 6, 6], |_, h, w| (h * 6 + w) as f64 / 36.0);
//! let objective = Objective::Loss(Loss::SoftmaxCrossEntropy { label: 1 });
//! let trace = Trace::record(&network, &x, &objective).unwrap();
//! assert_eq!(trace.forward.len(), 4);
//! assert_eq!(trace.backward[0].op.name(), "loss_gradient");
//! assert_eq!(trace.backward.last().unwrap().op.name(), "conv_input");
//! ```

pub mod activation;
pub mod budget;
pub mod case;
pub mod conv;
pub mod dataset;
pub mod dense;
pub mod document;
mod error;
pub mod explain;
pub mod export;
pub mod fast;
pub mod finite_difference;
pub mod init;
pub mod loss;
pub mod network;
pub mod pool;
pub mod presets;
pub mod spec;
mod tensor;
pub mod trace;
pub mod train;
pub mod tutorial;

pub use activation::Activation;
pub use case::{Case, Expected};
pub use error::{CoreError, Location};
pub use loss::{Loss, Objective};
pub use network::{Gradients, LayerParams, Network};
pub use pool::PoolKind;
pub use spec::{LayerSpec, NetworkSpec};
pub use tensor::Tensor;
pub use trace::{
    BackwardOp, BackwardStep, ForwardOp, ForwardStep, NonFinite, NonFinitePlace, Trace,
};
