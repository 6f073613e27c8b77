//! Why a wait did not succeed (SPEC §10): per unmet object, each clause with
//! the value seen, its conditions, newest Warning events and, for a workload,
//! the pods that are not ready. Also what `--for ready` and the status line
//! learn from the same reads while waiting: hopeless pods, the newest Warning.

mod read;
pub mod workload;

use std::time::{Duration, SystemTime};

use kube::Client;
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::condition::{Condition, Verdict, ready};
use crate::target::{Selection, Target};
use crate::tracker::Tracker;
use read::{Listed, list};

/// How long gathering may take when `--request-timeout` does not say.
pub const BOUND: Duration = Duration::from_secs(2);

/// The reads an explanation makes, bounded as a whole.
pub struct Reader<'a> {
    pub client: &'a Client,
    pub deadline: Instant,
    pub verbose: bool,
}

impl Reader<'_> {
    /// A list, or nothing once the deadline has passed; refusals are said
    /// under `-v` and left out.
    async fn list(
        &self,
        prefix: &str,
        namespace: &str,
        plural: &str,
        labels: Option<&str>,
        fields: Option<&str>,
    ) -> Option<Vec<Value>> {
        let read = list(self.client, prefix, namespace, plural, labels, fields);
        let what = format!("{plural} in {namespace}");
        match tokio::time::timeout_at(self.deadline, read).await {
            Ok(Listed::Items(items)) => Some(items),
            Ok(Listed::Denied(why)) => {
                self.note(&format!("left out {what}: {why}"));
                None
            }
            Ok(Listed::Failed(why)) => {
                self.note(&format!("left out {what}: {why}"));
                None
            }
            Ok(Listed::NotServed) => None,
            Err(_) => {
                self.note(&format!("left out {what}: no answer in time"));
                None
            }
        }
    }

    fn note(&self, text: &str) {
        if self.verbose {
            crate::term::erase();
            crate::term::stderr_line!("explaining: {text}");
        }
    }

    /// Up to three newest Warning events about the object, by UID, from
    /// events.k8s.io/v1 where served, else core v1.
    pub async fn warnings(&self, obj: &Value) -> Vec<Value> {
        self.events(obj, false).await
    }

    /// The newest Warning events and, with `any`, the newest event of any
    /// type first when it is not a Warning: for an object with no
    /// conditions it may be the only cause (a Pending claim's Normal
    /// `FailedBinding`).
    async fn events(&self, obj: &Value, any: bool) -> Vec<Value> {
        let (Some(namespace), Some(uid)) = (
            obj["metadata"]["namespace"].as_str(),
            obj["metadata"]["uid"].as_str(),
        ) else {
            return Vec::new();
        };
        let v1 = format!("regarding.uid={uid}");
        let events = match self
            .list(
                "/apis/events.k8s.io/v1",
                namespace,
                "events",
                None,
                Some(&v1),
            )
            .await
        {
            Some(events) => events,
            None => {
                let core = format!("involvedObject.uid={uid}");
                let listed = self.list("/api/v1", namespace, "events", None, Some(&core));
                listed.await.unwrap_or_default()
            }
        };
        let mut events: Vec<Value> = events.iter().map(event).collect();
        events.sort_by(|a, b| b["last"].as_str().cmp(&a["last"].as_str()));
        let newest = events.first().filter(|e| e["type"] != "Warning").cloned();
        events.retain(|e| e["type"] == "Warning");
        events.truncate(3);
        if any && let Some(newest) = newest {
            events.insert(0, newest);
        }
        events
    }

    /// The pods of a workload's current revision that are not ready: for a
    /// Deployment through its current ReplicaSet; a Pod target is its own.
    /// None until the controller has observed the workload's generation: the
    /// pods it has then are not yet the ones the spec asks for.
    pub async fn unready_pods(&self, group: &str, kind: &str, obj: &Value) -> Vec<Value> {
        self.pods(group, kind, obj).await.0
    }

    /// The unready pods of the current revision, and those of older ones
    /// that stop a StatefulSet's rolling update (it waits for every pod).
    async fn pods(&self, group: &str, kind: &str, obj: &Value) -> (Vec<Value>, Vec<Value>) {
        if (group, kind) == ("", "Pod") {
            let unready = !workload::pod_ready(obj);
            return (
                unready.then(|| obj.clone()).into_iter().collect(),
                Vec::new(),
            );
        }
        if !workload::follows_pods(group, kind) || !ready::observed(group, kind, obj) {
            return (Vec::new(), Vec::new());
        }
        let Some(namespace) = obj["metadata"]["namespace"].as_str() else {
            return (Vec::new(), Vec::new());
        };
        let labels = workload::selector(obj);
        let owner = if kind == "Deployment" {
            let Some(sets) = self
                .list(
                    "/apis/apps/v1",
                    namespace,
                    "replicasets",
                    labels.as_deref(),
                    None,
                )
                .await
            else {
                return (Vec::new(), Vec::new());
            };
            match workload::current_replica_set(obj, &sets) {
                Some(set) => set.clone(),
                None => return (Vec::new(), Vec::new()),
            }
        } else {
            obj.clone()
        };
        let hash = if kind == "DaemonSet" {
            let revisions = self.list(
                "/apis/apps/v1",
                namespace,
                "controllerrevisions",
                labels.as_deref(),
                None,
            );
            let revisions = revisions.await.unwrap_or_default();
            workload::daemon_set_hash(obj, &revisions)
        } else {
            None
        };
        let Some(pods) = self
            .list("/api/v1", namespace, "pods", labels.as_deref(), None)
            .await
        else {
            return (Vec::new(), Vec::new());
        };
        let mut workload = obj.clone();
        workload["kind"] = json!(kind);
        let (current, older): (Vec<Value>, Vec<Value>) = pods
            .into_iter()
            .filter(|pod| workload::owned_by(pod, &owner))
            .filter(|pod| !workload::pod_ready(pod))
            .partition(|pod| workload::current_revision(&workload, hash.as_deref(), pod));
        let blocking = if kind == "StatefulSet" {
            older
        } else {
            Vec::new()
        };
        (current, blocking)
    }
}

