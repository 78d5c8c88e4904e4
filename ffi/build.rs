//! Generates the C header with cbindgen into `$OUT_DIR/qmq.h`; with `QMQ_FFI_UPDATE_HEADER=1`
//! it also writes the checked-in `include/qmq.h`. `ci/check-header.sh` diffs the two.

use std::path::PathBuf;

fn main() {
    let crate_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-env-changed=QMQ_FFI_UPDATE_HEADER");
    let config =
        cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("ffi/cbindgen.toml");
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(crate_dir.join("src/lib.rs"))
        .generate()
        .expect("cbindgen generates the header");
    bindings.write_to_file(out_dir.join("qmq.h"));
    if std::env::var_os("QMQ_FFI_UPDATE_HEADER").is_some_and(|v| v == "1") {
        bindings.write_to_file(crate_dir.join("../include/qmq.h"));
    }
}
