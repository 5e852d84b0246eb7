//! The backward pass: every step of the trace in order, with the δ coming in and what the
//! step computes from it.

use std::rc::Rc;

use cnn_core::pool::PoolRouting;
use cnn_core::{BackwardOp, Tensor, Trace};
use yew::prelude::*;

use super::forward_view::describe;
use super::tensor_maps::TensorMaps;
use crate::state::SharedTrace;

#[derive(Properties, PartialEq)]
pub struct BackwardViewProps {
    pub trace: SharedTrace,
}

#[component]
pub fn BackwardView(props: &BackwardViewProps) -> Html {
    let trace = &props.trace.0;
    let count = trace.backward.len();
    html! {
        <section class="backward" aria-labelledby="backward-heading">
            <h2 id="backward-heading">{ "Backward pass" }</h2>
            <p class="hint">{ "Each step receives δ = dL/d(its output) and passes δ to the layer before it. Steps run from the loss back to the input." }</p>
            <ol class="steps">
                { for trace.backward.iter().enumerate().map(|(index, step)| {
                    let layer = step.layer.map(|l| format!("layer {l} ({})", describe(&trace.network.layers[l])))
                        .unwrap_or_else(|| "loss".into());
                    html! {
                        <li>
                            <section class="backward-step" data-op={step.op.name()} data-step={index.to_string()}>
                                <h3>{ format!("Step {} of {count} · {layer}", index + 1) }</h3>
                                <p class="summary">{ step.op.summary() }</p>
                                <div class="tensors">{ step_tensors(trace, &step.op) }</div>
                            </section>
                        </li>
                    }
                }) }
            </ol>
        </section>
    }
}

fn maps(title: &str, name: &str, tensor: &Tensor) -> Html {
    html! { <TensorMaps title={title.to_string()} name={name.to_string()} tensor={Rc::new(tensor.clone())} /> }
}

/// The tensors shown for one step, from the δ coming in to the step's result.
fn step_tensors(trace: &Trace, op: &BackwardOp) -> Html {
    match op {
        BackwardOp::LossGradient { y, grad_y } => {
            let probabilities = trace.loss.as_ref().and_then(|l| l.probabilities.as_ref());
            html! { <>
                { maps("y = network output (logits)", "y", y) }
                { probabilities.map(|p| maps("softmax(y)", "probabilities", p)).unwrap_or_default() }
                { maps("δ = softmax(y) − onehot(label)", "grad_y", grad_y) }
            </> }
        }
        BackwardOp::Upstream { grad_y } => maps("δ = given upstream gradient", "grad_y", grad_y),
        BackwardOp::DenseParams {
            grad_y,
            grad_w,
            grad_b,
            ..
        } => html! { <>
            { maps("δ in = dL/dy", "grad_y", grad_y) }
            { maps("dW = δ xᵀ", "grad_w", grad_w) }
            { maps("db = δ", "grad_b", grad_b) }
        </> },
        BackwardOp::DenseInput { grad_y, grad_x, .. } => html! { <>
            { maps("δ in = dL/dy", "grad_y", grad_y) }
            { maps("δ out = Wᵀ δ, reshaped to the input", "grad_x", grad_x) }
        </> },
        BackwardOp::Activation {
            grad_y,
            derivative,
            grad_x,
            ..
        } => html! { <>
            { maps("δ in = dL/dy", "grad_y", grad_y) }
            { maps("f′(z)", "derivative", derivative) }
            { maps("δ out = δ ⊙ f′(z)", "grad_x", grad_x) }
        </> },
        BackwardOp::Pool {
            x,
            grad_y,
            routing,
            grad_x,
            ..
        } => html! { <>
            { maps("δ in = dL/dy", "grad_y", grad_y) }
            { routing_maps(routing, x) }
            { maps("δ out = upsampled δ", "grad_x", grad_x) }
        </> },
        BackwardOp::ConvWeights { grad_y, grad_w, .. } => html! { <>
            { maps("δ in = dL/dz", "grad_y", grad_y) }
            { maps("dW = valid correlation of x with δ", "grad_w", grad_w) }
        </> },
        BackwardOp::ConvBias { grad_b, .. } => maps("db = Σ δ per kernel", "grad_b", grad_b),
        BackwardOp::ConvInput {
            grad_y,
            kernels_rotated,
            grad_x,
            ..
        } => html! { <>
            { maps("δ in = dL/dz", "grad_y", grad_y) }
            { maps("rot180(W)", "kernels_rotated", kernels_rotated) }
            { maps("δ out = Σₖ full correlation of δₖ with rot180(Wₖ)", "grad_x", grad_x) }
        </> },
    }
}

/// What the pool did with δ: β for mean, the switches for max, the weights x/‖x‖ for L2.
fn routing_maps(routing: &PoolRouting, x: &Tensor) -> Html {
    match routing {
        PoolRouting::Mean { beta } => html! {
            <p class="routing">{ format!("β = {beta}: every cell of a window receives δ/{beta}.") }</p>
        },
        PoolRouting::Max { switches } => maps(
            "switches: windows whose maximum is this cell",
            "switches",
            &switch_counts(switches, x),
        ),
        PoolRouting::L2 { weights } => maps(
            "x/‖x‖ per window (0 for an all-zero window)",
            "weights",
            weights,
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
