//! Prints the core's values for one test digit through the default network, natively, so
//! that the end-to-end test can compare the page's numbers with them.
//!
//! Run from the repository root:
//! `cargo run --release -p cnn-core --example reference_trace -- <digit index> <max|mean|l2>`
//!
//! Output: one JSON line `{"loss": …, "predicted": …, "label": …, "steps": …}`.

use cnn_core::dataset::Digits;
use cnn_core::presets::TrainedWeights;
use cnn_core::{Loss, Network, Objective, PoolKind, Trace};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: reference_trace <digit index> <max|mean|l2>";
    let index: usize = args.next().ok_or(usage)?.parse()?;
    let pool: PoolKind =
        serde_json::from_value(serde_json::Value::String(args.next().ok_or(usage)?))?;

    let test = Digits::parse(&std::fs::read("www/data/mnist-test.bin")?)?;
    let weights: TrainedWeights = serde_json::from_slice(&std::fs::read("www/data/weights.json")?)?;
    let set = weights
        .set(pool)
        .ok_or("no weights for that pooling kind")?;
    if index >= test.len() {
        return Err(format!(
            "digit index {index} is out of range; use 0 to {}",
            test.len() - 1
        )
        .into());
    }
    let network = Network::new(set.network.clone(), set.params.clone())?;
    let label = test.label(index);
    let objective = Objective::Loss(Loss::SoftmaxCrossEntropy { label });
    let trace = Trace::record(&network, &test.image(index), &objective)?;
    let report = trace.loss.as_ref().expect("a loss objective has a loss");
    let line = serde_json::json!({
        "loss": report.value,
        "predicted": report.predicted,
        "label": label,
        "steps": trace.backward.len(),
    });
    println!("{line}");
    Ok(())
}
