//! Handwritten digits in the app's compact binary format.
//!
//! Layout (all of it checked by [`Digits::parse`]):
//! - bytes 0..8: ASCII `CNNDIG01`;
//! - bytes 8..12: digit count, u32 little-endian;
//! - byte 12: rows, byte 13: columns, bytes 14..16: zero;
//! - then per digit one label byte (0..9) and `rows × cols` pixel bytes (0..255,
//!   row-major).

use crate::Tensor;

const MAGIC: &[u8; 8] = b"CNNDIG01";
const HEADER: usize = 16;

/// A set of labelled grey-scale digits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Digits {
    rows: usize,
    cols: usize,
    labels: Vec<u8>,
    pixels: Vec<u8>,
}

/// A digit file that is not in the format above.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DigitsError {
    #[error("not a digit file: it does not start with CNNDIG01; regenerate it with scripts/make_digits.py")]
    BadMagic,
    #[error("digit file truncated: {actual} bytes, but the header announces {expected}")]
    WrongLength { expected: usize, actual: usize },
    #[error("digit file declares a {rows}×{cols} image; both sides must be between 1 and 64")]
    BadSize { rows: usize, cols: usize },
    #[error("digit {index} has label {label}; labels must be 0 to 9")]
    BadLabel { index: usize, label: u8 },
}

impl Digits {
    /// Parses a digit file.
    ///
    /// Errors: a wrong magic, a length that does not match the header, an image side
    /// outside 1..=64, a label above 9.
    pub fn parse(bytes: &[u8]) -> Result<Self, DigitsError> {
        if bytes.len() < HEADER || &bytes[..8] != MAGIC {
            return Err(DigitsError::BadMagic);
        }
        let count = u32::from_le_bytes(bytes[8..12].try_into().expect("four bytes")) as usize;
        let (rows, cols) = (bytes[12] as usize, bytes[13] as usize);
        if !(1..=64).contains(&rows) || !(1..=64).contains(&cols) {
            return Err(DigitsError::BadSize { rows, cols });
        }
        let record = 1 + rows * cols;
        let expected = count.saturating_mul(record).saturating_add(HEADER);
        if bytes.len() != expected {
            return Err(DigitsError::WrongLength {
                expected,
                actual: bytes.len(),
            });
        }
        let mut labels = Vec::with_capacity(count);
        let mut pixels = Vec::with_capacity(count * rows * cols);
        for (index, chunk) in bytes[HEADER..].chunks_exact(record).enumerate() {
            if chunk[0] > 9 {
                return Err(DigitsError::BadLabel {
                    index,
                    label: chunk[0],
                });
            }
            labels.push(chunk[0]);
            pixels.extend_from_slice(&chunk[1..]);
        }
        Ok(Self {
            rows,
            cols,
            labels,
            pixels,
        })
    }

    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Image height and width.
    pub fn size(&self) -> [usize; 2] {
        [self.rows, self.cols]
    }

    /// The label of digit `index`, which must be below [`Digits::len`].
    pub fn label(&self, index: usize) -> usize {
        self.labels[index] as usize
    }

    /// The raw pixels of digit `index`, row-major.
    pub fn pixels(&self, index: usize) -> &[u8] {
        let size = self.rows * self.cols;
        &self.pixels[index * size..(index + 1) * size]
    }

    /// Digit `index` as a `[1, rows, cols]` input with pixel values scaled to 0..1.
    pub fn image(&self, index: usize) -> Tensor {
        let data = self
            .pixels(index)
            .iter()
            .map(|&p| p as f64 / 255.0)
            .collect();
        Tensor::from_vec(&[1, self.rows, self.cols], data).expect("sized from the header")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(labels: &[u8], rows: u8, cols: u8) -> Vec<u8> {
        let mut bytes = MAGIC.to_vec();
        bytes.extend((labels.len() as u32).to_le_bytes());
        bytes.extend([rows, cols, 0, 0]);
        for (i, &label) in labels.iter().enumerate() {
            bytes.push(label);
            bytes.extend((0..rows as usize * cols as usize).map(|p| (p + i) as u8));
        }
        bytes
    }

    #[test]
    fn parse_reads_labels_and_pixels() {
        let digits = Digits::parse(&file(&[3, 7], 2, 3)).unwrap();
        assert_eq!(digits.len(), 2);
        assert_eq!(digits.label(1), 7);
        assert_eq!(digits.pixels(1), &[1, 2, 3, 4, 5, 6]);
        assert_eq!(digits.image(0).shape(), &[1, 2, 3]);
        assert_eq!(digits.image(0).data()[5], 5.0 / 255.0);
    }

    #[test]
    fn truncated_file_is_rejected() {
        let mut bytes = file(&[3, 7], 2, 3);
        bytes.pop();
        let err = Digits::parse(&bytes).unwrap_err();
        assert_eq!(
            err,
            DigitsError::WrongLength {
                expected: 30,
                actual: 29
            }
        );
    }

    #[test]
    fn bad_label_and_magic_are_rejected() {
        let err = Digits::parse(&file(&[3, 12], 2, 3)).unwrap_err();
        assert_eq!(
            err,
            DigitsError::BadLabel {
                index: 1,
                label: 12
            }
        );
        assert_eq!(Digits::parse(b"PNG").unwrap_err(), DigitsError::BadMagic);
    }

    #[test]
    fn huge_count_is_rejected_without_allocating() {
        let mut bytes = file(&[], 28, 28);
        bytes[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            Digits::parse(&bytes),
            Err(DigitsError::WrongLength { .. })
        ));
    }
}
