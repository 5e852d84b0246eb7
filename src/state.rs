//! The page state, the actions that change it, and the run of the core that turns a
//! [`Document`] (network, input, weights, objective) into a trace.
//!
//! Every edit arrives as a whole new document. The reducer builds it with the core; when
//! the core rejects it, the previous document and trace stay and the reason is shown.

use std::rc::Rc;

use cnn_core::document::{Document, InputSource, WeightSource};
use cnn_core::{LayerSpec, Loss, Network, Objective, PoolKind, Tensor, Trace};
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

/// A document built into a network and run.
#[derive(Clone, Debug, PartialEq)]
pub struct Session {
    pub network: Rc<Network>,
    pub input: Rc<Tensor>,
    pub objective: Rc<Objective>,
    pub trace: SharedTrace,
    /// The true label when the input is a test digit.
    pub digit_label: Option<usize>,
}

/// The place of a selected cell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Place {
    /// The output `y` of forward layer `layer`.
    Forward { layer: usize },
    /// The network input.
    Input,
    /// Tensor `tensor` of backward step `step`.
    Backward { step: usize, tensor: String },
}

/// A selected cell: its place and its index in that tensor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selection {
    pub place: Place,
    pub index: Vec<usize>,
}

/// The form of the conv input gradient the step view explains.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConvForm {
    /// Full correlation of the padded δ with the rotated kernels.
    Gather,
    /// Each δ cell adds δ·W onto the cells its window read.
    Scatter,
}

/// Automatic stepping through the backward pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Playback {
    Idle,
    Playing,
}

/// The views of the page below the network summary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ViewMode {
    /// One backward step at a time.
    Stepper,
    /// Every step of the trace at once.
    AllSteps,
    /// Training the digit network in a worker.
    Training,
}

#[derive(Clone, Debug, PartialEq)]
pub struct AppState {
    pub assets: Option<Rc<Assets>>,
    /// The last valid document, the one on screen.
    pub document: Document,
    pub session: Option<Session>,
    /// The preset the document came from, until the first edit.
    pub preset: Option<&'static str>,
    pub selection: Option<Selection>,
    pub playback: Playback,
    /// Delay between steps while playing, in milliseconds.
    pub speed_ms: u32,
    pub conv_form: ConvForm,
    pub mode: ViewMode,
    /// The reason the last edit was rejected, or loading failed.
    pub notice: Option<String>,
    /// A failure that leaves nothing to show (the assets did not load).
    pub fatal: Option<String>,
    /// Counts the traces computed, so effects can tell a new trace from an old one.
    pub generation: u64,
}

/// The preset shown when no link names another.
pub const DEFAULT_PRESET: &str = "digit";

impl Default for AppState {
    fn default() -> Self {
        let preset = cnn_core::tutorial::preset(DEFAULT_PRESET).expect("the default preset exists");
        Self {
            assets: None,
            document: preset.document,
            session: None,
            preset: Some(preset.id),
            selection: None,
            playback: Playback::Idle,
            speed_ms: 1200,
            conv_form: ConvForm::Gather,
            mode: ViewMode::Stepper,
            notice: None,
            fatal: None,
            generation: 0,
        }
    }
}

impl AppState {
    /// Number of backward steps of the trace on screen.
    pub fn step_count(&self) -> usize {
        self.session
            .as_ref()
            .map_or(0, |s| s.trace.0.backward.len())
    }
}

pub enum Action {
    Loaded(Rc<Assets>),
    LoadFailed(String),
    /// Shows a new document; when the core rejects it the old one stays.
    Apply {
        document: Document,
        preset: Option<&'static str>,
    },
    /// Shows a document from a permalink, or the reason it cannot be read.
    OpenLink(Result<Document, String>),
    /// Shows the document saved in this browser, or the reason it cannot be restored.
    OpenStored(Result<Document, String>),
    /// Goes back to the default preset.
    Reset,
    /// Sets every pool layer of the network to this kind.
    SetPool(PoolKind),
    /// Shows test digit `index`; the caller has checked that it is in range.
    SetDigit(usize),
    SetStep(usize),
    NextStep,
    PreviousStep,
    FirstStep,
    LastStep,
    TogglePlay,
    /// Advances one step while playing, and stops at the last step.
    Tick,
    SetSpeed(u32),
    Select(Option<Selection>),
    SetConvForm(ConvForm),
    SetMode(ViewMode),
    /// Shows why an edit was rejected, without changing the document.
    Reject(String),
    DismissNotice,
}

