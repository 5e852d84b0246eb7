//! The forward pass: the input and each layer's output maps.

use std::rc::Rc;

use cnn_core::{ForwardOp, LayerSpec};
use yew::prelude::*;

use super::tensor_maps::TensorMaps;
use crate::state::SharedTrace;

/// A one-line description of a layer, in the words of the spec.
pub fn describe(layer: &LayerSpec) -> String {
    match layer {
        LayerSpec::Conv(c) => format!(
            "conv {}@{}×{}, stride {}×{}, padding {}×{}, dilation {}×{}",
            c.kernels,
            c.size[0],
            c.size[1],
            c.stride[0],
            c.stride[1],
            c.padding[0],
            c.padding[1],
            c.dilation[0],
            c.dilation[1]
        ),
        LayerSpec::Activation(f) => format!("activation {}", f.name()),
        LayerSpec::Pool(p) => format!(
            "{} pool {}×{}, stride {}×{}",
            p.kind.name(),
            p.size[0],
            p.size[1],
            p.stride[0],
            p.stride[1]
        ),
        LayerSpec::Dense(d) => format!("dense, {} outputs", d.outputs),
    }
}

#[derive(Properties, PartialEq)]
pub struct ForwardViewProps {
    pub trace: SharedTrace,
}

#[component]
pub fn ForwardView(props: &ForwardViewProps) -> Html {
    let trace = &props.trace.0;
    html! {
        <section class="forward" aria-labelledby="forward-heading">
            <h2 id="forward-heading">{ "Forward pass" }</h2>
            <div class="forward-step" data-layer="input">
                <h3>{ "Input x" }</h3>
                <TensorMaps title="x" name="x" tensor={Rc::new(trace.input.clone())} />
            </div>
            { for trace.forward.iter().map(|step| {
                let layer = &trace.network.layers[step.layer];
                let (title, name) = match &step.op {
                    ForwardOp::Conv { .. } | ForwardOp::Dense { .. } => ("z = output before the activation", "z"),
                    ForwardOp::Activation { .. } => ("y = f(z)", "y"),
                    ForwardOp::Pool { .. } => ("y = pooled map", "y"),
                };
                html! {
                    <div class="forward-step" data-layer={step.layer.to_string()}>
                        <h3>{ format!("Layer {}: {}", step.layer, describe(layer)) }</h3>
                        <TensorMaps title={title} name={name} tensor={Rc::new(step.op.y().clone())} />
                    </div>
                }
            }) }
        </section>
    }
}
