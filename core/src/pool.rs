//! Pooling layer: mean, max or L2 norm over `PH × PW` windows, per channel, no padding.
//!
//! Window `(i, j)` covers rows `i·SH .. i·SH + PH` and columns `j·SW .. j·SW + PW`. Output
//! size per axis is `(H − P) / S + 1`, rounded down, so windows that do not fit are dropped
//! and the cells only they would cover get a zero gradient.
//!
//! Backward, for `δ = dL/dy`: every window sends gradient to its cells, and a cell inside
//! several windows (stride < size) receives the sum.
//! - mean: `y` is the window average, each cell gets `δ / β` with `β = PH·PW`;
//! - max: `y` is the window maximum, the whole `δ` goes to one cell, the first maximum in
//!   row-major window order, recorded in the forward pass as the window's switch;
//! - L2: `y = sqrt(Σ x²)`, each cell gets `δ · x / y`, and 0 when the whole window is zero.
//!
//! Shapes: `x [C, H, W]`, `y [C, H_out, W_out]`.
//!
//! ```
//! use cnn_core::pool::{self, PoolGeometry, PoolKind, PoolSpec};
//! use cnn_core::{Location, Tensor};
//!
//! let spec = PoolSpec { kind: PoolKind::Mean, size: [2, 2], stride: [1, 1] };
//! let g = PoolGeometry::new(&spec, [1, 3, 3], Location::Input).unwrap();
//! let x = Tensor::from_vec(&[1, 3, 3], (1..=9).map(f64::from).collect()).unwrap();
//! let forward = pool::forward(&g, &x);
//! assert_eq!(forward.y.data(), &[3.0, 4.0, 6.0, 7.0]);
//!
//! // δ = 1 per window: each cell gets 1/4 from every window that covers it.
//! let grad_y = Tensor::from_vec(&[1, 2, 2], vec![1.0; 4]).unwrap();
//! let back = pool::backward(&g, &x, &forward, &grad_y);
//! assert_eq!(back.grad_x.data(), &[0.25, 0.5, 0.25, 0.5, 1.0, 0.5, 0.25, 0.5, 0.25]);
//! ```

use serde::{Deserialize, Serialize};

use crate::budget::{self, Amount};
use crate::{CoreError, Location, Tensor};

/// The reduction a pooling window applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PoolKind {
    Mean,
    Max,
    L2,
}

impl PoolKind {
    pub const ALL: [PoolKind; 3] = [PoolKind::Max, PoolKind::Mean, PoolKind::L2];

    /// The name used in specs.
    pub fn name(self) -> &'static str {
        match self {
            PoolKind::Mean => "mean",
            PoolKind::Max => "max",
            PoolKind::L2 => "l2",
        }
    }

    /// The name used in prose: "mean", "max" or "L2".
    pub fn label(self) -> &'static str {
        match self {
            PoolKind::L2 => "L2",
            other => other.name(),
        }
    }
}

/// A pooling layer as written in a network spec.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolSpec {
    pub kind: PoolKind,
    /// Window height and width `[PH, PW]`.
    pub size: [usize; 2],
    /// Step between windows `[SH, SW]`.
    pub stride: [usize; 2],
}

/// The sizes of one pooling layer on a known input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoolGeometry {
    pub kind: PoolKind,
    pub chans: usize,
    pub h_in: usize,
    pub w_in: usize,
    pub size: [usize; 2],
    pub stride: [usize; 2],
    pub h_out: usize,
    pub w_out: usize,
}

impl PoolGeometry {
    /// Checks `spec` on an input of shape `[C, H, W]` and computes the output size.
    ///
    /// Errors: a zero window size or stride, or a window larger than the input.
    pub fn new(spec: &PoolSpec, input: [usize; 3], at: Location) -> Result<Self, CoreError> {
        for (axis, name) in ["window height", "window width"].into_iter().enumerate() {
            if spec.size[axis] == 0 {
                return Err(CoreError::ZeroSize { at, field: name });
            }
        }
        for (axis, name) in ["stride height", "stride width"].into_iter().enumerate() {
            if spec.stride[axis] == 0 {
                return Err(CoreError::ZeroStride { at, field: name });
            }
        }
        let [chans, rows, cols] = input;
        let mut out = [0; 2];
        for (axis, extent) in [rows, cols].into_iter().enumerate() {
            if spec.size[axis] > extent {
                return Err(CoreError::WindowTooLarge {
                    at,
                    axis: ["rows", "columns"][axis],
                    size: spec.size[axis],
                    input: extent,
                });
            }
            out[axis] = (extent - spec.size[axis]) / spec.stride[axis] + 1;
        }
        Ok(Self {
            kind: spec.kind,
            chans,
            h_in: rows,
            w_in: cols,
            size: spec.size,
            stride: spec.stride,
            h_out: out[0],
            w_out: out[1],
        })
    }

