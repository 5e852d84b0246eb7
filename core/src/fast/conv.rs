//! The conv layer as matrix products over the im2col matrix.
//!
//! For one example, `col` is the `K × N` matrix (`K = C·FH·FW`, `N = H_out·W_out`) whose
//! row `(c, u, v)` and column `(i, j)` hold `xp[c][i·SH + u·DH][j·SW + v·DW]`, the value
//! that tap `(u, v)` of channel `c` reads in window `(i, j)`, 0 in the padding. With the
//! weights as the `K_out × K` matrix `W` (the `[K, C, FH, FW]` tensor read row-major):
//!
//! ```text
//! y        = W · col + b         (K_out × N)
//! (dL/dW)ᵀ = col · δᵀ            (K × K_out), summed over the batch
//! dL/db    = δ · 1               (row sums of δ)
//! dcol     = Wᵀ · δ              (K × N), then col2im adds each entry of dcol onto the
//!                                 input cell it was read from: dL/dx
//! ```
//!
//! The weight gradient is computed transposed so that the large factor, `col`, is read
//! row by row in place and only the small `δ` is transposed.
//!
//! With stride 1 the products read the padded input `xp` in place of a copied `col`:
//! - forward, when `W_out` is a multiple of the micro-kernel's [`NR`] columns: for `NR`
//!   output cells of one output row, row `(c, u, v)` of `col` is `NR` consecutive values
//!   of `xp`, starting `c·Hp·Wp + u·DH·Wp + v·DW` after the cells' own position;
//! - weight gradient, for any width: the contraction over output cells runs one output
//!   row at a time, and for output row `i` row `(c, u, v)` of `col` is `W_out` consecutive
//!   values of `xp`;
//! - input gradient, when `W_in` is a multiple of [`NR`] and the padding is below the
//!   dilated kernel extent: `dL/dx` is the correlation of `δ` with the flipped kernels,
//!   read in place the same way. `δ` gets a zero border of `extent − 1 − P` cells first.
//!
//! Other convs build `col` and use `col2im`.
//!
//! Every method works on one example: the engine runs each example through all layers
//! before the next, so that one example's values, rather than a whole batch's, stay in
//! the cache.
//!
//! Both input gradients are the sums of products of the tutorial formulation in
//! [`crate::conv`], the full correlation of the zero-inserted `δ` with the rotated kernels.
//! col2im performs the scatter of [`crate::conv::backward_input_scatter`], one matrix row
//! at a time.

use crate::conv::ConvGeometry;

use super::gemm::{self, round_up, Matrix, NR};

/// One conv layer's parameters, gradients and reused buffers.
#[derive(Clone, Debug)]
pub(crate) struct ConvLayer {
    pub g: ConvGeometry,
    /// `[K_out, C, FH, FW]`, row-major, as in the reference.
    pub weights: Vec<f32>,
    pub bias: Vec<f32>,
    pub grad_w: Vec<f32>,
    pub grad_b: Vec<f32>,
    /// `Wᵀ` (`K × K_out`) and the kernels turned by 180° with the channel axes swapped
    /// (`C × K_out·FH·FW`), rebuilt when the weights change.
    weights_t: Vec<f32>,
    weights_flipped: Vec<f32>,
    weights_t_stale: bool,
    /// For `dL/dx` as a correlation: one example's `δ` with its zero border, and for each
    /// `(k, u, v)` its start in it.
    delta_full: Vec<f32>,
    full_offsets: Vec<usize>,
    /// One example's im2col matrix, `K × ldn`.
    col: Vec<f32>,
    /// For the products that read the input in place: one example's padded input, and
    /// for each row `(c, u, v)` of `col` its start in the padded input.
    padded: Vec<f32>,
    offsets: Vec<usize>,
    /// Backward scratch: `δᵀ`, `(dL/dW)ᵀ`, `δ` with padded rows, and `dcol`.
    delta_t: Vec<f32>,
    grad_w_t: Vec<f32>,
    delta_padded: Vec<f32>,
    dcol: Vec<f32>,
}

