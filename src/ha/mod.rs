//! Running as one of several replicas: `--leader-elect` (only the lease
//! holder watches and delivers) and `--checkpoint` (resume where the last
//! active replica stopped). The notify loop drives both through
//! `run::replica::Replica`; nothing here knows how watching is done.

pub mod checkpoint;
pub mod lease;

use lease::Timings;
use serde_json::Value;

/// What the plan asks of high availability.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HaPlan {
    /// `--leader-elect`: the Lease's name and the timings.
    pub lease: Option<(String, Timings)>,
    /// `--checkpoint NAME`.
    pub checkpoint: Option<String>,
}

/// The lease name without `--lease`.
pub const DEFAULT_LEASE: &str = "kubectl-notify";

impl HaPlan {
    /// The notifier's own objects, kept in `namespace` (the context's or
    /// `-n`): its Lease and its checkpoint ConfigMap.
    pub fn own(&self, namespace: &str) -> Own {
        Own {
            namespace: namespace.to_string(),
            lease: self.lease.as_ref().map(|(name, _)| name.clone()),
            checkpoint: self.checkpoint.clone(),
        }
    }
}

/// The Lease and checkpoint ConfigMap the notifier writes itself: never
/// objects of a rule, or a rule watching ConfigMaps would be told of every
/// checkpoint write, each telling making the next write, for ever.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Own {
    namespace: String,
    lease: Option<String>,
    checkpoint: Option<String>,
}

impl Own {
    /// Whether `object`, of the type `group`/`plural`, is one of them.
    pub fn holds(&self, group: &str, plural: &str, object: &Value) -> bool {
        let name = match (group, plural) {
            ("", "configmaps") => &self.checkpoint,
            ("coordination.k8s.io", "leases") => &self.lease,
            _ => return false,
        };
        let Some(name) = name else {
            return false;
        };
        let metadata = &object["metadata"];
        metadata["name"].as_str() == Some(name.as_str())
            && metadata["namespace"].as_str() == Some(self.namespace.as_str())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn object(namespace: &str, name: &str) -> Value {
        json!({"metadata": {"name": name, "namespace": namespace}})
    }

    #[test]
    fn only_its_own_lease_and_checkpoint_in_its_namespace_are_its_own() {
        let plan = HaPlan {
            lease: Some(("l1".into(), Timings::CLIENT_GO)),
            checkpoint: Some("c2".into()),
        };
        let own = plan.own("t1");
        assert!(own.holds("", "configmaps", &object("t1", "c2")));
        assert!(own.holds("coordination.k8s.io", "leases", &object("t1", "l1")));
        // Another namespace, another name, another type: a rule's objects.
        assert!(!own.holds("", "configmaps", &object("t2", "c2")));
        assert!(!own.holds("", "configmaps", &object("t1", "l1")));
        assert!(!own.holds("coordination.k8s.io", "leases", &object("t1", "c2")));
        assert!(!own.holds("", "secrets", &object("t1", "c2")));
        assert!(!own.holds("example.com", "configmaps", &object("t1", "c2")));
        // Without the flags, nothing is.
        let none = HaPlan {
            lease: None,
            checkpoint: None,
        }
        .own("t1");
        assert!(!none.holds("", "configmaps", &object("t1", "c2")));
        assert!(!none.holds(
            "coordination.k8s.io",
            "leases",
            &object("t1", "kubectl-notify")
        ));
    }
}
