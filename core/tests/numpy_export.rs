//! Runs the NumPy scripts of `cnn_core::export::numpy_script` with `python3` and checks that
//! they pass on the golden cases and on random networks, and fail on a wrong expected value.
//!
//! Each golden case is run twice: with the expected values that the core's own trace
//! gives, and with the case file's `expected`, which an independent float64 oracle
//! computed. So the NumPy implementation is checked against both.
//!
//! The tests need `python3` with NumPy, which `bash scripts/setup.sh` installs. Without it
//! they fail with a message naming the setup command. The scripts are kept in
//! `target/tmp/numpy_export/` for inspection.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use cnn_core::conv::ConvSpec;
use cnn_core::dense::DenseSpec;
use cnn_core::export::numpy_script;
use cnn_core::init::SplitMix64;
use cnn_core::pool::PoolSpec;
use cnn_core::{
    Activation, Case, LayerSpec, Loss, Network, NetworkSpec, Objective, PoolKind, Tensor, Trace,
};

/// Maximum length of a line, and of a comment line, in a generated script (PEP 8).
const MAX_LINE: usize = 79;
const MAX_COMMENT_LINE: usize = 72;

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases")
}

fn golden_cases() -> Vec<Case> {
    let mut files: Vec<PathBuf> = fs::read_dir(cases_dir())
        .expect("core/tests/cases is readable")
        .map(|entry| entry.expect("readable folder entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "no *.json case in {}",
        cases_dir().display()
    );
    files
        .iter()
        .map(|path| {
            let text = fs::read_to_string(path).expect("readable case file");
            serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{} is not a valid case: {e}", path.display()))
        })
        .collect()
}

/// Returns the path of the Python interpreter that `python3` starts, after checking that it
/// imports NumPy, or panics with the setup command. Running that path directly skips the
/// start-up of wrappers such as pyenv's `python3` shim, which added about 0.1 s to each
/// run of a script that takes about 0.17 s (measured with pyenv's Python 3.11.7 on a
/// 2-core machine).
fn python() -> &'static Path {
    static INTERPRETER: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let found = INTERPRETER.get_or_init(|| {
        let output = Command::new("python3")
            .args(["-c", "import sys, numpy; print(sys.executable)"])
            .output()
            .map_err(|e| format!("python3 could not be started: {e}"))?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let last_line = stderr.trim().lines().last().unwrap_or("no error message");
            return Err(format!("python3 -c \"import numpy\" failed ({last_line})"));
        }
        let path = String::from_utf8_lossy(&output.stdout).trim().to_string();
        Ok(if path.is_empty() {
            PathBuf::from("python3")
        } else {
            PathBuf::from(path)
        })
    });
    match found {
        Ok(path) => path,
        Err(message) => {
            panic!("{message}. These tests need python3 with NumPy: run `bash scripts/setup.sh`.")
        }
    }
}

/// Creates an empty folder for one test's scripts under Cargo's temporary folder for tests.
fn script_dir(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("numpy_export")
        .join(test);
    if dir.exists() {
        fs::remove_dir_all(&dir).expect("old script folder can be removed");
    }
    fs::create_dir_all(&dir).expect("script folder can be created");
    dir
}

/// Writes `case`'s script as `dir/file_stem.py`, runs it with python3 and returns its
/// output and path.
fn run_script(dir: &Path, file_stem: &str, case: &Case) -> (Output, PathBuf) {
    let script = numpy_script(case);
    for (number, line) in script.lines().enumerate() {
        let limit = if line.trim_start().starts_with('#') {
            MAX_COMMENT_LINE
        } else {
            MAX_LINE
        };
        assert!(
            line.chars().count() <= limit,
            "{file_stem}: line {} is longer than {limit} characters: {line}",
            number + 1,
        );
    }
    let path = dir.join(format!("{file_stem}.py"));
    fs::write(&path, script).expect("script can be written");
    // With -W error a NumPy warning, such as an overflow or a 0 / 0, fails the script.
    let output = Command::new(python())
        .args(["-W", "error"])
        .arg(&path)
        .output()
        .expect("python3 starts");
    (output, path)
}

