//! Leader election on a `coordination.k8s.io/v1` Lease, the way client-go's
//! leaderelection does it, so replicas of kubectl-notify agree on one active.
//!
//! Expiry is judged by each replica's own clock, from when it saw the lease
//! record change (never from the `renewTime` another clock wrote), so clock
//! skew between replicas does not matter. Every write carries the
//! resourceVersion read, so two replicas cannot both win one round. A holder
//! counts itself active only until `renew_deadline` after it *sent* its last
//! successful renewal; others may take the lease only `lease` after they saw
//! that renewal, which is later: a holder cut off from the server stops
//! delivering before anyone else may start.

use std::future::Future;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::Api;
use kube::api::{PostParams, Resource};
use tokio::sync::watch;
use tokio::time::Instant;

/// client-go's timings, or others for tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timings {
    /// How long a lease holds after it was last seen renewed.
    pub lease: Duration,
    /// How long a holder goes on counting itself active without a renewal.
    pub renew_deadline: Duration,
    /// How often a replica tries to take or renew the lease.
    pub retry: Duration,
}

impl Timings {
    pub const CLIENT_GO: Timings = Timings {
        lease: Duration::from_secs(15),
        renew_deadline: Duration::from_secs(10),
        retry: Duration::from_secs(2),
    };

    /// `LEASE,RENEW,RETRY` (e.g. `3s,2s,500ms`): shorter timings for tests,
    /// from `KUBECTL_NOTIFY_LEASE_TIMINGS`. They must keep client-go's order.
    pub fn parse(text: &str) -> Result<Timings, String> {
        let parts: Vec<Duration> = text
            .split(',')
            .map(|part| humantime::parse_duration(part.trim()).map_err(|e| format!("{part}: {e}")))
            .collect::<Result<_, _>>()?;
        let [lease, renew_deadline, retry] = parts[..] else {
            return Err(format!("`{text}`: want LEASE,RENEW,RETRY"));
        };
        if !(retry < renew_deadline && renew_deadline < lease) || retry.is_zero() {
            return Err(format!(
                "`{text}`: want 0 < RETRY < RENEW < LEASE (client-go: 2s < 10s < 15s)"
            ));
        }
        Ok(Timings {
            lease,
            renew_deadline,
            retry,
        })
    }
}

/// Who this replica is to the others: the pod name (`POD_NAME`, else the
/// host name) and a random id of this process, as client-go makes it, so
/// two processes given one name are still two (a reused name, a copied
/// command line) and never both hold the lease. The plan refuses a sink
/// whose URL would be read from `POD_NAME`.
pub fn identity() -> String {
    let name = std::env::var("POD_NAME")
        .ok()
        .filter(|pod| !pod.is_empty())
        .unwrap_or_else(crate::os::hostname);
    format!("{name}_{:016x}", fastrand::u64(..))
}

/// What this replica is now, as the notify loop reads it.
#[derive(Debug, Clone, PartialEq)]
pub enum Role {
    /// Another replica holds the lease (`None`: unknown or nobody yet).
    Standby { holder: Option<String> },
    /// This replica holds the lease and may deliver until `until`, by its
    /// own clock, unless a renewal moves that on.
    Active { until: Instant },
    /// The lease cannot be used at all (RBAC): the run must end.
    Failed(String),
}

impl Role {
    /// Whether a notification may go out now.
    pub fn may_deliver(&self) -> bool {
        matches!(self, Role::Active { until } if Instant::now() < *until)
    }
}

/// The three requests election makes: the Kubernetes API, or a fake in tests.
pub trait LeaseApi: Send + Sync + 'static {
    fn get(&self, name: &str) -> impl Future<Output = kube::Result<Option<Lease>>> + Send;
    fn create(&self, lease: &Lease) -> impl Future<Output = kube::Result<Lease>> + Send;
    fn replace(&self, lease: &Lease) -> impl Future<Output = kube::Result<Lease>> + Send;
}

impl LeaseApi for Api<Lease> {
    async fn get(&self, name: &str) -> kube::Result<Option<Lease>> {
        self.get_opt(name).await
    }

    async fn create(&self, lease: &Lease) -> kube::Result<Lease> {
        Api::create(self, &PostParams::default(), lease).await
    }

