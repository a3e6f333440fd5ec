//! Minimal, section-aware edits of CometBFT's config.toml.

/// Sets `key = value` inside `[section]` ("" for the top level). The key
/// must already exist: CometBFT writes every key at `init`, so a missing
/// one means a different config format.
pub fn set(config: &str, section: &str, key: &str, value: &str) -> Result<String, String> {
    let mut current = String::new();
    let mut found = false;
    let mut out = Vec::new();
    for line in config.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') && trimmed.ends_with(']') {
            current = trimmed.trim_matches(|c| c == '[' || c == ']').to_string();
        }
        let is_key = trimmed
            .split_once('=')
            .map(|(k, _)| k.trim() == key)
            .unwrap_or(false);
        if !found && current == section && is_key && !trimmed.starts_with('#') {
            out.push(format!("{key} = {value}"));
            found = true;
        } else {
            out.push(line.to_string());
        }
    }
    if !found {
        return Err(format!(
            "config.toml has no key {key:?} in section [{section}]"
        ));
    }
    Ok(out.join("\n") + "\n")
}

/// Reads the raw value of `key` in `[section]`, quotes stripped.
pub fn get(config: &str, section: &str, key: &str) -> Option<String> {
    let mut current = String::new();
    for line in config.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') && trimmed.ends_with(']') {
            current = trimmed.trim_matches(|c| c == '[' || c == ']').to_string();
            continue;
        }
        if current != section {
            continue;
        }
        if let Some((k, v)) = trimmed.split_once('=') {
            if k.trim() == key {
                return Some(v.trim().trim_matches('"').to_string());
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "proxy_app = \"tcp://127.0.0.1:26658\"\n[rpc]\nladdr = \"tcp://127.0.0.1:26657\"\n[p2p]\nladdr = \"tcp://0.0.0.0:26656\"\n";

    #[test]
    fn edits_only_the_named_section() {
        let edited = set(SAMPLE, "p2p", "laddr", "\"tcp://127.0.0.2:26656\"").unwrap();
        assert_eq!(
            get(&edited, "p2p", "laddr").unwrap(),
            "tcp://127.0.0.2:26656"
        );
        assert_eq!(
            get(&edited, "rpc", "laddr").unwrap(),
            "tcp://127.0.0.1:26657"
        );
        assert_eq!(
            get(&edited, "", "proxy_app").unwrap(),
            "tcp://127.0.0.1:26658"
        );
        assert!(set(SAMPLE, "rpc", "missing", "1").is_err());
    }
}
