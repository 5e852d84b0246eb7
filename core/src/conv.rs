//! Convolution layer (cross-correlation, as in deep-learning frameworks).
//!
//! Forward, for kernel `k`, output cell `(i, j)`:
//!
//! ```text
//! y[k][i][j] = b[k] + Σ_c Σ_u Σ_v w[k][c][u][v] · xp[c][i·SH + u·DH][j·SW + v·DW]
//! ```
//!
//! where `xp` is `x` with `PH` zero rows above and below and `PW` zero columns left and
//! right. Output size per axis: `(H + 2P − D·(F − 1) − 1) / S + 1`, rounded down.
//!
//! Backward, given `δ = dL/dy` of shape `[K, H_out, W_out]`:
//! - `dL/dw[k][c]` is the valid correlation of `xp[c]` with `δ[k]`, the taps of `δ` spaced
//!   `S` apart (which equals correlating with `δ[k]` with `S − 1` zeros inserted between
//!   entries) and the output spaced `D` apart;
//! - `dL/db[k] = Σ_ij δ[k][i][j]`;
//! - `dL/dx[c]` is `Σ_k` of the full correlation of `δ[k]` (zeros inserted for stride > 1,
//!   then padded by the dilated kernel extent − 1) with `w[k][c]` rotated by 180°, its taps
//!   `D` apart; the result is `dL/dxp`, and cropping `P` from each side gives `dL/dx`.
//!
//! Shapes: `x [C, H, W]`, `w [K, C, FH, FW]`, `b [K]`, `y [K, H_out, W_out]`.
//!
//! ```
//! use cnn_core::conv::{self, ConvGeometry, ConvSpec};
//! use cnn_core::{Location, Tensor};
//!
//! // A 3×3 map, one 2×2 kernel of ones, no padding: each output sums a 2×2 block.
//! let spec = ConvSpec { kernels: 1, size: [2, 2], stride: [1, 1], padding: [0, 0], dilation: [1, 1] };
//! let geometry = ConvGeometry::new(&spec, [1, 3, 3], Location::Input).unwrap();
//! let x = Tensor::from_vec(&[1, 3, 3], (1..=9).map(f64::from).collect()).unwrap();
//! let w = Tensor::from_vec(&[1, 1, 2, 2], vec![1.0; 4]).unwrap();
//! let b = Tensor::from_vec(&[1], vec![0.5]).unwrap();
//! let y = conv::forward(&geometry, &x, &w, &b);
//! assert_eq!(y.data(), &[12.5, 16.5, 24.5, 28.5]);
//!
//! // With δ = 1 everywhere each input cell's gradient counts the windows reading it.
//! let grad_y = Tensor::from_vec(&[1, 2, 2], vec![1.0; 4]).unwrap();
//! let grads = conv::backward(&geometry, &x, &w, &grad_y);
//! assert_eq!(grads.grad_x.data(), &[1.0, 2.0, 1.0, 2.0, 4.0, 2.0, 1.0, 2.0, 1.0]);
//! assert_eq!(grads.grad_b.data(), &[4.0]);
//! assert_eq!(grads.grad_w.data(), &[12.0, 16.0, 24.0, 28.0]);
//! ```

use serde::{Deserialize, Serialize};

use crate::budget::{self, Amount};
use crate::{CoreError, Location, Tensor};

/// A convolution layer as written in a network spec.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConvSpec {
    /// Number of kernels K, which is the number of output channels.
    pub kernels: usize,
    /// Kernel height and width `[FH, FW]`.
    pub size: [usize; 2],
    /// Step between windows `[SH, SW]`.
    #[serde(default = "ones")]
    pub stride: [usize; 2],
    /// Zero rows above and below, zero columns left and right `[PH, PW]`.
    #[serde(default)]
    pub padding: [usize; 2],
    /// Spacing between kernel taps `[DH, DW]`; 1 means adjacent taps.
    #[serde(default = "ones")]
    pub dilation: [usize; 2],
}

