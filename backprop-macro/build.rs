//! Whether the compiler lets a procedural macro see the file it expands
//! (`proc_macro::Span::local_file`, Rust 1.88): with it, calls of
//! differentiated functions defined beside the caller are inlined
//! (`src/inline/`); without it, every call goes through the callee's module,
//! which is correct and slower. The crate itself builds with Rust 1.74.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rustc-check-cfg=cfg(backprop_sees_files)");
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let version = Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok());
    if version
        .as_deref()
        .and_then(minor_version)
        .is_some_and(|minor| minor >= 88)
    {
        println!("cargo:rustc-cfg=backprop_sees_files");
    }
}

/// `88` from `rustc 1.88.0 (6b00bc388 2025-06-23)`.
fn minor_version(version: &str) -> Option<u32> {
    let number = version.split_whitespace().nth(1)?;
    let mut parts = number.split('.');
    if parts.next()? != "1" {
        return None;
    }
    parts.next()?.parse().ok()
}
