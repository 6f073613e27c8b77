//! The test server's own tests, one crate so it is linked once: the protocol
//! against reference captures, fault switches on the wire, TLS, and real
//! clients (kube-rs, kubectl 1.37) that must be content with it.

mod common;

mod faults;
mod kube_client;
mod kubectl;
mod protocol;
mod tls;