fn ones() -> [usize; 2] {
    [1, 1]
}

/// The sizes of one conv layer on a known input, checked and fixed by [`ConvGeometry::new`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConvGeometry {
    pub chan_in: usize,
    pub h_in: usize,
    pub w_in: usize,
    pub chan_out: usize,
    pub k_h: usize,
    pub k_w: usize,
    pub stride: [usize; 2],
    pub padding: [usize; 2],
    pub dilation: [usize; 2],
    pub h_out: usize,
    pub w_out: usize,
}

const AXES: [&str; 2] = ["rows", "columns"];

impl ConvGeometry {
    /// Checks `spec` on an input of shape `[C, H, W]` and computes the output size.
    ///
    /// Errors: a zero kernel count, size, stride or dilation; a dilated kernel larger than
    /// the padded input; a padded input over the size budget.
    pub fn new(spec: &ConvSpec, input: [usize; 3], at: Location) -> Result<Self, CoreError> {
        if spec.kernels == 0 {
            return Err(CoreError::ZeroSize {
                at,
                field: "kernels",
            });
        }
        for (axis, name) in ["kernel height", "kernel width"].into_iter().enumerate() {
            if spec.size[axis] == 0 {
                return Err(CoreError::ZeroSize { at, field: name });
            }
        }
        for (axis, name) in ["stride height", "stride width"].into_iter().enumerate() {
            if spec.stride[axis] == 0 {
                return Err(CoreError::ZeroStride { at, field: name });
            }
        }
        for (axis, name) in ["dilation height", "dilation width"]
            .into_iter()
            .enumerate()
        {
            if spec.dilation[axis] == 0 {
                return Err(CoreError::ZeroDilation { at, field: name });
            }
        }

        // Work in u128 so that absurd sizes give an error instead of an overflow.
        let [chans, rows, cols] = input;
        let padded = [
            rows as u128 + 2 * spec.padding[0] as u128,
            cols as u128 + 2 * spec.padding[1] as u128,
        ];
        let padded_values = budget::product(&[chans as u128, padded[0], padded[1]]);
        budget::check_tensor(&at, "the padded input", padded_values)?;
        let mut out = [0usize; 2];
        for axis in 0..2 {
            let extent = (spec.size[axis] as u128 - 1) * spec.dilation[axis] as u128 + 1;
            if extent > padded[axis] {
                return Err(CoreError::KernelTooLarge {
                    at,
                    axis: AXES[axis],
                    size: spec.size[axis],
                    dilation: spec.dilation[axis],
                    extent: extent.min(usize::MAX as u128) as usize,
                    padded: padded[axis] as usize,
                });
            }
            // The padded size fits the tensor budget, so these values fit a usize.
            out[axis] = ((padded[axis] - extent) / spec.stride[axis] as u128 + 1) as usize;
        }
        let weights = budget::product(&[
            spec.kernels as u128,
            chans as u128,
            spec.size[0] as u128,
            spec.size[1] as u128,
        ]);
        budget::check_tensor(&at, "the weights", weights)?;
        let outputs = budget::product(&[spec.kernels as u128, out[0] as u128, out[1] as u128]);
        budget::check_tensor(&at, "the output", outputs)?;

        Ok(Self {
            chan_in: chans,
            h_in: rows,
            w_in: cols,
            chan_out: spec.kernels,
            k_h: spec.size[0],
            k_w: spec.size[1],
            stride: spec.stride,
            padding: spec.padding,
            dilation: spec.dilation,
            h_out: out[0],
            w_out: out[1],
        })
    }

    pub fn h_padded(&self) -> usize {
        self.h_in + 2 * self.padding[0]
    }

    pub fn w_padded(&self) -> usize {
        self.w_in + 2 * self.padding[1]
    }

