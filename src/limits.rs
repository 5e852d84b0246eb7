//! The editor's allowed ranges, and the parsers that check a typed field against them.
//!
//! The ranges keep every network small enough to draw each map of its trace and to
//! recompute it on every edit. Settings inside the ranges can still fail to fit together
//! (a kernel larger than its padded input); `NetworkSpec::plan` in the core checks that
//! afterwards. Each parser returns the message shown beside the field: the field's name,
//! the text typed and the allowed range.

/// An inclusive range of whole numbers allowed for one setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range {
    pub min: usize,
    pub max: usize,
}

impl Range {
    const fn new(min: usize, max: usize) -> Self {
        Self { min, max }
    }
}

/// Channels C of the input map.
pub const INPUT_CHANNELS: Range = Range::new(1, 3);
/// Height H and width W of the input map.
pub const INPUT_SIZE: Range = Range::new(1, 32);
/// Kernels K of a conv layer.
pub const KERNELS: Range = Range::new(1, 8);
/// Kernel height FH and width FW.
pub const KERNEL_SIZE: Range = Range::new(1, 7);
/// Conv stride SH and SW.
pub const CONV_STRIDE: Range = Range::new(1, 4);
/// Conv padding PH and PW.
pub const PADDING: Range = Range::new(0, 3);
/// Conv dilation DH and DW.
pub const DILATION: Range = Range::new(1, 3);
/// Pooling window height and width.
pub const POOL_SIZE: Range = Range::new(1, 4);
/// Pooling stride SH and SW.
pub const POOL_STRIDE: Range = Range::new(1, 4);
/// Outputs of a dense layer.
pub const DENSE_OUTPUTS: Range = Range::new(1, 16);

/// The largest seed: 2^53, the largest integer up to which a JavaScript number (and so a
/// number field) represents every integer exactly.
pub const MAX_SEED: u64 = 1 << 53;
/// The largest magnitude of a typed input value, weight, target or gradient.
pub const MAX_ABS_VALUE: f64 = 1e6;
/// The largest image file decoded, in bytes (20 MB).
pub const MAX_IMAGE_BYTES: f64 = 20_000_000.0;
/// The largest decoded image width or height, in pixels.
pub const MAX_IMAGE_SIDE: u32 = 8192;

/// Parses a whole number in `range` for the field called `name`, which starts the message
/// as written ("Kernels K", or a symbol such as "x[0][1][2]").
///
/// Errors: empty text, text that is not a whole number, or a number outside `range`, each
/// as a sentence naming the field, the text and the range.
pub fn parse_whole(text: &str, name: &str, range: Range) -> Result<usize, String> {
    let text = text.trim();
    let allowed = format!("use a whole number from {} to {}", range.min, range.max);
    if text.is_empty() {
        return Err(format!("{} is empty; {allowed}.", name));
    }
    match text.parse::<usize>() {
        Ok(value) if (range.min..=range.max).contains(&value) => Ok(value),
        Ok(value) => Err(format!("{}: {value} is out of range; {allowed}.", name)),
        // Digits that overflow usize are still a number out of range.
        Err(_) if text.bytes().all(|b| b.is_ascii_digit()) => {
            Err(format!("{}: {text} is out of range; {allowed}.", name))
        }
        Err(_) => Err(format!(
            "{}: “{text}” is not a whole number; {allowed}.",
            name
        )),
    }
}

/// Parses a seed from 0 to [`MAX_SEED`] for the field called `name`.
///
/// Errors: as [`parse_whole`], with the range 0 to 2^53.
pub fn parse_seed(text: &str, name: &str) -> Result<u64, String> {
    let text = text.trim();
    let allowed = format!("use a whole number from 0 to {MAX_SEED} (2^53)");
    if text.is_empty() {
        return Err(format!("{} is empty; {allowed}.", name));
    }
    match text.parse::<u64>() {
        Ok(value) if value <= MAX_SEED => Ok(value),
        Err(_) if !text.bytes().all(|b| b.is_ascii_digit()) => Err(format!(
            "{}: “{text}” is not a whole number; {allowed}.",
            name
        )),
        _ => Err(format!("{}: {text} is out of range; {allowed}.", name)),
    }
}

