use super::*;

const PHRASE: &str = "economy stock theory fatal elder harbor betray wasp final emotion task crumble siren bottom lizard educate guess current outdoor pair theory focus wife stone";

/// A cheap scrypt cost: these tests check the format, not the KDF's
/// strength (the file records its cost, so reading takes the same path).
const CHEAP: ScryptCost = ScryptCost {
    log_n: 10,
    r: 8,
    p: 1,
};

fn file_keyring(dir: &Path, passphrase: &str) -> Keyring {
    let mut keyring =
        Keyring::open(dir, Backend::File, PassphraseSource::given(passphrase)).unwrap();
    keyring.cost = CHEAP;
    keyring
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn known_mnemonic_derives_the_cosmos_address() {
    // The faucet mnemonic of CosmJS's test chains; its cosmos1 address
    // is cosmos1pkptre7fdkl6gfrzlesjjvhxhlc3r4gmmk8rs6.
    let key = Key::from_mnemonic("a", PHRASE).unwrap();
    let (_, data) = bech32::decode(&key.address).unwrap();
    let (_, expected) = bech32::decode("cosmos1pkptre7fdkl6gfrzlesjjvhxhlc3r4gmmk8rs6").unwrap();
    assert_eq!(data, expected);
}

#[test]
fn keyring_add_get_list_and_refusals() {
    let dir = tempfile::tempdir().unwrap();
    let keyring = Keyring::new(dir.path());
    assert_eq!(keyring.backend(), Backend::Test);
    let alice = keyring.add("alice", None).unwrap();
    assert_eq!(alice.mnemonic.split_whitespace().count(), 24);
    assert_eq!(keyring.get("alice").unwrap().address, alice.address);
    assert!(matches!(
        keyring.add("alice", None),
        Err(ClientError::KeyExists(_))
    ));
    assert!(matches!(
        keyring.add("../x", None),
        Err(ClientError::Keyring(_))
    ));
    assert!(matches!(
        keyring.add("bob", Some("not a mnemonic")),
        Err(ClientError::Mnemonic(_))
    ));
    assert!(matches!(
        keyring.get("carol"),
        Err(ClientError::KeyNotFound(_))
    ));
    let names: Vec<_> = keyring
        .list()
        .unwrap()
        .into_iter()
        .map(|k| k.name)
        .collect();
    assert_eq!(names, vec!["alice"]);
}

#[test]
fn encrypted_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let keyring = file_keyring(dir.path(), "correct horse");
    let added = keyring.add("alice", Some(PHRASE)).unwrap();
    let expected = Key::from_mnemonic("alice", PHRASE).unwrap().address;
    assert_eq!(added.address, expected);
    // A fresh keyring, as the next command would open it.
    let reopened = file_keyring(dir.path(), "correct horse");
    assert_eq!(reopened.get("alice").unwrap().address, expected);
    // Name and address without the passphrase.
    let locked = file_keyring(dir.path(), "");
    assert_eq!(
        locked.info("alice").unwrap(),
        KeyInfo {
            name: "alice".into(),
            address: expected.clone()
        }
    );
    assert_eq!(locked.list().unwrap().len(), 1);
    // A generated key and a second one under the same passphrase.
    let bob = keyring.add("bob", None).unwrap();
    assert_eq!(reopened.get("bob").unwrap().address, bob.address);
    let file: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.path().join("alice.json")).unwrap()).unwrap();
    assert_eq!(file["format"], "um-keyring-file");
    assert_eq!(file["version"], 1);
    assert_eq!(file["kdf"]["algorithm"], "scrypt");
    assert_eq!(file["cipher"]["algorithm"], "xchacha20-poly1305");
}

#[test]
fn wrong_passphrase_is_refused_and_a_keyring_has_one_passphrase() {
    let dir = tempfile::tempdir().unwrap();
    file_keyring(dir.path(), "correct horse")
        .add("alice", Some(PHRASE))
        .unwrap();
    let wrong = file_keyring(dir.path(), "battery staple");
    let err = wrong.get("alice").err().unwrap();
    assert!(matches!(err, ClientError::WrongPassphrase(_)), "{err:?}");
    assert!(
        err.to_string()
            .contains("wrong passphrase or corrupted key file"),
        "{err}"
    );
    // Adding under another passphrase would split the keyring: refused.
    let err = wrong.add("bob", None).err().unwrap();
    assert!(err.to_string().contains("does not open key"), "{err}");
    assert!(!dir.path().join("bob.json").exists());
}

