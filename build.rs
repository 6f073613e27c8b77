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
// executable's ~14,000 of them took 344 KB of `.rela.dyn`, now 4 KB of
// `.relr.dyn` (issue 28 item 4: the binary stays <= 8 MB; start-up unchanged,
// 2.92 M instructions to read a 30 KB kubeconfig and set up the client
// either way, callgrind). The binary then needs the glibc it was built
// against to know DT_RELR (2.36 or later, `GLIBC_ABI_DT_RELR`): done only
// when that glibc does, building for this machine. The released Linux
// archives are static musl and are not concerned.
fn release_link() {
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    if var("PROFILE") == "release"
        && var("CARGO_CFG_TARGET_OS") == "linux"
        && var("CARGO_CFG_TARGET_ENV") == "gnu"
        && var("HOST") == var("TARGET")
        && glibc_knows_relr()
    {
        println!("cargo::rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}

/// Whether the C library the linker would take defines `GLIBC_ABI_DT_RELR`.
fn glibc_knows_relr() -> bool {
    let Ok(out) = std::process::Command::new("cc")
        .arg("-print-file-name=libc.so.6")
        .output()
    else {
        return false;
    };
    let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
    std::fs::read(&path).is_ok_and(|lib| {
        lib.windows(b"GLIBC_ABI_DT_RELR".len())
            .any(|w| w == b"GLIBC_ABI_DT_RELR")
    })
}
