//! The stepper's controls: first, previous, next, last, play or pause, the speed, the
//! position ("step i of n") and the list of every step.

use std::rc::Rc;

use web_sys::HtmlSelectElement;
use yew::prelude::*;

/// A request from the stepper's controls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepCommand {
    First,
    Previous,
    Next,
    Last,
    TogglePlay,
    Go(usize),
    /// Delay between steps while playing, in milliseconds.
    Speed(u32),
}

/// Speeds offered, as (label, delay in ms).
pub const SPEEDS: [(&str, u32); 4] = [
    ("slow", 2500),
    ("normal", 1200),
    ("fast", 600),
    ("very fast", 250),
];

#[derive(Properties, PartialEq)]
pub struct StepperProps {
    /// 0-based current step.
    pub step: usize,
    /// One label per step, in order.
    pub titles: Rc<Vec<String>>,
    pub playing: bool,
    pub speed_ms: u32,
    pub on_command: Callback<StepCommand>,
}

#[component]
pub fn Stepper(props: &StepperProps) -> Html {
    let count = props.titles.len();
    let send = |command: StepCommand| {
        let on_command = props.on_command.clone();
        Callback::from(move |_: MouseEvent| on_command.emit(command))
    };
    let on_speed = {
        let on_command = props.on_command.clone();
        Callback::from(move |event: Event| {
            let select: HtmlSelectElement = event.target_unchecked_into();
            if let Ok(ms) = select.value().parse::<u32>() {
                on_command.emit(StepCommand::Speed(ms));
            }
        })
    };
    let at_start = props.step == 0;
    let at_end = props.step + 1 >= count;
    html! {
        <nav class="stepper" aria-label="Backward pass steps">
            <div class="stepper-buttons">
                <button type="button" onclick={send(StepCommand::First)} disabled={at_start}>{ "First step" }</button>
                <button type="button" onclick={send(StepCommand::Previous)} disabled={at_start}>{ "Previous step" }</button>
                <button type="button" class="play" onclick={send(StepCommand::TogglePlay)} aria-pressed={props.playing.to_string()}>
                    { if props.playing { "Pause" } else { "Play" } }
                </button>
                <button type="button" onclick={send(StepCommand::Next)} disabled={at_end}>{ "Next step" }</button>
                <button type="button" onclick={send(StepCommand::Last)} disabled={at_end}>{ "Last step" }</button>
                <label class="speed">
                    { "Speed " }
                    <select id="speed" onchange={on_speed}>
                        { for SPEEDS.iter().map(|(label, ms)| html! {
                            <option value={ms.to_string()} selected={*ms == props.speed_ms}>{ *label }</option>
                        }) }
                    </select>
                </label>
                <p id="step-counter" aria-live="polite" data-step={props.step.to_string()} data-count={count.to_string()}>
                    { format!("Step {} of {count}", props.step + 1) }
                </p>
            </div>
        </nav>
    }
}

#[derive(Properties, PartialEq)]
pub struct StepListProps {
    /// 0-based current step.
    pub step: usize,
    /// One label per step, in order.
    pub titles: Rc<Vec<String>>,
    pub on_command: Callback<StepCommand>,
}

/// The list of every step, any of which can be opened; it sits below the sticky controls
/// so that opening it does not cover the page.
#[component]
pub fn StepList(props: &StepListProps) -> Html {
    let count = props.titles.len();
    let send = |command: StepCommand| {
        let on_command = props.on_command.clone();
        Callback::from(move |_: MouseEvent| on_command.emit(command))
    };
    html! {
        <details class="step-list-box">
                <summary>{ format!("All {count} steps") }</summary>
                <ol class="step-list">
                    { for props.titles.iter().enumerate().map(|(index, title)| {
                        let current = index == props.step;
                        html! {
                            <li>
                                <button
                                    type="button"
                                    class={classes!("step-link", current.then_some("current"))}
                                    aria-current={current.then_some("step")}
                                    onclick={send(StepCommand::Go(index))}
                                >
                                    { title.clone() }
                                </button>
                            </li>
                        }
                    }) }
                </ol>
            </details>
    }
}
