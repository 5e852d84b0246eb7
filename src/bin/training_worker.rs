//! The training worker's entry point: trunk builds it with `data-type="worker"`, and the
//! page's `ReactorProvider` starts it from `training_worker.js`.

use cnn_backprop_explorer::training::reactor::TrainingReactor;
use yew_agent::Registrable;

fn main() {
    cnn_backprop_explorer::panic::install();
    TrainingReactor::registrar().register();
}
