use std::io::BufRead;

use clap::Subcommand;

use um_client::keys::Keyring;

#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Create a key; prints its mnemonic once.
    Add {
        name: String,
        /// Read an existing mnemonic from standard input instead.
        #[arg(long)]
        recover: bool,
        #[command(flatten)]
        home: super::HomeArgs,
    },
    List {
        #[command(flatten)]
        home: super::HomeArgs,
    },
    Show {
        name: String,
        /// Print only the address.
        #[arg(long, short = 'a')]
        address: bool,
        #[command(flatten)]
        home: super::HomeArgs,
    },
}

pub fn keyring(home: &super::HomeArgs) -> Keyring {
    Keyring::new(&home.path().join("keys"))
}

pub fn run(command: KeysCommand) -> anyhow::Result<()> {
    match command {
        KeysCommand::Add {
            name,
            recover,
            home,
        } => {
            let mnemonic = if recover {
                eprintln!("enter the mnemonic:");
                let mut line = String::new();
                std::io::stdin().lock().read_line(&mut line)?;
                Some(line)
            } else {
                None
            };
            let key = keyring(&home).add(&name, mnemonic.as_deref())?;
            println!("name: {}\naddress: {}", key.name, key.address);
            if !recover {
                println!(
                    "\nmnemonic (write it down; it is the only way to recover this key):\n{}",
                    key.mnemonic
                );
            }
        }
        KeysCommand::List { home } => {
            for key in keyring(&home).list()? {
                println!("{}\t{}", key.name, key.address);
            }
        }
        KeysCommand::Show {
            name,
            address,
            home,
        } => {
            let key = keyring(&home).file(&name)?;
            if address {
                println!("{}", key.address);
            } else {
                println!("name: {}\naddress: {}", key.name, key.address);
            }
        }
    }
    Ok(())
}