    /// Rows spanned by the dilated kernel, `(FH − 1)·DH + 1`.
    pub fn extent_h(&self) -> usize {
        (self.k_h - 1) * self.dilation[0] + 1
    }

    /// Columns spanned by the dilated kernel, `(FW − 1)·DW + 1`.
    pub fn extent_w(&self) -> usize {
        (self.k_w - 1) * self.dilation[1] + 1
    }

    pub fn weight_shape(&self) -> [usize; 4] {
        [self.chan_out, self.chan_in, self.k_h, self.k_w]
    }

    pub fn output_shape(&self) -> [usize; 3] {
        [self.chan_out, self.h_out, self.w_out]
    }

    /// Shape of `δ` after zero insertion: `[K, (H_out − 1)·SH + 1, (W_out − 1)·SW + 1]`.
    pub fn dilated_grad_shape(&self) -> [usize; 3] {
        [
            self.chan_out,
            (self.h_out - 1) * self.stride[0] + 1,
            (self.w_out - 1) * self.stride[1] + 1,
        ]
    }

    /// Shape of the zero-inserted `δ` padded by the dilated kernel extent − 1 on each side.
    pub fn full_grad_shape(&self) -> [usize; 3] {
        let [k, rows, cols] = self.dilated_grad_shape();
        [
            k,
            rows + 2 * (self.extent_h() - 1),
            cols + 2 * (self.extent_w() - 1),
        ]
    }

    /// Multiply-adds of one forward pass.
    pub fn multiply_adds(&self) -> Amount {
        budget::product(&[
            self.chan_out as u128,
            self.chan_in as u128,
            self.k_h as u128,
            self.k_w as u128,
            self.h_out as u128,
            self.w_out as u128,
        ])
    }
}

/// A borrowed row-major 2-D plane.
#[derive(Clone, Copy)]
pub(crate) struct Plane<'a> {
    pub data: &'a [f64],
    pub cols: usize,
}

/// Adds into `out` (`rows × cols`) the valid correlation of `input` with `kernel`:
/// `out[i][j] += Σ_uv kernel[u][v] · input[i·stride + u·spacing][j·stride + v·spacing]`.
/// The caller guarantees that every read index lies inside `input`.
pub(crate) fn correlate_add(
    input: Plane,
    kernel: Plane,
    kernel_rows: usize,
    spacing: [usize; 2],
    stride: [usize; 2],
    out: &mut [f64],
    out_cols: usize,
) {
    let out_rows = out.len() / out_cols.max(1);
    for i in 0..out_rows {
        for j in 0..out_cols {
            let mut sum = 0.0;
            for u in 0..kernel_rows {
                let row = (i * stride[0] + u * spacing[0]) * input.cols;
                for v in 0..kernel.cols {
                    let col = j * stride[1] + v * spacing[1];
                    sum += kernel.data[u * kernel.cols + v] * input.data[row + col];
                }
            }
            out[i * out_cols + j] += sum;
        }
    }
}

/// Returns `x` (`[C, H, W]`) with `padding[0]` zero rows above and below and `padding[1]`
/// zero columns left and right.
pub fn pad(x: &Tensor, padding: [usize; 2]) -> Tensor {
    let [chans, rows, cols] = shape3(x);
    Tensor::from_fn3(
        [chans, rows + 2 * padding[0], cols + 2 * padding[1]],
        |c, h, w| {
            let inside = h >= padding[0]
                && h < rows + padding[0]
                && w >= padding[1]
                && w < cols + padding[1];
            if inside {
                x.data()[(c * rows + h - padding[0]) * cols + w - padding[1]]
            } else {
                0.0
            }
        },
    )
}

/// Returns `x` (`[C, H, W]`) without `padding[0]` rows at top and bottom and `padding[1]`
/// columns at left and right.
pub fn crop(x: &Tensor, padding: [usize; 2]) -> Tensor {
    let [chans, rows, cols] = shape3(x);
    let inner = [rows - 2 * padding[0], cols - 2 * padding[1]];
    Tensor::from_fn3([chans, inner[0], inner[1]], |c, h, w| {
        x.data()[(c * rows + h + padding[0]) * cols + w + padding[1]]
    })
}

