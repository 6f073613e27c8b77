//! The runner driven with real processes: small `sh` scripts that record what
//! they were given, and when, in a temp dir (`$d`, passed as `$1`).

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::check::check_with_path;
use super::job::backoff;
use super::runner::Submitted;
use super::*;

/// Names the scripts' temp dir `$d` (a trap that fires inside a function
/// would see the function's `$1`) and defines `put FILE VALUE`, which writes
/// atomically so that a test waiting for FILE never reads it half-written.
const PRELUDE: &str = r#"d=$1
put() { printf '%s\n' "$2" > "$1.tmp" && mv "$1.tmp" "$1"; }
"#;

/// Blocks a run until the test creates `$d/go` (bounded, in case it never does).
const GATE: &str = r#"i=0; while [ ! -e "$d/go" ] && [ $i -lt 2000 ]; do sleep 0.01; i=$((i+1)); done
"#;

fn script(body: &str, dir: &Path) -> CommandSpec {
    CommandSpec {
        program: "sh".into(),
        args: vec![
            "-c".into(),
            format!("{PRELUDE}{body}"),
            "sh".into(),
            dir.display().to_string(),
        ],
    }
}

fn program(program: &str, args: &[&str]) -> CommandSpec {
    CommandSpec {
        program: program.into(),
        args: args.iter().map(|a| a.to_string()).collect(),
    }
}

fn policy() -> Policy {
    Policy {
        stop_timeout: Duration::from_secs(5),
        retry_base: Duration::from_millis(10),
        ..Policy::default()
    }
}

fn object(name: &str, version: u32) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name,
            "namespace": "default",
            "uid": format!("uid-{name}"),
            "resourceVersion": version.to_string(),
        },
        "data": { "version": version },
    })
}

fn job(name: &str, version: u32) -> Job {
    Job::new("modified", "configmaps", object(name, version))
}

fn read(path: impl AsRef<Path>) -> String {
    std::fs::read_to_string(path.as_ref())
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.as_ref().display()))
}

fn read_pid(path: impl AsRef<Path>) -> i32 {
    read(path).trim().parse().expect("a pid")
}

fn lines(path: impl AsRef<Path>) -> Vec<String> {
    read(path).lines().map(str::to_string).collect()
}

/// Polls: test code only, waiting on a script's side effect.
async fn wait_for(path: &Path) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Whether `pid` is a live process. An orphan's zombie lingers when PID 1
/// does not reap; it counts as dead.
fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    if unsafe { libc::kill(pid, 0) } != 0 {
        return false;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
        Err(_) => true,
    }
}

/// A signal takes effect asynchronously: allow it a generous moment.
async fn assert_gone(pid: i32) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while alive(pid) {
        assert!(Instant::now() < deadline, "process {pid} is still alive");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn name(job: &Job) -> String {
    job.object["metadata"]["name"].as_str().unwrap().to_string()
}

/// Every report until the runner is idle: (name, code, attempts).
async fn drain(runner: &mut Runner) -> Vec<(String, i32, u32)> {
    let mut finished = Vec::new();
    while !runner.is_idle() {
        match runner.next().await {
            Report::Finished {
                job,
                code,
                attempts,
            } => finished.push((name(&job), code, attempts)),
            Report::Fatal { job, code } => panic!("unexpected fatal {code} for {}", name(&job)),
        }
    }
    finished
}

#[test]
fn job_env_comes_from_the_object() {
    let job = Job::new("deleted", "widgets.example.com", object("w", 7));
    assert_eq!(job.key, "uid-w");
    let env: Vec<(&str, &str)> = job
        .env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        env,
        [
            ("KUBECTL_NOTIFY_EVENT", "deleted"),
            ("KUBECTL_NOTIFY_KIND", "ConfigMap"),
            ("KUBECTL_NOTIFY_API_VERSION", "v1"),
            ("KUBECTL_NOTIFY_RESOURCE", "widgets.example.com"),
            ("KUBECTL_NOTIFY_NAMESPACE", "default"),
            ("KUBECTL_NOTIFY_NAME", "w"),
            ("KUBECTL_NOTIFY_UID", "uid-w"),
            ("KUBECTL_NOTIFY_RESOURCE_VERSION", "7"),
        ]
    );

    let cluster_scoped = Job::new("created", "nodes", json!({"metadata": {"name": "n1"}}));
    assert_eq!(cluster_scoped.key, "nodes//n1");
    assert!(
        cluster_scoped
            .env
            .contains(&("KUBECTL_NOTIFY_NAMESPACE".into(), String::new()))
    );
}

