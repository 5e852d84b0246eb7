//! Checks the analytic gradients of random small networks against central finite
//! differences `(f(θ + h) − f(θ − h)) / 2h` with `h = 1e-6`, for every input cell, weight
//! and bias, within `|a − n| ≤ 1e-6 + 1e-5·max(|a|, |n|)`.
//!
//! Each layer's input gradient is checked on its own. Layers `s..` of the network run as a
//! network of their own, fed layer `s`'s input from the trace, so a failure names the layer
//! whose backward pass is wrong.
//!
//! A finite difference is not valid across a kink: a relu input at 0, a tie for a max-pool
//! maximum, or an L2 window at 0. Inputs and weights are drawn from continuous
//! distributions, so kinks are rare. A case whose network comes within a margin of a kink
//! is discarded, and a layer whose suffix does is left out of the per-layer check. Values
//! that a relu clamps to 0 do not move under a perturbation, so ties and all-zero windows
//! among them are no kink.

use std::collections::BTreeSet;
use std::fmt::Display;

use cnn_core::conv::ConvSpec;
use cnn_core::dense::DenseSpec;
use cnn_core::pool::{PoolRouting, PoolSpec};
use cnn_core::{
    Activation, BackwardOp, Gradients, LayerParams, LayerSpec, Loss, Network, NetworkSpec,
    Objective, PoolKind, Tensor, Trace,
};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;

/// Step `h` of the central difference.
const STEP: f64 = 1e-6;
const ABS_TOL: f64 = 1e-6;
const REL_TOL: f64 = 1e-5;

/// Distance from a kink (a relu input at 0, a max-pool runner-up) below which a central
/// difference is not trusted. With weights of size 1/√fan_in, a step of 1e-6 moves the
/// values of these small networks by far less (an estimate, not a bound).
const KINK_MARGIN: f64 = 1e-4;

/// L2 window norm below which the curvature of `sqrt(Σ x²)` (second derivative about
/// 1/norm) makes a central difference with step 1e-6 too inaccurate.
const L2_MIN_NORM: f64 = 1e-2;

/// Largest map height or width the generator builds, so that a case has at most a few
/// thousand values to perturb.
const MAX_SIDE: usize = 8;

/// Most mismatch lines a failure message lists.
const MAX_REPORTED: usize = 20;

// ---------------------------------------------------------------------------------------
// Random networks
// ---------------------------------------------------------------------------------------

/// A network with its values: input, parameters and objective.
#[derive(Clone, Debug)]
struct GradCase {
    spec: NetworkSpec,
    /// Every tensor shape as computed by [`build_spec`], to compare with `plan()`.
    shapes: Vec<Vec<usize>>,
    x: Tensor,
    params: Vec<Option<LayerParams>>,
    objective: Objective,
}

/// A spec whose sizes fit the maps they receive, with its tensor shapes.
#[derive(Clone, Debug)]
struct BuiltSpec {
    spec: NetworkSpec,
    /// `shapes[0]` is the input shape and `shapes[i + 1]` the output shape of layer `i`.
    shapes: Vec<Vec<usize>>,
}

fn activation() -> impl Strategy<Value = Activation> {
    prop::sample::select(Activation::ALL.to_vec())
}

fn conv_layer() -> impl Strategy<Value = LayerSpec> {
    (
        1..=3usize,
        prop::array::uniform2(1..=3usize),
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
        conv_layer(),
        activation().prop_map(LayerSpec::Activation),
        pool_layer(),
    ]
}

/// Draws networks with an input of 1–3 channels and sides 1–8, one to four conv, activation
/// or pool layers, then up to two dense layers of 1–4 outputs, each optionally followed by
/// an activation.
fn grad_case() -> impl Strategy<Value = GradCase> {
    let input = (1..=3usize, 1..=MAX_SIDE, 1..=MAX_SIDE).prop_map(|(c, h, w)| [c, h, w]);
    let maps = prop::collection::vec(map_layer(), 1..=4);
    let tail = prop::collection::vec((1..=4usize, prop::option::of(activation())), 0..=2);
    (input, maps, tail)
        .prop_flat_map(|(input, maps, tail)| case_with_values(build_spec(input, &maps, &tail)))
}

/// Builds the spec layer by layer, fitting each conv and pool layer to the map it receives
/// as `plan()` would check it, so that every spec is valid.
fn build_spec(
    input: [usize; 3],
    maps: &[LayerSpec],
    tail: &[(usize, Option<Activation>)],
) -> BuiltSpec {
    let mut layers = Vec::new();
    let mut shapes = vec![input.to_vec()];
    let mut map = input;
    for layer in maps {
        let (fitted, output) = match layer {
            LayerSpec::Conv(conv) => fit_conv(conv, map),
            LayerSpec::Pool(pool) => fit_pool(pool, map),
            other => (other.clone(), map),
        };
        layers.push(fitted);
        shapes.push(output.to_vec());
        map = output;
    }
    for &(outputs, activation) in tail {
        layers.push(LayerSpec::Dense(DenseSpec { outputs }));
        shapes.push(vec![outputs]);
        if let Some(f) = activation {
            layers.push(LayerSpec::Activation(f));
            shapes.push(vec![outputs]);
        }
    }
    BuiltSpec {
        spec: NetworkSpec { input, layers },
        shapes,
    }
}

