//! A dense, row-major array of `f64` with a shape, the one value type of the core.
//!
//! Activations are `[C, H, W]`, conv weights `[K, C, FH, FW]`, dense weights
//! `[outputs, inputs]`, biases and dense outputs `[N]`. In JSON a tensor is a nested list
//! whose depth is its rank, as in the golden cases.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, SeqAccess, Visitor};
use serde::ser::{SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};

/// Deepest nesting accepted when reading a tensor from JSON. The core uses rank 4 at most.
pub const MAX_RANK: usize = 6;

/// A row-major `f64` array with its shape.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Tensor {
    shape: Vec<usize>,
    data: Vec<f64>,
}

impl Tensor {
    /// Creates a tensor of zeros.
    pub fn zeros(shape: &[usize]) -> Self {
        let len = shape.iter().product();
        Self {
            shape: shape.to_vec(),
            data: vec![0.0; len],
        }
    }

    /// Wraps `data` with `shape`, or returns `None` when the lengths differ.
    pub fn from_vec(shape: &[usize], data: Vec<f64>) -> Option<Self> {
        (shape.iter().product::<usize>() == data.len()).then(|| Self {
            shape: shape.to_vec(),
            data,
        })
    }

    /// Creates a `[C, H, W]` tensor whose value at `(c, h, w)` is `f(c, h, w)`.
    pub fn from_fn3(shape: [usize; 3], mut f: impl FnMut(usize, usize, usize) -> f64) -> Self {
        let [chans, rows, cols] = shape;
        let mut data = Vec::with_capacity(chans * rows * cols);
        for c in 0..chans {
            for h in 0..rows {
                for w in 0..cols {
                    data.push(f(c, h, w));
                }
            }
        }
        Self {
            shape: shape.to_vec(),
            data,
        }
    }

    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    pub fn data(&self) -> &[f64] {
        &self.data
    }

    pub fn data_mut(&mut self) -> &mut [f64] {
        &mut self.data
    }

    pub fn into_data(self) -> Vec<f64> {
        self.data
    }

    /// Number of values.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Returns the same values under another shape with the same number of values.
    pub fn reshaped(mut self, shape: &[usize]) -> Option<Self> {
        if shape.iter().product::<usize>() != self.data.len() {
            return None;
        }
        self.shape = shape.to_vec();
        Some(self)
    }

    /// Converts a flat index into a multi-index of this tensor's shape.
    pub fn unravel(&self, mut flat: usize) -> Vec<usize> {
        let mut index = vec![0; self.shape.len()];
        for (slot, &dim) in index.iter_mut().zip(&self.shape).rev() {
            *slot = flat % dim.max(1);
            flat /= dim.max(1);
        }
        index
    }

    /// Converts a multi-index into a flat index, or `None` when it is out of bounds.
    pub fn flat_index(&self, index: &[usize]) -> Option<usize> {
        if index.len() != self.shape.len() {
            return None;
        }
        let mut flat = 0;
        for (&i, &dim) in index.iter().zip(&self.shape) {
            if i >= dim {
                return None;
            }
            flat = flat * dim + i;
        }
        Some(flat)
    }

    /// Returns the value at a multi-index, or `None` when it is out of bounds.
    pub fn get(&self, index: &[usize]) -> Option<f64> {
        self.flat_index(index).map(|flat| self.data[flat])
    }

    /// Returns the first non-finite value and its multi-index.
    pub fn first_non_finite(&self) -> Option<(Vec<usize>, f64)> {
        let flat = self.data.iter().position(|v| !v.is_finite())?;
        Some((self.unravel(flat), self.data[flat]))
    }

    /// Returns the values of channel `c` of a `[C, H, W]` tensor (or of row `c` of any tensor).
    pub fn channel(&self, c: usize) -> &[f64] {
        let size = self.shape.iter().skip(1).product::<usize>();
        &self.data[c * size..(c + 1) * size]
    }

    /// Largest absolute value, 0 for an empty tensor; non-finite values are skipped.
    pub fn max_abs(&self) -> f64 {
        self.data
            .iter()
            .filter(|v| v.is_finite())
            .fold(0.0, |acc, v| acc.max(v.abs()))
    }

    /// Index of the largest value, the first one on a tie.
    pub fn argmax(&self) -> Option<usize> {
        let mut best: Option<(usize, f64)> = None;
        for (i, &v) in self.data.iter().enumerate() {
            if best.is_none_or(|(_, b)| v > b) {
                best = Some((i, v));
            }
        }
        best.map(|(i, _)| i)
    }
}

impl Serialize for Tensor {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.shape.is_empty() {
            return serializer.serialize_f64(self.data.first().copied().unwrap_or(0.0));
        }
        NestedSlice {
            shape: &self.shape,
            data: &self.data,
        }
        .serialize(serializer)
    }
}

/// One level of a tensor during serialization: a list of `shape[0]` sub-lists.
struct NestedSlice<'a> {
    shape: &'a [usize],
    data: &'a [f64],
}

