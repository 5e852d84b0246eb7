//! The size budget every network must fit before anything runs.
//!
//! The limits keep one trace of a network within a few hundred MiB, which a browser tab can
//! hold: a trace stores each forward value and several backward intermediates as `f64`.

use crate::{CoreError, Location};

/// A count of values or operations, wide enough that products of `usize` sizes cannot wrap
/// before the budget check compares them.
pub type Amount = u128;

/// Most layers in one network.
pub const MAX_LAYERS: usize = 64;

/// Most values in any one tensor (input, output, padded input, weights): 2^20.
pub const MAX_TENSOR_VALUES: Amount = 1 << 20;

/// Most values in all activations and parameters of one network together: 2^22, which is
/// 32 MiB as `f64`.
pub const MAX_TOTAL_VALUES: Amount = 1 << 22;

/// Most multiply-adds in one forward pass: 2^30.
pub const MAX_MULTIPLY_ADDS: Amount = 1 << 30;

/// Multiplies sizes, saturating at `u128::MAX` instead of wrapping.
pub fn product(sizes: &[Amount]) -> Amount {
    sizes
        .iter()
        .fold(1, |acc: Amount, &s| acc.saturating_mul(s))
}

/// Checks one tensor against [`MAX_TENSOR_VALUES`].
pub fn check_tensor(at: &Location, what: &'static str, values: Amount) -> Result<(), CoreError> {
    if values > MAX_TENSOR_VALUES {
        return Err(CoreError::TooLarge {
            at: at.clone(),
            what,
            amount: values,
            budget: MAX_TENSOR_VALUES,
        });
    }
    Ok(())
}
