//! One backward step on screen: what it does, its formula, the maps going in and coming
//! out, and for the selected cell its sum of products and gradient check.

use std::rc::Rc;

use cnn_core::finite_difference::Probe;
use cnn_core::pool::{self, PoolGeometry, PoolRouting};
use cnn_core::{BackwardOp, ForwardOp, Location, Tensor};
use yew::prelude::*;

use super::backward_view::switch_counts;
use super::explanation::ExplanationView;
use super::forward_view::describe;
use super::gradient_check::GradientCheckView;
use super::tensor_maps::TensorMaps;
use crate::formulas::{backward_formula, sentence, symbol};
use crate::hooks::{prefers_reduced_motion, use_interval};
use crate::math::formula;
use crate::resolve::{highlights_for, resolve};
use crate::state::{ConvForm, Place, Selection, Session};

#[derive(Properties, PartialEq)]
pub struct StepViewProps {
    pub session: Session,
    pub step: usize,
    pub selection: Option<Selection>,
    pub conv_form: ConvForm,
    pub on_select: Callback<Option<Selection>>,
    pub on_conv_form: Callback<ConvForm>,
}

/// The step's label in the list of steps: "3. layer 5 (max pool 2×2) · pool".
pub fn step_title(session: &Session, step: usize) -> String {
    let trace = &session.trace.0;
    let entry = &trace.backward[step];
    let layer = entry
        .layer
        .map(|l| format!("layer {l} ({})", describe(&trace.network.layers[l])))
        .unwrap_or_else(|| start_name(&entry.op).into());
    format!(
        "{}. {layer} · {}",
        step + 1,
        entry.op.name().replace('_', " ")
    )
}

/// The name of the step that starts the backward pass.
fn start_name(op: &BackwardOp) -> &'static str {
    match op {
        BackwardOp::Upstream { .. } => "start: the given δ",
        _ => "loss",
    }
}

/// The map a tensor of this step is shown in: its title and the tensor.
struct MapSpec {
    name: &'static str,
    title: String,
    tensor: Tensor,
}

fn map(name: &'static str, title: &str, tensor: &Tensor) -> MapSpec {
    MapSpec {
        name,
        title: format!("{} — {title}", symbol(name)),
        tensor: tensor.clone(),
    }
}

/// The maps a step shows, from the δ coming in to the step's result.
fn step_maps(session: &Session, step: usize, form: ConvForm) -> Vec<MapSpec> {
    let trace = &session.trace.0;
    let entry = &trace.backward[step];
    let forward = entry
        .layer
        .and_then(|l| trace.forward.get(l))
        .map(|s| &s.op);
    match &entry.op {
        BackwardOp::LossGradient { y, grad_y } => {
            let output = match trace.loss.as_ref().map(|l| &l.loss) {
                Some(cnn_core::Loss::SoftmaxCrossEntropy { .. }) => "network output (logits)",
                _ => "network output",
            };
            let mut maps = vec![map("y", output, y)];
            if let Some(p) = trace.loss.as_ref().and_then(|l| l.probabilities.as_ref()) {
                maps.push(map("probabilities", "softmax(y)", p));
            }
            maps.push(map("grad_y", "δ = dL/dy", grad_y));
            maps
        }
        BackwardOp::Upstream { grad_y } => vec![map("grad_y", "given δ = dL/dy", grad_y)],
        BackwardOp::DenseParams {
            x,
            grad_y,
            grad_w,
            grad_b,
        } => vec![
            map("x", "layer input", x),
            map("grad_y", "arriving from the layer after", grad_y),
            map("grad_w", "δ·xᵀ", grad_w),
            map("grad_b", "equal to δ", grad_b),
        ],
        BackwardOp::DenseInput { w, grad_y, grad_x } => vec![
            map("w", "weights", w),
            map("grad_y", "arriving from the layer after", grad_y),
            map("grad_x", "Wᵀδ, reshaped", grad_x),
        ],
        BackwardOp::Activation {
            z,
            grad_y,
            derivative,
            grad_x,
            ..
        } => vec![
            map("z", "pre-activation", z),
            map("grad_y", "arriving from the layer after", grad_y),
            map("derivative", "derivative at z", derivative),
            map("grad_x", "δ ⊙ f′(z)", grad_x),
        ],
        BackwardOp::Pool {
            x,
            grad_y,
            routing,
            grad_x,
            ..
        } => {
            let mut maps = vec![
                map("x", "pool input", x),
                map("grad_y", "arriving from the layer after", grad_y),
            ];
            match routing {
                PoolRouting::Mean { .. } => {}
                PoolRouting::Max { switches } => maps.push(map(
                    "switches",
                    "windows whose maximum is this cell",
                    &switch_counts(switches, x),
                )),
                PoolRouting::L2 { weights } => {
                    maps.push(map("weights", "per window, tiled", weights))
                }
            }
            maps.push(map("grad_x", "upsampled δ", grad_x));
            maps
        }
        BackwardOp::ConvWeights {
            spec,
            x_padded,
            grad_y,
            grad_y_dilated,
            grad_w,
        } => {
            let mut maps = vec![
                map("x_padded", "padded input", x_padded),
                map("grad_y", "arriving from the layer after", grad_y),
            ];
            if spec.stride != [1, 1] {
                maps.push(map(
                    "grad_y_dilated",
                    "δ with zeros inserted",
                    grad_y_dilated,
                ));
            }
            maps.push(map("grad_w", "valid correlation of xᵖ with δ", grad_w));
            maps
        }
        BackwardOp::ConvBias { grad_y, grad_b } => vec![
            map("grad_y", "arriving from the layer after", grad_y),
            map("grad_b", "Σ δ per kernel", grad_b),
        ],
        BackwardOp::ConvInput {
            grad_y,
            grad_y_full,
            kernels_rotated,
            grad_x,
            ..
        } => match (form, forward) {
            (ConvForm::Scatter, Some(ForwardOp::Conv { w, .. })) => vec![
                map(
                    "grad_y",
                    "each cell scatters δ·W onto the cells its window read",
                    grad_y,
                ),
                map("w", "kernels", w),
                map("grad_x", "sum of the scattered δ·W", grad_x),
            ],
            _ => vec![
                map("grad_y", "arriving from the layer after", grad_y),
                map(
                    "grad_y_full",
                    "zeros inserted, padded by extent − 1",
                    grad_y_full,
                ),
                map("kernels_rotated", "kernels turned 180°", kernels_rotated),
                map(
                    "grad_x",
                    "Σ over kernels of the full correlation, cropped",
                    grad_x,
                ),
            ],
        },
    }
}

