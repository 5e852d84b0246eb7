//! Training the digit network in a web worker: the messages between page and worker
//! ([`protocol`]), the training loop ([`engine`]) and the yew-agent reactor that runs it
//! in the worker ([`reactor`]).
//!
//! The worker trains in chunks of about [`reactor::CHUNK_MS`] milliseconds. After each
//! chunk it sends one progress message (so at most about ten a second) and yields to the
//! event loop, which delivers the page's pause and reset requests.

pub mod engine;
pub mod protocol;
pub mod reactor;