#[test]
fn short_passphrase_is_refused_for_a_new_keyring() {
    let dir = tempfile::tempdir().unwrap();
    let err = file_keyring(dir.path(), "short").add("alice", None).err();
    assert!(
        matches!(&err, Some(ClientError::Keyring(m)) if m.contains("at least 8")),
        "{err:?}"
    );
    assert!(!dir.path().join("alice.json").exists());
}

#[test]
fn tampered_file_fails_like_a_wrong_passphrase() {
    let dir = tempfile::tempdir().unwrap();
    let keyring = file_keyring(dir.path(), "correct horse");
    keyring.add("alice", Some(PHRASE)).unwrap();
    let path = dir.path().join("alice.json");
    let mut file: serde_json::Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    // Claim another address: authenticated, so the open fails.
    let other = Key::from_mnemonic("x", &keyring_mnemonic())
        .unwrap()
        .address;
    file["address"] = serde_json::json!(other);
    fs::remove_file(&path).unwrap();
    fs::write(&path, serde_json::to_vec(&file).unwrap()).unwrap();
    assert!(matches!(
        file_keyring(dir.path(), "correct horse").get("alice"),
        Err(ClientError::WrongPassphrase(_))
    ));
    // A KDF cost no one could afford is refused before any work.
    file["kdf"]["log_n"] = serde_json::json!(40);
    fs::write(&path, serde_json::to_vec(&file).unwrap()).unwrap();
    let err = file_keyring(dir.path(), "correct horse")
        .get("alice")
        .err()
        .unwrap();
    assert!(err.to_string().contains("scrypt cost"), "{err}");
    // Garbage is an error, not a panic.
    fs::write(&path, b"{\"format\": 7}").unwrap();
    assert!(file_keyring(dir.path(), "correct horse")
        .get("alice")
        .is_err());
}

fn keyring_mnemonic() -> String {
    let dir = tempfile::tempdir().unwrap();
    Keyring::new(dir.path()).add("x", None).unwrap().mnemonic
}

#[test]
fn encrypted_file_holds_no_word_of_the_mnemonic() {
    let dir = tempfile::tempdir().unwrap();
    let keyring = file_keyring(dir.path(), "correct horse");
    // A fixed mnemonic: a random one can hold a BIP39 word that is also a
    // field name of the format ("version" did, once), which says nothing
    // about the secret.
    let added = keyring.add("alice", Some(PHRASE)).unwrap();
    let text = fs::read_to_string(dir.path().join("alice.json")).unwrap();
    for word in added.mnemonic.split_whitespace() {
        // Whole words: a 3-letter word could turn up inside base64 by chance.
        let found = text
            .split(|c: char| !c.is_ascii_alphabetic())
            .any(|token| token == word);
        assert!(!found, "the key file contains {word:?}:\n{text}");
    }
    assert!(!text.contains(&added.mnemonic));
}

#[cfg(unix)]
#[test]
fn folder_is_0700_and_files_0600_and_existing_folders_are_tightened() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("home/keys");
    file_keyring(&keys, "correct horse")
        .add("alice", None)
        .unwrap();
    assert_eq!(mode(&keys), 0o700);
    assert_eq!(mode(&keys.join("alice.json")), 0o600);
    // The test backend's files too; an old 0755 folder loses its bits.
    let old = dir.path().join("old");
    fs::create_dir(&old).unwrap();
    fs::set_permissions(&old, fs::Permissions::from_mode(0o755)).unwrap();
    Keyring::new(&old).add("bob", None).unwrap();
    assert_eq!(mode(&old), 0o700);
    assert_eq!(mode(&old.join("bob.json")), 0o600);
    // No temp file is left behind.
    let names: Vec<_> = fs::read_dir(&old)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("bob.json")]);
}