/// Runs `case`'s script and returns a failure description unless it exits with status 0
/// and ends with the summary line.
fn check_passes(dir: &Path, file_stem: &str, case: &Case) -> Option<String> {
    let (output, path) = run_script(dir, file_stem, case);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let summary_printed = stdout
        .lines()
        .last()
        .is_some_and(|line| line.starts_with("all ") && line.ends_with(" checks passed"));
    if output.status.success() && summary_printed {
        return None;
    }
    Some(format!(
        "{} exited with {}\n--- stdout ---\n{stdout}--- stderr ---\n{}",
        path.display(),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    ))
}

/// Runs every case's script, in order, and fails with the output of each failing one.
fn assert_all_pass(test: &str, cases: &[(String, Case)]) {
    python();
    let dir = script_dir(test);
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|(stem, case)| check_passes(&dir, stem, case))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} scripts failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// Builds the case that `Case::from_trace` writes for `case`'s network, input and objective.
fn case_from_core_trace(case: &Case) -> Case {
    let network = case
        .build()
        .unwrap_or_else(|e| panic!("{}: {e}", case.name));
    let objective = case
        .objective()
        .unwrap_or_else(|e| panic!("{}: {e}", case.name));
    let trace = Trace::record(&network, &case.input, &objective)
        .unwrap_or_else(|e| panic!("{}: {e}", case.name));
    Case::from_trace(&case.name, &case.about, &network, &trace, &objective)
}

#[test]
fn golden_cases_match_core_trace() {
    let cases: Vec<(String, Case)> = golden_cases()
        .iter()
        .map(|case| (case.name.clone(), case_from_core_trace(case)))
        .collect();
    assert_all_pass("golden_core_trace", &cases);
}

#[test]
fn golden_cases_match_own_expected() {
    let cases: Vec<(String, Case)> = golden_cases()
        .into_iter()
        .map(|case| {
            assert!(
                case.expected.is_some(),
                "{} has no expected values",
                case.name
            );
            (case.name.clone(), case)
        })
        .collect();
    assert_all_pass("golden_own_expected", &cases);
}

// ---------------------------------------------------------------------------------------
// Random networks
// ---------------------------------------------------------------------------------------

fn conv(
    kernels: usize,
    size: [usize; 2],
    stride: usize,
    padding: [usize; 2],
    dilation: usize,
) -> LayerSpec {
    LayerSpec::Conv(ConvSpec {
        kernels,
        size,
        stride: [stride, stride],
        padding,
        dilation: [dilation, dilation],
    })
}

fn pool(kind: PoolKind, size: usize, stride: usize) -> LayerSpec {
    LayerSpec::Pool(PoolSpec {
        kind,
        size: [size, size],
        stride: [stride, stride],
    })
}

fn act(function: Activation) -> LayerSpec {
    LayerSpec::Activation(function)
}

fn dense(outputs: usize) -> LayerSpec {
    LayerSpec::Dense(DenseSpec { outputs })
}

/// How a random case's backward pass starts.
#[derive(Clone, Copy)]
enum ObjectiveKind {
    Upstream,
    Mse,
    SoftmaxCrossEntropy,
}

