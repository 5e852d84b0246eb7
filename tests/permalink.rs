//! The permalink codec: every preset and a large typed-weights document survive the round
//! trip exactly, and damaged or hostile links are rejected with a message, never a panic.
#![cfg(not(target_arch = "wasm32"))]

use cnn_backprop_explorer::permalink::{decode, encode, MAX_LINK_BYTES};
use cnn_core::document::{Document, InputSource, WeightSource};
use cnn_core::init::SplitMix64;
use cnn_core::{Loss, Network, NetworkSpec, Objective, Tensor};
use serde_json::{json, Value};

/// Unpadded base64url written independently of the codec under test: a bit accumulator
/// instead of 3-byte groups.
fn reference_base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut text = String::new();
    let (mut bits, mut count) = (0u32, 0u32);
    for &byte in bytes {
        bits = (bits << 8) | u32::from(byte);
        count += 8;
        while count >= 6 {
            count -= 6;
            text.push(ALPHABET[((bits >> count) & 0x3f) as usize] as char);
        }
    }
    if count > 0 {
        text.push(ALPHABET[((bits << (6 - count)) & 0x3f) as usize] as char);
    }
    text
}

/// Builds a version-1 link to arbitrary JSON text.
fn link_to(json: &str) -> String {
    format!("v1.{}", reference_base64url(json.as_bytes()))
}

fn preset_json(id: &str) -> Value {
    let preset = cnn_core::tutorial::preset(id).expect("preset exists");
    serde_json::to_value(&preset.document).expect("a document serializes")
}

fn rejection(fragment: &str) -> String {
    match decode(fragment) {
        Ok(document) => panic!("decode accepted {:.80}: {document:?}", fragment),
        Err(message) => message,
    }
}

/// Builds a document of a 3×32×32 input with typed weights of conv 8@3×3 → relu → 2×2 max
/// pool → dense 10, every value a random full-precision `f64`, on backward step 5.
fn typed_weights_document() -> Document {
    let network: NetworkSpec = serde_json::from_value(json!({
        "input": [3, 32, 32],
        "layers": [
            {"conv": {"kernels": 8, "size": [3, 3]}},
            {"activation": "relu"},
            {"pool": {"kind": "max", "size": [2, 2], "stride": [2, 2]}},
            {"dense": {"outputs": 10}}
        ]
    }))
    .expect("valid spec");
    let mut rng = SplitMix64::new(2024);
    let mut params = Network::seeded(network.clone(), 1)
        .expect("the network fits the budget")
        .params()
        .to_vec();
    for layer in params.iter_mut().flatten() {
        for value in layer.weights.data_mut().iter_mut() {
            *value = rng.uniform(-1.0, 1.0);
        }
        for value in layer.bias.data_mut().iter_mut() {
            *value = rng.uniform(-0.1, 0.1);
        }
    }
    let input = Tensor::from_fn3([3, 32, 32], |_, _, _| rng.next_f64());
    Document {
        network,
        input: InputSource::Values(input),
        weights: WeightSource::Values(params),
        objective: Objective::Loss(Loss::SoftmaxCrossEntropy { label: 3 }),
        step: 5,
    }
}

// ---------------------------------------------------------------------------------------
// Round trips and the length limit
// ---------------------------------------------------------------------------------------

#[test]
fn round_trip_every_preset() {
    for preset in cnn_core::tutorial::presets() {
        let link = encode(&preset.document);
        assert!(link.starts_with("v1."), "{}: {link:.20}", preset.id);
        assert_eq!(
            decode(&link).as_ref(),
            Ok(&preset.document),
            "{}",
            preset.id
        );
    }
}

#[test]
fn round_trip_changed_step() {
    let mut document = cnn_core::tutorial::preset("two-stages").unwrap().document;
    document.step = 7;
    assert_eq!(decode(&encode(&document)), Ok(document));
}

#[test]
fn round_trip_typed_weights_exactly() {
    let document = typed_weights_document();
    let decoded = decode(&encode(&document)).expect("the link decodes");
    assert_eq!(decoded.network, document.network);
    assert_eq!(decoded.objective, document.objective);
    assert_eq!(decoded.step, document.step);
    let differences = value_differences(&document, &decoded);
    assert!(
        differences.is_empty(),
        "{} values changed, the first: {:?}",
        differences.len(),
        differences.first()
    );
}

