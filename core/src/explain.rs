//! The sum of products behind any one number of a trace, with the value of every factor
//! and where it sits, so that a front end can print the formula with numbers substituted
//! and light up the cells that contributed.
//!
//! Every explanation recomputes its cell from the factors it lists (`result`) beside the
//! value stored in the trace (`value`); the tests check that the two agree for every cell
//! of every step.

use serde::{Deserialize, Serialize};

use crate::activation::Activation;
use crate::loss::Loss;
use crate::pool::{PoolKind, PoolRouting};
use crate::trace::{BackwardOp, ForwardOp, Trace};
use crate::Tensor;

/// One number that enters a formula: the trace tensor it comes from, its index there, and
/// its value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Factor {
    /// The trace's name for the tensor (`"x_padded"`, `"w"`, `"grad_y"` …), or a constant
    /// (`"1/β"`, `"switch"`, `"onehot"`) that has no map of its own.
    pub tensor: String,
    pub index: Vec<usize>,
    pub value: f64,
}

/// One term of a formula: the product of its factors.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Term {
    pub factors: Vec<Factor>,
    pub product: f64,
}

impl Term {
    fn new(factors: Vec<Factor>) -> Self {
        let product = factors.iter().map(|f| f.value).product();
        Self { factors, product }
    }
}

/// How the terms combine into the cell's value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Combine {
    /// `offset + Σ terms`.
    Sum,
    /// `(Σ terms) / beta`.
    Mean { beta: usize },
    /// The largest term; `winner` is the index of the first largest.
    Max { winner: usize },
    /// `sqrt(Σ term²)`.
    L2,
    /// `f(term)` for the single term.
    Apply { function: Activation },
    /// `f′(term)` for the single term.
    Derivative { function: Activation },
}

/// The formula behind one cell.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Explanation {
    /// The explained tensor's trace name and the cell's index in it.
    pub tensor: String,
    pub index: Vec<usize>,
    pub combine: Combine,
    pub terms: Vec<Term>,
    /// A value added to the sum (a bias, or −onehot and −target in a loss gradient).
    pub offset: Option<Factor>,
    /// The cell's value recomputed from the terms.
    pub result: f64,
    /// The cell's value as stored in the trace.
    pub value: f64,
}

/// A request that names no cell of the trace.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ExplainError {
    #[error("no step {step}; the trace has {count} steps")]
    NoStep { step: usize, count: usize },
    #[error("step {step} has no tensor named {tensor:?} with a formula")]
    NoTensor { step: usize, tensor: String },
    #[error("index {index:?} is outside {tensor} of shape {shape:?}")]
    OutOfRange {
        tensor: String,
        index: Vec<usize>,
        shape: Vec<usize>,
    },
}

fn factor(tensor: &str, t: &Tensor, index: &[usize]) -> Factor {
    Factor {
        tensor: tensor.to_string(),
        index: index.to_vec(),
        value: t.get(index).unwrap_or(0.0),
    }
}

fn constant(name: &str, index: &[usize], value: f64) -> Factor {
    Factor {
        tensor: name.to_string(),
        index: index.to_vec(),
        value,
    }
}

fn finish(
    tensor: &str,
    t: &Tensor,
    index: &[usize],
    combine: Combine,
    terms: Vec<Term>,
    offset: Option<Factor>,
) -> Explanation {
    let sum: f64 = terms.iter().map(|t| t.product).sum();
    let result = match &combine {
        Combine::Sum => offset.as_ref().map_or(0.0, |o| o.value) + sum,
        Combine::Mean { beta } => sum / *beta as f64,
        Combine::Max { winner } => terms.get(*winner).map_or(f64::NAN, |t| t.product),
        Combine::L2 => terms
            .iter()
            .map(|t| t.product * t.product)
            .sum::<f64>()
            .sqrt(),
        Combine::Apply { function } => function.apply(terms.first().map_or(0.0, |t| t.product)),
        Combine::Derivative { function } => {
            function.derivative(terms.first().map_or(0.0, |t| t.product))
        }
    };
    Explanation {
        tensor: tensor.to_string(),
        index: index.to_vec(),
        combine,
        terms,
        offset,
        result,
        value: t.get(index).unwrap_or(f64::NAN),
    }
}