fn fit_conv(conv: &ConvSpec, [_, rows, cols]: [usize; 3]) -> (LayerSpec, [usize; 3]) {
    let mut fitted = conv.clone();
    let mut output = [conv.kernels, 0, 0];
    for (axis, len) in [rows, cols].into_iter().enumerate() {
        let (size, padding, dilation, out) = fit_conv_axis(
            len,
            conv.size[axis],
            conv.stride[axis],
            conv.padding[axis],
            conv.dilation[axis],
        );
        fitted.size[axis] = size;
        fitted.padding[axis] = padding;
        fitted.dilation[axis] = dilation;
        output[axis + 1] = out;
    }
    (LayerSpec::Conv(fitted), output)
}

/// Fits one axis of a conv layer to an input of `len` values and returns the kernel size,
/// padding, dilation and output length. The padding is lowered while the output would be
/// longer than [`MAX_SIDE`]. When the dilated kernel is wider than the padded input, the
/// dilation drops to 1 and then the kernel size to the padded length.
fn fit_conv_axis(
    len: usize,
    size: usize,
    stride: usize,
    padding: usize,
    dilation: usize,
) -> (usize, usize, usize, usize) {
    let mut padding = padding;
    loop {
        let padded = len + 2 * padding;
        let (mut size, mut dilation) = (size, dilation);
        if (size - 1) * dilation + 1 > padded {
            dilation = 1;
            size = size.min(padded);
        }
        let extent = (size - 1) * dilation + 1;
        let out = (padded - extent) / stride + 1;
        // With no padding the output is at most `len`, which is at most MAX_SIDE.
        if out <= MAX_SIDE || padding == 0 {
            return (size, padding, dilation, out);
        }
        padding -= 1;
    }
}

fn fit_pool(pool: &PoolSpec, [chans, rows, cols]: [usize; 3]) -> (LayerSpec, [usize; 3]) {
    let mut fitted = pool.clone();
    let mut output = [chans, 0, 0];
    for (axis, len) in [rows, cols].into_iter().enumerate() {
        fitted.size[axis] = pool.size[axis].min(len);
        output[axis + 1] = (len - fitted.size[axis]) / pool.stride[axis] + 1;
    }
    (LayerSpec::Pool(fitted), output)
}

/// Draws a tensor of values uniform in `(−bound, bound)`.
fn uniform_tensor(shape: &[usize], bound: f64) -> impl Strategy<Value = Tensor> {
    let shape = shape.to_vec();
    let len = shape.iter().product::<usize>();
    prop::collection::vec(-bound..bound, len)
        .prop_map(move |data| Tensor::from_vec(&shape, data).expect("sized from the shape"))
}

/// Draws weights uniform in `±1/√fan_in`, which keeps outputs near unit size, and biases
/// uniform in `±1`.
fn layer_params(
    weight_shape: &[usize],
    outputs: usize,
    fan_in: usize,
) -> BoxedStrategy<Option<LayerParams>> {
    let bound = 1.0 / (fan_in as f64).sqrt();
    (
        uniform_tensor(weight_shape, bound),
        uniform_tensor(&[outputs], 1.0),
    )
        .prop_map(|(weights, bias)| Some(LayerParams { weights, bias }))
        .boxed()
}

fn params_for(built: &BuiltSpec) -> Vec<BoxedStrategy<Option<LayerParams>>> {
    built
        .spec
        .layers
        .iter()
        .zip(&built.shapes)
        .map(|(layer, input)| match layer {
            LayerSpec::Conv(conv) => {
                let fan_in = input[0] * conv.size[0] * conv.size[1];
                let shape = [conv.kernels, input[0], conv.size[0], conv.size[1]];
                layer_params(&shape, conv.kernels, fan_in)
            }
            LayerSpec::Dense(dense) => {
                let inputs = input.iter().product();
                layer_params(&[dense.outputs, inputs], dense.outputs, inputs)
            }
            LayerSpec::Activation(_) | LayerSpec::Pool(_) => Just(None).boxed(),
        })
        .collect()
}

fn objective_for(output: &[usize]) -> BoxedStrategy<Objective> {
    let classes = output.iter().product::<usize>();
    prop_oneof![
        uniform_tensor(output, 1.0).prop_map(|target| Objective::Loss(Loss::Mse { target })),
        (0..classes).prop_map(|label| Objective::Loss(Loss::SoftmaxCrossEntropy { label })),
        uniform_tensor(output, 1.0).prop_map(Objective::Upstream),
    ]
    .boxed()
}

fn case_with_values(built: BuiltSpec) -> impl Strategy<Value = GradCase> {
    let output = built
        .shapes
        .last()
        .expect("the input shape is first")
        .clone();
    (
        uniform_tensor(&built.spec.input, 1.0),
        params_for(&built),
        objective_for(&output),
    )
        .prop_map(move |(x, params, objective)| GradCase {
            spec: built.spec.clone(),
            shapes: built.shapes.clone(),
            x,
            params,
            objective,
        })
}

// ---------------------------------------------------------------------------------------
// Kinks
// ---------------------------------------------------------------------------------------

/// A pooling window.
struct Window {
    /// The index `[c, i, j]` of the window's output value.
    at: [usize; 3],
    /// Flat indices into the pool's input of the window's cells, in row-major order.
    cells: Vec<usize>,
}

