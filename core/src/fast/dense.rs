//! The dense layer in `f32`: `y = W x + b` on each example, with the backward pass
//! `dL/dW = Σ_batch δ xᵀ`, `dL/db = Σ_batch δ` and `dL/dx = Wᵀ δ` (see [`crate::dense`]).

/// One dense layer's parameters and gradients.
#[derive(Clone, Debug)]
pub(crate) struct DenseLayer {
    pub inputs: usize,
    pub outputs: usize,
    /// `[outputs, inputs]`, row-major.
    pub weights: Vec<f32>,
    pub bias: Vec<f32>,
    pub grad_w: Vec<f32>,
    pub grad_b: Vec<f32>,
}

impl DenseLayer {
    pub fn new(inputs: usize, outputs: usize, weights: Vec<f32>, bias: Vec<f32>) -> Self {
        Self {
            inputs,
            outputs,
            grad_w: vec![0.0; weights.len()],
            grad_b: vec![0.0; bias.len()],
            weights,
            bias,
        }
    }

    /// Computes `y = W x + b` for one example.
    #[inline(never)]
    pub fn forward(&self, x: &[f32], y: &mut [f32]) {
        for ((out, row), &bias) in y
            .iter_mut()
            .zip(self.weights.chunks_exact(self.inputs))
            .zip(&self.bias)
        {
            *out = bias + dot(row, x);
        }
    }

    /// Zeroes the gradients before the backward passes of a batch.
    pub fn start_backward(&mut self) {
        self.grad_w.fill(0.0);
        self.grad_b.fill(0.0);
    }

    /// Adds one example's gradients from `delta = dL/dy` and writes its `dL/dx` when
    /// `grad_x` is given.
    #[inline(never)]
    pub fn backward(&mut self, x: &[f32], delta: &[f32], grad_x: Option<&mut [f32]>) {
        for ((row, sum), &d) in self
            .grad_w
            .chunks_exact_mut(self.inputs)
            .zip(&mut self.grad_b)
            .zip(delta)
        {
            *sum += d;
            axpy(d, x, row);
        }
        let Some(grad_x) = grad_x else { return };
        grad_x.fill(0.0);
        for (row, &d) in self.weights.chunks_exact(self.inputs).zip(delta) {
            axpy(d, row, grad_x);
        }
    }
}

/// Lanes of the partial sums in [`dot`]: eight independent sums that the compiler can keep
/// in vector registers, since it may not reorder one sequential float sum.
const LANES: usize = 8;

/// `Σ a[i]·b[i]`, summed in [`LANES`] interleaved partial sums.
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut partial = [0.0f32; LANES];
    let chunks = a.chunks_exact(LANES).zip(b.chunks_exact(LANES));
    for (x, y) in chunks {
        for ((p, &x), &y) in partial.iter_mut().zip(x).zip(y) {
            *p += x * y;
        }
    }
    let tail = a.len() / LANES * LANES;
    let rest: f32 = a[tail..].iter().zip(&b[tail..]).map(|(x, y)| x * y).sum();
    partial.iter().sum::<f32>() + rest
}

/// `y ← y + alpha·x`.
pub(crate) fn axpy(alpha: f32, x: &[f32], y: &mut [f32]) {
    for (y, &x) in y.iter_mut().zip(x) {
        *y += alpha * x;
    }
}
