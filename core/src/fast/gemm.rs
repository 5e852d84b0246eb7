//! Single-precision matrix multiply `C ← A·B` or `C ← C + A·B`, cache-blocked, with a
//! register-blocked micro-kernel.
//!
//! `A` (`m × k`) and `B` (`k × n`) are row-major matrices read in place. The row stride
//! `ldb` of `B` is at least `n` rounded up to [`NR`], because the micro-kernel always reads
//! `NR` columns. The columns past `n` only reach the entries of `C` that the store step
//! drops, since column `j` of `C` depends on column `j` of `B` alone.
//!
//! The micro-kernel keeps an `MR × NR` tile of `C` in registers and adds one outer product
//! per step of `k`: `MR` values of `A`, one from each of `MR` rows, times one row of `NR`
//! values of `B`. The compiler turns the `NR` columns into SIMD lanes (two `f32x4` on
//! wasm32 with simd128). The contraction is cut into blocks of [`KC`] steps, so that one
//! `B` block (`KC × NR`) and the `A` rows it meets stay in the L1 cache while the loop over
//! row panels reuses them. A last, partial row panel reads its missing rows from row
//! `m − 1` and drops their results.

/// Rows of `C` per micro-tile.
pub(crate) const MR: usize = 4;
/// Columns of `C` per micro-tile: two 4-lane vectors per row.
pub(crate) const NR: usize = 8;
/// Contraction steps per cache block.
const KC: usize = 256;

const ZERO_TILE: [[f32; NR]; MR] = [[0.0; NR]; MR];

/// Rounds `n` up to a multiple of `to`.
pub(crate) fn round_up(n: usize, to: usize) -> usize {
    n.div_ceil(to) * to
}

/// A row-major matrix operand: entry `(i, p)` is `data[i·stride + p]`.
#[derive(Clone, Copy)]
pub(crate) struct Matrix<'a> {
    pub data: &'a [f32],
    pub stride: usize,
}

/// Computes `C ← A·B` (`accumulate == false`) or `C ← C + A·B` for `A` (`m × k`), `B`
/// (`k × n`, row stride at least `round_up(n, NR)`, at least `k` full rows) and `C`
/// (row stride `ldc ≥ n`).
#[inline(never)]
pub(crate) fn gemm(
    [m, n, k]: [usize; 3],
    a: Matrix,
    b: Matrix,
    c: &mut [f32],
    ldc: usize,
    accumulate: bool,
) {
    assert!(
        b.stride >= round_up(n, NR) && b.data.len() >= k * b.stride,
        "B is too small"
    );
    assert!(
        m == 0 || a.data.len() >= (m - 1) * a.stride + k,
        "A is too small"
    );
    if k == 0 {
        if !accumulate {
            for i in 0..m {
                c[i * ldc..i * ldc + n].fill(0.0);
            }
        }
        return;
    }
    for p0 in (0..k).step_by(KC) {
        let kc = KC.min(k - p0);
        // Only the first block may overwrite C: later blocks add to what it stored.
        let add = accumulate || p0 > 0;
        for j0 in (0..n).step_by(NR) {
            let b_block = &b.data[p0 * b.stride + j0..];
            for i0 in (0..m).step_by(MR) {
                let row = |r: usize| {
                    let start = (i0 + r).min(m - 1) * a.stride + p0;
                    &a.data[start..start + kc]
                };
                let rows = [row(0), row(1), row(2), row(3)];
                let tile = micro_kernel(ZERO_TILE, rows, b_block, Strided(b.stride));
                store_tile(&tile, c, ldc, [i0, j0], [m, n], add);
            }
        }
    }
}

/// Computes `C ← C + A·B` for `A` (`m × k`) and a `B` (`k × n`) that is not stored:
/// entry `(p, j)` is `source[offsets[p] + column_start(j / NR·NR) + j % NR]`, so each
/// group of `NR` columns is `NR` consecutive values of `source` in every row. The conv
/// layer reads its input this way in place of an im2col matrix (see `conv`).
#[inline(never)]
pub(crate) fn gemm_listed_rows(
    [m, n, k]: [usize; 3],
    a: Matrix,
    source: &[f32],
    offsets: &[usize],
    column_start: impl Fn(usize) -> usize,
    c: &mut [f32],
    ldc: usize,
) {
    assert!(n.is_multiple_of(NR), "whole column groups");
    assert!(offsets.len() == k, "one offset per row of B");
    assert!(
        m == 0 || a.data.len() >= (m - 1) * a.stride + k,
        "A is too small"
    );
    for p0 in (0..k).step_by(KC) {
        let kc = KC.min(k - p0);
        let block_offsets = &offsets[p0..p0 + kc];
        let listed = Listed {
            offsets: block_offsets,
            max: block_offsets.iter().copied().max().unwrap_or(0),
        };
        for j0 in (0..n).step_by(NR) {
            let source_block = &source[column_start(j0)..];
            for i0 in (0..m).step_by(MR) {
                let row = |r: usize| {
                    let start = (i0 + r).min(m - 1) * a.stride + p0;
                    &a.data[start..start + kc]
                };
                let rows = [row(0), row(1), row(2), row(3)];
                let tile = micro_kernel(ZERO_TILE, rows, source_block, listed);
                store_tile(&tile, c, ldc, [i0, j0], [m, n], true);
            }
        }
    }
}

