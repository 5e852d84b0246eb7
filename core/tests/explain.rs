//! Every cell of every explainable tensor, forward and backward, recomputed from the
//! factors its explanation lists, must equal the value in the trace.

use std::fs;
use std::path::Path;

use cnn_core::explain::{
    backward_cell, conv_input_scatter, explainable_tensors, forward_cell, Combine,
};
use cnn_core::{BackwardOp, Case, Loss, Network, NetworkSpec, Objective, Tensor, Trace};

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * (1.0 + b.abs())
}

fn tensor_of<'a>(op: &'a BackwardOp, name: &str) -> &'a Tensor {
    match (op, name) {
        (BackwardOp::LossGradient { grad_y, .. }, "grad_y") => grad_y,
        (BackwardOp::DenseParams { grad_w, .. }, "grad_w")
        | (BackwardOp::ConvWeights { grad_w, .. }, "grad_w") => grad_w,
        (BackwardOp::DenseParams { grad_b, .. }, "grad_b")
        | (BackwardOp::ConvBias { grad_b, .. }, "grad_b") => grad_b,
        (BackwardOp::Activation { derivative, .. }, "derivative") => derivative,
        (op, "grad_x") => op.grad_x().expect("steps with grad_x"),
        _ => panic!("no tensor {name} in {}", op.name()),
    }
}

/// Checks every cell of `trace`, returning how many explanations were compared.
fn check_trace(name: &str, trace: &Trace) -> usize {
    let mut count = 0;
    for (layer, step) in trace.forward.iter().enumerate() {
        let y = step.op.y();
        for flat in 0..y.len() {
            let index = y.unravel(flat);
            let e = forward_cell(trace, layer, &index).unwrap();
            assert!(
                close(e.result, e.value),
                "{name}: forward layer {layer} y{index:?}: {} vs {}",
                e.result,
                e.value
            );
            count += 1;
        }
    }
    for (step, entry) in trace.backward.iter().enumerate() {
        for tensor in explainable_tensors(&entry.op) {
            let t = tensor_of(&entry.op, tensor);
            for flat in 0..t.len() {
                let index = t.unravel(flat);
                let e = backward_cell(trace, step, tensor, &index).unwrap();
                assert!(
                    close(e.result, e.value),
                    "{name}: step {step} ({}) {tensor}{index:?}: {} vs {}",
                    entry.op.name(),
                    e.result,
                    e.value
                );
                count += 1;
                if matches!(entry.op, BackwardOp::ConvInput { .. }) {
                    let s = conv_input_scatter(trace, step, &index).unwrap();
                    assert!(
                        close(s.result, e.value),
                        "{name}: step {step} scatter{index:?}: {} vs {}",
                        s.result,
                        e.value
                    );
                    assert!(s.terms.iter().all(|t| t.factors.len() == 2));
                }
            }
        }
    }
    count
}

#[test]
fn golden_case_cells_match_trace() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let mut total = 0;
    let mut cases = 0;
    for entry in fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let case: Case = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
        let network = case.build().unwrap();
        let trace = Trace::record(&network, &case.input, &case.objective().unwrap()).unwrap();
        total += check_trace(&case.name, &trace);
        cases += 1;
    }
    assert!(cases > 20, "only {cases} cases in {}", dir.display());
    assert!(total > 1000, "only {total} cells compared");
}

#[test]
fn strided_dilated_padded_cells_match_trace() {
    let spec: NetworkSpec = serde_json::from_str(
        r#"{"input": [2, 9, 8], "layers": [
            {"conv": {"kernels": 3, "size": [3, 2], "stride": [2, 3], "padding": [2, 1], "dilation": [2, 1]}},
            {"activation": "sigmoid"},
            {"pool": {"kind": "l2", "size": [2, 2], "stride": [1, 1]}},
            {"dense": {"outputs": 4}}]}"#,
    )
    .unwrap();
    let network = Network::seeded(spec, 11).unwrap();
    let x = Tensor::from_fn3([2, 9, 8], |c, h, w| {
        ((c * 72 + h * 8 + w) as f64 * 0.61).cos()
    });
    let objective = Objective::Loss(Loss::SoftmaxCrossEntropy { label: 3 });
    let trace = Trace::record(&network, &x, &objective).unwrap();
    assert!(check_trace("strided", &trace) > 100);
}