/// Windows with tied maxima listed by name; the rest are counted.
const TIES_LISTED: usize = 6;

/// The tensor whose cells the window animation walks through, for conv steps.
fn animated_tensor(op: &BackwardOp) -> Option<(&'static str, &Tensor)> {
    match op {
        BackwardOp::ConvWeights { grad_w, .. } => Some(("grad_w", grad_w)),
        BackwardOp::ConvInput { grad_x, .. } => Some(("grad_x", grad_x)),
        _ => None,
    }
}

/// The number a gradient check can probe for a selected cell, when there is one.
fn probe_for(session: &Session, selection: &Selection) -> Option<(Probe, String)> {
    let trace = &session.trace.0;
    let index = selection.index.clone();
    match &selection.place {
        Place::Input => Some((Probe::Input(index.clone()), format!("∂L/∂x{index:?}"))),
        Place::Backward { step, tensor } => {
            let entry = trace.backward.get(*step)?;
            let layer = entry.layer?;
            match tensor.as_str() {
                "grad_w" => Some((
                    Probe::Weight {
                        layer,
                        index: index.clone(),
                    },
                    format!("∂L/∂W{index:?} of layer {layer}"),
                )),
                "grad_b" => Some((
                    Probe::Bias {
                        layer,
                        index: index.clone(),
                    },
                    format!("∂L/∂b{index:?} of layer {layer}"),
                )),
                "grad_x" if layer == 0 => Some((
                    Probe::Input(index.clone()),
                    format!("∂L/∂x{index:?} (the network input)"),
                )),
                _ => None,
            }
        }
        Place::Forward { .. } => None,
    }
}