#[tokio::test]
async fn each_job_runs_once_with_the_object_on_stdin_in_env_and_in_a_private_file() {
    let dir = tempfile::tempdir().unwrap();
    let spec = script(
        r#"n=$KUBECTL_NOTIFY_NAME
echo "$n" >> "$d/runs"
cat > "$d/$n.stdin"
cp "$KUBECTL_NOTIFY_OBJECT_FILE" "$d/$n.file"
echo "$KUBECTL_NOTIFY_OBJECT_FILE" > "$d/$n.path"
stat -c %a "$KUBECTL_NOTIFY_OBJECT_FILE" > "$d/$n.mode"
env | grep '^KUBECTL_NOTIFY_' | sort > "$d/$n.env"
"#,
        dir.path(),
    );
    let mut runner = Runner::new(spec, policy());
    assert_eq!(runner.submit(job("a", 1)), Submitted::Started);
    assert_eq!(runner.submit(job("b", 2)), Submitted::Queued);
    assert_eq!(runner.submit(job("c", 3)), Submitted::Queued);

    let finished = drain(&mut runner).await;
    assert_eq!(
        finished,
        [("a".into(), 0, 1), ("b".into(), 0, 1), ("c".into(), 0, 1)]
    );
    assert_eq!(lines(dir.path().join("runs")), ["a", "b", "c"]);

    for (n, version) in [("a", 1), ("b", 2), ("c", 3)] {
        let d = dir.path();
        let stdin = std::fs::read(d.join(format!("{n}.stdin"))).unwrap();
        let file = std::fs::read(d.join(format!("{n}.file"))).unwrap();
        assert_eq!(stdin, file, "stdin and the object file hold the same bytes");
        let parsed: Value = serde_json::from_slice(&stdin).unwrap();
        assert_eq!(parsed, object(n, version));

        let path = read(d.join(format!("{n}.path")));
        assert!(
            !Path::new(path.trim()).exists(),
            "object file {path} was removed"
        );
        assert_eq!(read(d.join(format!("{n}.mode"))).trim(), "600");

        let env = lines(d.join(format!("{n}.env")));
        let expected = [
            "KUBECTL_NOTIFY_API_VERSION=v1".to_string(),
            "KUBECTL_NOTIFY_EVENT=modified".into(),
            "KUBECTL_NOTIFY_KIND=ConfigMap".into(),
            format!("KUBECTL_NOTIFY_NAME={n}"),
            "KUBECTL_NOTIFY_NAMESPACE=default".into(),
            format!("KUBECTL_NOTIFY_OBJECT_FILE={}", path.trim()),
            "KUBECTL_NOTIFY_RESOURCE=configmaps".into(),
            format!("KUBECTL_NOTIFY_RESOURCE_VERSION={version}"),
            format!("KUBECTL_NOTIFY_UID=uid-{n}"),
        ];
        assert_eq!(env, expected);
    }
}