impl ConvLayer {
    pub fn new(g: ConvGeometry, weights: Vec<f32>, bias: Vec<f32>) -> Self {
        let grad_w = vec![0.0; weights.len()];
        let grad_b = vec![0.0; bias.len()];
        Self {
            g,
            weights,
            bias,
            grad_w,
            grad_b,
            weights_t: Vec::new(),
            weights_flipped: Vec::new(),
            weights_t_stale: true,
            delta_full: Vec::new(),
            full_offsets: Vec::new(),
            col: Vec::new(),
            padded: Vec::new(),
            offsets: Vec::new(),
            delta_t: Vec::new(),
            grad_w_t: Vec::new(),
            delta_padded: Vec::new(),
            dcol: Vec::new(),
        }
    }

    /// Rows of the im2col matrix, `C·FH·FW`.
    fn k(&self) -> usize {
        self.g.chan_in * self.g.k_h * self.g.k_w
    }

    /// Output cells per channel, `H_out·W_out`.
    fn n(&self) -> usize {
        self.g.h_out * self.g.w_out
    }

    /// Row stride of the im2col matrix: `N` rounded up to the micro-kernel width.
    fn ldn(&self) -> usize {
        round_up(self.n(), NR)
    }

    /// Marks `Wᵀ` as out of date after the weights changed.
    pub fn weights_changed(&mut self) {
        self.weights_t_stale = true;
    }

    /// Computes `y = W·col + b` for one example `x`.
    #[inline(never)]
    pub fn forward(&mut self, x: &[f32], y: &mut [f32]) {
        let (k, n, ldn) = (self.k(), self.n(), self.ldn());
        for (row, &bias) in y.chunks_exact_mut(n).zip(&self.bias) {
            row.fill(bias);
        }
        let w = Matrix {
            data: &self.weights,
            stride: k,
        };
        if self.g.stride == [1, 1] && self.g.w_out.is_multiple_of(NR) {
            if self.offsets.is_empty() {
                self.offsets = tap_offsets(&self.g);
            }
            pad(&self.g, x, &mut self.padded);
            let (w_out, w_padded) = (self.g.w_out, self.g.w_padded());
            let column_start = |j: usize| (j / w_out) * w_padded + j % w_out;
            let size = [self.g.chan_out, n, k];
            gemm::gemm_listed_rows(size, w, &self.padded, &self.offsets, column_start, y, n);
        } else {
            self.col.resize(k * ldn, 0.0);
            im2col(&self.g, x, &mut self.col, ldn);
            let col = Matrix {
                data: &self.col,
                stride: ldn,
            };
            gemm::gemm([self.g.chan_out, n, k], w, col, y, n, true);
        }
    }

    /// Zeroes the gradients before the backward passes of a batch.
    pub fn start_backward(&mut self, wants_grad_x: bool) {
        let (k, chan_out) = (self.k(), self.g.chan_out);
        if wants_grad_x && self.weights_t_stale {
            self.weights_t.resize(k * chan_out, 0.0);
            transpose(chan_out, k, &self.weights, k, &mut self.weights_t, chan_out);
            self.weights_flipped = flip_kernels(&self.g, &self.weights);
            self.weights_t_stale = false;
        }
        self.grad_b.fill(0.0);
        self.grad_w_t.clear();
        self.grad_w_t.resize(k * chan_out, 0.0);
    }

