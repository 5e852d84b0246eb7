//! Prints the core's trace of one tutorial preset, computed natively, so that the stepper's
//! end-to-end test can compare the page's numbers with it.
//!
//! Run from the repository root (the digit preset reads `www/data/`):
//! `cargo run --release -p cnn-core --example preset_reference -- <preset id> [CELL]...`
//!
//! Each CELL requests the explanation of one cell, with the index written as `i,j,k`:
//! - `backward/<step>/<tensor>/<index>`: a tensor of a backward step (gather form);
//! - `scatter/<step>/<index>`: `grad_x` of a `conv_input` step in the scatter form;
//! - `forward/<layer>/<index>`: the output `y` of a forward layer.
//!
//! Output: one JSON object with
//! - `preset`, `steps` (the backward step count) and `label` (the cross-entropy label, or
//!   null for a given upstream gradient);
//! - `input` and `forward` (per layer: `layer`, `op`, `y`);
//! - `backward` (per step: `step`, `op`, `layer`, `tensors`, and for pool steps `pool`
//!   with the kind, β for mean pooling and the three kinds of `pool::compare_kinds`);
//! - `cells`, one entry per CELL: `query`, `value` (the trace's value), and `result` and
//!   `terms` from `cnn_core::explain` (null when the cell has no formula).
//!
//! Every tensor is `{"shape": [...], "data": [...]}` with the data row-major. Numbers are
//! printed by serde_json in the shortest form that reads back as the same f64.

use cnn_core::dataset::Digits;
use cnn_core::document::{InputSource, WeightSource};
use cnn_core::explain::{self, Explanation};
use cnn_core::pool::{self, PoolRouting};
use cnn_core::presets::TrainedWeights;
use cnn_core::tutorial::{self, Preset};
use cnn_core::{BackwardOp, Loss, Network, Objective, Tensor, Trace};
use serde::Deserialize;
use serde_json::{json, Map, Value};

const USAGE: &str = "usage: preset_reference <preset id> [backward/<step>/<tensor>/<i,j,..> | scatter/<step>/<i,j,..> | forward/<layer>/<i,j,..>]...";

type Failure = Box<dyn std::error::Error>;

fn main() -> Result<(), Failure> {
    let mut args = std::env::args().skip(1);
    let id = args.next().ok_or(USAGE)?;
    let preset = tutorial::preset(&id).ok_or_else(|| {
        let ids: Vec<&str> = tutorial::presets().iter().map(|p| p.id).collect();
        format!("unknown preset {id:?}; use one of {}", ids.join(", "))
    })?;
    let (network, input, objective) = build(&preset)?;
    let trace = Trace::record(&network, &input, &objective)?;

    let cells = args
        .map(|query| cell(&trace, &query))
        .collect::<Result<Vec<_>, _>>()?;
    let label = match &objective {
        Objective::Loss(Loss::SoftmaxCrossEntropy { label }) => json!(label),
        _ => Value::Null,
    };
    let forward: Vec<Value> = trace
        .forward
        .iter()
        .map(|step| {
            let op = serde_json::to_value(&step.op).expect("a forward op serializes");
            json!({ "layer": step.layer, "op": op["op"], "y": tensor_json(step.op.y()) })
        })
        .collect();
    let backward = trace
        .backward
        .iter()
        .enumerate()
        .map(|(index, step)| backward_step(index, step))
        .collect::<Result<Vec<_>, _>>()?;
    let output = json!({
        "preset": preset.id,
        "steps": trace.backward.len(),
        "label": label,
        "input": tensor_json(&trace.input),
        "forward": forward,
        "backward": backward,
        "cells": cells,
    });
    println!("{output}");
    Ok(())
}

/// Builds the preset's network, input and objective as the page does: seeded weights for
/// typed inputs, and for a test digit the shipped weights with the digit's own label.
fn build(preset: &Preset) -> Result<(Network, Tensor, Objective), Failure> {
    let document = &preset.document;
    let mut objective = document.objective.clone();
    let (network, input) = match (&document.input, &document.weights) {
        (InputSource::Values(values), WeightSource::Seeded(seed)) => (
            Network::seeded(document.network.clone(), *seed)?,
            values.clone(),
        ),
        (InputSource::Digit(index), WeightSource::Trained(kind)) => {
            let digits = Digits::parse(&std::fs::read("www/data/mnist-test.bin")?)?;
            let weights: TrainedWeights =
                serde_json::from_slice(&std::fs::read("www/data/weights.json")?)?;
            let set = weights
                .set(*kind)
                .ok_or_else(|| format!("www/data/weights.json has no {} set", kind.name()))?;
            if set.network != document.network {
                return Err("the trained network differs from the digit preset's network".into());
            }
            if *index >= digits.len() {
                return Err(format!("test digit {index} is out of range").into());
            }
            let image = digits.image(*index);
            // The page scales other sizes by nearest-neighbour sampling, but this example
            // only supports the size the shipped network takes.
            if image.shape() != document.network.input {
                return Err(format!(
                    "the digit image has shape {:?}, the network takes {:?}",
                    image.shape(),
                    document.network.input
                )
                .into());
            }
            if let Objective::Loss(Loss::SoftmaxCrossEntropy { label }) = &mut objective {
                *label = digits.label(*index);
            }
            (
                Network::new(set.network.clone(), set.params.clone())?,
                image,
            )
        }
        _ => {
            return Err(format!(
                "preset {} mixes input and weight sources that this example does not build",
                preset.id
            )
            .into())
        }
    };
    Ok((network, input, objective))
}

