//! Training the default digit network with the default settings on the shipped digits:
//! it reaches 95% test accuracy, and a seed fixes every weight.

use std::path::Path;

use cnn_core::dataset::Digits;
use cnn_core::presets::digit_network;
use cnn_core::train::{evaluate, SgdConfig, Trainer};
use cnn_core::{Network, PoolKind};

/// The settings `core/examples/train_default.rs` uses for the shipped weights.
const INIT_SEED: u64 = 2024;
const EPOCHS: usize = 6;

fn config() -> SgdConfig {
    SgdConfig {
        learning_rate: 0.02,
        momentum: 0.9,
        batch_size: 16,
        seed: 7,
    }
}

fn digits(name: &str) -> Digits {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../www/data")
        .join(name);
    let bytes =
        std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    Digits::parse(&bytes).unwrap()
}

#[test]
fn default_network_reaches_95_percent() {
    let (train, test) = (digits("mnist-train.bin"), digits("mnist-test.bin"));
    let network = Network::seeded(digit_network(PoolKind::Max), INIT_SEED).unwrap();
    let mut trainer = Trainer::new(network, config(), train.len()).unwrap();
    let mut first_epoch_loss = 0.0;
    let mut last_epoch_loss = 0.0;
    let steps = trainer.steps_per_epoch();
    for epoch in 0..EPOCHS {
        let mut total = 0.0;
        for _ in 0..steps {
            total += trainer.step(&train).unwrap().loss;
        }
        if epoch == 0 {
            first_epoch_loss = total / steps as f64;
        }
        last_epoch_loss = total / steps as f64;
    }
    let accuracy = evaluate(trainer.network(), &test).unwrap().accuracy;
    eprintln!("loss {first_epoch_loss:.4} → {last_epoch_loss:.4}, test accuracy {accuracy:.4}");
    assert!(
        last_epoch_loss < first_epoch_loss / 3.0,
        "loss {first_epoch_loss} → {last_epoch_loss}"
    );
    assert!(accuracy >= 0.95, "test accuracy {accuracy} is below 0.95");
}

#[test]
fn seed_fixes_every_weight() {
    let train = digits("mnist-train.bin");
    let run = |shuffle_seed: u64| {
        let network = Network::seeded(digit_network(PoolKind::Mean), INIT_SEED).unwrap();
        let mut trainer = Trainer::new(
            network,
            SgdConfig {
                seed: shuffle_seed,
                ..config()
            },
            train.len(),
        )
        .unwrap();
        let reports: Vec<_> = (0..20).map(|_| trainer.step(&train).unwrap()).collect();
        (trainer.into_network(), reports)
    };
    let (a, reports_a) = run(7);
    let (b, reports_b) = run(7);
    let (c, _) = run(8);
    assert_eq!(a.params(), b.params());
    assert_eq!(reports_a, reports_b);
    assert_ne!(a.params(), c.params());
    let last = reports_a.last().unwrap();
    assert_eq!(last.delta_norms.len(), 7);
    assert!(last.delta_norms.iter().all(|n| n.is_finite() && *n > 0.0));
    assert_eq!(
        last.weight_grad_norms
            .iter()
            .filter(|n| n.is_some())
            .count(),
        3
    );
}

#[test]
fn diverging_rate_stops_with_step() {
    let train = digits("mnist-train.bin");
    let network = Network::seeded(digit_network(PoolKind::Max), INIT_SEED).unwrap();
    let config = SgdConfig {
        learning_rate: 1e150,
        ..config()
    };
    let mut trainer = Trainer::new(network, config, train.len()).unwrap();
    let mut stopped = None;
    for _ in 0..50 {
        match trainer.step(&train) {
            Ok(_) => {}
            Err(e) => {
                stopped = Some(e);
                break;
            }
        }
    }
    let error =
        stopped.expect("a learning rate of 1e150 makes the loss non-finite within 50 steps");
    let message = error.to_string();
    assert!(message.starts_with("step "), "{message}");
    assert!(
        message.contains("lower the learning rate (now 1e150)"),
        "{message}"
    );
}
