//! The segments of a round's contribution, which the chain (its requests
//! and delivery checks) and the trainer (checkpoints and re-execution) must
//! cut alike.
//!
//! With `checkpoint_interval` c > 0 and S = `local_steps`, a contribution
//! has N = ⌈S / c⌉ segments; segment j runs steps j·c up to
//! min((j+1)·c, S). Without checkpoints (c = 0, or c ≥ S) it is one
//! segment, the whole step.

/// Segments of a contribution of `local_steps` steps with checkpoints every
/// `interval` steps.
pub fn count(local_steps: u32, interval: u32) -> u32 {
    if interval == 0 || interval >= local_steps {
        1
    } else {
        local_steps.div_ceil(interval)
    }
}

/// `(first_step, steps)` of segment `index`; the whole step when there is
/// one segment. An index past the last gives 0 steps.
pub fn bounds(local_steps: u32, interval: u32, index: u32) -> (u32, u32) {
    if count(local_steps, interval) == 1 {
        return (0, local_steps);
    }
    let first = index.saturating_mul(interval);
    (first, interval.min(local_steps.saturating_sub(first)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_cover_the_steps_once() {
        assert_eq!(count(40, 0), 1);
        assert_eq!(count(40, 40), 1);
        assert_eq!(count(40, 10), 4);
        assert_eq!(count(40, 15), 3);
        let covered: Vec<(u32, u32)> = (0..3).map(|j| bounds(40, 15, j)).collect();
        assert_eq!(covered, vec![(0, 15), (15, 15), (30, 10)]);
        assert_eq!(bounds(40, 0, 0), (0, 40));
        assert_eq!(bounds(40, 15, 3), (45, 0));
    }
}
