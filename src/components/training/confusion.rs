//! The confusion matrix on the test digits, and the digits the network got wrong.

use std::rc::Rc;

use yew::prelude::*;

use super::digit::DigitImage;
use super::SharedAssets;
use crate::components::heatmap::{cell_size, Heatmap};
use crate::format::short;
use crate::training::protocol::TestReport;

/// Most misclassified digits shown.
pub const MAX_MISSES: usize = 40;

#[derive(Properties, PartialEq)]
pub struct ConfusionProps {
    pub report: Rc<TestReport>,
}

/// Shows the 10 × 10 counts with true labels as rows and predictions as columns.
#[component]
pub fn Confusion(props: &ConfusionProps) -> Html {
    let report = &props.report;
    let classes = report.confusion.len();
    let values: Rc<[f64]> = report
        .confusion
        .iter()
        .flatten()
        .map(|&count| count as f64)
        .collect::<Vec<_>>()
        .into();
    let scale = values.iter().copied().fold(0.0, f64::max);
    let numbers = |axis: &'static str| {
        html! {
            <div class={classes!("confusion-axis", axis)} aria-hidden="true">
                { for (0..classes).map(|c| html! { <span>{ c }</span> }) }
            </div>
        }
    };
    let caption = format!(
        "Rows: true label, columns: predicted label, on {} test digits after step {}",
        report.confusion.iter().flatten().sum::<usize>(),
        report.step
    );
    html! {
        <div class="confusion" id="confusion" data-accuracy={format!("{:?}", report.accuracy)}>
            <p class="confusion-title">{ format!("Test accuracy {}%, mean loss {}", short(100.0 * report.accuracy), short(report.mean_loss)) }</p>
            <div class="confusion-grid" style={format!("--cell: {}px;", cell_size(classes, classes))}>
                <span aria-hidden="true"></span>
                { numbers("columns") }
                { numbers("rows") }
                <Heatmap {values} rows={classes} cols={classes} {scale} caption={caption} tensor="confusion" />
            </div>
        </div>
    }
}

#[derive(Properties, PartialEq)]
pub struct MissesProps {
    pub report: Rc<TestReport>,
    /// The page's assets, whose test digits the report indexes.
    pub assets: SharedAssets,
    /// Called with the test digit index of a clicked digit.
    pub on_pick: Callback<usize>,
}

/// Shows the first [`MAX_MISSES`] misclassified test digits with their true and predicted labels.
#[component]
pub fn Misses(props: &MissesProps) -> Html {
    let misses = &props.report.misses;
    let digits = &props.assets.0.digits;
    let listed = misses
        .iter()
        .filter(|m| m.index < digits.len())
        .take(MAX_MISSES);
    let items = listed.map(|miss| {
        let pixels: Rc<[f64]> = digits
            .pixels(miss.index)
            .iter()
            .map(|&p| p as f64 / 255.0)
            .collect::<Vec<_>>()
            .into();
        let onclick = {
            let (on_pick, index) = (props.on_pick.clone(), miss.index);
            Callback::from(move |_: MouseEvent| on_pick.emit(index))
        };
        let text = format!("{} → {}", miss.label, miss.predicted);
        let label = format!(
            "Test digit {}: a {} predicted as {}",
            miss.index, miss.label, miss.predicted
        );
        html! {
            <li>
                <button type="button" class="miss" {onclick} title={label.clone()} data-index={miss.index.to_string()}>
                    <DigitImage {pixels} label={label} />
                    <span>{ text }</span>
                </button>
            </li>
        }
    });
    let heading = if misses.len() > MAX_MISSES {
        format!(
            "{} misclassified test digits, the first {MAX_MISSES} shown (true → predicted); pick one to try it",
            misses.len()
        )
    } else {
        format!(
            "{} misclassified test digits (true → predicted); pick one to try it",
            misses.len()
        )
    };
    html! {
        <div class="misses">
            <p>{ heading }</p>
            <ul class="miss-list">{ for items }</ul>
        </div>
    }
}