    /// Adds one example's weight and bias gradients from `delta = dL/dy` and its input `x`,
    /// and writes its `dL/dx` into `grad_x` when it is given.
    #[inline(never)]
    pub fn backward(&mut self, x: &[f32], delta: &[f32], grad_x: Option<&mut [f32]>) {
        let (k, n, ldn) = (self.k(), self.n(), self.ldn());
        let chan_out = self.g.chan_out;
        let ld_out = round_up(chan_out, NR);
        for (sum, row) in self.grad_b.iter_mut().zip(delta.chunks_exact(n)) {
            *sum += row.iter().sum::<f32>();
        }

        // (dL/dW)ᵀ += col · δᵀ. With stride 1, row (c, u, v) of col for output row i is
        // w_out consecutive values of the padded input, read in place. Otherwise build col.
        self.delta_t.resize(n * ld_out, 0.0);
        transpose(chan_out, n, delta, n, &mut self.delta_t, ld_out);
        let delta_t = Matrix {
            data: &self.delta_t,
            stride: ld_out,
        };
        if self.g.stride == [1, 1] {
            if self.offsets.is_empty() {
                self.offsets = tap_offsets(&self.g);
            }
            pad(&self.g, x, &mut self.padded);
            let segments = [self.g.h_out, self.g.w_out, self.g.w_padded()];
            let (padded, offsets) = (&self.padded, &self.offsets);
            let grad_w_t = &mut self.grad_w_t;
            gemm::gemm_segmented_a(
                [k, chan_out],
                padded,
                offsets,
                segments,
                delta_t,
                grad_w_t,
                chan_out,
            );
        } else {
            self.col.resize(k * ldn, 0.0);
            im2col(&self.g, x, &mut self.col, ldn);
            let col = Matrix {
                data: &self.col,
                stride: ldn,
            };
            gemm::gemm(
                [k, chan_out, n],
                col,
                delta_t,
                &mut self.grad_w_t,
                chan_out,
                true,
            );
        }

        let Some(grad_x) = grad_x else { return };
        if self.input_gradient_as_correlation() {
            self.correlate_input_gradient(delta, grad_x);
            return;
        }

        // dL/dx: dcol = Wᵀ · δ, then col2im scatters dcol back onto the input cells.
        self.delta_padded.resize(chan_out * ldn, 0.0);
        for (padded, row) in self
            .delta_padded
            .chunks_exact_mut(ldn)
            .zip(delta.chunks_exact(n))
        {
            padded[..n].copy_from_slice(row);
        }
        let w_t = Matrix {
            data: &self.weights_t,
            stride: chan_out,
        };
        let delta_padded = Matrix {
            data: &self.delta_padded,
            stride: ldn,
        };
        self.dcol.resize(k * ldn, 0.0);
        gemm::gemm(
            [k, n, chan_out],
            w_t,
            delta_padded,
            &mut self.dcol,
            ldn,
            false,
        );
        col2im(&self.g, &self.dcol, ldn, grad_x);
    }

    /// Returns whether `dL/dx` can be computed as a correlation that reads `δ` in place.
    /// That takes stride 1, an input width that is a multiple of [`NR`], and padding of at
    /// most the dilated kernel extent − 1, so that the border of `δ` is not negative.
    fn input_gradient_as_correlation(&self) -> bool {
        let g = &self.g;
        g.stride == [1, 1]
            && g.w_in.is_multiple_of(NR)
            && g.padding[0] < g.extent_h()
            && g.padding[1] < g.extent_w()
    }

    /// Writes one example's `dL/dx` as the correlation of `δ`, with a zero border of
    /// `Q = extent − 1 − P` cells, with the flipped kernels:
    /// `dL/dx[c][h][w] = Σ_k,u',v' W[k][c][FH−1−u'][FW−1−v'] · δq[k][h + u'·DH][w + v'·DW]`,
    /// the same sum as the full correlation with the rotated kernels in [`crate::conv`].
    fn correlate_input_gradient(&mut self, delta: &[f32], grad_x: &mut [f32]) {
        let g = &self.g;
        let border = [
            g.extent_h() - 1 - g.padding[0],
            g.extent_w() - 1 - g.padding[1],
        ];
        let (h_full, w_full) = (g.h_out + 2 * border[0], g.w_out + 2 * border[1]);

        // Each row (k, u', v') of the implicit matrix starts at its tap in the bordered δ.
        if self.full_offsets.is_empty() {
            self.full_offsets = (0..g.chan_out)
                .flat_map(|k| (0..g.k_h).map(move |u| (k, u)))
                .flat_map(|(k, u)| (0..g.k_w).map(move |v| (k, u, v)))
                .map(|(k, u, v)| (k * h_full + u * g.dilation[0]) * w_full + v * g.dilation[1])
                .collect();
        }

        self.delta_full.resize(g.chan_out * h_full * w_full, 0.0);
        zero(&mut self.delta_full);
        for (k, plane) in delta.chunks_exact(g.h_out * g.w_out).enumerate() {
            for (i, row) in plane.chunks_exact(g.w_out).enumerate() {
                let start = (k * h_full + i + border[0]) * w_full + border[1];
                copy(&mut self.delta_full[start..start + g.w_out], row);
            }
        }

        // The product accumulates, so dL/dx starts at 0.
        grad_x.fill(0.0);
        let (w_in, n) = (g.w_in, g.h_in * g.w_in);
        let column_start = |j: usize| (j / w_in) * w_full + j % w_in;
        let flipped = Matrix {
            data: &self.weights_flipped,
            stride: g.chan_out * g.k_h * g.k_w,
        };
        let size = [g.chan_in, n, g.chan_out * g.k_h * g.k_w];
        let (source, offsets) = (&self.delta_full, &self.full_offsets);
        gemm::gemm_listed_rows(size, flipped, source, offsets, column_start, grad_x, n);
    }

