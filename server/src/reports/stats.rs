//! The few statistics reports use, defined once so every backend's facts give the same
//! numbers.

/// The `p`th percentile (1–100) of `sorted` (ascending) by nearest rank: the smallest
/// value with at least `p`% of the values at or below it. p50 of [1, 2, 3, 4] is 2.
pub fn percentile(sorted: &[i64], p: usize) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    Some(sorted[rank - 1])
}

/// `part / whole`, or none when `whole` is 0.
pub fn ratio(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// The mean of `values`, or none when there are none.
pub fn mean(values: &[i64]) -> Option<f64> {
    let sum: i64 = values.iter().sum();
    ratio(sum.max(0) as u64, values.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_take_the_nearest_rank() {
        assert_eq!(percentile(&[], 50), None);
        assert_eq!(percentile(&[7], 50), Some(7));
        assert_eq!(percentile(&[7], 90), Some(7));
        assert_eq!(percentile(&[1, 2, 3, 4], 50), Some(2));
        assert_eq!(percentile(&[1, 2, 3, 4], 90), Some(4));
        let ten: Vec<i64> = (1..=10).collect();
        assert_eq!(percentile(&ten, 50), Some(5));
        assert_eq!(percentile(&ten, 90), Some(9));
        assert_eq!(percentile(&ten, 91), Some(10));
        assert_eq!(percentile(&ten, 100), Some(10));
    }

    #[test]
    fn ratios_and_means_are_none_without_data() {
        assert_eq!(ratio(1, 0), None);
        assert_eq!(ratio(3, 4), Some(0.75));
        assert_eq!(mean(&[]), None);
        assert_eq!(mean(&[5, 4]), Some(4.5));
    }
}
