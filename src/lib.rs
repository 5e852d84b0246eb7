//! The CNN Backprop Explorer front end: a Yew app that runs the `cnn-core` network on a
//! handwritten digit and draws every forward map and every backward step of the trace.
//!
//! Data flow: [`state`] holds the spec choice and the loaded assets, runs the core into a
//! [`cnn_core::Trace`], and the [`components`] draw that trace onto canvases.

pub mod app;
pub mod assets;
pub mod colormap;
pub mod components;
pub mod format;
pub mod formulas;
pub mod hooks;
pub mod limits;
pub mod math;
pub mod panic;
pub mod permalink;
pub mod resolve;
pub mod state;
pub mod storage;
pub mod training;

/// Installs the panic hook and mounts the app on `#app`.
pub fn start() {
    panic::install();
    let root = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id("app"));
    match root {
        Some(root) => {
            yew::Renderer::<app::App>::with_root(root).render();
        }
        None => panic!("index.html has no element with id \"app\" to mount the page on"),
    }
}