#[tokio::test]
async fn shell_metacharacters_in_the_object_are_data_never_code() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    std::fs::write(dir.path().join("keep"), "").unwrap();
    let name = format!("$(touch {d}/p1)`touch {d}/p2`; touch {d}/p3");
    let mut obj = object(&name, 1);
    obj["metadata"]["namespace"] = json!(format!("; rm -rf {d}/keep"));
    obj["data"]["script"] = json!(format!("'\"; touch {d}/p4 #"));
    let spec = script(
        r#"printf '%s\n' "$KUBECTL_NOTIFY_NAME" > "$d/name"
echo $KUBECTL_NOTIFY_NAME $KUBECTL_NOTIFY_NAMESPACE >> "$d/unquoted"
cat > "$d/stdin"
"#,
        dir.path(),
    );
    let job = Job::new("created", "configmaps", obj.clone());
    let code = run_once(&spec, &policy(), job, std::future::pending()).await;

    assert_eq!(code, 0);
    for marker in ["p1", "p2", "p3", "p4"] {
        assert!(!dir.path().join(marker).exists(), "{marker} was executed");
    }
    assert!(dir.path().join("keep").exists());
    assert_eq!(read(dir.path().join("name")), format!("{name}\n"));
    let stdin: Value = serde_json::from_str(&read(dir.path().join("stdin"))).unwrap();
    assert_eq!(stdin, obj);
}

#[tokio::test]
async fn queue_coalesces_per_object_in_place_and_runs_the_rest_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let spec = script(
        &format!(
            r#"touch "$d/started.$KUBECTL_NOTIFY_NAME.$KUBECTL_NOTIFY_RESOURCE_VERSION"
{GATE}echo "$KUBECTL_NOTIFY_NAME $KUBECTL_NOTIFY_RESOURCE_VERSION $(cat)" >> "$d/runs"
"#
        ),
        dir.path(),
    );
    let mut runner = Runner::new(spec, policy());
    assert_eq!(runner.submit(job("a", 1)), Submitted::Started);
    wait_for(&dir.path().join("started.a.1")).await;

    assert_eq!(runner.submit(job("a", 2)), Submitted::Queued);
    assert_eq!(runner.submit(job("b", 1)), Submitted::Queued);
    for version in 3..=5 {
        assert_eq!(runner.submit(job("a", version)), Submitted::Coalesced);
    }
    assert_eq!(runner.submit(job("c", 1)), Submitted::Queued);
    std::fs::write(dir.path().join("go"), "").unwrap();

    let finished = drain(&mut runner).await;
    let order: Vec<&str> = finished.iter().map(|(n, _, _)| n.as_str()).collect();
    assert_eq!(order, ["a", "a", "b", "c"]);
    let runs: Vec<(String, String)> = lines(dir.path().join("runs"))
        .iter()
        .map(|line| {
            let mut words = line.splitn(3, ' ');
            let run = format!("{} {}", words.next().unwrap(), words.next().unwrap());
            (run, words.next().unwrap().to_string())
        })
        .collect();
    let names: Vec<&str> = runs.iter().map(|(run, _)| run.as_str()).collect();
    // a's second run takes the place of a/2 (before b) with the newest object.
    assert_eq!(names, ["a 1", "a 5", "b 1", "c 1"]);
    let stdin: Value = serde_json::from_str(&runs[1].1).unwrap();
    assert_eq!(stdin, object("a", 5));
}

#[tokio::test]
async fn skip_drops_notifications_while_busy() {
    let dir = tempfile::tempdir().unwrap();
    let spec = script(
        &format!(
            r#"touch "$d/started"
{GATE}echo "$KUBECTL_NOTIFY_NAME" >> "$d/runs"
"#
        ),
        dir.path(),
    );
    let policy = Policy {
        on_busy: OnBusy::Skip,
        ..policy()
    };
    let mut runner = Runner::new(spec, policy);
    assert_eq!(runner.submit(job("a", 1)), Submitted::Started);
    wait_for(&dir.path().join("started")).await;
    assert_eq!(runner.submit(job("b", 1)), Submitted::Skipped);
    assert_eq!(runner.submit(job("a", 2)), Submitted::Skipped);
    std::fs::write(dir.path().join("go"), "").unwrap();

    assert_eq!(drain(&mut runner).await, [("a".into(), 0, 1)]);
    assert_eq!(lines(dir.path().join("runs")), ["a"]);

    // Idle again: the next one runs.
    assert_eq!(runner.submit(job("c", 1)), Submitted::Started);
    assert_eq!(drain(&mut runner).await, [("c".into(), 0, 1)]);
}

