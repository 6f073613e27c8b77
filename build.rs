// The real control plane tier of the tests (tests/it/real/) runs only when
// KUBEBUILDER_ASSETS names the folder holding kube-apiserver; without it the
// tier's tests are ignored, with a line saying how to enable them.
fn main() {
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
