//! Trains the default digit network once per pooling kind on the training digits and
//! writes the weights the page loads.
//!
//! Run from the repository root:
//! `cargo run --release -p cnn-core --example train_default -- www/data/weights.json`

use std::time::Instant;

use cnn_core::dataset::Digits;
use cnn_core::presets::{digit_network, TrainedSet, TrainedWeights};
use cnn_core::train::{evaluate, SgdConfig, Trainer};
use cnn_core::{Network, PoolKind};

const INIT_SEED: u64 = 2024;
const EPOCHS: usize = 6;

/// Keeps 7 significant digits, so the file stays small; the page and the native
/// reference both read these rounded values.
fn round(v: f64) -> f64 {
    if v == 0.0 {
        return 0.0;
    }
    let text = format!("{v:.6e}");
    text.parse().expect("formatted float parses")
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "www/data/weights.json".into());
    let train = Digits::parse(&std::fs::read("www/data/mnist-train.bin")?)?;
    let test = Digits::parse(&std::fs::read("www/data/mnist-test.bin")?)?;
    let config = SgdConfig {
        learning_rate: 0.02,
        momentum: 0.9,
        batch_size: 16,
        seed: 7,
    };

    let mut sets = Vec::new();
    for pool in [PoolKind::Max, PoolKind::Mean, PoolKind::L2] {
        let started = Instant::now();
        let network = Network::seeded(digit_network(pool), INIT_SEED)?;
        let mut trainer = Trainer::new(network, config.clone(), train.len())?;
        let total = EPOCHS * trainer.steps_per_epoch();
        let mut recent = 0.0;
        for step in 1..=total {
            recent += trainer.step(&train)?.loss;
            if step % trainer.steps_per_epoch() == 0 {
                let eval = evaluate(trainer.network(), &test)?;
                eprintln!(
                    "{}: epoch {} mean train loss {:.4}, test accuracy {:.3}",
                    pool.name(),
                    step / trainer.steps_per_epoch(),
                    recent / trainer.steps_per_epoch() as f64,
                    eval.accuracy
                );
                recent = 0.0;
            }
        }
        let mut network = trainer.into_network();
        let mut params = network.params().to_vec();
        for p in params.iter_mut().flatten() {
            p.weights.data_mut().iter_mut().for_each(|v| *v = round(*v));
            p.bias.data_mut().iter_mut().for_each(|v| *v = round(*v));
        }
        network.set_params(params.clone())?;
        let eval = evaluate(&network, &test)?;
        eprintln!(
            "{}: rounded weights, test accuracy {:.3}, {:.1} s",
            pool.name(),
            eval.accuracy,
            started.elapsed().as_secs_f64()
        );
        sets.push(TrainedSet {
            pool,
            network: network.spec().clone(),
            params,
            init_seed: INIT_SEED,
            shuffle_seed: config.seed,
            learning_rate: config.learning_rate,
            momentum: config.momentum,
            batch_size: config.batch_size,
            epochs: EPOCHS,
            test_accuracy: eval.accuracy,
        });
    }
    let weights = TrainedWeights {
        about: "Default digit network trained by core/examples/train_default.rs on \
                www/data/mnist-train.bin, one set per pooling kind"
            .into(),
        sets,
    };
    std::fs::write(&out, serde_json::to_string(&weights)?)?;
    eprintln!("wrote {out}");
    Ok(())
}
