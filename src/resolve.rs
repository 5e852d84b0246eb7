//! Turns a selected cell into the page's account of it: the core's explanation of the
//! cell when it has a formula, or what the number is when it has none (a weight, a
//! padding zero, a δ computed in an earlier step).

use cnn_core::explain::{self, Explanation};
use cnn_core::{BackwardOp, ForwardOp, Trace};

use crate::state::{ConvForm, Place, Selection};

/// The page's account of a selected cell.
#[derive(Clone, Debug, PartialEq)]
pub struct Resolved {
    /// The cell's value as stored in the trace.
    pub value: f64,
    /// The formula behind the cell, when it has one.
    pub explanation: Option<Explanation>,
    /// The number's origin, in one sentence.
    pub note: String,
}

/// The step that produced the δ arriving at backward step `step`: the closest earlier step
/// with an input gradient, or the loss step.
pub fn producer_of_grad_y(trace: &Trace, step: usize) -> Option<(usize, &'static str)> {
    (0..step).rev().find_map(|s| match &trace.backward[s].op {
        BackwardOp::LossGradient { .. } => Some((s, "grad_y")),
        op if op.grad_x().is_some() => Some((s, "grad_x")),
        _ => None,
    })
}

/// Resolves `selection` against `trace`, explaining conv input gradients in `form`.
pub fn resolve(trace: &Trace, selection: &Selection, form: ConvForm) -> Option<Resolved> {
    let index = &selection.index;
    match &selection.place {
        Place::Input => Some(Resolved {
            value: trace.input.get(index)?,
            explanation: None,
            note: "An input value: it has no formula.".into(),
        }),
        Place::Forward { layer } => {
            let e = explain::forward_cell(trace, *layer, index).ok()?;
            Some(Resolved {
                value: e.value,
                note: format!("Computed in the forward pass by layer {layer}."),
                explanation: Some(e),
            })
        }
        Place::Backward { step, tensor } => resolve_backward(trace, *step, tensor, index, form),
    }
}

