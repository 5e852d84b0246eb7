//! The network editor's draft: the text of every field, kept as typed until the whole
//! draft forms a network that the limits in [`crate::limits`] and the core accept.
//!
//! The draft is a flat list of layers like [`NetworkSpec`] itself, so that any network (a
//! pool-only preset, a permalink) stays editable. The structure operations add a stage
//! (conv, activation, pool), a single layer or a final dense layer, and remove or move one
//! layer.

use cnn_core::conv::ConvSpec;
use cnn_core::dense::DenseSpec;
use cnn_core::pool::{PoolKind, PoolSpec};
use cnn_core::spec::Plan;
use cnn_core::{Activation, CoreError, LayerSpec, NetworkSpec};

use crate::limits::{self, Range};

/// One whole-number setting of the network.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Field {
    InputChannels,
    InputHeight,
    InputWidth,
    Kernels,
    /// Kernel height (axis 0) or width (axis 1); the same axes for the fields below.
    KernelSize(usize),
    ConvStride(usize),
    Padding(usize),
    Dilation(usize),
    PoolSize(usize),
    PoolStride(usize),
    Outputs,
}

impl Field {
    /// Returns the allowed range, from [`crate::limits`].
    pub fn range(self) -> Range {
        match self {
            Field::InputChannels => limits::INPUT_CHANNELS,
            Field::InputHeight | Field::InputWidth => limits::INPUT_SIZE,
            Field::Kernels => limits::KERNELS,
            Field::KernelSize(_) => limits::KERNEL_SIZE,
            Field::ConvStride(_) => limits::CONV_STRIDE,
            Field::Padding(_) => limits::PADDING,
            Field::Dilation(_) => limits::DILATION,
            Field::PoolSize(_) => limits::POOL_SIZE,
            Field::PoolStride(_) => limits::POOL_STRIDE,
            Field::Outputs => limits::DENSE_OUTPUTS,
        }
    }

    /// Returns the name used in messages and accessible names, with the core's symbols.
    pub fn name(self) -> &'static str {
        match self {
            Field::InputChannels => "channels C",
            Field::InputHeight => "height H",
            Field::InputWidth => "width W",
            Field::Kernels => "kernels K",
            Field::KernelSize(0) => "kernel height FH",
            Field::KernelSize(_) => "kernel width FW",
            Field::ConvStride(0) | Field::PoolStride(0) => "stride SH",
            Field::ConvStride(_) | Field::PoolStride(_) => "stride SW",
            Field::Padding(0) => "padding PH",
            Field::Padding(_) => "padding PW",
            Field::Dilation(0) => "dilation DH",
            Field::Dilation(_) => "dilation DW",
            Field::PoolSize(0) => "window height",
            Field::PoolSize(_) => "window width",
            Field::Outputs => "outputs",
        }
    }

    /// Returns the part of the element id after the layer: "kernels", "size-h"…
    pub fn slug(self) -> &'static str {
        match self {
            Field::InputChannels => "channels",
            Field::InputHeight => "height",
            Field::InputWidth => "width",
            Field::Kernels => "kernels",
            Field::KernelSize(0) => "size-h",
            Field::KernelSize(_) => "size-w",
            Field::ConvStride(0) => "stride-h",
            Field::ConvStride(_) => "stride-w",
            Field::Padding(0) => "padding-h",
            Field::Padding(_) => "padding-w",
            Field::Dilation(0) => "dilation-h",
            Field::Dilation(_) => "dilation-w",
            Field::PoolSize(0) => "pool-size-h",
            Field::PoolSize(_) => "pool-size-w",
            Field::PoolStride(0) => "pool-stride-h",
            Field::PoolStride(_) => "pool-stride-w",
            Field::Outputs => "outputs",
        }
    }
}

/// The place of a field: the input (`layer` is `None`) or layer `layer`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FieldKey {
    pub layer: Option<usize>,
    pub field: Field,
}

impl FieldKey {
    pub fn input(field: Field) -> Self {
        Self { layer: None, field }
    }

    pub fn layer(layer: usize, field: Field) -> Self {
        Self {
            layer: Some(layer),
            field,
        }
    }

    /// Returns the element id, such as "input-channels" or "layer-0-kernels".
    pub fn id(&self) -> String {
        match self.layer {
            None => format!("input-{}", self.field.slug()),
            Some(layer) => format!("layer-{layer}-{}", self.field.slug()),
        }
    }
}