#[component]
pub fn StepView(props: &StepViewProps) -> Html {
    let trace = props.session.trace.0.clone();
    let step = props.step.min(trace.backward.len().saturating_sub(1));
    let entry = &trace.backward[step];
    let reduced_motion = use_memo((), |_| prefers_reduced_motion());
    let animating = use_state(|| false);
    let comparing = use_state(|| false);

    // Stop the window animation and the comparison when the step changes.
    {
        let (animating, comparing) = (animating.clone(), comparing.clone());
        use_effect_with((step, props.session.trace.clone()), move |_| {
            animating.set(false);
            comparing.set(false);
        });
    }

    // The window animation moves the selection one cell on each tick.
    let animated = animated_tensor(&entry.op).map(|(name, t)| (name, t.len(), t.shape().to_vec()));
    let advance = {
        let (selection, on_select) = (props.selection.clone(), props.on_select.clone());
        let animated = animated.clone();
        move |delta: isize| {
            let Some((name, len, shape)) = animated.clone() else {
                return;
            };
            let probe = Tensor::zeros(&shape);
            let current = selection
                .as_ref()
                .filter(|s| {
                    s.place
                        == Place::Backward {
                            step,
                            tensor: name.into(),
                        }
                })
                .and_then(|s| probe.flat_index(&s.index));
            let next = match current {
                None => 0,
                Some(flat) => (flat as isize + delta).rem_euclid(len as isize) as usize,
            };
            on_select.emit(Some(Selection {
                place: Place::Backward {
                    step,
                    tensor: name.into(),
                },
                index: probe.unravel(next),
            }));
        }
    };
    {
        let advance = advance.clone();
        use_interval(
            Callback::from(move |_| advance(1)),
            700,
            *animating && !*reduced_motion,
        );
    }

    let resolved = props
        .selection
        .as_ref()
        .filter(|s| matches!(&s.place, Place::Backward { step: at, .. } if *at == step))
        .and_then(|s| resolve(&trace, s, props.conv_form));
    let explanation = resolved.as_ref().and_then(|r| r.explanation.as_ref());

    let maps = step_maps(&props.session, step, props.conv_form);
    let selected_tensor = props.selection.as_ref().and_then(|s| match &s.place {
        Place::Backward { step: at, tensor } if *at == step => {
            Some((tensor.clone(), s.index.clone()))
        }
        _ => None,
    });
    let tie_cells = tie_cells(&entry.op);
    let map_views = maps.into_iter().map(|m| {
        let mut lit = highlights_for(explanation, m.name);
        if m.name == "x" && props.selection.is_none() {
            lit.extend(tie_cells.iter().cloned());
        }
        let highlights = Rc::new(lit);
        let selected = selected_tensor.as_ref().filter(|(t, _)| t == m.name).map(|(_, i)| i.clone());
        let on_select = {
            let (on_select, name) = (props.on_select.clone(), m.name);
            Callback::from(move |index: Vec<usize>| {
                on_select.emit(Some(Selection {
                    place: Place::Backward { step, tensor: name.into() },
                    index,
                }))
            })
        };
        html! {
            <TensorMaps title={m.title} name={m.name} tensor={Rc::new(m.tensor)} {highlights} {selected} on_select={Some(on_select)} />
        }
    });

    let layer_text = entry
        .layer
        .map(|l| format!("Layer {l}: {}", describe(&trace.network.layers[l])))
        .unwrap_or_else(|| {
            let mut name = start_name(&entry.op).to_string();
            name[..1].make_ascii_uppercase();
            name
        });
    let loss = trace.loss.as_ref().map(|l| &l.loss);

    let conv_toggle = matches!(entry.op, BackwardOp::ConvInput { .. }).then(|| {
        let on_form = |form: ConvForm| {
            let on_conv_form = props.on_conv_form.clone();
            Callback::from(move |_: Event| on_conv_form.emit(form))
        };
        html! {
            <fieldset class="conv-form">
                <legend>{ "Show δ to the previous layer as" }</legend>
                <label><input type="radio" name="conv-form" checked={props.conv_form == ConvForm::Gather} onchange={on_form(ConvForm::Gather)} />{ " full correlation with rot180(W) (gather)" }</label>
                <label><input type="radio" name="conv-form" checked={props.conv_form == ConvForm::Scatter} onchange={on_form(ConvForm::Scatter)} />{ " scatter: each δ cell adds δ·W onto the cells it read" }</label>
            </fieldset>
        }
    });

    let window_controls = animated.as_ref().map(|_| {
        let step_by = |delta: isize| {
            let advance = advance.clone();
            Callback::from(move |_: MouseEvent| advance(delta))
        };
        let toggle = {
            let animating = animating.clone();
            Callback::from(move |_: MouseEvent| animating.set(!*animating))
        };
        html! {
            <div class="window-controls">
                <button type="button" onclick={step_by(-1)}>{ "Previous window" }</button>
                <button type="button" onclick={step_by(1)}>{ "Next window" }</button>
                if *reduced_motion {
                    <span class="hint">{ " Animation is off because the system asks for reduced motion; step through the windows with the buttons." }</span>
                } else {
                    <button type="button" onclick={toggle} aria-pressed={animating.to_string()}>
                        { if *animating { "Stop window animation" } else { "Animate window by window" } }
                    </button>
                }
            </div>
        }
    });

    let pool_details = pool_details(&entry.op, &trace, entry.layer, *comparing, {
        let comparing = comparing.clone();
        Callback::from(move |_: MouseEvent| comparing.set(!*comparing))
    });

    let check = props
        .selection
        .as_ref()
        .filter(|s| matches!(&s.place, Place::Backward { step: at, .. } if *at == step))
        .and_then(|s| probe_for(&props.session, s))
        .map(|(probe, label)| {
            html! {
                <GradientCheckView
                    network={props.session.network.clone()}
                    input={props.session.input.clone()}
                    objective={props.session.objective.clone()}
                    {probe}
                    {label}
                />
            }
        });

    let selection_label = props.selection.as_ref().map(|s| match &s.place {
        Place::Backward { tensor, .. } => {
            format!("{}{:?} in step {}", symbol(tensor), s.index, step + 1)
        }
        _ => String::new(),
    });

    html! {
        <article class="step-view" data-op={entry.op.name()} data-step={step.to_string()} aria-labelledby="step-heading">
            <h2 id="step-heading">{ format!("Step {} of {}: {}", step + 1, trace.backward.len(), layer_text) }</h2>
            <p class="sentence">{ sentence(&entry.op) }</p>
            <p class="glossary">{ "δ = dL/dy is the gradient arriving at this step from the layer after; δˣ = dL/dx is what the step passes to the layer before." }</p>
            <div class="general-formula" tabindex="0" role="region" aria-label="The step's formula">{ formula(&backward_formula(&entry.op, loss), true) }</div>
            { conv_toggle.unwrap_or_default() }
            { pool_details }
            { window_controls.unwrap_or_default() }
            <p class="hint">{ "Click a cell of any map, or focus a map and use the arrow keys, to see its sum of products." }</p>
            <h3 class="maps-heading">{ "Maps: the δ coming in and what this step computes" }</h3>
            <div class="step-maps">{ for map_views }</div>
            { match (resolved, selection_label) {
                (Some(resolved), Some(label)) => html! { <ExplanationView {resolved} {label} /> },
                _ => Html::default(),
            } }
            { check.unwrap_or_default() }
        </article>
    }
}

