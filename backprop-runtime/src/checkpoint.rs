//! The states a `#[checkpoint]` loop keeps.
//!
//! The forward pass of a checkpointed loop keeps the loop's state (the
//! variables it assigns, and the arrays it writes) at the start of every
//! `every`-th iteration, and nothing else. When the kept states reach the
//! loop's limit, every other one is dropped and `every` doubles, so a loop
//! whose length nobody knows in advance (`while`, `loop` with `break`) keeps at
//! most `limit` states, spaced evenly over the iterations it ran.
//!
//! The backward pass takes the stretches between kept states from the last to
//! the first: it runs each stretch's iterations again from its state, saving
//! what the reversed iterations read, then reverses them. So a loop of `n`
//! iterations holds at most `limit` states and one stretch of at most
//! `2 n / limit` iterations' saved values, where an unmarked loop holds `n`
//! iterations' values; and its gradient runs the loop's forward iterations
//! once more.

use core::ops::Range;

/// The states a checkpointed loop kept, one every `every` iterations from the
/// first.
#[derive(Clone, Debug)]
pub struct Checkpoints<S> {
    /// The state at the start of iteration `k * every`, for each `k`.
    states: Vec<S>,
    every: usize,
}

impl<S> Default for Checkpoints<S> {
    fn default() -> Self {
        Checkpoints {
            states: Vec::new(),
            every: 1,
        }
    }
}

impl<S> Checkpoints<S> {
    /// Forgets every state, keeping the memory for the next forward pass.
    pub fn clear(&mut self) {
        self.states.clear();
        self.every = 1;
    }

    /// Whether to keep the state at the start of iteration `trip` (iterations
    /// are asked in order, from 0), keeping at most `limit` states (at least
    /// 2): when the states are that many, every other one is dropped first.
    #[inline]
    pub fn wants(&mut self, trip: usize, limit: usize) -> bool {
        if trip % self.every != 0 {
            return false;
        }
        if self.states.len() >= limit.max(2) {
            self.thin();
            if trip % self.every != 0 {
                return false;
            }
        }
        debug_assert_eq!(trip, self.states.len() * self.every);
        true
    }

    /// Keeps the state `wants` asked for.
    #[inline]
    pub fn keep(&mut self, state: S) {
        self.states.push(state);
    }

    /// Drops every other state (the first stays), doubling the spacing.
    fn thin(&mut self) {
        let mut position = 0;
        self.states.retain(|_| {
            position += 1;
            position % 2 == 1
        });
        self.every *= 2;
    }

    /// The stretches of a loop that ran `trips` iterations, last first: the
    /// iterations each covers and the state at its start.
    pub fn stretches(&self, trips: usize) -> impl Iterator<Item = (Range<usize>, &S)> + '_ {
        let every = self.every;
        self.states
            .iter()
            .enumerate()
            .rev()
            .map(move |(k, state)| (k * every..((k + 1) * every).min(trips), state))
            .filter(|(stretch, _)| !stretch.is_empty())
    }

    /// How many states are kept.
    #[must_use]
    pub fn len(&self) -> usize {
        self.states.len()
    }

    /// Whether no state is kept (the loop did not run).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.states.is_empty()
    }

    /// Iterations between two kept states.
    #[must_use]
    pub fn every(&self) -> usize {
        self.every
    }

    /// The heap memory held, in bytes (by capacity), with `state_heap`
    /// measuring what each state holds on the heap itself (its arrays).
    pub fn heap_bytes_with(&self, state_heap: impl Fn(&S) -> usize) -> usize {
        self.states.capacity() * core::mem::size_of::<S>()
            + self.states.iter().map(state_heap).sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::Checkpoints;

    /// Runs `trips` iterations of a loop whose state is its iteration count.
    fn kept(trips: usize, limit: usize) -> Checkpoints<usize> {
        let mut states = Checkpoints::default();
        for trip in 0..trips {
            if states.wants(trip, limit) {
                states.keep(trip);
            }
        }
        states
    }

    #[test]
    fn states_stay_under_the_limit_and_cover_every_iteration_once() {
        for limit in [2, 3, 4, 7, 64] {
            for trips in [0, 1, 2, 5, 63, 64, 65, 1000, 4097] {
                let states = kept(trips, limit);
                assert!(states.len() <= limit, "{trips} trips, limit {limit}");
                let mut covered = Vec::new();
                for (stretch, &start) in states.stretches(trips) {
                    // Each state is the loop's at the start of its stretch.
                    assert_eq!(stretch.start, start);
                    assert!(stretch.len() <= states.every());
                    covered.extend(stretch.rev());
                }
                covered.reverse();
                assert_eq!(covered, (0..trips).collect::<Vec<_>>());
            }
        }
    }

    #[test]
    fn stretches_are_at_most_twice_the_even_share() {
        let (trips, limit) = (1_000_000, 1024);
        let states = kept(trips, limit);
        assert!(states.every() * limit <= 2 * trips);
        assert!(states.len() > limit / 2);
    }

    #[test]
    fn clearing_starts_again_from_one() {
        let mut states = kept(100, 4);
        assert!(states.every() > 1);
        states.clear();
        assert!(states.is_empty());
        assert_eq!(states.every(), 1);
        assert_eq!(
            states.heap_bytes_with(|_| 0) % core::mem::size_of::<usize>(),
            0
        );
    }
}
