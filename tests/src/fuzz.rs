//! Mutation fuzzing on the stable toolchain (the `fuzz` binary's engine): inputs are
//! well-formed seeds mutated a few times each (bits flipped, bytes set, inserted,
//! deleted, repeated, spliced from another seed, cut short) by a seeded generator, so
//! a campaign is reproducible from its seed; each input goes through the target
//! inside `catch_unwind`, and a panic is kept with its input.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use rand::{Rng, RngCore, SeedableRng};

/// What a target did with one input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Taken as valid input.
    Accepted,
    /// Refused with an error, as it should be.
    Refused,
}

/// One target's campaign, counted.
#[derive(Debug, Default)]
pub struct Campaign {
    pub iterations: u64,
    pub accepted: u64,
    pub refused: u64,
    /// Inputs that made the target panic (hex).
    pub panics: Vec<String>,
    pub took: Duration,
}

impl std::fmt::Display for Campaign {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} iterations in {:.1} s: {} accepted, {} refused, {} panics",
            self.iterations,
            self.took.as_secs_f64(),
            self.accepted,
            self.refused,
            self.panics.len()
        )
    }
}

/// Runs `target` on `iterations` mutations of `seeds`.
pub fn campaign(
    seeds: &[Vec<u8>],
    (iterations, seed): (u64, u64),
    target: impl Fn(&[u8]) -> Verdict,
) -> Campaign {
    assert!(!seeds.is_empty(), "a campaign needs seeds");
    // A panic is counted and its input kept; the hook's message would only be noise.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let started = Instant::now();
    let mut done = Campaign::default();
    for _ in 0..iterations {
        let input = mutate(seeds, &mut rng);
        match catch_unwind(AssertUnwindSafe(|| target(&input))) {
            Ok(Verdict::Accepted) => done.accepted += 1,
            Ok(Verdict::Refused) => done.refused += 1,
            Err(_) => done
                .panics
                .push(input.iter().map(|b| format!("{b:02x}")).collect()),
        }
        done.iterations += 1;
    }
    done.took = started.elapsed();
    std::panic::set_hook(hook);
    done
}

/// One to four mutations of one of the seeds.
pub fn mutate(seeds: &[Vec<u8>], rng: &mut impl RngCore) -> Vec<u8> {
    let mut input = seeds[rng.random_range(0..seeds.len())].clone();
    for _ in 0..rng.random_range(1..=4) {
        let len = input.len();
        match rng.random_range(0..7) {
            0 if len > 0 => {
                let at = rng.random_range(0..len);
                input[at] ^= 1 << rng.random_range(0..8);
            }
            1 if len > 0 => {
                let at = rng.random_range(0..len);
                input[at] = rng.random();
            }
            2 => {
                let at = rng.random_range(0..=len);
                let bytes: Vec<u8> = (0..rng.random_range(1..8)).map(|_| rng.random()).collect();
                input.splice(at..at, bytes);
            }
            3 if len > 0 => {
                let from = rng.random_range(0..len);
                let to = (from + rng.random_range(1..16)).min(len);
                input.drain(from..to);
            }
            4 if len > 0 => {
                let from = rng.random_range(0..len);
                let to = (from + rng.random_range(1..64)).min(len);
                let chunk = input[from..to].to_vec();
                let at = rng.random_range(0..=input.len());
                input.splice(at..at, chunk);
            }
            5 => {
                let other = &seeds[rng.random_range(0..seeds.len())];
                if !other.is_empty() {
                    let from = rng.random_range(0..other.len());
                    let at = rng.random_range(0..=len);
                    input.splice(at..at, other[from..].iter().copied());
                }
            }
            _ if len > 1 => input.truncate(rng.random_range(1..len)),
            _ => {}
        }
    }
    input
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Refuses what does not start as the seed does, and panics on odd lengths (the
    /// target's own bug): the campaign catches each panic and keeps its input.
    fn target(input: &[u8]) -> Verdict {
        assert!(input.len().is_multiple_of(2), "odd length");
        if input.starts_with(b"se") {
            Verdict::Accepted
        } else {
            Verdict::Refused
        }
    }

    #[test]
    fn panics_are_caught_with_their_input_and_campaigns_repeat() {
        let seeds = vec![b"seed".to_vec(), b"another".to_vec()];
        let done = campaign(&seeds, (500, 1), target);
        assert_eq!(done.iterations, 500);
        assert_eq!(done.accepted + done.refused + done.panics.len() as u64, 500);
        assert!(
            done.accepted > 0 && done.refused > 0 && !done.panics.is_empty(),
            "{done}"
        );
        assert!(done.panics.iter().all(|hex| (hex.len() / 2) % 2 == 1));
        let again = campaign(&seeds, (500, 1), target);
        assert_eq!(
            (again.accepted, again.refused),
            (done.accepted, done.refused)
        );
        assert_eq!(again.panics, done.panics);
    }
}
