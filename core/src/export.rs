//! Export of a [`Case`] as a standalone Python 3 script that recomputes the case with NumPy
//! and compares every value with the case's `expected` values.
//!
//! The script contains a textbook NumPy implementation of every layer's forward and
//! backward pass, the case's input, parameters and objective as float64 literals, and the
//! expected values. It prints one line per layer (and one for the loss), then "all N checks
//! passed", or exits with status 1 after printing each mismatch to stderr. Learners run it with `python3 FILE`.
//!
//! Names in the script: `a0` is the input, `a{i + 1}` the output of layer `i`,
//! `d{i} = dL/da{i}`, and `W{i}`, `b{i}`, `dW{i}`, `db{i}` the parameters of layer `i` and
//! their gradients. The expected values are `expected_a{i + 1}`, `expected_d{i}`,
//! `expected_dW{i}`, `expected_db{i}` and `expected_loss`.
//!
//! ```
//! use cnn_core::{export, Case, Loss, Network, NetworkSpec, Objective, Tensor, Trace};
//!
//! let spec: NetworkSpec = serde_json::from_str(r#"{"input": [1, 4, 4], "layers": [
//!     {"conv": {"kernels": 2, "size": [3, 3]}}, {"dense": {"outputs": 2}}]}"#).unwrap();
//! let network = Network::seeded(spec, 7).unwrap();
//! let x = Tensor::from_fn3([1, 4, 4], |_, h, w| (h * 4 + w) as f64 / 16.0);
//! let objective = Objective::Loss(Loss::SoftmaxCrossEntropy { label: 0 });
//! let trace = Trace::record(&network, &x, &objective).unwrap();
//! let case = Case::from_trace("tiny", "a conv and a dense layer", &network, &trace, &objective);
//! let script = export::numpy_script(&case);
//! assert!(script.starts_with("#!/usr/bin/env python3\n"));
//! assert!(script.contains("a0, W0, b0, stride=(1, 1), padding=(0, 0), dilation=(1, 1)"));
//! assert!(script.contains("d1, dW1, db1 = dense_backward(a1, W1, d2)"));
//! assert!(script.contains("loss, d2 = softmax_cross_entropy(a2, label)"));
//! ```

use crate::conv::ConvSpec;
use crate::pool::PoolSpec;
use crate::{Case, LayerParams, LayerSpec, Loss, Tensor};

/// Maximum line length of the script, as PEP 8 recommends. A word of the case's `about`
/// text longer than this is kept whole and makes its line longer.
const MAX_LINE: usize = 79;

/// Maximum line length of the docstring, as PEP 8 recommends for docstrings and comments.
const MAX_TEXT: usize = 72;

/// Writes the NumPy script for `case`.
///
/// The case should pass [`Case::build`] and [`Case::objective`]. For a conv or dense layer
/// without parameters, or for a case with both or neither of `upstream` and `loss`, the
/// script exits with status 1 and a message naming the problem when it reaches that layer
/// or the objective. The script compares every value that `case.expected` contains for a
/// layer the network has, and only reports that nothing was compared when `expected` is
/// missing.
pub fn numpy_script(case: &Case) -> String {
    let mut script = header(case);
    for section in [
        IMPORTS,
        CONV_FUNCTIONS,
        POOL_FUNCTIONS,
        ACTIVATION_FUNCTIONS,
        DENSE_FUNCTIONS,
        OBJECTIVE_FUNCTIONS,
        CHECK_FUNCTIONS,
    ] {
        script.push_str(section);
    }
    script.push_str(&case_arrays(case));
    script.push_str(&expected_arrays(case));
    script.push_str(&main_function(case));
    script.push_str(MAIN_GUARD);
    script
}

// ---------------------------------------------------------------------------------------
// The Python template
// ---------------------------------------------------------------------------------------

/// The part of the module docstring after the case's name and description.
const HEADER_BODY: &str = r#"
The CNN Backprop Explorer wrote this script. It rebuilds the case's
network from the plain NumPy functions below, runs the forward pass, the
objective and the backward pass, and compares every layer output, input
gradient, weight gradient and bias gradient, and the loss, with the
values the explorer computed, by np.testing.assert_allclose with
rtol=1e-9 and atol=1e-12. It prints one line per layer, and one for the
loss when the case has one, then "all N checks passed". On a mismatch it
prints the mismatch to stderr and exits with status 1.

Run it with Python 3 and NumPy:

    python3 this_file.py