/// Lists the random networks: stride 2, padding, dilation, overlapping pools of all three kinds,
/// two conv stages, and dense layers with either loss.
fn random_specs() -> Vec<(&'static str, NetworkSpec, ObjectiveKind)> {
    use Activation::{Identity, Relu, Sigmoid, Tanh};
    use PoolKind::{Max, Mean, L2};
    vec![
        (
            "stride2-max-overlap-softmax",
            NetworkSpec {
                input: [2, 11, 10],
                layers: vec![
                    conv(3, [3, 3], 2, [1, 1], 1),
                    act(Relu),
                    pool(Max, 3, 1),
                    dense(4),
                ],
            },
            ObjectiveKind::SoftmaxCrossEntropy,
        ),
        (
            "two-stages-l2-mean-softmax",
            NetworkSpec {
                input: [1, 13, 12],
                layers: vec![
                    conv(2, [3, 2], 1, [2, 1], 2),
                    act(Tanh),
                    pool(L2, 3, 2),
                    conv(3, [2, 2], 2, [1, 1], 1),
                    act(Sigmoid),
                    pool(Mean, 2, 1),
                    dense(3),
                ],
            },
            ObjectiveKind::SoftmaxCrossEntropy,
        ),
        (
            "two-stages-mean-max-mse",
            NetworkSpec {
                input: [3, 12, 12],
                layers: vec![
                    conv(2, [3, 3], 1, [1, 1], 1),
                    act(Relu),
                    pool(Mean, 3, 2),
                    conv(2, [2, 2], 1, [0, 0], 2),
                    act(Tanh),
                    pool(Max, 2, 1),
                    dense(5),
                    act(Identity),
                    dense(2),
                ],
            },
            ObjectiveKind::Mse,
        ),
        (
            "dilated-stride2-l2-upstream",
            NetworkSpec {
                input: [2, 14, 13],
                layers: vec![
                    conv(2, [3, 3], 2, [2, 2], 2),
                    act(Sigmoid),
                    pool(L2, 2, 1),
                    conv(2, [2, 3], 1, [1, 0], 1),
                ],
            },
            ObjectiveKind::Upstream,
        ),
        (
            "relu-max-l2-dense-mse",
            NetworkSpec {
                input: [1, 10, 10],
                layers: vec![
                    conv(4, [2, 2], 1, [0, 0], 1),
                    act(Relu),
                    pool(Max, 2, 1),
                    pool(L2, 3, 2),
                    dense(3),
                    act(Tanh),
                ],
            },
            ObjectiveKind::Mse,
        ),
    ]
}

/// Draws values uniform in `[-1, 1)` in the given shape.
fn random_tensor(rng: &mut SplitMix64, shape: &[usize]) -> Tensor {
    let len = shape.iter().product();
    let values = (0..len).map(|_| rng.uniform(-1.0, 1.0)).collect();
    Tensor::from_vec(shape, values).expect("sized from shape")
}

/// Builds a case for `spec` with seeded weights, random biases, input and objective, and the
/// expected values of the core's trace.
fn random_case(name: &str, spec: NetworkSpec, kind: ObjectiveKind, seed: u64) -> Case {
    let mut rng = SplitMix64::new(seed);
    let seeded = Network::seeded(spec.clone(), seed).expect("valid random spec");
    let params = seeded
        .params()
        .iter()
        .map(|entry| {
            entry.clone().map(|mut p| {
                p.bias = random_tensor(&mut rng, p.bias.shape());
                p
            })
        })
        .collect();
    let network = Network::new(spec.clone(), params).expect("seeded shapes are valid");
    let x = random_tensor(&mut rng, &spec.input);
    let output_shape = network.plan().output_shape().to_vec();
    let objective = match kind {
        ObjectiveKind::Upstream => Objective::Upstream(random_tensor(&mut rng, &output_shape)),
        ObjectiveKind::Mse => Objective::Loss(Loss::Mse {
            target: random_tensor(&mut rng, &output_shape),
        }),
        ObjectiveKind::SoftmaxCrossEntropy => Objective::Loss(Loss::SoftmaxCrossEntropy {
            label: rng.below(output_shape.iter().product()),
        }),
    };
    let trace = Trace::record(&network, &x, &objective).expect("random case runs");
    Case::from_trace(
        name,
        "A random network of the export test.",
        &network,
        &trace,
        &objective,
    )
}

#[test]
fn random_networks_match_core_trace() {
    let cases: Vec<(String, Case)> = random_specs()
        .into_iter()
        .zip(1u64..)
        .map(|((name, spec, kind), seed)| {
            (
                name.to_string(),
                random_case(name, spec, kind, 0x5EED_0000 + seed),
            )
        })
        .collect();
    assert_all_pass("random", &cases);
}