/// Every cell holding a tied maximum of a max-pool window, for the input map.
fn tie_cells(op: &BackwardOp) -> Vec<Vec<usize>> {
    let BackwardOp::Pool {
        spec,
        x,
        routing: PoolRouting::Max { .. },
        ..
    } = op
    else {
        return Vec::new();
    };
    let shape = [x.shape()[0], x.shape()[1], x.shape()[2]];
    let at = Location::Layer {
        index: 0,
        kind: "pool",
    };
    let Ok(g) = PoolGeometry::new(spec, shape, at) else {
        return Vec::new();
    };
    pool::ties(&g, x)
        .into_iter()
        .flat_map(|t| t.cells.into_iter().map(|c| c.to_vec()))
        .collect()
}

/// What a pool step adds: β for mean, the switches and ties for max, the zero windows for
/// L2, and the side-by-side comparison of the three kinds.
fn pool_details(
    op: &BackwardOp,
    trace: &cnn_core::Trace,
    layer: Option<usize>,
    comparing: bool,
    on_compare: Callback<MouseEvent>,
) -> Html {
    let BackwardOp::Pool {
        spec,
        x,
        grad_y,
        routing,
        ..
    } = op
    else {
        return Html::default();
    };
    let at = Location::Layer {
        index: layer.unwrap_or(0),
        kind: "pool",
    };
    let shape = [x.shape()[0], x.shape()[1], x.shape()[2]];
    let detail = match routing {
        PoolRouting::Mean { beta } => html! {
            <p class="routing" id="pool-rule">{ format!("Mean pooling: β = PH·PW = {}·{} = {beta}, so every cell of a window receives δ/{beta} (that is, δ × {}).", spec.size[0], spec.size[1], 1.0 / *beta as f64) }</p>
        },
        PoolRouting::Max { .. } => {
            let ties = PoolGeometry::new(spec, shape, at)
                .map(|g| pool::ties(&g, x))
                .unwrap_or_default();
            let zero_ties = ties
                .iter()
                .filter(|t| x.get(&t.cells[0]) == Some(0.0))
                .count();
            // Ties of a non-zero maximum come first: they are the instructive ones.
            let mut shown: Vec<&pool::Tie> = ties
                .iter()
                .filter(|t| x.get(&t.cells[0]) != Some(0.0))
                .collect();
            shown.extend(ties.iter().filter(|t| x.get(&t.cells[0]) == Some(0.0)));
            shown.truncate(TIES_LISTED);
            html! { <>
                <p class="routing" id="pool-rule">{ "Max pooling: the forward pass records each window's maximum (the switch); the whole δ of the window goes to that cell and the others get 0. Tie rule: when several cells hold the maximum, the first in row-major order (row by row, left to right) is the switch." }</p>
                if ties.is_empty() {
                    <p class="ties">{ "No window of this input has a tied maximum." }</p>
                } else {
                    <p class="ties">{ format!("{} window(s) have a tied maximum; {zero_ties} of them are all zero (every cell ties at 0). Tied cells are outlined in the input map while no cell is selected.", ties.len()) }</p>
                    <ul class="ties" aria-label="Windows with tied maxima">
                        { for shown.iter().map(|tie| html! {
                            <li>{ format!("Window (c {}, i {}, j {}): the maximum {} is held by cells {}; the first, {:?}, is the switch.", tie.window[0], tie.window[1], tie.window[2],
                                crate::format::short(x.get(&tie.cells[0]).unwrap_or(f64::NAN)),
                                tie.cells.iter().map(|c| format!("{c:?}")).collect::<Vec<_>>().join(", "), tie.cells[0]) }</li>
                        }) }
                    </ul>
                }
            </> }
        }
        PoolRouting::L2 { .. } => {
            let zero_windows = layer
                .and_then(|l| trace.forward.get(l))
                .map(|s| s.op.y().data().iter().filter(|v| **v == 0.0).count())
                .unwrap_or(0);
            html! {
                <p class="routing" id="pool-rule">{ format!("L2 pooling: y = ‖x‖ over the window, and each cell gets δ·x/‖x‖. A window that is all zero has y = 0; its cells get 0 (not 0/0). This input has {zero_windows} all-zero window(s).") }</p>
            }
        }
    };
    let comparison = comparing.then(|| match pool::compare_kinds(spec, x, grad_y) {
        Ok(results) => html! {
            <div class="compare">
                <h3>{ "The same δ upsampled by each pooling kind" }</h3>
                { for results.into_iter().map(|(kind, result)| html! {
                    <TensorMaps title={format!("{} pooling: upsampled δ", kind.label())} name={format!("compare-{}", kind.name())} tensor={Rc::new(result.grad_x)} />
                }) }
            </div>
        },
        Err(e) => html! { <p class="error">{ e.to_string() }</p> },
    });
    html! { <>
        { detail }
        <button type="button" class="compare-toggle" onclick={on_compare} aria-pressed={comparing.to_string()}>
            { if comparing { "Hide the comparison" } else { "Compare pooling: mean, max and L2 on this δ" } }
        </button>
        { comparison.unwrap_or_default() }
    </> }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::SharedTrace;
    use cnn_core::document::{InputSource, WeightSource};
    use cnn_core::{Network, Trace};

    fn sessions() -> Vec<(String, Session)> {
        let mut found = Vec::new();
        for preset in cnn_core::tutorial::presets() {
            let (InputSource::Values(x), WeightSource::Seeded(seed)) =
                (&preset.document.input, &preset.document.weights)
            else {
                continue;
            };
            let network = Network::seeded(preset.document.network.clone(), *seed).unwrap();
            let trace = Trace::record(&network, x, &preset.document.objective).unwrap();
            found.push((
                preset.id.to_string(),
                Session {
                    network: Rc::new(network),
                    input: Rc::new(x.clone()),
                    objective: Rc::new(preset.document.objective.clone()),
                    trace: SharedTrace(Rc::new(trace)),
                    digit_label: None,
                },
            ));
        }
        found
    }

    #[test]
    fn every_map_cell_resolves() {
        for (id, session) in sessions() {
            let trace = session.trace.0.clone();
            for step in 0..trace.backward.len() {
                for form in [ConvForm::Gather, ConvForm::Scatter] {
                    for m in step_maps(&session, step, form) {
                        for flat in [0, m.tensor.len() - 1] {
                            let selection = Selection {
                                place: Place::Backward {
                                    step,
                                    tensor: m.name.into(),
                                },
                                index: m.tensor.unravel(flat),
                            };
                            let resolved = resolve(&trace, &selection, form);
                            let resolved = resolved.unwrap_or_else(|| {
                                panic!(
                                    "{id}: step {step} map {} cell {flat} has nothing to show",
                                    m.name
                                )
                            });
                            assert_eq!(
                                resolved.value,
                                m.tensor.data()[flat],
                                "{id}: step {step} map {}",
                                m.name
                            );
                            if let Some(e) = &resolved.explanation {
                                assert!(
                                    (e.result - e.value).abs() <= 1e-12 * (1.0 + e.value.abs()),
                                    "{id}: step {step} map {}",
                                    m.name
                                );
                            }
                        }
                    }
                }
            }
        }
    }
}
