//! A tensor shown as a group of heatmaps sharing one colour scale and one legend.

use std::rc::Rc;

use cnn_core::Tensor;
use yew::prelude::*;

use super::heatmap::Heatmap;
use super::legend::Legend;
use crate::colormap::symmetric_scale;

/// One 2-D slice of a tensor, ready to draw.
#[derive(Clone, Debug, PartialEq)]
pub struct Plane {
    pub caption: String,
    pub values: Rc<[f64]>,
    pub rows: usize,
    pub cols: usize,
}

/// Splits a tensor into the planes a learner expects to see:
/// - `[N]`: one row of N cells;
/// - `[rows, cols]`: one matrix;
/// - `[C, H, W]`: one map per channel;
/// - `[K, C, FH, FW]`: one kernel per kernel and channel pair;
/// - `[C, H_out, W_out, PH, PW]` (per-window values): one map per channel with the windows
///   tiled side by side.
pub fn planes(tensor: &Tensor) -> Vec<Plane> {
    let shape = tensor.shape();
    let data = tensor.data();
    let whole = |caption: String, rows, cols| Plane {
        caption,
        values: data.into(),
        rows,
        cols,
    };
    match *shape {
        [n] => vec![whole(format!("{n} values"), 1, n)],
        [rows, cols] => vec![whole(format!("{rows}×{cols}"), rows, cols)],
        [chans, rows, cols] => (0..chans)
            .map(|c| Plane {
                caption: format!("channel {c}"),
                values: data[c * rows * cols..(c + 1) * rows * cols].into(),
                rows,
                cols,
            })
            .collect(),
        [kernels, chans, rows, cols] => {
            let size = rows * cols;
            (0..kernels * chans)
                .map(|i| Plane {
                    caption: format!("k {}, c {}", i / chans, i % chans),
                    values: data[i * size..(i + 1) * size].into(),
                    rows,
                    cols,
                })
                .collect()
        }
        [chans, out_rows, out_cols, win_rows, win_cols] => (0..chans)
            .map(|c| {
                let (rows, cols) = (out_rows * win_rows, out_cols * win_cols);
                let mut values = vec![0.0; rows * cols];
                for (i, value) in values.iter_mut().enumerate() {
                    let (row, col) = (i / cols, i % cols);
                    let index = [
                        c,
                        row / win_rows,
                        col / win_cols,
                        row % win_rows,
                        col % win_cols,
                    ];
                    *value = tensor.get(&index).unwrap_or(f64::NAN);
                }
                Plane {
                    caption: format!("channel {c}, windows tiled"),
                    values: values.into(),
                    rows,
                    cols,
                }
            })
            .collect(),
        _ => vec![whole(format!("{} values", data.len()), 1, data.len())],
    }
}

#[derive(Properties, PartialEq)]
pub struct TensorMapsProps {
    /// Heading, in the core's notation ("δ in = dL/dy", say).
    pub title: AttrValue,
    /// The trace's name for the tensor, as `data-tensor` on every canvas.
    pub name: AttrValue,
    pub tensor: Rc<Tensor>,
}

#[component]
pub fn TensorMaps(props: &TensorMapsProps) -> Html {
    let maps = planes(&props.tensor);
    let scale = symmetric_scale(props.tensor.data());
    let shape = props
        .tensor
        .shape()
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>()
        .join("×");
    html! {
        <div class="tensor" data-tensor={props.name.clone()}>
            <div class="tensor-head">
                <h4>{ props.title.clone() }<span class="shape">{ format!(" [{shape}]") }</span></h4>
                <Legend {scale} />
            </div>
            <div class="maps">
                { for maps.into_iter().map(|plane| html! {
                    <Heatmap
                        values={plane.values}
                        rows={plane.rows}
                        cols={plane.cols}
                        {scale}
                        caption={plane.caption}
                        tensor={props.name.clone()}
                    />
                }) }
            </div>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_become_maps() {
        let t = Tensor::from_vec(&[2, 1, 2], vec![1.0, 2.0, 3.0, 4.0]).unwrap();
        let p = planes(&t);
        assert_eq!(p.len(), 2);
        assert_eq!(&*p[1].values, &[3.0, 4.0]);
        assert_eq!((p[1].rows, p[1].cols), (1, 2));
    }

    #[test]
    fn windows_are_tiled() {
        // One channel, 1×2 windows of 2×2: the tiles sit side by side.
        let t = Tensor::from_vec(&[1, 1, 2, 2, 2], (0..8).map(f64::from).collect()).unwrap();
        let p = planes(&t);
        assert_eq!((p[0].rows, p[0].cols), (2, 4));
        assert_eq!(&*p[0].values, &[0.0, 1.0, 4.0, 5.0, 2.0, 3.0, 6.0, 7.0]);
    }
}