    pub fn output_shape(&self) -> [usize; 3] {
        [self.chans, self.h_out, self.w_out]
    }

    /// Window area `β = PH·PW`.
    pub fn beta(&self) -> usize {
        self.size[0] * self.size[1]
    }

    /// Multiply-adds (or comparisons) of one forward pass.
    pub fn multiply_adds(&self) -> Amount {
        budget::product(&[
            self.chans as Amount,
            self.h_out as Amount,
            self.w_out as Amount,
            self.beta() as Amount,
        ])
    }

    /// Flat indices into `x` of the cells of window `(i, j)` of channel `c`, row-major.
    pub fn window(&self, c: usize, i: usize, j: usize) -> impl Iterator<Item = usize> + '_ {
        let top = i * self.stride[0];
        let left = j * self.stride[1];
        (0..self.size[0]).flat_map(move |u| {
            (0..self.size[1]).map(move |v| (c * self.h_in + top + u) * self.w_in + left + v)
        })
    }
}

/// The pooled output and what the backward pass needs from the forward pass.
#[derive(Clone, Debug, PartialEq)]
pub struct PoolForward {
    pub y: Tensor,
    /// For max pooling, the flat index into `x` of each window's first maximum (the
    /// switches), one per output value; empty for the other kinds.
    pub switches: Vec<usize>,
}

/// Pools `x` with geometry `g`.
pub fn forward(g: &PoolGeometry, x: &Tensor) -> PoolForward {
    let mut y = Vec::with_capacity(g.chans * g.h_out * g.w_out);
    let mut switches = Vec::new();
    let data = x.data();
    for c in 0..g.chans {
        for i in 0..g.h_out {
            for j in 0..g.w_out {
                match g.kind {
                    PoolKind::Mean => {
                        let sum: f64 = g.window(c, i, j).map(|at| data[at]).sum();
                        y.push(sum / g.beta() as f64);
                    }
                    PoolKind::Max => {
                        let first_max = first_maximum(g.window(c, i, j), data);
                        switches.push(first_max);
                        y.push(data[first_max]);
                    }
                    PoolKind::L2 => {
                        let squares: f64 = g.window(c, i, j).map(|at| data[at] * data[at]).sum();
                        y.push(squares.sqrt());
                    }
                }
            }
        }
    }
    let y = Tensor::from_vec(&g.output_shape(), y).expect("one value per window");
    PoolForward { y, switches }
}

/// The first index whose value is strictly larger than every earlier one's: on a tie the
/// row-major first cell wins.
fn first_maximum(mut cells: impl Iterator<Item = usize>, data: &[f64]) -> usize {
    let mut best = cells.next().expect("windows are not empty");
    for at in cells {
        if data[at] > data[best] {
            best = at;
        }
    }
    best
}

/// What each window did with its `δ`, for display.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum PoolRouting {
    /// Every cell of a window gets `δ / beta`.
    Mean { beta: usize },
    /// `switches[c][i][j] = [row, col]` of the input cell that gets window `(i, j)`'s `δ`.
    Max { switches: Tensor },
    /// `weights[c][i][j][u][v] = x / y` for cell `(u, v)` of window `(i, j)`, 0 when the
    /// window is all zero; the cell gets `δ` times this weight.
    L2 { weights: Tensor },
}

/// The pool backward step: the routing used and the upsampled `δ`.
#[derive(Clone, Debug, PartialEq)]
pub struct PoolBackward {
    pub routing: PoolRouting,
    pub grad_x: Tensor,
}

