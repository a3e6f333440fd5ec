//! A test-only fault hook: `UMD_CRASH_AT=<point>:<n>` makes umd SIGKILL
//! itself the n-th time (counted from process start) it reaches `point`, as
//! an operator's `kill -9` or a power cut would at exactly that moment.
//! `make reliability` and `abci-app/tests/reliability_e2e.rs` use it to
//! crash validators inside FinalizeBlock, around Commit's write and while
//! a verification answer arrives; the test picks the point and n from its
//! seed, so nothing here is random. Unset (always, outside those tests) it
//! costs one atomic load per point. An unparsable value is reported once on
//! stderr and ignored.
//!
//! Compiled in only with the `test-hooks` cargo feature, which `make test`
//! and `make reliability` enable; `make build`, `make demo` and release
//! builds leave it out.
//!
//! Points: `finalize_block` (after the block's txs ran, before the
//! response), `commit_before_write`, `commit_after_write` (the block is on
//! disk, CometBFT has not heard back), `verify` (the verifier answered, its
//! finding not yet kept).

use std::sync::atomic::AtomicU64;
#[cfg(feature = "test-hooks")]
use std::sync::atomic::Ordering;
use std::sync::OnceLock;

pub const POINTS: [&str; 4] = [
    "finalize_block",
    "commit_before_write",
    "commit_after_write",
    "verify",
];

#[cfg_attr(not(feature = "test-hooks"), allow(dead_code))]
struct Plan {
    point: String,
    nth: u64,
    seen: AtomicU64,
}

#[cfg_attr(not(feature = "test-hooks"), allow(dead_code))]
fn plan() -> Option<&'static Plan> {
    static PLAN: OnceLock<Option<Plan>> = OnceLock::new();
    PLAN.get_or_init(|| {
        let value = std::env::var("UMD_CRASH_AT").ok()?;
        match parse(&value) {
            Ok((point, nth)) => Some(Plan {
                point,
                nth,
                seen: AtomicU64::new(0),
            }),
            Err(why) => {
                eprintln!("umd: ignoring UMD_CRASH_AT={value:?}: {why}");
                None
            }
        }
    })
    .as_ref()
}

#[cfg_attr(not(feature = "test-hooks"), allow(dead_code))]
fn parse(value: &str) -> Result<(String, u64), String> {
    let (point, nth) = value
        .split_once(':')
        .ok_or("expected <point>:<n>, e.g. commit_after_write:3")?;
    if !POINTS.contains(&point) {
        return Err(format!("unknown point {point:?}; one of {POINTS:?}"));
    }
    let nth: u64 = nth.parse().map_err(|_| format!("{nth:?} is not a count"))?;
    if nth == 0 {
        return Err("n counts from 1".into());
    }
    Ok((point.to_string(), nth))
}

/// Marks that umd reached `point`. Without the `test-hooks` feature (a
/// shipped binary) this is nothing: no environment variable can make a
/// validator kill itself.
#[cfg(not(feature = "test-hooks"))]
#[inline(always)]
pub fn point(_name: &str) {}

/// Marks that umd reached `point`; dies there when `UMD_CRASH_AT` says so.
#[cfg(feature = "test-hooks")]
pub fn point(name: &str) {
    let Some(plan) = plan() else { return };
    if plan.point != name {
        return;
    }
    if plan.seen.fetch_add(1, Ordering::SeqCst) + 1 == plan.nth {
        eprintln!("umd: UMD_CRASH_AT={name}:{}: SIGKILL now", plan.nth);
        // SIGKILL, not abort or exit: no destructor, flush or handler runs.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_points_and_counts_and_refuses_the_rest() {
        assert_eq!(
            parse("commit_after_write:3"),
            Ok(("commit_after_write".into(), 3))
        );
        assert_eq!(parse("verify:1"), Ok(("verify".into(), 1)));
        assert!(parse("commit").is_err());
        assert!(parse("commit:1").unwrap_err().contains("unknown point"));
        assert!(parse("verify:0").is_err());
        assert!(parse("verify:x").is_err());
    }
}
