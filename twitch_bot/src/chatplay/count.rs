//! Vote-count arithmetic that cannot wrap unnoticed in the tests.
//!
//! The project's tests run in release: `cargo test --release` builds this crate with the `release` profile,
//! like the shipped binary, and that profile has no overflow checks. A `-= 1` on a count already at 0
//! would then wrap to four billion without a word, and a test comparing tallies might even pass. So the
//! counts of a vote change only through [`Count`]: **checked** (a wrap panics, naming the count) when this
//! crate is compiled for its own tests (`cfg(test)`: the engine's unit and property tests) or with debug
//! assertions, and the **plain** operation otherwise, so the shipped binary pays no extra branch per
//! ballot.

/// A vote count (`u32` or `u64`) that is checked in test and debug builds (see the [module docs](self)).
pub(crate) trait Count: Copy {
    /// `self += n`.
    fn up(&mut self, n: Self, what: &'static str);
    /// `self -= n`.
    fn down(&mut self, n: Self, what: &'static str);
}

macro_rules! count {
    ($($t:ty),*) => {$(
        impl Count for $t {
            #[inline(always)]
            fn up(&mut self, n: $t, what: &'static str) {
                if cfg!(any(test, debug_assertions)) {
                    *self = self
                        .checked_add(n)
                        .unwrap_or_else(|| panic!("vote count overflow: {what} = {} + {n}", *self));
                } else {
                    *self = self.wrapping_add(n);
                }
            }

            #[inline(always)]
            fn down(&mut self, n: $t, what: &'static str) {
                if cfg!(any(test, debug_assertions)) {
                    *self = self
                        .checked_sub(n)
                        .unwrap_or_else(|| panic!("vote count underflow: {what} = {} - {n}", *self));
                } else {
                    *self = self.wrapping_sub(n);
                }
            }
        }
    )*};
}
count!(u32, u64);

#[cfg(test)]
mod tests {
    use super::Count;

    #[test]
    #[should_panic(expected = "vote count underflow: holders = 0 - 1")]
    fn an_underflow_is_caught_in_the_test_build() {
        let mut holders = std::hint::black_box(0u64);
        holders.down(1, "holders");
    }

    #[test]
    #[should_panic(expected = "vote count overflow: live = 4294967295 + 1")]
    fn an_overflow_is_caught_in_the_test_build() {
        let mut live = std::hint::black_box(u32::MAX);
        live.up(1, "live");
    }

    #[test]
    fn counts_count() {
        let mut c = 1u32;
        c.up(2, "c");
        c.down(3, "c");
        assert_eq!(c, 0);
    }
}
