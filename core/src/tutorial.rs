//! The tutorial's presets: small networks that each isolate one question of the backward
//! pass, plus the trained digit network.

use crate::activation::Activation;
use crate::conv::ConvSpec;
use crate::dense::DenseSpec;
use crate::document::{Document, InputSource, WeightSource};
use crate::loss::{Loss, Objective};
use crate::pool::{PoolKind, PoolSpec};
use crate::presets::digit_network;
use crate::spec::{LayerSpec, NetworkSpec};
use crate::Tensor;

/// One preset: an id for links and tests, a title for its button, and the document it
/// loads.
#[derive(Clone, Debug, PartialEq)]
pub struct Preset {
    pub id: &'static str,
    pub title: &'static str,
    /// One sentence on what the preset shows.
    pub about: &'static str,
    pub document: Document,
}

/// The test digit the digit preset starts on (a 7, see `DIGIT_LABEL`).
pub const DIGIT_INDEX: usize = 707;
/// The label of test digit [`DIGIT_INDEX`].
pub const DIGIT_LABEL: usize = 7;

fn conv(kernels: usize, size: usize, stride: usize, padding: usize, dilation: usize) -> LayerSpec {
    LayerSpec::Conv(ConvSpec {
        kernels,
        size: [size, size],
        stride: [stride, stride],
        padding: [padding, padding],
        dilation: [dilation, dilation],
    })
}

fn pool(kind: PoolKind, size: usize, stride: usize) -> LayerSpec {
    LayerSpec::Pool(PoolSpec {
        kind,
        size: [size, size],
        stride: [stride, stride],
    })
}

fn activation(function: Activation) -> LayerSpec {
    LayerSpec::Activation(function)
}

fn network(input: [usize; 3], layers: Vec<LayerSpec>) -> NetworkSpec {
    NetworkSpec { input, layers }
}

/// Values spread over [−1, 1] in steps of 0.1 without any pattern a kernel lines up with.
fn scattered(shape: [usize; 3], salt: usize) -> Tensor {
    Tensor::from_fn3(shape, |c, h, w| {
        let n = (c * 131 + h * 37 + w * 11 + salt * 7) % 21;
        (n as f64 - 10.0) / 10.0
    })
}

