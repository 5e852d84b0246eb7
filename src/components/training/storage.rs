//! The training state in `localStorage`: settings, curves and the latest weights, as JSON
//! under a versioned key, so that a reload shows the run again, paused.

use std::rc::Rc;

use cnn_core::{LayerParams, Network};
use serde::{Deserialize, Serialize};

use super::model::{Curve, EpochStat, Model, Reference, Status};
use crate::training::protocol::{flatten, unflatten, SamplePoint, Settings, TestReport};

/// The `localStorage` key. A new format gets a new key and version.
pub const KEY: &str = "cnn-explorer/training/v1";
pub const VERSION: u32 = 1;

/// Everything saved, in the order of the JSON.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Saved {
    pub version: u32,
    pub settings: Settings,
    pub run: Option<SavedRun>,
}

/// The version field alone, read before the rest.
#[derive(Deserialize)]
struct Version {
    version: u32,
}

/// A saved run. A run saved while running comes back paused.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedRun {
    pub settings: Settings,
    pub status: Status,
    pub step: usize,
    pub examples: usize,
    pub epoch: usize,
    pub params: Vec<Option<LayerParams>>,
    pub last_good: Option<Vec<Option<LayerParams>>>,
    pub curve: Curve,
    pub epochs: Vec<EpochStat>,
    pub samples: Vec<SamplePoint>,
    pub reference: Option<Reference>,
    pub kernels: Vec<f64>,
    pub kernel_grads: Vec<f64>,
    pub report: Option<TestReport>,
}

/// Returns the saved form of `model`.
pub fn to_saved(model: &Model) -> Saved {
    let run = match (&model.run, &model.params) {
        (Some(settings), Some(params)) => Some(SavedRun {
            settings: settings.clone(),
            status: match &model.status {
                Status::Running => Status::Paused,
                other => other.clone(),
            },
            step: model.step,
            examples: model.examples,
            epoch: model.epoch,
            params: (**params).clone(),
            last_good: model
                .last_good
                .as_ref()
                .and_then(|flat| unflatten(flat).ok()),
            curve: (*model.curve).clone(),
            epochs: (*model.epochs).clone(),
            samples: (*model.samples).clone(),
            reference: model.reference.as_ref().map(|r| (**r).clone()),
            kernels: model.kernels.to_vec(),
            kernel_grads: model.kernel_grads.to_vec(),
            report: model.report.as_ref().map(|r| (**r).clone()),
        }),
        _ => None,
    };
    Saved {
        version: VERSION,
        settings: model.settings.clone(),
        run,
    }
}

/// Parses saved JSON into a model, paused, and checks that the weights fit the network.
///
/// Errors: a sentence saying why the text cannot be used: not JSON of this format, another
/// version, invalid settings, or weights that do not fit the network.
pub fn from_json(text: &str) -> Result<Model, String> {
    // The version comes first, so that a state of another format is named as such.
    let version: Version = serde_json::from_str(text)
        .map_err(|e| format!("it is not a saved training state of this page ({e})"))?;
    if version.version != VERSION {
        return Err(format!(
            "it has format version {}, and this page reads version {VERSION}",
            version.version
        ));
    }
    let saved: Saved = serde_json::from_str(text)
        .map_err(|e| format!("it is not a saved training state of this page ({e})"))?;
    saved.settings.check()?;
    let mut model = Model {
        settings: saved.settings,
        ..Model::default()
    };
    let Some(run) = saved.run else {
        return Ok(model);
    };

    run.settings.check()?;
    Network::new(run.settings.network(), run.params.clone())
        .map_err(|e| format!("its weights do not fit its network ({e})"))?;

    model.status = run.status;
    model.step = run.step;
    model.examples = run.examples;
    model.epoch = run.epoch;
    model.params = Some(Rc::new(run.params));
    model.last_good = run.last_good.map(|p| Rc::new(flatten(&p)));
    model.curve = Rc::new(run.curve);
    model.epochs = Rc::new(run.epochs);
    model.samples = Rc::new(run.samples);
    model.reference = run.reference.map(Rc::new);
    model.kernels = run.kernels.into();
    model.kernel_grads = run.kernel_grads.into();
    model.report = run.report.map(Rc::new);
    model.run = Some(run.settings);
    Ok(model)
}

/// Returns the model as saved JSON.
pub fn to_json(model: &Model) -> String {
    // Saved has no map with non-string keys, so serialization cannot fail.
    // NOTE: serde_json writes a non-finite float as null, which does not read back into
    // an f64, so a state with an infinite norm or test loss is reported as unreadable on
    // the next load. Weights are always finite, since the core rejects any other.
    serde_json::to_string(&to_saved(model)).expect("the training state serializes to JSON")
}

