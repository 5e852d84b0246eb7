//! Dense (fully connected) layer: `y = W x + b` on the input flattened in C, H, W row-major
//! order (index `c·H·W + h·W + w`).
//!
//! Backward, for `δ = dL/dy`: `dL/dW[o][i] = δ[o] · x[i]`, `dL/db = δ`, and
//! `dL/dx[i] = Σ_o W[o][i] · δ[o]`, reshaped back to the input's shape.
//!
//! Shapes: `x` any shape with `N_in` values, `W [N_out, N_in]`, `b [N_out]`, `y [N_out]`.
//!
//! ```
//! use cnn_core::{dense, Tensor};
//!
//! let x = Tensor::from_vec(&[1, 1, 3], vec![1.0, 2.0, 3.0]).unwrap();
//! let w = Tensor::from_vec(&[2, 3], vec![1.0, 0.0, -1.0, 0.5, 0.5, 0.5]).unwrap();
//! let b = Tensor::from_vec(&[2], vec![0.0, 1.0]).unwrap();
//! assert_eq!(dense::forward(&x, &w, &b).data(), &[-2.0, 4.0]);
//!
//! let grad_y = Tensor::from_vec(&[2], vec![1.0, 2.0]).unwrap();
//! let back = dense::backward(&x, &w, &grad_y);
//! assert_eq!(back.grad_x.shape(), &[1, 1, 3]);
//! assert_eq!(back.grad_x.data(), &[2.0, 1.0, 0.0]);
//! assert_eq!(back.grad_w.data(), &[1.0, 2.0, 3.0, 2.0, 4.0, 6.0]);
//! assert_eq!(back.grad_b.data(), &[1.0, 2.0]);
//! ```

use serde::{Deserialize, Serialize};

use crate::Tensor;

/// A dense layer as written in a network spec.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DenseSpec {
    pub outputs: usize,
}

/// Computes `y = W x + b` for `w` of shape `[N_out, N_in]` and `x` with `N_in` values.
pub fn forward(x: &Tensor, w: &Tensor, b: &Tensor) -> Tensor {
    let inputs = x.len();
    let y = w
        .data()
        .chunks(inputs)
        .zip(b.data())
        .map(|(row, bias)| {
            bias + row
                .iter()
                .zip(x.data())
                .map(|(wi, xi)| wi * xi)
                .sum::<f64>()
        })
        .collect();
    Tensor::from_vec(&[b.len()], y).expect("one value per output")
}

/// The dense backward step.
#[derive(Clone, Debug, PartialEq)]
pub struct DenseBackward {
    pub grad_w: Tensor,
    pub grad_b: Tensor,
    /// `dL/dx` in the input's own shape.
    pub grad_x: Tensor,
}

/// Computes the weight, bias and input gradients from `grad_y = δ`.
pub fn backward(x: &Tensor, w: &Tensor, grad_y: &Tensor) -> DenseBackward {
    let inputs = x.len();
    let mut grad_w = Tensor::zeros(w.shape());
    let mut grad_x = Tensor::zeros(x.shape());
    for (o, &delta) in grad_y.data().iter().enumerate() {
        let row = o * inputs..(o + 1) * inputs;
        for (gw, xi) in grad_w.data_mut()[row.clone()].iter_mut().zip(x.data()) {
            *gw = delta * xi;
        }
        for (gx, wi) in grad_x.data_mut().iter_mut().zip(&w.data()[row]) {
            *gx += wi * delta;
        }
    }
    DenseBackward {
        grad_w,
        grad_b: grad_y.clone(),
        grad_x,
    }
}
