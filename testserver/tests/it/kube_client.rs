//! kube-rs, the client kubectl-notify is built on, against the test server:
//! typed and dynamic reads, and its watcher (list + watch and streaming list).

use kube::api::{Api, ListParams};
use kube::runtime::watcher;
use serde_json::json;
use testserver::{Crd, TestServer};

use crate::common::{kube_client, sees_a_change, widgets};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_reads_and_discovers() {
    let server = TestServer::start();
    server.add_crd(Crd::widget());
    server.create(
        "widgets.example.com",
        Some("default"),
        json!({"metadata": {"name": "w1"}, "spec": {"size": 1}}),
    );
    let client = kube_client(&server.kubeconfig(TestServer::ADMIN_TOKEN, "default")).await;
    let w = widgets(client.clone()).get("w1").await.unwrap();
    assert_eq!(w.data["spec"]["size"], 1);
    let list = widgets(client.clone())
        .list(&ListParams::default())
        .await
        .unwrap();
    assert_eq!(list.items.len(), 1);
    let cms: Api<k8s_openapi::api::core::v1::ConfigMap> = Api::default_namespaced(client.clone());
    assert!(
        cms.list(&ListParams::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
    let discovery = kube::Discovery::new(client.clone()).run().await.unwrap();
    assert!(discovery.groups().any(|g| g.name() == "example.com"));
    let err = widgets(client).get("nope").await.unwrap_err();
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 404),
        "{err:?}"
    );
}

/// The watcher, listing then watching or with a streaming list, sees a change.
async fn watcher_sees_a_change(streaming: bool) {
    let server = TestServer::start();
    server.add_crd(Crd::widget());
    server.create(
        "widgets.example.com",
        Some("default"),
        json!({"metadata": {"name": "w1"}, "spec": {"size": 1}}),
    );
    let client = kube_client(&server.kubeconfig(TestServer::ADMIN_TOKEN, "default")).await;
    let mut config = watcher::Config::default();
    if streaming {
        config = config.streaming_lists();
    }
    sees_a_change(&server, client, config).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_watcher_lists_then_watches() {
    watcher_sees_a_change(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_watcher_streaming_list() {
    watcher_sees_a_change(true).await;
}
