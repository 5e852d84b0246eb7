//! Random and damaged permalinks through the decoder and the page's `state::build`, which
//! validates the document with the core and runs it, and random decoded images through
//! the upload path. Nothing may panic, and every rejection is a sentence.
//!
//! `cargo test --test fuzz` runs 2,000 cases of each. For a long run set `CNN_FUZZ_RUNS`:
//! `CNN_FUZZ_RUNS=1000000 cargo test --release --test fuzz -- --nocapture`.
#![cfg(not(target_arch = "wasm32"))]

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use cnn_backprop_explorer::assets::Assets;
use cnn_backprop_explorer::components::editor::image::pixels_to_tensor;
use cnn_backprop_explorer::permalink::{decode, encode};
use cnn_backprop_explorer::state::build;
use cnn_core::dataset::Digits;
use cnn_core::document::InputSource;
use cnn_core::init::SplitMix64;
use cnn_core::presets::TrainedWeights;

const DEFAULT_RUNS: usize = 2_000;

fn runs() -> usize {
    std::env::var("CNN_FUZZ_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_RUNS)
}

fn assets() -> Assets {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("www/data");
    let digits = Digits::parse(&std::fs::read(data.join("mnist-test.bin")).unwrap()).unwrap();
    let weights: TrainedWeights =
        serde_json::from_slice(&std::fs::read(data.join("weights.json")).unwrap()).unwrap();
    Assets { digits, weights }
}

/// JSON text of the tutorial presets, with the digit preset left out because its trace
/// costs a thousand times more and the mutations exercise the same decoder.
fn preset_texts() -> Vec<String> {
    cnn_core::tutorial::presets()
        .iter()
        .filter(|p| !matches!(p.document.input, InputSource::Digit(_)))
        .map(|p| serde_json::to_string(&p.document).unwrap())
        .collect()
}

fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (*b as u32) << (16 - 8 * i));
        for i in 0..chunk.len() + 1 {
            out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

/// Replaces, inserts or removes a few bytes of `text`, or cuts it, with JSON-ish bytes
/// and numbers that stress the validator (0, huge, negative, non-finite literals).
fn mutate(rng: &mut SplitMix64, text: &str) -> Vec<u8> {
    const PIECES: [&str; 14] = [
        "0",
        "-1",
        "1e400",
        "99999999999",
        "18446744073709551615",
        "null",
        "[",
        "]",
        "{",
        "}",
        "\"",
        ",",
        "NaN",
        "<script>alert(1)</script>",
    ];
    let mut bytes = text.as_bytes().to_vec();
    for _ in 0..1 + rng.below(3) {
        if bytes.is_empty() {
            break;
        }
        let at = rng.below(bytes.len());
        match rng.below(4) {
            0 => bytes[at] = b"{}[]\",:-01e9.tfn "[rng.below(17)],
            1 => {
                let piece = PIECES[rng.below(PIECES.len())].as_bytes();
                bytes.splice(at..at, piece.iter().copied());
            }
            2 => {
                // Replace a number with a hostile one: find the digits around `at`.
                let end = (at..bytes.len())
                    .find(|&i| !bytes[i].is_ascii_digit())
                    .unwrap_or(bytes.len());
                let piece = PIECES[rng.below(5)].as_bytes();
                bytes.splice(at..end, piece.iter().copied());
            }
            _ => bytes.truncate(at),
        }
    }
    bytes
}

/// Changes one leaf of the parsed JSON (a size, a value, a name) into a hostile one, or
/// drops or repeats an array element, so that most results still parse and reach the core.
fn mutate_structure(rng: &mut SplitMix64, text: &str) -> Vec<u8> {
    let mut value: serde_json::Value = serde_json::from_str(text).unwrap();
    let mut leaves = Vec::new();
    collect_paths(&value, &mut Vec::new(), &mut leaves);
    let path = &leaves[rng.below(leaves.len())];
    let target = path.iter().fold(&mut value, |node, key| match key {
        Key::Index(i) => &mut node[*i],
        Key::Field(f) => &mut node[f.as_str()],
    });
    let hostile = [
        serde_json::json!(0),
        serde_json::json!(-1),
        serde_json::json!(1e300),
        serde_json::json!(1e-300),
        serde_json::json!(100_000),
        serde_json::json!(u64::MAX),
        serde_json::json!(2.5),
        serde_json::json!(true),
        serde_json::json!("<img src=x onerror=alert(1)>"),
        serde_json::json!([]),
        serde_json::json!([[[[[[[[1]]]]]]]]),
    ];
    match (rng.below(3), target.as_array_mut()) {
        (0, Some(items)) if !items.is_empty() => {
            let at = rng.below(items.len());
            items.remove(at);
        }
        (1, Some(items)) if !items.is_empty() => {
            let copy = items[rng.below(items.len())].clone();
            items.push(copy);
        }
        _ => *target = hostile[rng.below(hostile.len())].clone(),
    }
    serde_json::to_vec(&value).unwrap()
}

enum Key {
    Index(usize),
    Field(String),
}

fn collect_paths(node: &serde_json::Value, path: &mut Vec<Key>, out: &mut Vec<Vec<Key>>) {
    let clone_path = |path: &Vec<Key>| {
        path.iter()
            .map(|k| match k {
                Key::Index(i) => Key::Index(*i),
                Key::Field(f) => Key::Field(f.clone()),
            })
            .collect::<Vec<_>>()
    };
    out.push(clone_path(path));
    match node {
        serde_json::Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                path.push(Key::Index(i));
                collect_paths(item, path, out);
                path.pop();
            }
        }
        serde_json::Value::Object(fields) => {
            for (name, item) in fields {
                path.push(Key::Field(name.clone()));
                collect_paths(item, path, out);
                path.pop();
            }
        }
        _ => {}
    }
}

