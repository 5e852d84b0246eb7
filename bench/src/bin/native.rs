//! The native contender of the benchmark: reads one JSON request per line on stdin, runs
//! the requested workload for the requested time, and writes one JSON line with the
//! examples and seconds it ran.
//!
//! A request is `{"spec": "<network spec JSON>", "seed": 1, "batch": 32, "mode": "train",
//! "ms": 300}`, or with `"steps": 20` in place of `"ms"` for a fixed number of steps (for
//! instruction counts under callgrind). Workloads are cached by spec, seed and batch, so a
//! request after the first runs on warm buffers. The Node harness keeps one such process for the whole run and
//! sends it a request in its turn of each round.

use std::collections::HashMap;
use std::io::{self, BufRead, Write};
use std::time::Instant;

use cnn_bench::{Mode, Workload};

#[derive(serde::Deserialize)]
struct Request {
    spec: String,
    seed: u64,
    batch: usize,
    mode: Mode,
    #[serde(default)]
    ms: f64,
    #[serde(default)]
    steps: Option<usize>,
}

fn main() {
    let mut workloads: HashMap<(String, u64, usize), Workload> = HashMap::new();
    let stdout = io::stdout();
    for line in io::stdin().lock().lines() {
        let line = line.expect("stdin is readable");
        let reply = match serde_json::from_str::<Request>(&line) {
            Ok(request) => run(&mut workloads, request),
            Err(e) => Err(format!("invalid request: {e}")),
        };
        let text = match reply {
            Ok((examples, seconds, check)) => {
                format!(r#"{{"examples":{examples},"seconds":{seconds},"check":{check}}}"#)
            }
            Err(message) => serde_json::json!({ "error": message }).to_string(),
        };
        let mut out = stdout.lock();
        writeln!(out, "{text}").expect("stdout is writable");
        out.flush().expect("stdout is writable");
    }
}

/// Runs `steps` steps, or steps until `ms` milliseconds have passed, and returns the
/// examples run, the seconds taken and the last step's value.
fn run(
    workloads: &mut HashMap<(String, u64, usize), Workload>,
    request: Request,
) -> Result<(usize, f64, f32), String> {
    let key = (request.spec.clone(), request.seed, request.batch);
    if !workloads.contains_key(&key) {
        let workload = Workload::new(&request.spec, request.seed, request.batch)?;
        workloads.insert(key.clone(), workload);
    }
    let workload = workloads.get_mut(&key).expect("inserted above");
    let start = Instant::now();
    let mut steps = 0;
    let mut check = 0.0;
    let more = |steps: usize| match request.steps {
        Some(limit) => steps < limit,
        None => start.elapsed().as_secs_f64() * 1000.0 < request.ms,
    };
    while more(steps) {
        check = workload.step(request.mode);
        steps += 1;
    }
    let seconds = start.elapsed().as_secs_f64();
    Ok((steps * workload.batch, seconds, check))
}
