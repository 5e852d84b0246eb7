//! Number fields that keep the text as typed, check it on every keystroke, show the
//! reason beside the field, and report only valid values: one field ([`NumberField`]) or a
//! grid of fields for a plane of values ([`ValueGrid`]).

use std::collections::BTreeMap;
use std::rc::Rc;

use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::format::short;
use crate::limits::{self, Range};

/// The values a field accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    /// A finite number of magnitude at most [`limits::MAX_ABS_VALUE`].
    Value,
    /// A whole number in the range.
    Whole(Range),
    /// A seed from 0 to [`limits::MAX_SEED`].
    Seed,
}

impl Rule {
    /// Parses `text` for the field called `name`; whole numbers and seeds come back
    /// exactly, since every one up to 2^53 is an exact `f64`.
    pub fn parse(self, text: &str, name: &str) -> Result<f64, String> {
        match self {
            Rule::Value => limits::parse_value(text, name),
            Rule::Whole(range) => limits::parse_whole(text, name, range).map(|v| v as f64),
            Rule::Seed => limits::parse_seed(text, name).map(|v| v as f64),
        }
    }
}

/// Formats `value` for a value field: four significant digits, with the minus sign −
/// that the maps use (the parser accepts it).
pub fn value_text(value: f64) -> String {
    short(value)
}

/// Reads the text of the input element an event came from.
pub fn event_text<E: AsRef<web_sys::Event>>(event: &E) -> String {
    event
        .as_ref()
        .target()
        .and_then(|t| wasm_bindgen::JsCast::dyn_into::<HtmlInputElement>(t).ok())
        .map(|input| input.value())
        .unwrap_or_default()
}

#[derive(Properties, PartialEq)]
pub struct NumberFieldProps {
    pub id: AttrValue,
    /// The visible label.
    pub label: AttrValue,
    /// The field's name at the start of its messages, such as "Seed".
    pub name: AttrValue,
    pub rule: Rule,
    /// The current value as text.
    pub value: AttrValue,
    /// Called with the value when a valid value is committed (Enter, or leaving the field).
    /// The typed text stays on screen until `value` changes.
    pub on_commit: Callback<f64>,
    #[prop_or_default]
    pub disabled: bool,
}

/// Renders one labelled number field. The typed text stays until `value` changes, and
/// while the text is invalid its message is shown under the field.
#[component]
pub fn NumberField(props: &NumberFieldProps) -> Html {
    let draft = use_mut_ref(|| Draft::new(props.value.to_string()));
    let force_update = use_force_update();
    draft.borrow_mut().sync(&props.value);

    let oninput = {
        let (draft, force_update) = (draft.clone(), force_update.clone());
        Callback::from(move |event: InputEvent| {
            draft.borrow_mut().text = Some(event_text(&event));
            force_update.force_update();
        })
    };
    let onchange = {
        let (draft, force_update) = (draft.clone(), force_update.clone());
        let (rule, name, on_commit) = (props.rule, props.name.clone(), props.on_commit.clone());
        Callback::from(move |event: Event| {
            let text = event_text(&event);
            // The typed text stays until the new value arrives, so the field does not
            // flash the old value in between.
            let parsed = rule.parse(&text, &name);
            draft.borrow_mut().text = Some(text);
            if let Ok(value) = parsed {
                on_commit.emit(value);
            }
            force_update.force_update();
        })
    };

    let shown = draft.borrow().shown(&props.value);
    let error = draft
        .borrow()
        .text
        .as_ref()
        .and_then(|text| props.rule.parse(text, &props.name).err());
    let error_id = format!("{}-error", props.id);
    let input_mode = match props.rule {
        Rule::Value => "decimal",
        Rule::Whole(_) | Rule::Seed => "numeric",
    };
    html! {
        <div class="number-field">
            <label for={props.id.clone()}>{ props.label.clone() }</label>
            <input
                id={props.id.clone()}
                type="text"
                inputmode={input_mode}
                autocomplete="off"
                spellcheck="false"
                value={shown}
                disabled={props.disabled}
                aria-invalid={error.is_some().then_some("true")}
                aria-describedby={error.is_some().then(|| error_id.clone())}
                {oninput}
                {onchange}
            />
            if let Some(message) = error {
                <p id={error_id} class="field-error" role="alert">{ message }</p>
            }
        </div>
    }
}