fn check_index(tensor: &str, t: &Tensor, index: &[usize]) -> Result<(), ExplainError> {
    if t.flat_index(index).is_none() {
        return Err(ExplainError::OutOfRange {
            tensor: tensor.to_string(),
            index: index.to_vec(),
            shape: t.shape().to_vec(),
        });
    }
    Ok(())
}

/// Explains cell `index` of the output `y` of forward layer `layer`.
///
/// Errors: no such layer, or an index outside `y`.
pub fn forward_cell(
    trace: &Trace,
    layer: usize,
    index: &[usize],
) -> Result<Explanation, ExplainError> {
    let step = trace.forward.get(layer).ok_or(ExplainError::NoStep {
        step: layer,
        count: trace.forward.len(),
    })?;
    let y = step.op.y();
    check_index("y", y, index)?;
    Ok(match &step.op {
        ForwardOp::Conv {
            spec,
            x_padded,
            w,
            b,
            y,
            ..
        } => {
            let [k, i, j] = [index[0], index[1], index[2]];
            let (chans, k_h, k_w) = (w.shape()[1], w.shape()[2], w.shape()[3]);
            let mut terms = Vec::with_capacity(chans * k_h * k_w);
            for c in 0..chans {
                for u in 0..k_h {
                    for v in 0..k_w {
                        let row = i * spec.stride[0] + u * spec.dilation[0];
                        let col = j * spec.stride[1] + v * spec.dilation[1];
                        terms.push(Term::new(vec![
                            factor("w", w, &[k, c, u, v]),
                            factor("x_padded", x_padded, &[c, row, col]),
                        ]));
                    }
                }
            }
            finish(
                "y",
                y,
                index,
                Combine::Sum,
                terms,
                Some(factor("b", b, &[k])),
            )
        }
        ForwardOp::Activation { function, z, y } => {
            let terms = vec![Term::new(vec![factor("z", z, index)])];
            finish(
                "y",
                y,
                index,
                Combine::Apply {
                    function: *function,
                },
                terms,
                None,
            )
        }
        ForwardOp::Pool { spec, x, y, .. } => {
            let [c, i, j] = [index[0], index[1], index[2]];
            let window = window_cells(spec.size, spec.stride, c, i, j);
            let terms: Vec<Term> = window
                .iter()
                .map(|cell| Term::new(vec![factor("x", x, cell)]))
                .collect();
            let combine = match spec.kind {
                PoolKind::Mean => Combine::Mean {
                    beta: spec.size[0] * spec.size[1],
                },
                PoolKind::Max => Combine::Max {
                    winner: first_max(&terms),
                },
                PoolKind::L2 => Combine::L2,
            };
            finish("y", y, index, combine, terms, None)
        }
        ForwardOp::Dense { x, w, b, y } => {
            let o = index[0];
            let terms = (0..x.len())
                .map(|i| Term::new(vec![factor("w", w, &[o, i]), factor("x", x, &x.unravel(i))]))
                .collect();
            finish(
                "y",
                y,
                index,
                Combine::Sum,
                terms,
                Some(factor("b", b, &[o])),
            )
        }
    })
}

/// Cells `[c, row, col]` of pooling window `(i, j)` in row-major order.
fn window_cells(
    size: [usize; 2],
    stride: [usize; 2],
    c: usize,
    i: usize,
    j: usize,
) -> Vec<[usize; 3]> {
    let mut cells = Vec::with_capacity(size[0] * size[1]);
    for u in 0..size[0] {
        for v in 0..size[1] {
            cells.push([c, i * stride[0] + u, j * stride[1] + v]);
        }
    }
    cells
}

