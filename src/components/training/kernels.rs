//! The first conv layer's kernels and their gradients as two strips of small maps.

use std::rc::Rc;

use yew::prelude::*;

use crate::colormap::symmetric_scale;
use crate::components::heatmap::Heatmap;
use crate::components::legend::Legend;
use crate::training::engine::PROBE_SIZE;

/// Lays `count` maps of `rows × cols` values side by side with a one-column gap of
/// zeros between neighbours, so that one heatmap shows them all. Returns the values and
/// the column count.
pub fn tile(values: &[f64], count: usize, rows: usize, cols: usize) -> (Vec<f64>, usize) {
    let width = count * cols + count.saturating_sub(1);
    let mut tiled = vec![0.0; rows * width];
    for map in 0..count {
        for row in 0..rows {
            for col in 0..cols {
                let source = (map * rows + row) * cols + col;
                if let Some(v) = values.get(source) {
                    tiled[row * width + map * (cols + 1) + col] = *v;
                }
            }
        }
    }
    (tiled, width)
}

#[derive(Properties, PartialEq)]
pub struct KernelsProps {
    /// `[kernels, 1, rows, cols]` weights, row-major.
    pub kernels: Rc<[f64]>,
    /// dL/dW of the same shape; empty until measured.
    pub grads: Rc<[f64]>,
    pub count: usize,
    pub rows: usize,
    pub cols: usize,
}

#[component]
pub fn Kernels(props: &KernelsProps) -> Html {
    let strip = |values: &Rc<[f64]>, caption: String, tensor: &'static str| {
        if values.is_empty() {
            return html! { <p class="hint">{ format!("{caption}: not measured yet.") }</p> };
        }
        let (tiled, cols) = tile(values, props.count, props.rows, props.cols);
        let scale = symmetric_scale(values);
        html! {
            <div class="kernel-strip">
                <Heatmap values={Rc::<[f64]>::from(tiled)} rows={props.rows} {cols} {scale} caption={caption} tensor={tensor} />
                <Legend {scale} />
            </div>
        }
    };
    let size = format!("{}×{}", props.rows, props.cols);
    html! {
        <div class="kernels">
            { strip(&props.kernels, format!("W of conv 1: {} kernels of {size}, left to right", props.count), "kernels") }
            { strip(&props.grads, format!("dL/dW of conv 1, mean over {PROBE_SIZE} fixed training digits of every class"), "kernel-grads") }
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::tile;

    #[test]
    fn tile_puts_gap_between_maps() {
        // Two 2×2 maps: [1 2; 3 4] and [5 6; 7 8].
        let values: Vec<f64> = (1..=8).map(f64::from).collect();
        let (tiled, cols) = tile(&values, 2, 2, 2);
        assert_eq!(cols, 5);
        assert_eq!(
            tiled,
            vec![1.0, 2.0, 0.0, 5.0, 6.0, 3.0, 4.0, 0.0, 7.0, 8.0]
        );
    }
}