/// Upsamples `grad_y = δ` to the input's shape.
pub fn backward(
    g: &PoolGeometry,
    x: &Tensor,
    forward: &PoolForward,
    grad_y: &Tensor,
) -> PoolBackward {
    let mut grad_x = Tensor::zeros(&[g.chans, g.h_in, g.w_in]);
    let delta = grad_y.data();
    let y = forward.y.data();
    let mut l2_weights = Vec::new();
    let mut switch_cells = Vec::new();
    let mut out = 0;
    for c in 0..g.chans {
        for i in 0..g.h_out {
            for j in 0..g.w_out {
                match g.kind {
                    PoolKind::Mean => {
                        let share = delta[out] / g.beta() as f64;
                        for at in g.window(c, i, j) {
                            grad_x.data_mut()[at] += share;
                        }
                    }
                    PoolKind::Max => {
                        let at = forward.switches[out];
                        grad_x.data_mut()[at] += delta[out];
                        let within = at % (g.h_in * g.w_in);
                        switch_cells.push((within / g.w_in) as f64);
                        switch_cells.push((within % g.w_in) as f64);
                    }
                    PoolKind::L2 => {
                        for at in g.window(c, i, j) {
                            // An all-zero window has y = 0: its cells get 0, not 0/0.
                            let weight = if y[out] == 0.0 {
                                0.0
                            } else {
                                x.data()[at] / y[out]
                            };
                            l2_weights.push(weight);
                            grad_x.data_mut()[at] += delta[out] * weight;
                        }
                    }
                }
                out += 1;
            }
        }
    }
    let [chans, h_out, w_out] = g.output_shape();
    let routing = match g.kind {
        PoolKind::Mean => PoolRouting::Mean { beta: g.beta() },
        PoolKind::Max => PoolRouting::Max {
            switches: Tensor::from_vec(&[chans, h_out, w_out, 2], switch_cells)
                .expect("two per window"),
        },
        PoolKind::L2 => PoolRouting::L2 {
            weights: Tensor::from_vec(&[chans, h_out, w_out, g.size[0], g.size[1]], l2_weights)
                .expect("one per window cell"),
        },
    };
    PoolBackward { routing, grad_x }
}

/// A max-pool window whose maximum appears in more than one cell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tie {
    /// `[c, i, j]` of the window.
    pub window: [usize; 3],
    /// `[c, row, col]` of every cell holding the maximum, row-major; the first gets δ.
    pub cells: Vec<[usize; 3]>,
}

/// Lists the windows of `g` on `x` whose maximum is held by several cells.
pub fn ties(g: &PoolGeometry, x: &Tensor) -> Vec<Tie> {
    let data = x.data();
    let mut found = Vec::new();
    for c in 0..g.chans {
        for i in 0..g.h_out {
            for j in 0..g.w_out {
                let max = g
                    .window(c, i, j)
                    .map(|at| data[at])
                    .fold(f64::NEG_INFINITY, f64::max);
                let cells: Vec<[usize; 3]> = g
                    .window(c, i, j)
                    .filter(|&at| data[at] == max)
                    .map(|at| {
                        let within = at % (g.h_in * g.w_in);
                        [c, within / g.w_in, within % g.w_in]
                    })
                    .collect();
                if cells.len() > 1 {
                    found.push(Tie {
                        window: [c, i, j],
                        cells,
                    });
                }
            }
        }
    }
    found
}