fn first_max(terms: &[Term]) -> usize {
    let mut best = 0;
    for (n, term) in terms.iter().enumerate() {
        if term.product > terms[best].product {
            best = n;
        }
    }
    best
}

/// The tensors of a backward step that have a formula per cell.
pub fn explainable_tensors(op: &BackwardOp) -> &'static [&'static str] {
    match op {
        BackwardOp::LossGradient { .. } => &["grad_y"],
        BackwardOp::Upstream { .. } => &[],
        BackwardOp::DenseParams { .. } => &["grad_w", "grad_b"],
        BackwardOp::DenseInput { .. } => &["grad_x"],
        BackwardOp::Activation { .. } => &["derivative", "grad_x"],
        BackwardOp::Pool { .. } => &["grad_x"],
        BackwardOp::ConvWeights { .. } => &["grad_w"],
        BackwardOp::ConvBias { .. } => &["grad_b"],
        BackwardOp::ConvInput { .. } => &["grad_x"],
    }
}

/// Explains cell `index` of tensor `tensor` of backward step `step`. For `conv_input` the
/// formula is the gather form: the full correlation of the padded, zero-inserted δ with the
/// rotated kernels; [`conv_input_scatter`] gives the same cell as a scatter.
///
/// Errors: no such step, a tensor without a formula, or an index outside the tensor.
pub fn backward_cell(
    trace: &Trace,
    step: usize,
    tensor: &str,
    index: &[usize],
) -> Result<Explanation, ExplainError> {
    let entry = trace.backward.get(step).ok_or(ExplainError::NoStep {
        step,
        count: trace.backward.len(),
    })?;
    let no_tensor = || ExplainError::NoTensor {
        step,
        tensor: tensor.to_string(),
    };
    match (&entry.op, tensor) {
        (BackwardOp::LossGradient { y, grad_y }, "grad_y") => {
            check_index(tensor, grad_y, index)?;
            loss_gradient_cell(trace, y, grad_y, index).ok_or_else(no_tensor)
        }
        (
            BackwardOp::DenseParams {
                x, grad_y, grad_w, ..
            },
            "grad_w",
        ) => {
            check_index(tensor, grad_w, index)?;
            let terms = vec![Term::new(vec![
                factor("grad_y", grad_y, &[index[0]]),
                factor("x", x, &x.unravel(index[1])),
            ])];
            Ok(finish(tensor, grad_w, index, Combine::Sum, terms, None))
        }
        (BackwardOp::DenseParams { grad_y, grad_b, .. }, "grad_b") => {
            check_index(tensor, grad_b, index)?;
            let terms = vec![Term::new(vec![factor("grad_y", grad_y, index)])];
            Ok(finish(tensor, grad_b, index, Combine::Sum, terms, None))
        }
        (BackwardOp::DenseInput { w, grad_y, grad_x }, "grad_x") => {
            check_index(tensor, grad_x, index)?;
            let i = grad_x.flat_index(index).expect("checked");
            let terms = (0..grad_y.len())
                .map(|o| {
                    Term::new(vec![
                        factor("w", w, &[o, i]),
                        factor("grad_y", grad_y, &[o]),
                    ])
                })
                .collect();
            Ok(finish(tensor, grad_x, index, Combine::Sum, terms, None))
        }
        (
            BackwardOp::Activation {
                function,
                z,
                derivative,
                ..
            },
            "derivative",
        ) => {
            check_index(tensor, derivative, index)?;
            let terms = vec![Term::new(vec![factor("z", z, index)])];
            let combine = Combine::Derivative {
                function: *function,
            };
            Ok(finish(tensor, derivative, index, combine, terms, None))
        }
        (
            BackwardOp::Activation {
                grad_y,
                derivative,
                grad_x,
                ..
            },
            "grad_x",
        ) => {
            check_index(tensor, grad_x, index)?;
            let terms = vec![Term::new(vec![
                factor("grad_y", grad_y, index),
                factor("derivative", derivative, index),
            ])];
            Ok(finish(tensor, grad_x, index, Combine::Sum, terms, None))
        }
        (
            BackwardOp::Pool {
                spec,
                grad_y,
                routing,
                grad_x,
                ..
            },
            "grad_x",
        ) => {
            check_index(tensor, grad_x, index)?;
            let [c, row, col] = [index[0], index[1], index[2]];
            let mut terms = Vec::new();
            for (i, u) in windows_covering(row, spec.size[0], spec.stride[0], grad_y.shape()[1]) {
                for (j, v) in windows_covering(col, spec.size[1], spec.stride[1], grad_y.shape()[2])
                {
                    let delta = factor("grad_y", grad_y, &[c, i, j]);
                    let share = match routing {
                        PoolRouting::Mean { beta } => constant("1/β", &[], 1.0 / *beta as f64),
                        PoolRouting::Max { switches } => {
                            let chosen = switches.get(&[c, i, j, 0]) == Some(row as f64)
                                && switches.get(&[c, i, j, 1]) == Some(col as f64);
                            constant("switch", &[c, i, j], if chosen { 1.0 } else { 0.0 })
                        }
                        PoolRouting::L2 { weights } => factor("weights", weights, &[c, i, j, u, v]),
                    };
                    terms.push(Term::new(vec![delta, share]));
                }
            }
            Ok(finish(tensor, grad_x, index, Combine::Sum, terms, None))
        }
        (
            BackwardOp::ConvWeights {
                spec,
                x_padded,
                grad_y,
                grad_w,
                ..
            },
            "grad_w",
        ) => {
            check_index(tensor, grad_w, index)?;
            let [k, c, u, v] = [index[0], index[1], index[2], index[3]];
            let (rows, cols) = (grad_y.shape()[1], grad_y.shape()[2]);
            let mut terms = Vec::with_capacity(rows * cols);
            for i in 0..rows {
                for j in 0..cols {
                    let row = i * spec.stride[0] + u * spec.dilation[0];
                    let col = j * spec.stride[1] + v * spec.dilation[1];
                    terms.push(Term::new(vec![
                        factor("x_padded", x_padded, &[c, row, col]),
                        factor("grad_y", grad_y, &[k, i, j]),
                    ]));
                }
            }
            Ok(finish(tensor, grad_w, index, Combine::Sum, terms, None))
        }
        (BackwardOp::ConvBias { grad_y, grad_b }, "grad_b") => {
            check_index(tensor, grad_b, index)?;
            let k = index[0];
            let (rows, cols) = (grad_y.shape()[1], grad_y.shape()[2]);
            let terms = (0..rows * cols)
                .map(|n| Term::new(vec![factor("grad_y", grad_y, &[k, n / cols, n % cols])]))
                .collect();
            Ok(finish(tensor, grad_b, index, Combine::Sum, terms, None))
        }
        (
            BackwardOp::ConvInput {
                spec,
                grad_y_full,
                kernels_rotated,
                grad_x,
                ..
            },
            "grad_x",
        ) => {
            check_index(tensor, grad_x, index)?;
            let [c, h, w] = [index[0], index[1], index[2]];
            let [kernels, _, k_h, k_w] = [
                kernels_rotated.shape()[0],
                kernels_rotated.shape()[1],
                kernels_rotated.shape()[2],
                kernels_rotated.shape()[3],
            ];
            // The cell sits at (h + PH, w + PW) of the padded input; the full correlation
            // reads the padded δ from there, taps DH and DW apart.
            let (p, q) = (h + spec.padding[0], w + spec.padding[1]);
            let mut terms = Vec::with_capacity(kernels * k_h * k_w);
            for k in 0..kernels {
                for u in 0..k_h {
                    for v in 0..k_w {
                        let cell = [k, p + u * spec.dilation[0], q + v * spec.dilation[1]];
                        if grad_y_full.flat_index(&cell).is_none() {
                            // Rows and columns no window reached have no taps at all.
                            continue;
                        }
                        terms.push(Term::new(vec![
                            factor("grad_y_full", grad_y_full, &cell),
                            factor("kernels_rotated", kernels_rotated, &[k, c, u, v]),
                        ]));
                    }
                }
            }
            Ok(finish(tensor, grad_x, index, Combine::Sum, terms, None))
        }
        _ => Err(no_tensor()),
    }
}

