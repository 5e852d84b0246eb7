//! The chart lines and their text summaries, built from the training state.

use cnn_core::{LayerSpec, NetworkSpec};

use super::chart::{Series, Stroke, PALETTE};
use super::model::{Curve, EpochStat, Reference};
use crate::format::short;
use crate::training::protocol::SamplePoint;

const PER_STEP: (u8, u8, u8) = (0x56, 0xb4, 0xe9);
const PER_EPOCH: (u8, u8, u8) = (0xd5, 0x5e, 0x00);
const PREVIOUS: (u8, u8, u8) = (0x00, 0x00, 0x00);

/// Layer names as the page shows them: "conv 1", "relu 1", "max pool 1", …, "dense".
pub fn layer_names(spec: &NetworkSpec) -> Vec<String> {
    let mut counts = [0usize; 4];
    spec.layers
        .iter()
        .map(|layer| {
            let (slot, name) = match layer {
                LayerSpec::Conv(_) => (0, "conv".to_string()),
                LayerSpec::Activation(a) => (1, a.name().to_string()),
                LayerSpec::Pool(p) => (2, format!("{} pool", p.kind.label())),
                LayerSpec::Dense(_) => (3, "dense".to_string()),
            };
            counts[slot] += 1;
            format!("{name} {}", counts[slot])
        })
        .collect()
}

/// Names of the layers with parameters, in order.
pub fn param_layer_names(spec: &NetworkSpec) -> Vec<String> {
    layer_names(spec)
        .into_iter()
        .zip(&spec.layers)
        .filter(|(_, layer)| layer.has_params())
        .map(|(name, _)| name)
        .collect()
}

/// Returns the loss of every plotted point, and each epoch's mean loss as a flat segment over
/// its steps.
pub fn loss_series(
    curve: &Curve,
    epochs: &[EpochStat],
    reference: Option<&Reference>,
) -> Vec<Series> {
    let mut series = Vec::new();
    if let Some(reference) = reference {
        // The previous run's loss, averaged as the norm lines are, so that it stays faint.
        let points = reference.curve.visible().collect::<Vec<_>>();
        let size = points.len().div_ceil(NORM_POINTS).max(1);
        let averaged = points
            .chunks(size)
            .map(|run| {
                let mean = run.iter().map(|p| p.loss).sum::<f64>() / run.len() as f64;
                (run.last().map_or(0, |p| p.step) as f64, mean)
            })
            .collect();
        series.push(Series {
            name: format!("previous run ({})", reference.label),
            colour: PREVIOUS,
            stroke: Stroke::Faint,
            points: averaged,
            in_legend: true,
        });
    }
    let per_step = curve.visible().map(|p| (p.step as f64, p.loss)).collect();
    let mut per_epoch = Vec::new();
    for stat in epochs {
        let mean = stat.mean_loss();
        per_epoch.push((stat.first_step as f64, mean));
        per_epoch.push((stat.last_step as f64, mean));
    }
    series.push(Series {
        name: "loss per step".into(),
        colour: PER_STEP,
        stroke: Stroke::Thin,
        points: per_step,
        in_legend: true,
    });
    series.push(Series {
        name: "mean over the epoch".into(),
        colour: PER_EPOCH,
        stroke: Stroke::Line,
        points: per_epoch,
        in_legend: true,
    });
    series
}

/// Test accuracy in percent: the sample's during training, and all test digits' after
/// each epoch.
pub fn accuracy_series(samples: &[SamplePoint], epochs: &[EpochStat]) -> Vec<Series> {
    let sampled = samples
        .iter()
        .map(|s| (s.step as f64, 100.0 * s.accuracy))
        .collect();
    let per_epoch = epochs
        .iter()
        .filter_map(|e| e.test_accuracy.map(|a| (e.last_step as f64, 100.0 * a)))
        .collect();
    vec![
        Series {
            name: format!(
                "{} test digits, every class",
                crate::training::engine::SAMPLE_SIZE
            ),
            colour: PER_STEP,
            stroke: Stroke::Dots,
            points: sampled,
            in_legend: true,
        },
        Series {
            name: "all 1,000 test digits, after each epoch".into(),
            colour: PER_EPOCH,
            stroke: Stroke::Dots,
            points: per_epoch,
            in_legend: true,
        },
    ]
}

/// The per-layer norm a chart shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Norm {
    /// ‖dL/dx‖ at each layer's input.
    Delta,
    /// ‖dL/dW‖ of each layer with parameters.
    WeightGrad,
}