/// One event, whichever API it came from, as the explanation shows it.
fn event(e: &Value) -> Value {
    let first = |keys: &[&str]| keys.iter().map(|k| pointer(e, k)).find(|v| !v.is_null());
    let last = first(&[
        "/series/lastObservedTime",
        "/deprecatedLastTimestamp",
        "/lastTimestamp",
        "/eventTime",
        "/metadata/creationTimestamp",
    ]);
    let count = first(&["/series/count", "/deprecatedCount", "/count"]);
    json!({
        "type": e["type"],
        "reason": e["reason"],
        "message": first(&["/note", "/message"]).unwrap_or(Value::Null),
        "count": count.and_then(|c| c.as_u64()).unwrap_or(1),
        "last": last.unwrap_or(Value::Null),
    })
}

fn pointer(v: &Value, at: &str) -> Value {
    v.pointer(at).cloned().unwrap_or(Value::Null)
}

/// Everything known about why each target did not hold, one JSON value per
/// unmet object (or absent target), in target order.
pub async fn gather(
    reader: &Reader<'_>,
    condition: &Condition,
    targets: &[Target],
    tracker: &Tracker,
) -> Vec<Value> {
    let mut out = Vec::new();
    for (index, target) in targets.iter().enumerate() {
        let (group, kind) = (&target.api.group, &target.api.kind);
        if !target.served {
            let why = target.not_served();
            out.push(json!({"object": target.display(), "absent": why}));
            continue;
        }
        if tracker.len(index) == 0 {
            if condition.judge(group, kind, None) != Verdict::Met {
                // A failure elsewhere may end the wait before this
                // target's first list came: absent is not known then.
                let why = match &target.selection {
                    _ if !tracker.synced(index) => "not listed yet",
                    Selection::Name(_) => "not found",
                    Selection::Query { .. } => "no object matches",
                };
                out.push(json!({"object": target.display(), "absent": why}));
            }
            continue;
        }
        for entry in tracker.entries(index) {
            let obj = &entry.object;
            if condition.judge(group, kind, Some(obj)) == Verdict::Met {
                continue;
            }
            let conditions: Vec<Value> = obj["status"]["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| {
                    json!({
                        "type": c["type"], "status": c["status"], "reason": c["reason"],
                        "message": c["message"], "since": c["lastTransitionTime"],
                        "updated": c["lastUpdateTime"],
                    })
                })
                .collect();
            let events = reader.events(obj, conditions.is_empty()).await;
            let (current, blocking) = reader.pods(group, kind, obj).await;
            let mut pods: Vec<Value> = current.iter().map(workload::pod_report).collect();
            pods.extend(blocking.iter().map(|pod| {
                let mut report = workload::pod_report(pod);
                report["blocks"] = json!("old revision, blocks the rollout");
                report
            }));
            out.push(json!({
                "object": target.object_said(obj),
                "namespace": obj["metadata"]["namespace"],
                "clauses": condition.clauses(group, kind, obj),
                "conditions": conditions,
                "events": events,
                "pods": pods,
            }));
        }
    }
    out
}

