//! `umd keys …`: the keyring of a home (`<home>/keys`), with the backend of
//! `--keyring-backend` / `UMD_KEYRING_BACKEND` (default `file`, encrypted).

use std::io::{self, BufRead, Write};

use anyhow::bail;
use clap::Subcommand;

use um_client::keys::{self, Keyring, PassphraseSource};

#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Create a key; prints its mnemonic once.
    Add {
        name: String,
        /// Recover a key from its mnemonic instead, read from standard
        /// input: asked without echo on a terminal, else the first line of
        /// the pipe. Never taken from the command line (it would sit in the
        /// shell history and in every `ps`), never printed back.
        #[arg(long)]
        recover: bool,
        #[command(flatten)]
        home: super::HomeArgs,
        #[command(flatten)]
        keyring: super::KeyringArgs,
    },
    List {
        #[command(flatten)]
        home: super::HomeArgs,
        #[command(flatten)]
        keyring: super::KeyringArgs,
    },
    Show {
        name: String,
        /// Print only the address.
        #[arg(long, short = 'a')]
        address: bool,
        #[command(flatten)]
        home: super::HomeArgs,
        #[command(flatten)]
        keyring: super::KeyringArgs,
    },
}

/// The keyring of `home` with the selected backend; the `file` backend's
/// passphrase comes from `UMD_KEYRING_PASSPHRASE` or the terminal, and only
/// when a secret is read or written.
pub fn keyring(home: &super::HomeArgs, args: &super::KeyringArgs) -> anyhow::Result<Keyring> {
    open(home, args, PassphraseSource::EnvOrPrompt)
}

fn open(
    home: &super::HomeArgs,
    args: &super::KeyringArgs,
    passphrase: PassphraseSource,
) -> anyhow::Result<Keyring> {
    Ok(Keyring::open(
        &home.path().join("keys"),
        args.keyring_backend,
        passphrase,
    )?)
}

pub fn run(command: KeysCommand) -> anyhow::Result<()> {
    let on_terminal = keys::stdin_is_terminal();
    run_with(
        command,
        &mut io::stdin().lock(),
        on_terminal,
        &mut io::stdout().lock(),
        PassphraseSource::EnvOrPrompt,
    )
}