impl Reducible for AppState {
    type Action = Action;

    fn reduce(self: Rc<Self>, action: Action) -> Rc<Self> {
        let mut next = (*self).clone();
        let count = self.step_count();
        match action {
            Action::Loaded(assets) => {
                next.assets = Some(assets);
                let document = next.document.clone();
                next.rebuild(document, next.preset);
            }
            Action::LoadFailed(message) => next.fatal = Some(message),
            Action::Apply { document, preset } => {
                let was_trained = matches!(next.document.weights, WeightSource::Trained(_));
                let now_seeded = matches!(document.weights, WeightSource::Seeded(_));
                next.rebuild(document, preset);
                if was_trained && now_seeded && next.notice.is_none() && preset.is_none() {
                    next.notice = Some(
                        "The trained weights fit only the unchanged digit network, so the edited network uses seeded random weights; its loss and prediction are those of an untrained network. Pick the digit preset to get the trained weights back."
                            .into(),
                    );
                }
            }
            Action::OpenLink(Ok(document)) => next.rebuild(document, None),
            Action::OpenStored(Ok(document)) => next.rebuild(document, None),
            Action::OpenStored(Err(message)) => {
                next.notice = Some(format!("The saved view could not be restored: {message}. The default view is shown instead."));
            }
            Action::Reset => {
                let defaults = AppState::default();
                next.rebuild(defaults.document, defaults.preset);
                next.mode = ViewMode::Stepper;
            }
            Action::OpenLink(Err(message)) => {
                next.notice = Some(format!(
                    "The link could not be opened: {message} The default view is shown instead."
                ));
            }
            Action::SetPool(kind) => {
                let mut document = next.document.clone();
                for layer in &mut document.network.layers {
                    if let LayerSpec::Pool(pool) = layer {
                        pool.kind = kind;
                    }
                }
                if let WeightSource::Trained(_) = document.weights {
                    document.weights = WeightSource::Trained(kind);
                }
                let preset = next.preset;
                next.rebuild(document, preset);
            }
            Action::SetDigit(index) => {
                let mut document = next.document.clone();
                document.input = InputSource::Digit(index);
                next.rebuild(document, None);
            }
            Action::SetStep(step) => next.go_to(step.min(count.saturating_sub(1))),
            Action::NextStep => next.go_to((self.document.step + 1).min(count.saturating_sub(1))),
            Action::PreviousStep => next.go_to(self.document.step.saturating_sub(1)),
            Action::FirstStep => next.go_to(0),
            Action::LastStep => next.go_to(count.saturating_sub(1)),
            Action::TogglePlay => {
                next.playback = match self.playback {
                    Playback::Idle => {
                        if self.document.step + 1 >= count {
                            next.go_to(0);
                        }
                        Playback::Playing
                    }
                    Playback::Playing => Playback::Idle,
                };
            }
            Action::Tick => {
                if self.playback == Playback::Playing {
                    if self.document.step + 1 >= count {
                        next.playback = Playback::Idle;
                    } else {
                        next.go_to(self.document.step + 1);
                    }
                }
            }
            Action::SetSpeed(ms) => next.speed_ms = ms.clamp(200, 5000),
            Action::Select(selection) => next.selection = selection,
            Action::SetConvForm(form) => next.conv_form = form,
            Action::SetMode(mode) => next.mode = mode,
            Action::Reject(message) => next.notice = Some(message),
            Action::DismissNotice => next.notice = None,
        }
        Rc::new(next)
    }
}

impl AppState {
    fn go_to(&mut self, step: usize) {
        if step != self.document.step {
            self.document.step = step;
            // A selection in another step's tensors has nothing to point at any more.
            if matches!(
                self.selection,
                Some(Selection {
                    place: Place::Backward { .. },
                    ..
                })
            ) {
                self.selection = None;
            }
        }
    }

