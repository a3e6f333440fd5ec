//! Secrets from the terminal, never echoed.

use std::io::{BufRead, IsTerminal};

use zeroize::Zeroizing;

use crate::ClientError;

/// Asks for a passphrase on the controlling terminal with echo off. Only
/// when a person is plausibly there (stdin or stderr is a terminal): a
/// service or a test harness with a terminal somewhere up its process tree
/// must fail with [`ClientError::NoPassphrase`], not block on /dev/tty.
pub(super) fn passphrase(prompt: &str) -> Result<Zeroizing<String>, ClientError> {
    if !(std::io::stdin().is_terminal() || std::io::stderr().is_terminal()) {
        return Err(ClientError::NoPassphrase);
    }
    rpassword::prompt_password(prompt)
        .map(Zeroizing::new)
        // No /dev/tty after all (no controlling terminal).
        .map_err(|_| ClientError::NoPassphrase)
}

pub fn stdin_is_terminal() -> bool {
    std::io::stdin().is_terminal()
}

/// Reads a mnemonic for `keys add --recover`: on a terminal with a prompt
/// and echo off (no shoulder-surfing, no scrollback); otherwise the first
/// line of `input` (a pipe or a file), which is never printed back.
pub fn read_mnemonic(
    input: &mut dyn BufRead,
    on_terminal: bool,
) -> Result<Zeroizing<String>, ClientError> {
    let line = if on_terminal {
        rpassword::prompt_password("Enter your BIP39 mnemonic (not shown): ")
            .map(Zeroizing::new)
            .map_err(|e| ClientError::Keyring(format!("reading the mnemonic: {e}")))?
    } else {
        let mut line = Zeroizing::new(String::new());
        input
            .read_line(&mut line)
            .map_err(|e| ClientError::Keyring(format!("reading the mnemonic: {e}")))?;
        line
    };
    let phrase = Zeroizing::new(line.trim().to_string());
    if phrase.is_empty() {
        return Err(ClientError::Mnemonic(
            "no mnemonic on standard input".to_string(),
        ));
    }
    Ok(phrase)
}