fn storage() -> Result<web_sys::Storage, String> {
    web_sys::window()
        .ok_or("no window")?
        .local_storage()
        .map_err(|_| "the browser denies access to local storage".to_string())?
        .ok_or_else(|| "the browser has no local storage".to_string())
}

/// Reads the saved state: `Ok(None)` when nothing is saved.
///
/// Errors: a sentence for the page saying why the saved state is not used.
pub fn load() -> Result<Option<Model>, String> {
    let Ok(storage) = storage() else {
        return Ok(None);
    };
    match storage.get_item(KEY) {
        Ok(Some(text)) => from_json(&text).map(Some).map_err(|reason| {
            format!("The saved training state could not be used: {reason}. Training starts afresh.")
        }),
        _ => Ok(None),
    }
}

/// Saves `model`.
///
/// Errors: no local storage, or the browser rejected the write (a full quota).
pub fn save(model: &Model) -> Result<(), String> {
    storage()?
        .set_item(KEY, &to_json(model))
        .map_err(|_| "the browser rejected the write; its storage quota may be full".into())
}

/// Deletes the saved state.
pub fn remove() {
    if let Ok(storage) = storage() {
        // Nothing to do when this fails: a later save overwrites the key.
        let _ = storage.remove_item(KEY);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::components::training::model::Action;
    use crate::training::protocol::{Output, Progress, StepPoint};
    use yew::Reducible;

    fn trained_model() -> Model {
        let network = Network::seeded(Settings::default().network(), 4).unwrap();
        let model = Rc::new(Model::default()).reduce(Action::Started(Settings::default()));
        let output = Output::Progress(Box::new(Progress {
            steps: vec![StepPoint {
                step: 1,
                epoch: 0,
                loss: 2.3,
                delta_norms: vec![0.5; 7],
                weight_grad_norms: vec![0.1; 3],
            }],
            samples: vec![SamplePoint {
                step: 0,
                accuracy: 0.1,
            }],
            step: 1,
            examples: 16,
            epoch: 0,
            examples_per_second: 400.0,
            seconds_left: 60.0,
            kernels: vec![0.25; 150],
            kernel_grads: Some(vec![0.01; 150]),
            params: flatten(network.params()),
        }));
        (*model.reduce(Action::Worker(output))).clone()
    }

    #[test]
    fn saved_state_round_trips_as_paused() {
        let model = trained_model();
        assert_eq!(model.status, Status::Running);
        let restored = from_json(&to_json(&model)).unwrap();
        assert_eq!(restored.status, Status::Paused);
        assert_eq!(restored.step, 1);
        assert_eq!(restored.examples, 16);
        assert_eq!(restored.params, model.params);
        assert_eq!(restored.curve, model.curve);
        assert_eq!(restored.epochs, model.epochs);
        assert_eq!(restored.kernel_grads, model.kernel_grads);
        assert_eq!(restored.run, model.run);
    }

    #[test]
    fn corrupt_text_is_rejected() {
        let error = from_json("{\"version\": 1, \"sett").unwrap_err();
        assert!(
            error.starts_with("it is not a saved training state"),
            "{error}"
        );
        assert!(from_json("[]").is_err());
    }

    #[test]
    fn other_version_is_rejected() {
        let mut saved = to_saved(&trained_model());
        saved.version = 0;
        let error = from_json(&serde_json::to_string(&saved).unwrap()).unwrap_err();
        assert!(error.contains("format version 0"), "{error}");
        let newer = r#"{"version": 2, "fields": "of another format"}"#;
        assert!(from_json(newer).unwrap_err().contains("format version 2"));
    }

    #[test]
    fn weights_for_another_network_are_rejected() {
        let mut saved = to_saved(&trained_model());
        saved.run.as_mut().unwrap().params.pop();
        let error = from_json(&serde_json::to_string(&saved).unwrap()).unwrap_err();
        assert!(error.starts_with("its weights do not fit"), "{error}");
    }

    #[test]
    fn settings_without_run_are_kept() {
        let model = Model {
            settings: Settings {
                batch_size: 4,
                ..Settings::default()
            },
            ..Model::default()
        };
        let restored = from_json(&to_json(&model)).unwrap();
        assert_eq!(restored.settings.batch_size, 4);
        assert!(restored.run.is_none());
        assert_eq!(restored.status, Status::Idle);
    }
}