impl Serialize for NestedSlice<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (&len, inner_shape) = self.shape.split_first().expect("rank is at least 1");
        let mut seq = serializer.serialize_seq(Some(len))?;
        if inner_shape.is_empty() {
            for v in self.data {
                seq.serialize_element(v)?;
            }
        } else {
            let step = inner_shape.iter().product::<usize>();
            for i in 0..len {
                seq.serialize_element(&NestedSlice {
                    shape: inner_shape,
                    data: &self.data[i * step..(i + 1) * step],
                })?;
            }
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for Tensor {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut builder = Builder::default();
        Level {
            builder: &mut builder,
            depth: 0,
        }
        .deserialize(deserializer)?;
        let rank = builder.rank.unwrap_or(0);
        let shape: Vec<usize> = builder.shape[..rank]
            .iter()
            .map(|d| d.unwrap_or(0))
            .collect();
        Ok(Tensor {
            shape,
            data: builder.data,
        })
    }
}

/// Flattened values and the length seen at each depth, checked for a rectangular nesting.
#[derive(Default)]
struct Builder {
    data: Vec<f64>,
    shape: Vec<Option<usize>>,
    rank: Option<usize>,
}

impl Builder {
    fn leaf_at<E: de::Error>(&mut self, depth: usize, value: f64) -> Result<(), E> {
        match self.rank {
            None => self.rank = Some(depth),
            Some(rank) if rank != depth => {
                return Err(E::custom(format!(
                    "invalid tensor: a number at nesting depth {depth} where numbers sit at \
                     depth {rank}; every list must nest to the same depth"
                )))
            }
            Some(_) => {}
        }
        self.data.push(value);
        Ok(())
    }

    fn list_at<E: de::Error>(&mut self, depth: usize, len: usize) -> Result<(), E> {
        if self.shape.len() <= depth {
            self.shape.resize(depth + 1, None);
        }
        match self.shape[depth] {
            None => self.shape[depth] = Some(len),
            Some(first) if first != len => {
                return Err(E::custom(format!(
                    "invalid tensor: a list of {len} entries at nesting depth {depth} beside \
                     one of {first}; all lists at one depth must have the same length"
                )))
            }
            Some(_) => {}
        }
        if len == 0 && self.rank.is_none() {
            self.rank = Some(depth + 1);
        }
        Ok(())
    }
}

/// Reads one nesting level: a number or a list of deeper levels.
struct Level<'a> {
    builder: &'a mut Builder,
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for Level<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Level<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a number or a nested list of numbers")
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        self.builder.leaf_at(self.depth, v)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        self.builder.leaf_at(self.depth, v as f64)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        self.builder.leaf_at(self.depth, v as f64)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        if self.depth >= MAX_RANK {
            return Err(de::Error::custom(format!(
                "invalid tensor: nested deeper than {MAX_RANK} levels"
            )));
        }
        if self.builder.rank.is_some_and(|rank| self.depth >= rank) {
            return Err(de::Error::custom(
                "invalid tensor: a list where a number was expected; every list must nest to \
                 the same depth",
            ));
        }
        let mut len = 0;
        while seq
            .next_element_seed(Level {
                builder: &mut *self.builder,
                depth: self.depth + 1,
            })?
            .is_some()
        {
            len += 1;
        }
        self.builder.list_at(self.depth, len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trip_keeps_shape() {
        let t = Tensor::from_vec(&[2, 1, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.5]).unwrap();
        let text = serde_json::to_string(&t).unwrap();
        assert_eq!(text, "[[[1.0,2.0,3.0]],[[4.0,5.0,6.5]]]");
        let back: Tensor = serde_json::from_str(&text).unwrap();
        assert_eq!(back, t);
    }

    #[test]
    fn ragged_list_is_rejected() {
        let err = serde_json::from_str::<Tensor>("[[1, 2], [3]]").unwrap_err();
        assert!(err.to_string().contains("same length"), "{err}");
    }

    #[test]
    fn mixed_depth_is_rejected() {
        let err = serde_json::from_str::<Tensor>("[[1, 2], 3]").unwrap_err();
        assert!(err.to_string().contains("same depth"), "{err}");
        let err = serde_json::from_str::<Tensor>("[1, [2]]").unwrap_err();
        assert!(err.to_string().contains("same depth"), "{err}");
    }

    #[test]
    fn deep_nesting_is_rejected() {
        let text = format!("{}1{}", "[".repeat(50), "]".repeat(50));
        let err = serde_json::from_str::<Tensor>(&text).unwrap_err();
        assert!(err.to_string().contains("nested deeper"), "{err}");
    }

    #[test]
    fn unravel_inverts_flat_index() {
        let t = Tensor::zeros(&[2, 3, 4]);
        for flat in 0..t.len() {
            let index = t.unravel(flat);
            assert_eq!(t.flat_index(&index), Some(flat));
        }
        assert_eq!(t.flat_index(&[2, 0, 0]), None);
    }

    #[test]
    fn argmax_takes_first_of_ties() {
        let t = Tensor::from_vec(&[4], vec![1.0, 3.0, 3.0, 2.0]).unwrap();
        assert_eq!(t.argmax(), Some(1));
    }
}