/// The text typed into one field, and the outside value it was typed over.
struct Draft {
    text: Option<String>,
    seen: String,
}

impl Draft {
    fn new(value: String) -> Self {
        Self {
            text: None,
            seen: value,
        }
    }

    /// Drops the typed text when the value changed from outside, such as a preset.
    fn sync(&mut self, value: &str) {
        if self.seen != value {
            self.seen = value.to_string();
            self.text = None;
        }
    }

    fn shown(&self, value: &str) -> String {
        self.text.clone().unwrap_or_else(|| value.to_string())
    }
}

#[derive(Properties, PartialEq)]
pub struct ValueGridProps {
    /// The plane's values, row-major.
    pub values: Rc<[f64]>,
    pub cols: usize,
    /// Accessible name of each cell, such as "W[0][1][2][0]".
    pub labels: Rc<[String]>,
    /// The group name of the grid, such as "W[0][1]".
    pub caption: AttrValue,
    /// Prefix of the cell ids: cell `i` gets the id "{id}-{i}".
    pub id: AttrValue,
    /// Called with the cell index and the value when a valid value is committed.
    pub on_change: Callback<(usize, f64)>,
}

/// Renders a grid of value fields, one per cell of a plane, with the messages of invalid
/// cells listed under the grid.
#[component]
pub fn ValueGrid(props: &ValueGridProps) -> Html {
    let drafts = use_mut_ref(|| GridDrafts::new(props.values.clone()));
    let force_update = use_force_update();
    drafts.borrow_mut().sync(&props.values);

    let oninput = |index: usize| {
        let (drafts, force_update) = (drafts.clone(), force_update.clone());
        Callback::from(move |event: InputEvent| {
            drafts.borrow_mut().texts.insert(index, event_text(&event));
            force_update.force_update();
        })
    };
    let onchange = |index: usize| {
        let (drafts, force_update) = (drafts.clone(), force_update.clone());
        let (label, on_change) = (props.labels.get(index).cloned(), props.on_change.clone());
        Callback::from(move |event: Event| {
            let text = event_text(&event);
            let parsed = Rule::Value.parse(&text, label.as_deref().unwrap_or("value"));
            drafts.borrow_mut().texts.insert(index, text);
            if let Ok(value) = parsed {
                on_change.emit((index, value));
            }
            force_update.force_update();
        })
    };

    let errors: BTreeMap<usize, String> = drafts
        .borrow()
        .texts
        .iter()
        .filter_map(|(index, text)| {
            let name = props.labels.get(*index).map_or("value", |s| s.as_str());
            Rule::Value.parse(text, name).err().map(|m| (*index, m))
        })
        .collect();
    let style = format!("--cols: {}", props.cols.max(1));
    let cells = props.values.iter().enumerate().map(|(index, value)| {
        let id = format!("{}-{index}", props.id);
        let label = props.labels.get(index).cloned().unwrap_or_default();
        let shown = drafts
            .borrow()
            .texts
            .get(&index)
            .cloned()
            .unwrap_or_else(|| value_text(*value));
        let invalid = errors.contains_key(&index);
        html! {
            <input
                id={id.clone()}
                type="text"
                inputmode="decimal"
                autocomplete="off"
                spellcheck="false"
                aria-label={label.clone()}
                title={label}
                value={shown}
                aria-invalid={invalid.then_some("true")}
                aria-describedby={invalid.then(|| format!("{id}-error"))}
                oninput={oninput(index)}
                onchange={onchange(index)}
            />
        }
    });
    html! {
        <div class="value-grid-box">
            <div class="value-grid" role="group" aria-label={props.caption.clone()} {style}>
                { for cells }
            </div>
            { for errors.into_iter().map(|(index, message)| html! {
                <p id={format!("{}-{index}-error", props.id)} class="field-error" role="alert">{ message }</p>
            }) }
        </div>
    }
}

/// The texts typed into a grid, by cell, and the values they were typed over.
struct GridDrafts {
    texts: BTreeMap<usize, String>,
    seen: Rc<[f64]>,
}

impl GridDrafts {
    fn new(values: Rc<[f64]>) -> Self {
        Self {
            texts: BTreeMap::new(),
            seen: values,
        }
    }

    /// Drops the typed texts when the values changed, after a commit or from outside.
    fn sync(&mut self, values: &Rc<[f64]>) {
        if self.seen != *values {
            self.seen = values.clone();
            self.texts.clear();
        }
    }
}
