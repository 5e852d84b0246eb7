//! The page state, the actions that change it, and the run of the core that turns a state
//! into a trace.

use std::rc::Rc;

use cnn_core::{Loss, Network, Objective, PoolKind, Trace};
use yew::Reducible;

use crate::assets::Assets;

/// A trace shared by the components; two handles are equal when they point to the same
/// trace, so that props compare in constant time.
#[derive(Clone, Debug)]
pub struct SharedTrace(pub Rc<Trace>);

impl PartialEq for SharedTrace {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
}

/// What the page shows.
#[derive(Clone, Debug, PartialEq)]
pub enum View {
    Loading,
    Ready {
        trace: SharedTrace,
        label: usize,
    },
    /// The assets failed to load or the core rejected the run.
    Failed(String),
}

#[derive(Clone, Debug, PartialEq)]
pub struct AppState {
    pub assets: Option<Rc<Assets>>,
    pub pool: PoolKind,
    /// 0-based index into the test digits.
    pub digit: usize,
    pub view: View,
    /// Counts the traces computed, so effects can tell a new trace from an old one.
    pub generation: u64,
}

impl Default for AppState {
    fn default() -> Self {
        Self {
            assets: None,
            pool: PoolKind::Max,
            digit: DEFAULT_DIGIT,
            view: View::Loading,
            generation: 0,
        }
    }
}

/// The first digit shown: a 7 (the test split is sorted by class) that the trained
/// max-pool network gets right with a loss near 0.24, so its δ maps are far from zero.
pub const DEFAULT_DIGIT: usize = 707;

pub enum Action {
    Loaded(Rc<Assets>),
    LoadFailed(String),
    SetPool(PoolKind),
    /// Shows test digit `index`; the caller has checked that it is in range.
    SetDigit(usize),
}

impl Reducible for AppState {
    type Action = Action;

    fn reduce(self: Rc<Self>, action: Action) -> Rc<Self> {
        let mut next = (*self).clone();
        match action {
            Action::Loaded(assets) => next.assets = Some(assets),
            Action::LoadFailed(message) => {
                next.view = View::Failed(message);
                return Rc::new(next);
            }
            Action::SetPool(pool) => next.pool = pool,
            Action::SetDigit(index) => next.digit = index,
        }
        let Some(assets) = next.assets.clone() else {
            return Rc::new(next);
        };
        next.view = match run(&assets, next.pool, next.digit) {
            Ok((trace, label)) => View::Ready {
                trace: SharedTrace(Rc::new(trace)),
                label,
            },
            Err(message) => View::Failed(message),
        };
        next.generation += 1;
        Rc::new(next)
    }
}

/// Runs the trained network for `pool` on test digit `digit` with the cross-entropy loss
/// on its label.
///
/// Errors: no weights for `pool`, a digit index out of range, or a core error.
pub fn run(assets: &Assets, pool: PoolKind, digit: usize) -> Result<(Trace, usize), String> {
    let set = assets.weights.set(pool).ok_or_else(|| {
        format!(
            "the weights file has no network with {} pooling",
            pool.name()
        )
    })?;
    if digit >= assets.digits.len() {
        return Err(format!(
            "digit {digit} is out of range; use 0 to {}",
            assets.digits.len().saturating_sub(1)
        ));
    }
    let network =
        Network::new(set.network.clone(), set.params.clone()).map_err(|e| e.to_string())?;
    let label = assets.digits.label(digit);
    let objective = Objective::Loss(Loss::SoftmaxCrossEntropy { label });
    let trace = Trace::record(&network, &assets.digits.image(digit), &objective)
        .map_err(|e| e.to_string())?;
    Ok((trace, label))
}
