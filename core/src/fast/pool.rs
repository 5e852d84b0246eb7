//! Mean, max and L2 pooling in `f32`, with the reference's conventions (see
//! [`crate::pool`]): floor mode, the first maximum in row-major window order gets a max
//! window's `δ`, and the cells of an all-zero L2 window get gradient 0.

use crate::pool::{PoolGeometry, PoolKind};

/// One pooling layer and the max-pool switches of the last forward batch.
#[derive(Clone, Debug)]
pub(crate) struct PoolLayer {
    pub g: PoolGeometry,
    /// For max pooling, the index into the example's input of each window's first maximum.
    switches: Vec<u32>,
}

impl PoolLayer {
    pub fn new(g: PoolGeometry) -> Self {
        Self {
            g,
            switches: Vec::new(),
        }
    }

    fn y_len(&self) -> usize {
        self.g.chans * self.g.h_out * self.g.w_out
    }

    /// Makes room for the switches of `batch` examples.
    pub fn reserve(&mut self, batch: usize) {
        if self.g.kind == PoolKind::Max && self.switches.len() < batch * self.y_len() {
            self.switches.resize(batch * self.y_len(), 0);
        }
    }

    /// Pools example `b` of the batch, `x` to `y`.
    #[inline(never)]
    pub fn forward(&mut self, b: usize, x: &[f32], y: &mut [f32]) {
        // A literal size lets the compiler unroll the window loops of the common case.
        if self.g.size == [2, 2] {
            self.forward_sized(b, x, y, [2, 2]);
        } else {
            self.forward_sized(b, x, y, self.g.size);
        }
    }

    #[inline(always)]
    fn forward_sized(&mut self, b: usize, x: &[f32], y: &mut [f32], size: [usize; 2]) {
        let beta = self.g.beta() as f32;
        let y_len = self.y_len();
        match self.g.kind {
            PoolKind::Mean => for_each_window(&self.g, size, |out, window| {
                let sum: f32 = window
                    .rows()
                    .map(|(at, len)| x[at..at + len].iter().sum::<f32>())
                    .sum();
                y[out] = sum / beta;
            }),
            PoolKind::L2 => for_each_window(&self.g, size, |out, window| {
                let squares: f32 = window
                    .rows()
                    .map(|(at, len)| x[at..at + len].iter().map(|v| v * v).sum::<f32>())
                    .sum();
                y[out] = squares.sqrt();
            }),
            PoolKind::Max => {
                let switches = &mut self.switches[b * y_len..(b + 1) * y_len];
                for_each_window(&self.g, size, |out, window| {
                    let mut best = window.first();
                    let mut best_value = x[best];
                    for (at, len) in window.rows() {
                        for (offset, &value) in x[at..at + len].iter().enumerate() {
                            if value > best_value {
                                best = at + offset;
                                best_value = value;
                            }
                        }
                    }
                    // The budget caps a tensor at 2^20 values, so the index fits a u32.
                    switches[out] = best as u32;
                    y[out] = best_value;
                });
            }
        }
    }

    /// Writes `dL/dx` of example `b` into `grad_x` from `delta = dL/dy`, for that
    /// example's `x` and `y`.
    #[inline(never)]
    pub fn backward(&self, b: usize, [x, y]: [&[f32]; 2], delta: &[f32], grad_x: &mut [f32]) {
        if self.g.size == [2, 2] {
            self.backward_sized(b, [x, y], delta, grad_x, [2, 2]);
        } else {
            self.backward_sized(b, [x, y], delta, grad_x, self.g.size);
        }
    }

    #[inline(always)]
    fn backward_sized(
        &self,
        b: usize,
        [x, y]: [&[f32]; 2],
        delta: &[f32],
        grad_x: &mut [f32],
        size: [usize; 2],
    ) {
        let beta = self.g.beta() as f32;
        let y_len = self.y_len();
        grad_x.fill(0.0);
        match self.g.kind {
            PoolKind::Mean => for_each_window(&self.g, size, |out, window| {
                let share = delta[out] / beta;
                for (at, len) in window.rows() {
                    grad_x[at..at + len].iter_mut().for_each(|g| *g += share);
                }
            }),
            PoolKind::Max => {
                let switches = &self.switches[b * y_len..(b + 1) * y_len];
                for (&at, &d) in switches.iter().zip(delta) {
                    grad_x[at as usize] += d;
                }
            }
            PoolKind::L2 => for_each_window(&self.g, size, |out, window| {
                // An all-zero window has y = 0: its cells get 0, not 0/0.
                if y[out] != 0.0 {
                    let scale = delta[out] / y[out];
                    for (at, len) in window.rows() {
                        let cells = grad_x[at..at + len].iter_mut().zip(&x[at..at + len]);
                        cells.for_each(|(g, &v)| *g += scale * v);
                    }
                }
            }),
        }
    }
}

/// Calls `visit(out, window)` for every window, in output order; `size` is `g.size`.
#[inline(always)]
fn for_each_window(g: &PoolGeometry, size: [usize; 2], mut visit: impl FnMut(usize, Window)) {
    let mut out = 0;
    for c in 0..g.chans {
        for i in 0..g.h_out {
            for j in 0..g.w_out {
                let top_left = (c * g.h_in + i * g.stride[0]) * g.w_in + j * g.stride[1];
                visit(
                    out,
                    Window {
                        top_left,
                        size,
                        row_stride: g.w_in,
                    },
                );
                out += 1;
            }
        }
    }
}

/// One pooling window in one example's input.
#[derive(Clone, Copy)]
struct Window {
    /// Index of the window's first cell.
    top_left: usize,
    /// `[rows, columns]`.
    size: [usize; 2],
    /// Values per input row.
    row_stride: usize,
}

impl Window {
    #[inline(always)]
    fn first(self) -> usize {
        self.top_left
    }

    /// Returns the window's rows, top to bottom, as (index of the first cell, cells).
    #[inline(always)]
    fn rows(self) -> impl Iterator<Item = (usize, usize)> {
        (0..self.size[0]).map(move |u| (self.top_left + u * self.row_stride, self.size[1]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pool::PoolSpec;
    use crate::Location;

    #[test]
    fn window_cells_are_row_major() {
        let spec = PoolSpec {
            kind: PoolKind::Mean,
            size: [2, 3],
            stride: [1, 2],
        };
        let g = PoolGeometry::new(&spec, [2, 3, 5], Location::Input).unwrap();
        let mut windows = Vec::new();
        for_each_window(&g, g.size, |out, window| {
            let cells = window.rows().flat_map(|(at, len)| at..at + len);
            windows.push((out, cells.collect::<Vec<_>>()));
        });
        assert_eq!(windows.len(), 2 * 2 * 2);
        assert_eq!(windows[0], (0, vec![0, 1, 2, 5, 6, 7]));
        assert_eq!(windows[3], (3, vec![7, 8, 9, 12, 13, 14]));
        assert_eq!(windows[4].1[0], 15);
    }
}
