//! The yew-agent reactor that runs [`Engine`] in the worker: it fetches the digits,
//! handles the page's requests, trains in time-boxed chunks while a run is running, and
//! yields to the event loop between chunks so that requests arrive.

use cnn_core::dataset::Digits;
use futures::{FutureExt, SinkExt, StreamExt};
use gloo_timers::future::TimeoutFuture;
use js_sys::Uint8Array;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Response, WorkerGlobalScope};
use yew_agent::prelude::*;

use super::engine::{Data, Engine, Event};
use super::protocol::{Input, Output};

/// Length of one chunk of SGD steps, in milliseconds. A chunk ends after the step that
/// passes it, so a step longer than this makes a longer chunk.
pub const CHUNK_MS: f64 = 100.0;
/// The probe batch's gradient is measured at most this often, in milliseconds: it costs
/// about one step of 16 examples.
pub const PROBE_MS: f64 = 500.0;
/// Weight of the newest chunk in the smoothed speed.
const SPEED_SMOOTHING: f64 = 0.3;

/// Runs the training worker for one bridge. Each bridge gets its own engine, and the page
/// opens one bridge.
#[reactor(TrainingReactor)]
pub async fn training_reactor(mut scope: ReactorScope<Input, Output>) {
    let mut worker = Worker::default();
    loop {
        // While training, take a waiting request without blocking; otherwise wait.
        let input = if worker.running() {
            match scope.next().now_or_never() {
                Some(Some(input)) => Some(input),
                Some(None) => break,
                None => None,
            }
        } else {
            match scope.next().await {
                Some(input) => Some(input),
                None => break,
            }
        };
        let outputs = match input {
            Some(input) => worker.handle(input).await,
            None => worker.train_chunk(),
        };
        for output in outputs {
            // The sink's error type is Infallible, so there is no error to handle.
            let _ = scope.send(output).await;
        }
        if worker.running() {
            // A zero-delay timeout is a macrotask, so the worker's message handler runs
            // before the next chunk.
            TimeoutFuture::new(0).await;
        }
    }
}

#[derive(Default)]
struct Worker {
    engine: Option<Engine>,
    /// Smoothed training speed in examples per second; 0 until measured.
    speed: f64,
    last_probe: f64,
}

impl Worker {
    fn running(&self) -> bool {
        self.engine.as_ref().is_some_and(Engine::is_running)
    }

    async fn handle(&mut self, input: Input) -> Vec<Output> {
        if let Input::Load {
            train_url,
            test_url,
        } = input
        {
            return vec![self.load(&train_url, &test_url).await];
        }
        let Some(engine) = self.engine.as_mut() else {
            return vec![failed(
                "the training digits are not loaded yet; wait for them or reload the page",
            )];
        };
        match input {
            Input::Load { .. } => Vec::new(),
            Input::Start(settings) => match engine.start(settings) {
                Ok(()) => {
                    self.speed = 0.0;
                    progress(engine, self.speed, true)
                }
                Err(message) => vec![failed(&message)],
            },
            Input::Restore {
                settings,
                params,
                step,
                examples,
            } => match engine.restore(settings, &params, step, examples) {
                Ok(()) => {
                    let mut outputs = progress(engine, 0.0, true);
                    outputs.push(Output::Paused { step });
                    outputs
                }
                Err(message) => vec![failed(&format!(
                    "the saved weights could not be restored: {message}"
                ))],
            },
            Input::Pause => match engine.pause() {
                Some(step) => {
                    let mut outputs = progress(engine, self.speed, true);
                    outputs.push(Output::Paused { step });
                    outputs
                }
                None => Vec::new(),
            },
            Input::Resume(settings) => match engine.resume(settings) {
                Ok(()) => {
                    self.speed = 0.0;
                    Vec::new()
                }
                Err(message) => vec![failed(&message)],
            },
            Input::Reset => {
                engine.reset();
                vec![Output::Stopped]
            }
            Input::Evaluate => match engine.evaluate(None) {
                Some(Ok(report)) => vec![Output::Evaluated(Box::new(report))],
                Some(Err(message)) => vec![failed(&message)],
                None => vec![failed("there are no weights to evaluate; start a run")],
            },
        }
    }

