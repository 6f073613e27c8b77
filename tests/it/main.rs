//! kubectl-notify's integration tests, one crate so the world is linked once:
//! each module tells one part of the user's story against the real binary,
//! and `common` is the setting they share (test server, kubeconfig, kubectl).

mod cluster;
mod common;

mod alerts;
mod apply_files;
mod bad_input;
mod chats;
mod color;
mod commands;
mod completions;
mod conditions;
mod connection;
mod discovery_cache;
mod explain;
mod faults;
mod ha;
mod ha_model;
mod ha_rules;
mod image;
mod incluster;
mod krew;
mod kubectl_agrees;
mod kubectl_context;
mod kubectl_plugin;
mod model;
mod noise;
mod output;
mod progress;
mod real;
mod receiver;
mod resolve;
mod rules;
mod rules_ends;
mod secrets;
mod selectors;
mod sink_kafka;
mod sinks;
mod status_line;
mod stories;
mod tansu;
mod wait;