/// Lists the windows of `pool` on an input of shape `[C, H, W]` in the order of the pool's
/// output values.
fn pool_windows(pool: &PoolSpec, shape: &[usize]) -> Vec<Window> {
    let (chans, rows, cols) = (shape[0], shape[1], shape[2]);
    let out_rows = (rows - pool.size[0]) / pool.stride[0] + 1;
    let out_cols = (cols - pool.size[1]) / pool.stride[1] + 1;
    let mut windows = Vec::with_capacity(chans * out_rows * out_cols);
    for c in 0..chans {
        for i in 0..out_rows {
            for j in 0..out_cols {
                let mut cells = Vec::with_capacity(pool.size[0] * pool.size[1]);
                for u in 0..pool.size[0] {
                    for v in 0..pool.size[1] {
                        let row = i * pool.stride[0] + u;
                        let col = j * pool.stride[1] + v;
                        cells.push((c * rows + row) * cols + col);
                    }
                }
                windows.push(Window {
                    at: [c, i, j],
                    cells,
                });
            }
        }
    }
    windows
}

fn layer_name(layer: &LayerSpec) -> String {
    match layer {
        LayerSpec::Activation(f) => f.name().to_string(),
        LayerSpec::Pool(pool) => format!("{} pool", pool.kind.name()),
        other => other.kind().to_string(),
    }
}

/// Describes the first kink at or after layer `start` that a central difference with
/// respect to layer `start`'s input or parameters would straddle, or returns `None`.
fn find_kink(spec: &NetworkSpec, trace: &Trace, start: usize) -> Option<String> {
    trace_constant_values(spec, trace, start).err()
}

/// Tracks through layers `start..` which values stay constant under a small perturbation of
/// layer `start`'s input or parameters, and returns the first kink as the error.
fn trace_constant_values(spec: &NetworkSpec, trace: &Trace, start: usize) -> Result<(), String> {
    let mut constant = vec![false; trace.forward[start].op.x().len()];
    for (index, layer) in spec.layers.iter().enumerate().skip(start) {
        let step = &trace.forward[index].op;
        constant = match layer {
            LayerSpec::Conv(_) | LayerSpec::Dense(_) => vec![false; step.y().len()],
            LayerSpec::Activation(Activation::Relu) => relu_constant(index, step.x(), &constant)?,
            LayerSpec::Activation(_) => constant,
            LayerSpec::Pool(pool) => pool_constant(index, pool, step.x(), &constant)?,
        };
    }
    Ok(())
}

/// Returns which relu outputs are constant: those whose input is constant or below
/// −[`KINK_MARGIN`]. Fails at a non-constant input within the margin of 0.
fn relu_constant(layer: usize, z: &Tensor, constant: &[bool]) -> Result<Vec<bool>, String> {
    let mut output = Vec::with_capacity(z.len());
    for (cell, (&value, &fixed)) in z.data().iter().zip(constant).enumerate() {
        if !fixed && value.abs() < KINK_MARGIN {
            return Err(format!(
                "layer {layer} (relu): input {value:e} at {:?} is within {KINK_MARGIN:e} of 0",
                z.unravel(cell)
            ));
        }
        output.push(fixed || value < 0.0);
    }
    Ok(output)
}

fn pool_constant(
    layer: usize,
    pool: &PoolSpec,
    x: &Tensor,
    constant: &[bool],
) -> Result<Vec<bool>, String> {
    let data = x.data();
    let mut output = Vec::new();
    for window in pool_windows(pool, x.shape()) {
        let all_constant = window.cells.iter().all(|&cell| constant[cell]);
        let window_constant = match pool.kind {
            PoolKind::Mean => all_constant,
            PoolKind::Max => {
                let max = window
                    .cells
                    .iter()
                    .map(|&cell| data[cell])
                    .fold(f64::NEG_INFINITY, f64::max);
                let near_max: Vec<usize> = window
                    .cells
                    .iter()
                    .copied()
                    .filter(|&cell| data[cell] >= max - KINK_MARGIN)
                    .collect();
                // NOTE: copies of one value, as an overlapping max pool makes, move together
                // but count as a tie here, so such a case is discarded or its layer skipped.
                let near_max_constant = near_max.iter().all(|&cell| constant[cell]);
                if near_max.len() > 1 && !near_max_constant {
                    return Err(format!(
                        "layer {layer} (max pool): window {:?} has {} values within \
                         {KINK_MARGIN:e} of its maximum {max:e}",
                        window.at,
                        near_max.len()
                    ));
                }
                near_max_constant
            }
            PoolKind::L2 => {
                let norm = window
                    .cells
                    .iter()
                    .map(|&cell| data[cell] * data[cell])
                    .sum::<f64>()
                    .sqrt();
                if !all_constant && norm < L2_MIN_NORM {
                    return Err(format!(
                        "layer {layer} (l2 pool): window {:?} has norm {norm:e}, below \
                         {L2_MIN_NORM:e}",
                        window.at
                    ));
                }
                all_constant
            }
        };
        output.push(window_constant);
    }
    Ok(output)
}

// ---------------------------------------------------------------------------------------
// Finite differences
// ---------------------------------------------------------------------------------------

/// The outcome of comparing one network's analytic gradients with central differences.
#[derive(Debug, Default)]
struct GradCheck {
    /// Number of values compared.
    compared: usize,
    /// Layers whose input and parameter gradients were not compared, with the kink found.
    skipped: Vec<(usize, String)>,
    /// One line per value outside the tolerance, not finite, or of the wrong shape.
    mismatches: Vec<String>,
}

