//! Checks that the `f32` engine in `cnn_core::fast` computes what the `f64` reference
//! computes: every layer output, every input gradient, every weight and bias gradient and
//! the loss, on random networks of every layer kind and setting and on the golden cases.
//!
//! Both sides get the same inputs and parameters (rounded to `f32` first), so they differ
//! only in rounding. A value `a` of the engine matches the reference's `r` when
//! `|a − r| ≤ 1e-5·s + 1e-4·|r|`, where `s` is the largest `|r|` of the tensor but at
//! least 1. The floor of 1 is there because a sum of `f32` products is exact only to about
//! 1e-7 of its terms' size, and the terms here are of size 1 or less (inputs, biases and
//! targets in ±1, weights in ±1/√fan_in), also when they cancel to a small sum such as a
//! bias gradient.
//!
//! `f32` rounding can move a value across a kink that `f64` leaves on the other side: a
//! relu input within rounding of 0, or a max-pool runner-up within rounding of the
//! maximum. A random case whose reference values come within [`KINK_MARGIN`] of such a
//! kink (but not exactly onto it, since exact ties and zeros come out the same in `f32`)
//! is discarded.

use std::fs;
use std::path::Path;

use cnn_core::conv::ConvSpec;
use cnn_core::dense::DenseSpec;
use cnn_core::fast::{Engine, Targets};
use cnn_core::pool::PoolSpec;
use cnn_core::{
    Activation, Case, LayerParams, LayerSpec, Loss, Network, NetworkSpec, Objective, PoolKind,
    Tensor,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

const RTOL: f64 = 1e-4;
const ATOL: f64 = 1e-5;
/// Smallest tensor scale `s` in the tolerance: the size of the terms of the sums.
const MIN_SCALE: f64 = 1.0;
/// Distance from a kink below which `f32` rounding may land on the other side of it.
const KINK_MARGIN: f64 = 1e-4;
/// Largest map height or width of a random network's input.
const MAX_SIDE: usize = 10;
/// Examples per random batch: the engine's batch gradients are checked against the mean
/// of the reference's per-example gradients.
const MAX_BATCH: usize = 3;

fn round_f32(tensor: &Tensor) -> Tensor {
    let data = tensor.data().iter().map(|&v| v as f32 as f64).collect();
    Tensor::from_vec(tensor.shape(), data).expect("same length")
}

fn to_f32(values: &[f64]) -> Vec<f32> {
    values.iter().map(|&v| v as f32).collect()
}

/// Compares one tensor of the engine with the reference's, returning one line per value
/// outside the tolerance.
fn compare(what: &str, engine: &[f32], reference: &[f64]) -> Vec<String> {
    if engine.len() != reference.len() {
        return vec![format!(
            "{what}: {} values computed, {} expected",
            engine.len(),
            reference.len()
        )];
    }
    let scale = reference
        .iter()
        .fold(MIN_SCALE, |max, &value| max.max(value.abs()));
    let mut failures = Vec::new();
    for (index, (&a, &r)) in engine.iter().zip(reference).enumerate() {
        let difference = (f64::from(a) - r).abs();
        let bound = ATOL * scale + RTOL * r.abs();
        if difference.is_nan() || difference > bound {
            failures.push(format!(
                "{what} at {index}: engine {a:e}, reference {r:e}, difference {difference:e} \
                 over {bound:e}"
            ));
        }
    }
    failures
}

// ---------------------------------------------------------------------------------------
// Random networks
// ---------------------------------------------------------------------------------------

fn activation() -> impl Strategy<Value = Activation> {
    prop::sample::select(Activation::ALL.to_vec())
}

fn conv_layer() -> impl Strategy<Value = LayerSpec> {
    (
        1..=4usize,
        prop::array::uniform2(1..=4usize),
        prop::array::uniform2(1..=3usize),
        prop::array::uniform2(0..=2usize),
        prop::array::uniform2(1..=2usize),
    )
        .prop_map(|(kernels, size, stride, padding, dilation)| {
            LayerSpec::Conv(ConvSpec {
                kernels,
                size,
                stride,
                padding,
                dilation,
            })
        })
}

fn pool_layer() -> impl Strategy<Value = LayerSpec> {
    (
        prop::sample::select(PoolKind::ALL.to_vec()),
        prop::array::uniform2(1..=3usize),
        prop::array::uniform2(1..=3usize),
    )
        .prop_map(|(kind, size, stride)| LayerSpec::Pool(PoolSpec { kind, size, stride }))
}

fn map_layer() -> impl Strategy<Value = LayerSpec> {
    prop_oneof![
        2 => conv_layer(),
        1 => activation().prop_map(LayerSpec::Activation),
        1 => pool_layer(),
    ]
}

/// Shrinks each conv and pool layer until it fits the map it receives, as `plan()` checks
/// it: a dilated kernel wider than the padded input loses its dilation, then its size.
fn fit_layers(input: [usize; 3], layers: &[LayerSpec]) -> Vec<LayerSpec> {
    let mut map = input;
    let mut fitted = Vec::new();
    for layer in layers {
        let [chans, rows, cols] = map;
        let layer = match layer {
            LayerSpec::Conv(conv) => {
                let mut conv = conv.clone();
                let mut out = [conv.kernels, 0, 0];
                for (axis, len) in [rows, cols].into_iter().enumerate() {
                    let padded = len + 2 * conv.padding[axis];
                    if (conv.size[axis] - 1) * conv.dilation[axis] + 1 > padded {
                        conv.dilation[axis] = 1;
                        conv.size[axis] = conv.size[axis].min(padded);
                    }
                    let extent = (conv.size[axis] - 1) * conv.dilation[axis] + 1;
                    out[axis + 1] = (padded - extent) / conv.stride[axis] + 1;
                }
                map = out;
                LayerSpec::Conv(conv)
            }
            LayerSpec::Pool(pool) => {
                let mut pool = pool.clone();
                let mut out = [chans, 0, 0];
                for (axis, len) in [rows, cols].into_iter().enumerate() {
                    pool.size[axis] = pool.size[axis].min(len);
                    out[axis + 1] = (len - pool.size[axis]) / pool.stride[axis] + 1;
                }
                map = out;
                LayerSpec::Pool(pool)
            }
            other => other.clone(),
        };
        fitted.push(layer);
    }
    fitted
}

/// Draws a network spec: an input of 1–3 channels and sides 1–10, one to five conv,
/// activation or pool layers, then up to two dense layers of 1–5 outputs, each optionally
/// followed by an activation.
fn network_spec() -> impl Strategy<Value = NetworkSpec> {
    let input = (1..=3usize, 1..=MAX_SIDE, 1..=MAX_SIDE).prop_map(|(c, h, w)| [c, h, w]);
    let maps = prop::collection::vec(map_layer(), 1..=5);
    let tail = prop::collection::vec((1..=5usize, prop::option::of(activation())), 0..=2);
    (input, maps, tail).prop_map(|(input, maps, tail)| {
        let mut layers = fit_layers(input, &maps);
        for (outputs, f) in tail {
            layers.push(LayerSpec::Dense(DenseSpec { outputs }));
            layers.extend(f.map(LayerSpec::Activation));
        }
        NetworkSpec { input, layers }
    })
}

/// Which objective a random case uses.
#[derive(Clone, Copy, Debug)]
enum ObjectiveKind {
    Label,
    Mse,
    Upstream,
}

/// A random network with its weights, a batch of inputs and one objective per example.
#[derive(Debug)]
struct RandomCase {
    network: Network,
    inputs: Vec<Tensor>,
    objectives: Vec<Objective>,
}

fn random_case() -> impl Strategy<Value = RandomCase> {
    let kind = prop::sample::select(vec![
        ObjectiveKind::Label,
        ObjectiveKind::Mse,
        ObjectiveKind::Upstream,
    ]);
    (network_spec(), any::<u64>(), 1..=MAX_BATCH, kind)
        .prop_map(|(spec, seed, batch, kind)| build_case(spec, seed, batch, kind))
}

/// Fills a spec with seeded values: weights uniform in `±1/√fan_in`, biases and inputs in
/// `±1`, all rounded to `f32`.
fn build_case(spec: NetworkSpec, seed: u64, batch: usize, kind: ObjectiveKind) -> RandomCase {
    let mut rng = cnn_core::init::SplitMix64::new(seed);
    let plan = spec.plan().expect("fitted specs are valid");
    let mut uniform = |shape: &[usize], bound: f64| {
        let len = shape.iter().product();
        let data = (0..len)
            .map(|_| rng.uniform(-bound, bound) as f32 as f64)
            .collect();
        Tensor::from_vec(shape, data).expect("sized from the shape")
    };
    let params = plan
        .layers
        .iter()
        .map(|layer| {
            let (w_shape, b_shape) = layer.param_shapes()?;
            let fan_in: usize = w_shape[1..].iter().product();
            Some(LayerParams {
                weights: uniform(&w_shape, 1.0 / (fan_in as f64).sqrt()),
                bias: uniform(&b_shape, 1.0),
            })
        })
        .collect();
    let output = plan.output_shape().to_vec();
    let classes: usize = output.iter().product();
    let inputs = (0..batch).map(|_| uniform(&spec.input, 1.0)).collect();
    let objectives = (0..batch)
        .map(|b| match kind {
            ObjectiveKind::Label => Objective::Loss(Loss::SoftmaxCrossEntropy {
                label: (seed as usize).wrapping_add(b) % classes,
            }),
            ObjectiveKind::Mse => Objective::Loss(Loss::Mse {
                target: uniform(&output, 1.0),
            }),
            ObjectiveKind::Upstream => Objective::Upstream(uniform(&output, 1.0)),
        })
        .collect();
    let network = Network::new(spec, params).expect("parameters sized from the plan");
    RandomCase {
        network,
        inputs,
        objectives,
    }
}

/// Describes the first relu input or max-pool runner-up of the reference pass that lies
/// within [`KINK_MARGIN`] of its kink without being exactly on it.
fn near_kink(network: &Network, x: &Tensor) -> Option<String> {
    let pass = network.forward(x).expect("valid input");
    for (index, layer) in network.spec().layers.iter().enumerate() {
        let input = pass.values[index].data();
        match layer {
            LayerSpec::Activation(Activation::Relu) => {
                if let Some(z) = input
                    .iter()
                    .find(|z| z.abs() > 0.0 && z.abs() < KINK_MARGIN)
                {
                    return Some(format!("layer {index}: relu input {z:e}"));
                }
            }
            LayerSpec::Pool(pool) if pool.kind == PoolKind::Max => {
                let shape = pass.values[index].shape();
                let geometry = cnn_core::pool::PoolGeometry::new(
                    pool,
                    [shape[0], shape[1], shape[2]],
                    cnn_core::Location::Input,
                )
                .expect("planned");
                for c in 0..shape[0] {
                    for i in 0..geometry.h_out {
                        for j in 0..geometry.w_out {
                            let cells: Vec<f64> =
                                geometry.window(c, i, j).map(|at| input[at]).collect();
                            let max = cells.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                            let close = cells
                                .iter()
                                .any(|&v| v != max && max - v < KINK_MARGIN * max.abs().max(1.0));
                            if close {
                                return Some(format!(
                                    "layer {index}: max-pool near-tie at {max:e}"
                                ));
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }
    None
}

fn objective_targets(objectives: &[Objective]) -> (Vec<usize>, Vec<f32>) {
    let mut labels = Vec::new();
    let mut values = Vec::new();
    for objective in objectives {
        match objective {
            Objective::Loss(Loss::SoftmaxCrossEntropy { label }) => labels.push(*label),
            Objective::Loss(Loss::Mse { target }) => values.extend(to_f32(target.data())),
            Objective::Upstream(g) => values.extend(to_f32(g.data())),
        }
    }
    (labels, values)
}

fn targets<'a>(objective: &Objective, labels: &'a [usize], values: &'a [f32]) -> Targets<'a> {
    match objective {
        Objective::Loss(Loss::SoftmaxCrossEntropy { .. }) => Targets::Labels(labels),
        Objective::Loss(Loss::Mse { .. }) => Targets::Mse(values),
        Objective::Upstream(_) => Targets::Upstream(values),
    }
}

/// Runs a batch through the engine and the reference and lists every mismatch.
fn check_random(case: &RandomCase) -> Vec<String> {
    let network = &case.network;
    let layers = network.spec().layers.len();
    let batch = case.inputs.len();
    let mut engine = Engine::new(network);
    engine.set_input_gradient(true);
    let inputs: Vec<f32> = case.inputs.iter().flat_map(|x| to_f32(x.data())).collect();
    let (labels, values) = objective_targets(&case.objectives);
    let loss = engine
        .backprop(&inputs, targets(&case.objectives[0], &labels, &values))
        .expect("valid batch");

    // The engine's gradients are those of the batch-mean loss: the reference's mean.
    let scale = 1.0 / batch as f64;
    let mut failures = Vec::new();
    let mut mean_loss = 0.0;
    let mut grad_w: Vec<Option<Vec<f64>>> = vec![None; layers];
    let mut grad_b: Vec<Option<Vec<f64>>> = vec![None; layers];
    let mut outputs: Vec<Vec<f64>> = vec![Vec::new(); layers];
    let mut grad_inputs: Vec<Vec<f64>> = vec![Vec::new(); layers];
    for (x, objective) in case.inputs.iter().zip(&case.objectives) {
        let pass = network.forward(x).expect("valid input");
        let value = network
            .objective_value(x, objective)
            .expect("valid objective");
        mean_loss += value * scale;
        let (_, gradients) = network.gradients(x, objective).expect("valid objective");
        for layer in 0..layers {
            outputs[layer].extend(pass.values[layer + 1].data());
            grad_inputs[layer].extend(
                gradients.grad_inputs[layer]
                    .data()
                    .iter()
                    .map(|g| g * scale),
            );
            if let Some(p) = &gradients.grad_params[layer] {
                let add = |sum: &mut Option<Vec<f64>>, values: &[f64]| {
                    let sum = sum.get_or_insert_with(|| vec![0.0; values.len()]);
                    for (s, v) in sum.iter_mut().zip(values) {
                        *s += v * scale;
                    }
                };
                add(&mut grad_w[layer], p.weights.data());
                add(&mut grad_b[layer], p.bias.data());
            }
        }
    }
    for layer in 0..layers {
        let name = |what: &str| format!("layer {layer} {what}");
        failures.extend(compare(
            &name("output"),
            engine.output(layer),
            &outputs[layer],
        ));
        let grad_x = engine.grad_input(layer).expect("input gradient is on");
        failures.extend(compare(&name("grad_input"), grad_x, &grad_inputs[layer]));
        if let (Some(w), Some(b)) = (&grad_w[layer], &grad_b[layer]) {
            let engine_w = engine.grad_weights(layer).expect("layer has weights");
            let engine_b = engine.grad_bias(layer).expect("layer has a bias");
            failures.extend(compare(&name("grad_weights"), engine_w, w));
            failures.extend(compare(&name("grad_bias"), engine_b, b));
        }
    }
    failures.extend(compare("loss", &[loss], &[mean_loss]));
    failures
}

#[test]
fn random_networks_agree() {
    let mut runner = TestRunner::new(Config {
        cases: 400,
        max_global_rejects: 4000,
        ..Config::default()
    });
    let result = runner.run(&random_case(), |case| {
        if let Some(kink) = case.inputs.iter().find_map(|x| near_kink(&case.network, x)) {
            return Err(TestCaseError::reject(kink));
        }
        let failures = check_random(&case);
        if failures.is_empty() {
            return Ok(());
        }
        let json = serde_json::to_string(case.network.spec()).expect("specs serialize");
        Err(TestCaseError::fail(format!(
            "{} mismatches for batch {} on {json}:\n{}",
            failures.len(),
            case.inputs.len(),
            failures[..failures.len().min(20)].join("\n")
        )))
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

#[test]
fn networks_of_the_benchmark_agree() {
    // The benchmark's networks at their full size, with batches of 1 and 4, and a network
    // whose stride-1 convs with an output width of 8 read their input in place, one with
    // dilation 2.
    let specs = [
        r#"{"input": [2, 12, 12], "layers": [
            {"conv": {"kernels": 5, "size": [3, 3], "dilation": [2, 2]}}, {"activation": "tanh"},
            {"conv": {"kernels": 3, "size": [3, 3], "padding": [1, 1]}},
            {"pool": {"kind": "l2", "size": [3, 3], "stride": [1, 1]}},
            {"dense": {"outputs": 3}}]}"#,
        r#"{"input": [1, 8, 8], "layers": [
            {"conv": {"kernels": 2, "size": [3, 3]}}, {"activation": "sigmoid"},
            {"pool": {"kind": "mean", "size": [2, 2], "stride": [2, 2]}},
            {"dense": {"outputs": 4}}]}"#,
        r#"{"input": [1, 28, 28], "layers": [
            {"conv": {"kernels": 6, "size": [5, 5]}}, {"activation": "relu"},
            {"pool": {"kind": "l2", "size": [2, 2], "stride": [2, 2]}},
            {"conv": {"kernels": 16, "size": [5, 5]}}, {"activation": "relu"},
            {"pool": {"kind": "max", "size": [2, 2], "stride": [2, 2]}},
            {"dense": {"outputs": 10}}]}"#,
        r#"{"input": [3, 32, 32], "layers": [
            {"conv": {"kernels": 16, "size": [5, 5], "padding": [2, 2]}}, {"activation": "relu"},
            {"pool": {"kind": "max", "size": [2, 2], "stride": [2, 2]}},
            {"conv": {"kernels": 20, "size": [5, 5], "padding": [2, 2]}}, {"activation": "relu"},
            {"pool": {"kind": "mean", "size": [2, 2], "stride": [2, 2]}},
            {"conv": {"kernels": 20, "size": [5, 5], "padding": [2, 2]}}, {"activation": "relu"},
            {"pool": {"kind": "max", "size": [2, 2], "stride": [2, 2]}},
            {"dense": {"outputs": 10}}]}"#,
    ];
    for (index, text) in specs.iter().enumerate() {
        let spec: NetworkSpec = serde_json::from_str(text).expect("valid spec");
        for (batch, kind) in [(1, ObjectiveKind::Label), (4, ObjectiveKind::Mse)] {
            let case = build_case(spec.clone(), 7 + index as u64, batch, kind);
            if let Some(kink) = case.inputs.iter().find_map(|x| near_kink(&case.network, x)) {
                eprintln!("network {index}, batch {batch}: skipped, {kink}");
                continue;
            }
            let failures = check_random(&case);
            assert!(
                failures.is_empty(),
                "network {index}, batch {batch}: {} mismatches:\n{}",
                failures.len(),
                failures[..failures.len().min(20)].join("\n")
            );
        }
    }
}

#[test]
fn golden_cases_agree() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let mut files: Vec<_> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.expect("readable entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 27,
        "only {} cases in {}",
        files.len(),
        dir.display()
    );
    let mut failures = Vec::new();
    for path in &files {
        let text = fs::read_to_string(path).expect("readable case");
        let case: Case = serde_json::from_str(&text).expect("valid case");
        // Both sides run on the f32-rounded values.
        let params = case
            .params
            .iter()
            .map(|p| {
                p.as_ref().map(|p| LayerParams {
                    weights: round_f32(&p.weights),
                    bias: round_f32(&p.bias),
                })
            })
            .collect();
        let network = Network::new(case.network.clone(), params).expect("valid case");
        let x = round_f32(&case.input);
        let objective = match case.objective().expect("one objective") {
            Objective::Loss(Loss::Mse { target }) => Objective::Loss(Loss::Mse {
                target: round_f32(&target),
            }),
            Objective::Upstream(g) => Objective::Upstream(round_f32(&g)),
            other => other,
        };
        let random = RandomCase {
            network,
            inputs: vec![x],
            objectives: vec![objective],
        };
        failures.extend(
            check_random(&random)
                .into_iter()
                .map(|line| format!("{}: {line}", case.name)),
        );
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures[..failures.len().min(40)].join("\n")
    );
}

#[test]
fn invalid_batches_are_rejected() {
    let spec: NetworkSpec =
        serde_json::from_str(r#"{"input": [1, 2, 2], "layers": [{"dense": {"outputs": 3}}]}"#)
            .expect("valid spec");
    let network = Network::seeded(spec, 1).expect("valid network");
    let mut engine = Engine::new(&network);
    assert!(engine.forward(&[]).is_err());
    assert!(engine.forward(&[0.0; 5]).is_err());
    assert!(engine.forward(&[0.0, f32::NAN, 0.0, 0.0]).is_err());
    let two = [0.5; 8];
    assert!(engine.backprop(&two, Targets::Labels(&[0])).is_err());
    assert!(engine.backprop(&two, Targets::Labels(&[0, 3])).is_err());
    assert!(engine.backprop(&two, Targets::Mse(&[0.0; 3])).is_err());
    assert!(engine.backprop(&two, Targets::Labels(&[0, 2])).is_ok());
    assert_eq!(engine.batch(), 2);
}

#[test]
fn train_step_lowers_the_loss() {
    let spec: NetworkSpec = serde_json::from_str(
        r#"{"input": [1, 6, 6], "layers": [
            {"conv": {"kernels": 3, "size": [3, 3], "padding": [1, 1]}}, {"activation": "tanh"},
            {"pool": {"kind": "max", "size": [2, 2], "stride": [2, 2]}},
            {"dense": {"outputs": 2}}]}"#,
    )
    .expect("valid spec");
    let network = Network::seeded(spec, 3).expect("valid network");
    let mut engine = Engine::new(&network);
    let inputs: Vec<f32> = (0..2 * 36).map(|i| ((i * 5) % 11) as f32 / 11.0).collect();
    let labels = [0, 1];
    let first = engine
        .train_step(&inputs, Targets::Labels(&labels), 0.5)
        .expect("valid batch");
    let mut last = first;
    for _ in 0..20 {
        last = engine
            .train_step(&inputs, Targets::Labels(&labels), 0.5)
            .expect("valid batch");
    }
    assert!(last < first * 0.5, "loss {first} → {last}");

    // The updated parameters are those the reference network would run with.
    let mut reference = network.clone();
    reference.set_params(engine.params()).expect("same shapes");
    let x = Tensor::from_vec(&[1, 6, 6], inputs[..36].iter().map(|&v| v as f64).collect())
        .expect("sized");
    let output = reference.forward(&x).expect("valid input");
    let engine_output = engine.forward(&inputs[..36]).expect("valid input").to_vec();
    assert!(compare("output", &engine_output, output.output().data()).is_empty());
}