/// The draft of one layer; sizes are the text typed.
#[derive(Clone, Debug, PartialEq)]
pub enum LayerDraft {
    Conv {
        kernels: String,
        size: [String; 2],
        stride: [String; 2],
        padding: [String; 2],
        dilation: [String; 2],
    },
    Activation(Activation),
    Pool {
        kind: PoolKind,
        size: [String; 2],
        stride: [String; 2],
    },
    Dense {
        outputs: String,
    },
}

fn texts(values: [usize; 2]) -> [String; 2] {
    values.map(|v| v.to_string())
}

impl LayerDraft {
    pub fn from_spec(spec: &LayerSpec) -> Self {
        match spec {
            LayerSpec::Conv(c) => LayerDraft::Conv {
                kernels: c.kernels.to_string(),
                size: texts(c.size),
                stride: texts(c.stride),
                padding: texts(c.padding),
                dilation: texts(c.dilation),
            },
            LayerSpec::Activation(f) => LayerDraft::Activation(*f),
            LayerSpec::Pool(p) => LayerDraft::Pool {
                kind: p.kind,
                size: texts(p.size),
                stride: texts(p.stride),
            },
            LayerSpec::Dense(d) => LayerDraft::Dense {
                outputs: d.outputs.to_string(),
            },
        }
    }

    /// Returns the layer kind as the core writes it: "conv", "activation", "pool" or "dense".
    pub fn kind(&self) -> &'static str {
        match self {
            LayerDraft::Conv { .. } => "conv",
            LayerDraft::Activation(_) => "activation",
            LayerDraft::Pool { .. } => "pool",
            LayerDraft::Dense { .. } => "dense",
        }
    }

    /// Lists the whole-number fields of this layer, in the order they are shown.
    pub fn fields(&self) -> Vec<Field> {
        match self {
            LayerDraft::Conv { .. } => vec![
                Field::Kernels,
                Field::KernelSize(0),
                Field::KernelSize(1),
                Field::ConvStride(0),
                Field::ConvStride(1),
                Field::Padding(0),
                Field::Padding(1),
                Field::Dilation(0),
                Field::Dilation(1),
            ],
            LayerDraft::Activation(_) => vec![],
            LayerDraft::Pool { .. } => vec![
                Field::PoolSize(0),
                Field::PoolSize(1),
                Field::PoolStride(0),
                Field::PoolStride(1),
            ],
            LayerDraft::Dense { .. } => vec![Field::Outputs],
        }
    }

    pub fn text(&self, field: Field) -> Option<&str> {
        self.text_slot(field).map(|s| s.as_str())
    }

    fn text_slot(&self, field: Field) -> Option<&String> {
        match (self, field) {
            (LayerDraft::Conv { kernels, .. }, Field::Kernels) => Some(kernels),
            (LayerDraft::Conv { size, .. }, Field::KernelSize(a)) => size.get(a),
            (LayerDraft::Conv { stride, .. }, Field::ConvStride(a)) => stride.get(a),
            (LayerDraft::Conv { padding, .. }, Field::Padding(a)) => padding.get(a),
            (LayerDraft::Conv { dilation, .. }, Field::Dilation(a)) => dilation.get(a),
            (LayerDraft::Pool { size, .. }, Field::PoolSize(a)) => size.get(a),
            (LayerDraft::Pool { stride, .. }, Field::PoolStride(a)) => stride.get(a),
            (LayerDraft::Dense { outputs }, Field::Outputs) => Some(outputs),
            _ => None,
        }
    }

    fn text_mut(&mut self, field: Field) -> Option<&mut String> {
        match (self, field) {
            (LayerDraft::Conv { kernels, .. }, Field::Kernels) => Some(kernels),
            (LayerDraft::Conv { size, .. }, Field::KernelSize(a)) => size.get_mut(a),
            (LayerDraft::Conv { stride, .. }, Field::ConvStride(a)) => stride.get_mut(a),
            (LayerDraft::Conv { padding, .. }, Field::Padding(a)) => padding.get_mut(a),
            (LayerDraft::Conv { dilation, .. }, Field::Dilation(a)) => dilation.get_mut(a),
            (LayerDraft::Pool { size, .. }, Field::PoolSize(a)) => size.get_mut(a),
            (LayerDraft::Pool { stride, .. }, Field::PoolStride(a)) => stride.get_mut(a),
            (LayerDraft::Dense { outputs }, Field::Outputs) => Some(outputs),
            _ => None,
        }
    }
}