#[test]
fn second_add_is_refused_and_leaves_the_file_untouched() {
    let dir = tempfile::tempdir().unwrap();
    for keyring in [
        file_keyring(dir.path(), "correct horse"),
        Keyring::new(&dir.path().join("test")),
    ] {
        keyring.add("alice", None).unwrap();
        let path = keyring.dir().join("alice.json");
        let before = fs::read(&path).unwrap();
        assert!(matches!(
            keyring.add("alice", Some(PHRASE)),
            Err(ClientError::KeyExists(_))
        ));
        assert_eq!(fs::read(&path).unwrap(), before);
    }
    // Names are shared: the test backend cannot shadow a file-backend key.
    assert!(matches!(
        Keyring::new(dir.path()).add("alice", None),
        Err(ClientError::KeyExists(_))
    ));
}

#[test]
fn store_refuses_an_existing_name_even_when_the_check_is_raced() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("alice.json");
    fs::write(&path, b"first").unwrap();
    assert!(matches!(
        store::write_new(dir.path(), &path, b"second"),
        Err(store::WriteError::Exists)
    ));
    assert_eq!(fs::read(&path).unwrap(), b"first");
}

#[test]
fn backends_refuse_each_others_files() {
    let dir = tempfile::tempdir().unwrap();
    Keyring::new(dir.path()).add("plain", Some(PHRASE)).unwrap();
    let file = file_keyring(dir.path(), "correct horse");
    file.add("sealed", None).unwrap();
    for result in [
        file.get("plain").map(|_| ()),
        file.info("plain").map(|_| ()),
    ] {
        let err = result.err().unwrap();
        assert!(
            matches!(
                &err,
                ClientError::WrongBackend { stored, selected: Backend::File, .. }
                    if stored.contains("plain text")
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("--keyring-backend"), "{err}");
    }
    // Selected explicitly, the test backend still reads the old files.
    let test = Keyring::open(dir.path(), Backend::Test, PassphraseSource::EnvOrPrompt).unwrap();
    assert!(test.get("plain").is_ok());
    assert!(matches!(
        test.get("sealed"),
        Err(ClientError::WrongBackend { .. })
    ));
    // Each lists its own.
    let names =
        |k: &Keyring| -> Vec<String> { k.list().unwrap().into_iter().map(|i| i.name).collect() };
    assert_eq!(names(&file), vec!["sealed"]);
    assert_eq!(names(&test), vec!["plain"]);
}

#[test]
fn os_backend_is_a_clear_error_and_names_parse() {
    let dir = tempfile::tempdir().unwrap();
    let err = Keyring::open(dir.path(), Backend::Os, PassphraseSource::EnvOrPrompt)
        .err()
        .unwrap();
    assert!(
        err.to_string().contains("no OS keyring on this host"),
        "{err}"
    );
    for name in Backend::NAMES {
        assert_eq!(name.parse::<Backend>().unwrap().to_string(), name);
    }
    assert!("kwallet".parse::<Backend>().is_err());
}

#[test]
fn mnemonic_is_read_from_a_line_of_input() {
    let mut input = std::io::Cursor::new(format!("  {PHRASE}  \nrest\n"));
    assert_eq!(read_mnemonic(&mut input, false).unwrap().as_str(), PHRASE);
    let mut empty = std::io::Cursor::new("");
    assert!(matches!(
        read_mnemonic(&mut empty, false),
        Err(ClientError::Mnemonic(_))
    ));
}

#[test]
fn default_cost_is_accepted_and_bounded() {
    // The real cost once, end to end, as `Keyring::open` sets it.
    let dir = tempfile::tempdir().unwrap();
    let keyring = Keyring::open(
        dir.path(),
        Backend::File,
        PassphraseSource::given("correct horse"),
    )
    .unwrap();
    assert_eq!(keyring.cost, ScryptCost::DEFAULT);
    keyring.add("alice", Some(PHRASE)).unwrap();
    let file: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.path().join("alice.json")).unwrap()).unwrap();
    assert_eq!(file["kdf"]["log_n"], 17);
    assert!(ScryptCost::DEFAULT.check().is_ok());
    assert!(ScryptCost {
        log_n: 30,
        r: 8,
        p: 1
    }
    .check()
    .is_err());
    assert!(ScryptCost {
        log_n: 255,
        r: u32::MAX,
        p: 1
    }
    .check()
    .is_err());
}