impl GradCheck {
    fn describe(&self, spec: &NetworkSpec) -> String {
        let json = serde_json::to_string(spec).expect("specs serialize");
        let listed = self.mismatches.len().min(MAX_REPORTED);
        format!(
            "{} mismatches among {} compared values (first {listed} listed) for the network\n\
             {json}\n{}",
            self.mismatches.len(),
            self.compared,
            self.mismatches[..listed].join("\n")
        )
    }

    fn compare(&mut self, at: &str, analytic: &Tensor, index: usize, numeric: f64) {
        self.compared += 1;
        let a = analytic.data()[index];
        let difference = (a - numeric).abs();
        let bound = ABS_TOL + REL_TOL * a.abs().max(numeric.abs());
        if difference.is_nan() || difference > bound {
            self.mismatches.push(format!(
                "{at} at {:?}: analytic {a:e}, numeric {numeric:e}, difference {difference:e} \
                 over the tolerance {bound:e}",
                analytic.unravel(index)
            ));
        }
    }
}

/// Computes `(f(v + h) − f(v − h)) / 2h`, where `f` evaluates the objective with the
/// perturbed value set to its argument. The divisor is the distance between the rounded
/// `v + h` and `v − h`, which is 2h up to rounding.
fn central_difference(value: f64, mut f: impl FnMut(f64) -> f64) -> f64 {
    let up = value + STEP;
    let down = value - STEP;
    (f(up) - f(down)) / (up - down)
}

/// Layers `start..` of a network as a network of their own, fed layer `start`'s input.
struct Suffix {
    spec: NetworkSpec,
    x: Tensor,
    params: Vec<Option<LayerParams>>,
    objective: Objective,
}

impl Suffix {
    fn new(network: &Network, trace: &Trace, objective: &Objective, start: usize) -> Self {
        let x = trace.forward[start].op.x().clone();
        // The input of a layer after a dense layer is a vector. As a map it is [N, 1, 1],
        // which dense and activation layers handle like the vector.
        let input = match *x.shape() {
            [c, h, w] => [c, h, w],
            _ => [x.len(), 1, 1],
        };
        let spec = NetworkSpec {
            input,
            layers: network.spec().layers[start..].to_vec(),
        };
        let params = network.params()[start..].to_vec();
        let suffix = Network::new(spec.clone(), params.clone()).expect("a suffix of a valid net");
        let output = suffix.plan().output_shape().to_vec();
        Suffix {
            spec,
            x: x.reshaped(&input).expect("same length"),
            params,
            objective: reshape_objective(objective, &output),
        }
    }

    fn objective_at(&self, x: &Tensor, params: Vec<Option<LayerParams>>) -> f64 {
        Network::new(self.spec.clone(), params)
            .expect("the suffix's own parameter shapes")
            .objective_value(x, &self.objective)
            .expect("the suffix's own input shape")
    }
}

/// Returns the objective for an output of `shape`, which differs from the full network's
/// only in rank (`[N, 1, 1]` for `[N]`).
fn reshape_objective(objective: &Objective, shape: &[usize]) -> Objective {
    match objective {
        Objective::Loss(Loss::Mse { target }) => Objective::Loss(Loss::Mse {
            target: target.clone().reshaped(shape).expect("same length"),
        }),
        Objective::Loss(loss) => Objective::Loss(loss.clone()),
        Objective::Upstream(g) => {
            Objective::Upstream(g.clone().reshaped(shape).expect("same length"))
        }
    }
}

fn check_finite(spec: &NetworkSpec, gradients: &Gradients, check: &mut GradCheck) {
    for (layer, grad) in gradients.grad_inputs.iter().enumerate() {
        if let Some((index, value)) = grad.first_non_finite() {
            check.mismatches.push(format!(
                "layer {layer} ({}) input gradient at {index:?} is {value}, not finite",
                layer_name(&spec.layers[layer])
            ));
        }
    }
    for (layer, params) in gradients.grad_params.iter().enumerate() {
        let Some(params) = params else { continue };
        for (name, grad) in [("weights", &params.weights), ("bias", &params.bias)] {
            if let Some((index, value)) = grad.first_non_finite() {
                check.mismatches.push(format!(
                    "layer {layer} ({}) {name} gradient at {index:?} is {value}, not finite",
                    layer_name(&spec.layers[layer])
                ));
            }
        }
    }
}