/// Computes `C ← C + A·B` for a `B` (`k × n`, row stride at least `round_up(n, NR)`) and an
/// `A` (`m × k`) that is not stored. The contraction runs over `segments` segments of
/// `length` steps. In segment `s`, row `i` of `A` is the `length` consecutive values of
/// `source` from `offsets[i] + s·segment_stride`. The conv layer reads its input this
/// way for `(dL/dW)ᵀ = col · δᵀ`, one output row per segment (see `conv`).
#[allow(clippy::too_many_arguments)]
#[inline(never)]
pub(crate) fn gemm_segmented_a(
    [m, n]: [usize; 2],
    source: &[f32],
    offsets: &[usize],
    [segments, length, segment_stride]: [usize; 3],
    b: Matrix,
    c: &mut [f32],
    ldc: usize,
) {
    let k = segments * length;
    assert!(offsets.len() == m, "one offset per row of A");
    assert!(
        b.stride >= round_up(n, NR) && b.data.len() >= k * b.stride,
        "B is too small"
    );
    if m == 0 || k == 0 {
        return;
    }
    for j0 in (0..n).step_by(NR) {
        for i0 in (0..m).step_by(MR) {
            let row = |r: usize, segment: usize| {
                let start = offsets[(i0 + r).min(m - 1)] + segment * segment_stride;
                &source[start..start + length]
            };
            let rows = |segment| [0, 1, 2, 3].map(|r| row(r, segment));
            let b_block = |segment: usize| &b.data[segment * length * b.stride + j0..];
            // A last group of 4 columns or fewer, such as columns 16..20 of a 20-kernel
            // layer, takes the half-width kernel instead of computing 4 dropped columns.
            if n - j0 <= NR / 2 {
                let mut tile = [[0.0; NR / 2]; MR];
                for segment in 0..segments {
                    tile = micro_kernel(tile, rows(segment), b_block(segment), Strided(b.stride));
                }
                store_tile(&tile, c, ldc, [i0, j0], [m, n], true);
            } else {
                let mut tile = ZERO_TILE;
                for segment in 0..segments {
                    tile = micro_kernel(tile, rows(segment), b_block(segment), Strided(b.stride));
                }
                store_tile(&tile, c, ldc, [i0, j0], [m, n], true);
            }
        }
    }
}

/// The layout of a `B` block's rows: row `p` starts at `row_start(p)` in the block's slice.
trait RowStarts: Copy {
    /// Returns whether rows `0..steps`, `width` values each, all lie inside a slice of `len`.
    fn fit(self, steps: usize, width: usize, len: usize) -> bool;

    /// Returns the start of row `p`.
    ///
    /// # Safety
    /// `p` is below a `steps` for which [`RowStarts::fit`] returned true.
    unsafe fn row_start(self, p: usize) -> usize;
}

/// Rows `stride` values apart.
#[derive(Clone, Copy)]
struct Strided(usize);

impl RowStarts for Strided {
    fn fit(self, steps: usize, width: usize, len: usize) -> bool {
        steps == 0 || (steps - 1) * self.0 + width <= len
    }

    #[inline(always)]
    unsafe fn row_start(self, p: usize) -> usize {
        p * self.0
    }
}

/// Rows at listed offsets, with the largest offset.
#[derive(Clone, Copy)]
struct Listed<'a> {
    offsets: &'a [usize],
    max: usize,
}

impl RowStarts for Listed<'_> {
    fn fit(self, steps: usize, width: usize, len: usize) -> bool {
        steps <= self.offsets.len() && self.max + width <= len
    }

    #[inline(always)]
    unsafe fn row_start(self, p: usize) -> usize {
        // SAFETY: p < steps ≤ offsets.len() by the caller's contract.
        unsafe { *self.offsets.get_unchecked(p) }
    }
}