/// A layer of the draft with an id that stays the same when layers move, for keyed
/// rendering.
#[derive(Clone, Debug, PartialEq)]
pub struct DraftLayer {
    pub id: u64,
    pub draft: LayerDraft,
    /// The layer as loaded (from a preset or link), for layers not added in the editor.
    pub origin: Option<LayerSpec>,
}

/// The outcome of checking a draft.
#[derive(Clone, Debug, PartialEq)]
pub enum Check {
    /// Fields outside their range, each with its message, in the order shown.
    Fields(Vec<(FieldKey, String)>),
    /// Every field is in range but the core rejects the network.
    Core {
        spec: NetworkSpec,
        error: CoreError,
    },
    Valid {
        spec: NetworkSpec,
        plan: Plan,
    },
}

/// The draft of a whole network.
///
/// A loaded network may hold sizes outside the editor's ranges that the core accepts,
/// such as the 12 kernels of the trained digit network. Such a value is accepted while
/// its field still contains it, so that the rest of the network stays editable. A typed
/// value must be in range.
#[derive(Clone, Debug, PartialEq)]
pub struct NetworkDraft {
    /// Channels, height and width of the input.
    pub input: [String; 3],
    pub layers: Vec<DraftLayer>,
    /// The input shape as loaded.
    input_origin: [usize; 3],
    next_id: u64,
}

const INPUT_FIELDS: [Field; 3] = [Field::InputChannels, Field::InputHeight, Field::InputWidth];

/// Makes a new conv layer: 2 kernels of 3×3 with padding 1, which keeps the map size.
fn default_conv() -> LayerDraft {
    LayerDraft::from_spec(&LayerSpec::Conv(ConvSpec {
        kernels: 2,
        size: [3, 3],
        stride: [1, 1],
        padding: [1, 1],
        dilation: [1, 1],
    }))
}

/// Makes a new max pool layer: 2×2 with stride 2, shrunk to fit a map of `rows` × `cols`.
fn default_pool(rows: usize, cols: usize) -> LayerDraft {
    let size = [rows.clamp(1, 2), cols.clamp(1, 2)];
    LayerDraft::from_spec(&LayerSpec::Pool(PoolSpec {
        kind: PoolKind::Max,
        size,
        stride: size,
    }))
}

/// The outputs of a new dense layer, one per digit class.
const DEFAULT_OUTPUTS: usize = 10;

impl NetworkDraft {
    pub fn from_spec(spec: &NetworkSpec) -> Self {
        let layers: Vec<DraftLayer> = spec
            .layers
            .iter()
            .enumerate()
            .map(|(id, layer)| DraftLayer {
                id: id as u64,
                draft: LayerDraft::from_spec(layer),
                origin: Some(layer.clone()),
            })
            .collect();
        Self {
            input: spec.input.map(|v| v.to_string()),
            input_origin: spec.input,
            next_id: layers.len() as u64,
            layers,
        }
    }

    /// Returns the text of the field at `key`, or `None` when that layer has no such field.
    pub fn text(&self, key: FieldKey) -> Option<&str> {
        match key.layer {
            None => INPUT_FIELDS
                .iter()
                .position(|f| *f == key.field)
                .map(|axis| self.input[axis].as_str()),
            Some(layer) => self.layers.get(layer)?.draft.text(key.field),
        }
    }

    /// Replaces the text of the field at `key`; does nothing when there is no such field.
    pub fn set_text(&mut self, key: FieldKey, text: &str) {
        let slot = match key.layer {
            None => INPUT_FIELDS
                .iter()
                .position(|f| *f == key.field)
                .map(|axis| &mut self.input[axis]),
            Some(layer) => self
                .layers
                .get_mut(layer)
                .and_then(|l| l.draft.text_mut(key.field)),
        };
        if let Some(slot) = slot {
            *slot = text.to_string();
        }
    }

    pub fn set_activation(&mut self, layer: usize, function: Activation) {
        if let Some(DraftLayer {
            draft: LayerDraft::Activation(f),
            ..
        }) = self.layers.get_mut(layer)
        {
            *f = function;
        }
    }

    pub fn set_pool_kind(&mut self, layer: usize, pool: PoolKind) {
        if let Some(DraftLayer {
            draft: LayerDraft::Pool { kind, .. },
            ..
        }) = self.layers.get_mut(layer)
        {
            *kind = pool;
        }
    }

    /// Returns the message for a field outside its range, or `None` when it is in range.
    pub fn field_error(&self, key: FieldKey) -> Option<String> {
        self.parse(key).err()
    }