/// Compares every input, weight and bias gradient of every layer with a central
/// difference, leaving out the layers whose suffix has a kink.
fn check_gradients(network: &Network, x: &Tensor, objective: &Objective) -> GradCheck {
    let spec = network.spec();
    let (_, gradients) = network
        .gradients(x, objective)
        .expect("the case has matching shapes");
    let trace = Trace::record(network, x, objective).expect("the case has matching shapes");
    let full_value = network
        .objective_value(x, objective)
        .expect("the case has matching shapes");
    let mut check = GradCheck::default();
    check_finite(spec, &gradients, &mut check);

    for start in 0..spec.layers.len() {
        if let Some(kink) = find_kink(spec, &trace, start) {
            check.skipped.push((start, kink));
            continue;
        }
        let suffix = Suffix::new(network, &trace, objective, start);
        let name = format!("layer {start} ({})", layer_name(&spec.layers[start]));

        // The suffix repeats the same arithmetic as the full network, so a difference here
        // is a bug in this test.
        let value = suffix.objective_at(&suffix.x, suffix.params.clone());
        if (value - full_value).abs() > 1e-12 * (1.0 + full_value.abs()) {
            check.mismatches.push(format!(
                "{name}: the suffix network computes the objective {value:e}, the full \
                 network {full_value:e}; the test's suffix is built wrongly"
            ));
            continue;
        }

        let grad_x = &gradients.grad_inputs[start];
        if grad_x.len() != suffix.x.len() {
            check.mismatches.push(format!(
                "{name} input gradient has shape {:?} for an input of shape {:?}",
                grad_x.shape(),
                suffix.x.shape()
            ));
            continue;
        }
        for index in 0..suffix.x.len() {
            let numeric = central_difference(suffix.x.data()[index], |value| {
                let mut moved = suffix.x.clone();
                moved.data_mut()[index] = value;
                suffix.objective_at(&moved, suffix.params.clone())
            });
            check.compare(&format!("{name} input gradient"), grad_x, index, numeric);
        }

        let Some(own) = &suffix.params[0] else {
            continue;
        };
        let Some(analytic) = &gradients.grad_params[start] else {
            check
                .mismatches
                .push(format!("{name} has parameters but no gradient for them"));
            continue;
        };
        for (tensor, grad, value) in [
            ("weights", &analytic.weights, &own.weights),
            ("bias", &analytic.bias, &own.bias),
        ] {
            if grad.shape() != value.shape() {
                check.mismatches.push(format!(
                    "{name} {tensor} gradient has shape {:?} for {tensor} of shape {:?}",
                    grad.shape(),
                    value.shape()
                ));
                continue;
            }
            for index in 0..value.len() {
                let numeric = central_difference(value.data()[index], |moved_value| {
                    let mut moved = suffix.params.clone();
                    let layer = moved[0].as_mut().expect("checked above");
                    let target = if tensor == "weights" {
                        &mut layer.weights
                    } else {
                        &mut layer.bias
                    };
                    target.data_mut()[index] = moved_value;
                    suffix.objective_at(&suffix.x, moved)
                });
                check.compare(&format!("{name} {tensor} gradient"), grad, index, numeric);
            }
        }
    }
    check
}

fn assert_matches_central_differences(network: &Network, x: &Tensor, objective: &Objective) {
    let check = check_gradients(network, x, objective);
    assert!(
        check.skipped.is_empty(),
        "a hand-made case has a kink: {:?}",
        check.skipped
    );
    assert!(check.compared > 0, "no value was compared");
    assert!(
        check.mismatches.is_empty(),
        "{}",
        check.describe(network.spec())
    );
}

// ---------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------

/// Draws networks of conv, relu, L2 pool and optionally a dense layer. Kernel 0 gets a bias
/// so negative that the relu makes channel 0 all zero, so every L2 window of channel 0 is
/// all zero.
fn l2_zero_window_case() -> impl Strategy<Value = GradCase> {
    let input = (1..=3usize, 2..=6usize, 2..=6usize).prop_map(|(c, h, w)| [c, h, w]);
    let conv = (
        1..=3usize,
        prop::array::uniform2(1..=3usize),
        prop::array::uniform2(1..=2usize),
        prop::array::uniform2(0..=1usize),
    )
        .prop_map(|(kernels, size, stride, padding)| {
            LayerSpec::Conv(ConvSpec {
                kernels,
                size,
                stride,
                padding,
                dilation: [1, 1],
            })
        });
    let pool = (
        prop::array::uniform2(1..=3usize),
        prop::array::uniform2(1..=3usize),
    )
        .prop_map(|(size, stride)| {
            LayerSpec::Pool(PoolSpec {
                kind: PoolKind::L2,
                size,
                stride,
            })
        });
    let tail = prop::collection::vec((1..=3usize, Just(None)), 0..=1);
    (input, conv, pool, tail)
        .prop_flat_map(|(input, conv, pool, tail)| {
            let maps = [conv, LayerSpec::Activation(Activation::Relu), pool];
            case_with_values(build_spec(input, &maps, &tail))
        })
        .prop_map(silence_first_kernel)
}

