//! kube-rs, the client kubectl-notify is built on, against the test server:
//! typed and dynamic reads, and its watcher (list + watch and streaming list).

use futures::{StreamExt, TryStreamExt};
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams};
use kube::runtime::watcher::{self, Event};
use serde_json::json;
use testserver::{Crd, TestServer};

async fn client(server: &TestServer) -> kube::Client {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kubeconfig");
    server.write_kubeconfig(&path, TestServer::ADMIN_TOKEN, "default");
    let kubeconfig = kube::config::Kubeconfig::read_from(&path).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .unwrap();
    kube::Client::try_from(config).unwrap()
}

fn widgets(client: kube::Client) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("example.com", "v1", "Widget");
    Api::namespaced_with(client, "default", &ApiResource::from_gvk(&gvk))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_reads_and_discovers() {
    let server = TestServer::start();
    server.add_crd(Crd::widget());
    server.create(
        "widgets.example.com",
        Some("default"),
        json!({"metadata": {"name": "w1"}, "spec": {"size": 1}}),
    );
    let client = client(&server).await;
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

async fn sees_a_change(streaming: bool) {
    let server = TestServer::start();
    server.add_crd(Crd::widget());
    server.create(
        "widgets.example.com",
        Some("default"),
        json!({"metadata": {"name": "w1"}, "spec": {"size": 1}}),
    );
    let client = client(&server).await;
    let mut config = watcher::Config::default();
    if streaming {
        config = config.streaming_lists();
    }
    let mut stream = watcher::watcher(widgets(client), config).boxed();
    let mut seen_init_done = false;
    while let Some(ev) = stream.try_next().await.unwrap() {
        match ev {
            Event::InitDone => {
                seen_init_done = true;
                server.merge_patch(
                    "widgets.example.com",
                    Some("default"),
                    "w1",
                    json!({"spec": {"size": 2}}),
                );
            }
            Event::Apply(o) if seen_init_done => {
                assert_eq!(o.data["spec"]["size"], 2);
                return;
            }
            _ => {}
        }
    }
    panic!("the watcher ended");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_watcher_lists_then_watches() {
    sees_a_change(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_watcher_streaming_list() {
    sees_a_change(true).await;
}
