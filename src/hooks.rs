//! Hooks shared by components.

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use yew::prelude::*;

/// A running interval: its id and the closure the browser calls.
type Timer = (i32, Closure<dyn FnMut()>);

/// Calls `callback` every `period_ms` milliseconds while `active` is true, and stops the
/// timer when `active` turns false, the period changes or the component goes away.
#[hook]
pub fn use_interval(callback: Callback<()>, period_ms: u32, active: bool) {
    let latest = use_mut_ref(|| callback.clone());
    *latest.borrow_mut() = callback;
    use_effect_with((period_ms, active), move |&(period_ms, active)| {
        let timer: Rc<RefCell<Option<Timer>>> = Rc::new(RefCell::new(None));
        if active {
            let tick = Closure::<dyn FnMut()>::new(move || latest.borrow().emit(()));
            let id = web_sys::window().and_then(|w| {
                w.set_interval_with_callback_and_timeout_and_arguments_0(
                    tick.as_ref().unchecked_ref(),
                    period_ms as i32,
                )
                .ok()
            });
            if let Some(id) = id {
                *timer.borrow_mut() = Some((id, tick));
            }
        }
        move || {
            if let (Some((id, _tick)), Some(window)) =
                (timer.borrow_mut().take(), web_sys::window())
            {
                window.clear_interval_with_handle(id);
            }
        }
    });
}

/// Whether the reader asked the system for reduced motion.
pub fn prefers_reduced_motion() -> bool {
    web_sys::window()
        .and_then(|w| {
            w.match_media("(prefers-reduced-motion: reduce)")
                .ok()
                .flatten()
        })
        .is_some_and(|query| query.matches())
}
