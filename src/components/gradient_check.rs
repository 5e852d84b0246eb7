//! The gradient check of the selected weight, bias or input cell: the central finite
//! difference of the loss beside the analytic gradient.

use std::rc::Rc;

use cnn_core::finite_difference::{self, GradientCheck, Probe};
use cnn_core::{Network, Objective, Tensor};
use yew::prelude::*;

use crate::format::short;

#[derive(Properties, PartialEq)]
pub struct GradientCheckProps {
    pub network: Rc<Network>,
    pub input: Rc<Tensor>,
    pub objective: Rc<Objective>,
    pub probe: Probe,
    /// The probed number as text ("∂L/∂W[0][0][1][2]", say).
    pub label: AttrValue,
}

#[component]
pub fn GradientCheckView(props: &GradientCheckProps) -> Html {
    let result = use_state(|| None::<Result<GradientCheck, String>>);
    {
        // A new probe or network makes the old result meaningless.
        let result = result.clone();
        use_effect_with((props.probe.clone(), props.network.clone()), move |_| {
            result.set(None)
        });
    }
    let run = {
        let (result, props_network, input, objective, probe) = (
            result.clone(),
            props.network.clone(),
            props.input.clone(),
            props.objective.clone(),
            props.probe.clone(),
        );
        Callback::from(move |_: MouseEvent| {
            let outcome = finite_difference::check(&props_network, &input, &objective, &probe)
                .map_err(|e| e.to_string());
            result.set(Some(outcome));
        })
    };
    html! {
        <section class="gradient-check" aria-labelledby="gradient-check-heading">
            <h3 id="gradient-check-heading">{ "Gradient check" }</h3>
            <p>
                { format!("Compare the backward pass's value of {} with the central difference (L(θ + h) − L(θ − h)) / 2h, h = {}. ", props.label, finite_difference::STEP) }
                <button type="button" onclick={run}>{ "Check this gradient" }</button>
            </p>
            { match &*result {
                None => Html::default(),
                Some(Err(message)) => html! { <p class="error" role="alert">{ message.clone() }</p> },
                Some(Ok(check)) => html! {
                    <dl class="check-result">
                        <dt>{ "Analytic (backward pass)" }</dt>
                        <dd><output id="grad-analytic" data-value={format!("{:?}", check.analytic)}>{ scientific(check.analytic) }</output></dd>
                        <dt>{ "Numeric (finite difference)" }</dt>
                        <dd><output id="grad-numeric" data-value={format!("{:?}", check.numeric)}>{ scientific(check.numeric) }</output></dd>
                        <dt>{ "Relative error" }</dt>
                        <dd>
                            <output id="grad-relative-error" data-value={format!("{:?}", check.relative_error)}>{ format!("{:.2e}", check.relative_error).replace('-', "−") }</output>
                            { verdict(check.relative_error) }
                        </dd>
                    </dl>
                },
            } }
        </section>
    }
}

/// Eleven significant digits in scientific notation, with a true minus sign.
fn scientific(v: f64) -> String {
    format!("{v:.10e}").replace('-', "−")
}

fn verdict(relative_error: f64) -> String {
    if relative_error < 1e-6 {
        " — the gradients agree.".into()
    } else {
        format!(
            " — larger than expected ({}): the loss may have a kink here (relu at 0, a max-pool tie), where finite differences are not valid.",
            short(relative_error)
        )
    }
}