    /// Writes the batch's `dL/dW` in the weights' layout after the last example.
    pub fn finish_backward(&mut self) {
        let (k, chan_out) = (self.k(), self.g.chan_out);
        transpose(k, chan_out, &self.grad_w_t, chan_out, &mut self.grad_w, k);
    }
}

/// Returns the kernels turned by 180° with the channel axes swapped, as the `C × K_out·FH·FW`
/// matrix `F[c][(k, u, v)] = W[k][c][FH − 1 − u][FW − 1 − v]`.
fn flip_kernels(g: &ConvGeometry, weights: &[f32]) -> Vec<f32> {
    let taps = g.k_h * g.k_w;
    let mut flipped = vec![0.0; weights.len()];
    for k in 0..g.chan_out {
        for c in 0..g.chan_in {
            let kernel = &weights[(k * g.chan_in + c) * taps..][..taps];
            let target = &mut flipped[(c * g.chan_out + k) * taps..][..taps];
            for (t, &w) in target.iter_mut().zip(kernel.iter().rev()) {
                *t = w;
            }
        }
    }
    flipped
}

/// For each row `(c, u, v)` of the im2col matrix, the index in the padded input of the
/// value that tap reads for output cell `(0, 0)`: `c·Hp·Wp + u·DH·Wp + v·DW`.
fn tap_offsets(g: &ConvGeometry) -> Vec<usize> {
    let (h_p, w_p) = (g.h_padded(), g.w_padded());
    let mut offsets = Vec::with_capacity(g.chan_in * g.k_h * g.k_w);
    for c in 0..g.chan_in {
        for u in 0..g.k_h {
            for v in 0..g.k_w {
                offsets.push((c * h_p + u * g.dilation[0]) * w_p + v * g.dilation[1]);
            }
        }
    }
    offsets
}

/// Writes one example `x` with its zero padding into `padded` (`C × Hp × Wp`).
fn pad(g: &ConvGeometry, x: &[f32], padded: &mut Vec<f32>) {
    let (h_p, w_p) = (g.h_padded(), g.w_padded());
    let [pad_h, pad_w] = g.padding;
    padded.resize(g.chan_in * h_p * w_p, 0.0);
    if pad_h == 0 && pad_w == 0 {
        copy(padded, x);
        return;
    }
    zero(padded);
    for (c, plane) in x.chunks_exact(g.h_in * g.w_in).enumerate() {
        for (h, row) in plane.chunks_exact(g.w_in).enumerate() {
            let start = (c * h_p + h + pad_h) * w_p + pad_w;
            copy(&mut padded[start..start + g.w_in], row);
        }
    }
}

/// Returns the output columns `j` whose tap at column offset `offset` (which is `v·DW − PW`)
/// lands inside a row of `width` cells: `0 ≤ j·stride + offset < width`.
fn valid_span(offset: isize, stride: usize, width: usize, count: usize) -> (usize, usize) {
    let stride = stride as isize;
    let width = width as isize;
    let first = if offset >= 0 {
        0
    } else {
        (-offset + stride - 1) / stride
    };
    let end = if width - offset <= 0 {
        0
    } else {
        (width - offset + stride - 1) / stride
    };
    let end = (end as usize).min(count);
    let first = (first as usize).min(end);
    (first, end)
}

/// The part of one im2col row that reads the input: output rows `rows` and columns
/// `cols` of tap `(u, v)` land inside the input, at input row `i·SH + row_offset` and
/// column `j·SW + col_offset`.
struct TapSpan {
    rows: (usize, usize),
    cols: (usize, usize),
    row_offset: isize,
    col_offset: isize,
}

