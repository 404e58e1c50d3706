//! What a `#[checkpoint]` loop keeps, and the order its backward pass runs in.
//!
//! The forward pass of a checkpointed loop keeps the loop's state (the
//! variables it assigns, and the arrays it writes) at the start of every
//! `every`-th iteration, and nothing else ([`Checkpoints`]). When the kept
//! states reach the loop's limit, every other one is dropped and `every`
//! doubles, so a loop whose length nobody knows in advance (`while`, `loop`
//! with `break`) keeps at most `limit` states, spaced evenly over the
//! iterations it ran.
//!
//! The backward pass takes the stretches between kept states from the last
//! to the first, and reverses each from its state in the order [`Reversal`]
//! plans: Griewank's binomial schedule, with at most `limit` more states. A
//! short stretch is run once more, saving what its reverse reads, then
//! reversed; a long one is advanced to split points, its states there kept,
//! and reversed part by part. So a loop of `n` iterations holds at most
//! `2 limit + 1` states and `limit + 1` iterations' saved values, where an
//! unmarked loop holds `n` iterations' values; its iterations run once more
//! while `n <= limit^2 / 2`, and a few times more beyond.

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

/// One step of reversing a stretch of a checkpointed loop, in the order
/// [`Reversal`] gives them. The loop's *current state* is the variables the
/// generated code holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Keep the current state on top of the kept states.
    Keep,
    /// Drop the top kept state.
    Drop,
    /// Make the top kept state the current state.
    Restore,
    /// Run iterations `from..to` from the current state, saving nothing.
    Advance(usize, usize),
    /// Run iterations `from..to` from the current state saving what their
    /// reverse reads, then reverse them.
    Reverse(usize, usize),
}

/// The order in which the backward pass reverses one stretch of a
/// checkpointed loop with at most `slots` states kept at once besides the
/// stretch's own: Griewank's binomial schedule (the one of Revolve, ACM TOMS
/// algorithm 799). A stretch of at most `slots + 1` iterations is run once,
/// saving, and reversed whole. A longer one is split where the binomial
/// numbers say: the iterations are advanced to the split without saving, the
/// state there is kept, the part after it is reversed the same way with one
/// slot fewer, then the part before it from the state restored. With `s`
/// slots and `r` repetitions `C(s + r, s)` iterations are reversed, each run
/// at most `r` times more, holding `s` states and one iteration's values.
#[derive(Clone, Debug)]
pub struct Reversal<S> {
    /// The steps still to take, as the parts of the stretch still to
    /// reverse: a stack, the next part last (at most `slots + r` deep).
    parts: Vec<Part>,
    /// Steps decided and not yet taken, the next one last.
    pending: Vec<Action>,
    kept: Vec<S>,
}

/// A part of the stretch still to reverse.
#[derive(Clone, Copy, Debug)]
enum Part {
    /// `from..to`, from the current state (at `from`, and kept on top),
    /// with `slots` more states to keep.
    Split {
        from: usize,
        to: usize,
        slots: usize,
    },
    /// After `split..` is reversed: drop its state, restore `from`'s, and
    /// reverse `from..split`.
    Before {
        from: usize,
        split: usize,
        slots: usize,
    },
    /// No state left to keep: iteration `next`, then the ones before it down
    /// to `from`, each advanced to from the state kept at `from`.
    OneByOne {
        from: usize,
        next: usize,
        restore: bool,
    },
}

impl<S> Default for Reversal<S> {
    fn default() -> Self {
        Reversal {
            parts: Vec::new(),
            pending: Vec::new(),
            kept: Vec::new(),
        }
    }
}

impl<S> Reversal<S> {
    /// Plans the reversal of `stretch` from its first state, the current
    /// one, with at most `slots` more states kept besides it.
    pub fn plan(&mut self, stretch: Range<usize>, slots: usize) {
        self.parts.clear();
        self.pending.clear();
        self.kept.clear();
        if stretch.is_empty() {
            return;
        }
        let slots = slots.max(1);
        if stretch.len() <= slots + 1 {
            self.pending
                .push(Action::Reverse(stretch.start, stretch.end));
            return;
        }
        self.parts.push(Part::Split {
            from: stretch.start,
            to: stretch.end,
            slots,
        });
        self.pending.push(Action::Keep);
    }