/// `--for ready` on a workload: the first pod of its current revision that
/// cannot start by waiting, as `pod P container C: Reason: message`.
pub async fn hopeless_pod(
    reader: &Reader<'_>,
    group: &str,
    kind: &str,
    obj: &Value,
) -> Option<String> {
    let pods = reader.unready_pods(group, kind, obj).await;
    let crash_loops = (group, kind) != ("batch", "Job");
    pods.iter()
        .find_map(|pod| workload::hopeless(pod, crash_loops))
}

/// The explanation as a person reads it in a CI log: indented under the
/// one-line error, no colour.
pub fn render(reports: &[Value], now: SystemTime) -> String {
    let mut out = String::new();
    let ago = |at: &Value| {
        let at = humantime::parse_rfc3339(at.as_str()?).ok()?;
        Some(format!(
            "{} ago",
            short(now.duration_since(at).unwrap_or_default())
        ))
    };
    let age = |at: &Value| ago(at).map(|ago| format!("   ({ago})")).unwrap_or_default();
    // A condition's age is since its last transition; a Deployment's also
    // says when its controller last wrote it (lastUpdateTime).
    let since = |c: &Value| match (ago(&c["since"]), ago(&c["updated"])) {
        (Some(since), Some(updated)) => format!("   (since {since}; updated {updated})"),
        (Some(since), None) => format!("   (since {since})"),
        (None, Some(updated)) => format!("   (updated {updated})"),
        (None, None) => String::new(),
    };
    let text = |v: &Value| v.as_str().map(str::to_string).unwrap_or_default();
    for report in reports {
        out.push_str(&format!("  {}\n", text(&report["object"])));
        if let Some(why) = report["absent"].as_str() {
            out.push_str(&format!("    {why}\n"));
            continue;
        }
        for clause in report["clauses"].as_array().into_iter().flatten() {
            let mark = match (clause["failIf"] == true, clause["holds"] == true) {
                (true, true) => "failed",
                (true, false) => "ok",
                (false, true) => "ok",
                (false, false) => "no",
            };
            let lead = if clause["failIf"] == true {
                "--fail-if "
            } else {
                ""
            };
            if let Some(form) = clause["for"].as_str() {
                match clause["why"].as_str() {
                    Some(why) => out.push_str(&format!("    [{mark}] --for {form}: {why}\n")),
                    None => out.push_str(&format!("    [{mark}] --for {form}\n")),
                }
                continue;
            }
            let seen = match clause["seen"].as_array().map(Vec::as_slice) {
                None | Some([]) => ": absent".to_string(),
                Some([one]) => format!(" = {one}"),
                Some(many) => format!(
                    " = {}",
                    many.iter()
                        .map(Value::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            out.push_str(&format!(
                "    [{mark}] {lead}{}{seen}, wants {}\n",
                text(&clause["path"]),
                text(&clause["wants"])
            ));
        }
        for c in report["conditions"].as_array().into_iter().flatten() {
            let mut line = format!("    condition {}={}", text(&c["type"]), text(&c["status"]));
            let (reason, message) = (text(&c["reason"]), text(&c["message"]));
            if !reason.is_empty() {
                line.push_str(&format!("  {reason}"));
            }
            if !message.is_empty() {
                line.push_str(&format!(": {message}"));
            }
            line.push_str(&since(c));
            out.push_str(&format!("{line}\n"));
        }
        for e in report["events"].as_array().into_iter().flatten() {
            out.push_str(&format!(
                "    event {} {} ×{}: {}{}\n",
                e["type"].as_str().unwrap_or("Warning"),
                text(&e["reason"]),
                e["count"],
                text(&e["message"]),
                age(&e["last"])
            ));
        }
        let pods = report["pods"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        for pod in pods.iter().take(PODS_SHOWN) {
            let mut line = format!("    pod {} {}", text(&pod["name"]), text(&pod["phase"]));
            if let Some(blocks) = pod["blocks"].as_str() {
                line.push_str(&format!(" ({blocks})"));
            }
            if pod["terminating"] == true {
                line.push_str(" (terminating)");
            }
            if let Some(message) = pod["unschedulable"].as_str() {
                line.push_str(&format!(": Unschedulable: {message}"));
            }
            out.push_str(&format!("{line}\n"));
            for c in pod["containers"].as_array().into_iter().flatten() {
                let mut line = format!(
                    "      container {} {} {}",
                    text(&c["name"]),
                    text(&c["state"]),
                    text(&c["reason"])
                );
                let message = text(&c["message"]);
                if !message.is_empty() {
                    line.push_str(&format!(": {message}"));
                }
                if let Some(code) = c["exitCode"].as_i64() {
                    line.push_str(&format!(" (exit {code})"));
                }
                line.push_str(&format!(", restarts {}", c["restartCount"]));
                if let Some(last) = c["lastTerminatedReason"].as_str() {
                    line.push_str(&format!(", last terminated: {last}"));
                }
                out.push_str(&format!("{line}\n"));
            }
        }
        if pods.len() > PODS_SHOWN {
            let more = pods.len() - PODS_SHOWN;
            out.push_str(&format!("    and {more} more pods not ready\n"));
        }
    }
    out.trim_end().to_string()
}

/// How many pods the text shows per object (the JSON has them all).
const PODS_SHOWN: usize = 10;

/// `3m`, `40s`, `2h5m`: an age as kubectl shows it, to the second at most.
fn short(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{}", s / 60, nonzero(s % 60, "s")),
        3600..86400 => format!("{}h{}", s / 3600, nonzero(s % 3600 / 60, "m")),
        _ => format!("{}d{}", s / 86400, nonzero(s % 86400 / 3600, "h")),
    }
}

fn nonzero(n: u64, unit: &str) -> String {
    if n == 0 {
        String::new()
    } else {
        format!("{n}{unit}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_are_short() {
        assert_eq!(short(Duration::from_secs(40)), "40s");
        assert_eq!(short(Duration::from_secs(180)), "3m");
        assert_eq!(short(Duration::from_secs(7500)), "2h5m");
    }

    #[test]
    fn a_report_reads_as_lines_under_the_error() {
        let now = humantime::parse_rfc3339("2026-01-01T00:03:00Z").unwrap();
        let report = json!({
            "object": "widget.example.com/foo",
            "clauses": [{"path": ".status.ready", "seen": [false], "wants": "== true", "holds": false},
                        {"path": ".status.phase", "seen": [], "wants": "exists", "holds": false}],
            "conditions": [{"type": "Ready", "status": "False", "reason": "Provisioning",
                            "message": "waiting for quota", "since": "2026-01-01T00:00:00Z"}],
            "events": [{"reason": "QuotaExceeded", "message": "exceeded quota", "count": 3,
                        "last": "2026-01-01T00:02:20Z"}],
            "pods": [],
        });
        assert_eq!(
            render(&[report], now),
            "  widget.example.com/foo\n\
             \x20   [no] .status.ready = false, wants == true\n\
             \x20   [no] .status.phase: absent, wants exists\n\
             \x20   condition Ready=False  Provisioning: waiting for quota   (since 3m ago)\n\
             \x20   event Warning QuotaExceeded ×3: exceeded quota   (40s ago)"
        );
    }

    #[test]
    fn ages_say_since_and_updated_events_their_type_pods_what_blocks() {
        let now = humantime::parse_rfc3339("2026-01-01T00:03:00Z").unwrap();
        let report = json!({
            "object": "statefulset.apps/db",
            "clauses": [],
            "conditions": [{"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated",
                            "message": "", "since": "2026-01-01T00:01:51Z",
                            "updated": "2026-01-01T00:02:57Z"}],
            "events": [{"type": "Normal", "reason": "FailedBinding", "message": "no volumes",
                        "count": 2, "last": "2026-01-01T00:02:00Z"}],
            "pods": [{"name": "db-0", "phase": "Running", "containers": [],
                      "blocks": "old revision, blocks the rollout"}],
        });
        assert_eq!(
            render(&[report], now),
            "  statefulset.apps/db\n\
             \x20   condition Progressing=True  ReplicaSetUpdated   (since 1m9s ago; updated 3s ago)\n\
             \x20   event Normal FailedBinding ×2: no volumes   (1m ago)\n\
             \x20   pod db-0 Running (old revision, blocks the rollout)"
        );
    }
}
