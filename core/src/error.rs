//! The one error type of the core. Every message names where the problem is (the network
//! input or a layer with its index and kind), the offending value, and a fix.

use std::fmt;

/// Where in a network a problem sits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    /// The network's input map.
    Input,
    /// Layer `index` (0-based) of kind `kind` ("conv", "activation", "pool", "dense").
    Layer { index: usize, kind: &'static str },
    /// The loss or upstream gradient after the last layer.
    Objective,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Input => f.write_str("input"),
            Location::Layer { index, kind } => write!(f, "layer {index} ({kind})"),
            Location::Objective => f.write_str("loss"),
        }
    }
}

/// An invalid network, parameter set, input or objective.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum CoreError {
    #[error("{at}: {field} is 0; every size must be at least 1")]
    ZeroSize { at: Location, field: &'static str },

    #[error("{at}: {field} is 0; use a stride of at least 1")]
    ZeroStride { at: Location, field: &'static str },

    #[error("{at}: {field} is 0; use a dilation of at least 1 (1 means no gaps between taps)")]
    ZeroDilation { at: Location, field: &'static str },

    #[error(
        "{at}: the kernel spans {extent} {axis} (size {size}, dilation {dilation}) but the \
         padded input has only {padded}; use a smaller kernel or dilation, or more padding"
    )]
    KernelTooLarge {
        at: Location,
        axis: &'static str,
        size: usize,
        dilation: usize,
        extent: usize,
        padded: usize,
    },

    #[error(
        "{at}: the pooling window has {size} {axis} but its input has only {input}; \
         use a window of at most {input} {axis}"
    )]
    WindowTooLarge {
        at: Location,
        axis: &'static str,
        size: usize,
        input: usize,
    },

    #[error(
        "{at}: needs a C×H×W map but its input is a vector of {len} values (the output of a \
         dense layer); move this layer before the dense layer"
    )]
    NeedsMap { at: Location, len: usize },

    #[error(
        "{at}: the dense layer has no input values; give the layers before it a non-empty output"
    )]
    DenseNoInput { at: Location },

    #[error("the network has no layers; add at least one layer")]
    NoLayers,

    #[error("the network has {count} layers; at most {max} are allowed")]
    TooManyLayers { count: usize, max: usize },

    #[error(
        "{at}: {what} would hold {amount} values, over the budget of {budget}; \
         use smaller sizes or fewer kernels"
    )]
    TooLarge {
        at: Location,
        what: &'static str,
        amount: u128,
        budget: u128,
    },

    #[error("{count} parameter entries for {layers} layers; give one entry per layer (null for layers without parameters)")]
    ParamCount { count: usize, layers: usize },

    #[error(
        "{at}: missing weights and bias; give {{\"weights\": ..., \"bias\": ...}} for this layer"
    )]
    MissingParams { at: Location },

    #[error("{at}: this layer has no parameters but an entry was given; use null for it")]
    UnexpectedParams { at: Location },

    #[error("{at}: {tensor} has shape {actual:?} but must have shape {expected:?}")]
    WrongShape {
        at: Location,
        tensor: &'static str,
        expected: Vec<usize>,
        actual: Vec<usize>,
    },

    #[error("{at}: {tensor}{index:?} is {value}; every value must be a finite number")]
    NotFinite {
        at: Location,
        tensor: &'static str,
        index: Vec<usize>,
        value: f64,
    },

    #[error("label {label} is out of range; the network has {classes} outputs, so use 0 to {}", classes.saturating_sub(1))]
    LabelOutOfRange { label: usize, classes: usize },

    #[error("give either an upstream gradient or a loss, not both")]
    TwoObjectives,

    #[error("no upstream gradient and no loss were given; give one of them")]
    NoObjective,
}

impl CoreError {
    /// The location the error names, when it names one.
    pub fn location(&self) -> Option<&Location> {
        match self {
            CoreError::ZeroSize { at, .. }
            | CoreError::ZeroStride { at, .. }
            | CoreError::ZeroDilation { at, .. }
            | CoreError::KernelTooLarge { at, .. }
            | CoreError::WindowTooLarge { at, .. }
            | CoreError::NeedsMap { at, .. }
            | CoreError::DenseNoInput { at }
            | CoreError::TooLarge { at, .. }
            | CoreError::MissingParams { at }
            | CoreError::UnexpectedParams { at }
            | CoreError::WrongShape { at, .. }
            | CoreError::NotFinite { at, .. } => Some(at),
            _ => None,
        }
    }
}