/// Lists every input and parameter value whose bits differ between `a` and `b`, as
/// (tensor, flat index, value in `a`, value in `b`).
fn value_differences(a: &Document, b: &Document) -> Vec<(String, usize, f64, f64)> {
    let mut pairs: Vec<(String, &Tensor, &Tensor)> = Vec::new();
    if let (InputSource::Values(x), InputSource::Values(y)) = (&a.input, &b.input) {
        pairs.push(("input".into(), x, y));
    }
    if let (WeightSource::Values(p), WeightSource::Values(q)) = (&a.weights, &b.weights) {
        for (layer, (p, q)) in p.iter().zip(q).enumerate() {
            if let (Some(p), Some(q)) = (p, q) {
                pairs.push((format!("weights of layer {layer}"), &p.weights, &q.weights));
                pairs.push((format!("bias of layer {layer}"), &p.bias, &q.bias));
            }
        }
    }
    let mut differences = Vec::new();
    for (name, x, y) in pairs {
        assert_eq!(x.shape(), y.shape(), "{name}");
        for (index, (u, v)) in x.data().iter().zip(y.data()).enumerate() {
            if u.to_bits() != v.to_bits() {
                differences.push((name.clone(), index, *u, *v));
            }
        }
    }
    differences
}

#[test]
fn encode_is_json_in_base64url() {
    for preset in cnn_core::tutorial::presets() {
        let json = serde_json::to_string(&preset.document).unwrap();
        assert_eq!(encode(&preset.document), link_to(&json), "{}", preset.id);
    }
}

#[test]
fn limit_fits_typed_weights_document() {
    let length = encode(&typed_weights_document()).len();
    println!("3×32×32 typed-weights document: {length} bytes, limit {MAX_LINK_BYTES}");
    assert!(length <= MAX_LINK_BYTES, "{length} > {MAX_LINK_BYTES}");
}

#[test]
fn presets_fit_well_below_limit() {
    let longest = cnn_core::tutorial::presets()
        .into_iter()
        .map(|preset| (encode(&preset.document).len(), preset.id))
        .max()
        .unwrap();
    println!("longest preset link: {} ({} bytes)", longest.1, longest.0);
    assert!(longest.0 < 3_000, "{longest:?}");
}

// ---------------------------------------------------------------------------------------
// Rejected links
// ---------------------------------------------------------------------------------------

#[test]
fn decode_rejects_too_long() {
    let fragment = format!("v1.{}", "A".repeat(MAX_LINK_BYTES));
    let message = rejection(&fragment);
    assert!(message.contains("too long"), "{message}");
    assert!(message.contains(&MAX_LINK_BYTES.to_string()), "{message}");
}

#[test]
fn decode_accepts_length_at_limit() {
    // The length check passes; the payload of 'A's is then not JSON.
    let fragment = format!("v1.{}", "A".repeat(MAX_LINK_BYTES - 3 - 1));
    let message = rejection(&fragment);
    assert!(!message.contains("too long"), "{message}");
}

#[test]
fn decode_rejects_missing_prefix() {
    for fragment in [
        "",
        "eyJuZXR3b3JrIjoxfQ",
        "v",
        "v1",
        "vx.AAAA",
        "v.AAAA",
        "V1.AAAA",
    ] {
        let message = rejection(fragment);
        assert!(
            message.contains("format version such as 'v1.'"),
            "{fragment:?}: {message}"
        );
    }
}

#[test]
fn decode_rejects_unknown_version() {
    let message = rejection("v2.AAAA");
    assert!(message.contains("format version 2,"), "{message}");

    let message = rejection("v123456789012345678901234567890.AAAA");
    assert!(message.contains("version 123456789012…,"), "{message}");
}

#[test]
fn decode_rejects_bad_character() {
    let message = rejection("v1.%%%");
    assert!(
        message.contains("character 4 after the '#' ('%')"),
        "{message}"
    );

    let message = rejection("v1.eyJu ZXR3");
    assert!(
        message.contains("character 8 after the '#' (' ')"),
        "{message}"
    );

    // Standard base64 padding and its two extra characters are not base64url.
    let message = rejection("v1.Zg==");
    assert!(message.contains("('=')"), "{message}");
    let message = rejection("v1.ab+/");
    assert!(message.contains("('+')"), "{message}");
}

