//! Number formatting for labels, legends and text alternatives.

/// Formats `v` with about four significant digits: plain notation from 0.001 to 10,000,
/// scientific notation outside, and "NaN", "+∞" or "−∞" for non-finite values.
pub fn short(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 {
            "+∞".into()
        } else {
            "−∞".into()
        };
    }
    if v == 0.0 {
        return "0".into();
    }
    let magnitude = v.abs();
    let text = if (1e-3..1e4).contains(&magnitude) {
        let decimals = (3 - magnitude.log10().floor() as i32).max(0) as usize;
        trim_zeros(format!("{v:.decimals$}"))
    } else {
        format!("{v:.2e}")
    };
    text.replace('-', "−")
}

/// Formats `v` with three significant digits for printing inside small map cells:
/// plain notation from 0.01 to 1,000, scientific outside.
pub fn compact(v: f64) -> String {
    if !v.is_finite() {
        return short(v);
    }
    if v == 0.0 {
        return "0".into();
    }
    let magnitude = v.abs();
    let text = if (1e-2..1e3).contains(&magnitude) {
        let decimals = (2 - magnitude.log10().floor() as i32).max(0) as usize;
        trim_zeros(format!("{v:.decimals$}"))
    } else {
        format!("{v:.1e}")
    };
    text.replace('-', "−")
}

fn trim_zeros(text: String) -> String {
    if !text.contains('.') {
        return text;
    }
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::{compact, short};

    #[test]
    fn short_keeps_four_significant_digits() {
        assert_eq!(short(0.123456), "0.1235");
        assert_eq!(short(12.5), "12.5");
        assert_eq!(short(-3.0), "−3");
        assert_eq!(short(0.0001234), "1.23e−4");
        assert_eq!(short(123456.0), "1.23e5");
        assert_eq!(short(f64::NAN), "NaN");
        assert_eq!(short(f64::NEG_INFINITY), "−∞");
    }

    #[test]
    fn compact_keeps_three_significant_digits() {
        assert_eq!(compact(0.123456), "0.123");
        assert_eq!(compact(-0.04321), "−0.0432");
        assert_eq!(compact(5.0), "5");
        assert_eq!(compact(0.001234), "1.2e−3");
        assert_eq!(compact(f64::NAN), "NaN");
    }
}