fn norm_values(point: &super::model::CurvePoint, norm: Norm) -> &[f64] {
    match norm {
        Norm::Delta => &point.delta_norms,
        Norm::WeightGrad => &point.weight_grad_norms,
    }
}

/// Largest number of points of a norm line. Norms of single batches are noisy, and
/// seven noisy lines hide each other, so neighbouring points are averaged down to this.
pub const NORM_POINTS: usize = 150;

/// Returns the norms of `curve` averaged over runs of neighbouring points, at most `max` of them:
/// for each run its last step and the mean of each layer's norm.
pub fn binned_norms(curve: &Curve, norm: Norm, max: usize) -> Vec<(usize, Vec<f64>)> {
    let points: Vec<_> = curve.visible().collect();
    let size = points.len().div_ceil(max.max(1)).max(1);
    points
        .chunks(size)
        .map(|run| {
            let layers = run
                .iter()
                .map(|p| norm_values(p, norm).len())
                .min()
                .unwrap_or(0);
            let means = (0..layers)
                .map(|layer| {
                    run.iter().map(|p| norm_values(p, norm)[layer]).sum::<f64>() / run.len() as f64
                })
                .collect();
            (run.last().map_or(0, |p| p.step), means)
        })
        .collect()
}

fn norm_lines(curve: &Curve, names: &[String], norm: Norm, stroke: Stroke) -> Vec<Series> {
    let binned = binned_norms(curve, norm, NORM_POINTS);
    names
        .iter()
        .enumerate()
        .map(|(layer, name)| Series {
            name: name.clone(),
            colour: PALETTE[layer % PALETTE.len()],
            stroke,
            points: binned
                .iter()
                .filter_map(|(step, means)| means.get(layer).map(|v| (*step as f64, *v)))
                .collect(),
            in_legend: stroke != Stroke::Faint,
        })
        .collect()
}

/// Returns one line per layer, and the reference run's lines faintly in the same colours.
pub fn norm_series(
    curve: &Curve,
    reference: Option<&Reference>,
    names: &[String],
    norm: Norm,
) -> Vec<Series> {
    let mut series = Vec::new();
    if let Some(reference) = reference {
        series.extend(norm_lines(&reference.curve, names, norm, Stroke::Faint));
    }
    series.extend(norm_lines(curve, names, norm, Stroke::Line));
    series
}

/// Returns the text alternative of the loss chart.
pub fn loss_summary(curve: &Curve, epochs: &[EpochStat]) -> String {
    let points: Vec<_> = curve.visible().collect();
    let (Some(first), Some(last)) = (points.first(), points.last()) else {
        return "Training loss: no steps yet.".into();
    };
    let means: Vec<String> = epochs.iter().map(|e| short(e.mean_loss())).collect();
    format!(
        "Training loss over {} steps: {} at step {}, {} at step {}. Mean per epoch: {}.",
        last.step,
        short(first.loss),
        first.step,
        short(last.loss),
        last.step,
        if means.is_empty() {
            "none yet".to_string()
        } else {
            means.join(", ")
        }
    )
}

/// Returns the text alternative of the accuracy chart.
pub fn accuracy_summary(samples: &[SamplePoint], epochs: &[EpochStat]) -> String {
    let percent = |a: f64| format!("{}%", short(100.0 * a));
    let latest = samples
        .last()
        .map(|s| format!("{} at step {}", percent(s.accuracy), s.step))
        .unwrap_or_else(|| "not measured yet".into());
    let per_epoch: Vec<String> = epochs
        .iter()
        .filter_map(|e| e.test_accuracy.map(percent))
        .collect();
    format!(
        "Test accuracy: on the sample, {latest}. On all test digits after each epoch: {}.",
        if per_epoch.is_empty() {
            "none yet".to_string()
        } else {
            per_epoch.join(", ")
        }
    )
}

/// Returns the text alternative of a norm chart: each layer's latest value.
pub fn norm_summary(curve: &Curve, names: &[String], norm: Norm, title: &str) -> String {
    let Some(last) = curve.visible().last() else {
        return format!("{title}: no steps yet.");
    };
    let values: Vec<String> = names
        .iter()
        .zip(norm_values(last, norm))
        .map(|(name, v)| format!("{name} {}", short(*v)))
        .collect();
    format!("{title} at step {}: {}.", last.step, values.join(", "))
}