    /// Builds `document`; on success it replaces the one on screen, on failure the old one
    /// stays and `notice` gives the reason.
    fn rebuild(&mut self, document: Document, preset: Option<&'static str>) {
        let Some(assets) = self.assets.clone() else {
            self.document = document;
            self.preset = preset;
            return;
        };
        match build(&assets, &document) {
            Ok(session) => {
                let steps = session.trace.0.backward.len();
                self.document = document;
                self.document.step = self.document.step.min(steps.saturating_sub(1));
                self.session = Some(session);
                self.preset = preset;
                self.selection = None;
                self.notice = None;
                self.generation += 1;
            }
            Err(message) => {
                let kept = if self.session.is_some() {
                    "The previous network stays on screen."
                } else {
                    "The default view is shown instead."
                };
                self.notice = Some(format!("{message}. {kept}"));
                if self.session.is_none() {
                    // Nothing valid to fall back to, for example a bad link at start-up.
                    let fallback = AppState::default().document;
                    if let Ok(session) = build(&assets, &fallback) {
                        self.document = fallback;
                        self.session = Some(session);
                        self.preset = Some(DEFAULT_PRESET);
                        self.generation += 1;
                    }
                }
            }
        }
    }
}

/// Resolves the document's input and weights, builds the network and records the trace.
///
/// Errors: a digit index or trained weights the assets lack, or any core error, as a
/// sentence for the page.
pub fn build(assets: &Assets, document: &Document) -> Result<Session, String> {
    // Check the sizes before anything is allocated for them: fitting a digit to an absurd
    // input size would otherwise try to allocate it.
    document
        .network
        .plan()
        .map_err(|e| capitalise(&e.to_string()))?;
    let (input, digit_label) = match &document.input {
        InputSource::Values(values) => (values.clone(), None),
        InputSource::Digit(index) => {
            let count = assets.digits.len();
            if *index >= count {
                return Err(format!(
                    "Test digit {index} does not exist; use 0 to {}",
                    count.saturating_sub(1)
                ));
            }
            let digit = assets.digits.image(*index);
            let fitted = fit_image(&digit, document.network.input);
            (fitted, Some(assets.digits.label(*index)))
        }
    };
    let network = match &document.weights {
        WeightSource::Seeded(seed) => Network::seeded(document.network.clone(), *seed),
        WeightSource::Values(params) => Network::new(document.network.clone(), params.clone()),
        WeightSource::Trained(pool) => {
            let set = assets
                .weights
                .set(*pool)
                .ok_or_else(|| format!("The weights file has no network with {} pooling", pool.name()))?;
            if set.network != document.network {
                return Err("The trained weights fit only the default digit network; choose seeded weights for an edited network".into());
            }
            Network::new(set.network.clone(), set.params.clone())
        }
    }
    .map_err(|e| capitalise(&e.to_string()))?;

    // A digit input carries its own label into a cross-entropy loss.
    let mut objective = document.objective.clone();
    if let (Some(label), Objective::Loss(Loss::SoftmaxCrossEntropy { label: slot })) =
        (digit_label, &mut objective)
    {
        let classes: usize = network.plan().output_shape().iter().product();
        if label < classes {
            *slot = label;
        }
    }
    let trace =
        Trace::record(&network, &input, &objective).map_err(|e| capitalise(&e.to_string()))?;
    Ok(Session {
        network: Rc::new(network),
        input: Rc::new(input),
        objective: Rc::new(objective),
        trace: SharedTrace(Rc::new(trace)),
        digit_label,
    })
}

/// Scales a `[1, H, W]` image to `shape` by nearest-neighbour sampling, repeating it over
/// every channel.
pub fn fit_image(image: &Tensor, shape: [usize; 3]) -> Tensor {
    let (rows, cols) = (image.shape()[1], image.shape()[2]);
    if shape == [1, rows, cols] {
        return image.clone();
    }
    Tensor::from_fn3(shape, |_, h, w| {
        let source_row = (h * rows) / shape[1].max(1);
        let source_col = (w * cols) / shape[2].max(1);
        image.data()[source_row * cols + source_col]
    })
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().collect::<String>() + chars.as_str(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_image_keeps_matching_size() {
        let image = Tensor::from_fn3([1, 2, 2], |_, h, w| (h * 2 + w) as f64);
        assert_eq!(fit_image(&image, [1, 2, 2]), image);
    }

    #[test]
    fn fit_image_samples_nearest_cell() {
        let image = Tensor::from_fn3([1, 2, 2], |_, h, w| (h * 2 + w) as f64);
        let fitted = fit_image(&image, [2, 4, 4]);
        assert_eq!(fitted.shape(), &[2, 4, 4]);
        assert_eq!(fitted.get(&[0, 0, 1]), Some(0.0));
        assert_eq!(fitted.get(&[1, 3, 3]), Some(3.0));
    }
}
