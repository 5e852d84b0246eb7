//! Activations and losses in `f32`.
//!
//! The activation derivatives are computed from the output `y = f(z)`, which the forward
//! pass stores anyway: relu′ = [y > 0] (which is [z > 0], so relu′(0) = 0), sigmoid′ =
//! y·(1 − y), tanh′ = 1 − y². The losses follow [`crate::loss`], averaged over the batch.

use crate::activation::Activation;

/// `y = f(z)` for every value.
#[inline(never)]
pub(crate) fn activation_forward(f: Activation, z: &[f32], y: &mut [f32]) {
    let pairs = y.iter_mut().zip(z);
    match f {
        Activation::Identity => y.copy_from_slice(z),
        // A comparison, not f32::max, which compiles to a call on wasm32.
        Activation::Relu => pairs.for_each(|(y, &z)| *y = if z > 0.0 { z } else { 0.0 }),
        Activation::Sigmoid => pairs.for_each(|(y, &z)| *y = sigmoid(z)),
        Activation::Tanh => pairs.for_each(|(y, &z)| *y = z.tanh()),
    }
}

/// `dL/dz = δ ⊙ f′(z)`, with `f′` computed from `y = f(z)`.
#[inline(never)]
pub(crate) fn activation_backward(f: Activation, y: &[f32], delta: &[f32], grad_z: &mut [f32]) {
    let triples = grad_z.iter_mut().zip(y).zip(delta);
    match f {
        Activation::Identity => grad_z.copy_from_slice(delta),
        Activation::Relu => {
            triples.for_each(|((g, &y), &d)| *g = if y > 0.0 { d } else { 0.0 });
        }
        Activation::Sigmoid => triples.for_each(|((g, &y), &d)| *g = d * y * (1.0 - y)),
        Activation::Tanh => triples.for_each(|((g, &y), &d)| *g = d * (1.0 - y * y)),
    }
}

/// The logistic function, taking `e^x` only of `x ≤ 0` so that it cannot overflow.
fn sigmoid(z: f32) -> f32 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// Softmax cross-entropy `−log softmax(y)[label]` of one example, writing
/// `(softmax(y) − onehot(label)) · scale` into `grad`.
pub(crate) fn softmax_cross_entropy(y: &[f32], label: usize, scale: f32, grad: &mut [f32]) -> f32 {
    // Subtracting the maximum keeps every exponent ≤ 0.
    let max = y.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for (g, &v) in grad.iter_mut().zip(y) {
        *g = (v - max).exp();
        sum += *g;
    }
    for g in grad.iter_mut() {
        *g *= scale / sum;
    }
    grad[label] -= scale;
    max + sum.ln() - y[label]
}

/// `½ Σ (y − t)²` of one example, writing `(y − t) · scale` into `grad`.
pub(crate) fn mse(y: &[f32], target: &[f32], scale: f32, grad: &mut [f32]) -> f32 {
    let mut loss = 0.0;
    for ((g, &v), &t) in grad.iter_mut().zip(y).zip(target) {
        let diff = v - t;
        loss += 0.5 * diff * diff;
        *g = diff * scale;
    }
    loss
}

/// `Σ g ⊙ y` of one example for a given upstream gradient `g`, writing `g · scale` into
/// `grad`.
pub(crate) fn upstream(y: &[f32], upstream_grad: &[f32], scale: f32, grad: &mut [f32]) -> f32 {
    let mut value = 0.0;
    for ((g, &v), &u) in grad.iter_mut().zip(y).zip(upstream_grad) {
        value += u * v;
        *g = u * scale;
    }
    value
}