/// Mean loss of the first and of the last `window` plotted points, for tests that read
/// whether the loss fell.
pub fn loss_ends(curve: &Curve, window: usize) -> Option<(f64, f64)> {
    let losses: Vec<f64> = curve.visible().map(|p| p.loss).collect();
    if losses.is_empty() {
        return None;
    }
    let window = window.clamp(1, losses.len());
    let mean = |values: &[f64]| values.iter().sum::<f64>() / values.len() as f64;
    Some((
        mean(&losses[..window]),
        mean(&losses[losses.len() - window..]),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::training::protocol::{Settings, StepPoint};

    fn curve(losses: &[f64]) -> Curve {
        let mut curve = Curve::default();
        for (i, loss) in losses.iter().enumerate() {
            curve.push(&StepPoint {
                step: i + 1,
                epoch: 0,
                loss: *loss,
                delta_norms: vec![*loss, 2.0 * loss],
                weight_grad_norms: vec![0.5],
            });
        }
        curve
    }

    #[test]
    fn layer_names_count_each_kind() {
        let names = layer_names(&Settings::default().network());
        assert_eq!(
            names,
            vec![
                "conv 1",
                "relu 1",
                "max pool 1",
                "conv 2",
                "relu 2",
                "max pool 2",
                "dense 1"
            ]
        );
        assert_eq!(
            param_layer_names(&Settings::default().network()),
            vec!["conv 1", "conv 2", "dense 1"]
        );
    }

    #[test]
    fn epoch_mean_is_flat_segment() {
        let stat = EpochStat {
            epoch: 0,
            first_step: 1,
            last_step: 4,
            loss_sum: 8.0,
            steps: 4,
            test_accuracy: Some(0.5),
        };
        let series = loss_series(&curve(&[3.0, 2.0]), std::slice::from_ref(&stat), None);
        assert_eq!(series[0].points, vec![(1.0, 3.0), (2.0, 2.0)]);
        assert_eq!(series[1].points, vec![(1.0, 2.0), (4.0, 2.0)]);
        let reference = Reference {
            label: "sigmoid, max pooling".into(),
            curve: curve(&[4.0, 2.0]),
        };
        let with_reference = loss_series(&curve(&[3.0]), &[], Some(&reference));
        assert_eq!(
            with_reference[0].name,
            "previous run (sigmoid, max pooling)"
        );
        assert_eq!(with_reference[0].stroke, Stroke::Faint);
        assert_eq!(with_reference[0].points, vec![(1.0, 4.0), (2.0, 2.0)]);
        let accuracy = accuracy_series(&[], &[stat]);
        assert_eq!(accuracy[1].points, vec![(4.0, 50.0)]);
    }

    #[test]
    fn norm_series_put_reference_first_and_faint() {
        let names = vec!["a".to_string(), "b".to_string()];
        let reference = Reference {
            label: "sigmoid".into(),
            curve: curve(&[1.0]),
        };
        let series = norm_series(&curve(&[4.0, 3.0]), Some(&reference), &names, Norm::Delta);
        assert_eq!(series.len(), 4);
        assert_eq!(series[0].stroke, Stroke::Faint);
        assert!(!series[0].in_legend);
        assert_eq!(series[3].points, vec![(1.0, 8.0), (2.0, 6.0)]);
        assert_eq!(series[1].colour, series[3].colour);
    }

    #[test]
    fn binned_norms_average_runs() {
        let binned = binned_norms(&curve(&[1.0, 3.0, 5.0, 7.0, 9.0]), Norm::Delta, 2);
        assert_eq!(binned, vec![(3, vec![3.0, 6.0]), (5, vec![8.0, 16.0])]);
        assert_eq!(
            binned_norms(&curve(&[1.0, 3.0]), Norm::WeightGrad, 150).len(),
            2
        );
    }

    #[test]
    fn loss_ends_average_each_end() {
        assert_eq!(
            loss_ends(&curve(&[4.0, 2.0, 1.0, 1.0]), 2),
            Some((3.0, 1.0))
        );
        assert_eq!(loss_ends(&curve(&[4.0]), 20), Some((4.0, 4.0)));
        assert_eq!(loss_ends(&Curve::default(), 2), None);
    }

    #[test]
    fn summaries_name_latest_values() {
        let names = vec!["conv 1".to_string(), "relu 1".to_string()];
        assert_eq!(
            norm_summary(&curve(&[1.0, 0.5]), &names, Norm::Delta, "δ norms"),
            "δ norms at step 2: conv 1 0.5, relu 1 1."
        );
        assert!(loss_summary(&curve(&[2.0, 1.0]), &[]).contains("2 at step 1, 1 at step 2"));
    }
}
