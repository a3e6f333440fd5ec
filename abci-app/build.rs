//! Embeds every file of `assets/dashboard/` into umd: writes
//! `$OUT_DIR/dashboard_assets.rs`, a `&[(name, bytes)]` table of
//! `include_bytes!` entries, so files added to the folder are served at
//! `/assets/{name}` without touching the code.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    let dir = root.join("assets/dashboard");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut names = Vec::new();
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            // Plain files with URL-safe names only; editors' dot files stay out.
            let plain = name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
            if path.is_file() && plain && !name.starts_with('.') {
                println!("cargo:rerun-if-changed={}", path.display());
                names.push((name.to_string(), path));
            }
        }
    }
    // Sorted, so the generated file does not depend on directory order.
    names.sort();
    let mut code = String::from("&[\n");
    for (name, path) in &names {
        code.push_str(&format!(
            "    ({name:?}, include_bytes!({:?}) as &[u8]),\n",
            path.display().to_string()
        ));
    }
    code.push_str("]\n");
    std::fs::write(out.join("dashboard_assets.rs"), code)?;
    Ok(())
}