To check your own code, call your functions in place of the ones below,
or compare your arrays with the expected_* arrays.

Names: a0 is the input x and a{i + 1} the output of layer i. d{i} is
dL/da{i}. W{i} and b{i} are the weights and bias of layer i, and dW{i}
and db{i} their gradients.

Conventions (the explorer's):

- Arrays are float64. Maps are [C, H, W], conv weights [K, C, FH, FW],
  dense weights [outputs, inputs], biases [K] or [outputs].
- Convolution is cross-correlation, so the kernel is not flipped:
  y[k, i, j] = b[k] + sum over c, u, v of
  w[k, c, u, v] * xp[c, i*SH + u*DH, j*SW + v*DW],
  where xp is x with PH zero rows above and below and PW zero columns
  left and right. The output size per axis is
  floor((H + 2P - D*(F - 1) - 1) / S) + 1.
- Pooling has no padding and uses floor mode. The output size per axis
  is floor((H - P) / S) + 1, windows that do not fit are dropped, and
  cells that only they would cover get gradient 0. A cell inside several
  overlapping windows gets the sum of their gradients.
- Max pooling sends a window's whole gradient to its first maximum in
  row-major window order, so on a tie the earliest cell wins.
- L2 pooling is y = sqrt(sum of x^2) and passes delta * x / y to each
  cell. An all-zero window has y = 0 and passes gradient 0.
- relu(z) = max(z, 0) with relu'(0) = 0.
- Dense flattens its input in C, H, W row-major order: y = W x + b.
- mse is L = 1/2 * sum((y - t)^2), so dL/dy = y - t.
- Softmax cross-entropy is L = -log softmax(y)[label] over y flattened,
  so dL/dy = softmax(y) - onehot(label).
- With an upstream gradient g in place of a loss, L = sum(g * y), so
  dL/dy = g.
"""
"#;

const IMPORTS: &str = r#"
import sys

import numpy as np

RTOL = 1e-9
ATOL = 1e-12
"#;

const CONV_FUNCTIONS: &str = r#"

# Convolution: the forward pass and the textbook backward pass.


def pad(x, padding):
    """Return x [C, H, W] with padding = (PH, PW) zeros on each side."""
    ph, pw = padding
    return np.pad(x, ((0, 0), (ph, ph), (pw, pw)))


def conv_forward(x, w, b, stride, padding, dilation):
    """Cross-correlate x [C, H, W] with the kernels w [K, C, FH, FW], add b."""
    kernels, _, fh, fw = w.shape
    sh, sw = stride
    dil_h, dil_w = dilation
    xp = pad(x, padding)
    extent_h, extent_w = (fh - 1) * dil_h + 1, (fw - 1) * dil_w + 1
    h_out = (xp.shape[1] - extent_h) // sh + 1
    w_out = (xp.shape[2] - extent_w) // sw + 1
    y = np.zeros((kernels, h_out, w_out))
    for i in range(h_out):
        for j in range(w_out):
            # The taps of output (i, j), dil_h rows and dil_w columns
            # apart.
            top, left = i * sh, j * sw
            bottom, right = top + extent_h, left + extent_w
            window = xp[:, top:bottom:dil_h, left:right:dil_w]
            y[:, i, j] = b + np.tensordot(w, window, axes=3)
    return y


def conv_backward(x, w, dy, stride, padding, dilation):
    """Return dL/dx, dL/dw and dL/db of a conv layer, given dy = dL/dy."""
    kernels, chans, fh, fw = w.shape
    sh, sw = stride
    ph, pw = padding
    dil_h, dil_w = dilation
    xp = pad(x, padding)
    _, h_out, w_out = dy.shape
    extent_h, extent_w = (fh - 1) * dil_h + 1, (fw - 1) * dil_w + 1

    # dL/dw is the valid correlation of the padded input with dy. For
    # each kernel tap (u, v) it reads the input cells that the tap read,
    # one stride apart.
    dw = np.zeros_like(w)
    for u in range(fh):
        for v in range(fw):
            top, left = u * dil_h, v * dil_w
            bottom = top + (h_out - 1) * sh + 1
            right = left + (w_out - 1) * sw + 1
            read = xp[:, top:bottom:sh, left:right:sw]
            dw[:, :, u, v] = np.tensordot(dy, read, axes=([1, 2], [1, 2]))

    # dL/db: bias k is added to every output of kernel k.
    db = dy.sum(axis=(1, 2))

    # dL/dx: insert stride - 1 zeros between the entries of dy, pad the
    # result by the dilated kernel extent - 1, and take the full
    # correlation with the kernels turned by 180 degrees, summed over
    # the kernels.
    dilated_h, dilated_w = (h_out - 1) * sh + 1, (w_out - 1) * sw + 1
    dy_dilated = np.zeros((kernels, dilated_h, dilated_w))
    dy_dilated[:, ::sh, ::sw] = dy
    margin_h, margin_w = extent_h - 1, extent_w - 1
    dy_full = np.pad(
        dy_dilated, ((0, 0), (margin_h, margin_h), (margin_w, margin_w))
    )
    w_rotated = w[:, :, ::-1, ::-1]
    rows = dy_full.shape[1] - margin_h
    cols = dy_full.shape[2] - margin_w
    dxp_reached = np.zeros((chans, rows, cols))
    for u in range(fh):
        for v in range(fw):
            top, left = u * dil_h, v * dil_w
            window = dy_full[:, top:top + rows, left:left + cols]
            dxp_reached += np.tensordot(
                w_rotated[:, :, u, v], window, axes=([0], [0])
            )

    # Rows and columns of the padded input that no window reaches,
    # because the output size is rounded down, get 0. Cropping the
    # padding off dL/dxp gives dL/dx.
    dxp = np.zeros_like(xp)
    dxp[:, :rows, :cols] = dxp_reached
    dx = dxp[:, ph:ph + x.shape[1], pw:pw + x.shape[2]]
    return dx, dw, db
"#;

const POOL_FUNCTIONS: &str = r#"

# Pooling: mean, max and L2 over windows, no padding, floor mode.


def pool_window(i, j, size, stride):
    """Return the row and column slices of pooling window (i, j)."""
    top, left = i * stride[0], j * stride[1]
    return slice(top, top + size[0]), slice(left, left + size[1])


def pool_output_size(x, size, stride):
    """Return (H_out, W_out): the windows that fit, rounded down."""
    _, h, w = x.shape
    return (h - size[0]) // stride[0] + 1, (w - size[1]) // stride[1] + 1


def pool_forward(x, kind, size, stride):
    """Pool each channel of x [C, H, W] over windows of size (PH, PW)."""
    chans = x.shape[0]
    h_out, w_out = pool_output_size(x, size, stride)
    y = np.zeros((chans, h_out, w_out))
    for i in range(h_out):
        for j in range(w_out):
            rows, cols = pool_window(i, j, size, stride)
            window = x[:, rows, cols].reshape(chans, -1)
            if kind == "mean":
                y[:, i, j] = window.sum(axis=1) / window.shape[1]
            elif kind == "max":
                y[:, i, j] = window.max(axis=1)
            elif kind == "l2":
                y[:, i, j] = np.sqrt(np.sum(window * window, axis=1))
            else:
                raise ValueError(f"unknown pooling kind {kind!r}")
    return y


def pool_window_gradient(window, delta, kind):
    """Return the share of delta that each cell of one window receives."""
    if kind == "mean":
        return np.full(window.shape, delta / window.size)
    if kind == "max":
        # np.argmax returns the first maximum in row-major order, so on
        # a tie the earliest cell receives the whole delta.
        share = np.zeros(window.shape)
        share.flat[np.argmax(window)] = delta
        return share
    if kind == "l2":
        norm = np.sqrt(np.sum(window * window))
        if norm == 0:
            # An all-zero window passes gradient 0 instead of 0 / 0.
            return np.zeros(window.shape)
        return delta * (window / norm)
    raise ValueError(f"unknown pooling kind {kind!r}")


def pool_backward(x, dy, kind, size, stride):
    """Return dL/dx of a pooling layer, adding up overlapping windows."""
    chans, h_out, w_out = dy.shape
    dx = np.zeros_like(x)
    for i in range(h_out):
        for j in range(w_out):
            rows, cols = pool_window(i, j, size, stride)
            for c in range(chans):
                delta = dy[c, i, j]
                share = pool_window_gradient(x[c, rows, cols], delta, kind)
                dx[c, rows, cols] += share
    return dx
"#;

const ACTIVATION_FUNCTIONS: &str = r#"

# Activations: f and its derivative f', element by element.


def sigmoid(z):
    """Return 1 / (1 + e^-z), computed so that no exponential overflows."""
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


def activation_forward(z, name):
    """Return f(z) for the activation function called name."""
    if name == "identity":
        return z.copy()
    if name == "relu":
        return np.maximum(z, 0.0)
    if name == "sigmoid":
        return sigmoid(z)
    if name == "tanh":
        return np.tanh(z)
    raise ValueError(f"unknown activation {name!r}")


def activation_derivative(z, name):
    """Return f'(z) for the activation function called name."""
    if name == "identity":
        return np.ones_like(z)
    if name == "relu":
        # relu'(0) = 0: only strictly positive inputs pass gradient.
        return (z > 0).astype(np.float64)
    if name == "sigmoid":
        s = sigmoid(z)
        return s * (1 - s)
    if name == "tanh":
        t = np.tanh(z)
        return 1 - t * t
    raise ValueError(f"unknown activation {name!r}")
"#;

const DENSE_FUNCTIONS: &str = r#"

# Dense: y = W x + b on x flattened in C, H, W row-major order.


def dense_forward(x, w, b):
    """Return W x + b for x flattened in row-major order."""
    return w @ x.reshape(-1) + b


def dense_backward(x, w, dy):
    """Return dL/dx in the shape of x, dL/dW and dL/db of a dense layer."""
    dw = np.outer(dy, x.reshape(-1))
    db = dy.copy()
    dx = (w.T @ dy).reshape(x.shape)
    return dx, dw, db
"#;

const OBJECTIVE_FUNCTIONS: &str = r#"

# Objectives: each returns the loss L and dL/dy for the final output y.


def mse(y, target):
    """Return L = 1/2 * sum((y - target)^2) and dL/dy = y - target."""
    diff = y - target.reshape(y.shape)
    return 0.5 * np.sum(diff * diff), diff


def softmax_cross_entropy(y, label):
    """Return L = -log softmax(y)[label] and dL/dy = softmax(y) - onehot."""
    logits = y.reshape(-1)
    # Subtracting the maximum keeps every exponential at most 1.
    shifted = logits - logits.max()
    exps = np.exp(shifted)
    loss = np.log(exps.sum()) - shifted[label]
    grad = exps / exps.sum()
    grad[label] -= 1
    return loss, grad.reshape(y.shape)


def upstream_objective(y, upstream):
    """Return L = sum(upstream * y) and its gradient dL/dy = upstream."""
    return np.sum(upstream * y), upstream.copy()
"#;

const CHECK_FUNCTIONS: &str = r#"

# Checks against the values the explorer computed.


def check(actual, expected, description):
    """Compare one array with the expected one, printing a mismatch."""
    try:
        np.testing.assert_allclose(
            actual, expected, rtol=RTOL, atol=ATOL, err_msg=description
        )
    except AssertionError as error:
        print(error, file=sys.stderr)
        return False
    return True


def compare_all(checks):
    """Run every (layer, tensor, actual, expected) check, print a summary."""
    if not checks:
        print("the case has no expected values, so nothing was compared")
        return
    results = {}
    for layer, tensor, actual, expected in checks:
        passed = check(actual, expected, f"{layer} {tensor}")
        results.setdefault(layer, []).append((tensor, passed))
    failures = 0
    for layer, outcomes in results.items():
        failed = [tensor for tensor, passed in outcomes if not passed]
        failures += len(failed)
        if failed:
            print(f"{layer}: MISMATCH in {', '.join(failed)}")
        else:
            print(f"{layer}: {', '.join(t for t, _ in outcomes)} match")
    if failures:
        sys.exit(f"{failures} of {len(checks)} checks failed")
    print(f"all {len(checks)} checks passed")
"#;

const MAIN_GUARD: &str = r#"

if __name__ == "__main__":
    main()
"#;

// ---------------------------------------------------------------------------------------
// The case-specific parts
// ---------------------------------------------------------------------------------------

/// Writes the shebang line and the module docstring with the case's name and description.
fn header(case: &Case) -> String {
    let mut text = String::from("#!/usr/bin/env python3\n");
    text.push_str("\"\"\"Recompute one CNN forward and backward pass in NumPy and check it.\n\n");
    let about = if case.about.trim().is_empty() {
        format!("Case: {}.", case.name)
    } else {
        format!("Case: {}. {}", case.name, case.about)
    };
    for line in wrap_words(&escape_docstring(&about), MAX_TEXT) {
        text.push_str(&line);
        text.push('\n');
    }
    text.push_str(HEADER_BODY);
    text
}

/// Writes the case's input, parameters and objective as module-level arrays.
fn case_arrays(case: &Case) -> String {
    let mut text = String::from(
        "\n\n# The case: the input, each layer's weights and bias, and the objective.\n",
    );
    text.push_str(&array_statement("x", &case.input));
    for (index, params) in case.params.iter().enumerate() {
        let has_params = case
            .network
            .layers
            .get(index)
            .is_some_and(|l| l.has_params());
        if let (true, Some(p)) = (has_params, params) {
            text.push('\n');
            text.push_str(&array_statement(&format!("W{index}"), &p.weights));
            text.push_str(&array_statement(&format!("b{index}"), &p.bias));
        }
    }
    text.push('\n');
    match (&case.upstream, &case.loss) {
        (Some(upstream), None) => text.push_str(&array_statement("upstream", upstream)),
        (None, Some(Loss::Mse { target })) => text.push_str(&array_statement("target", target)),
        (None, Some(Loss::SoftmaxCrossEntropy { label })) => {
            text.push_str(&format!("label = {label}\n"))
        }
        _ => text.push_str("# The case gives no valid objective: see main().\n"),
    }
    text
}

/// Writes the values of `case.expected` as module-level arrays, one group per layer.
fn expected_arrays(case: &Case) -> String {
    let Some(expected) = &case.expected else {
        return String::new();
    };
    let mut text = String::from("\n\n# The values the explorer computed.\n");
    let mut first_group = true;
    for index in 0..case.network.layers.len() {
        let mut group = String::new();
        if let Some(output) = expected.outputs.get(index) {
            group.push_str(&array_statement(
                &format!("expected_a{}", index + 1),
                output,
            ));
        }
        if let Some(grad_input) = expected.grad_inputs.get(index) {
            group.push_str(&array_statement(&format!("expected_d{index}"), grad_input));
        }
        if let Some(grads) = expected_params(case, index) {
            group.push_str(&array_statement(
                &format!("expected_dW{index}"),
                &grads.weights,
            ));
            group.push_str(&array_statement(
                &format!("expected_db{index}"),
                &grads.bias,
            ));
        }
        if !group.is_empty() {
            if !first_group {
                text.push('\n');
            }
            first_group = false;
            text.push_str(&group);
        }
    }
    if let Some(loss) = expected.loss {
        text.push_str(&format!("\nexpected_loss = {}\n", python_float(loss)));
    }
    text
}

/// Returns the expected parameter gradients of layer `index`, or `None` when the layer has
/// no parameters or `expected` has none for it.
fn expected_params(case: &Case, index: usize) -> Option<&LayerParams> {
    let layer = case.network.layers.get(index)?;
    let expected = case.expected.as_ref()?;
    if !layer.has_params() {
        return None;
    }
    expected.grad_params.get(index)?.as_ref()
}

/// Writes the `main` function: forward pass, objective, backward pass and the list of
/// checks.
fn main_function(case: &Case) -> String {
    let layers = &case.network.layers;
    let mut text = String::from(concat!(
        "\n\ndef main():\n",
        "    \"\"\"Run the forward pass, objective and backward pass, then check.\"\"\"\n",
        "    # Forward pass: a0 is the input, a{i + 1} the output of layer i.\n",
        "    a0 = x\n",
    ));
    for (index, layer) in layers.iter().enumerate() {
        text.push_str(&forward_statement(case, index, layer));
    }
    let last = layers.len();
    text.push_str(&format!(
        "\n    # Objective: the loss L and d{last} = dL/da{last}.\n"
    ));
    text.push_str(&objective_statement(case));
    text.push_str("\n    # Backward pass, from the last layer to the first.\n");
    for (index, layer) in layers.iter().enumerate().rev() {
        text.push_str(&backward_statement(index, layer));
    }
    text.push_str("\n    checks = [\n");
    text.push_str(&check_entries(case));
    text.push_str("    ]\n    compare_all(checks)\n");
    text
}

/// Writes the forward statement of layer `index`, `a{index + 1} = ...`, or a statement
/// that exits when the layer's parameters are missing.
fn forward_statement(case: &Case, index: usize, layer: &LayerSpec) -> String {
    let (x, y) = (format!("a{index}"), format!("a{}", index + 1));
    let has_params = matches!(case.params.get(index), Some(Some(_)));
    if layer.has_params() && !has_params {
        return exit_statement(&format!(
            "invalid case: {} has no weights and bias",
            layer_label(index, layer)
        ));
    }
    let args = match layer {
        LayerSpec::Conv(spec) => format!("{x}, W{index}, b{index}, {}", conv_keywords(spec)),
        LayerSpec::Activation(f) => format!("{x}, \"{}\"", f.name()),
        LayerSpec::Pool(spec) => format!("{x}, {}", pool_arguments(spec)),
        LayerSpec::Dense(_) => format!("{x}, W{index}, b{index}"),
    };
    let function = match layer {
        LayerSpec::Conv(_) => "conv_forward",
        LayerSpec::Activation(_) => "activation_forward",
        LayerSpec::Pool(_) => "pool_forward",
        LayerSpec::Dense(_) => "dense_forward",
    };
    call_statement(&y, function, &args)
}

/// Writes the statement that evaluates the objective on the final output, or a statement
/// that exits when the case gives both or neither of `upstream` and `loss`.
fn objective_statement(case: &Case) -> String {
    let layers = case.network.layers.len();
    let target = format!("loss, d{layers}");
    let y = format!("a{layers}");
    match (&case.upstream, &case.loss) {
        (Some(_), None) => call_statement(&target, "upstream_objective", &format!("{y}, upstream")),
        (None, Some(Loss::Mse { .. })) => call_statement(&target, "mse", &format!("{y}, target")),
        (None, Some(Loss::SoftmaxCrossEntropy { .. })) => {
            call_statement(&target, "softmax_cross_entropy", &format!("{y}, label"))
        }
        (Some(_), Some(_)) => {
            exit_statement("invalid case: give an upstream gradient or a loss, not both")
        }
        (None, None) => exit_statement("invalid case: give an upstream gradient or a loss"),
    }
}

/// Writes the backward statement of layer `index`, from `d{index + 1}` to `d{index}`.
fn backward_statement(index: usize, layer: &LayerSpec) -> String {
    let (x, dy, dx) = (
        format!("a{index}"),
        format!("d{}", index + 1),
        format!("d{index}"),
    );
    let with_params = format!("{dx}, dW{index}, db{index}");
    match layer {
        LayerSpec::Conv(spec) => call_statement(
            &with_params,
            "conv_backward",
            &format!("{x}, W{index}, {dy}, {}", conv_keywords(spec)),
        ),
        // The chain rule through f: dL/dz = dL/dy * f'(z), element by element.
        LayerSpec::Activation(f) => format!(
            "    {dx} = {dy} * activation_derivative({x}, \"{}\")\n",
            f.name()
        ),
        LayerSpec::Pool(spec) => call_statement(
            &dx,
            "pool_backward",
            &format!("{x}, {dy}, {}", pool_arguments(spec)),
        ),
        LayerSpec::Dense(_) => call_statement(
            &with_params,
            "dense_backward",
            &format!("{x}, W{index}, {dy}"),
        ),
    }
}

/// Writes the entries of the `checks` list in `main`, one line each.
fn check_entries(case: &Case) -> String {
    let Some(expected) = &case.expected else {
        return String::new();
    };
    let mut text = String::new();
    let mut entry = |label: &str, tensor: &str, name: &str| {
        text.push_str(&format!(
            "        (\"{label}\", \"{tensor}\", {name}, expected_{name}),\n"
        ));
    };
    for (index, layer) in case.network.layers.iter().enumerate() {
        let label = layer_label(index, layer);
        if index < expected.outputs.len() {
            let name = format!("a{}", index + 1);
            entry(&label, &format!("output {name}"), &name);
        }
        if index < expected.grad_inputs.len() {
            let name = format!("d{index}");
            entry(&label, &format!("input gradient {name}"), &name);
        }
        if expected_params(case, index).is_some() {
            let (dw, db) = (format!("dW{index}"), format!("db{index}"));
            entry(&label, &format!("weight gradient {dw}"), &dw);
            entry(&label, &format!("bias gradient {db}"), &db);
        }
    }
    if expected.loss.is_some() {
        entry("objective", "loss", "loss");
    }
    text
}

// ---------------------------------------------------------------------------------------
// Formatting helpers
// ---------------------------------------------------------------------------------------

/// Formats the label of a layer, such as "layer 2 (pool)".
fn layer_label(index: usize, layer: &LayerSpec) -> String {
    format!("layer {index} ({})", layer.kind())
}

fn conv_keywords(spec: &ConvSpec) -> String {
    format!(
        "stride={}, padding={}, dilation={}",
        python_pair(spec.stride),
        python_pair(spec.padding),
        python_pair(spec.dilation)
    )
}

fn pool_arguments(spec: &PoolSpec) -> String {
    format!(
        "\"{}\", size={}, stride={}",
        spec.kind.name(),
        python_pair(spec.size),
        python_pair(spec.stride)
    )
}

fn python_pair(pair: [usize; 2]) -> String {
    format!("({}, {})", pair[0], pair[1])
}

/// Formats a Python tuple of sizes: `()`, `(3,)` or `(2, 3)`.
fn python_tuple(shape: &[usize]) -> String {
    match shape {
        [] => "()".to_string(),
        [only] => format!("({only},)"),
        _ => {
            let sizes: Vec<String> = shape.iter().map(usize::to_string).collect();
            format!("({})", sizes.join(", "))
        }
    }
}

/// Formats `    target = function(args)`, with the arguments on a line of their own when the
/// statement would be longer than [`MAX_LINE`].
fn call_statement(target: &str, function: &str, args: &str) -> String {
    let line = format!("    {target} = {function}({args})");
    if line.len() <= MAX_LINE {
        return line + "\n";
    }
    format!("    {target} = {function}(\n        {args}\n    )\n")
}

/// Formats a statement that ends the script with status 1 and `message` on stderr.
fn exit_statement(message: &str) -> String {
    format!(
        "    sys.exit(\"{}\")\n",
        message.replace('\\', "\\\\").replace('"', "\\\"")
    )
}

/// Formats a float64 as a Python literal that reads back to the same value. Rust's `{:?}` writes
/// the shortest such decimal form (`0.1`, `1e-7`, `-0.0`), and Python parses it. NaN and
/// the infinities, which the core rejects in its inputs, become `float('nan')` and
/// `float('inf')` so that the script stays valid Python.
fn python_float(value: f64) -> String {
    if value.is_nan() {
        "float('nan')".to_string()
    } else if value.is_infinite() {
        let sign = if value < 0.0 { "-" } else { "" };
        format!("{sign}float('inf')")
    } else {
        format!("{value:?}")
    }
}

/// Formats `name = np.array(..., dtype=np.float64)`, on one line when it fits in [`MAX_LINE`]
/// and otherwise with one innermost row per line, in the layout NumPy prints arrays.
fn array_statement(name: &str, tensor: &Tensor) -> String {
    if tensor.is_empty() {
        return format!("{name} = np.zeros({})\n", python_tuple(tensor.shape()));
    }
    if tensor.shape().is_empty() {
        let value = python_float(tensor.data()[0]);
        return format!("{name} = np.array({value}, dtype=np.float64)\n");
    }
    let flat = single_line_nested(tensor.shape(), tensor.data());
    let line = format!("{name} = np.array({flat}, dtype=np.float64)");
    if line.len() <= MAX_LINE {
        return line + "\n";
    }
    let mut text = format!("{name} = np.array(\n    ");
    let closing = tensor.shape().len() + 1;
    write_nested(&mut text, tensor.shape(), tensor.data(), 4, closing);
    text.push_str(",\n    dtype=np.float64,\n)\n");
    text
}

/// Formats nested Python lists on one line, such as `[[1.0, 2.0], [3.0, 4.0]]`.
fn single_line_nested(shape: &[usize], data: &[f64]) -> String {
    let Some((_, inner)) = shape.split_first() else {
        return python_float(data[0]);
    };
    let step = inner.iter().product::<usize>();
    let items: Vec<String> = data
        .chunks(step)
        .map(|chunk| single_line_nested(inner, chunk))
        .collect();
    format!("[{}]", items.join(", "))
}

/// Appends nested Python lists whose opening bracket is at `column`, one innermost row
/// per line, each sub-list aligned under its parent's first entry. Rows that are too long
/// wrap, leaving room for `closing` characters of brackets and a comma.
fn write_nested(text: &mut String, shape: &[usize], data: &[f64], column: usize, closing: usize) {
    text.push('[');
    let inner = &shape[1..];
    if inner.is_empty() {
        write_row(text, data, column + 1, MAX_LINE - closing);
    } else {
        let step = inner.iter().product::<usize>();
        for (i, chunk) in data.chunks(step).enumerate() {
            if i > 0 {
                text.push_str(",\n");
                text.push_str(&" ".repeat(column + 1));
            }
            write_nested(text, inner, chunk, column + 1, closing);
        }
    }
    text.push(']');
}

/// Appends `values` separated by ", ", starting at `column` and wrapping to a new line at
/// that column before a value would pass `limit`.
fn write_row(text: &mut String, values: &[f64], column: usize, limit: usize) {
    let mut at = column;
    for (i, value) in values.iter().enumerate() {
        let literal = python_float(*value);
        if i > 0 {
            if at + 2 + literal.len() > limit {
                text.push_str(",\n");
                text.push_str(&" ".repeat(column));
                at = column;
            } else {
                text.push_str(", ");
                at += 2;
            }
        }
        text.push_str(&literal);
        at += literal.len();
    }
}

/// Makes `text` safe inside a `"""` docstring: backslashes are doubled and every double
/// quote is escaped, so none can close the docstring.
fn escape_docstring(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

/// Splits `text` into lines of at most `width` characters at whitespace. A word longer
/// than `width` stays whole on a line of its own.
fn wrap_words(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let needed = if line.is_empty() {
            0
        } else {
            line.chars().count() + 1
        };
        if !line.is_empty() && needed + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_finite_floats_stay_valid_python() {
        assert_eq!(python_float(f64::NAN), "float('nan')");
        assert_eq!(python_float(f64::INFINITY), "float('inf')");
        assert_eq!(python_float(f64::NEG_INFINITY), "-float('inf')");
        assert_eq!(python_float(0.1), "0.1");
        assert_eq!(python_float(-0.0), "-0.0");
        assert_eq!(python_float(1e-7), "1e-7");
        assert_eq!(python_float(0.30000000000000004), "0.30000000000000004");
    }

    #[test]
    fn short_array_fits_one_line() {
        let t = Tensor::from_vec(&[2, 2], vec![1.0, 2.5, -3.0, 0.125]).unwrap();
        assert_eq!(
            array_statement("W1", &t),
            "W1 = np.array([[1.0, 2.5], [-3.0, 0.125]], dtype=np.float64)\n"
        );
    }

    #[test]
    fn long_array_has_one_row_per_line() {
        let t = Tensor::from_fn3([2, 2, 3], |c, h, w| (c * 100 + h * 10 + w) as f64 + 0.5);
        let text = array_statement("x", &t);
        let expected = "x = np.array(\n    \
                        [[[0.5, 1.5, 2.5],\n      \
                        [10.5, 11.5, 12.5]],\n     \
                        [[100.5, 101.5, 102.5],\n      \
                        [110.5, 111.5, 112.5]]],\n    \
                        dtype=np.float64,\n)\n";
        assert_eq!(text, expected);
    }

    #[test]
    fn wide_row_wraps_within_line_limit() {
        let values: Vec<f64> = (0..40).map(|i| -0.123456789012345 * i as f64).collect();
        let t = Tensor::from_vec(&[1, 1, 40], values.clone()).unwrap();
        let text = array_statement("x", &t);
        for line in text.lines() {
            assert!(
                line.len() <= MAX_LINE,
                "line of {} chars: {line}",
                line.len()
            );
        }
        let literals: Vec<String> = values.iter().map(|v| python_float(*v)).collect();
        let joined: String = text.split_whitespace().collect();
        assert!(joined.contains(&literals.join(",")), "{text}");
    }

    #[test]
    fn empty_and_scalar_tensors() {
        assert_eq!(
            array_statement("g", &Tensor::zeros(&[2, 0, 3])),
            "g = np.zeros((2, 0, 3))\n"
        );
        let scalar = Tensor::from_vec(&[], vec![2.0]).unwrap();
        assert_eq!(
            array_statement("s", &scalar),
            "s = np.array(2.0, dtype=np.float64)\n"
        );
    }

    #[test]
    fn docstring_text_cannot_close_the_docstring() {
        assert_eq!(escape_docstring(r#"a """ b \n"#), r#"a \"\"\" b \\n"#);
    }

    #[test]
    fn words_wrap_at_width() {
        let lines = wrap_words("one two three four five", 9);
        assert_eq!(lines, vec!["one two", "three", "four five"]);
        assert_eq!(wrap_words("", 9), Vec::<String>::new());
    }

    #[test]
    fn long_call_breaks_after_parenthesis() {
        let args = "a0, W0, b0, stride=(2, 2), padding=(1, 1), dilation=(2, 2)";
        assert_eq!(
            call_statement("a1", "conv_forward", args),
            format!("    a1 = conv_forward(\n        {args}\n    )\n")
        );
        assert_eq!(call_statement("a1", "f", "a0"), "    a1 = f(a0)\n");
    }
}