/// Returns `d` (`[C, H, W]`) with `stride − 1` zeros inserted between neighbouring entries
/// of each row and column, of shape `[C, (H − 1)·SH + 1, (W − 1)·SW + 1]`.
pub fn insert_zeros(d: &Tensor, stride: [usize; 2]) -> Tensor {
    let [chans, rows, cols] = shape3(d);
    Tensor::from_fn3(
        [
            chans,
            (rows - 1) * stride[0] + 1,
            (cols - 1) * stride[1] + 1,
        ],
        |c, h, w| {
            if h % stride[0] == 0 && w % stride[1] == 0 {
                d.data()[(c * rows + h / stride[0]) * cols + w / stride[1]]
            } else {
                0.0
            }
        },
    )
}

/// Returns the kernels `[K, C, FH, FW]` each turned by 180°: `r[k][c][u][v] =
/// w[k][c][FH − 1 − u][FW − 1 − v]`.
pub fn rotate180(w: &Tensor) -> Tensor {
    let shape = w.shape().to_vec();
    let plane = shape[2] * shape[3];
    let mut data = Vec::with_capacity(w.len());
    for kernel in w.data().chunks(plane) {
        data.extend(kernel.iter().rev());
    }
    Tensor::from_vec(&shape, data).expect("same length")
}

fn shape3(t: &Tensor) -> [usize; 3] {
    let s = t.shape();
    [s[0], s[1], s[2]]
}

/// Computes the layer output `y` for input `x`, weights `w` and bias `b`, whose shapes
/// the caller has checked against `g`.
pub fn forward(g: &ConvGeometry, x: &Tensor, w: &Tensor, b: &Tensor) -> Tensor {
    let xp = pad(x, g.padding);
    let mut y = Tensor::zeros(&g.output_shape());
    let plane_out = g.h_out * g.w_out;
    let plane_in = g.h_padded() * g.w_padded();
    let plane_w = g.k_h * g.k_w;
    for k in 0..g.chan_out {
        let out = &mut y.data_mut()[k * plane_out..(k + 1) * plane_out];
        out.fill(b.data()[k]);
        for c in 0..g.chan_in {
            let w_start = (k * g.chan_in + c) * plane_w;
            correlate_add(
                Plane {
                    data: &xp.data()[c * plane_in..(c + 1) * plane_in],
                    cols: g.w_padded(),
                },
                Plane {
                    data: &w.data()[w_start..w_start + plane_w],
                    cols: g.k_w,
                },
                g.k_h,
                g.dilation,
                g.stride,
                out,
                g.w_out,
            );
        }
    }
    y
}

/// Every intermediate of the conv backward pass, in the order a tutorial shows them.
#[derive(Clone, Debug, PartialEq)]
pub struct ConvBackward {
    /// The input with its zero padding, `[C, H + 2PH, W + 2PW]`.
    pub x_padded: Tensor,
    /// `δ` with `S − 1` zeros inserted between entries (see [`ConvGeometry::dilated_grad_shape`]).
    pub grad_y_dilated: Tensor,
    /// `dL/dw`, `[K, C, FH, FW]`.
    pub grad_w: Tensor,
    /// `dL/db`, `[K]`.
    pub grad_b: Tensor,
    /// The zero-inserted `δ` padded by the dilated kernel extent − 1 on each side.
    pub grad_y_full: Tensor,
    /// The kernels turned by 180°, `[K, C, FH, FW]`.
    pub kernels_rotated: Tensor,
    /// Kernel `k`'s share of `dL/dx[c]`, `[K, C, H, W]`; summed over `k` it is `grad_x`.
    pub contributions: Tensor,
    /// `dL/dxp` before cropping, `[C, H + 2PH, W + 2PW]`.
    pub grad_x_padded: Tensor,
    /// `dL/dx`, `[C, H, W]`.
    pub grad_x: Tensor,
}

