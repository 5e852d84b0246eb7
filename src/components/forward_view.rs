//! The forward pass: the input and each layer's output maps.

use std::rc::Rc;

use cnn_core::{ForwardOp, LayerSpec};
use yew::prelude::*;

use super::explanation::ExplanationView;
use super::tensor_maps::TensorMaps;
use crate::formulas::forward_formula;
use crate::math::formula;
use crate::resolve::{highlights_for, resolve};
use crate::state::{ConvForm, Place, Selection, SharedTrace};

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
            p.kind.label(),
            p.size[0],
            p.size[1],
            p.stride[0],
            p.stride[1]
        ),
        LayerSpec::Dense(d) if d.outputs == 1 => "dense, 1 output".to_string(),
        LayerSpec::Dense(d) => format!("dense, {} outputs", d.outputs),
    }
}

/// Whether layer `layer` is followed by an activation layer, whose input z it computes.
fn feeds_activation(trace: &cnn_core::Trace, layer: usize) -> bool {
    matches!(
        trace.network.layers.get(layer + 1),
        Some(LayerSpec::Activation(_))
    )
}

#[derive(Properties, PartialEq)]
pub struct ForwardViewProps {
    pub trace: SharedTrace,
    #[prop_or_default]
    pub selection: Option<Selection>,
    /// Called when a cell of the input or of a layer output is chosen.
    #[prop_or_default]
    pub on_select: Option<Callback<Option<Selection>>>,
}

#[component]
pub fn ForwardView(props: &ForwardViewProps) -> Html {
    let trace = &props.trace.0;
    let select = |place: Place| {
        props.on_select.clone().map(|on_select| {
            Callback::from(move |index: Vec<usize>| {
                on_select.emit(Some(Selection {
                    place: place.clone(),
                    index,
                }))
            })
        })
    };
    let selected_in = |place: &Place| {
        props
            .selection
            .as_ref()
            .filter(|s| &s.place == place)
            .map(|s| s.index.clone())
    };

    // The explanation of a selected forward cell lights its inputs in the layer before.
    let resolved = props
        .selection
        .as_ref()
        .filter(|s| matches!(s.place, Place::Forward { .. } | Place::Input))
        .and_then(|s| resolve(trace, s, ConvForm::Gather));
    let explanation = resolved.as_ref().and_then(|r| r.explanation.as_ref());
    let lit_layer = match props.selection.as_ref().map(|s| &s.place) {
        Some(Place::Forward { layer }) => Some(*layer),
        _ => None,
    };
    // Inputs of layer l are shown as the output of layer l − 1 (or the input map for l = 0).
    let lit_in = |shown: Option<usize>| -> Rc<Vec<Vec<usize>>> {
        let Some(layer) = lit_layer else {
            return Rc::default();
        };
        let shown_is_input_of_lit = match shown {
            None => layer == 0,
            Some(l) => l + 1 == layer,
        };
        if !shown_is_input_of_lit {
            return Rc::default();
        }
        let mut cells = highlights_for(explanation, "x");
        cells.extend(highlights_for(explanation, "z"));
        // Conv factors index the padded input; shift them back onto the unpadded map.
        if let Some(ForwardOp::Conv { spec, x, .. }) = trace.forward.get(layer).map(|s| &s.op) {
            let shape = x.shape().to_vec();
            for index in highlights_for(explanation, "x_padded") {
                let (row, col) = (
                    index[1] as isize - spec.padding[0] as isize,
                    index[2] as isize - spec.padding[1] as isize,
                );
                if row >= 0 && col >= 0 && (row as usize) < shape[1] && (col as usize) < shape[2] {
                    cells.push(vec![index[0], row as usize, col as usize]);
                }
            }
        }
        Rc::new(cells)
    };

    let selection_label = props.selection.as_ref().and_then(|s| match &s.place {
        Place::Input => Some(format!("x{:?} (input)", s.index)),
        Place::Forward { layer } => {
            // Conv and dense outputs are shown as z, the input of the activation after them.
            let name = match trace.forward.get(*layer).map(|f| &f.op) {
                Some(ForwardOp::Conv { .. } | ForwardOp::Dense { .. }) => "z",
                _ => "y",
            };
            Some(format!("{name}{:?} of layer {layer}", s.index))
        }
        Place::Backward { .. } => None,
    });

    html! {
        <section class="forward" aria-labelledby="forward-heading">
            <h2 id="forward-heading">{ "Forward pass" }</h2>
            <div class="forward-step" data-layer="input">
                <h3>{ "Input x" }</h3>
                <TensorMaps
                    title="x"
                    name="input"
                    tensor={Rc::new(trace.input.clone())}
                    highlights={lit_in(None)}
                    selected={selected_in(&Place::Input)}
                    on_select={select(Place::Input)}
                />
            </div>
            { for trace.forward.iter().map(|step| {
                let layer = &trace.network.layers[step.layer];
                let (title, name) = match &step.op {
                    ForwardOp::Conv { .. } | ForwardOp::Dense { .. } if feeds_activation(trace, step.layer) => ("z = output before the activation", "z"),
                    ForwardOp::Conv { .. } | ForwardOp::Dense { .. } => ("z = layer output", "z"),
                    ForwardOp::Activation { .. } => ("y = f(z)", "y"),
                    ForwardOp::Pool { .. } => ("y = pooled map", "y"),
                };
                let place = Place::Forward { layer: step.layer };
                html! {
                    <div class="forward-step" data-layer={step.layer.to_string()}>
                        <h3>{ format!("Layer {}: {}", step.layer, describe(layer)) }</h3>
                        if matches!(step.op, ForwardOp::Conv { .. }) {
                            <p class="hint">{ "Convolution here is cross-correlation, as in deep-learning frameworks: the kernel is not flipped." }</p>
                        }
                        <div class="general-formula">{ formula(&forward_formula(&step.op), true) }</div>
                        <TensorMaps
                            title={title}
                            name={name}
                            tensor={Rc::new(step.op.y().clone())}
                            highlights={lit_in(Some(step.layer))}
                            selected={selected_in(&place)}
                            on_select={select(place.clone())}
                        />
                    </div>
                }
            }) }
            { match (resolved, selection_label) {
                (Some(resolved), Some(label)) => html! { <ExplanationView {resolved} {label} /> },
                _ => Html::default(),
            } }
        </section>
    }
}
