//! The panel for a selected cell: where its number comes from, its formula with the
//! numbers substituted, the sum beside the stored value, and every term.

use yew::prelude::*;

use crate::format::short;
use crate::formulas::{cell, meaning, substituted, symbol, term_symbols};
use crate::math::formula;
use crate::resolve::Resolved;

#[derive(Properties, PartialEq)]
pub struct ExplanationProps {
    pub resolved: Resolved,
    /// The selected cell as text ("δˣ[0][2][3] in step 4", say).
    pub label: AttrValue,
}

/// Terms listed in the table before the rest is folded away.
const TABLE_ROWS: usize = 400;

#[component]
pub fn ExplanationView(props: &ExplanationProps) -> Html {
    let resolved = &props.resolved;
    let body = match &resolved.explanation {
        None => html! {
            <p class="cell-line">
                { "Value: " }
                <output id="cell-value" data-value={format!("{:?}", resolved.value)}>{ short(resolved.value) }</output>
            </p>
        },
        Some(e) => {
            let agree = (e.result - e.value).abs() <= 1e-12 * (1.0 + e.value.abs());
            let mut names: Vec<&str> = e
                .terms
                .iter()
                .flat_map(|t| t.factors.iter().map(|f| f.tensor.as_str()))
                .chain(e.offset.iter().map(|f| f.tensor.as_str()))
                .collect();
            names.sort_unstable();
            names.dedup();
            html! { <>
                <div class="cell-formula" id="cell-formula" tabindex="0" role="region" aria-label="The selected cell's formula with its numbers">
                    { for substituted(e).iter().map(|piece| formula(piece, false)) }
                </div>
                <p class="cell-line">
                    { if e.terms.len() == 1 { "The single term: ".to_string() } else { format!("Sum of the {} terms: ", e.terms.len()) } }
                    <output id="cell-sum" data-value={format!("{:?}", e.result)}>{ short(e.result) }</output>
                    { "; value in the trace: " }
                    <output id="cell-value" data-value={format!("{:?}", e.value)}>{ short(e.value) }</output>
                    <span class={classes!("agree", (!agree).then_some("disagree"))}>
                        { if agree { " — they agree." } else { " — they differ!" } }
                    </span>
                </p>
                <ul class="symbols">
                    { for names.iter().filter(|n| !meaning(n).is_empty()).map(|n| html! {
                        <li><strong>{ symbol(n) }</strong>{ format!(": {}", meaning(n)) }</li>
                    }) }
                </ul>
                <details class="terms" tabindex="-1">
                    <summary>{ if e.terms.len() == 1 { "The term".to_string() } else { format!("All {} terms", e.terms.len()) } }</summary>
                    <table>
                        <thead><tr><th scope="col">{ "#" }</th><th scope="col">{ "factors" }</th><th scope="col">{ "values" }</th><th scope="col">{ "product" }</th></tr></thead>
                        <tbody>
                            { for e.terms.iter().take(TABLE_ROWS).enumerate().map(|(n, term)| html! {
                                <tr>
                                    <td>{ n + 1 }</td>
                                    <td>{ formula(&term_symbols(&term.factors), false) }</td>
                                    <td>{ term.factors.iter().map(|f| short(f.value)).collect::<Vec<_>>().join(" · ") }</td>
                                    <td>{ short(term.product) }</td>
                                </tr>
                            }) }
                        </tbody>
                    </table>
                    if e.terms.len() > TABLE_ROWS {
                        <p>{ format!("{} more terms are in the formula above.", e.terms.len() - TABLE_ROWS) }</p>
                    }
                </details>
                if let Some(offset) = &e.offset {
                    <p class="hint">{ "Plus " }{ formula(&cell(&offset.tensor, &offset.index), false) }{ format!(" = {}", short(offset.value)) }</p>
                }
            </> }
        }
    };
    html! {
        <section class="explanation" aria-labelledby="explanation-heading" aria-live="polite">
            <h3 id="explanation-heading">{ format!("Selected: {}", props.label) }</h3>
            <p class="note">{ resolved.note.clone() }</p>
            { body }
        </section>
    }
}
