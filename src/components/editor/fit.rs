//! Fitting a document to an edited network: the input, the weights and the objective are
//! kept where they still fit and rebuilt where they do not, each rebuild with a note for
//! the page.

use cnn_core::document::{Document, InputSource, WeightSource};
use cnn_core::init::SplitMix64;
use cnn_core::network::LayerParams;
use cnn_core::presets::digit_network;
use cnn_core::spec::Plan;
use cnn_core::{CoreError, Loss, NetworkSpec, Objective, PoolKind, Tensor};

/// The seeds used when a rebuild needs random values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seeds {
    /// For [`WeightSource::Seeded`] when trained or typed weights no longer fit.
    pub weights: u64,
    /// For a seeded random upstream gradient δ.
    pub upstream: u64,
}

/// A document fitted to a new network, and one sentence per part that was rebuilt.
#[derive(Clone, Debug, PartialEq)]
pub struct Fitted {
    pub document: Document,
    pub notes: Vec<String>,
}

/// How the values of an upstream gradient δ were made, which decides how a resized δ is
/// filled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpstreamFill {
    Ones,
    /// [`random_tensor`] from this seed, in [−1, 1).
    Random(u64),
    /// Typed or given values: the cells at indices both shapes have are kept, new cells
    /// are 0.
    Keep,
}

/// Fits `previous` to `network`.
///
/// Errors: the core's [`NetworkSpec::plan`] error for `network`.
pub fn refit(previous: &Document, network: NetworkSpec, seeds: Seeds) -> Result<Fitted, CoreError> {
    let plan = network.plan()?;
    let mut notes = Vec::new();

    let input = match &previous.input {
        InputSource::Values(x) if x.shape() != network.input => {
            notes.push(format!(
                "The input x was scaled to {}.",
                shape_text(&network.input)
            ));
            InputSource::Values(resize_map(x, network.input))
        }
        other => other.clone(),
    };

    let weights = fit_weights(
        &previous.weights,
        &network,
        &plan,
        seeds.weights,
        &mut notes,
    );
    let objective = fit_objective(
        &previous.objective,
        plan.output_shape(),
        seeds.upstream,
        &mut notes,
    );

    Ok(Fitted {
        document: Document {
            network,
            input,
            weights,
            objective,
            step: previous.step,
        },
        notes,
    })
}

/// Returns the pooling kind of the trained digit network that `network` is, if any.
pub fn trained_kind(network: &NetworkSpec) -> Option<PoolKind> {
    PoolKind::ALL
        .into_iter()
        .find(|kind| digit_network(*kind) == *network)
}

fn fit_weights(
    weights: &WeightSource,
    network: &NetworkSpec,
    plan: &Plan,
    seed: u64,
    notes: &mut Vec<String>,
) -> WeightSource {
    match weights {
        WeightSource::Seeded(seed) => WeightSource::Seeded(*seed),
        WeightSource::Trained(kind) => match trained_kind(network) {
            Some(kind) => WeightSource::Trained(kind),
            None => {
                notes.push(format!(
                    "The trained weights fit only the digit network with {} pooling, so W and \
                     b are now seeded random values (seed {seed}).",
                    kind.name()
                ));
                WeightSource::Seeded(seed)
            }
        },
        WeightSource::Values(params) if params_fit(plan, params) => {
            WeightSource::Values(params.clone())
        }
        WeightSource::Values(_) => {
            notes.push(format!(
                "The typed weights no longer fit the network's shapes, so W and b are now \
                 seeded random values (seed {seed})."
            ));
            WeightSource::Seeded(seed)
        }
    }
}

/// Returns whether `params` has one entry per layer with the shapes `plan` needs.
pub fn params_fit(plan: &Plan, params: &[Option<LayerParams>]) -> bool {
    params.len() == plan.layers.len()
        && plan.layers.iter().zip(params).all(|(layer, entry)| {
            match (layer.param_shapes(), entry) {
                (None, None) => true,
                (Some((w, b)), Some(p)) => p.weights.shape() == w && p.bias.shape() == b,
                _ => false,
            }
        })
}

