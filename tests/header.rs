//! The checked-in header must be exactly what cbindgen makes from the sources.
//! `PACKR_BLESS=1 cargo test --test header` (or `make header`) rewrites it.

use std::path::Path;

#[test]
fn header_is_fresh() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(root.join("cbindgen.toml")).expect("cbindgen.toml parses");
    let mut generated = Vec::new();
    cbindgen::Builder::new()
        .with_crate(root)
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header")
        .write(&mut generated);
    let generated = String::from_utf8(generated).expect("header is UTF-8");
    let path = root.join("include/packr.h");
    if std::env::var_os("PACKR_BLESS").is_some() {
        std::fs::write(&path, &generated).expect("write include/packr.h");
        return;
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "include/packr.h is stale: run `make header` and commit the result"
    );
}