    /// Returns the loaded value of the field at `key`, for layers that were loaded.
    fn origin(&self, key: FieldKey) -> Option<usize> {
        let Some(layer) = key.layer else {
            let axis = INPUT_FIELDS.iter().position(|f| *f == key.field)?;
            return Some(self.input_origin[axis]);
        };
        let origin = self.layers.get(layer)?.origin.as_ref()?;
        let axis = |values: [usize; 2], a: usize| values.get(a).copied();
        match (origin, key.field) {
            (LayerSpec::Conv(c), Field::Kernels) => Some(c.kernels),
            (LayerSpec::Conv(c), Field::KernelSize(a)) => axis(c.size, a),
            (LayerSpec::Conv(c), Field::ConvStride(a)) => axis(c.stride, a),
            (LayerSpec::Conv(c), Field::Padding(a)) => axis(c.padding, a),
            (LayerSpec::Conv(c), Field::Dilation(a)) => axis(c.dilation, a),
            (LayerSpec::Pool(p), Field::PoolSize(a)) => axis(p.size, a),
            (LayerSpec::Pool(p), Field::PoolStride(a)) => axis(p.stride, a),
            (LayerSpec::Dense(d), Field::Outputs) => Some(d.outputs),
            _ => None,
        }
    }

    /// Returns the loaded value outside the editor's range that the field at `key` still
    /// contains, if any.
    pub fn kept_out_of_range(&self, key: FieldKey) -> Option<usize> {
        let value = self.text(key)?.trim().parse::<usize>().ok()?;
        let range = key.field.range();
        let outside = value < range.min || value > range.max;
        (outside && self.origin(key) == Some(value)).then_some(value)
    }

    /// Parses the field at `key`: a loaded value as it is, a typed one against its range.
    fn parse(&self, key: FieldKey) -> Result<usize, String> {
        if let Some(value) = self.kept_out_of_range(key) {
            return Ok(value);
        }
        let text = self.text(key).unwrap_or_default();
        limits::parse_whole(text, &field_label(self, key), key.field.range())
    }

    /// Checks every field against its range, then the network with the core.
    pub fn check(&self) -> Check {
        let mut problems = Vec::new();
        let mut value = |key: FieldKey| -> usize {
            self.parse(key).unwrap_or_else(|message| {
                problems.push((key, message));
                0
            })
        };
        let input = INPUT_FIELDS.map(|f| value(FieldKey::input(f)));
        let mut layers = Vec::with_capacity(self.layers.len());
        for (index, layer) in self.layers.iter().enumerate() {
            let mut at = |field: Field| value(FieldKey::layer(index, field));
            let spec = match &layer.draft {
                LayerDraft::Conv { .. } => LayerSpec::Conv(ConvSpec {
                    kernels: at(Field::Kernels),
                    size: [at(Field::KernelSize(0)), at(Field::KernelSize(1))],
                    stride: [at(Field::ConvStride(0)), at(Field::ConvStride(1))],
                    padding: [at(Field::Padding(0)), at(Field::Padding(1))],
                    dilation: [at(Field::Dilation(0)), at(Field::Dilation(1))],
                }),
                LayerDraft::Activation(f) => LayerSpec::Activation(*f),
                LayerDraft::Pool { kind, .. } => LayerSpec::Pool(PoolSpec {
                    kind: *kind,
                    size: [at(Field::PoolSize(0)), at(Field::PoolSize(1))],
                    stride: [at(Field::PoolStride(0)), at(Field::PoolStride(1))],
                }),
                LayerDraft::Dense { .. } => LayerSpec::Dense(DenseSpec {
                    outputs: at(Field::Outputs),
                }),
            };
            layers.push(spec);
        }
        if !problems.is_empty() {
            return Check::Fields(problems);
        }
        let spec = NetworkSpec { input, layers };
        match spec.plan() {
            Ok(plan) => Check::Valid { spec, plan },
            Err(error) => Check::Core { spec, error },
        }
    }

    /// Returns whether any layer is dense.
    pub fn has_dense(&self) -> bool {
        self.layers
            .iter()
            .any(|l| matches!(l.draft, LayerDraft::Dense { .. }))
    }

    /// Returns where new conv, activation and pool layers go: before the first dense
    /// layer, so that a final dense layer stays last.
    pub fn insert_position(&self) -> usize {
        self.layers
            .iter()
            .position(|l| matches!(l.draft, LayerDraft::Dense { .. }))
            .unwrap_or(self.layers.len())
    }