/// Parses a finite number of magnitude at most [`MAX_ABS_VALUE`] for the value called
/// `name`. Both the ASCII hyphen and the minus sign − that the page prints are accepted.
///
/// Errors: empty text, text that is not a number, infinity or NaN, or a magnitude over the
/// limit.
pub fn parse_value(text: &str, name: &str) -> Result<f64, String> {
    let text = text.trim();
    let allowed = "use a number from −1000000 to 1000000, such as 0.5 or −2e-3";
    if text.is_empty() {
        return Err(format!("{} is empty; {allowed}.", name));
    }
    let ascii = text.replace('−', "-");
    match ascii.parse::<f64>() {
        Ok(value) if value.is_finite() && value.abs() <= MAX_ABS_VALUE => Ok(value),
        Ok(value) if value.is_finite() => {
            Err(format!("{}: {text} is out of range; {allowed}.", name))
        }
        Ok(_) => Err(format!(
            "{}: “{text}” is not a finite number; {allowed}.",
            name
        )),
        Err(_) => Err(format!("{}: “{text}” is not a number; {allowed}.", name)),
    }
}

/// Parses a class label for a network with `classes` outputs.
///
/// Errors: as [`parse_whole`], with the range 0 to `classes − 1`.
pub fn parse_label(text: &str, classes: usize) -> Result<usize, String> {
    parse_whole(text, "Label", Range::new(0, classes.saturating_sub(1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_accepts_range_ends() {
        assert_eq!(parse_whole(" 1 ", "Kernels K", KERNELS), Ok(1));
        assert_eq!(parse_whole("8", "Kernels K", KERNELS), Ok(8));
        assert_eq!(parse_whole("0", "Padding PH", PADDING), Ok(0));
    }

    #[test]
    fn whole_out_of_range_names_range() {
        let message = parse_whole("99", "Kernels K", KERNELS).unwrap_err();
        assert_eq!(
            message,
            "Kernels K: 99 is out of range; use a whole number from 1 to 8."
        );
        let message = parse_whole("0", "Kernels K", KERNELS).unwrap_err();
        assert!(message.contains("0 is out of range"), "{message}");
    }

    #[test]
    fn whole_rejects_non_numbers() {
        let message = parse_whole("1.5", "Stride SH", CONV_STRIDE).unwrap_err();
        assert!(message.contains("“1.5” is not a whole number"), "{message}");
        assert!(message.contains("from 1 to 4"), "{message}");
        assert!(parse_whole("-1", "Stride SH", CONV_STRIDE).is_err());
        let message = parse_whole("  ", "Stride SH", CONV_STRIDE).unwrap_err();
        assert!(message.starts_with("Stride SH is empty"), "{message}");
    }

    #[test]
    fn whole_overflow_is_out_of_range() {
        let message = parse_whole("99999999999999999999999", "Kernels K", KERNELS).unwrap_err();
        assert!(message.contains("is out of range"), "{message}");
    }

    #[test]
    fn seed_range_is_0_to_2_pow_53() {
        assert_eq!(parse_seed("0", "Seed"), Ok(0));
        assert_eq!(parse_seed("9007199254740992", "seed"), Ok(MAX_SEED));
        let message = parse_seed("9007199254740993", "seed").unwrap_err();
        assert!(message.contains("out of range"), "{message}");
        assert!(parse_seed("99999999999999999999999", "seed")
            .unwrap_err()
            .contains("out of range"));
        assert!(parse_seed("abc", "seed")
            .unwrap_err()
            .contains("not a whole number"));
    }

    #[test]
    fn value_accepts_minus_sign() {
        assert_eq!(parse_value("−0.5", "x[0][0][0]"), Ok(-0.5));
        assert_eq!(parse_value("-2e-3", "x[0][0][0]"), Ok(-0.002));
        assert_eq!(parse_value("1e6", "x[0][0][0]"), Ok(1e6));
    }

    #[test]
    fn value_rejects_non_finite_and_large() {
        assert!(parse_value("inf", "W[0]")
            .unwrap_err()
            .contains("not a finite number"));
        assert!(parse_value("NaN", "W[0]")
            .unwrap_err()
            .contains("not a finite number"));
        assert!(parse_value("1e300", "W[0]")
            .unwrap_err()
            .contains("out of range"));
        assert!(parse_value("abc", "W[0]")
            .unwrap_err()
            .starts_with("W[0]: “abc” is not a number"));
    }

    #[test]
    fn label_range_follows_classes() {
        assert_eq!(parse_label("2", 3), Ok(2));
        assert!(parse_label("3", 3).unwrap_err().contains("from 0 to 2"));
    }
}