fn fit_objective(
    objective: &Objective,
    output: &[usize],
    seed: u64,
    notes: &mut Vec<String>,
) -> Objective {
    let classes = match *output {
        [n] => Some(n),
        _ => None,
    };
    match (objective, classes) {
        (Objective::Loss(loss), None) => {
            notes.push(format!(
                "{} needs the output vector of a dense layer, so the backward pass now starts \
                 from a seeded random upstream gradient δ (seed {seed}) of shape {}.",
                loss_title(loss),
                shape_text(output)
            ));
            Objective::Upstream(random_tensor(output, seed, -1.0, 1.0))
        }
        (Objective::Loss(Loss::SoftmaxCrossEntropy { label }), Some(n)) if *label >= n => {
            let last = n - 1;
            notes.push(format!(
                "The label {label} does not exist among {n} outputs, so it is now {last}."
            ));
            Objective::Loss(Loss::SoftmaxCrossEntropy { label: last })
        }
        (Objective::Loss(Loss::Mse { target }), Some(n)) if target.len() != n => {
            notes.push(format!(
                "The mse target t was resized to {n} values; new entries are 0."
            ));
            Objective::Loss(Loss::Mse {
                target: resize_keep(target, &[n]),
            })
        }
        (Objective::Upstream(g), _) if g.shape() != output => {
            let resized = match upstream_fill(g, seed) {
                UpstreamFill::Ones => ones(output),
                UpstreamFill::Random(seed) => random_tensor(output, seed, -1.0, 1.0),
                UpstreamFill::Keep => resize_keep(g, output),
            };
            let how = match upstream_fill(g, seed) {
                UpstreamFill::Ones => "all ones".to_string(),
                UpstreamFill::Random(seed) => format!("seeded random values from seed {seed}"),
                UpstreamFill::Keep => {
                    "the values at the cells both shapes have, 0 elsewhere".into()
                }
            };
            notes.push(format!(
                "The upstream gradient δ was resized to {}: {how}.",
                shape_text(output)
            ));
            Objective::Upstream(resized)
        }
        (other, _) => other.clone(),
    }
}

fn loss_title(loss: &Loss) -> &'static str {
    match loss {
        Loss::Mse { .. } => "The MSE loss",
        Loss::SoftmaxCrossEntropy { .. } => "Softmax cross-entropy",
    }
}

/// Tells how `g` was made: all ones, [`random_tensor`] from `seed`, or anything else.
pub fn upstream_fill(g: &Tensor, seed: u64) -> UpstreamFill {
    if !g.is_empty() && g.data().iter().all(|v| *v == 1.0) {
        UpstreamFill::Ones
    } else if *g == random_tensor(g.shape(), seed, -1.0, 1.0) {
        UpstreamFill::Random(seed)
    } else {
        UpstreamFill::Keep
    }
}

/// Formats a shape as the page writes it: "[2, 4, 4]".
pub fn shape_text(shape: &[usize]) -> String {
    format!("{shape:?}")
}

pub fn ones(shape: &[usize]) -> Tensor {
    let len = shape.iter().product();
    Tensor::from_vec(shape, vec![1.0; len]).expect("sized from the shape")
}

/// Uniform values in `[low, high)` from SplitMix64 with `seed`, rounded to two decimals so
/// that they read well in a field.
pub fn random_tensor(shape: &[usize], seed: u64, low: f64, high: f64) -> Tensor {
    let mut rng = SplitMix64::new(seed);
    let len = shape.iter().product();
    let data = (0..len)
        .map(|_| (rng.uniform(low, high) * 100.0).round() / 100.0)
        .collect();
    Tensor::from_vec(shape, data).expect("sized from the shape")
}

/// `t` in `shape`: the value at every index both shapes have when the ranks agree (else
/// the leading values in flat order), 0 elsewhere.
pub fn resize_keep(t: &Tensor, shape: &[usize]) -> Tensor {
    let mut out = Tensor::zeros(shape);
    if t.shape().len() == shape.len() {
        for flat in 0..out.len() {
            let index = out.unravel(flat);
            if let Some(value) = t.get(&index) {
                out.data_mut()[flat] = value;
            }
        }
    } else {
        for (slot, value) in out.data_mut().iter_mut().zip(t.data()) {
            *slot = *value;
        }
    }
    out
}