/// Pairs `(window, offset)` of the windows along one axis that cover position `at`, with
/// `offset` the position inside the window.
fn windows_covering(at: usize, size: usize, stride: usize, windows: usize) -> Vec<(usize, usize)> {
    (0..windows)
        .filter_map(|i| {
            let start = i * stride;
            (start <= at && at < start + size).then(|| (i, at - start))
        })
        .collect()
}

fn loss_gradient_cell(
    trace: &Trace,
    y: &Tensor,
    grad_y: &Tensor,
    index: &[usize],
) -> Option<Explanation> {
    let report = trace.loss.as_ref()?;
    Some(match &report.loss {
        Loss::SoftmaxCrossEntropy { label } => {
            let p = report.probabilities.as_ref()?;
            let i = grad_y.flat_index(index)?;
            let onehot = if i == *label { 1.0 } else { 0.0 };
            let terms = vec![Term::new(vec![factor("probabilities", p, index)])];
            let offset = constant("−onehot", index, -onehot);
            finish("grad_y", grad_y, index, Combine::Sum, terms, Some(offset))
        }
        Loss::Mse { target } => {
            let i = grad_y.flat_index(index)?;
            let terms = vec![Term::new(vec![factor("y", y, index)])];
            let offset = constant("−target", index, -target.data()[i]);
            finish("grad_y", grad_y, index, Combine::Sum, terms, Some(offset))
        }
    })
}

