//! Medians and spreads of repeated measurements.

use std::fmt;
use std::time::Duration;

/// Repeated measurements of one quantity.
#[derive(Debug, Clone, Default)]
pub struct Samples(Vec<f64>);

impl Samples {
    pub fn push(&mut self, value: f64) {
        self.0.push(value);
    }

    pub fn push_duration(&mut self, value: Duration) {
        self.push(value.as_secs_f64() * 1000.0);
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    fn sorted(&self) -> Vec<f64> {
        let mut sorted = self.0.clone();
        sorted.sort_by(f64::total_cmp);
        sorted
    }

    /// The median (the mean of the two middle values for an even count); NaN when empty.
    pub fn median(&self) -> f64 {
        let sorted = self.sorted();
        let n = sorted.len();
        match n {
            0 => f64::NAN,
            _ if n % 2 == 1 => sorted[n / 2],
            _ => f64::midpoint(sorted[n / 2 - 1], sorted[n / 2]),
        }
    }

    pub fn min(&self) -> f64 {
        self.sorted().first().copied().unwrap_or(f64::NAN)
    }

    pub fn max(&self) -> f64 {
        self.sorted().last().copied().unwrap_or(f64::NAN)
    }

    /// The `percent` percentile by nearest rank (the smallest value with at
    /// least `percent`% of the samples at or below it); NaN when empty.
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss,
        reason = "counts far below 2^52, and a rank from 1 to len"
    )]
    pub fn percentile(&self, percent: f64) -> f64 {
        let sorted = self.sorted();
        if sorted.is_empty() {
            return f64::NAN;
        }
        let rank = (percent / 100.0 * sorted.len() as f64).ceil().max(1.0) as usize;
        sorted[rank.min(sorted.len()) - 1]
    }
}

/// `median (min–max, n=N)` with `digits` decimals.
#[derive(Debug)]
pub struct Spread<'a>(pub &'a Samples, pub usize);

impl fmt::Display for Spread<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self(samples, digits) = *self;
        write!(
            f,
            "{:.digits$} ({:.digits$}–{:.digits$}, n={})",
            samples.median(),
            samples.min(),
            samples.max(),
            samples.len()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples(values: &[f64]) -> Samples {
        let mut samples = Samples::default();
        for value in values {
            samples.push(*value);
        }
        samples
    }

    #[test]
    fn median_of_odd_count_is_the_middle_value() {
        assert!((samples(&[5.0, 1.0, 3.0]).median() - 3.0).abs() < f64::EPSILON);
    }

    #[test]
    fn median_of_even_count_is_the_mean_of_the_middle_two() {
        assert!((samples(&[4.0, 1.0, 3.0, 2.0]).median() - 2.5).abs() < f64::EPSILON);
    }

    #[test]
    fn p99_of_a_hundred_is_the_99th_and_of_fewer_the_largest() {
        let hundred = samples(&(1..=100).map(f64::from).collect::<Vec<_>>());
        assert!((hundred.percentile(99.0) - 99.0).abs() < f64::EPSILON);
        assert!((samples(&[3.0, 1.0, 2.0]).percentile(99.0) - 3.0).abs() < f64::EPSILON);
        assert!(Samples::default().percentile(99.0).is_nan());
    }

    #[test]
    fn median_of_nothing_is_nan() {
        assert!(Samples::default().median().is_nan());
    }
}
