//! Distinct shoppers counted in bounded memory: exact while few, then a HyperLogLog
//! sketch.
//!
//! Analytics counts distinct shoppers per query and day and per variant and day. A
//! large store sees millions of shoppers a day, and an exact set costs 10–20 bytes per
//! shopper for every tally they appear in, for every day in the retention window. A
//! [`DistinctShoppers`] keeps the exact set up to [`EXACT_LIMIT`] shoppers (most
//! tallies: the long tail of queries), so small counts are exact; past that it turns
//! into a HyperLogLog of 2^[`PRECISION`] one-byte registers (2 KiB, standard error
//! about 2.3 %), whatever the number of shoppers. Tallies merge (a window of days)
//! by union, exactly while both sides are exact.
//!
//! In: shopper hashes (`super::shopper_hash`). Out: [`DistinctShoppers::len`].

use std::collections::HashSet;

/// Shoppers counted exactly before the count turns into a sketch.
pub const EXACT_LIMIT: usize = 256;
/// Bits of the hash that pick a register: 2^11 = 2,048 registers.
pub const PRECISION: u32 = 11;
const REGISTERS: usize = 1 << PRECISION;

/// A count of distinct shoppers; see the module documentation.
#[derive(Debug, Clone)]
pub enum DistinctShoppers {
    Exact(HashSet<u64>),
    Sketch(Box<[u8; REGISTERS]>),
}

impl Default for DistinctShoppers {
    fn default() -> Self {
        DistinctShoppers::Exact(HashSet::new())
    }
}

impl DistinctShoppers {
    /// Counts `shopper` (a hash of its id) once.
    pub fn insert(&mut self, shopper: u64) {
        match self {
            DistinctShoppers::Exact(set) => {
                set.insert(shopper);
                if set.len() > EXACT_LIMIT {
                    *self = DistinctShoppers::Sketch(sketch_of(set));
                }
            }
            DistinctShoppers::Sketch(registers) => observe(registers, shopper),
        }
    }

    /// Adds every shopper `other` counted (a union).
    pub fn merge(&mut self, other: &DistinctShoppers) {
        match other {
            DistinctShoppers::Exact(set) => {
                for s in set {
                    self.insert(*s);
                }
            }
            DistinctShoppers::Sketch(theirs) => {
                if let DistinctShoppers::Exact(set) = self {
                    *self = DistinctShoppers::Sketch(sketch_of(set));
                }
                if let DistinctShoppers::Sketch(mine) = self {
                    for (m, t) in mine.iter_mut().zip(theirs.iter()) {
                        *m = (*m).max(*t);
                    }
                }
            }
        }
    }

    /// How many distinct shoppers: exact up to [`EXACT_LIMIT`], estimated beyond.
    pub fn len(&self) -> usize {
        match self {
            DistinctShoppers::Exact(set) => set.len(),
            DistinctShoppers::Sketch(registers) => estimate(registers).max(EXACT_LIMIT + 1),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A 64-bit mix of the shopper hash (splitmix64's finalizer), so that every bit of
/// the register index and of the rank is well spread.
fn mix(mut h: u64) -> u64 {
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// The sketch of an exact set.
fn sketch_of(set: &HashSet<u64>) -> Box<[u8; REGISTERS]> {
    let mut registers = Box::new([0u8; REGISTERS]);
    for s in set {
        observe(&mut registers, *s);
    }
    registers
}

fn observe(registers: &mut [u8; REGISTERS], shopper: u64) {
    let h = mix(shopper);
    let index = (h >> (64 - PRECISION)) as usize;
    // The rank of the first 1 in the remaining bits (a sentinel bit bounds it).
    let rest = (h << PRECISION) | (1 << (PRECISION - 1));
    let rank = rest.leading_zeros() as u8 + 1;
    registers[index] = registers[index].max(rank);
}

/// The HyperLogLog estimate, with linear counting while registers are still empty.
fn estimate(registers: &[u8; REGISTERS]) -> usize {
    let m = REGISTERS as f64;
    let alpha = 0.7213 / (1.0 + 1.079 / m);
    let sum: f64 = registers.iter().map(|r| (-(f64::from(*r))).exp2()).sum();
    let raw = alpha * m * m / sum;
    let zeros = registers.iter().filter(|r| **r == 0).count();
    let value = if raw <= 2.5 * m && zeros > 0 {
        m * (m / zeros as f64).ln()
    } else {
        raw
    };
    value.round() as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counted(range: std::ops::Range<u64>) -> DistinctShoppers {
        let mut d = DistinctShoppers::default();
        for s in range {
            d.insert(crate::crowd::shopper_hash(&format!("shopper-{s}")));
        }
        d
    }

    #[test]
    fn small_counts_are_exact_and_repeats_count_once() {
        let mut d = counted(0..EXACT_LIMIT as u64);
        assert!(matches!(d, DistinctShoppers::Exact(_)));
        assert_eq!(d.len(), EXACT_LIMIT);
        for s in 0..EXACT_LIMIT as u64 {
            d.insert(crate::crowd::shopper_hash(&format!("shopper-{s}")));
        }
        assert_eq!(d.len(), EXACT_LIMIT);
        assert!(DistinctShoppers::default().is_empty());
    }

    #[test]
    fn large_counts_are_estimated_within_a_few_percent_in_fixed_memory() {
        for n in [300u64, 1_000, 10_000, 200_000] {
            let d = counted(0..n);
            assert!(matches!(d, DistinctShoppers::Sketch(_)), "{n}");
            let error = (d.len() as f64 - n as f64).abs() / n as f64;
            assert!(error < 0.07, "{n}: estimated {} ({error:.3})", d.len());
        }
        // Repeats do not move a sketch either.
        let mut d = counted(0..5_000);
        let before = d.len();
        for s in 0..5_000u64 {
            d.insert(crate::crowd::shopper_hash(&format!("shopper-{s}")));
        }
        assert_eq!(d.len(), before);
    }

    #[test]
    fn merging_counts_the_union() {
        // Exact with exact, staying small: exact.
        let mut a = counted(0..100);
        a.merge(&counted(50..150));
        assert_eq!(a.len(), 150);
        // Exact with a sketch, and sketches together: about the union.
        let mut b = counted(0..100);
        b.merge(&counted(0..20_000));
        b.merge(&counted(10_000..40_000));
        let error = (b.len() as f64 - 40_000.0).abs() / 40_000.0;
        assert!(error < 0.07, "estimated {}", b.len());
    }
}