/// Explains cell `index` of the `grad_x` of a `conv_input` step as a scatter: every δ cell
/// `δ[k][i][j]` adds `δ · w[k][c][u][v]` onto the input cell that tap `(u, v)` of window
/// `(i, j)` read. The result equals [`backward_cell`]'s gather form.
///
/// Errors: no such step, a step that is not `conv_input`, or an index outside `grad_x`.
pub fn conv_input_scatter(
    trace: &Trace,
    step: usize,
    index: &[usize],
) -> Result<Explanation, ExplainError> {
    let entry = trace.backward.get(step).ok_or(ExplainError::NoStep {
        step,
        count: trace.backward.len(),
    })?;
    let (
        BackwardOp::ConvInput {
            spec,
            grad_y,
            grad_x,
            ..
        },
        Some(layer),
    ) = (&entry.op, entry.layer)
    else {
        return Err(ExplainError::NoTensor {
            step,
            tensor: "grad_x".into(),
        });
    };
    let Some(ForwardOp::Conv { w, .. }) = trace.forward.get(layer).map(|s| &s.op) else {
        return Err(ExplainError::NoTensor {
            step,
            tensor: "grad_x".into(),
        });
    };
    check_index("grad_x", grad_x, index)?;
    let [c, h, col_in] = [index[0], index[1], index[2]];
    let (p, q) = (h + spec.padding[0], col_in + spec.padding[1]);
    let [kernels, rows, cols] = [grad_y.shape()[0], grad_y.shape()[1], grad_y.shape()[2]];
    let mut terms = Vec::new();
    for k in 0..kernels {
        for i in 0..rows {
            for j in 0..cols {
                for u in 0..spec.size[0] {
                    for v in 0..spec.size[1] {
                        let row = i * spec.stride[0] + u * spec.dilation[0];
                        let col = j * spec.stride[1] + v * spec.dilation[1];
                        if row == p && col == q {
                            terms.push(Term::new(vec![
                                factor("grad_y", grad_y, &[k, i, j]),
                                factor("w", w, &[k, c, u, v]),
                            ]));
                        }
                    }
                }
            }
        }
    }
    Ok(finish("grad_x", grad_x, index, Combine::Sum, terms, None))
}