#[test]
fn decode_rejects_truncated_payload() {
    let link = encode(&cnn_core::tutorial::preset("one-stage").unwrap().document);
    let mut saw_length = false;
    let mut saw_end = false;
    for cut in 3..link.len() {
        let message = rejection(&link[..cut]);
        saw_length |= message.contains("one more than any encoded data can have");
        saw_end |= message.contains("ends in the middle of the document");
        assert!(
            message.contains("cut off") || message.contains("damaged"),
            "{cut}: {message}"
        );
    }
    assert!(saw_length);
    assert!(saw_end);
}

#[test]
fn decode_rejects_invalid_utf8() {
    let bytes = [b'{', b'"', 0xff, 0xfe, b'"', b'}'];
    let message = rejection(&format!("v1.{}", reference_base64url(&bytes)));
    assert!(message.contains("not UTF-8"), "{message}");
    assert!(message.contains("offset 2"), "{message}");
}

#[test]
fn decode_rejects_wrong_json() {
    for json in ["", "null", "1", "\"text\"", "{", "[]", "{\"network\": 1}"] {
        let message = rejection(&link_to(json));
        assert!(
            message.contains("does not describe a view") || message.contains("cut off"),
            "{json:?}: {message}"
        );
    }
    let message = rejection(&link_to("{\"network\": 1}"));
    assert!(message.contains("invalid type: integer `1`"), "{message}");
}

#[test]
fn decode_rejects_unknown_field() {
    let mut value = preset_json("one-stage");
    value["colour"] = json!("red");
    let message = rejection(&link_to(&value.to_string()));
    assert!(message.contains("unknown field `colour`"), "{message}");

    let mut value = preset_json("one-stage");
    value["network"]["layers"][0]["conv"]["groups"] = json!(2);
    let message = rejection(&link_to(&value.to_string()));
    assert!(message.contains("unknown field `groups`"), "{message}");
}

#[test]
fn decode_rejects_negative_size() {
    let mut value = preset_json("one-stage");
    value["network"]["input"] = json!([1, -6, 6]);
    let message = rejection(&link_to(&value.to_string()));
    assert!(message.contains("invalid value: integer `-6`"), "{message}");
}

#[test]
fn decode_rejects_number_out_of_range() {
    let mut value = preset_json("one-stage");
    value["input"] = json!({"values": [[["OVERFLOW"]]]});
    let json = value.to_string().replace("\"OVERFLOW\"", "1e400");
    let message = rejection(&link_to(&json));
    assert!(message.contains("number out of range"), "{message}");
}

#[test]
fn decode_leaves_huge_sizes_to_core() {
    // The codec reads sizes as numbers; the core's size budget rejects them when the page
    // builds the network.
    let mut value = preset_json("one-stage");
    value["network"]["input"] = json!([1, 100_000, 100_000]);
    let document = decode(&link_to(&value.to_string())).expect("sizes are numbers");
    let error = document.network.plan().expect_err("over the size budget");
    assert!(!error.to_string().is_empty());
}

#[test]
fn decode_rejects_deep_nesting() {
    let deep = "[".repeat(10_000);
    let mut in_input = preset_json("one-stage");
    in_input["input"] = json!({"values": "DEEP"});
    let mut in_weights = preset_json("one-stage");
    in_weights["weights"] = json!({"values": [{"weights": "DEEP", "bias": [0]}]});
    let mut in_layers = preset_json("one-stage");
    in_layers["network"]["layers"] = json!("DEEP");
    let cases = [
        deep.clone(),
        format!("{{\"network\": {deep}"),
        "{\"a\":".repeat(10_000),
        in_input.to_string().replace("\"DEEP\"", &deep),
        in_weights.to_string().replace("\"DEEP\"", &deep),
        in_layers.to_string().replace("\"DEEP\"", &deep),
    ];
    for json in cases {
        let message = rejection(&link_to(&json));
        assert!(message.starts_with("the link"), "{message}");
    }
}

