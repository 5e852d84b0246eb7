//! Random, mostly hostile network specs, parameters, inputs and objectives through the
//! validator and, when it accepts them, through the whole run and trace. No input may
//! panic; every rejection must name a location or the objective.
//!
//! `cargo test -p cnn-core --test fuzz` runs 10,000 cases. For a long run set
//! `CNN_FUZZ_RUNS`, for example
//! `CNN_FUZZ_RUNS=1000000 cargo test --release -p cnn-core --test fuzz -- --nocapture`.

use std::panic::{catch_unwind, AssertUnwindSafe};

use cnn_core::conv::ConvSpec;
use cnn_core::dense::DenseSpec;
use cnn_core::init::SplitMix64;
use cnn_core::pool::PoolSpec;
use cnn_core::{
    Activation, LayerParams, LayerSpec, Loss, Network, NetworkSpec, Objective, PoolKind, Tensor,
    Trace,
};

const DEFAULT_RUNS: usize = 10_000;

/// A size: mostly small, sometimes 0, sometimes absurd.
fn size(rng: &mut SplitMix64) -> usize {
    match rng.below(60) {
        0 => 0,
        1 => usize::MAX,
        2 => 1 << 40,
        3 => 100_000,
        4..=15 => 1 + rng.below(12),
        _ => 1 + rng.below(4),
    }
}

fn pair(rng: &mut SplitMix64) -> [usize; 2] {
    [size(rng), size(rng)]
}

/// A hostile value: NaN, infinite, huge, subnormal or zero.
fn hostile(rng: &mut SplitMix64) -> f64 {
    [
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        1e300,
        -1e300,
        1e-310,
        0.0,
    ][rng.below(7)]
}

/// Ordinary values, with one hostile value in about one tensor of eight.
fn tensor(rng: &mut SplitMix64, shape: &[usize]) -> Tensor {
    let len: usize = shape.iter().product();
    let mut data: Vec<f64> = (0..len).map(|_| rng.uniform(-2.0, 2.0)).collect();
    if len > 0 && rng.below(8) == 0 {
        let at = rng.below(len);
        data[at] = hostile(rng);
    }
    Tensor::from_vec(shape, data).expect("sized from shape")
}

fn layer(rng: &mut SplitMix64) -> LayerSpec {
    match rng.below(4) {
        0 => LayerSpec::Conv(ConvSpec {
            kernels: size(rng),
            size: pair(rng),
            stride: pair(rng),
            padding: [size(rng).saturating_sub(1), size(rng).saturating_sub(1)],
            dilation: pair(rng),
        }),
        1 => LayerSpec::Activation(Activation::ALL[rng.below(4)]),
        2 => LayerSpec::Pool(PoolSpec {
            kind: PoolKind::ALL[rng.below(3)],
            size: pair(rng),
            stride: pair(rng),
        }),
        _ => LayerSpec::Dense(DenseSpec { outputs: size(rng) }),
    }
}

/// Parameters that fit the plan most of the time, and are wrong in shape or count
/// otherwise. Shapes are only built when they are small, so the generator itself never
/// allocates an absurd tensor.
fn params(rng: &mut SplitMix64, spec: &NetworkSpec) -> Vec<Option<LayerParams>> {
    let plan = spec.plan().ok();
    let mut entries: Vec<Option<LayerParams>> = spec
        .layers
        .iter()
        .enumerate()
        .map(|(i, _)| {
            let shapes = plan.as_ref().and_then(|p| p.layers[i].param_shapes());
            let (w, b) = shapes?;
            let (mut w, b) = (w, b);
            if rng.below(10) == 0 {
                w[0] += 1;
            }
            if w.iter().product::<usize>() > 1 << 16 {
                return None;
            }
            Some(LayerParams {
                weights: tensor(rng, &w),
                bias: tensor(rng, &b),
            })
        })
        .collect();
    match rng.below(20) {
        0 => {
            entries.pop();
        }
        1 => entries.push(None),
        _ => {}
    }
    entries
}

fn objective(rng: &mut SplitMix64, output: Option<&[usize]>) -> Objective {
    let shape = output
        .map(<[usize]>::to_vec)
        .unwrap_or_else(|| vec![1 + rng.below(3)]);
    let small = shape.iter().product::<usize>() <= 1 << 16;
    match rng.below(3) {
        0 if small => Objective::Upstream(tensor(rng, &shape)),
        1 if small => Objective::Loss(Loss::Mse {
            target: tensor(rng, &shape),
        }),
        _ => Objective::Loss(Loss::SoftmaxCrossEntropy {
            label: rng.below(12),
        }),
    }
}

/// Runs one case; returns whether the core accepted the network.
fn run_case(seed: u64) -> bool {
    let mut rng = SplitMix64::new(seed);
    let spec = NetworkSpec {
        input: [size(&mut rng), size(&mut rng), size(&mut rng)],
        layers: (0..rng.below(6)).map(|_| layer(&mut rng)).collect(),
    };
    let plan = spec.plan();
    if let Err(e) = &plan {
        // Every rejection explains itself with a non-empty message.
        assert!(!e.to_string().is_empty());
    }
    let params = params(&mut rng, &spec);
    let network = match Network::new(spec.clone(), params) {
        Ok(network) => network,
        Err(e) => {
            assert!(!e.to_string().is_empty());
            return false;
        }
    };
    let input_shape = spec.input;
    let x = if rng.below(10) == 0 {
        tensor(
            &mut rng,
            &[input_shape[0], input_shape[1] + 1, input_shape[2]],
        )
    } else {
        tensor(&mut rng, &input_shape)
    };
    let output = network.plan().output_shape().to_vec();
    let fits = rng.below(10) != 0;
    let objective = objective(&mut rng, fits.then_some(&output[..]));
    match Trace::record(&network, &x, &objective) {
        Ok(trace) => assert_eq!(trace.forward.len(), spec.layers.len()),
        Err(e) => assert!(!e.to_string().is_empty()),
    }
    true
}

#[test]
fn hostile_specs_never_panic() {
    let runs = std::env::var("CNN_FUZZ_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_RUNS);
    let mut accepted = 0;
    for seed in 0..runs as u64 {
        match catch_unwind(AssertUnwindSafe(|| run_case(seed))) {
            Ok(true) => accepted += 1,
            Ok(false) => {}
            Err(_) => panic!("case with seed {seed} panicked; rerun it with run_case({seed})"),
        }
    }
    eprintln!("{runs} cases, {accepted} networks accepted and run");
    // The generator must reach the run itself, not only the validator.
    assert!(
        accepted * 20 > runs,
        "only {accepted} of {runs} networks were accepted"
    );
}