    async fn replace(&self, lease: &Lease) -> kube::Result<Lease> {
        let name = lease.metadata.name.clone().unwrap_or_default();
        Api::replace(self, &name, &PostParams::default(), lease).await
    }
}

/// The outcome of one round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Round {
    /// This replica holds the lease now.
    Holding,
    /// Someone else does (or won the race for it this round).
    HeldBy(Option<String>),
}

/// The lease record as last seen, and when by this replica's clock.
#[derive(Debug)]
struct Observed {
    spec: LeaseSpec,
    resource_version: Option<String>,
    at: Instant,
}

/// One replica's side of the election: client-go's `tryAcquireOrRenew`.
pub struct Elector<A> {
    api: A,
    name: String,
    identity: String,
    timings: Timings,
    observed: Option<Observed>,
    /// The verb of the request last sent, for an RBAC refusal's message.
    verb: &'static str,
}

impl<A: LeaseApi> Elector<A> {
    pub fn new(api: A, name: String, identity: String, timings: Timings) -> Elector<A> {
        Elector {
            api,
            name,
            identity,
            timings,
            observed: None,
            verb: "get",
        }
    }

    /// Takes the lease if it is free or expired, renews it if it is ours.
    /// A write that loses a race (409) is a round lost, not an error.
    pub async fn try_acquire_or_renew(&mut self) -> kube::Result<Round> {
        let now = Instant::now();
        let wall = MicroTime(Timestamp::now());
        self.verb = "get";
        let Some(current) = self.api.get(&self.name).await? else {
            self.verb = "create";
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.name.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(self.record(wall.clone(), wall, 0)),
            };
            return match self.api.create(&lease).await {
                Ok(created) => {
                    self.observe(&created, Instant::now());
                    Ok(Round::Holding)
                }
                Err(kube::Error::Api(status)) if status.code == 409 => Ok(Round::HeldBy(None)),
                Err(err) => Err(err),
            };
        };
        let spec = current.spec.clone().unwrap_or_default();
        let changed = self.observed.as_ref().is_none_or(|seen| {
            seen.spec != spec || seen.resource_version != current.metadata.resource_version
        });
        if changed {
            self.observe(&current, now);
        }
        let holder = spec.holder_identity.clone().filter(|h| !h.is_empty());
        let ours = holder.as_deref() == Some(self.identity.as_str());
        if let Some(holder) = &holder
            && !ours
        {
            let duration = spec
                .lease_duration_seconds
                .filter(|s| *s > 0)
                .map_or(self.timings.lease, |s| Duration::from_secs(s as u64));
            let seen = self.observed.as_ref().map_or(now, |o| o.at);
            if now < seen + duration {
                return Ok(Round::HeldBy(Some(holder.clone())));
            }
        }
        let transitions = spec.lease_transitions.unwrap_or(0);
        let record = if ours {
            let acquired = spec.acquire_time.clone().unwrap_or_else(|| wall.clone());
            self.record(acquired, wall, transitions)
        } else {
            self.record(wall.clone(), wall, transitions + 1)
        };
        let lease = Lease {
            metadata: current.metadata.clone(),
            spec: Some(record),
        };
        self.verb = "update";
        match self.api.replace(&lease).await {
            Ok(written) => {
                self.observe(&written, Instant::now());
                Ok(Round::Holding)
            }
            Err(kube::Error::Api(status)) if status.code == 409 => Ok(Round::HeldBy(holder)),
            Err(err) => Err(err),
        }
    }

    /// Gives the lease up (client-go's ReleaseOnCancel): no holder, so a
    /// standby takes it at its next try instead of waiting for expiry.
    pub async fn release(&mut self) -> kube::Result<()> {
        let Some(current) = self.api.get(&self.name).await? else {
            return Ok(());
        };
        let spec = current.spec.clone().unwrap_or_default();
        if spec.holder_identity.as_deref() != Some(self.identity.as_str()) {
            return Ok(());
        }
        let wall = MicroTime(Timestamp::now());
        let lease = Lease {
            metadata: current.metadata.clone(),
            spec: Some(LeaseSpec {
                holder_identity: Some(String::new()),
                lease_duration_seconds: Some(1),
                acquire_time: Some(wall.clone()),
                renew_time: Some(wall),
                lease_transitions: spec.lease_transitions,
                ..LeaseSpec::default()
            }),
        };
        self.api.replace(&lease).await.map(|_| ())
    }

    fn record(&self, acquired: MicroTime, renewed: MicroTime, transitions: i32) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(self.identity.clone()),
            lease_duration_seconds: Some(self.timings.lease.as_secs().max(1) as i32),
            acquire_time: Some(acquired),
            renew_time: Some(renewed),
            lease_transitions: Some(transitions),
            ..LeaseSpec::default()
        }
    }

    fn observe(&mut self, lease: &Lease, at: Instant) {
        self.observed = Some(Observed {
            spec: lease.spec.clone().unwrap_or_default(),
            resource_version: lease.meta().resource_version.clone(),
            at,
        });
    }
}