/// Sets kernel 0's bias to −(Σ|w| + 0.5). For inputs in (−1, 1), and zero padding, its conv
/// output then stays below −0.5.
fn silence_first_kernel(mut case: GradCase) -> GradCase {
    let params = case.params[0].as_mut().expect("layer 0 is a conv layer");
    let per_kernel = params.weights.len() / params.bias.len();
    let reach: f64 = params.weights.data()[..per_kernel]
        .iter()
        .map(|w| w.abs())
        .sum();
    params.bias.data_mut()[0] = -(reach + 0.5);
    case
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn random_network_gradients_match(case in grad_case()) {
        let plan = case.spec.plan();
        // build_spec fits every size, so plan() is expected to accept every spec.
        prop_assume!(plan.is_ok());
        let json = serde_json::to_string(&case.spec).expect("specs serialize");
        prop_assert_eq!(
            &plan.expect("checked above").shapes,
            &case.shapes,
            "plan() and the test disagree on the tensor shapes of {}",
            json
        );
        let network = Network::new(case.spec.clone(), case.params.clone())
            .expect("parameters shaped from the spec");
        let trace = Trace::record(&network, &case.x, &case.objective)
            .expect("the case has matching shapes");
        prop_assume!(find_kink(&case.spec, &trace, 0).is_none());

        let check = check_gradients(&network, &case.x, &case.objective);
        prop_assert!(check.mismatches.is_empty(), "{}", check.describe(&case.spec));
        prop_assert!(check.compared > 0, "no value was compared for {}", json);
    }

    #[test]
    fn l2_pool_zero_windows_pass_zero(case in l2_zero_window_case()) {
        const POOL: usize = 2;
        let network = Network::new(case.spec.clone(), case.params.clone())
            .expect("parameters shaped from the spec");
        let trace = Trace::record(&network, &case.x, &case.objective)
            .expect("the case has matching shapes");
        prop_assume!(find_kink(&case.spec, &trace, 0).is_none());
        let json = serde_json::to_string(&case.spec).expect("specs serialize");

        let LayerSpec::Pool(pool) = &case.spec.layers[POOL] else {
            panic!("layer {POOL} is the L2 pool");
        };
        let x = trace.forward[POOL].op.x();
        let y = trace.forward[POOL].op.y();
        let windows = pool_windows(pool, x.shape());
        let is_zero: Vec<bool> = windows
            .iter()
            .map(|window| window.cells.iter().all(|&cell| x.data()[cell] == 0.0))
            .collect();
        for (window, &zero) in windows.iter().zip(&is_zero) {
            if window.at[0] == 0 {
                prop_assert!(
                    zero,
                    "window {:?} of channel 0 is not all zero in {}", window.at, json
                );
            }
        }

        let routing = trace
            .backward
            .iter()
            .find_map(|step| match &step.op {
                BackwardOp::Pool { routing: PoolRouting::L2 { weights }, .. }
                    if step.layer == Some(POOL) => Some(weights),
                _ => None,
            })
            .expect("the trace has the L2 pool step");
        let area = pool.size[0] * pool.size[1];
        for (w, window) in windows.iter().enumerate() {
            if !is_zero[w] {
                continue;
            }
            prop_assert_eq!(y.data()[w], 0.0, "output of window {:?} in {}", window.at, json);
            let weights = &routing.data()[w * area..(w + 1) * area];
            prop_assert!(
                weights.iter().all(|&weight| weight == 0.0),
                "routing weights {:?} of all-zero window {:?} in {}", weights, window.at, json
            );
        }

        // A cell that only all-zero windows (or no window) cover gets exactly 0.
        let (_, gradients) = network
            .gradients(&case.x, &case.objective)
            .expect("the case has matching shapes");
        let grad = &gradients.grad_inputs[POOL];
        let mut in_nonzero_window = vec![false; x.len()];
        for (window, &zero) in windows.iter().zip(&is_zero) {
            if !zero {
                for &cell in &window.cells {
                    in_nonzero_window[cell] = true;
                }
            }
        }
        for (cell, &covered) in in_nonzero_window.iter().enumerate() {
            if !covered {
                prop_assert_eq!(
                    grad.data()[cell], 0.0,
                    "pool input gradient at {:?} in {}", grad.unravel(cell), json
                );
            }
        }
        let conv_grads = gradients.grad_params[0].as_ref().expect("layer 0 is a conv layer");
        prop_assert_eq!(
            conv_grads.bias.data()[0], 0.0,
            "bias gradient of the silenced kernel in {}", json
        );

        // The pool's own input sits at the kink of the L2 norm, so its finite difference is
        // skipped. The relu clamps those values to 0, so the layers before it are compared.
        let check = check_gradients(&network, &case.x, &case.objective);
        prop_assert!(
            check.skipped.iter().any(|(layer, _)| *layer == POOL),
            "the L2 pool input was compared across its all-zero windows in {}", json
        );
        prop_assert!(
            !check.skipped.iter().any(|(layer, _)| *layer == 0),
            "the conv layer was not compared in {}", json
        );
        prop_assert!(check.mismatches.is_empty(), "{}", check.describe(&case.spec));
    }
}

// ---------------------------------------------------------------------------------------
// Generator coverage
// ---------------------------------------------------------------------------------------

fn setting(name: &str, value: impl Display) -> String {
    format!("{name} {value}")
}

/// Collects the settings a case uses, in the form [`every_setting`] lists them.
fn record_settings(case: &GradCase, seen: &mut BTreeSet<String>) {
    const AXES: [&str; 2] = ["height", "width"];
    for (layer, input) in case.spec.layers.iter().zip(&case.shapes) {
        match layer {
            LayerSpec::Conv(conv) => {
                seen.insert(setting("conv kernels", conv.kernels));
                seen.insert(setting("conv input channels", input[0]));
                for (axis, name) in AXES.iter().enumerate() {
                    seen.insert(setting(&format!("conv size {name}"), conv.size[axis]));
                    seen.insert(setting(&format!("conv stride {name}"), conv.stride[axis]));
                    seen.insert(setting(&format!("conv padding {name}"), conv.padding[axis]));
                    seen.insert(setting(
                        &format!("conv dilation {name}"),
                        conv.dilation[axis],
                    ));
                }
            }
            LayerSpec::Activation(f) => {
                seen.insert(setting("activation", f.name()));
            }
            LayerSpec::Pool(pool) => {
                seen.insert(setting("pool kind", pool.kind.name()));
                for (axis, name) in AXES.iter().enumerate() {
                    seen.insert(setting(&format!("pool size {name}"), pool.size[axis]));
                    seen.insert(setting(&format!("pool stride {name}"), pool.stride[axis]));
                }
                let overlapping = (0..2).any(|axis| pool.stride[axis] < pool.size[axis]);
                let windows = if overlapping {
                    "overlapping"
                } else {
                    "non-overlapping"
                };
                seen.insert(setting("pool windows", windows));
            }
            LayerSpec::Dense(_) => {
                seen.insert("dense".to_string());
            }
        }
    }
    let objective = match &case.objective {
        Objective::Loss(loss) => loss.name(),
        Objective::Upstream(_) => "upstream",
    };
    seen.insert(setting("objective", objective));
}

