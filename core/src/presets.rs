//! The default digit network of the first page and the file its trained weights live in.

use serde::{Deserialize, Serialize};

use crate::conv::ConvSpec;
use crate::dense::DenseSpec;
use crate::network::LayerParams;
use crate::pool::{PoolKind, PoolSpec};
use crate::spec::{LayerSpec, NetworkSpec};
use crate::Activation;

/// Two conv–relu–pool stages and a dense layer with 10 outputs on a 1×28×28 digit:
/// conv 6@5×5 → relu → pool 2×2 → conv 12@5×5 → relu → pool 2×2 → dense 10.
pub fn digit_network(pool: PoolKind) -> NetworkSpec {
    let conv = |kernels| {
        LayerSpec::Conv(ConvSpec {
            kernels,
            size: [5, 5],
            stride: [1, 1],
            padding: [0, 0],
            dilation: [1, 1],
        })
    };
    let pool = LayerSpec::Pool(PoolSpec {
        kind: pool,
        size: [2, 2],
        stride: [2, 2],
    });
    NetworkSpec {
        input: [1, 28, 28],
        layers: vec![
            conv(6),
            LayerSpec::Activation(Activation::Relu),
            pool.clone(),
            conv(12),
            LayerSpec::Activation(Activation::Relu),
            pool,
            LayerSpec::Dense(DenseSpec { outputs: 10 }),
        ],
    }
}

/// Weights trained by `core/examples/train_default.rs`, one set per pooling kind.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainedWeights {
    pub about: String,
    pub sets: Vec<TrainedSet>,
}

/// One trained network and how it was trained.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainedSet {
    pub pool: PoolKind,
    pub network: NetworkSpec,
    pub params: Vec<Option<LayerParams>>,
    pub init_seed: u64,
    pub shuffle_seed: u64,
    pub learning_rate: f64,
    pub momentum: f64,
    pub batch_size: usize,
    pub epochs: usize,
    /// Fraction of the 1,000 test digits classified correctly with these weights.
    pub test_accuracy: f64,
}

impl TrainedWeights {
    /// The set trained with pooling kind `pool`.
    pub fn set(&self, pool: PoolKind) -> Option<&TrainedSet> {
        self.sets.iter().find(|s| s.pool == pool)
    }
}