/// Computes the weight, bias and input gradients from the upstream `grad_y = dL/dy`,
/// with the full correlation with rotated kernels for `dL/dx`.
pub fn backward(g: &ConvGeometry, x: &Tensor, w: &Tensor, grad_y: &Tensor) -> ConvBackward {
    let x_padded = pad(x, g.padding);
    let (grad_w, grad_b) = weight_gradients(g, &x_padded, grad_y);

    // δ to the previous layer: zero insertion undoes the stride, padding by the kernel
    // extent − 1 turns the valid correlation into a full one.
    let grad_y_dilated = insert_zeros(grad_y, g.stride);
    let grad_y_full = pad(&grad_y_dilated, [g.extent_h() - 1, g.extent_w() - 1]);
    let kernels_rotated = rotate180(w);
    let [_, dil_rows, dil_cols] = g.dilated_grad_shape();
    let full_rows = dil_rows + g.extent_h() - 1;
    let full_cols = dil_cols + g.extent_w() - 1;
    let [_, pad_rows, pad_cols] = g.full_grad_shape();
    let plane_full = pad_rows * pad_cols;
    let plane_w = g.k_h * g.k_w;

    // Rows and columns of the padded input that no window reaches (dropped by rounding the
    // output size down) keep a zero gradient: the full correlation stops short of them.
    let (h_p, w_p) = (g.h_padded(), g.w_padded());
    let mut contributions_padded = vec![0.0; g.chan_out * g.chan_in * h_p * w_p];
    for k in 0..g.chan_out {
        for c in 0..g.chan_in {
            let mut full = vec![0.0; full_rows * full_cols];
            let w_start = (k * g.chan_in + c) * plane_w;
            correlate_add(
                Plane {
                    data: &grad_y_full.data()[k * plane_full..(k + 1) * plane_full],
                    cols: pad_cols,
                },
                Plane {
                    data: &kernels_rotated.data()[w_start..w_start + plane_w],
                    cols: g.k_w,
                },
                g.k_h,
                g.dilation,
                [1, 1],
                &mut full,
                full_cols,
            );
            let base = (k * g.chan_in + c) * h_p * w_p;
            for (r, row) in full.chunks(full_cols).enumerate() {
                let start = base + r * w_p;
                contributions_padded[start..start + full_cols].copy_from_slice(row);
            }
        }
    }

    // Sum over kernels, then crop the padding.
    let mut grad_x_padded = Tensor::zeros(&[g.chan_in, h_p, w_p]);
    for share in contributions_padded.chunks(g.chan_in * h_p * w_p) {
        for (acc, v) in grad_x_padded.data_mut().iter_mut().zip(share) {
            *acc += v;
        }
    }
    let grad_x = crop(&grad_x_padded, g.padding);
    let contributions = Tensor::from_vec(&[g.chan_out * g.chan_in, h_p, w_p], contributions_padded)
        .expect("sized above");
    let contributions = crop(&contributions, g.padding)
        .reshaped(&[g.chan_out, g.chan_in, g.h_in, g.w_in])
        .expect("same length");

    ConvBackward {
        x_padded,
        grad_y_dilated,
        grad_w,
        grad_b,
        grad_y_full,
        kernels_rotated,
        contributions,
        grad_x_padded,
        grad_x,
    }
}

