//! The network, input, weights and objective editors, in one collapsible panel.
//!
//! Each editor checks what is typed where it is typed and sends up only a valid part;
//! [`Editor`] puts that part into a copy of the document on screen and calls `on_apply`.
//! A network edit first goes through [`fit::refit`], which rebuilds the input, weights and
//! objective that no longer fit. A note above the sections lists what was rebuilt.

pub mod draft;
pub mod fields;
pub mod fit;
pub mod image;
pub mod input;
pub mod network;
pub mod objective;
pub mod weights;

use std::rc::Rc;

use cnn_core::document::{Document, InputSource, WeightSource};
use cnn_core::{NetworkSpec, Objective, Tensor};
use yew::prelude::*;

use crate::state::Session;
use fit::Seeds;
use input::InputEditor;
use network::NetworkEditor;
use objective::ObjectiveEditor;
use weights::WeightsEditor;

#[derive(Properties, PartialEq)]
pub struct EditorProps {
    /// The document on screen (the last valid one).
    pub document: Document,
    /// The session built from it, for shapes and the trace.
    pub session: Option<Session>,
    /// Called with a complete new document to show; the page validates it again.
    pub on_apply: Callback<Document>,
}

/// The editor's memory between renders.
struct Memory {
    /// The document and session of the last render, which callbacks read so that an edit
    /// finishing late (an image decoding) builds on the newest document.
    document: Document,
    session: Option<Session>,
    seeds: Seeds,
    /// The last document the editor sent, to tell its own edits from outside changes.
    sent: Option<Document>,
    /// The list of parts the last network edit rebuilt, shown until the next edit or an
    /// outside change.
    note: Option<String>,
}

impl Memory {
    /// Takes in the props of a new render. A document that changed from outside (a
    /// preset, a link, the pooling menu) drops the note, which was about an earlier edit.
    fn sync(&mut self, document: &Document, session: &Option<Session>) {
        let changed = !same_view(&self.document, document);
        let outside = self
            .sent
            .as_ref()
            .is_none_or(|sent| !same_view(sent, document));
        if changed && outside {
            self.note = None;
        }
        self.document = document.clone();
        self.session = session.clone();
        // The weight seed shown follows the document while its weights are seeded.
        if let WeightSource::Seeded(seed) = document.weights {
            self.seeds.weights = seed;
        }
    }
}

/// Returns whether two documents show the same network, input, weights and objective.
/// The step on screen changes while stepping and is not an edit.
fn same_view(a: &Document, b: &Document) -> bool {
    a.network == b.network
        && a.input == b.input
        && a.weights == b.weights
        && a.objective == b.objective
}

#[component]
pub fn Editor(props: &EditorProps) -> Html {
    let memory = use_mut_ref(|| Memory {
        document: props.document.clone(),
        session: props.session.clone(),
        seeds: Seeds {
            weights: 1,
            upstream: 1,
        },
        sent: None,
        note: None,
    });
    let force_update = use_force_update();
    memory.borrow_mut().sync(&props.document, &props.session);

    // Sends `document` with `note` (or none), unless it shows what is on screen already.
    let send = {
        let (memory, on_apply, force_update) =
            (memory.clone(), props.on_apply.clone(), force_update.clone());
        move |document: Document, note: Option<String>| {
            let unchanged = same_view(&memory.borrow().document, &document);
            {
                let mut memory = memory.borrow_mut();
                memory.note = note;
                if !unchanged {
                    memory.sent = Some(document.clone());
                }
            }
            if !unchanged {
                on_apply.emit(document);
            }
            force_update.force_update();
        }
    };
    // Sends the document on screen as changed by `change`.
    let apply = {
        let (memory, send) = (memory.clone(), send.clone());
        move |change: &dyn Fn(&mut Document, Option<&Session>)| {
            let (mut document, session) = {
                let memory = memory.borrow();
                (memory.document.clone(), memory.session.clone())
            };
            change(&mut document, session.as_ref());
            send(document, None);
        }
    };

    let on_network = {
        let (memory, send) = (memory.clone(), send.clone());
        Callback::from(move |network: NetworkSpec| {
            let (document, seeds) = {
                let memory = memory.borrow();
                (memory.document.clone(), memory.seeds)
            };
            match fit::refit(&document, network, seeds) {
                Ok(fitted) => {
                    let note = (!fitted.notes.is_empty()).then(|| fitted.notes.join(" "));
                    send(fitted.document, note);
                }
                // The network editor sends only networks that plan, so this is a fallback.
                Err(error) => send(document, Some(draft::core_message(&error))),
            }
        })
    };
    let on_input = {
        let apply = apply.clone();
        Callback::from(move |x: Tensor| {
            apply(&|document, session| {
                // A test digit's label stood in for the document's label; keep it.
                if let (InputSource::Digit(_), Some(session)) = (&document.input, session) {
                    document.objective = (*session.objective).clone();
                }
                document.input = InputSource::Values(x.clone());
            })
        })
    };
    let on_weights = {
        let apply = apply.clone();
        Callback::from(move |weights: WeightSource| {
            apply(&|document, _| document.weights = weights.clone())
        })
    };
    let on_objective = {
        let apply = apply.clone();
        Callback::from(move |objective: Objective| {
            apply(&|document, _| document.objective = objective.clone())
        })
    };
    let on_upstream_seed = {
        let (memory, force_update) = (memory.clone(), force_update.clone());
        Callback::from(move |seed: u64| {
            memory.borrow_mut().seeds.upstream = seed;
            force_update.force_update();
        })
    };

    let (seeds, note) = {
        let memory = memory.borrow();
        (memory.seeds, memory.note.clone())
    };
    let sections = match &props.session {
        None => html! { <p class="hint">{ "The editors open once the page has loaded." }</p> },
        Some(session) => {
            let digit = match props.document.input {
                InputSource::Digit(index) => Some(index),
                InputSource::Values(_) => None,
            };
            let output = session.network.plan().output_shape().to_vec();
            html! {
                <div class="editor-sections">
                    <section class="editor-section" aria-labelledby="editor-network-heading">
                        <h3 id="editor-network-heading">{ "Layers" }</h3>
                        <NetworkEditor network={props.document.network.clone()} {on_network} />
                    </section>
                    <section class="editor-section" aria-labelledby="editor-input-heading">
                        <h3 id="editor-input-heading">{ "Input" }</h3>
                        <InputEditor input={Rc::clone(&session.input)} {digit} {on_input} />
                    </section>
                    <section class="editor-section" aria-labelledby="editor-weights-heading">
                        <h3 id="editor-weights-heading">{ "Weights" }</h3>
                        <WeightsEditor weights={props.document.weights.clone()} network={Rc::clone(&session.network)}
                            seed={seeds.weights} trained={fit::trained_kind(&props.document.network)} {on_weights} />
                    </section>
                    <section class="editor-section" aria-labelledby="editor-objective-heading">
                        <h3 id="editor-objective-heading">{ "Loss or upstream gradient" }</h3>
                        <ObjectiveEditor objective={(*session.objective).clone()} {output}
                            digit_label={session.digit_label} upstream_seed={seeds.upstream}
                            {on_objective} {on_upstream_seed} />
                    </section>
                </div>
            }
        }
    };

    html! {
        <details class="editor" id="editor">
            <summary>{ "Edit the network, input, weights and loss" }</summary>
            if let Some(text) = note {
                <p id="editor-note" class="editor-note" role="status">{ text }</p>
            }
            { sections }
        </details>
    }
}
