//! Runs every golden case through the core and compares every output, input gradient,
//! parameter gradient and loss with |actual − expected| ≤ 1e-6 + 1e-4·|expected|.
//!
//! The cases come from the folder named by `CNN_CASES`, else from `../shared/cases` beside
//! the repository, else from the copy in `core/tests/cases`. The test fails when the folder
//! holds no `*.json` file.

use std::fs;
use std::path::{Path, PathBuf};

use cnn_core::{Case, Tensor, Trace};

const RTOL: f64 = 1e-4;
const ATOL: f64 = 1e-6;

fn cases_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CNN_CASES") {
        return PathBuf::from(dir);
    }
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let shared = manifest.join("../../shared/cases");
    if shared.is_dir() {
        return shared;
    }
    manifest.join("tests/cases")
}

fn case_files(dir: &Path) -> Vec<PathBuf> {
    let entries = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read the cases folder {}: {e}", dir.display()));
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.expect("readable folder entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    files
}

/// Compares one tensor, returning one line per mismatch (shape or value).
fn compare(
    case: &str,
    what: &str,
    expected: &Tensor,
    actual: &Tensor,
    worst: &mut f64,
) -> Vec<String> {
    if expected.shape() != actual.shape() {
        return vec![format!(
            "{case}: {what}: shape {:?} expected, {:?} computed",
            expected.shape(),
            actual.shape()
        )];
    }
    let mut failures = Vec::new();
    for (flat, (&e, &a)) in expected.data().iter().zip(actual.data()).enumerate() {
        let error = (a - e).abs();
        *worst = worst.max(error);
        if error.is_nan() || error > ATOL + RTOL * e.abs() {
            failures.push(format!(
                "{case}: {what} at index {:?}: expected {e}, computed {a} (difference {error:e})",
                expected.unravel(flat)
            ));
        }
    }
    failures
}

fn check_case(path: &Path, worst: &mut f64) -> Vec<String> {
    let text =
        fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let case: Case = match serde_json::from_str(&text) {
        Ok(case) => case,
        Err(e) => return vec![format!("{}: not a valid case: {e}", path.display())],
    };
    let name = case.name.as_str();
    let Some(expected) = case.expected.as_ref() else {
        return vec![format!("{name}: the case has no expected values")];
    };
    let network = match case.build() {
        Ok(network) => network,
        Err(e) => return vec![format!("{name}: the core rejected the network: {e}")],
    };
    let objective = match case.objective() {
        Ok(objective) => objective,
        Err(e) => return vec![format!("{name}: {e}")],
    };
    let trace = match Trace::record(&network, &case.input, &objective) {
        Ok(trace) => trace,
        Err(e) => return vec![format!("{name}: the core rejected the run: {e}")],
    };

    let mut failures = Vec::new();
    let layers = network.spec().layers.len();
    for (list, count) in [
        ("outputs", expected.outputs.len()),
        ("grad_inputs", expected.grad_inputs.len()),
        ("grad_params", expected.grad_params.len()),
    ] {
        if count != layers {
            failures.push(format!(
                "{name}: expected.{list} has {count} entries for {layers} layers"
            ));
        }
    }

    let outputs = trace.outputs();
    let gradients = trace.gradients();
    for (layer, output) in outputs.iter().enumerate() {
        let kind = network.spec().layers[layer].kind();
        let at = |tensor: &str| format!("layer {layer} ({kind}) {tensor}");
        if let Some(e) = expected.outputs.get(layer) {
            failures.extend(compare(name, &at("output"), e, output, worst));
        }
        if let Some(e) = expected.grad_inputs.get(layer) {
            failures.extend(compare(
                name,
                &at("grad_input"),
                e,
                &gradients.grad_inputs[layer],
                worst,
            ));
        }
        match (
            expected.grad_params.get(layer).cloned().flatten(),
            &gradients.grad_params[layer],
        ) {
            (Some(e), Some(a)) => {
                failures.extend(compare(
                    name,
                    &at("grad_weights"),
                    &e.weights,
                    &a.weights,
                    worst,
                ));
                failures.extend(compare(name, &at("grad_bias"), &e.bias, &a.bias, worst));
            }
            (None, None) => {}
            (Some(_), None) => failures.push(format!(
                "{name}: {} expected, none computed",
                at("grad_params")
            )),
            (None, Some(_)) => failures.push(format!(
                "{name}: {} computed, none expected",
                at("grad_params")
            )),
        }
    }

    match (expected.loss, trace.loss.as_ref().map(|l| l.value)) {
        (Some(e), Some(a)) => {
            let error = (a - e).abs();
            *worst = worst.max(error);
            if error.is_nan() || error > ATOL + RTOL * e.abs() {
                failures.push(format!("{name}: loss: expected {e}, computed {a}"));
            }
        }
        (None, None) => {}
        (e, a) => failures.push(format!("{name}: loss: expected {e:?}, computed {a:?}")),
    }

    // The trace and the plain backward pass are the same computation and must agree exactly.
    let (_, plain) = network
        .gradients(&case.input, &objective)
        .expect("the trace ran");
    if plain != gradients {
        failures.push(format!(
            "{name}: the trace's gradients differ from Network::gradients"
        ));
    }
    failures
}

#[test]
fn golden_cases_match() {
    let dir = cases_dir();
    let files = case_files(&dir);
    assert!(
        !files.is_empty(),
        "no *.json case in {}; set CNN_CASES to a folder of golden cases",
        dir.display()
    );
    let mut worst = 0.0_f64;
    let mut failures = Vec::new();
    for path in &files {
        failures.extend(check_case(path, &mut worst));
    }
    eprintln!(
        "{} golden cases from {}; largest absolute difference {worst:e}",
        files.len(),
        dir.display()
    );
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures
            .iter()
            .take(40)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn copied_cases_equal_shared_cases() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let shared = manifest.join("../../shared/cases");
    let copy = manifest.join("tests/cases");
    if !shared.is_dir() {
        eprintln!("{} is absent, so only the copy is used", shared.display());
        return;
    }
    let names = |dir: &Path| -> Vec<String> {
        case_files(dir)
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect()
    };
    assert_eq!(
        names(&shared),
        names(&copy),
        "core/tests/cases lists other files than the shared cases"
    );
    for name in names(&shared) {
        let a = fs::read(shared.join(&name)).unwrap();
        let b = fs::read(copy.join(&name)).unwrap();
        assert!(
            a == b,
            "core/tests/cases/{name} differs from the shared case; copy it again"
        );
    }
}
