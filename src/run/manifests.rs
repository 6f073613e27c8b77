//! `--print-manifests`: resolve every rule's targets against the cluster (so
//! groups and plurals are the cluster's) and print the manifests instead of
//! running.

use std::io::Write;

use crate::connect::connect;
use crate::exit::{Exit, Result};
use crate::manifests::{self, Resource};
use crate::plan::Rule;
use crate::target::Selection;

/// The process-wide flags are the same in every rule's plan.
pub async fn print(rules: &[Rule], request: &manifests::Request) -> Result<()> {
    let Some(plan) = rules.first().map(|rule| &rule.plan) else {
        return Ok(());
    };
    let conn = connect(&plan.connection, plan.request_timeout, plan.verbosity > 1).await?;
    let resolved = super::resolve(&conn, rules).await?;
    let resources: Vec<Resource> = rules
        .iter()
        .zip(&resolved)
        .flat_map(|(rule, (targets, _))| {
            targets.iter().map(|t| Resource {
                group: t.api.group.clone(),
                plural: t.api.plural.clone(),
                namespaced: t.api.namespaced,
                name: match &t.selection {
                    Selection::Name(name) => Some(name.clone()),
                    Selection::Query { .. } => None,
                },
                all_namespaces: rule.plan.all_namespaces,
            })
        })
        .collect();
    if super::namespace_missing(&conn.client, &conn.namespace).await {
        crate::log::warning(
            "main",
            format_args!(
                "namespace \"{0}\" does not exist: create it before applying these \
                 (kubectl create namespace {0}), or choose another with -n",
                conn.namespace
            ),
        );
    }
    let docs = manifests::documents(request, &conn.namespace, &resources);
    let text = manifests::render(request, &conn.namespace, &docs);
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(Exit::Closed),
        Err(e) => Err(Exit::Internal(format!("cannot write the manifests: {e}"))),
    }
}
