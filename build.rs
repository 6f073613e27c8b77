// The real control plane tier of the tests (tests/it/real/) runs only when
// KUBEBUILDER_ASSETS names the folder holding kube-apiserver; without it the
// tier's tests are ignored, with a line saying how to enable them.
fn main() {
    release_link();
    println!("cargo::rerun-if-env-changed=KUBEBUILDER_ASSETS");
    println!("cargo::rustc-check-cfg=cfg(real_tier)");
    match std::env::var_os("KUBEBUILDER_ASSETS") {
        Some(dir) if !dir.is_empty() => println!("cargo::rustc-cfg=real_tier"),
        _ => println!(
            "cargo::warning=real control plane tier skipped: set KUBEBUILDER_ASSETS to the folder \
             holding kube-apiserver (see README, Tests)"
        ),
    }
}

// A release build for Linux with glibc packs the executable's relative
// relocations (DT_RELR, `-z pack-relative-relocs`): the position-independent
// executable's ~14,000 of them took 340 KB of `.rela.dyn`, now 4 KB of
// `.relr.dyn` (issue 28 item 4: the binary stays <= 8 MB; start-up unchanged,
// 2.92 M instructions to read a 30 KB kubeconfig and set up the client
// either way, callgrind). The linker then
// marks the binary as needing glibc 2.36 (GLIBC_ABI_DT_RELR); the released
// Linux archives are static musl and are not concerned.
fn release_link() {
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    if var("PROFILE") == "release"
        && var("CARGO_CFG_TARGET_OS") == "linux"
        && var("CARGO_CFG_TARGET_ENV") == "gnu"
    {
        println!("cargo::rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}
