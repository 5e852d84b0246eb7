//! A tensor shown as a group of heatmaps sharing one colour scale and one legend, with
//! cells selectable and lit by their index in the tensor.

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
                let values: Vec<f64> = (0..rows * cols)
                    .map(|flat| tensor.get(&index_of(shape, c, flat)).unwrap_or(f64::NAN))
                    .collect();
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

/// The plane and the row-major cell in it that show tensor cell `index`.
pub fn plane_of(shape: &[usize], index: &[usize]) -> Option<(usize, usize)> {
    if index.len() != shape.len() || index.iter().zip(shape).any(|(i, s)| i >= s) {
        return None;
    }
    Some(match (shape, index) {
        ([_], [i]) => (0, *i),
        ([_, cols], [r, c]) => (0, r * cols + c),
        ([_, _, cols], [c, h, w]) => (*c, h * cols + w),
        ([_, chans, _, cols], [k, c, u, v]) => (k * chans + c, u * cols + v),
        ([_, _, out_cols, win_rows, win_cols], [c, i, j, u, v]) => {
            let cols = out_cols * win_cols;
            (*c, (i * win_rows + u) * cols + j * win_cols + v)
        }
        _ => (0, flat(shape, index)),
    })
}

fn flat(shape: &[usize], index: &[usize]) -> usize {
    index.iter().zip(shape).fold(0, |acc, (i, s)| acc * s + i)
}

/// The tensor index of cell `flat` of plane `plane`; the inverse of [`plane_of`].
pub fn index_of(shape: &[usize], plane: usize, flat_cell: usize) -> Vec<usize> {
    match *shape {
        [_] => vec![flat_cell],
        [_, cols] => vec![flat_cell / cols, flat_cell % cols],
        [_, _, cols] => vec![plane, flat_cell / cols, flat_cell % cols],
        [_, chans, _, cols] => vec![
            plane / chans,
            plane % chans,
            flat_cell / cols,
            flat_cell % cols,
        ],
        [_, _, out_cols, win_rows, win_cols] => {
            let cols = out_cols * win_cols;
            let (row, col) = (flat_cell / cols, flat_cell % cols);
            vec![
                plane,
                row / win_rows,
                col / win_cols,
                row % win_rows,
                col % win_cols,
            ]
        }
        _ => {
            let mut rest = flat_cell;
            let mut index = vec![0; shape.len()];
            for (slot, &dim) in index.iter_mut().zip(shape).rev() {
                *slot = rest % dim.max(1);
                rest /= dim.max(1);
            }
            index
        }
    }
}

#[derive(Properties, PartialEq)]
pub struct TensorMapsProps {
    /// Heading, in the core's notation ("δ = dL/dy", say).
    pub title: AttrValue,
    /// The trace's name for the tensor, as `data-tensor` on every canvas.
    pub name: AttrValue,
    pub tensor: Rc<Tensor>,
    /// Cells (tensor indices) to outline.
    #[prop_or_default]
    pub highlights: Rc<Vec<Vec<usize>>>,
    /// The selected cell, as a tensor index.
    #[prop_or_default]
    pub selected: Option<Vec<usize>>,
    /// Called with the tensor index of a clicked cell.
    #[prop_or_default]
    pub on_select: Option<Callback<Vec<usize>>>,
}

#[component]
pub fn TensorMaps(props: &TensorMapsProps) -> Html {
    let maps = planes(&props.tensor);
    let scale = symmetric_scale(props.tensor.data());
    let shape_list = props.tensor.shape().to_vec();
    let shape_text = shape_list
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>()
        .join("×");

    // Sort the lit cells and the selection into their planes once.
    let mut lit: Vec<Vec<usize>> = vec![Vec::new(); maps.len()];
    for index in props.highlights.iter() {
        if let Some((plane, cell)) = plane_of(&shape_list, index) {
            lit[plane].push(cell);
        }
    }
    let selected = props
        .selected
        .as_ref()
        .and_then(|index| plane_of(&shape_list, index));

    html! {
        <div class="tensor" data-tensor={props.name.clone()}>
            <div class="tensor-head">
                <h4>{ props.title.clone() }<span class="shape">{ format!(" [{shape_text}]") }</span></h4>
                <Legend {scale} />
            </div>
            <div class="maps">
                { for maps.into_iter().enumerate().map(|(plane, map)| {
                    let on_select = props.on_select.clone().map(|callback| {
                        let shape = shape_list.clone();
                        Callback::from(move |cell: usize| callback.emit(index_of(&shape, plane, cell)))
                    });
                    html! {
                        <Heatmap
                            values={map.values}
                            rows={map.rows}
                            cols={map.cols}
                            {scale}
                            caption={map.caption}
                            tensor={props.name.clone()}
                            highlights={Rc::<[usize]>::from(std::mem::take(&mut lit[plane]))}
                            selected={selected.filter(|(p, _)| *p == plane).map(|(_, cell)| cell)}
                            {on_select}
                        />
                    }
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

    #[test]
    fn plane_of_inverts_index_of() {
        for shape in [
            vec![5],
            vec![3, 4],
            vec![2, 3, 4],
            vec![2, 3, 2, 2],
            vec![2, 2, 3, 2, 2],
        ] {
            let t = Tensor::zeros(&shape);
            for n in 0..t.len() {
                let index = t.unravel(n);
                let (plane, cell) = plane_of(&shape, &index).unwrap();
                assert_eq!(index_of(&shape, plane, cell), index, "shape {shape:?}");
            }
        }
        assert_eq!(plane_of(&[2, 3, 4], &[2, 0, 0]), None);
    }
}
