//! include/shaken.h must be what cbindgen generates from capi/src today.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

#[test]
fn header_is_current() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).unwrap();
    let mut generated = Vec::new();
    cbindgen::Builder::new()
        .with_crate(crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen could not read capi/src")
        .write(&mut generated);
    let path = crate_dir.join("../include/shaken.h");
    if std::env::var_os("SHAKEN_UPDATE_HEADER").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let committed = std::fs::read(&path).unwrap_or_default();
    if committed != generated {
        panic!(
            "include/shaken.h is out of date with capi/src.\n\
             Regenerate it with:\n    SHAKEN_UPDATE_HEADER=1 cargo test -p shaken-capi --test header\n\
             and commit the result."
        );
    }
}