fn tensor_json(tensor: &Tensor) -> Value {
    json!({ "shape": tensor.shape(), "data": tensor.data() })
}

/// Collects every tensor field of a backward op, named as in the trace's JSON.
fn step_tensors(op: &BackwardOp) -> Vec<(String, Tensor)> {
    let Value::Object(fields) = serde_json::to_value(op).expect("a backward op serializes") else {
        unreachable!("a backward op serializes as an object");
    };
    fields
        .into_iter()
        .filter_map(|(name, value)| Some((name, Tensor::deserialize(value).ok()?)))
        .collect()
}

fn backward_step(index: usize, step: &cnn_core::BackwardStep) -> Result<Value, Failure> {
    let mut entry = json!({
        "step": index,
        "op": step.op.name(),
        "layer": step.layer,
        "tensors": step_tensors(&step.op)
            .iter()
            .map(|(name, tensor)| (name.clone(), tensor_json(tensor)))
            .collect::<Map<_, _>>(),
    });
    if let BackwardOp::Pool {
        spec,
        x,
        grad_y,
        routing,
        ..
    } = &step.op
    {
        let mut compare = Map::new();
        for (kind, result) in pool::compare_kinds(spec, x, grad_y)? {
            compare.insert(kind.name().to_string(), tensor_json(&result.grad_x));
        }
        let (beta, routed) = match routing {
            PoolRouting::Mean { beta } => (json!(beta), Value::Null),
            PoolRouting::Max { switches } => (Value::Null, tensor_json(switches)),
            PoolRouting::L2 { weights } => (Value::Null, tensor_json(weights)),
        };
        entry["pool"] = json!({
            "kind": spec.kind.name(),
            "size": spec.size,
            "stride": spec.stride,
            "beta": beta,
            "routing": routed,
            "compare": compare,
        });
    }
    Ok(entry)
}

fn parse_index(text: &str) -> Result<Vec<usize>, Failure> {
    text.split(',')
        .map(|part| {
            part.trim()
                .parse::<usize>()
                .map_err(|e| format!("invalid index {text:?}: {e}").into())
        })
        .collect()
}

fn explanation_json(query: &str, value: Option<f64>, e: Option<&Explanation>) -> Value {
    json!({
        "query": query,
        "value": value,
        "result": e.map(|e| e.result),
        "terms": e.map(|e| e.terms.len()),
        "has_offset": e.map(|e| e.offset.is_some()),
    })
}

/// Explains one CELL argument: the trace's value of the cell and its explanation, if any.
fn cell(trace: &Trace, query: &str) -> Result<Value, Failure> {
    let parts: Vec<&str> = query.split('/').collect();
    let invalid = || format!("invalid cell {query:?}; {USAGE}");
    match parts.as_slice() {
        ["backward", step, tensor, index] => {
            let step: usize = step.parse().map_err(|_| invalid())?;
            let index = parse_index(index)?;
            let entry = trace
                .backward
                .get(step)
                .ok_or_else(|| format!("no backward step {step} in {query:?}"))?;
            let (_, stored) = step_tensors(&entry.op)
                .into_iter()
                .find(|(name, _)| name == tensor)
                .ok_or_else(|| format!("step {step} has no tensor {tensor:?}"))?;
            let value = stored.get(&index);
            let e = explain::backward_cell(trace, step, tensor, &index).ok();
            Ok(explanation_json(query, value, e.as_ref()))
        }
        ["scatter", step, index] => {
            let step: usize = step.parse().map_err(|_| invalid())?;
            let e = explain::conv_input_scatter(trace, step, &parse_index(index)?)?;
            Ok(explanation_json(query, Some(e.value), Some(&e)))
        }
        ["forward", layer, index] => {
            let layer: usize = layer.parse().map_err(|_| invalid())?;
            let e = explain::forward_cell(trace, layer, &parse_index(index)?)?;
            Ok(explanation_json(query, Some(e.value), Some(&e)))
        }
        _ => Err(invalid().into()),
    }
}