    /// Returns the map height and width reaching `position`, when the draft is valid.
    fn map_size_at(&self, position: usize) -> Option<(usize, usize)> {
        match self.check() {
            Check::Valid { plan, .. } => match plan.shapes.get(position)?.as_slice() {
                [_, rows, cols] => Some((*rows, *cols)),
                _ => None,
            },
            _ => None,
        }
    }

    fn insert(&mut self, position: usize, drafts: Vec<LayerDraft>) {
        let position = position.min(self.layers.len());
        for (offset, draft) in drafts.into_iter().enumerate() {
            let id = self.next_id;
            self.next_id += 1;
            self.layers.insert(
                position + offset,
                DraftLayer {
                    id,
                    draft,
                    origin: None,
                },
            );
        }
    }

    /// Adds conv 2@3×3 (padding 1), relu and a 2×2 max pool before any dense layer.
    pub fn add_stage(&mut self) {
        let position = self.insert_position();
        let (rows, cols) = self.map_size_at(position).unwrap_or((2, 2));
        self.insert(
            position,
            vec![
                default_conv(),
                LayerDraft::Activation(Activation::Relu),
                default_pool(rows, cols),
            ],
        );
    }

    pub fn add_conv(&mut self) {
        let position = self.insert_position();
        self.insert(position, vec![default_conv()]);
    }

    pub fn add_activation(&mut self) {
        let position = self.insert_position();
        self.insert(position, vec![LayerDraft::Activation(Activation::Relu)]);
    }

    pub fn add_pool(&mut self) {
        let position = self.insert_position();
        let (rows, cols) = self.map_size_at(position).unwrap_or((2, 2));
        self.insert(position, vec![default_pool(rows, cols)]);
    }

    /// Appends a dense layer with 10 outputs, unless the draft has one already.
    pub fn add_dense(&mut self) {
        if !self.has_dense() {
            let end = self.layers.len();
            self.insert(
                end,
                vec![LayerDraft::Dense {
                    outputs: DEFAULT_OUTPUTS.to_string(),
                }],
            );
        }
    }

    /// Removes layer `layer`, unless it is the only one (a network needs a layer).
    pub fn remove(&mut self, layer: usize) {
        if self.layers.len() > 1 && layer < self.layers.len() {
            self.layers.remove(layer);
        }
    }

    pub fn move_up(&mut self, layer: usize) {
        if layer > 0 && layer < self.layers.len() {
            self.layers.swap(layer - 1, layer);
        }
    }

    pub fn move_down(&mut self, layer: usize) {
        if layer + 1 < self.layers.len() {
            self.layers.swap(layer, layer + 1);
        }
    }
}

/// Returns the name of the field at `key` in messages: "Input channels C" or
/// "Layer 0 (conv) kernels K".
pub fn field_label(draft: &NetworkDraft, key: FieldKey) -> String {
    match key.layer {
        None => format!("Input {}", key.field.name()),
        Some(layer) => {
            let kind = draft.layers.get(layer).map_or("layer", |l| l.draft.kind());
            format!("Layer {layer} ({kind}) {}", key.field.name())
        }
    }
}