    async fn load(&mut self, train_url: &str, test_url: &str) -> Output {
        if let Some(engine) = &self.engine {
            let data = engine.data();
            return Output::Loaded {
                train: data.train.len(),
                test: data.test.len(),
            };
        }
        let data = async {
            Ok::<_, String>(Data {
                train: fetch_digits(train_url).await?,
                test: fetch_digits(test_url).await?,
            })
        };
        match data.await {
            Ok(data) => {
                let counts = (data.train.len(), data.test.len());
                self.engine = Some(Engine::new(data));
                Output::Loaded {
                    train: counts.0,
                    test: counts.1,
                }
            }
            Err(message) => failed(&message),
        }
    }

    /// Trains for one chunk and returns the progress message and what the chunk ended
    /// with, the test evaluation of an ended epoch included.
    fn train_chunk(&mut self) -> Vec<Output> {
        let Some(engine) = self.engine.as_mut() else {
            return Vec::new();
        };
        let started = now();
        let chunk = engine.run(&now, &mut || now() - started >= CHUNK_MS);
        if chunk.training_time > 0.0 && chunk.examples > 0 {
            let measured = chunk.examples as f64 / (chunk.training_time / 1000.0);
            self.speed = if self.speed > 0.0 {
                SPEED_SMOOTHING * measured + (1.0 - SPEED_SMOOTHING) * self.speed
            } else {
                measured
            };
        }
        let with_grads = now() - self.last_probe >= PROBE_MS;
        if with_grads {
            self.last_probe = now();
        }
        let mut outputs = progress(engine, self.speed, with_grads);
        for event in chunk.events {
            outputs.push(match event {
                Event::EpochEnded { epoch } => match engine.evaluate(Some(epoch)) {
                    Some(Ok(report)) => Output::Evaluated(Box::new(report)),
                    Some(Err(message)) => failed(&message),
                    None => continue,
                },
                Event::Finished { step } => Output::Finished { step },
                Event::Diverged {
                    step,
                    message,
                    last_good,
                } => Output::Diverged {
                    step,
                    message,
                    last_good,
                },
                Event::Failed { message } => failed(&message),
            });
        }
        outputs
    }
}

fn progress(engine: &mut Engine, speed: f64, with_grads: bool) -> Vec<Output> {
    engine
        .progress(speed, with_grads)
        .map(|p| Output::Progress(Box::new(p)))
        .into_iter()
        .collect()
}

/// The failure message for the page, also logged as a warning in the worker's console.
fn failed(message: &str) -> Output {
    web_sys::console::warn_1(&format!("training worker: {message}").into());
    Output::Failed {
        message: message.to_string(),
    }
}

/// Milliseconds since the epoch; `Date.now()` is in every worker.
fn now() -> f64 {
    js_sys::Date::now()
}

async fn fetch_digits(url: &str) -> Result<Digits, String> {
    let failed = |what: String| format!("loading {url} in the training worker failed: {what}");
    let scope: WorkerGlobalScope = js_sys::global()
        .dyn_into()
        .map_err(|_| failed("this code does not run in a worker".into()))?;
    let response = JsFuture::from(scope.fetch_with_str(url))
        .await
        .map_err(|e| failed(format!("{e:?}")))?;
    let response: Response = response
        .dyn_into()
        .map_err(|_| failed("not a response".into()))?;
    if !response.ok() {
        return Err(failed(format!("HTTP status {}", response.status())));
    }
    let buffer = response
        .array_buffer()
        .map_err(|e| failed(format!("{e:?}")))?;
    let buffer = JsFuture::from(buffer)
        .await
        .map_err(|e| failed(format!("{e:?}")))?;
    Digits::parse(&Uint8Array::new(&buffer).to_vec()).map_err(|e| failed(e.to_string()))
}