/// Every preset, in the order of the preset buttons.
pub fn presets() -> Vec<Preset> {
    vec![
        Preset {
            id: "one-stage",
            title: "One conv–pool stage",
            about: "Input (1, 6, 6) → conv (2, 1, 3, 3) → sigmoid → 2×2 mean pool, as in a \
                    from-scratch implementation, with a given δ at the pool output.",
            document: Document {
                network: network(
                    [1, 6, 6],
                    vec![
                        conv(2, 3, 1, 0, 1),
                        activation(Activation::Sigmoid),
                        pool(PoolKind::Mean, 2, 2),
                    ],
                ),
                input: InputSource::Values(scattered([1, 6, 6], 0)),
                weights: WeightSource::Seeded(1),
                objective: Objective::Upstream(
                    Tensor::from_vec(
                        &[2, 2, 2],
                        vec![0.5, -0.25, 1.0, 0.75, -0.5, 0.25, -1.0, 0.5],
                    )
                    .expect("8 values"),
                ),
                step: 0,
            },
        },
        Preset {
            id: "two-stages",
            title: "Two stages, dense, loss",
            about: "Two conv–activation–pool stages chained, then a dense layer and softmax \
                    cross-entropy: δ travels from the loss through both stages.",
            document: Document {
                network: network(
                    [1, 12, 12],
                    vec![
                        conv(2, 3, 1, 0, 1),
                        activation(Activation::Relu),
                        pool(PoolKind::Max, 2, 2),
                        conv(3, 3, 1, 0, 1),
                        activation(Activation::Tanh),
                        pool(PoolKind::Mean, 2, 2),
                        LayerSpec::Dense(DenseSpec { outputs: 3 }),
                    ],
                ),
                input: InputSource::Values(scattered([1, 12, 12], 1)),
                weights: WeightSource::Seeded(2),
                objective: Objective::Loss(Loss::SoftmaxCrossEntropy { label: 1 }),
                step: 0,
            },
        },
        Preset {
            id: "stride-2",
            title: "Stride-2 conv",
            about: "A 3×3 conv with stride 2: δ gets a zero inserted between its entries \
                    before the full correlation with the rotated kernel.",
            document: Document {
                network: network([1, 7, 7], vec![conv(1, 3, 2, 0, 1)]),
                input: InputSource::Values(scattered([1, 7, 7], 2)),
                weights: WeightSource::Seeded(3),
                objective: Objective::Upstream(
                    Tensor::from_vec(
                        &[1, 3, 3],
                        vec![0.5, -1.0, 0.25, 1.0, 0.75, -0.5, -0.25, 0.5, 1.0],
                    )
                    .expect("9 values"),
                ),
                step: 0,
            },
        },
        Preset {
            id: "max-tie",
            title: "Overlapping max pool with a tie",
            about: "3×3 max pool with stride 2 on a 5×5 map: the windows overlap, the centre \
                    is the maximum of three of them, and the first window has a tie.",
            document: Document {
                network: network([1, 5, 5], vec![pool(PoolKind::Max, 3, 2)]),
                input: InputSource::Values(
                    Tensor::from_vec(
                        &[1, 5, 5],
                        vec![
                            1.0, 2.0, 0.0, 4.0, 3.0, //
                            6.0, 0.0, 1.0, 0.0, 2.0, //
                            0.0, 1.0, 6.0, 1.0, 0.0, //
                            2.0, 0.0, 1.0, 3.0, 1.0, //
                            0.0, 5.0, 0.0, 1.0, 2.0,
                        ],
                    )
                    .expect("25 values"),
                ),
                weights: WeightSource::Seeded(4),
                objective: Objective::Upstream(
                    Tensor::from_vec(&[1, 2, 2], vec![1.0, 2.0, 3.0, 4.0]).expect("4 values"),
                ),
                step: 0,
            },
        },
        Preset {
            id: "l2-zero",
            title: "L2 pool with an all-zero window",
            about: "2×2 L2 pooling where relu empties one window: its norm is 0 and its \
                    cells get gradient 0, not 0/0.",
            document: Document {
                network: network(
                    [1, 4, 4],
                    vec![activation(Activation::Relu), pool(PoolKind::L2, 2, 2)],
                ),
                input: InputSource::Values(
                    Tensor::from_vec(
                        &[1, 4, 4],
                        vec![
                            -1.0, -0.5, 3.0, -2.0, //
                            -0.25, -2.0, 0.0, 4.0, //
                            1.0, -1.0, 0.5, 0.5, //
                            2.0, 2.0, -0.5, 0.5,
                        ],
                    )
                    .expect("16 values"),
                ),
                weights: WeightSource::Seeded(5),
                objective: Objective::Upstream(
                    Tensor::from_vec(&[1, 2, 2], vec![1.0, -1.0, 0.5, 2.0]).expect("4 values"),
                ),
                step: 0,
            },
        },
        Preset {
            id: "padding-dilation",
            title: "Padding and dilation",
            about: "A 3×3 conv with padding 1 and dilation 2: the kernel's taps are 2 apart, \
                    and the input gradient is cropped by the padding.",
            document: Document {
                network: network(
                    [1, 6, 6],
                    vec![conv(2, 3, 1, 1, 2), activation(Activation::Tanh)],
                ),
                input: InputSource::Values(scattered([1, 6, 6], 3)),
                weights: WeightSource::Seeded(6),
                objective: Objective::Upstream(scattered([2, 4, 4], 4)),
                step: 0,
            },
        },
        Preset {
            id: "digit",
            title: "Real MNIST digit, two stages",
            about: "A handwritten 7 from the MNIST test digits through the trained two-stage \
                    network: conv–relu–pool twice, dense 10, softmax cross-entropy.",
            document: Document {
                network: digit_network(PoolKind::Max),
                input: InputSource::Digit(DIGIT_INDEX),
                weights: WeightSource::Trained(PoolKind::Max),
                objective: Objective::Loss(Loss::SoftmaxCrossEntropy { label: DIGIT_LABEL }),
                step: 0,
            },
        },
    ]
}

/// The preset with `id`.
pub fn preset(id: &str) -> Option<Preset> {
    presets().into_iter().find(|p| p.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Network;

    #[test]
    fn every_preset_runs() {
        for preset in presets() {
            let plan = preset.document.network.plan();
            assert!(plan.is_ok(), "{}: {:?}", preset.id, plan.err());
            let InputSource::Values(x) = &preset.document.input else {
                continue;
            };
            let WeightSource::Seeded(seed) = preset.document.weights else {
                panic!("{}: tutorial presets use seeded weights", preset.id);
            };
            let network = Network::seeded(preset.document.network.clone(), seed).unwrap();
            let trace = crate::Trace::record(&network, x, &preset.document.objective);
            assert!(trace.is_ok(), "{}: {:?}", preset.id, trace.err());
        }
    }

    #[test]
    fn max_tie_preset_has_a_tie() {
        let preset = preset("max-tie").unwrap();
        let InputSource::Values(x) = &preset.document.input else {
            panic!("values expected");
        };
        // Window (0, 0) covers rows and columns 0..3: 6 at (1, 0) ties with the centre.
        assert_eq!(x.get(&[0, 1, 0]), x.get(&[0, 2, 2]));
        let network = Network::new(preset.document.network.clone(), vec![None]).unwrap();
        let trace = crate::Trace::record(&network, x, &preset.document.objective).unwrap();
        let grad_x = trace.backward[1].op.grad_x().unwrap();
        // The tie goes to the row-major first cell; the centre sums windows 1, 2 and 3.
        assert_eq!(grad_x.get(&[0, 1, 0]), Some(1.0));
        assert_eq!(grad_x.get(&[0, 2, 2]), Some(9.0));
    }

    #[test]
    fn l2_preset_has_zero_window() {
        let preset = preset("l2-zero").unwrap();
        let InputSource::Values(x) = &preset.document.input else {
            panic!("values expected");
        };
        let window = [
            x.get(&[0, 0, 0]),
            x.get(&[0, 0, 1]),
            x.get(&[0, 1, 0]),
            x.get(&[0, 1, 1]),
        ];
        assert!(window.iter().all(|v| v.unwrap() <= 0.0));
    }
}
