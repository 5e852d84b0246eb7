//! The controls (pooling kind, digit) and the run's outcome (label, prediction, loss).

use cnn_core::PoolKind;
use web_sys::{HtmlInputElement, HtmlSelectElement};
use yew::prelude::*;

use crate::format::short;

#[derive(Properties, PartialEq)]
pub struct ControlsProps {
    pub pool: PoolKind,
    /// Whether the network has a pool layer; without one the pooling control is disabled.
    #[prop_or(true)]
    pub has_pool: bool,
    /// Whether the pool layers use different kinds; choosing one sets them all.
    #[prop_or_default]
    pub mixed_pools: bool,
    /// 0-based index of the digit shown.
    pub digit: usize,
    /// Number of digits to pick from.
    pub digit_count: usize,
    pub on_pool: Callback<PoolKind>,
    pub on_digit: Callback<usize>,
}

/// Parses the digit field: an integer from 0 to `count − 1`.
///
/// Errors: a message naming the text and the allowed range.
pub fn parse_digit(text: &str, count: usize) -> Result<usize, String> {
    let last = count.saturating_sub(1);
    match text.trim().parse::<usize>() {
        Ok(index) if index < count => Ok(index),
        _ => Err(format!(
            "“{}” is not a digit number; use a whole number from 0 to {last}",
            text.trim()
        )),
    }
}

#[component]
pub fn Controls(props: &ControlsProps) -> Html {
    let error = use_state(|| None::<String>);
    let input = use_node_ref();

    let on_pool = {
        let on_pool = props.on_pool.clone();
        Callback::from(move |event: Event| {
            let select: HtmlSelectElement = event.target_unchecked_into();
            let kind = PoolKind::ALL
                .into_iter()
                .find(|k| k.name() == select.value());
            if let Some(kind) = kind {
                on_pool.emit(kind);
            }
        })
    };
    let on_digit_change = {
        let (on_digit, error, count) = (props.on_digit.clone(), error.clone(), props.digit_count);
        Callback::from(move |event: Event| {
            let field: HtmlInputElement = event.target_unchecked_into();
            match parse_digit(&field.value(), count) {
                Ok(index) => {
                    error.set(None);
                    on_digit.emit(index);
                }
                Err(message) => error.set(Some(message)),
            }
        })
    };
    let step = |delta: isize| {
        let (on_digit, error, input) = (props.on_digit.clone(), error.clone(), input.clone());
        let (digit, count) = (props.digit as isize, props.digit_count as isize);
        Callback::from(move |_: MouseEvent| {
            let next = (digit + delta).rem_euclid(count.max(1)) as usize;
            error.set(None);
            if let Some(field) = input.cast::<HtmlInputElement>() {
                field.set_value(&next.to_string());
            }
            on_digit.emit(next);
        })
    };

    let (previous, next) = (step(-1), step(1));
    html! {
        <div class="controls">
            <label>
                { "Pooling (every pool layer) " }
                <select id="pool-kind" onchange={on_pool} disabled={!props.has_pool}>
                    if props.mixed_pools {
                        <option value="" disabled=true selected=true>{ "mixed" }</option>
                    }
                    { for PoolKind::ALL.iter().map(|k| html! {
                        <option value={k.name()} selected={!props.mixed_pools && *k == props.pool}>{ k.label() }</option>
                    }) }
                </select>
            </label>
            <label>
                { format!("Test digit (0–{}) ", props.digit_count.saturating_sub(1)) }
                <input
                    ref={input}
                    id="digit-index"
                    type="number"
                    min="0"
                    max={props.digit_count.saturating_sub(1).to_string()}
                    value={props.digit.to_string()}
                    aria-invalid={error.is_some().to_string()}
                    aria-describedby="digit-error"
                    onchange={on_digit_change}
                />
            </label>
            <button type="button" onclick={previous}>{ "Previous digit" }</button>
            <button type="button" onclick={next}>{ "Next digit" }</button>
            <p id="digit-error" class="error" role="alert">{ (*error).clone().unwrap_or_default() }</p>
        </div>
    }
}

#[derive(Properties, PartialEq)]
pub struct OutcomeProps {
    /// The true class, for a cross-entropy loss; `None` for mse.
    pub label: Option<usize>,
    pub predicted: usize,
    pub loss: f64,
    pub probability: Option<f64>,
    /// The loss's definition, shown after its value ("= ½·Σ(y − t)²", say).
    pub formula: AttrValue,
}

/// The true label, the predicted class and the loss, with full-precision values in
/// `data-value` for tests and copy-paste. Without a label (an mse loss) only the largest
/// output is named.
#[component]
pub fn Outcome(props: &OutcomeProps) -> Html {
    let class_rows = match props.label {
        Some(label) => {
            let verdict = if label == props.predicted {
                "correct"
            } else {
                "wrong"
            };
            let probability = props
                .probability
                .map(|p| format!(", p = {}", short(p)))
                .unwrap_or_default();
            html! { <>
                <dt>{ "Label" }</dt>
                <dd><output id="label" data-value={label.to_string()}>{ label }</output></dd>
                <dt>{ "Predicted" }</dt>
                <dd>
                    <output id="predicted" data-value={props.predicted.to_string()}>{ props.predicted }</output>
                    { format!(" ({verdict}{probability})") }
                </dd>
            </> }
        }
        None => html! { <>
            <dt>{ "Largest output" }</dt>
            <dd><output id="predicted" data-value={props.predicted.to_string()}>{ format!("y[{}]", props.predicted) }</output></dd>
        </> },
    };
    html! {
        <dl class="outcome">
            { class_rows }
            <dt>{ "Loss" }</dt>
            <dd>
                <output id="loss" data-value={format!("{:?}", props.loss)}>{ short(props.loss) }</output>
                <span class="formula">{ format!(" = {}", props.formula) }</span>
            </dd>
        </dl>
    }
}

#[cfg(test)]
mod tests {
    use super::parse_digit;

    #[test]
    fn digit_field_accepts_range_only() {
        assert_eq!(parse_digit(" 12 ", 1000), Ok(12));
        assert!(parse_digit("1000", 1000).unwrap_err().contains("0 to 999"));
        assert!(parse_digit("-1", 1000).is_err());
        assert!(parse_digit("abc", 1000).is_err());
        assert!(parse_digit("", 1000).is_err());
    }
}
