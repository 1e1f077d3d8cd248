//! The web client is embedded from `web-client/dist/`. A fresh clone has none until
//! `npm run build` ran there (`scripts/serve.sh` does it), so create the folder empty: the Rust
//! build must never depend on Node. Rebuild when its contents change so release binaries
//! carry the current web client.

use std::path::Path;

fn main() {
    let dist = Path::new(env!("CARGO_MANIFEST_DIR")).join("../web-client/dist");
    if let Err(e) = std::fs::create_dir_all(&dist) {
        println!("cargo:warning=cannot create {}: {e}", dist.display());
    }
    println!("cargo:rerun-if-changed=../web-client/dist");
    println!("cargo:rerun-if-changed=build.rs");
}