#[tokio::test]
async fn restart_kills_the_running_group_and_runs_the_newest() {
    let dir = tempfile::tempdir().unwrap();
    let spec = script(
        r#"n=$KUBECTL_NOTIFY_NAME
if [ "$n" = old ]; then
  sleep 100 &
  put "$d/pids" "$$ $!"
  wait
fi
echo "$n" >> "$d/runs"
"#,
        dir.path(),
    );
    let policy = Policy {
        on_busy: OnBusy::Restart,
        ..policy()
    };
    let mut runner = Runner::new(spec, policy);
    let started = Instant::now();
    assert_eq!(runner.submit(job("old", 1)), Submitted::Started);
    wait_for(&dir.path().join("pids")).await;
    let pids: Vec<i32> = read(dir.path().join("pids"))
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect();

    assert_eq!(runner.submit(job("new", 1)), Submitted::Restarted);
    assert_eq!(runner.submit(job("newer", 1)), Submitted::Restarted);
    // The stopped run is not reported; only the newest notification runs.
    assert_eq!(drain(&mut runner).await, [("newer".into(), 0, 1)]);
    assert_eq!(lines(dir.path().join("runs")), ["newer"]);
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "stopped by SIGTERM, not by the 5s SIGKILL"
    );
    for pid in pids {
        assert_gone(pid).await;
    }
}

#[tokio::test]
async fn exec_timeout_stops_a_run_and_counts_as_a_failure() {
    let policy = Policy {
        exec_timeout: Some(Duration::from_millis(200)),
        retries: 1,
        ..policy()
    };
    let started = Instant::now();
    let mut runner = Runner::new(program("sleep", &["60"]), policy.clone());
    runner.submit(job("a", 1));
    assert_eq!(drain(&mut runner).await, [("a".into(), TIMED_OUT, 2)]);
    assert!(started.elapsed() < Duration::from_secs(10));

    let code = run_once(
        &program("sleep", &["60"]),
        &policy,
        job("a", 1),
        std::future::pending(),
    )
    .await;
    assert_eq!(code, TIMED_OUT);
}

#[tokio::test]
async fn shutdown_during_a_timeout_stop_ends_the_job_without_retrying() {
    let dir = tempfile::tempdir().unwrap();
    // The first SIGTERM (exec_timeout) is survived; the second (shutdown) ends it.
    let spec = script(
        r#"echo run >> "$d/runs"
n=0
trap 'n=$((n+1)); put "$d/term.$n" 1; [ $n -ge 2 ] && exit 0' TERM
while :; do sleep 0.05; done
"#,
        dir.path(),
    );
    let policy = Policy {
        exec_timeout: Some(Duration::from_millis(200)),
        retries: 3,
        ..policy()
    };
    let mut runner = Runner::new(spec, policy);
    runner.submit(job("a", 1));
    wait_for(&dir.path().join("term.1")).await;

    let started = Instant::now();
    runner.shutdown(Some(libc::SIGTERM)).await;
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "not killed after the 5s grace"
    );
    assert!(dir.path().join("term.2").exists());
    assert_eq!(lines(dir.path().join("runs")), ["run"], "no retry");
}