fn every_setting() -> BTreeSet<String> {
    let mut all = BTreeSet::new();
    for k in 1..=3 {
        all.insert(setting("conv kernels", k));
        all.insert(setting("conv input channels", k));
    }
    for name in ["height", "width"] {
        for v in 1..=3 {
            all.insert(setting(&format!("conv size {name}"), v));
            all.insert(setting(&format!("conv stride {name}"), v));
            all.insert(setting(&format!("pool size {name}"), v));
            all.insert(setting(&format!("pool stride {name}"), v));
        }
        for v in 0..=2 {
            all.insert(setting(&format!("conv padding {name}"), v));
        }
        for v in 1..=2 {
            all.insert(setting(&format!("conv dilation {name}"), v));
        }
    }
    for f in Activation::ALL {
        all.insert(setting("activation", f.name()));
    }
    for kind in PoolKind::ALL {
        all.insert(setting("pool kind", kind.name()));
    }
    for windows in ["overlapping", "non-overlapping"] {
        all.insert(setting("pool windows", windows));
    }
    all.insert("dense".to_string());
    for objective in ["mse", "softmax_cross_entropy", "upstream"] {
        all.insert(setting("objective", objective));
    }
    all
}

#[test]
fn generator_covers_every_setting() {
    const SAMPLES: usize = 1000;
    let mut runner = TestRunner::deterministic();
    let strategy = grad_case();
    let mut seen = BTreeSet::new();
    let mut runnable = 0;
    for _ in 0..SAMPLES {
        let case = strategy
            .new_tree(&mut runner)
            .expect("the generator draws a case")
            .current();
        record_settings(&case, &mut seen);
        if case.spec.plan().is_err() {
            continue;
        }
        let network = Network::new(case.spec.clone(), case.params.clone())
            .expect("parameters shaped from the spec");
        let trace = Trace::record(&network, &case.x, &case.objective)
            .expect("the case has matching shapes");
        if find_kink(&case.spec, &trace, 0).is_none() {
            runnable += 1;
        }
    }
    let expected = every_setting();
    let missing: Vec<&String> = expected.difference(&seen).collect();
    assert!(
        missing.is_empty(),
        "the generator drew none of {missing:?} in {SAMPLES} cases"
    );
    assert!(
        runnable * 10 >= SAMPLES * 9,
        "only {runnable} of {SAMPLES} generated cases are valid and free of kinks"
    );
}

// ---------------------------------------------------------------------------------------
// Hand-made cases for classic bugs
// ---------------------------------------------------------------------------------------

/// Deterministic values in [−0.5, 0.5) without a simple pattern; `offset` varies them.
fn ramp(shape: &[usize], offset: usize) -> Tensor {
    let len = shape.iter().product::<usize>();
    let data = (0..len)
        .map(|i| ((i * 37 + offset * 11 + 5) % 23) as f64 / 23.0 - 0.5)
        .collect();
    Tensor::from_vec(shape, data).expect("sized from the shape")
}

fn pool_network(
    input: [usize; 3],
    kind: PoolKind,
    size: [usize; 2],
    stride: [usize; 2],
) -> Network {
    let spec = NetworkSpec {
        input,
        layers: vec![LayerSpec::Pool(PoolSpec { kind, size, stride })],
    };
    Network::new(spec, vec![None]).expect("a valid pool layer")
}

#[test]
fn mean_pool_divides_by_window_area() {
    // 2×3 windows with stride 1×2 on a 3×5 map: β = 6, unlike the stride area 2, PH² = 4 or
    // PH + PW = 5 that a wrong divisor would use.
    let network = pool_network([1, 3, 5], PoolKind::Mean, [2, 3], [1, 2]);
    let x = ramp(&[1, 3, 5], 0);
    let upstream = Tensor::from_vec(&[1, 2, 2], vec![6.0, 12.0, 18.0, 24.0]).unwrap();
    let objective = Objective::Upstream(upstream);
    let (_, gradients) = network.gradients(&x, &objective).unwrap();
    // Each cell gets δ/6 = 1, 2, 3 or 4 from each window over it. Windows cover rows 0–1
    // or 1–2 and columns 0–2 or 2–4, so row 1 and column 2 lie in two windows each.
    let expected = [
        1.0, 1.0, 3.0, 2.0, 2.0, //
        4.0, 4.0, 10.0, 6.0, 6.0, //
        3.0, 3.0, 7.0, 4.0, 4.0,
    ];
    assert_eq!(gradients.grad_inputs[0].data(), &expected);
    assert_matches_central_differences(&network, &x, &objective);

    let mse = Objective::Loss(Loss::Mse {
        target: ramp(&[1, 2, 2], 1),
    });
    assert_matches_central_differences(&network, &x, &mse);
}