/// Upsamples the same `grad_y` through a window of `spec`'s size and stride for every
/// pooling kind, on the same input `x`, for a side-by-side comparison.
///
/// Errors: the errors of [`PoolGeometry::new`], or an `x` or `grad_y` of the wrong shape.
pub fn compare_kinds(
    spec: &PoolSpec,
    x: &Tensor,
    grad_y: &Tensor,
) -> Result<Vec<(PoolKind, PoolBackward)>, CoreError> {
    let shape = x.shape();
    let [chans, rows, cols] = match *shape {
        [c, h, w] => [c, h, w],
        _ => {
            return Err(CoreError::NeedsMap {
                at: Location::Input,
                len: x.len(),
            })
        }
    };
    let mut results = Vec::with_capacity(3);
    for kind in PoolKind::ALL {
        let g = PoolGeometry::new(
            &PoolSpec {
                kind,
                ..spec.clone()
            },
            [chans, rows, cols],
            Location::Input,
        )?;
        if grad_y.shape() != g.output_shape() {
            return Err(CoreError::WrongShape {
                at: Location::Objective,
                tensor: "the upstream gradient",
                expected: g.output_shape().to_vec(),
                actual: grad_y.shape().to_vec(),
            });
        }
        let record = forward(&g, x);
        results.push((kind, backward(&g, x, &record, grad_y)));
    }
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn geometry(kind: PoolKind, size: usize, stride: usize, input: [usize; 3]) -> PoolGeometry {
        let spec = PoolSpec {
            kind,
            size: [size, size],
            stride: [stride, stride],
        };
        PoolGeometry::new(&spec, input, Location::Input).unwrap()
    }

    #[test]
    fn max_tie_goes_to_first_cell() {
        let g = geometry(PoolKind::Max, 2, 2, [1, 2, 2]);
        let x = Tensor::from_vec(&[1, 2, 2], vec![1.0, 3.0, 3.0, 3.0]).unwrap();
        let f = forward(&g, &x);
        assert_eq!(f.switches, vec![1]);
        let grad_y = Tensor::from_vec(&[1, 1, 1], vec![2.0]).unwrap();
        let back = backward(&g, &x, &f, &grad_y);
        assert_eq!(back.grad_x.data(), &[0.0, 2.0, 0.0, 0.0]);
        let PoolRouting::Max { switches } = back.routing else {
            panic!("max routing expected");
        };
        assert_eq!(switches.data(), &[0.0, 1.0]);
    }

    #[test]
    fn max_overlapping_windows_add_up() {
        // The centre 9 is the maximum of all four 2×2 stride-1 windows.
        let g = geometry(PoolKind::Max, 2, 1, [1, 3, 3]);
        let x = Tensor::from_vec(&[1, 3, 3], vec![1., 2., 3., 4., 9., 5., 6., 7., 8.]).unwrap();
        let f = forward(&g, &x);
        let grad_y = Tensor::from_vec(&[1, 2, 2], vec![1.0, 2.0, 3.0, 4.0]).unwrap();
        let back = backward(&g, &x, &f, &grad_y);
        assert_eq!(back.grad_x.data()[4], 10.0);
        assert_eq!(back.grad_x.data().iter().sum::<f64>(), 10.0);
    }

    #[test]
    fn l2_zero_window_passes_zero() {
        let g = geometry(PoolKind::L2, 2, 2, [1, 2, 4]);
        let x = Tensor::from_vec(&[1, 2, 4], vec![0., 0., 3., 0., 0., 0., 0., 4.]).unwrap();
        let f = forward(&g, &x);
        assert_eq!(f.y.data(), &[0.0, 5.0]);
        let grad_y = Tensor::from_vec(&[1, 1, 2], vec![1.0, 10.0]).unwrap();
        let back = backward(&g, &x, &f, &grad_y);
        assert_eq!(back.grad_x.data(), &[0., 0., 6., 0., 0., 0., 0., 8.]);
        assert!(back.grad_x.data().iter().all(|v| v.is_finite()));
    }

    #[test]
    fn floor_mode_drops_partial_windows() {
        let g = geometry(PoolKind::Mean, 2, 2, [1, 5, 5]);
        assert_eq!(g.output_shape(), [1, 2, 2]);
        let x = Tensor::from_vec(&[1, 5, 5], vec![1.0; 25]).unwrap();
        let f = forward(&g, &x);
        let grad_y = Tensor::from_vec(&[1, 2, 2], vec![4.0; 4]).unwrap();
        let back = backward(&g, &x, &f, &grad_y);
        // Row 4 and column 4 are in no window.
        for k in 0..5 {
            assert_eq!(back.grad_x.data()[4 * 5 + k], 0.0);
            assert_eq!(back.grad_x.data()[k * 5 + 4], 0.0);
        }
        assert_eq!(back.grad_x.data()[0], 1.0);
    }

    #[test]
    fn ties_list_shared_maxima() {
        let g = geometry(PoolKind::Max, 2, 2, [1, 2, 4]);
        let x = Tensor::from_vec(&[1, 2, 4], vec![1.0, 3.0, 5.0, 0.0, 3.0, 2.0, 1.0, 4.0]).unwrap();
        let found = ties(&g, &x);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].window, [0, 0, 0]);
        assert_eq!(found[0].cells, vec![[0, 0, 1], [0, 1, 0]]);
    }

    #[test]
    fn compare_kinds_follows_each_rule() {
        let spec = PoolSpec {
            kind: PoolKind::Max,
            size: [2, 2],
            stride: [2, 2],
        };
        let x = Tensor::from_vec(&[1, 2, 2], vec![3.0, 0.0, 0.0, 4.0]).unwrap();
        let grad_y = Tensor::from_vec(&[1, 1, 1], vec![2.0]).unwrap();
        let results = compare_kinds(&spec, &x, &grad_y).unwrap();
        let by_kind = |kind| {
            results
                .iter()
                .find(|(k, _)| *k == kind)
                .unwrap()
                .1
                .grad_x
                .data()
                .to_vec()
        };
        assert_eq!(by_kind(PoolKind::Max), vec![0.0, 0.0, 0.0, 2.0]);
        assert_eq!(by_kind(PoolKind::Mean), vec![0.5; 4]);
        // x/‖x‖ with ‖x‖ = 5, times δ = 2.
        assert_eq!(by_kind(PoolKind::L2), vec![1.2, 0.0, 0.0, 1.6]);
    }

    #[test]
    fn window_larger_than_input_is_rejected() {
        let spec = PoolSpec {
            kind: PoolKind::Max,
            size: [3, 2],
            stride: [1, 1],
        };
        let err = PoolGeometry::new(&spec, [1, 2, 5], Location::Input).unwrap_err();
        assert!(
            matches!(
                err,
                CoreError::WindowTooLarge {
                    size: 3,
                    input: 2,
                    ..
                }
            ),
            "{err}"
        );
    }
}