    /// The next step, or `None` when the stretch is reversed.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Option<Action> {
        loop {
            if let Some(action) = self.pending.pop() {
                return Some(action);
            }
            match self.parts.pop()? {
                Part::Split { from, to, .. } if to - from == 1 => {
                    return Some(Action::Reverse(from, to));
                }
                Part::Split { from, to, slots: 0 } => self.parts.push(Part::OneByOne {
                    from,
                    next: to - 1,
                    restore: false,
                }),
                Part::Split { from, to, slots } => {
                    // With `slots` states and `r` repetitions, C(slots + r,
                    // slots) iterations: the part before the split with one
                    // repetition fewer, the part after with one state fewer.
                    let len = (to - from) as u128;
                    let mut repeats = 1;
                    while binomial(slots, repeats) < len {
                        repeats += 1;
                    }
                    let before = binomial(slots, repeats - 1).min(len - 1) as usize;
                    let split = from + before;
                    self.parts.push(Part::Before { from, split, slots });
                    self.parts.push(Part::Split {
                        from: split,
                        to,
                        slots: slots - 1,
                    });
                    self.pending.push(Action::Keep);
                    return Some(Action::Advance(from, split));
                }
                Part::Before { from, split, slots } => {
                    self.parts.push(Part::Split {
                        from,
                        to: split,
                        slots,
                    });
                    self.pending.push(Action::Restore);
                    return Some(Action::Drop);
                }
                Part::OneByOne {
                    from,
                    next,
                    restore,
                } => {
                    if next > from {
                        self.parts.push(Part::OneByOne {
                            from,
                            next: next - 1,
                            restore: true,
                        });
                    }
                    self.pending.push(Action::Reverse(next, next + 1));
                    if next > from {
                        self.pending.push(Action::Advance(from, next));
                    }
                    if restore {
                        self.pending.push(Action::Restore);
                    }
                }
            }
        }
    }

    /// For [`Action::Keep`].
    pub fn keep(&mut self, state: S) {
        self.kept.push(state);
    }

    /// For [`Action::Drop`].
    pub fn drop_top(&mut self) {
        self.kept.pop();
    }

    /// For [`Action::Restore`]: the state to make current.
    ///
    /// # Panics
    /// If no state is kept (the plan always keeps one first).
    #[must_use]
    pub fn top(&self) -> &S {
        self.kept
            .last()
            .expect("the plan keeps a state before restoring one")
    }

    /// The heap memory held, in bytes (by capacity), with `state_heap`
    /// measuring what each kept state holds on the heap itself.
    pub fn heap_bytes_with(&self, state_heap: impl Fn(&S) -> usize) -> usize {
        self.kept.capacity() * core::mem::size_of::<S>()
            + self.kept.iter().map(state_heap).sum::<usize>()
            + self.parts.capacity() * core::mem::size_of::<Part>()
            + self.pending.capacity() * core::mem::size_of::<Action>()
    }
}

/// `C(slots + repeats, slots)`, saturating.
fn binomial(slots: usize, repeats: usize) -> u128 {
    let (n, k) = ((slots + repeats) as u128, repeats.min(slots) as u128);
    let mut value: u128 = 1;
    for i in 0..k {
        value = value.saturating_mul(n - i) / (i + 1);
        if value > u128::from(u64::MAX) {
            return u128::MAX;
        }
    }
    value
}

#[cfg(test)]
mod tests {
    use super::{Action, Checkpoints, Reversal};

    /// Runs a plan on a loop whose state is its iteration number: every
    /// iteration reversed once, last first, each from its own state, never
    /// more than `slots + 1` states kept. Returns how many iterations ran.
    fn run(len: usize, slots: usize) -> usize {
        let mut plan = Reversal::default();
        plan.plan(10..10 + len, slots);
        let mut current = 10;
        let mut reversed = Vec::new();
        let (mut most, mut ran) = (0, 0);
        while let Some(action) = plan.next() {
            match action {
                Action::Keep => plan.keep(current),
                Action::Drop => plan.drop_top(),
                Action::Restore => current = *plan.top(),
                Action::Advance(from, to) => {
                    assert_eq!(current, from);
                    ran += to - from;
                    current = to;
                }
                Action::Reverse(from, to) => {
                    assert_eq!(current, from);
                    assert!(to - from == 1 || to - from <= slots + 1);
                    ran += to - from;
                    current = to;
                    reversed.extend((from..to).rev());
                }
            }
            most = most.max(plan.kept.len());
        }
        assert_eq!(reversed, (10..10 + len).rev().collect::<Vec<_>>());
        assert!(most <= slots + 1, "{most} states kept with {slots} slots");
        ran
    }

    #[test]
    fn binomial_reversal_reverses_every_iteration_in_bounded_memory() {
        for slots in [1, 2, 3, 5, 16] {
            for len in [0, 1, 2, 3, 7, 40, 333] {
                run(len, slots);
            }
        }
    }

    #[test]
    fn repetitions_grow_slowly() {
        // 2000 iterations, 64 states: C(66, 2) = 2145 >= 2000, so each
        // iteration runs at most twice more than the reverse's own run.
        let ran = run(2000, 64);
        assert!(ran <= 3 * 2000, "{ran}");
        // 1953 iterations, 1024 states (a stretch of a million steps with
        // the default): C(1026, 2) >= 1953.
        let ran = run(1953, 1024);
        assert!(ran <= 3 * 1953, "{ran}");
        // Short stretches run once.
        assert_eq!(run(65, 64), 65);
    }

    #[test]
    fn planning_holds_little_memory() {
        let mut plan: Reversal<f64> = Reversal::default();
        plan.plan(0..100_000, 64);
        let mut steps = 0;
        while plan.next().is_some() {
            steps += 1;
            assert!(plan.parts.len() <= 64 + 8 && plan.pending.len() <= 3);
        }
        assert!(steps >= 100_000);
    }

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
