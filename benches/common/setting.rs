//! What the whole-process benches of several replicas and of the sinks
//! share: the test server with the Widget type, and a folder with a
//! kubeconfig for it that is also the programs' HOME.

use testserver::{Crd, TestServer};

pub(crate) struct Setting {
    pub(crate) server: TestServer,
    pub(crate) dir: tempfile::TempDir,
}

pub(crate) fn setting() -> Setting {
    let server = TestServer::start();
    server.add_crd(Crd::widget());
    // No bearer token goes over plain HTTP (as kubectl): let requests in
    // as anonymous, so the figures stay those of the same plain connection.
    server.set_anonymous_rules(vec![testserver::Rule::allow_all()]);
    let dir = tempfile::tempdir().unwrap();
    server.write_kubeconfig(
        &dir.path().join("config"),
        testserver::ADMIN_TOKEN,
        "default",
    );
    Setting { server, dir }
}