impl TapSpan {
    fn new(g: &ConvGeometry, u: usize, v: usize) -> Self {
        let row_offset = (u * g.dilation[0]) as isize - g.padding[0] as isize;
        let col_offset = (v * g.dilation[1]) as isize - g.padding[1] as isize;
        Self {
            rows: valid_span(row_offset, g.stride[0], g.h_in, g.h_out),
            cols: valid_span(col_offset, g.stride[1], g.w_in, g.w_out),
            row_offset,
            col_offset,
        }
    }

    /// Index into a channel plane of the input cell that output cell `(i, j)` reads.
    fn input_index(&self, g: &ConvGeometry, i: usize, j: usize) -> usize {
        let h = (i * g.stride[0]) as isize + self.row_offset;
        let w = (j * g.stride[1]) as isize + self.col_offset;
        h as usize * g.w_in + w as usize
    }
}

/// Fills `col` (`K × ldn`, row stride `ldn`) with the im2col matrix of one example `x`.
#[inline(never)]
fn im2col(g: &ConvGeometry, x: &[f32], col: &mut [f32], ldn: usize) {
    let (h_in, w_in, h_out, w_out) = (g.h_in, g.w_in, g.h_out, g.w_out);
    let mut rows = col.chunks_exact_mut(ldn);
    for c in 0..g.chan_in {
        let plane = &x[c * h_in * w_in..(c + 1) * h_in * w_in];
        for u in 0..g.k_h {
            for v in 0..g.k_w {
                let span = TapSpan::new(g, u, v);
                let out = &mut rows.next().expect("one row per tap")[..h_out * w_out];
                let (row_first, row_end) = span.rows;
                let (first, end) = span.cols;
                // A tap that reaches into the padding reads zeros there: zero the whole row
                // first, in long runs, rather than a few cells in every output row.
                if (row_first, row_end, first, end) != (0, h_out, 0, w_out) {
                    zero(out);
                }
                if first == end {
                    continue;
                }
                for i in row_first..row_end {
                    let out_row = &mut out[i * w_out..(i + 1) * w_out];
                    let start = span.input_index(g, i, first);
                    if g.stride[1] == 1 {
                        copy(&mut out_row[first..end], &plane[start..start + end - first]);
                    } else {
                        let taps = plane[start..].iter().step_by(g.stride[1]);
                        for (o, &value) in out_row[first..end].iter_mut().zip(taps) {
                            *o = value;
                        }
                    }
                }
            }
        }
    }
}

/// Sets `grad_x` (one example) to the sum, over every im2col entry, of `dcol` added onto
/// the input cell that the entry was read from; taps in the padding are dropped.
#[inline(never)]
fn col2im(g: &ConvGeometry, dcol: &[f32], ldn: usize, grad_x: &mut [f32]) {
    let (h_in, w_in, h_out, w_out) = (g.h_in, g.w_in, g.h_out, g.w_out);
    grad_x.fill(0.0);
    let mut rows = dcol.chunks_exact(ldn);
    for c in 0..g.chan_in {
        let plane = &mut grad_x[c * h_in * w_in..(c + 1) * h_in * w_in];
        for u in 0..g.k_h {
            for v in 0..g.k_w {
                let span = TapSpan::new(g, u, v);
                let source = &rows.next().expect("one row per tap")[..h_out * w_out];
                let (first, end) = span.cols;
                if first == end {
                    continue;
                }
                for i in span.rows.0..span.rows.1 {
                    let source_row = &source[i * w_out + first..i * w_out + end];
                    let start = span.input_index(g, i, first);
                    if g.stride[1] == 1 {
                        add(&mut plane[start..start + end - first], source_row);
                    } else {
                        let cells = plane[start..].iter_mut().step_by(g.stride[1]);
                        for (o, &d) in cells.zip(source_row) {
                            *o += d;
                        }
                    }
                }
            }
        }
    }
}

/// `target ← target + source`, for slices of the same length.
fn add(target: &mut [f32], source: &[f32]) {
    let mut blocks = target.chunks_exact_mut(4);
    let mut sources = source.chunks_exact(4);
    for (t, s) in (&mut blocks).zip(&mut sources) {
        let (a, b) = (load4(t), load4(s));
        store4(t, [a[0] + b[0], a[1] + b[1], a[2] + b[2], a[3] + b[3]]);
    }
    for (t, &s) in blocks.into_remainder().iter_mut().zip(sources.remainder()) {
        *t += s;
    }
}