#[tokio::test]
async fn a_failing_run_is_retried_with_growing_backoff() {
    let dir = tempfile::tempdir().unwrap();
    let spec = script(
        r#"date +%s%N >> "$d/times"
[ "$(wc -l < "$d/times")" -ge 3 ]
"#,
        dir.path(),
    );
    let base = Duration::from_millis(100);
    let policy = Policy {
        retries: 5,
        retry_base: base,
        ..policy()
    };
    let mut runner = Runner::new(spec, policy);
    runner.submit(job("a", 1));
    assert_eq!(drain(&mut runner).await, [("a".into(), 0, 3)]);

    let times: Vec<u128> = lines(dir.path().join("times"))
        .iter()
        .map(|t| t.parse().unwrap())
        .collect();
    assert_eq!(times.len(), 3);
    let gaps: Vec<Duration> = times
        .windows(2)
        .map(|w| Duration::from_nanos((w[1] - w[0]) as u64))
        .collect();
    // Lower bounds only: a sleep never ends early, but may end late.
    assert!(gaps[0] >= base, "{gaps:?}");
    assert!(gaps[1] >= base * 2, "{gaps:?}");
}

#[tokio::test]
async fn retries_run_out_with_the_last_code() {
    let policy = Policy {
        retries: 2,
        ..policy()
    };
    let mut runner = Runner::new(program("sh", &["-c", "exit 3"]), policy);
    runner.submit(job("a", 1));
    assert_eq!(drain(&mut runner).await, [("a".into(), 3, 3)]);
}

#[test]
fn backoff_doubles_from_the_base_up_to_the_cap() {
    let base = Duration::from_millis(250);
    let waits: Vec<u128> = (1..=9).map(|n| backoff(base, n).as_millis()).collect();
    assert_eq!(
        waits,
        [250, 500, 1000, 2000, 4000, 8000, 16000, 30000, 30000]
    );
    assert_eq!(backoff(base, u32::MAX), MAX_BACKOFF);
}

