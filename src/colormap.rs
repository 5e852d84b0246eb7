//! The diverging colour scale of every heatmap: blue for negative, near-white for zero,
//! red for positive, symmetric around zero.
//!
//! The stops are ColorBrewer's 11-class RdBu scheme (Cynthia Brewer, colorbrewer2.org),
//! reversed so that negative values are blue; the scheme is listed there as safe for
//! colour-blind readers.

/// Colour for non-finite values, which no finite value maps to.
pub const NOT_FINITE: (u8, u8, u8) = (0, 0, 0);

const STOPS: [(u8, u8, u8); 11] = [
    (0x05, 0x30, 0x61),
    (0x21, 0x66, 0xac),
    (0x43, 0x93, 0xc3),
    (0x92, 0xc5, 0xde),
    (0xd1, 0xe5, 0xf0),
    (0xf7, 0xf7, 0xf7),
    (0xfd, 0xdb, 0xc7),
    (0xf4, 0xa5, 0x82),
    (0xd6, 0x60, 0x4d),
    (0xb2, 0x18, 0x2b),
    (0x67, 0x00, 0x1f),
];

/// Maps `value` to a colour on the scale `[−scale, +scale]`; values beyond it take the end
/// colours, and a `scale` of 0 maps everything to the centre colour.
pub fn diverging(value: f64, scale: f64) -> (u8, u8, u8) {
    if !value.is_finite() {
        return NOT_FINITE;
    }
    let t = if scale > 0.0 && scale.is_finite() {
        (value / scale).clamp(-1.0, 1.0)
    } else {
        0.0
    };
    // t in [−1, 1] becomes a position between the 11 stops.
    let position = (t + 1.0) * 0.5 * (STOPS.len() - 1) as f64;
    let low = (position.floor() as usize).min(STOPS.len() - 2);
    let frac = position - low as f64;
    let (a, b) = (STOPS[low], STOPS[low + 1]);
    let mix = |x: u8, y: u8| (x as f64 + (y as f64 - x as f64) * frac).round() as u8;
    (mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// The colour as a CSS `rgb()` string.
pub fn css((r, g, b): (u8, u8, u8)) -> String {
    format!("rgb({r}, {g}, {b})")
}

/// The symmetric range of a map: its largest absolute finite value.
pub fn symmetric_scale(values: &[f64]) -> f64 {
    values
        .iter()
        .filter(|v| v.is_finite())
        .fold(0.0, |acc, v| acc.max(v.abs()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_is_centre_colour() {
        assert_eq!(diverging(0.0, 2.0), STOPS[5]);
        assert_eq!(diverging(5.0, 0.0), STOPS[5]);
    }

    #[test]
    fn ends_are_symmetric() {
        assert_eq!(diverging(-2.0, 2.0), STOPS[0]);
        assert_eq!(diverging(2.0, 2.0), STOPS[10]);
        assert_eq!(diverging(9.0, 2.0), STOPS[10]);
    }

    #[test]
    fn negative_is_blue_positive_is_red() {
        let (r, _, b) = diverging(-1.0, 2.0);
        assert!(b > r);
        let (r, _, b) = diverging(1.0, 2.0);
        assert!(r > b);
    }

    #[test]
    fn non_finite_gets_its_own_colour() {
        assert_eq!(diverging(f64::NAN, 1.0), NOT_FINITE);
        assert_eq!(diverging(f64::INFINITY, 1.0), NOT_FINITE);
        for i in -100..=100 {
            assert_ne!(diverging(i as f64 / 50.0, 1.0), NOT_FINITE);
        }
    }
}
