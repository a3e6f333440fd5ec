//! The Node.js clients of `interop/`: `dashboard.mjs`, headless Chromium
//! (Debian's, driven by playwright-core) on umd's dashboard, for the tests
//! that check what the page shows; and the one-shot CosmJS scripts
//! ([`run_node_script`]).

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::workspace_root;

pub fn interop_dir() -> PathBuf {
    workspace_root().join("interop")
}

/// `node interop/dashboard.mjs` kept running: lines to its stdin, JSON lines
/// from its stdout (read on a thread, so a stuck browser fails the test
/// instead of hanging it).
pub struct Browser {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
    stderr_path: PathBuf,
}

impl Browser {
    pub fn open(
        url: &str,
        screenshot: &std::path::Path,
        stderr_path: PathBuf,
        envs: &[(&str, &std::path::Path)],
    ) -> Self {
        let dir = interop_dir();
        assert!(
            dir.join("node_modules").exists() && std::path::Path::new("/usr/bin/chromium").exists(),
            "interop/node_modules or /usr/bin/chromium is missing: run `make setup-interop` first"
        );
        let mut child = Command::new("node")
            .arg(dir.join("dashboard.mjs"))
            .arg(url)
            .arg(screenshot)
            .envs(envs.iter().copied())
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr_path).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("node dashboard.mjs: {e} (is Node.js installed?)"));
        let stdout = child.stdout.take().unwrap();
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            stdin: child.stdin.take(),
            child,
            lines,
            stderr_path,
        }
    }

    /// The next JSON line the script prints, which must be `event`.
    pub fn next(&mut self, event: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.starts_with('{') => {
                    let value: Value = serde_json::from_str(&line).unwrap();
                    assert_eq!(value["event"], event, "{value}");
                    return value;
                }
                Ok(_) => {}
                Err(e) => panic!(
                    "dashboard.mjs printed no {event:?} ({e}):\n{}",
                    std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
                ),
            }
        }
    }

    pub fn send(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().unwrap();
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
    }

    /// Ends stdin: the script takes the screenshot and reports once more.
    pub fn finish(&mut self) -> Value {
        self.stdin = None;
        let done = self.next("done");
        let status = self.child.wait().unwrap();
        assert!(status.success(), "dashboard.mjs exited with {status}");
        done
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `node interop/<script> args…` with `envs` and parses the JSON line
/// it prints last; panics with the script's output when it fails.
pub fn run_node_script(script: &str, args: &[&str], envs: &[(&str, &str)]) -> Value {
    let dir = interop_dir();
    assert!(
        dir.join("node_modules").exists(),
        "{}/node_modules is missing: run `make setup-interop` first",
        dir.display()
    );
    let output = Command::new("node")
        .arg(dir.join(script))
        .args(args)
        .envs(envs.iter().copied())
        .current_dir(&dir)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("node {script}: {e} (is Node.js installed?)"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "node {script} failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    let line = stdout.lines().rev().find(|l| l.starts_with('{'));
    let line = line.unwrap_or_else(|| panic!("node {script} printed no JSON:\n{stdout}\n{stderr}"));
    serde_json::from_str(line).unwrap_or_else(|e| panic!("node {script}: {e}: {line}"))
}