/// `dL/dw[k][c]` as the valid correlation of `xp[c]` with `δ[k]` (taps `S` apart, output
/// cells `D` apart), and `dL/db[k]` as the sum of `δ[k]`.
fn weight_gradients(g: &ConvGeometry, x_padded: &Tensor, grad_y: &Tensor) -> (Tensor, Tensor) {
    let mut grad_w = Tensor::zeros(&g.weight_shape());
    let plane_out = g.h_out * g.w_out;
    let plane_in = g.h_padded() * g.w_padded();
    let plane_w = g.k_h * g.k_w;
    for k in 0..g.chan_out {
        let delta = &grad_y.data()[k * plane_out..(k + 1) * plane_out];
        for c in 0..g.chan_in {
            let w_start = (k * g.chan_in + c) * plane_w;
            correlate_add(
                Plane {
                    data: &x_padded.data()[c * plane_in..(c + 1) * plane_in],
                    cols: g.w_padded(),
                },
                Plane {
                    data: delta,
                    cols: g.w_out,
                },
                g.h_out,
                g.stride,
                g.dilation,
                &mut grad_w.data_mut()[w_start..w_start + plane_w],
                g.k_w,
            );
        }
    }
    let sums = (0..g.chan_out)
        .map(|k| {
            grad_y.data()[k * plane_out..(k + 1) * plane_out]
                .iter()
                .sum()
        })
        .collect();
    let grad_b = Tensor::from_vec(&[g.chan_out], sums).expect("one sum per kernel");
    (grad_w, grad_b)
}

