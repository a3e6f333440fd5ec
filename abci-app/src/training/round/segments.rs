//! Sampled verification of a contribution: its segments between committed
//! checkpoints (cut by `um_formats::segments`, as the trainer cuts them),
//! and which of them a validator re-executes.
//!
//! With `checkpoint_interval` c > 0 and S = `local_steps`, a contribution
//! has N = ⌈S / c⌉ segments; segment j runs steps j·c up to min((j+1)·c, S)
//! from checkpoint j (checkpoint 0 is the base) to checkpoint j+1
//! (checkpoint N is the contribution's weights). A validator re-executes
//! `segments_per_validator` of them, drawn from
//! `sha256("um/segments" ‖ sample_seed ‖ validator)` where `sample_seed` is
//! the hash of the block that delivered the contribution (unknown to the
//! trainer when it committed) and `validator` the validator's consensus
//! address: validators check different segments, so together they cover
//! more than any one does.
//!
//! A contribution with one faked segment among N escapes V validators that
//! each check s of them with probability (1 − s/N)^V (each draws its own
//! sample); see README.

use sha2::{Digest, Sha256};

pub use um_formats::segments::{bounds, count};

/// The segments (ascending) a validator with consensus address `validator`
/// re-executes: `per_validator` of `segments` (all when 0 or at least
/// `segments`), by a partial Fisher–Yates shuffle whose words come from
/// `sha256("um/segments" ‖ seed ‖ validator ‖ block_be_u32)`, four
/// big-endian u64 per block.
pub fn sample(seed: &[u8], validator: &[u8], segments: u32, per_validator: u32) -> Vec<u32> {
    if per_validator == 0 || per_validator >= segments {
        return (0..segments).collect();
    }
    let mut order: Vec<u32> = (0..segments).collect();
    let mut words = Words::new(seed, validator);
    for i in 0..per_validator as usize {
        let left = (segments as usize - i) as u64;
        let j = i + (words.next() % left) as usize;
        order.swap(i, j);
    }
    let mut chosen = order[..per_validator as usize].to_vec();
    chosen.sort_unstable();
    chosen
}

struct Words<'a> {
    seed: &'a [u8],
    validator: &'a [u8],
    block: u32,
    buffer: [u64; 4],
    used: usize,
}

impl<'a> Words<'a> {
    fn new(seed: &'a [u8], validator: &'a [u8]) -> Self {
        Self {
            seed,
            validator,
            block: 0,
            buffer: [0; 4],
            used: 4,
        }
    }

    fn next(&mut self) -> u64 {
        if self.used == 4 {
            let digest = Sha256::new()
                .chain_update(b"um/segments")
                .chain_update(self.seed)
                .chain_update(self.validator)
                .chain_update(self.block.to_be_bytes())
                .finalize();
            for (word, chunk) in self.buffer.iter_mut().zip(digest.chunks_exact(8)) {
                let mut bytes = [0u8; 8];
                bytes.copy_from_slice(chunk);
                *word = u64::from_be_bytes(bytes);
            }
            self.block = self.block.wrapping_add(1);
            self.used = 0;
        }
        let word = self.buffer[self.used];
        self.used += 1;
        word
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_fixed_by_seed_and_validator_and_differ_between_validators() {
        let seed = [7u8; 32];
        let a = sample(&seed, &[1; 20], 8, 2);
        assert_eq!(a, sample(&seed, &[1; 20], 8, 2));
        assert_eq!(a.len(), 2);
        assert!(a.windows(2).all(|w| w[0] < w[1]) && a.iter().all(|s| *s < 8));
        // Over many validators every segment gets checked.
        let mut seen = std::collections::BTreeSet::new();
        for v in 0..32u8 {
            seen.extend(sample(&seed, &[v; 20], 8, 2));
        }
        assert_eq!(seen.len(), 8);
        assert_eq!(sample(&seed, &[1; 20], 8, 0), (0..8).collect::<Vec<_>>());
        assert_eq!(sample(&seed, &[1; 20], 8, 9), (0..8).collect::<Vec<_>>());
        // Pinned (computed independently with Python's hashlib): a change
        // of the rule changes every validator's sample.
        assert_eq!(sample(&[0; 32], &[0; 20], 10, 3), vec![2, 3, 9]);
        assert_eq!(a, vec![0, 1]);
    }
}