/// `run` with its standard input and output given (the tests feed a
/// mnemonic and read what would be printed).
fn run_with(
    command: KeysCommand,
    input: &mut dyn BufRead,
    on_terminal: bool,
    out: &mut dyn Write,
    passphrase: PassphraseSource,
) -> anyhow::Result<()> {
    match command {
        KeysCommand::Add {
            name,
            recover,
            home,
            keyring,
        } => {
            let keyring = open(&home, &keyring, passphrase)?;
            // Before the mnemonic is typed in for nothing.
            if keyring.contains(&name)? {
                bail!(um_client::ClientError::KeyExists(name));
            }
            let mnemonic = if recover {
                Some(keys::read_mnemonic(input, on_terminal)?)
            } else {
                None
            };
            let key = keyring.add(&name, mnemonic.as_deref().map(String::as_str))?;
            writeln!(out, "name: {}\naddress: {}", key.name, key.address)?;
            if !recover {
                // A new key's mnemonic is shown once, as the Cosmos SDK
                // does: it exists nowhere else in clear.
                writeln!(
                    out,
                    "\nmnemonic (write it down; it is the only way to recover this key):\n{}",
                    key.mnemonic
                )?;
            }
        }
        KeysCommand::List { home, keyring } => {
            for key in open(&home, &keyring, passphrase)?.list()? {
                writeln!(out, "{}\t{}", key.name, key.address)?;
            }
        }
        KeysCommand::Show {
            name,
            address,
            home,
            keyring,
        } => {
            let key = open(&home, &keyring, passphrase)?.info(&name)?;
            if address {
                writeln!(out, "{}", key.address)?;
            } else {
                writeln!(out, "name: {}\naddress: {}", key.name, key.address)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use clap::Parser;
    use um_client::keys::Key;

    use super::*;
    use crate::cli::{Cli, Command};

    const PHRASE: &str = "economy stock theory fatal elder harbor betray wasp final emotion task crumble siren bottom lizard educate guess current outdoor pair theory focus wife stone";

    fn keys_command(args: &[&str]) -> KeysCommand {
        let cli = Cli::try_parse_from([&["umd", "keys"], args].concat()).unwrap();
        match cli.command {
            Command::Keys(command) => command,
            _ => unreachable!("a keys command"),
        }
    }

    /// Runs `umd keys ARGS` with `stdin`; returns what it printed.
    fn umd_keys(args: &[&str], stdin: &str) -> anyhow::Result<String> {
        let mut out = Vec::new();
        run_with(
            keys_command(args),
            &mut Cursor::new(stdin.to_string()),
            false,
            &mut out,
            PassphraseSource::given("correct horse"),
        )?;
        Ok(String::from_utf8(out)?)
    }

    #[test]
    fn recover_reads_the_mnemonic_from_stdin_and_never_prints_it() {
        let expected = Key::from_mnemonic("a", PHRASE).unwrap().address;
        for backend in ["file", "test"] {
            let home = tempfile::tempdir().unwrap();
            let home = home.path().to_str().unwrap();
            let args = ["--home", home, "--keyring-backend", backend];
            let printed = umd_keys(
                &[&["add", "alice", "--recover"], &args[..]].concat(),
                &format!("{PHRASE}\n"),
            )
            .unwrap();
            assert_eq!(printed, format!("name: alice\naddress: {expected}\n"));
            for word in PHRASE.split_whitespace() {
                let echoed = printed
                    .split(|c: char| !c.is_ascii_alphabetic())
                    .any(|token| token == word);
                assert!(!echoed, "{backend}: printed {word:?}: {printed}");
            }
            let shown = umd_keys(&[&["show", "alice", "-a"], &args[..]].concat(), "").unwrap();
            assert_eq!(shown.trim(), expected);
            // Only the selected backend's keys are listed.
            let other = if backend == "file" { "test" } else { "file" };
            let listed = umd_keys(&["list", "--home", home, "--keyring-backend", other], "");
            assert_eq!(listed.unwrap(), "");
        }
    }

    #[test]
    fn recover_refuses_empty_input_and_an_existing_name() {
        let home = tempfile::tempdir().unwrap();
        let home = home.path().to_str().unwrap();
        let args = ["add", "alice", "--recover", "--home", home];
        let args = [&args[..], &["--keyring-backend", "test"]].concat();
        assert!(umd_keys(&args, "").is_err());
        umd_keys(&args, PHRASE).unwrap();
        let err = umd_keys(&args, PHRASE).unwrap_err();
        assert!(err.to_string().contains("already exists"), "{err}");
    }

    #[test]
    fn a_new_key_shows_its_mnemonic_once() {
        let home = tempfile::tempdir().unwrap();
        let home = home.path().to_str().unwrap();
        let printed = umd_keys(
            &["add", "bob", "--home", home, "--keyring-backend", "test"],
            "",
        )
        .unwrap();
        let mnemonic = printed.lines().last().unwrap();
        assert_eq!(mnemonic.split_whitespace().count(), 24, "{printed}");
    }

    #[test]
    fn the_mnemonic_is_no_argument_and_backends_are_checked() {
        for args in [
            &["umd", "keys", "add", "alice", "--recover", PHRASE][..],
            &["umd", "keys", "add", "alice", "--mnemonic", PHRASE],
            &["umd", "keys", "list", "--keyring-backend", "kwallet"],
        ] {
            assert!(Cli::try_parse_from(args).is_err(), "{args:?}");
        }
        let home = tempfile::tempdir().unwrap();
        let err = umd_keys(
            &[
                "list",
                "--home",
                home.path().to_str().unwrap(),
                "--keyring-backend",
                "os",
            ],
            "",
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("no OS keyring on this host"),
            "{err}"
        );
    }
}