/// Computes `dL/dx` the other way round: each `δ[k][i][j]` adds `δ·w[k][c][u][v]` onto the
/// input cell that tap `(u, v)` of window `(i, j)` read. It must equal
/// [`backward`]'s `grad_x`, which a test checks on random layers.
pub fn backward_input_scatter(g: &ConvGeometry, w: &Tensor, grad_y: &Tensor) -> Tensor {
    let (h_p, w_p) = (g.h_padded(), g.w_padded());
    let mut grad_xp = Tensor::zeros(&[g.chan_in, h_p, w_p]);
    for k in 0..g.chan_out {
        for i in 0..g.h_out {
            for j in 0..g.w_out {
                let delta = grad_y.data()[(k * g.h_out + i) * g.w_out + j];
                for c in 0..g.chan_in {
                    for u in 0..g.k_h {
                        for v in 0..g.k_w {
                            let row = i * g.stride[0] + u * g.dilation[0];
                            let col = j * g.stride[1] + v * g.dilation[1];
                            let weight = w.data()[((k * g.chan_in + c) * g.k_h + u) * g.k_w + v];
                            grad_xp.data_mut()[(c * h_p + row) * w_p + col] += delta * weight;
                        }
                    }
                }
            }
        }
    }
    crop(&grad_xp, g.padding)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn geometry(spec: ConvSpec, input: [usize; 3]) -> ConvGeometry {
        ConvGeometry::new(&spec, input, Location::Input).unwrap()
    }

    fn spec(
        kernels: usize,
        size: usize,
        stride: usize,
        padding: usize,
        dilation: usize,
    ) -> ConvSpec {
        ConvSpec {
            kernels,
            size: [size, size],
            stride: [stride, stride],
            padding: [padding, padding],
            dilation: [dilation, dilation],
        }
    }

    /// Deterministic, non-symmetric test values.
    fn ramp(shape: &[usize], scale: f64) -> Tensor {
        let len = shape.iter().product::<usize>();
        let data = (0..len)
            .map(|i| ((i * 7 + 3) % 11) as f64 * scale - 0.4)
            .collect();
        Tensor::from_vec(shape, data).unwrap()
    }

    #[test]
    fn output_size_follows_formula() {
        let g = geometry(spec(2, 3, 2, 1, 2), [1, 7, 6]);
        // (7 + 2 − 2·2 − 1) / 2 + 1 = 3 and (6 + 2 − 5) / 2 + 1 = 2
        assert_eq!(g.output_shape(), [2, 3, 2]);
    }

    #[test]
    fn kernel_larger_than_padded_input_is_rejected() {
        let err = ConvGeometry::new(&spec(1, 3, 1, 0, 2), [1, 4, 4], Location::Input).unwrap_err();
        assert!(
            matches!(
                err,
                CoreError::KernelTooLarge {
                    extent: 5,
                    padded: 4,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn zero_stride_is_rejected() {
        let err = ConvGeometry::new(&spec(1, 3, 0, 0, 1), [1, 4, 4], Location::Input).unwrap_err();
        assert!(matches!(err, CoreError::ZeroStride { .. }), "{err}");
    }

    #[test]
    fn huge_padding_is_rejected_without_overflow() {
        let huge = ConvSpec {
            padding: [usize::MAX / 2, 1],
            ..spec(1, 3, 1, 0, 1)
        };
        let err = ConvGeometry::new(&huge, [1, 4, 4], Location::Input).unwrap_err();
        assert!(matches!(err, CoreError::TooLarge { .. }), "{err}");
    }

    #[test]
    fn insert_zeros_spaces_entries() {
        let d = Tensor::from_vec(&[1, 2, 2], vec![1.0, 2.0, 3.0, 4.0]).unwrap();
        let z = insert_zeros(&d, [2, 3]);
        assert_eq!(z.shape(), &[1, 3, 4]);
        assert_eq!(
            z.data(),
            &[1.0, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0, 0.0, 3.0, 0.0, 0.0, 4.0]
        );
    }

    #[test]
    fn rotate180_reverses_each_kernel() {
        let w = Tensor::from_vec(&[2, 1, 1, 2], vec![1.0, 2.0, 3.0, 4.0]).unwrap();
        assert_eq!(rotate180(&w).data(), &[2.0, 1.0, 4.0, 3.0]);
    }

    #[test]
    fn contributions_sum_to_grad_x() {
        let g = geometry(spec(3, 2, 1, 1, 1), [2, 4, 4]);
        let x = ramp(&[2, 4, 4], 0.1);
        let w = ramp(&g.weight_shape(), 0.2);
        let grad_y = ramp(&g.output_shape(), 0.3);
        let grads = backward(&g, &x, &w, &grad_y);
        let plane = 2 * 4 * 4;
        for i in 0..plane {
            let sum: f64 = (0..3)
                .map(|k| grads.contributions.data()[k * plane + i])
                .sum();
            assert!((sum - grads.grad_x.data()[i]).abs() < 1e-12, "cell {i}");
        }
    }

    #[test]
    fn full_correlation_matches_scatter() {
        for (s, p, d) in [(1, 0, 1), (2, 0, 1), (2, 1, 1), (1, 2, 2), (3, 1, 2)] {
            let g = geometry(spec(2, 3, s, p, d), [2, 9, 8]);
            let x = ramp(&[2, 9, 8], 0.1);
            let w = ramp(&g.weight_shape(), 0.2);
            let grad_y = ramp(&g.output_shape(), 0.3);
            let full = backward(&g, &x, &w, &grad_y).grad_x;
            let scatter = backward_input_scatter(&g, &w, &grad_y);
            for (i, (a, b)) in full.data().iter().zip(scatter.data()).enumerate() {
                assert!(
                    (a - b).abs() < 1e-12,
                    "stride {s} pad {p} dilation {d} cell {i}: {a} vs {b}"
                );
            }
        }
    }

    #[test]
    fn rows_dropped_by_stride_get_zero_gradient() {
        // 6 rows, kernel 3, stride 2: windows start at rows 0 and 2, so row 5 is never read.
        let g = geometry(spec(1, 3, 2, 0, 1), [1, 6, 6]);
        let x = ramp(&[1, 6, 6], 0.1);
        let w = ramp(&g.weight_shape(), 0.2);
        let grad_y = ramp(&g.output_shape(), 0.3);
        let grads = backward(&g, &x, &w, &grad_y);
        assert!(grads.grad_x.data()[30..36].iter().all(|&v| v == 0.0));
        assert!(grads.grad_x.data()[..30].iter().any(|&v| v != 0.0));
    }
}
