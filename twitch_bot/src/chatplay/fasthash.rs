//! A fast, per-process-seeded hasher for the ballot hot path.
//!
//! The keys hashed on the hot path are Twitch-assigned (numeric user ids, UUID message ids), not
//! chosen by chatters, so SipHash's protection against crafted collisions buys little there while
//! costing a large share of the time per ballot. This hasher folds 8 bytes at a time with a
//! multiply and finishes with a full avalanche (MurmurHash3's `fmix64`), so hashbrown's use of
//! the top bits stays well distributed. Each map gets a random seed.

use std::hash::{BuildHasher, Hasher};

const K: u64 = 0x9E37_79B9_7F4A_7C15;

/// Builds [`FastHasher`]s with one random seed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FastState {
    seed: u64,
}

impl Default for FastState {
    fn default() -> Self {
        Self {
            seed: rand::random(),
        }
    }
}

impl BuildHasher for FastState {
    type Hasher = FastHasher;

    fn build_hasher(&self) -> FastHasher {
        FastHasher { hash: self.seed }
    }
}

/// See the [module docs](self).
#[derive(Debug, Clone, Copy)]
pub(crate) struct FastHasher {
    hash: u64,
}

impl FastHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash ^ word).wrapping_mul(K).rotate_left(29);
    }
}

impl Hasher for FastHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word) ^ ((rest.len() as u64) << 59));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    #[inline]
    fn write_u128(&mut self, i: u128) {
        self.add(i as u64);
        self.add((i >> 64) as u64);
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        let mut h = self.hash;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn distinct_keys_spread_over_the_top_bits() {
        let state = FastState::default();
        let top: HashSet<u64> = (0..4096u64)
            .map(|i| state.hash_one((100_000_000 + i).to_string()) >> 57)
            .collect();
        assert_eq!(top.len(), 128, "all 7-bit tags used");
        assert_ne!(state.hash_one("ab"), state.hash_one("ab\0"));
    }
}