/// Scales a `[C, H, W]` map to `shape` by nearest-neighbour sampling. A new channel
/// repeats the last channel of `x`.
pub fn resize_map(x: &Tensor, shape: [usize; 3]) -> Tensor {
    let [chans, rows, cols] = match *x.shape() {
        [c, h, w] if c > 0 && h > 0 && w > 0 => [c, h, w],
        _ => return Tensor::zeros(&shape),
    };
    Tensor::from_fn3(shape, |c, h, w| {
        let source = [
            c.min(chans - 1),
            h * rows / shape[1].max(1),
            w * cols / shape[2].max(1),
        ];
        x.get(&source).unwrap_or(0.0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use cnn_core::tutorial;
    use cnn_core::{LayerSpec, Network};

    const SEEDS: Seeds = Seeds {
        weights: 11,
        upstream: 5,
    };

    fn preset(id: &str) -> Document {
        tutorial::preset(id).unwrap().document
    }

    fn with_kernels(mut network: NetworkSpec, kernels: usize) -> NetworkSpec {
        if let LayerSpec::Conv(conv) = &mut network.layers[0] {
            conv.kernels = kernels;
        }
        network
    }

    #[test]
    fn unchanged_network_keeps_everything() {
        for preset in tutorial::presets() {
            let document = preset.document.clone();
            let fitted = refit(&document, document.network.clone(), SEEDS).unwrap();
            assert_eq!(fitted.document, document, "{}", preset.id);
            assert!(fitted.notes.is_empty(), "{}: {:?}", preset.id, fitted.notes);
        }
    }

    #[test]
    fn typed_upstream_is_resized_keeping_cells() {
        let document = preset("one-stage");
        let network = with_kernels(document.network.clone(), 3);
        let fitted = refit(&document, network, SEEDS).unwrap();
        let Objective::Upstream(g) = &fitted.document.objective else {
            panic!("upstream expected");
        };
        assert_eq!(g.shape(), &[3, 2, 2]);
        let Objective::Upstream(before) = &document.objective else {
            panic!("upstream expected");
        };
        assert_eq!(&g.data()[..8], before.data());
        assert_eq!(&g.data()[8..], &[0.0; 4]);
        assert_eq!(fitted.notes.len(), 1, "{:?}", fitted.notes);
    }

    #[test]
    fn random_upstream_is_redrawn() {
        let mut document = preset("one-stage");
        document.objective = Objective::Upstream(random_tensor(&[2, 2, 2], 5, -1.0, 1.0));
        let network = with_kernels(document.network.clone(), 1);
        let fitted = refit(&document, network, SEEDS).unwrap();
        assert_eq!(
            fitted.document.objective,
            Objective::Upstream(random_tensor(&[1, 2, 2], 5, -1.0, 1.0))
        );
    }

    #[test]
    fn ones_upstream_stays_ones() {
        let mut document = preset("one-stage");
        document.objective = Objective::Upstream(ones(&[2, 2, 2]));
        let network = with_kernels(document.network.clone(), 4);
        let fitted = refit(&document, network, SEEDS).unwrap();
        assert_eq!(
            fitted.document.objective,
            Objective::Upstream(ones(&[4, 2, 2]))
        );
    }

    #[test]
    fn label_is_clamped_to_outputs() {
        let mut document = preset("two-stages");
        let mut network = document.network.clone();
        document.objective = Objective::Loss(Loss::SoftmaxCrossEntropy { label: 2 });
        if let Some(LayerSpec::Dense(dense)) = network.layers.last_mut() {
            dense.outputs = 2;
        }
        let fitted = refit(&document, network, SEEDS).unwrap();
        assert_eq!(
            fitted.document.objective,
            Objective::Loss(Loss::SoftmaxCrossEntropy { label: 1 })
        );
        assert!(fitted.notes[0].contains("now 1"), "{:?}", fitted.notes);
    }

    #[test]
    fn loss_without_dense_becomes_upstream() {
        let document = preset("two-stages");
        let mut network = document.network.clone();
        network.layers.pop();
        let fitted = refit(&document, network, SEEDS).unwrap();
        let Objective::Upstream(g) = &fitted.document.objective else {
            panic!("upstream expected");
        };
        assert_eq!(g.shape(), &[3, 1, 1]);
        assert_eq!(*g, random_tensor(&[3, 1, 1], SEEDS.upstream, -1.0, 1.0));
        assert!(fitted.notes[0].contains("seed 5"), "{:?}", fitted.notes);
    }

    #[test]
    fn mse_target_is_resized() {
        let mut document = preset("two-stages");
        document.objective = Objective::Loss(Loss::Mse {
            target: Tensor::from_vec(&[3], vec![1.0, 2.0, 3.0]).unwrap(),
        });
        let mut network = document.network.clone();
        if let Some(LayerSpec::Dense(dense)) = network.layers.last_mut() {
            dense.outputs = 4;
        }
        let fitted = refit(&document, network, SEEDS).unwrap();
        let Objective::Loss(Loss::Mse { target }) = &fitted.document.objective else {
            panic!("mse expected");
        };
        assert_eq!(target.data(), &[1.0, 2.0, 3.0, 0.0]);
    }

    #[test]
    fn typed_weights_that_no_longer_fit_become_seeded() {
        let mut document = preset("one-stage");
        let network = Network::seeded(document.network.clone(), 1).unwrap();
        document.weights = WeightSource::Values(network.params().to_vec());

        // An activation change keeps every shape, so the typed weights stay.
        let mut same_shapes = document.network.clone();
        same_shapes.layers[1] = LayerSpec::Activation(cnn_core::Activation::Tanh);
        let fitted = refit(&document, same_shapes, SEEDS).unwrap();
        assert_eq!(fitted.document.weights, document.weights);

        let fitted = refit(&document, with_kernels(document.network.clone(), 3), SEEDS).unwrap();
        assert_eq!(fitted.document.weights, WeightSource::Seeded(11));
        assert!(fitted.notes.iter().any(|n| n.contains("typed weights")));
    }

    #[test]
    fn trained_weights_follow_pool_kind() {
        let document = preset("digit");
        let fitted = refit(&document, digit_network(PoolKind::Mean), SEEDS).unwrap();
        assert_eq!(
            fitted.document.weights,
            WeightSource::Trained(PoolKind::Mean)
        );

        let network = with_kernels(document.network.clone(), 4);
        let fitted = refit(&document, network, SEEDS).unwrap();
        assert_eq!(fitted.document.weights, WeightSource::Seeded(11));
        assert_eq!(fitted.document.input, document.input);
    }

    #[test]
    fn typed_input_is_scaled() {
        let document = preset("one-stage");
        let mut network = document.network.clone();
        network.input = [2, 12, 12];
        let fitted = refit(&document, network, SEEDS).unwrap();
        let InputSource::Values(x) = &fitted.document.input else {
            panic!("values expected");
        };
        let InputSource::Values(before) = &document.input else {
            panic!("values expected");
        };
        assert_eq!(x.shape(), &[2, 12, 12]);
        assert_eq!(x.get(&[1, 11, 11]), before.get(&[0, 5, 5]));
        assert_eq!(x.get(&[0, 2, 3]), before.get(&[0, 1, 1]));
    }

    #[test]
    fn invalid_network_is_core_error() {
        let document = preset("one-stage");
        let mut network = document.network.clone();
        network.input = [1, 2, 2];
        assert!(refit(&document, network, SEEDS).is_err());
    }

    #[test]
    fn random_tensor_is_deterministic_and_in_range() {
        let a = random_tensor(&[3, 4], 9, 0.0, 1.0);
        assert_eq!(a, random_tensor(&[3, 4], 9, 0.0, 1.0));
        assert_ne!(a, random_tensor(&[3, 4], 10, 0.0, 1.0));
        assert!(a.data().iter().all(|v| (0.0..=1.0).contains(v)));
    }
}