#[tokio::test]
async fn max_failures_consecutive_failures_are_fatal_with_the_last_code() {
    let policy = Policy {
        max_failures: Some(2),
        ..policy()
    };
    // Each job exits with its resourceVersion.
    let spec = program("sh", &["-c", r#"exit "$KUBECTL_NOTIFY_RESOURCE_VERSION""#]);
    let mut runner = Runner::new(spec, policy);
    for (n, code) in [("a", 3), ("b", 0), ("c", 4), ("d", 5), ("e", 0)] {
        runner.submit(job(n, code));
    }
    let mut reports = Vec::new();
    loop {
        match runner.next().await {
            Report::Finished { job, code, .. } => reports.push((name(&job), code)),
            Report::Fatal { job, code } => {
                reports.push((format!("fatal {}", name(&job)), code));
                break;
            }
        }
    }
    assert_eq!(
        reports,
        [
            ("a".into(), 3),
            ("b".into(), 0),
            ("c".into(), 4),
            ("fatal d".into(), 5)
        ]
    );
    assert!(runner.is_idle(), "the queue is dropped");
}

#[tokio::test]
async fn shutdown_forwards_sigterm_to_the_group_and_waits() {
    let dir = tempfile::tempdir().unwrap();
    let spec = script(
        r#"trap 'echo term > "$d/marker"; exit 0' TERM
sleep 100 &
put "$d/grandchild" $!
wait
"#,
        dir.path(),
    );
    let mut runner = Runner::new(spec, policy());
    runner.submit(job("a", 1));
    runner.submit(job("b", 1));
    wait_for(&dir.path().join("grandchild")).await;
    let grandchild = read_pid(dir.path().join("grandchild"));

    let started = Instant::now();
    runner.shutdown(Some(libc::SIGTERM)).await;
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "ended by SIGTERM, not by the 5s SIGKILL"
    );
    // The script's trap ran before shutdown returned.
    assert_eq!(read(dir.path().join("marker")), "term\n");
    assert_gone(grandchild).await;
}

#[tokio::test]
async fn shutdown_forwards_sigint_and_leaves_no_orphans() {
    if sigint_ignored() {
        // Inherited as ignored (tests started with `&` by a script), sh may
        // not trap it: POSIX.
        eprintln!("skipped: SIGINT is ignored in this process");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // A non-interactive sh starts `sleep &` with SIGINT ignored: it survives
    // the forwarded signal, and the group's cleanup must kill it.
    let spec = script(
        r#"trap 'echo int > "$d/marker"; exit 0' INT
sleep 100 &
put "$d/grandchild" $!
wait
"#,
        dir.path(),
    );
    let mut runner = Runner::new(spec, policy());
    runner.submit(job("a", 1));
    wait_for(&dir.path().join("grandchild")).await;
    let grandchild = read_pid(dir.path().join("grandchild"));

    runner.shutdown(Some(libc::SIGINT)).await;
    assert_eq!(read(dir.path().join("marker")), "int\n");
    assert_gone(grandchild).await;
}

fn sigint_ignored() -> bool {
    // SAFETY: a query only (null new action) into a zeroed sigaction.
    unsafe {
        let mut current: libc::sigaction = std::mem::zeroed();
        libc::sigaction(libc::SIGINT, std::ptr::null(), &mut current);
        current.sa_sigaction == libc::SIG_IGN
    }
}

#[tokio::test]
async fn shutdown_kills_a_group_that_ignores_sigterm_after_stop_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let spec = script(
        r#"trap '' TERM
sleep 100 &
put "$d/pids" "$$ $!"
wait
"#,
        dir.path(),
    );
    let stop_timeout = Duration::from_millis(300);
    let policy = Policy {
        stop_timeout,
        ..policy()
    };
    let mut runner = Runner::new(spec, policy);
    runner.submit(job("a", 1));
    wait_for(&dir.path().join("pids")).await;

    let started = Instant::now();
    runner.shutdown(None).await;
    let took = started.elapsed();
    assert!(took >= stop_timeout, "waited the grace period ({took:?})");
    assert!(took < Duration::from_secs(10), "then killed ({took:?})");
    for pid in read(dir.path().join("pids")).split_whitespace() {
        assert_gone(pid.parse().unwrap()).await;
    }
}

#[tokio::test]
async fn a_dropped_runner_kills_its_command() {
    let dir = tempfile::tempdir().unwrap();
    let spec = script(
        r#"sleep 100 &
put "$d/pids" "$$ $!"
wait
"#,
        dir.path(),
    );
    let mut runner = Runner::new(spec, policy());
    runner.submit(job("a", 1));
    wait_for(&dir.path().join("pids")).await;
    drop(runner);
    for pid in read(dir.path().join("pids")).split_whitespace() {
        assert_gone(pid.parse().unwrap()).await;
    }
}

#[tokio::test]
async fn a_large_object_does_not_block_a_command_that_ignores_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let mut big = object("big", 1);
    big["data"]["blob"] = json!("x".repeat(1 << 20));
    let size = serde_json::to_vec(&big).unwrap().len() + 1;
    let job = || Job::new("modified", "configmaps", big.clone());
    let started = Instant::now();

    for ignores_stdin in [program("true", &[]), program("sleep", &["0.2"])] {
        let code = run_once(&ignores_stdin, &policy(), job(), std::future::pending()).await;
        assert_eq!(code, 0);
    }
    let counts = script(r#"wc -c > "$d/size""#, dir.path());
    assert_eq!(
        run_once(&counts, &policy(), job(), std::future::pending()).await,
        0
    );
    assert_eq!(read(dir.path().join("size")).trim(), size.to_string());
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn run_once_returns_the_commands_code_shell_style() {
    let once = |spec: CommandSpec| async move {
        run_once(&spec, &policy(), job("a", 1), std::future::pending()).await
    };
    assert_eq!(once(program("sh", &["-c", "exit 7"])).await, 7);
    assert_eq!(once(program("true", &[])).await, 0);
    assert_eq!(once(program("sh", &["-c", "kill -9 $$"])).await, 128 + 9);
    assert_eq!(
        once(program("sh", &["-c", "kill -TERM $$"])).await,
        128 + 15
    );
    // Vanished between check_command and the run: the shell's 127.
    assert_eq!(once(program("/nonexistent/reload.sh", &[])).await, 127);
}

#[tokio::test]
async fn run_once_forwards_an_interrupt_and_returns_128_plus_signo() {
    let interrupt = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        libc::SIGTERM
    };
    let started = Instant::now();
    let code = run_once(
        &program("sleep", &["60"]),
        &policy(),
        job("a", 1),
        interrupt,
    )
    .await;
    assert_eq!(code, 128 + 15);
    assert!(started.elapsed() < Duration::from_secs(4));
}

fn write_file(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn check_command_finds_commands_like_execvp() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    assert_eq!(check_command(&program("sh", &[])), Ok(()));
    let missing = check_command(&program("kubectl-notify-no-such-cmd", &[])).unwrap_err();
    assert!(
        missing.contains("'kubectl-notify-no-such-cmd'"),
        "{missing}"
    );
    assert!(missing.contains("not found on PATH"), "{missing}");

    let plain = d.join("plain.sh");
    write_file(&plain, 0o644);
    let err = check_command(&program(plain.to_str().unwrap(), &[])).unwrap_err();
    assert!(
        err.contains("not executable") && err.contains("chmod +x"),
        "{err}"
    );

    let err = check_command(&program(d.to_str().unwrap(), &[])).unwrap_err();
    assert!(err.contains("is a directory"), "{err}");

    let err = check_command(&program(d.join("absent").to_str().unwrap(), &[])).unwrap_err();
    assert!(err.contains("no such file"), "{err}");
    assert!(err.lines().count() == 1, "{err}");
}

#[test]
fn check_command_resolves_relative_paths_from_the_current_directory() {
    let here = tempfile::tempdir_in(".").unwrap();
    let rel = format!("./{}", here.path().file_name().unwrap().to_str().unwrap());
    write_file(&here.path().join("x"), 0o755);

    assert_eq!(check_command(&program(&format!("{rel}/x"), &[])), Ok(()));
    let err = check_command(&program(&format!("{rel}/y"), &[])).unwrap_err();
    assert!(err.contains(&format!("'{rel}/y'")), "{err}");
    assert!(err.contains("relative to"), "{err}");
}

#[test]
fn check_command_searches_path_past_non_executable_files() {
    let (first, second) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    write_file(&first.path().join("tool"), 0o644);
    let path = |dirs: &[&Path]| Some(std::env::join_paths(dirs).unwrap());

    let err = check_with_path("tool", path(&[first.path()])).unwrap_err();
    assert!(
        err.contains(&format!(
            "{}/tool is not executable",
            first.path().display()
        )),
        "{err}"
    );

    write_file(&second.path().join("tool"), 0o755);
    assert_eq!(
        check_with_path("tool", path(&[first.path(), second.path()])),
        Ok(())
    );
    assert!(check_with_path("", path(&[second.path()])).is_err());
}

#[test]
fn check_command_names_a_missing_script_interpreter() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("s.sh");
    std::fs::write(&script, "#!/nonexistent/interp -e\necho hi\n").unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let err = check_command(&program(script.to_str().unwrap(), &[])).unwrap_err();
    assert!(
        err.contains("/nonexistent/interp") && err.contains("#!"),
        "{err}"
    );
    let err = check_with_path("s.sh", Some(dir.path().as_os_str().to_owned())).unwrap_err();
    assert!(
        err.contains("/nonexistent/interp"),
        "found on PATH too: {err}"
    );
    std::fs::write(&script, "#!/bin/sh\necho hi\n").unwrap();
    assert_eq!(
        check_command(&program(script.to_str().unwrap(), &[])),
        Ok(())
    );
    std::fs::write(&script, "#!  /bin/sh  -e\n").unwrap();
    assert_eq!(
        check_command(&program(script.to_str().unwrap(), &[])),
        Ok(()),
        "spaces after #!"
    );
}