#[test]
fn max_pool_overlapping_windows_sum() {
    // 2×2 windows with stride 1 on a 3×4 map. The 9 at (1, 1) is the maximum of the four
    // windows on the left and the 8 at (1, 3) of the two on the right, so each receives
    // the sum of those windows' δ.
    let network = pool_network([1, 3, 4], PoolKind::Max, [2, 2], [1, 1]);
    let x = Tensor::from_vec(
        &[1, 3, 4],
        vec![1.0, 2.0, 3.0, 0.5, 4.0, 9.0, 5.0, 8.0, 6.0, 7.0, 0.2, 0.1],
    )
    .unwrap();
    let upstream = Tensor::from_vec(&[1, 2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
    let objective = Objective::Upstream(upstream);
    let (_, gradients) = network.gradients(&x, &objective).unwrap();
    let expected = [
        0.0, 0.0, 0.0, 0.0, //
        0.0, 12.0, 0.0, 9.0, //
        0.0, 0.0, 0.0, 0.0,
    ];
    assert_eq!(gradients.grad_inputs[0].data(), &expected);
    assert_matches_central_differences(&network, &x, &objective);

    let softmax = Objective::Loss(Loss::SoftmaxCrossEntropy { label: 4 });
    assert_matches_central_differences(&network, &x, &softmax);
}

/// Computes conv gradients tap by tap, independently of the core's full correlation. Tap
/// `(u, v)` of window `(i, j)` reads input cell `(i·SH + u·DH − PH, j·SW + v·DW − PW)`,
/// which gets `δ·w`, while the weight gets `δ·x`. Taps in the padding are skipped.
/// Returns `dL/dx`, `dL/dw` and `dL/db`.
fn reference_conv_gradients(
    conv: &ConvSpec,
    x: &Tensor,
    w: &Tensor,
    grad_y: &Tensor,
) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let (chans, rows, cols) = (x.shape()[0], x.shape()[1], x.shape()[2]);
    let (kernels, out_rows, out_cols) = (grad_y.shape()[0], grad_y.shape()[1], grad_y.shape()[2]);
    let [k_h, k_w] = conv.size;
    let mut grad_x = vec![0.0; x.len()];
    let mut grad_w = vec![0.0; w.len()];
    let mut grad_b = vec![0.0; kernels];
    for (k, bias) in grad_b.iter_mut().enumerate() {
        for i in 0..out_rows {
            for j in 0..out_cols {
                let delta = grad_y.data()[(k * out_rows + i) * out_cols + j];
                *bias += delta;
                for c in 0..chans {
                    for u in 0..k_h {
                        for v in 0..k_w {
                            let row = (i * conv.stride[0] + u * conv.dilation[0])
                                .checked_sub(conv.padding[0])
                                .filter(|&row| row < rows);
                            let col = (j * conv.stride[1] + v * conv.dilation[1])
                                .checked_sub(conv.padding[1])
                                .filter(|&col| col < cols);
                            let (Some(row), Some(col)) = (row, col) else {
                                continue;
                            };
                            let cell = (c * rows + row) * cols + col;
                            let tap = ((k * chans + c) * k_h + u) * k_w + v;
                            grad_x[cell] += delta * w.data()[tap];
                            grad_w[tap] += delta * x.data()[cell];
                        }
                    }
                }
            }
        }
    }
    (grad_x, grad_w, grad_b)
}

fn assert_close(label: &str, actual: &[f64], expected: &[f64]) {
    assert_eq!(actual.len(), expected.len(), "{label}: length");
    for (index, (a, e)) in actual.iter().zip(expected).enumerate() {
        assert!(
            (a - e).abs() <= 1e-12,
            "{label} at flat index {index}: core {a:e}, reference {e:e}"
        );
    }
}

#[test]
fn strided_padded_conv_matches_reference() {
    // (input, kernels, size, stride, padding, dilation). The second layout drops input row
    // 5, which no window reaches; the third adds dilation on one axis.
    let layouts = [
        ([2, 6, 5], 2, [3, 3], [2, 2], [1, 1], [1, 1]),
        ([1, 6, 7], 3, [3, 2], [3, 2], [1, 2], [1, 1]),
        ([2, 7, 6], 2, [2, 3], [2, 2], [1, 2], [2, 1]),
    ];
    for (input, kernels, size, stride, padding, dilation) in layouts {
        let conv = ConvSpec {
            kernels,
            size,
            stride,
            padding,
            dilation,
        };
        let label = format!("{conv:?} on {input:?}");
        let spec = NetworkSpec {
            input,
            layers: vec![LayerSpec::Conv(conv.clone())],
        };
        let output = spec.plan().unwrap().output_shape().to_vec();
        let weights = ramp(&[kernels, input[0], size[0], size[1]], 1);
        let params = vec![Some(LayerParams {
            weights: weights.clone(),
            bias: ramp(&[kernels], 2),
        })];
        let network = Network::new(spec, params).unwrap();
        let x = ramp(&input, 3);
        let upstream = ramp(&output, 4);
        let objective = Objective::Upstream(upstream.clone());

        let (_, gradients) = network.gradients(&x, &objective).unwrap();
        let (grad_x, grad_w, grad_b) = reference_conv_gradients(&conv, &x, &weights, &upstream);
        let grad_params = gradients.grad_params[0].as_ref().unwrap();
        assert_close(
            &format!("{label} input gradient"),
            gradients.grad_inputs[0].data(),
            &grad_x,
        );
        assert_close(
            &format!("{label} weights gradient"),
            grad_params.weights.data(),
            &grad_w,
        );
        assert_close(
            &format!("{label} bias gradient"),
            grad_params.bias.data(),
            &grad_b,
        );
        assert_matches_central_differences(&network, &x, &objective);
    }
}
