//! What one bench run shares: its settings, the test server over HTTPS with
//! the widgets the figures watch, the tools under test and their launcher.

use std::time::{Duration, Instant};

use serde_json::json;
use testserver::{Crd, Options, TestServer};

use crate::client::Api;
use crate::error::{Result, io_err};
use crate::launcher::{Launcher, Run, Stdout};
use crate::tools::{Tool, Tools};

pub(crate) const WIDGETS: &str = "widgets.example.com";
pub(crate) const NAMESPACE: &str = "default";
pub(crate) const READY_OBJECT: &str = "bench-ready";
pub(crate) const REACT_OBJECT: &str = "bench-react";
pub(crate) const SCALE_LABEL: &str = "bench=scale";
/// Time left to a tool between its watch opening and the PATCH, so that it
/// sits idle in its event loop, as in real use, when the change arrives.
pub(crate) const SETTLE: Duration = Duration::from_millis(150);

pub(crate) struct Settings {
    pub(crate) quick: bool,
    pub(crate) warmups: usize,
    pub(crate) runs: usize,
    pub(crate) scale_objects: usize,
    pub(crate) scale_updates: usize,
}

impl Settings {
    pub(crate) fn new(quick: bool) -> Settings {
        if quick {
            Settings {
                quick,
                warmups: 1,
                runs: 5,
                scale_objects: 500,
                scale_updates: 5_000,
            }
        } else {
            Settings {
                quick,
                warmups: 3,
                runs: 21,
                scale_objects: 5_000,
                scale_updates: 50_000,
            }
        }
    }
}

/// Everything one bench run shares.
pub(crate) struct Bench<'a> {
    pub(crate) settings: &'a Settings,
    pub(crate) server: TestServer,
    pub(crate) api: Api,
    pub(crate) tools: Tools,
    pub(crate) launcher: Launcher,
}

impl<'a> Bench<'a> {
    /// The server over HTTPS with the Widget CRD, a kubeconfig for it, and
    /// the tools found.
    pub(crate) fn new(settings: &'a Settings) -> Result<Bench<'a>> {
        let server = TestServer::start_with(Options {
            tls: true,
            ..Options::default()
        });
        server.add_crd(Crd::widget());
        let api = Api::new(&server, NAMESPACE)?;
        let dir = tempfile::tempdir().map_err(io_err("make a temp dir"))?;
        let kubeconfig = dir.path().join("config");
        server.write_kubeconfig(&kubeconfig, testserver::ADMIN_TOKEN, NAMESPACE);
        let tools = Tools::find(dir.path());
        let launcher = Launcher::new(dir, kubeconfig)?;
        Ok(Bench {
            settings,
            server,
            api,
            tools,
            launcher,
        })
    }
}

impl Bench<'_> {
    pub(crate) fn launch_tool(
        &mut self,
        tool: Tool,
        what: &str,
        args: &[String],
        stdout: Stdout,
    ) -> Result<Run> {
        let program = self.tools.program(tool).to_path_buf();
        self.launcher
            .start(&format!("{} ({what})", tool.name()), &program, args, stdout)
    }

    pub(crate) fn set_ready(&self, name: &str, ready: bool) {
        self.server.patch_status(
            WIDGETS,
            Some(NAMESPACE),
            name,
            json!({"status": {"ready": ready}}),
        );
    }

    /// Lets the watches of earlier runs close, so none of them is still
    /// served (and slowing the server) when the next change is timed.
    pub(crate) fn quiesce(&self) {
        let deadline = Instant::now() + Duration::from_secs(3);
        while self.server.open_watches() > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Blocks until more than `before` watches are open on the server.
    pub(crate) fn wait_for_watch(
        &self,
        run: &mut Run,
        before: usize,
        limit: Duration,
    ) -> Result<()> {
        let deadline = Instant::now() + limit;
        loop {
            if self.server.open_watches() > before {
                return Ok(());
            }
            if run.poll_exit() {
                return Err(format!(
                    "{} exited before it started watching. {}",
                    run.what,
                    run.stderr_text()
                ));
            }
            if Instant::now() > deadline {
                run.stop();
                return Err(format!(
                    "{} never opened a watch within {limit:?}; killed it. {}",
                    run.what,
                    run.stderr_text()
                ));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}
