//! The two-process determinism check: `umd replay` applies a running chain's
//! blocks from genesis in two separate processes at once (other hash-map
//! seeds, allocations and thread timing), and every height must give the
//! same app hash in both and as the chain itself.

use std::process::{Command, Stdio};

use super::{umd_binary, TestNode};

/// Replays `node`'s chain up to the height before its latest twice, side by side, and
/// returns the number of heights compared. Panics naming the first height
/// where a replay differs from the other or from the chain.
pub fn assert_replays_agree(node: &TestNode) -> usize {
    // One below the tip, so that the next header (the chain's hash of `to`)
    // exists for both replays: the one started later could otherwise see
    // a newer tip and print the chain's hash where the other printed none.
    let to = node
        .rpc
        .latest_height()
        .expect("node height")
        .saturating_sub(1);
    let spawn = || {
        Command::new(umd_binary())
            .arg("replay")
            .arg("--genesis")
            .arg(node.home.join("config/genesis.json"))
            .arg("--node")
            .arg(node.rpc.url())
            .arg("--to")
            .arg(to.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("umd replay runs")
    };
    let replays = [spawn(), spawn()];
    let outputs: Vec<_> = replays
        .into_iter()
        .map(|child| child.wait_with_output().expect("umd replay ends"))
        .collect();
    let lines: Vec<Vec<String>> = outputs
        .iter()
        .map(|out| {
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .map(str::to_string)
                .collect()
        })
        .collect();
    for (a, b) in lines[0].iter().zip(&lines[1]) {
        assert_eq!(a, b, "the two replays differ (height, hash, chain's hash)");
    }
    for out in &outputs {
        assert!(
            out.status.success(),
            "a replay disagreed with the chain: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
    }
    // "genesis <hash>", then one line per height.
    let heights = lines[0].len().saturating_sub(1);
    assert_eq!(lines[0].len(), lines[1].len());
    assert!(
        heights as u64 >= to.saturating_sub(1),
        "{heights} of {to} heights replayed"
    );
    heights
}