/// Runs the election for as long as the returned role is watched: a round
/// every `retry`, each bounded by the renew deadline. A holder whose
/// renewals fail turns standby when its deadline passes, whatever the
/// requests are doing.
pub fn campaign<A: LeaseApi>(
    mut elector: Elector<A>,
    describe: impl Fn(&str, u16) -> String + Send + 'static,
    verbose: bool,
) -> (watch::Receiver<Role>, tokio::task::JoinHandle<Elector<A>>) {
    let (role, watched) = watch::channel(Role::Standby { holder: None });
    let timings = elector.timings;
    let task = tokio::spawn(async move {
        let mut until: Option<Instant> = None;
        loop {
            let started = Instant::now();
            let round =
                tokio::time::timeout(timings.renew_deadline, elector.try_acquire_or_renew());
            tokio::select! {
                outcome = round => match outcome {
                    Ok(Ok(Round::Holding)) => {
                        let next = started + timings.renew_deadline;
                        if until.is_none() && verbose {
                            crate::term::stderr_line!("leader election: {} holds the lease, active", elector.identity);
                        }
                        until = Some(next);
                        role.send_replace(Role::Active { until: next });
                    }
                    Ok(Ok(Round::HeldBy(holder))) => {
                        if verbose && (until.is_some() || *role.borrow() != (Role::Standby { holder: holder.clone() })) {
                            crate::term::stderr_line!(
                                "leader election: standby, the lease is held by {}",
                                holder.as_deref().unwrap_or("another replica")
                            );
                        }
                        until = None;
                        role.send_replace(Role::Standby { holder });
                    }
                    // No such namespace, or forbidden: no retry helps.
                    Ok(Err(err @ kube::Error::Api(_))) if crate::trouble::no_namespace(&err) => {
                        role.send_replace(Role::Failed(describe(elector.verb, 404)));
                        return elector;
                    }
                    Ok(Err(kube::Error::Api(status))) if status.code == 403 => {
                        role.send_replace(Role::Failed(describe(elector.verb, 403)));
                        return elector;
                    }
                    Ok(Err(err)) => {
                        if verbose {
                            crate::term::stderr_line!(
                                "leader election: {}; retrying",
                                crate::trouble::said(&err)
                            );
                        }
                    }
                    Err(_) => {
                        if verbose {
                            crate::term::stderr_line!("leader election: no answer within the renew deadline; retrying");
                        }
                    }
                },
                _ = lapse(until) => {}
            }
            if until.is_some_and(|u| Instant::now() >= u) {
                crate::log::warning(
                    "lease",
                    format_args!(
                        "leader election: could not renew the lease within {}; standby",
                        humantime::format_duration(timings.renew_deadline)
                    ),
                );
                until = None;
                role.send_replace(Role::Standby { holder: None });
            }
            tokio::select! {
                _ = tokio::time::sleep_until(started + timings.retry) => {}
                _ = lapse(until) => {}
                _ = role.closed() => return elector,
            }
        }
    });
    (watched, task)
}

