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

// A release build for Linux packs the executable's relative relocations
// (DT_RELR, `-z pack-relative-relocs`): the position-independent
// executable's ~14,000 of them took 344 KB of `.rela.dyn`, now 4 KB of
// `.relr.dyn` (issue 28 item 4: the binary stays <= 8 MB; start-up unchanged,
// 2.92 M instructions to read a 30 KB kubeconfig and set up the client
// either way, callgrind).
//
// With glibc the binary then needs the glibc it was built against to know
// DT_RELR (2.36 or later, `GLIBC_ABI_DT_RELR`): done only when that glibc
// does, building for this machine.
//
// The released Linux binaries are static musl, static-pie executables whose
// start code (musl's rcrt1.o) applies the relocations itself: it reads
// DT_RELR from musl 1.2.4 on (Rust bundles 1.2.5 from 1.93; 1.89 to 1.92
// bundle 1.2.3, whose start code would skip them and crash). Done only when
// the musl rustc links, its own, is 1.2.4 or later.
fn release_link() {
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    if var("PROFILE") != "release" || var("CARGO_CFG_TARGET_OS") != "linux" {
        return;
    }
    // Static unless turned off (cargo leaves crt-static out of
    // CARGO_CFG_TARGET_FEATURE).
    let flags = var("CARGO_ENCODED_RUSTFLAGS");
    let static_musl = var("CARGO_CFG_TARGET_ENV") == "musl" && !flags.contains("-crt-static");
    let pack = match var("CARGO_CFG_TARGET_ENV").as_str() {
        "gnu" => var("HOST") == var("TARGET") && glibc_knows_relr(),
        // A musl of one's own (-C link-self-contained=no) is not looked at.
        "musl" => {
            static_musl
                && !flags.contains("link-self-contained")
                && bundled_musl_knows_relr(&var("RUSTC"), &var("TARGET"))
        }
        _ => false,
    };
    if pack {
        println!("cargo::rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
    // A glibc build with debug info asked for (a profiling build,
    // `CARGO_PROFILE_RELEASE_DEBUG=true`) keeps them: perf reads them for
    // call graphs.
    let glibc_plain = var("CARGO_CFG_TARGET_ENV") == "gnu" && var("DEBUG") == "false";
    if static_musl || glibc_plain {
        drop_unwind_tables();
    }
}

// The static musl release binary leaves out the unwind tables (`.eh_frame`,
// 614 KB, and its index `.eh_frame_hdr`, 94 KB: 8,145,256 -> 7,436,648 bytes;
// issue 28 item 4). Nothing unwinds with `panic = "abort"`; all they still
// served was a panic's backtrace, and the release binary is stripped: with
// them RUST_BACKTRACE=1 printed an empty "stack backtrace:" (no frame has a
// name) and only RUST_BACKTRACE=full bare addresses; now neither prints a
// frame. The panic's message and place are printed as before.
// `-C force-unwind-tables=no` does not do it: with fat LTO the standard
// library's bitcode brings its debug info and the tables come back, the
// binary the same to the byte. A linker script inserted into the default
// one discards the input `.eh_frame` sections but the C runtime's
// crtbegin/crtend ones (its start-up code registers them). The glibc
// release build (`cargo install`'s) leaves them out too, 8,001,648 ->
// 7.3 MB, unless it is built with debug info to profile.
const NO_UNWIND_TABLES: &str = "\
SECTIONS
{
  /DISCARD/ : { EXCLUDE_FILE(*crtbegin*.o *crtend*.o) *(.eh_frame) }
}
INSERT AFTER .text;
";

fn drop_unwind_tables() {
    let script = std::path::Path::new(&std::env::var_os("OUT_DIR").unwrap_or_default())
        .join("no-unwind-tables.ld");
    match std::fs::write(&script, NO_UNWIND_TABLES) {
        Ok(()) => println!("cargo::rustc-link-arg-bins=-Wl,-T,{}", script.display()),
        Err(e) => println!(
            "cargo::warning=unwind tables kept: cannot write {}: {e}",
            script.display()
        ),
    }
}

/// Whether the musl that rustc bundles for `target` (its self-contained
/// libc.a) is 1.2.4 or later: the version is the string in libc.a's
/// member version.lo.
fn bundled_musl_knows_relr(rustc: &str, target: &str) -> bool {
    let Ok(out) = std::process::Command::new(rustc)
        .args(["--print", "sysroot"])
        .output()
    else {
        return false;
    };
    let sysroot = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let libc = std::path::Path::new(&sysroot)
        .join("lib/rustlib")
        .join(target)
        .join("lib/self-contained/libc.a");
    let Ok(archive) = std::fs::read(&libc) else {
        return false;
    };
    ar_member(&archive, b"version.lo")
        .and_then(musl_version)
        .is_some_and(|(major, minor, patch)| (major, minor, patch) >= (1, 2, 4))
}

/// The member `name` of a Unix ar archive (a name up to 15 bytes, kept in
/// its 16-byte header field with a trailing '/').
fn ar_member<'a>(archive: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    let mut at = archive.strip_prefix(b"!<arch>\n")?;
    while at.len() >= 60 {
        let (header, rest) = at.split_at(60);
        let size: usize = std::str::from_utf8(&header[48..58])
            .ok()?
            .trim()
            .parse()
            .ok()?;
        let body = rest.get(..size)?;
        let field = &header[..16];
        if field.starts_with(name) && field[name.len()..].first() == Some(&b'/') {
            return Some(body);
        }
        // Members start at even offsets.
        at = rest.get(size + size % 2..).unwrap_or_default();
    }
    None
}

/// The first "MAJOR.MINOR.PATCH" string (NUL-terminated) in musl's version.lo.
fn musl_version(object: &[u8]) -> Option<(u32, u32, u32)> {
    object.split(|&b| b == 0).find_map(|s| {
        let s = std::str::from_utf8(s).ok()?;
        let mut parts = s.split('.').map(|p| p.parse::<u32>().ok());
        match (parts.next()?, parts.next()?, parts.next()?, parts.next()) {
            (Some(a), Some(b), Some(c), None) => Some((a, b, c)),
            _ => None,
        }
    })
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