#[test]
fn damaged_links_never_panic() {
    let assets = assets();
    let texts = preset_texts();
    let mut rng = SplitMix64::new(21);
    let (mut decoded, mut built) = (0, 0);
    let total = runs();
    for case in 0..total {
        let source = &texts[rng.below(texts.len())];
        let json = if rng.below(2) == 0 {
            mutate(&mut rng, source)
        } else {
            mutate_structure(&mut rng, source)
        };
        let link = format!("v1.{}", base64url(&json));
        let outcome = catch_unwind(AssertUnwindSafe(|| match decode(&link) {
            Ok(document) => {
                decoded += 1;
                match build(&assets, &document) {
                    Ok(session) => {
                        built += 1;
                        // A document that builds also encodes and decodes to itself.
                        assert_eq!(decode(&encode(&document)).as_ref(), Ok(&document));
                        assert!(!session.trace.0.backward.is_empty());
                    }
                    Err(message) => assert!(!message.is_empty()),
                }
            }
            Err(message) => assert!(message.ends_with('.'), "{message}"),
        }));
        assert!(outcome.is_ok(), "case {case} panicked on link {link}");
    }
    eprintln!("{total} damaged links: {decoded} decoded, {built} built and run");
    assert!(
        decoded > 0 && built > 0,
        "the mutations never reached the core"
    );
}

#[test]
fn random_images_never_panic() {
    let mut rng = SplitMix64::new(22);
    let total = runs();
    for case in 0..total {
        let shape = [1 + rng.below(3), 1 + rng.below(32), 1 + rng.below(32)];
        // Sometimes fewer or more bytes than the shape needs, as a failed canvas could give.
        let expected = shape[1] * shape[2] * 4;
        let len = match rng.below(4) {
            0 => rng.below(expected + 1),
            1 => expected + rng.below(64),
            _ => expected,
        };
        let rgba: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
        let invert = rng.below(2) == 0;
        let outcome = catch_unwind(AssertUnwindSafe(|| pixels_to_tensor(&rgba, shape, invert)));
        let tensor = outcome
            .unwrap_or_else(|_| panic!("case {case} panicked for shape {shape:?}, {len} bytes"));
        assert_eq!(tensor.shape(), &shape);
        assert!(
            tensor.data().iter().all(|v| (0.0..=1.0).contains(v)),
            "case {case}: values outside 0..1"
        );
    }
    eprintln!("{total} random images converted");
}