// ---------------------------------------------------------------------------------------
// Detection of wrong values and invalid cases
// ---------------------------------------------------------------------------------------

/// Which expected value a mismatch test changes.
enum Tampered {
    Output(usize),
    GradInput(usize),
    Weights(usize),
    Loss,
}

/// Adds 1e-6 to the first value of the chosen expected tensor (or to the loss).
fn tamper(case: &mut Case, changed: &Tampered) {
    let expected = case
        .expected
        .as_mut()
        .expect("the case has expected values");
    let value = match changed {
        Tampered::Output(i) => &mut expected.outputs[*i].data_mut()[0],
        Tampered::GradInput(i) => &mut expected.grad_inputs[*i].data_mut()[0],
        Tampered::Weights(i) => {
            let grads = expected.grad_params[*i]
                .as_mut()
                .expect("layer has parameters");
            &mut grads.weights.data_mut()[0]
        }
        Tampered::Loss => expected.loss.as_mut().expect("the case has a loss"),
    };
    *value += 1e-6;
}

#[test]
fn wrong_expected_value_fails_script() {
    python();
    let dir = script_dir("wrong_value");
    let original = golden_cases()
        .into_iter()
        .find(|case| case.name == "conv-maxpool-dense-softmax")
        .expect("the golden case conv-maxpool-dense-softmax exists");
    let layers: Vec<&str> = original
        .network
        .layers
        .iter()
        .map(LayerSpec::kind)
        .collect();
    assert_eq!(
        layers,
        ["conv", "activation", "pool", "dense"],
        "layer list of the chosen case"
    );
    let tampered = [
        (Tampered::Output(2), "layer 2 (pool) output a3"),
        (Tampered::GradInput(0), "layer 0 (conv) input gradient d0"),
        (Tampered::Weights(3), "layer 3 (dense) weight gradient dW3"),
        (Tampered::Loss, "objective loss"),
    ];
    for (number, (changed, what)) in tampered.iter().enumerate() {
        let mut case = original.clone();
        tamper(&mut case, changed);
        let (output, path) = run_script(&dir, &format!("tampered-{number}"), &case);
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        let context = format!(
            "{} ({what})\n--- stdout ---\n{stdout}--- stderr ---\n{stderr}",
            path.display()
        );
        assert_eq!(output.status.code(), Some(1), "{context}");
        assert!(
            stderr.contains(what),
            "stderr does not name the tensor: {context}"
        );
        assert!(
            stderr.contains("1 of "),
            "stderr has no failure count: {context}"
        );
        assert!(
            stdout.contains("MISMATCH"),
            "stdout has no mismatch line: {context}"
        );
    }
}

#[test]
fn invalid_case_script_exits_with_message() {
    python();
    let dir = script_dir("invalid_case");
    let original = golden_cases()
        .into_iter()
        .find(|case| case.name == "conv-maxpool-dense-softmax")
        .expect("the golden case conv-maxpool-dense-softmax exists");

    let mut no_weights = original.clone();
    no_weights.params[0] = None;
    let mut two_objectives = original.clone();
    two_objectives.upstream = Some(Tensor::zeros(&[3]));
    let mut no_objective = original;
    no_objective.loss = None;

    let invalid = [
        (
            no_weights,
            "invalid case: layer 0 (conv) has no weights and bias",
        ),
        (
            two_objectives,
            "invalid case: give an upstream gradient or a loss, not both",
        ),
        (
            no_objective,
            "invalid case: give an upstream gradient or a loss",
        ),
    ];
    for (number, (case, message)) in invalid.iter().enumerate() {
        let (output, path) = run_script(&dir, &format!("invalid-{number}"), case);
        let stderr = String::from_utf8_lossy(&output.stderr);
        let context = format!("{}\n--- stderr ---\n{stderr}", path.display());
        assert_eq!(output.status.code(), Some(1), "{context}");
        assert!(
            stderr.trim_end().ends_with(message),
            "expected {message:?} at the end of stderr: {context}"
        );
    }
}
