//! The backward pass: every step of the trace in order, with the δ coming in and what the
//! step computes from it.

use std::rc::Rc;

use cnn_core::pool::PoolRouting;
use cnn_core::{BackwardOp, Tensor, Trace};
use yew::prelude::*;

use super::forward_view::describe;
use super::tensor_maps::TensorMaps;
use crate::state::{Place, Selection, SharedTrace};

#[derive(Properties, PartialEq)]
pub struct BackwardViewProps {
    pub trace: SharedTrace,
    /// Called with a clicked cell, to open it in the stepper.
    #[prop_or_default]
    pub on_open: Option<Callback<Selection>>,
}

/// Turns clicks on one step's maps into selections of that step.
struct Opener {
    step: usize,
    callback: Option<Callback<Selection>>,
}

impl Opener {
    fn for_tensor(&self, name: &str) -> Option<Callback<Vec<usize>>> {
        let callback = self.callback.clone()?;
        let (step, tensor) = (self.step, name.to_string());
        Some(Callback::from(move |index: Vec<usize>| {
            callback.emit(Selection {
                place: Place::Backward {
                    step,
                    tensor: tensor.clone(),
                },
                index,
            })
        }))
    }
}

#[component]
pub fn BackwardView(props: &BackwardViewProps) -> Html {
    let trace = &props.trace.0;
    let count = trace.backward.len();
    html! {
        <section class="backward" aria-labelledby="backward-heading">
            <h2 id="backward-heading">{ "Backward pass" }</h2>
            <p class="hint">{ "Each step receives δ = dL/d(its output) and passes δ to the layer before it. Steps run from the loss back to the input. Click a cell to open its step in the stepper with that cell's sum of products." }</p>
            <ol class="steps">
                { for trace.backward.iter().enumerate().map(|(index, step)| {
                    let layer = step.layer.map(|l| format!("layer {l} ({})", describe(&trace.network.layers[l])))
                        .unwrap_or_else(|| if matches!(step.op, cnn_core::BackwardOp::Upstream { .. }) { "start: the given δ".into() } else { "loss".into() });
                    html! {
                        <li>
                            <section class="backward-step" data-op={step.op.name()} data-step={index.to_string()}>
                                <h3>{ format!("Step {} of {count} · {layer}", index + 1) }</h3>
                                <p class="summary">{ step.op.summary() }</p>
                                <div class="tensors">{ step_tensors(trace, &step.op, &Opener { step: index, callback: props.on_open.clone() }) }</div>
                            </section>
                        </li>
                    }
                }) }
            </ol>
        </section>
    }
}

fn maps(title: &str, name: &str, tensor: &Tensor, open: &Opener) -> Html {
    let on_select = open.for_tensor(name);
    html! { <TensorMaps title={title.to_string()} name={name.to_string()} tensor={Rc::new(tensor.clone())} {on_select} /> }
}

/// The tensors shown for one step, from the δ coming in to the step's result.
fn step_tensors(trace: &Trace, op: &BackwardOp, open: &Opener) -> Html {
    match op {
        BackwardOp::LossGradient { y, grad_y } => {
            let probabilities = trace.loss.as_ref().and_then(|l| l.probabilities.as_ref());
            html! { <>
                { maps("y = network output (logits)", "y", y, open) }
                { probabilities.map(|p| maps("softmax(y)", "probabilities", p, open)).unwrap_or_default() }
                { maps("δ = softmax(y) − onehot(label)", "grad_y", grad_y, open) }
            </> }
        }
        BackwardOp::Upstream { grad_y } => {
            maps("δ = given upstream gradient", "grad_y", grad_y, open)
        }
        BackwardOp::DenseParams {
            grad_y,
            grad_w,
            grad_b,
            ..
        } => html! { <>
            { maps("δ in = dL/dy", "grad_y", grad_y, open) }
            { maps("dW = δ xᵀ", "grad_w", grad_w, open) }
            { maps("db = δ", "grad_b", grad_b, open) }
        </> },
        BackwardOp::DenseInput { grad_y, grad_x, .. } => html! { <>
            { maps("δ in = dL/dy", "grad_y", grad_y, open) }
            { maps("δ out = Wᵀ δ, reshaped to the input", "grad_x", grad_x, open) }
        </> },
        BackwardOp::Activation {
            grad_y,
            derivative,
            grad_x,
            ..
        } => html! { <>
            { maps("δ in = dL/dy", "grad_y", grad_y, open) }
            { maps("f′(z)", "derivative", derivative, open) }
            { maps("δ out = δ ⊙ f′(z)", "grad_x", grad_x, open) }
        </> },
        BackwardOp::Pool {
            x,
            grad_y,
            routing,
            grad_x,
            ..
        } => html! { <>
            { maps("δ in = dL/dy", "grad_y", grad_y, open) }
            { routing_maps(routing, x, open) }
            { maps("δ out = upsampled δ", "grad_x", grad_x, open) }
        </> },
        BackwardOp::ConvWeights { grad_y, grad_w, .. } => html! { <>
            { maps("δ in = dL/dz", "grad_y", grad_y, open) }
            { maps("dW = valid correlation of x with δ", "grad_w", grad_w, open) }
        </> },
        BackwardOp::ConvBias { grad_b, .. } => maps("db = Σ δ per kernel", "grad_b", grad_b, open),
        BackwardOp::ConvInput {
            grad_y,
            kernels_rotated,
            grad_x,
            ..
        } => html! { <>
            { maps("δ in = dL/dz", "grad_y", grad_y, open) }
            { maps("rot180(W)", "kernels_rotated", kernels_rotated, open) }
            { maps("δ out = Σₖ full correlation of δₖ with rot180(Wₖ)", "grad_x", grad_x, open) }
        </> },
    }
}

/// What the pool did with δ: β for mean, the switches for max, the weights x/‖x‖ for L2.
fn routing_maps(routing: &PoolRouting, x: &Tensor, open: &Opener) -> Html {
    match routing {
        PoolRouting::Mean { beta } => html! {
            <p class="routing">{ format!("β = {beta}: every cell of a window receives δ/{beta}.") }</p>
        },
        PoolRouting::Max { switches } => maps(
            "switches: windows whose maximum is this cell",
            "switches",
            &switch_counts(switches, x),
            open,
        ),
        PoolRouting::L2 { weights } => maps(
            "x/‖x‖ per window (0 for an all-zero window)",
            "weights",
            weights,
            open,
        ),
    }
}

/// Counts, per input cell, the windows whose recorded maximum it is.
pub fn switch_counts(switches: &Tensor, x: &Tensor) -> Tensor {
    let shape = x.shape();
    let mut counts = Tensor::zeros(shape);
    let per_channel = switches.len() / (2 * shape[0]).max(1);
    for (i, pair) in switches.data().chunks(2).enumerate() {
        let channel = i / per_channel.max(1);
        let index = [channel, pair[0] as usize, pair[1] as usize];
        if let Some(flat) = counts.flat_index(&index) {
            counts.data_mut()[flat] += 1.0;
        }
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn switch_counts_mark_maxima() {
        let x = Tensor::zeros(&[2, 2, 2]);
        // One window per channel: channel 0's maximum at (1, 0), channel 1's at (0, 1).
        let switches = Tensor::from_vec(&[2, 1, 1, 2], vec![1.0, 0.0, 0.0, 1.0]).unwrap();
        let counts = switch_counts(&switches, &x);
        assert_eq!(counts.data(), &[0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0]);
    }
}
