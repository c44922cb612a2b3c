//! Records which build this binary is, so the lab can say so on screen.
//!
//! A bench figure from a dev build and one from `--release` can differ by several times
//! (the issue that added this measured 5–8× before the dev profile optimised its
//! dependencies), and nothing in a number says which build produced it. Cargo hands a build
//! script the profile being built (`PROFILE`: `debug` or `release`) and the package's
//! `OPT_LEVEL`; passing them on as compile-time variables lets `bench` and the TUI print
//! them, instead of the learner having to remember how they built.
fn main() {
    for var in ["PROFILE", "OPT_LEVEL"] {
        let value = std::env::var(var).unwrap_or_default();
        println!("cargo:rustc-env=BOOKSTORE_BUILD_{var}={value}");
    }
    // The profile is part of the build script's fingerprint, so a switch between dev and
    // release (or a changed opt-level) re-runs this; nothing else is an input.
    println!("cargo:rerun-if-changed=build.rs");
}