#[test]
fn max_pool_cell_names_first_maximum() {
    let spec: NetworkSpec = serde_json::from_str(
        r#"{"input": [1, 2, 2], "layers": [{"pool": {"kind": "max", "size": [2, 2], "stride": [2, 2]}}]}"#,
    )
    .unwrap();
    let network = Network::new(spec, vec![None]).unwrap();
    let x = Tensor::from_vec(&[1, 2, 2], vec![1.0, 3.0, 3.0, 2.0]).unwrap();
    let upstream = Objective::Upstream(Tensor::from_vec(&[1, 1, 1], vec![1.0]).unwrap());
    let trace = Trace::record(&network, &x, &upstream).unwrap();
    let e = forward_cell(&trace, 0, &[0, 0, 0]).unwrap();
    assert_eq!(e.combine, Combine::Max { winner: 1 });
    let back = backward_cell(&trace, 1, "grad_x", &[0, 1, 0]).unwrap();
    assert_eq!(back.terms[0].factors[1].tensor, "switch");
    assert_eq!(back.terms[0].factors[1].value, 0.0);
    assert_eq!(back.result, 0.0);
}

#[test]
fn bad_requests_are_rejected() {
    let spec: NetworkSpec =
        serde_json::from_str(r#"{"input": [1, 3, 3], "layers": [{"activation": "relu"}]}"#)
            .unwrap();
    let network = Network::new(spec, vec![None]).unwrap();
    let x = Tensor::zeros(&[1, 3, 3]);
    let trace = Trace::record(
        &network,
        &x,
        &Objective::Upstream(Tensor::zeros(&[1, 3, 3])),
    )
    .unwrap();
    assert!(forward_cell(&trace, 1, &[0, 0, 0]).is_err());
    assert!(forward_cell(&trace, 0, &[0, 3, 0]).is_err());
    assert!(backward_cell(&trace, 9, "grad_x", &[0, 0, 0]).is_err());
    assert!(backward_cell(&trace, 1, "grad_w", &[0, 0, 0]).is_err());
    assert!(conv_input_scatter(&trace, 1, &[0, 0, 0]).is_err());
}

#[test]
fn overflow_is_located_in_the_trace() {
    use cnn_core::{LayerParams, NonFinitePlace};
    let spec: NetworkSpec = serde_json::from_str(
        r#"{"input": [1, 1, 2], "layers": [{"dense": {"outputs": 1}}, {"activation": "tanh"}]}"#,
    )
    .unwrap();
    // 1e300 · 1e10 overflows to +∞ in the dense output; tanh(∞) = 1 is finite again.
    let params = vec![
        Some(LayerParams {
            weights: Tensor::from_vec(&[1, 2], vec![1e300, 1e300]).unwrap(),
            bias: Tensor::zeros(&[1]),
        }),
        None,
    ];
    let network = Network::new(spec, params).unwrap();
    let x = Tensor::from_vec(&[1, 1, 2], vec![1e10, 1e10]).unwrap();
    let upstream = Objective::Upstream(Tensor::from_vec(&[1], vec![1.0]).unwrap());
    let trace = Trace::record(&network, &x, &upstream).unwrap();
    let found = trace
        .first_non_finite()
        .expect("the dense output is infinite");
    assert_eq!(found.place, NonFinitePlace::Forward(0));
    assert_eq!(found.tensor, "y");
    assert_eq!(found.value, f64::INFINITY);

    let finite = Trace::record(&network, &Tensor::zeros(&[1, 1, 2]), &upstream).unwrap();
    assert_eq!(finite.first_non_finite(), None);
}