#[test]
fn decode_rejects_html_in_fields() {
    let html = "<img src=x onerror=alert(1)>";
    let mut as_field = preset_json("one-stage");
    as_field[html] = json!(html);
    let mut as_variant = preset_json("two-stages");
    as_variant["objective"]["loss"]["kind"] = json!(html);
    let mut as_activation = preset_json("one-stage");
    as_activation["network"]["layers"][1]["activation"] = json!(html);
    let mut as_number = preset_json("one-stage");
    as_number["weights"]["seeded"] = json!(html);
    for value in [as_field, as_variant, as_activation, as_number] {
        // The text can only come back inside the error message, which the page shows as
        // text.
        let message = rejection(&link_to(&value.to_string()));
        assert!(
            message.starts_with("the link does not describe"),
            "{message}"
        );
    }
}

#[test]
fn decode_quotes_little_of_long_field_names() {
    let mut value = preset_json("one-stage");
    value["x".repeat(100_000)] = json!(1);
    let message = rejection(&link_to(&value.to_string()));
    assert!(message.len() < 500, "{} bytes", message.len());
}

#[test]
fn decode_keeps_messages_to_sentences() {
    let mut value = preset_json("one-stage");
    value["colour"] = json!(1);
    let fragments = [
        format!("v1.{}", "A".repeat(MAX_LINK_BYTES)),
        "v9.AAAA".to_string(),
        "v1.%%%".to_string(),
        "v1.AAAAA".to_string(),
        link_to("{"),
        link_to(&value.to_string()),
    ];
    for fragment in fragments {
        let message = rejection(&fragment);
        assert!(message.starts_with("the link "), "{message}");
        assert!(message.ends_with('.'), "{message}");
    }
}

// ---------------------------------------------------------------------------------------
// Random input never panics
// ---------------------------------------------------------------------------------------

#[test]
fn decode_never_panics_on_random_bytes() {
    let mut rng = SplitMix64::new(7);
    for _ in 0..3_000 {
        let len = rng.below(200);
        let bytes: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
        let text = String::from_utf8_lossy(&bytes);
        assert!(decode(&text).is_err());
        assert!(decode(&format!("v1.{text}")).is_err());
    }
}

#[test]
fn decode_never_panics_on_random_payloads() {
    // Random base64url text and random bytes behind a valid prefix reach the UTF-8 and JSON
    // stages.
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut rng = SplitMix64::new(8);
    for _ in 0..3_000 {
        let len = rng.below(300);
        let text: String = (0..len)
            .map(|_| ALPHABET[rng.below(ALPHABET.len())] as char)
            .collect();
        let _ = decode(&format!("v1.{text}"));
        let bytes: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
        let _ = decode(&link_to(&String::from_utf8_lossy(&bytes)));
        let mut raw = b"v1.".to_vec();
        raw.extend(reference_base64url(&bytes).bytes());
        let _ = decode(std::str::from_utf8(&raw).unwrap());
    }
}

#[test]
fn decode_never_panics_on_mutated_links() {
    let links: Vec<String> = cnn_core::tutorial::presets()
        .iter()
        .map(|preset| encode(&preset.document))
        .collect();
    let json_texts: Vec<String> = cnn_core::tutorial::presets()
        .iter()
        .map(|preset| serde_json::to_string(&preset.document).unwrap())
        .collect();
    let mut rng = SplitMix64::new(9);
    for round in 0..3_000 {
        // Change one character of the link, or one byte of its JSON, or cut the JSON.
        let preset_index = rng.below(links.len());
        let mut link = links[preset_index].clone().into_bytes();
        let at = rng.below(link.len());
        let pool = b"AZaz09-_.%v";
        link[at] = pool[rng.below(pool.len())];
        let _ = decode(&String::from_utf8(link).unwrap());

        let mut json = json_texts[preset_index].clone().into_bytes();
        let at = rng.below(json.len());
        if round % 2 == 0 {
            let pool = b"{}[]\",:-01e9.tfn ";
            json[at] = pool[rng.below(pool.len())];
        } else {
            json.truncate(at);
        }
        let mut raw = b"v1.".to_vec();
        raw.extend(reference_base64url(&json).bytes());
        let _ = decode(std::str::from_utf8(&raw).unwrap());
    }
}