async fn lapse(until: Option<Instant>) {
    match until {
        Some(until) => tokio::time::sleep_until(until).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// An in-memory lease with the apiserver's optimistic concurrency, and a
    /// switch that cuts one replica off.
    #[derive(Clone, Default)]
    struct Fake {
        lease: Arc<Mutex<Option<Lease>>>,
        version: Arc<Mutex<u64>>,
        cut_off: Arc<Mutex<bool>>,
    }

    fn conflict() -> kube::Error {
        kube::Error::Api(Box::new(
            kube::core::Status::failure("conflict", "Conflict").with_code(409),
        ))
    }

    fn unreachable() -> kube::Error {
        kube::Error::Api(Box::new(
            kube::core::Status::failure("unreachable", "ServiceUnavailable").with_code(503),
        ))
    }

    impl Fake {
        fn replica(&self) -> Fake {
            Fake {
                lease: self.lease.clone(),
                version: self.version.clone(),
                cut_off: Arc::new(Mutex::new(false)),
            }
        }

        fn store(&self, mut lease: Lease) -> Lease {
            let mut version = self.version.lock().unwrap();
            *version += 1;
            lease.metadata.resource_version = Some(version.to_string());
            *self.lease.lock().unwrap() = Some(lease.clone());
            lease
        }

        fn holder(&self) -> Option<String> {
            self.lease
                .lock()
                .unwrap()
                .as_ref()?
                .spec
                .as_ref()?
                .holder_identity
                .clone()
        }
    }

    impl LeaseApi for Fake {
        async fn get(&self, _: &str) -> kube::Result<Option<Lease>> {
            if *self.cut_off.lock().unwrap() {
                return Err(unreachable());
            }
            Ok(self.lease.lock().unwrap().clone())
        }

        async fn create(&self, lease: &Lease) -> kube::Result<Lease> {
            if self.lease.lock().unwrap().is_some() {
                return Err(conflict());
            }
            Ok(self.store(lease.clone()))
        }

        async fn replace(&self, lease: &Lease) -> kube::Result<Lease> {
            if *self.cut_off.lock().unwrap() {
                return Err(unreachable());
            }
            let stored = self.lease.lock().unwrap().clone();
            if stored.and_then(|l| l.metadata.resource_version) != lease.metadata.resource_version {
                return Err(conflict());
            }
            Ok(self.store(lease.clone()))
        }
    }

    fn elector(api: Fake, name: &str) -> Elector<Fake> {
        Elector::new(api, "alerts".into(), name.into(), Timings::CLIENT_GO)
    }

    #[tokio::test(start_paused = true)]
    async fn the_first_replica_takes_a_free_lease_and_the_second_waits() {
        let fake = Fake::default();
        let mut a = elector(fake.replica(), "a");
        let mut b = elector(fake.replica(), "b");
        assert_eq!(a.try_acquire_or_renew().await.unwrap(), Round::Holding);
        assert_eq!(
            b.try_acquire_or_renew().await.unwrap(),
            Round::HeldBy(Some("a".into()))
        );
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(
            a.try_acquire_or_renew().await.unwrap(),
            Round::Holding,
            "renewal"
        );
        assert_eq!(fake.holder().as_deref(), Some("a"));
    }

    #[tokio::test(start_paused = true)]
    async fn an_unrenewed_lease_is_taken_a_lease_duration_after_it_was_last_seen_to_change() {
        let fake = Fake::default();
        let mut a = elector(fake.replica(), "a");
        let mut b = elector(fake.replica(), "b");
        a.try_acquire_or_renew().await.unwrap();
        // b first sees the record now; a then stops renewing.
        assert!(matches!(
            b.try_acquire_or_renew().await.unwrap(),
            Round::HeldBy(_)
        ));
        tokio::time::advance(Duration::from_millis(14_900)).await;
        assert!(matches!(
            b.try_acquire_or_renew().await.unwrap(),
            Round::HeldBy(_)
        ));
        tokio::time::advance(Duration::from_millis(100)).await;
        assert_eq!(b.try_acquire_or_renew().await.unwrap(), Round::Holding);
        let spec = fake.lease.lock().unwrap().clone().unwrap().spec.unwrap();
        assert_eq!(spec.lease_transitions, Some(1));
        assert_eq!(spec.holder_identity.as_deref(), Some("b"));
    }

    #[tokio::test(start_paused = true)]
    async fn expiry_is_judged_by_the_observer_clock_not_the_renew_time_written() {
        let fake = Fake::default();
        let mut a = elector(fake.replica(), "a");
        a.try_acquire_or_renew().await.unwrap();
        // The holder's clock was an hour behind: its renewTime looks stale.
        {
            let mut lease = fake.lease.lock().unwrap();
            let spec = lease.as_mut().unwrap().spec.as_mut().unwrap();
            let old = Timestamp::now() - k8s_openapi::jiff::SignedDuration::from_hours(1);
            spec.renew_time = Some(MicroTime(old));
        }
        let mut b = elector(fake.replica(), "b");
        assert!(matches!(
            b.try_acquire_or_renew().await.unwrap(),
            Round::HeldBy(_)
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn two_replicas_racing_for_one_version_cannot_both_win() {
        let fake = Fake::default();
        let mut a = elector(fake.replica(), "a");
        a.try_acquire_or_renew().await.unwrap();
        a.release().await.unwrap();
        let mut b = elector(fake.replica(), "b");
        let mut c = elector(fake.replica(), "c");
        // Both read the released lease; only the first write carries its version.
        let read = fake.lease.lock().unwrap().clone().unwrap();
        let mut as_b = read.clone();
        as_b.spec.as_mut().unwrap().holder_identity = Some("b".into());
        LeaseApi::replace(&fake, &as_b).await.unwrap();
        let mut as_c = read;
        as_c.spec.as_mut().unwrap().holder_identity = Some("c".into());
        assert!(
            LeaseApi::replace(&fake, &as_c).await.is_err(),
            "stale resourceVersion"
        );
        assert!(matches!(
            c.try_acquire_or_renew().await.unwrap(),
            Round::HeldBy(_)
        ));
        assert!(matches!(
            b.try_acquire_or_renew().await.unwrap(),
            Round::Holding
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn a_released_lease_is_taken_at_once() {
        let fake = Fake::default();
        let mut a = elector(fake.replica(), "a");
        let mut b = elector(fake.replica(), "b");
        a.try_acquire_or_renew().await.unwrap();
        assert!(matches!(
            b.try_acquire_or_renew().await.unwrap(),
            Round::HeldBy(_)
        ));
        a.release().await.unwrap();
        assert_eq!(b.try_acquire_or_renew().await.unwrap(), Round::Holding);
    }

    #[tokio::test(start_paused = true)]
    async fn a_holder_cut_off_stops_delivering_before_the_standby_may_take_over() {
        let fake = Fake::default();
        let a_api = fake.replica();
        let cut = a_api.cut_off.clone();
        let (a_role, _a) = campaign(elector(a_api, "a"), |verb: &str, _| verb.to_string(), false);
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert!(a_role.borrow().may_deliver());
        let (b_role, _b) = campaign(
            elector(fake.replica(), "b"),
            |verb: &str, _| verb.to_string(),
            false,
        );
        tokio::time::sleep(Duration::from_secs(3)).await;
        *cut.lock().unwrap() = true;
        let cut_at = Instant::now();
        let mut a_stopped = None;
        let mut b_started = None;
        while b_started.is_none() {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if a_stopped.is_none() && !a_role.borrow().may_deliver() {
                a_stopped = Some(Instant::now());
            }
            if b_role.borrow().may_deliver() {
                b_started = Some(Instant::now());
            }
            assert!(
                !(a_role.borrow().may_deliver() && b_role.borrow().may_deliver()),
                "two active replicas"
            );
            assert!(cut_at.elapsed() < Duration::from_secs(30), "no takeover");
        }
        let (a_stopped, b_started) = (a_stopped.unwrap(), b_started.unwrap());
        assert!(a_stopped <= cut_at + Timings::CLIENT_GO.renew_deadline);
        assert!(
            b_started >= a_stopped + Duration::from_secs(3),
            "a margin between them"
        );
        assert!(b_started <= cut_at + Timings::CLIENT_GO.lease + Duration::from_secs(3));
    }

    #[test]
    fn test_timings_keep_client_go_order() {
        assert_eq!(
            Timings::parse("3s,2s,500ms").unwrap(),
            Timings {
                lease: Duration::from_secs(3),
                renew_deadline: Duration::from_secs(2),
                retry: Duration::from_millis(500)
            }
        );
        assert!(Timings::parse("2s,3s,500ms").is_err());
        assert!(Timings::parse("3s,2s").is_err());
    }
}