/// Copies `source` into `target` (of the same length). im2col copies many short row
/// segments (8 to 32 values in the benchmark's networks), and on wasm32 LLVM turns a copy
/// or fill loop into a `memory.copy` or `memory.fill` call, whose set-up in V8 costs more
/// than copying a few values. Explicit 128-bit loads and stores, and volatile writes for
/// the last 0 to 3 values, keep the copy inline.
fn copy(target: &mut [f32], source: &[f32]) {
    let mut blocks = target.chunks_exact_mut(4);
    let mut sources = source.chunks_exact(4);
    for (t, s) in (&mut blocks).zip(&mut sources) {
        store4(t, load4(s));
    }
    for (t, &s) in blocks.into_remainder().iter_mut().zip(sources.remainder()) {
        // SAFETY: `t` is a valid, aligned &mut f32.
        unsafe { std::ptr::write_volatile(t, s) };
    }
}

/// Sets `target` to 0, inline for the reason given at [`copy`].
fn zero(target: &mut [f32]) {
    let mut blocks = target.chunks_exact_mut(4);
    for t in &mut blocks {
        store4(t, [0.0; 4]);
    }
    for t in blocks.into_remainder() {
        // SAFETY: `t` is a valid, aligned &mut f32.
        unsafe { std::ptr::write_volatile(t, 0.0) };
    }
}

/// Reads 4 values as one 128-bit load.
#[inline(always)]
fn load4(source: &[f32]) -> [f32; 4] {
    let source: &[f32; 4] = source.try_into().expect("4 values");
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        use core::arch::wasm32::{v128, v128_load};
        // SAFETY: `source` is 4 readable f32 values, which v128_load reads unaligned.
        let vector = unsafe { v128_load(source.as_ptr() as *const v128) };
        // SAFETY: v128 and [f32; 4] have the same size and every bit pattern is valid.
        unsafe { core::mem::transmute::<v128, [f32; 4]>(vector) }
    }
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    {
        *source
    }
}

/// Writes 4 values as one 128-bit store.
#[inline(always)]
fn store4(target: &mut [f32], values: [f32; 4]) {
    let target: &mut [f32; 4] = target.try_into().expect("4 values");
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        use core::arch::wasm32::{v128, v128_store};
        // SAFETY: as in load4; `target` is 4 writable f32 values.
        unsafe {
            let vector = core::mem::transmute::<[f32; 4], v128>(values);
            v128_store(target.as_mut_ptr() as *mut v128, vector);
        }
    }
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    {
        *target = values;
    }
}

/// Writes the transpose of the `rows × cols` matrix `a` (row stride `lda`) into `out`
/// (row stride `ldo`), in square blocks so that reads and writes both stay in cache.
#[inline(never)]
fn transpose(rows: usize, cols: usize, a: &[f32], lda: usize, out: &mut [f32], ldo: usize) {
    const BLOCK: usize = 16;
    for r0 in (0..rows).step_by(BLOCK) {
        for c0 in (0..cols).step_by(BLOCK) {
            for r in r0..(r0 + BLOCK).min(rows) {
                for c in c0..(c0 + BLOCK).min(cols) {
                    out[c * ldo + r] = a[r * lda + c];
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_span_clips_padding_and_stride() {
        // Width 5, offset −2 (padding 2, first tap), stride 1, 5 outputs: j = 2..5 read
        // columns 0..3.
        assert_eq!(valid_span(-2, 1, 5, 5), (2, 5));
        // Offset +2 (last tap of a 5-wide kernel without padding), 1 output.
        assert_eq!(valid_span(2, 1, 5, 1), (0, 1));
        // Stride 2, offset −1: j·2 − 1 ≥ 0 from j = 1; j·2 − 1 < 4 up to j = 2.
        assert_eq!(valid_span(-1, 2, 4, 3), (1, 3));
        // Every tap in the padding.
        assert_eq!(valid_span(6, 1, 5, 3), (0, 0));
    }
}