fn resolve_backward(
    trace: &Trace,
    step: usize,
    tensor: &str,
    index: &[usize],
    form: ConvForm,
) -> Option<Resolved> {
    let entry = trace.backward.get(step)?;
    if explain::explainable_tensors(&entry.op).contains(&tensor) {
        let scatter = form == ConvForm::Scatter && matches!(entry.op, BackwardOp::ConvInput { .. });
        let e = if scatter {
            explain::conv_input_scatter(trace, step, index).ok()?
        } else {
            explain::backward_cell(trace, step, tensor, index).ok()?
        };
        let note = if scatter {
            "Scatter form: every δ cell whose window read this input cell adds δ·W.".to_string()
        } else {
            "Computed in this step.".to_string()
        };
        return Some(Resolved {
            value: e.value,
            explanation: Some(e),
            note,
        });
    }

    let layer = entry.layer;
    let forward = layer.and_then(|l| trace.forward.get(l)).map(|s| &s.op);
    match (tensor, &entry.op) {
        ("grad_y", BackwardOp::Upstream { grad_y }) => Some(Resolved {
            value: grad_y.get(index)?,
            explanation: None,
            note: "The given upstream gradient: it has no formula.".into(),
        }),
        ("grad_y", op) => {
            let Some((source, name)) = producer_of_grad_y(trace, step) else {
                // Nothing computed this δ: it is the given upstream gradient.
                return Some(Resolved {
                    value: op.grad_y().get(index)?,
                    explanation: None,
                    note: "The given upstream gradient, passed on unchanged: it has no formula.".into(),
                });
            };
            let e = explain::backward_cell(trace, source, name, index).ok()?;
            debug_assert_eq!(Some(e.value), op.grad_y().get(index));
            Some(Resolved {
                value: e.value,
                note: format!("This δ was computed in step {}.", source + 1),
                explanation: Some(e),
            })
        }
        ("x" | "z", _) => {
            let l = layer?;
            if l == 0 {
                return Some(Resolved {
                    value: trace.input.get(index)?,
                    explanation: None,
                    note: "An input value: it has no formula.".into(),
                });
            }
            let e = explain::forward_cell(trace, l - 1, index).ok()?;
            Some(Resolved {
                value: e.value,
                note: format!("Computed in the forward pass by layer {}.", l - 1),
                explanation: Some(e),
            })
        }
        ("x_padded", BackwardOp::ConvWeights { spec, x_padded, .. }) => {
            let value = x_padded.get(index)?;
            let (row, col) = (index[1], index[2]);
            let inside = row >= spec.padding[0]
                && col >= spec.padding[1]
                && row < x_padded.shape()[1] - spec.padding[0]
                && col < x_padded.shape()[2] - spec.padding[1];
            let note = if inside {
                format!(
                    "The input value x[{}][{}][{}], shifted by the padding.",
                    index[0],
                    row - spec.padding[0],
                    col - spec.padding[1]
                )
            } else {
                "A padding zero: it reads nothing and adds nothing to ∂L/∂W.".into()
            };
            Some(Resolved {
                value,
                explanation: None,
                note,
            })
        }
        ("grad_y_full", BackwardOp::ConvInput { spec, grad_y_full, kernels_rotated, .. }) => {
            let value = grad_y_full.get(index)?;
            let pad = [
                (kernels_rotated.shape()[2] - 1) * spec.dilation[0],
                (kernels_rotated.shape()[3] - 1) * spec.dilation[1],
            ];
            let (row, col) = (index[1] as isize - pad[0] as isize, index[2] as isize - pad[1] as isize);
            let on_grid = row >= 0
                && col >= 0
                && (row as usize).is_multiple_of(spec.stride[0])
                && (col as usize).is_multiple_of(spec.stride[1])
                && (row as usize / spec.stride[0]) < entry.op.grad_y().shape()[1]
                && (col as usize / spec.stride[1]) < entry.op.grad_y().shape()[2];
            let note = if on_grid {
                format!(
                    "δ[{}][{}][{}], placed here by the zero insertion and padding.",
                    index[0],
                    row as usize / spec.stride[0],
                    col as usize / spec.stride[1]
                )
            } else {
                "A zero: inserted between δ entries for the stride, or padding for the full correlation.".into()
            };
            Some(Resolved {
                value,
                explanation: None,
                note,
            })
        }
        ("kernels_rotated", BackwardOp::ConvInput { kernels_rotated, .. }) => {
            let (rows, cols) = (kernels_rotated.shape()[2], kernels_rotated.shape()[3]);
            Some(Resolved {
                value: kernels_rotated.get(index)?,
                explanation: None,
                note: format!(
                    "The weight W[{}][{}][{}][{}], moved here by the 180° turn.",
                    index[0],
                    index[1],
                    rows - 1 - index[2],
                    cols - 1 - index[3]
                ),
            })
        }
        ("w", BackwardOp::DenseInput { w, .. }) => Some(Resolved {
            value: w.get(index)?,
            explanation: None,
            note: "A weight of this layer: a parameter, with no formula.".into(),
        }),
        ("w", _) => match forward {
            Some(ForwardOp::Conv { w, .. }) | Some(ForwardOp::Dense { w, .. }) => Some(Resolved {
                value: w.get(index)?,
                explanation: None,
                note: "A weight of this layer: a parameter, with no formula.".into(),
            }),
            _ => None,
        },
        ("weights", BackwardOp::Pool { routing: cnn_core::pool::PoolRouting::L2 { weights }, .. }) => Some(Resolved {
            value: weights.get(index)?,
            explanation: None,
            note: format!(
                "x/‖x‖ for cell ({}, {}) of window ({}, {}): the cell's value over the window's norm y, or 0 for an all-zero window.",
                index[3], index[4], index[1], index[2]
            ),
        }),
        ("switches", BackwardOp::Pool { x, routing: cnn_core::pool::PoolRouting::Max { switches }, .. }) => {
            let count = crate::components::backward_view::switch_counts(switches, x).get(index)?;
            Some(Resolved {
                value: count,
                explanation: None,
                note: format!(
                    "The number of windows whose recorded maximum (switch) is this cell: it receives the δ of {} window(s).",
                    count
                ),
            })
        }
        ("y", BackwardOp::LossGradient { .. }) => {
            let last = trace.forward.len().checked_sub(1)?;
            let e = explain::forward_cell(trace, last, index).ok()?;
            Some(Resolved {
                value: e.value,
                note: format!("The network output, computed in the forward pass by layer {last}."),
                explanation: Some(e),
            })
        }
        ("probabilities", BackwardOp::LossGradient { .. }) => {
            let p = trace.loss.as_ref()?.probabilities.as_ref()?;
            Some(Resolved {
                value: p.get(index)?,
                explanation: None,
                note: "softmax(y) = exp(y_i) / Σ_j exp(y_j), computed with the largest y subtracted first.".into(),
            })
        }
        ("grad_y_dilated", BackwardOp::ConvWeights { spec, grad_y_dilated, .. }) => {
            let value = grad_y_dilated.get(index)?;
            let on_grid = index[1].is_multiple_of(spec.stride[0]) && index[2].is_multiple_of(spec.stride[1]);
            let note = if on_grid {
                format!(
                    "δ[{}][{}][{}], spread out by the stride.",
                    index[0],
                    index[1] / spec.stride[0],
                    index[2] / spec.stride[1]
                )
            } else {
                "An inserted zero: stride − 1 zeros sit between δ entries.".into()
            };
            Some(Resolved {
                value,
                explanation: None,
                note,
            })
        }
        _ => None,
    }
}

/// The cells of tensor `name` that the explanation's factors read, as tensor indices.
pub fn highlights_for(explanation: Option<&Explanation>, name: &str) -> Vec<Vec<usize>> {
    let Some(e) = explanation else {
        return Vec::new();
    };
    let mut cells = Vec::new();
    for term in &e.terms {
        for f in &term.factors {
            if f.tensor == name {
                cells.push(f.index.clone());
            }
        }
    }
    if let Some(offset) = &e.offset {
        if offset.tensor == name {
            cells.push(offset.index.clone());
        }
    }
    cells
}
