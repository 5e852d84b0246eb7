//! The training view: settings and controls for a training run in the worker, and live
//! plots of the loss, the test accuracy and the per-layer gradient norms. Below them it
//! shows the first layer's kernels with their gradients, the confusion matrix, the
//! misclassified digits, and one digit tried with the current weights.
//!
//! The view mounts the first time it is shown and stays mounted while hidden, so that a
//! run goes on while the reader steps through the backward pass.

use std::rc::Rc;

use cnn_core::document::Document;
use yew::prelude::*;
use yew_agent::reactor::ReactorProvider;

use crate::assets::Assets;
use crate::training::reactor::TrainingReactor;

pub mod chart;
pub mod confusion;
pub mod digit;
pub mod form;
pub mod kernels;
pub mod model;
pub mod panel;
pub mod series;
pub mod storage;
pub mod try_digit;

/// The worker's script, relative to the page. Trunk names a worker after its binary and
/// writes `training_worker_bg.wasm` beside it.
pub const WORKER_PATH: &str = "training_worker.js";

/// The page's assets, compared by pointer: the digits are 785 KB, and the training
/// panel's children compare their props about ten times a second.
#[derive(Clone, Debug)]
pub struct SharedAssets(pub Rc<Assets>);

impl PartialEq for SharedAssets {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
}

#[derive(Properties, PartialEq)]
pub struct TrainingViewProps {
    pub visible: bool,
    /// The page's test digits; the view shows nothing until they are loaded.
    pub assets: Option<Rc<Assets>>,
    /// Called with a document that opens the step-through on a digit with the run's
    /// weights.
    pub on_open: Callback<Document>,
}

#[component]
pub fn TrainingView(props: &TrainingViewProps) -> Html {
    let opened = use_state(|| false);
    {
        let opened = opened.clone();
        use_effect_with(props.visible, move |visible| {
            if *visible && !*opened {
                opened.set(true);
            }
        });
    }
    let Some(assets) = &props.assets else {
        return Html::default();
    };
    if !*opened && !props.visible {
        return Html::default();
    }
    html! {
        <section id="training" class="training" hidden={!props.visible} aria-labelledby="training-heading">
            <ReactorProvider<TrainingReactor> path={WORKER_PATH}>
                <panel::TrainingPanel visible={props.visible} assets={SharedAssets(assets.clone())} on_open={props.on_open.clone()} />
            </ReactorProvider<TrainingReactor>>
        </section>
    }
}
