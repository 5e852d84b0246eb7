//! The shareable description of one view of the app: network, input, weights, objective
//! and the step on screen. The app encodes it into permalinks; parsing rejects unknown
//! fields, and validating the network and its values is left to [`crate::Network::new`]
//! and the objective checks, as for any other spec.

use serde::{Deserialize, Serialize};

use crate::loss::Objective;
use crate::network::LayerParams;
use crate::pool::PoolKind;
use crate::spec::NetworkSpec;
use crate::Tensor;

/// Where the input values come from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum InputSource {
    /// Explicit values `[C, H, W]`.
    Values(Tensor),
    /// Test digit `index` of the shipped MNIST test set, scaled to 0..1.
    Digit(usize),
}

/// Where the parameters come from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum WeightSource {
    /// [`crate::Network::seeded`] with this seed.
    Seeded(u64),
    /// One entry per layer, as in a golden case.
    Values(Vec<Option<LayerParams>>),
    /// The shipped trained weights of the default digit network with this pooling kind.
    Trained(PoolKind),
}

/// Everything needed to rebuild one view.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Document {
    pub network: NetworkSpec,
    pub input: InputSource,
    pub weights: WeightSource,
    pub objective: Objective,
    /// 0-based index of the backward step on screen.
    #[serde(default)]
    pub step: usize,
}
