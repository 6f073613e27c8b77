//! The status line, seen in a real terminal (tmux): it shows every target and
//! the values the condition reads while waiting, and leaves the screen clean
//! when the wait ends, Ctrl-C included. `.ci/run` installs tmux.

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::*;

/// A tmux server of our own, killed when dropped.
struct Terminal {
    socket: String,
}

impl Terminal {
    fn run(s: &Scenario, args: &[&str]) -> Terminal {
        let socket = format!(
            "kubectl-notify-test-{}",
            std::process::id() as u64 * 1000 + rand_suffix()
        );
        let quoted: Vec<String> = args
            .iter()
            .map(|a| format!("'{}'", a.replace('\'', "'\\''")))
            .collect();
        let shell = format!(
            "KUBECONFIG='{}' HOME='{}' '{}' {}; echo EXIT=$?; sleep 60",
            s.kubeconfig.display(),
            s.dir.path().display(),
            bin().display(),
            quoted.join(" ")
        );
        let started = Command::new("tmux")
            .args([
                "-L",
                &socket,
                "new-session",
                "-d",
                "-x",
                "150",
                "-y",
                "12",
                &shell,
            ])
            .env_remove("TMUX")
            .status()
            .expect("tmux not found: install it (apt-get install tmux)");
        assert!(started.success());
        Terminal { socket }
    }

    fn screen(&self) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket, "capture-pane", "-p"])
            .output()
            .unwrap();
        text(&out.stdout)
    }

    fn keys(&self, keys: &str) {
        Command::new("tmux")
            .args(["-L", &self.socket, "send-keys", keys])
            .status()
            .unwrap();
    }

    /// Waits until the screen satisfies `ready`, returning it.
    fn wait_for(&self, what: &str, ready: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let screen = self.screen();
            if ready(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "never saw {what}; screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .status();
    }
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::SeqCst)
}

const SPINNER: &[char] = &['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

#[test]
fn the_status_line_shows_targets_and_values_then_leaves_a_clean_screen() {
    let s = Scenario::new();
    s.widget("foo", json!({}), json!({"ready": false}));
    let term = Terminal::run(
        &s,
        &["widgets/foo", "wg/late", "--until", ".status.ready == true"],
    );
    // First each target is `listing…`; then its state, once listed.
    let screen = term.wait_for("the status line", |sc| {
        sc.contains("waiting") && !sc.contains("listing…")
    });
    let line = screen.lines().find(|l| l.contains("waiting")).unwrap();
    assert!(line.starts_with(SPINNER), "{line}");
    assert!(
        line.contains("widget.example.com/foo  .status.ready = false"),
        "{line}"
    );
    assert!(
        line.contains("widget.example.com/late  not found yet"),
        "{line}"
    );
    // Redrawn once a second: the time waited moves on.
    term.wait_for("the clock to move", |sc| sc.contains("(waiting 2s)"));

    s.widget("late", json!({}), json!({"ready": true}));
    term.wait_for("late's values", |sc| {
        sc.contains("widget.example.com/late  .status.ready = true")
    });
    s.set_status("foo", json!({"ready": true}));
    let screen = term.wait_for("the exit", |sc| sc.contains("EXIT="));
    let lines: Vec<&str> = screen.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(
        lines,
        [
            "widget.example.com/foo condition met",
            "widget.example.com/late condition met",
            "EXIT=0"
        ],
        "{screen}"
    );
}

#[test]
fn ctrl_c_erases_the_status_line() {
    let s = Scenario::new();
    s.widget("foo", json!({}), json!({"ready": false}));
    let term = Terminal::run(&s, &["widgets/foo", "--until", ".status.ready == true"]);
    term.wait_for("the status line", |sc| sc.contains("waiting"));
    term.keys("C-c");
    let screen = term.wait_for("the exit", |sc| sc.contains("EXIT="));
    assert!(screen.contains("EXIT=130"), "{screen}");
    assert!(
        !screen.contains("waiting") && !screen.contains(SPINNER),
        "status line left behind:\n{screen}"
    );
}

#[test]
fn quiet_shows_no_status_line() {
    let s = Scenario::new();
    s.widget("foo", json!({}), json!({"ready": false}));
    let term = Terminal::run(
        &s,
        &[
            "widgets/foo",
            "--until",
            ".status.ready == true",
            "-q",
            "--timeout",
            "2s",
        ],
    );
    let screen = term.wait_for("the exit", |sc| sc.contains("EXIT="));
    assert!(screen.contains("EXIT=124"), "{screen}");
    assert!(
        !screen.contains("(waiting ") && !screen.contains(SPINNER),
        "{screen}"
    );
}

#[test]
fn the_status_line_shows_the_newest_warning_event_of_a_target() {
    let s = Scenario::new();
    let foo = s.widget("foo", json!({}), json!({"ready": false}));
    s.server.event(
        &foo,
        "Warning",
        "OlderTrouble",
        "long ago",
        1,
        Duration::from_secs(600),
    );
    s.server.event(
        &foo,
        "Warning",
        "QuotaExceeded",
        "exceeded quota: widgets-small",
        3,
        Duration::from_secs(40),
    );
    s.server.event(
        &foo,
        "Normal",
        "Scheduled",
        "fine",
        1,
        Duration::from_secs(5),
    );
    let term = Terminal::run(&s, &["widgets/foo", "--until", ".status.ready == true"]);
    let screen = term.wait_for("the warning's reason", |sc| {
        sc.lines()
            .any(|l| l.contains("waiting") && l.contains("warning: QuotaExceeded"))
    });
    assert!(!screen.contains("OlderTrouble"), "{screen}");
    assert!(!screen.contains("Scheduled"), "{screen}");
    s.set_status("foo", json!({"ready": true}));
    let screen = term.wait_for("the exit", |sc| sc.contains("EXIT="));
    assert!(!screen.contains("warning:"), "the line is erased: {screen}");
}