/// Writes a core error as a sentence: capitalised, with a final full stop.
pub fn core_message(error: &CoreError) -> String {
    let text = error.to_string();
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => format!(
            "{}{}.",
            first.to_uppercase().collect::<String>(),
            chars.as_str()
        ),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cnn_core::tutorial;

    fn one_stage() -> NetworkSpec {
        tutorial::preset("one-stage").unwrap().document.network
    }

    #[test]
    fn unchanged_draft_gives_spec_back() {
        for preset in tutorial::presets() {
            let draft = NetworkDraft::from_spec(&preset.document.network);
            match draft.check() {
                Check::Valid { spec, .. } => assert_eq!(spec, preset.document.network),
                other => panic!("{}: {other:?}", preset.id),
            }
        }
    }

    #[test]
    fn out_of_range_kernels_is_reported_on_field() {
        let mut draft = NetworkDraft::from_spec(&one_stage());
        let key = FieldKey::layer(0, Field::Kernels);
        draft.set_text(key, "99");
        let Check::Fields(problems) = draft.check() else {
            panic!("range error expected");
        };
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].0, key);
        assert_eq!(
            problems[0].1,
            "Layer 0 (conv) kernels K: 99 is out of range; use a whole number from 1 to 8."
        );
        assert_eq!(draft.field_error(key), Some(problems[0].1.clone()));
    }

    #[test]
    fn loaded_value_out_of_range_is_kept() {
        let spec = tutorial::preset("digit").unwrap().document.network;
        let mut draft = NetworkDraft::from_spec(&spec);
        let key = FieldKey::layer(3, Field::Kernels);
        assert_eq!(draft.kept_out_of_range(key), Some(12));
        assert!(matches!(draft.check(), Check::Valid { .. }));

        // Moving the layer keeps its loaded value with it.
        draft.move_up(3);
        let moved = FieldKey::layer(2, Field::Kernels);
        assert_eq!(draft.kept_out_of_range(moved), Some(12));
        draft.move_down(2);

        // Typing the loaded value again is accepted; another value out of range is not.
        draft.set_text(key, "13");
        assert!(matches!(draft.check(), Check::Fields(_)));
        draft.set_text(key, "12");
        assert!(matches!(draft.check(), Check::Valid { .. }));
        let first = FieldKey::layer(0, Field::Kernels);
        draft.set_text(first, "12");
        assert!(draft.field_error(first).is_some());
    }

    #[test]
    fn kernel_larger_than_input_is_core_error() {
        let mut draft = NetworkDraft::from_spec(&one_stage());
        draft.set_text(FieldKey::layer(0, Field::KernelSize(0)), "7");
        let Check::Core { error, .. } = draft.check() else {
            panic!("core error expected");
        };
        let message = core_message(&error);
        assert!(
            message.starts_with("Layer 0 (conv): the kernel spans 7 rows"),
            "{message}"
        );
    }

    #[test]
    fn add_stage_goes_before_dense() {
        let spec = tutorial::preset("two-stages").unwrap().document.network;
        let mut draft = NetworkDraft::from_spec(&spec);
        draft.add_stage();
        let Check::Valid { spec: edited, .. } = draft.check() else {
            panic!("valid expected");
        };
        assert_eq!(edited.layers.len(), 10);
        assert_eq!(edited.layers[6].kind(), "conv");
        assert_eq!(edited.layers[8].kind(), "pool");
        assert_eq!(edited.layers[9].kind(), "dense");
    }

    #[test]
    fn added_pool_fits_small_map() {
        // The max-tie preset pools 5×5 to 2×2; a new stage keeps 2×2, so its pool is 2×2.
        let spec = tutorial::preset("max-tie").unwrap().document.network;
        let mut draft = NetworkDraft::from_spec(&spec);
        draft.add_stage();
        draft.add_stage();
        // The second stage receives a 1×1 map, so its pool shrinks to 1×1.
        match draft.check() {
            Check::Valid { plan, .. } => assert_eq!(plan.output_shape(), &[2, 1, 1]),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn remove_keeps_last_layer() {
        let spec = tutorial::preset("stride-2").unwrap().document.network;
        let mut draft = NetworkDraft::from_spec(&spec);
        draft.remove(0);
        assert_eq!(draft.layers.len(), 1);
    }

    #[test]
    fn moves_swap_neighbours_and_keep_ids() {
        let mut draft = NetworkDraft::from_spec(&one_stage());
        let ids: Vec<u64> = draft.layers.iter().map(|l| l.id).collect();
        draft.move_down(0);
        assert_eq!(draft.layers[1].id, ids[0]);
        draft.move_up(1);
        assert_eq!(draft.layers[0].id, ids[0]);
        draft.move_up(0);
        draft.move_down(2);
        assert_eq!(draft.layers.iter().map(|l| l.id).collect::<Vec<_>>(), ids);
    }

    #[test]
    fn dense_is_added_once_at_end() {
        let mut draft = NetworkDraft::from_spec(&one_stage());
        draft.add_dense();
        draft.add_dense();
        assert_eq!(draft.layers.len(), 4);
        assert_eq!(draft.insert_position(), 3);
        draft.add_activation();
        assert_eq!(draft.layers[3].draft.kind(), "activation");
        assert_eq!(draft.layers[4].draft.kind(), "dense");
    }

    #[test]
    fn field_ids_name_layer_and_axis() {
        assert_eq!(FieldKey::input(Field::InputChannels).id(), "input-channels");
        assert_eq!(
            FieldKey::layer(2, Field::KernelSize(1)).id(),
            "layer-2-size-w"
        );
        assert_eq!(
            FieldKey::layer(0, Field::PoolStride(0)).id(),
            "layer-0-pool-stride-h"
        );
    }
}