/// Returns `acc + Σ_p [a₀[p], …, a₃[p]]ᵀ · b[rows.row_start(p) ..][..W]` over the steps
/// `p` of the rows `a`, which have equal lengths. `W` is [`NR`], or `NR / 2` for a last
/// group of at most `NR / 2` columns.
#[inline(always)]
fn micro_kernel<const W: usize>(
    mut acc: [[f32; W]; MR],
    a: [&[f32]; MR],
    b: &[f32],
    rows: impl RowStarts,
) -> [[f32; W]; MR] {
    let steps = a[0].len();
    assert!(
        a.iter().all(|row| row.len() == steps),
        "A rows of equal length"
    );
    assert!(rows.fit(steps, W, b.len()), "B holds every step's row");
    for p in 0..steps {
        // SAFETY: p < a[r].len() for every row r, and the rows of B fit in `b`, by the
        // asserts above. Unchecked reads keep the loop to its loads and arithmetic: the
        // checked form spent about half its instructions on bounds.
        let (b_row, x) = unsafe {
            let b_row = &*(b.as_ptr().add(rows.row_start(p)) as *const [f32; W]);
            let x = a.map(|row| *row.get_unchecked(p));
            (b_row, x)
        };
        for (acc_row, x) in acc.iter_mut().zip(x) {
            for (sum, &y) in acc_row.iter_mut().zip(b_row) {
                *sum += x * y;
            }
        }
    }
    acc
}

/// Writes or adds the tile whose top-left entry is `origin` into `C`, dropping the rows
/// and columns at or past `limit`.
#[inline(always)]
fn store_tile<const W: usize>(
    tile: &[[f32; W]; MR],
    c: &mut [f32],
    ldc: usize,
    origin: [usize; 2],
    limit: [usize; 2],
    add: bool,
) {
    let rows = MR.min(limit[0] - origin[0]);
    let cols = W.min(limit[1] - origin[1]);
    for (r, tile_row) in tile.iter().enumerate().take(rows) {
        let start = (origin[0] + r) * ldc + origin[1];
        let out = &mut c[start..start + cols];
        if add {
            for (o, &v) in out.iter_mut().zip(tile_row) {
                *o += v;
            }
        } else {
            out.copy_from_slice(&tile_row[..cols]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `C = A·B` by the definition, in f64.
    fn naive(m: usize, n: usize, k: usize, a: &[f32], b: &[f32]) -> Vec<f64> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k)
                    .map(|p| a[i * k + p] as f64 * b[p * n + j] as f64)
                    .sum();
            }
        }
        c
    }

    fn values(len: usize, seed: usize) -> Vec<f32> {
        (0..len)
            .map(|i| ((i * 7 + seed * 13) % 17) as f32 / 8.0 - 1.0)
            .collect()
    }

    #[test]
    fn gemm_matches_definition_on_ragged_sizes() {
        for (m, n, k) in [
            (1, 1, 1),
            (3, 5, 7),
            (4, 8, 256),
            (9, 17, 300),
            (20, 64, 513),
        ] {
            let a = values(m * k, 1);
            let b = values(k * n, 2);
            let ldb = round_up(n, NR);
            let mut b_padded = vec![f32::NAN; k * ldb];
            for p in 0..k {
                b_padded[p * ldb..p * ldb + n].copy_from_slice(&b[p * n..(p + 1) * n]);
            }
            let mut c = vec![1.0; m * n];
            let a = Matrix {
                data: &a,
                stride: k,
            };
            let b_matrix = Matrix {
                data: &b_padded,
                stride: ldb,
            };
            gemm([m, n, k], a, b_matrix, &mut c, n, false);
            let a = a.data;
            let expected = naive(m, n, k, a, &b);
            for (i, (&got, &want)) in c.iter().zip(&expected).enumerate() {
                assert!(
                    (got as f64 - want).abs() <= 1e-4 * (1.0 + want.abs()),
                    "{m}×{n}×{k} entry {i}: {got} vs {want}"
                );
            }
        }
    }

    #[test]
    fn gemm_accumulates_with_strides() {
        let (m, n, k) = (5, 3, 6);
        let lda = k + 3;
        let a_padded = values(m * lda, 3);
        let b = values(k * n, 4);
        let ldb = round_up(n, NR);
        let mut b_padded = vec![0.0; k * ldb];
        for p in 0..k {
            b_padded[p * ldb..p * ldb + n].copy_from_slice(&b[p * n..(p + 1) * n]);
        }
        let mut c = vec![2.0; m * n];
        let a_matrix = Matrix {
            data: &a_padded,
            stride: lda,
        };
        let b_matrix = Matrix {
            data: &b_padded,
            stride: ldb,
        };
        gemm([m, n, k], a_matrix, b_matrix, &mut c, n, true);
        let a: Vec<f32> = (0..m * k)
            .map(|i| a_padded[(i / k) * lda + i % k])
            .collect();
        let expected = naive(m, n, k, &a, &b);
        for (&got, &want) in c.iter().zip(&expected) {
            assert!((got as f64 - (want + 2.0)).abs() < 1e-5);
        }
    }
}
