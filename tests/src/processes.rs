//! The real binaries as child processes. Each keeps its log in its directory
//! (`control.log`, `agent.log`) so a failed test can be read afterwards. Children are
//! killed when dropped.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Output, Stdio};
use std::time::Duration;

use ferry_control::store::Store;
use ferry_proto::operator::v1::ListHostsRequest;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::binaries::binary;
use crate::wait;

/// Short intervals so that liveness and commands are observable within test deadlines.
pub const FAST_CONTROL_CONFIG: &str = "\
[liveness]
heartbeat_interval_secs = 1
disconnected_after_secs = 3
[commands]
poll_interval_ms = 200
[assessment]
schedule_interval_secs = 0
[enrollment]
# The tests enroll every host from this one address.
attempts_per_minute = 600
";

pub struct ControlPlane {
    pub data_dir: PathBuf,
    pub addr: SocketAddr,
    /// Its plain-HTTP listener (`/metrics`, `/healthz`, `/readyz`), when started with one.
    pub metrics_addr: Option<SocketAddr>,
    config: PathBuf,
    child: Child,
    /// Extra environment for the control plane and the CLI runs made through it.
    env: Vec<(String, String)>,
}

impl ControlPlane {
    /// Starts `ferry-control` on a free loopback port with `config` (TOML).
    pub async fn start(dir: &Path, config: &str) -> Self {
        Self::start_on(dir, config, "127.0.0.1:0".parse().unwrap()).await
    }

    /// Starts it on `addr` (to restart on the port agents already know).
    pub async fn start_on(dir: &Path, config: &str, addr: SocketAddr) -> Self {
        Self::start_with_env(dir, config, addr, &[]).await
    }

    /// Starts it with extra environment variables (also given to `ferry` runs).
    pub async fn start_with_env(
        dir: &Path,
        config: &str,
        addr: SocketAddr,
        env: &[(&str, &str)],
    ) -> Self {
        Self::spawn(dir, config, addr, env, true).await
    }

    /// Starts it without its metrics listener (metrics then cost nothing: the
    /// heartbeat benchmark's comparison).
    pub async fn start_without_metrics(dir: &Path, config: &str) -> Self {
        Self::spawn(dir, config, "127.0.0.1:0".parse().unwrap(), &[], false).await
    }

    async fn spawn(
        dir: &Path,
        config: &str,
        addr: SocketAddr,
        env: &[(&str, &str)],
        metrics: bool,
    ) -> Self {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let data_dir = dir.join("control");
        std::fs::create_dir_all(&data_dir).unwrap();
        let config_path = dir.join("control.toml");
        std::fs::write(&config_path, config).unwrap();
        let log = open_log(&dir.join("control.log"));
        let mut command = Command::new(binary("ferry-control"));
        if metrics {
            command.args(["--metrics-listen", "127.0.0.1:0"]);
        }
        let mut child = command
            .arg("--config")
            .arg(&config_path)
            .arg("--data-dir")
            .arg(&data_dir)
            .arg("--listen")
            .arg(addr.to_string())
            .envs(env.iter().cloned())
            .stdout(Stdio::piped())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .expect("spawn ferry-control");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .expect("ferry-control printed no address within 60s")
            .unwrap()
            .unwrap_or_else(|| {
                panic!(
                    "ferry-control exited; see {}",
                    dir.join("control.log").display()
                )
            });
        let addr: SocketAddr = line.rsplit(' ').next().unwrap().parse().unwrap();
        let mut metrics_addr = None;
        if metrics {
            let line = lines.next_line().await.unwrap().unwrap_or_default();
            // "ferry-control metrics on http://ADDR/metrics"
            let url = line.rsplit(' ').next().unwrap_or_default();
            let host = url
                .strip_prefix("http://")
                .and_then(|rest| rest.strip_suffix("/metrics"))
                .unwrap_or_else(|| panic!("no metrics address in {line:?}"));
            metrics_addr = Some(host.parse().unwrap());
        }
        // Nothing else is read from its stdout: drain it, so it never blocks writing.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let plane = Self {
            data_dir,
            addr,
            metrics_addr,
            config: config_path,
            child,
            env,
        };
        plane.wait_ready().await;
        plane
    }

    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.addr.port())
    }

    pub fn credentials(&self) -> PathBuf {
        ferry_control::server::admin_credentials_dir(&self.data_dir)
    }

    async fn wait_ready(&self) {
        let (url, creds) = (self.url(), self.credentials());
        wait::until(
            "the control plane to answer",
            Duration::from_secs(30),
            || {
                let (url, creds) = (url.clone(), creds.clone());
                async move {
                    let mut client = ferry_control::cli::connect(&url, &creds)
                        .await
                        .map_err(|e| e.to_string())?;
                    client
                        .list_hosts(ListHostsRequest::default())
                        .await
                        .map_err(|e| e.to_string())?;
                    Ok(Some(()))
                }
            },
        )
        .await
    }

    /// Runs the `ferry` CLI against this control plane, as its first admin.
    pub async fn ferry(&self, args: &[&str]) -> Output {
        self.ferry_as(&self.credentials(), args).await
    }

    /// Runs the `ferry` CLI against this control plane with the operator credentials
    /// in `credentials`.
    pub async fn ferry_as(&self, credentials: &Path, args: &[&str]) -> Output {
        Command::new(binary("ferry"))
            .arg("--control-plane")
            .arg(self.url())
            .arg("--credentials")
            .arg(credentials)
            .args(args)
            .envs(self.env.iter().cloned())
            .output()
            .await
            .expect("run ferry")
    }

    /// Runs the CLI with `--output json` and parses the answer; panics on failure.
    pub async fn ferry_json(&self, args: &[&str]) -> serde_json::Value {
        let mut all = args.to_vec();
        all.extend(["--output", "json"]);
        let output = self.ferry(&all).await;
        assert!(
            output.status.success(),
            "ferry {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).expect("ferry printed JSON")
    }

    /// A fresh enrollment token.
    pub async fn token(&self, ttl: &str) -> String {
        let token = self.ferry_json(&["token", "create", "--ttl", ttl]).await;
        token["token"].as_str().unwrap().to_string()
    }

    /// Opens the control plane's store (SQLite in the data directory) to check what
    /// it holds.
    pub async fn store(&self) -> Store {
        let config = ferry_control::ControlConfig {
            data_dir: self.data_dir.clone(),
            ..Default::default()
        };
        Store::open(&config.effective_database_url()).await.unwrap()
    }

    /// Stops it at once, as a crash would.
    pub async fn kill(mut self) -> SocketAddr {
        self.child.kill().await.unwrap();
        self.addr
    }

    /// Asks it to stop (SIGTERM) and waits.
    pub async fn stop(mut self) -> ExitStatus {
        terminate(&mut self.child).await
    }

    pub fn pid(&self) -> u32 {
        self.child.id().unwrap_or(0)
    }

    pub fn config_path(&self) -> &Path {
        &self.config
    }
}

pub struct AgentProcess {
    pub state_dir: PathBuf,
    child: Child,
}

/// Agent settings for tests: fast heartbeats, quick reconnects, and one SQL Server
/// instance at `sql_port`.
pub fn agent_config(state_dir: &Path, sql_port: u16, inventory_secs: u64) -> String {
    format!(
        "state_dir = {state:?}\ninventory_interval_secs = {inventory_secs}\nheartbeat_interval_secs = 1\nmax_backoff_secs = 1\n\
         [[instance]]\nname = \"default\"\nhost = \"127.0.0.1\"\nport = {sql_port}\nconnect_timeout_secs = 2\n\
         auth = {{ method = \"sql_login\", username = \"ferry\", password = \"not-a-real-secret\" }}\n",
        state = state_dir.display().to_string()
    )
}

impl AgentProcess {
    /// `ferry-agent enroll`; returns its output.
    pub async fn enroll(state_dir: &Path, url: &str, token: &str, name: &str) -> Output {
        Command::new(binary("ferry-agent"))
            .arg("--state-dir")
            .arg(state_dir)
            .args([
                "enroll",
                "--control-plane",
                url,
                "--token",
                token,
                "--name",
                name,
            ])
            .output()
            .await
            .expect("run ferry-agent enroll")
    }

    /// `ferry-agent run` with `config` (TOML), logging to `<state_dir>/../<name>.log`.
    pub fn start(state_dir: &Path, config: &str) -> Self {
        Self::start_with_env(state_dir, config, &[])
    }

    /// Starts it with extra environment variables.
    pub fn start_with_env(state_dir: &Path, config: &str, env: &[(&str, &str)]) -> Self {
        std::fs::create_dir_all(state_dir).unwrap();
        let config_path = state_dir.with_extension("toml");
        std::fs::write(&config_path, config).unwrap();
        let log = open_log(&state_dir.with_extension("log"));
        let child = Command::new(binary("ferry-agent"))
            .arg("--config")
            .arg(&config_path)
            .arg("run")
            .envs(env.iter().map(|(k, v)| (k.to_string(), v.to_string())))
            .stdout(Stdio::null())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .expect("spawn ferry-agent");
        Self {
            state_dir: state_dir.to_path_buf(),
            child,
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.state_dir.with_extension("log")).unwrap_or_default()
    }

    /// Waits for the agent to exit on its own.
    pub async fn exited(&mut self, limit: Duration) -> ExitStatus {
        tokio::time::timeout(limit, self.child.wait())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "the agent did not exit within {limit:?}; log:\n{}",
                    self.log()
                )
            })
            .unwrap()
    }

    pub async fn kill(mut self) {
        self.child.kill().await.unwrap();
    }

    pub async fn stop(mut self) -> ExitStatus {
        terminate(&mut self.child).await
    }

    /// The process id (0 once it has exited).
    pub fn pid(&self) -> u32 {
        self.child.id().unwrap_or(0)
    }
}

async fn terminate(child: &mut Child) -> ExitStatus {
    if let Some(pid) = child.id() {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(pid.to_string())
            .status()
            .await;
    }
    match tokio::time::timeout(Duration::from_secs(20), child.wait()).await {
        Ok(status) => status.unwrap(),
        Err(_) => {
            child.kill().await.unwrap();
            panic!("the process did not stop within 20s of SIGTERM");
        }
    }
}

fn open_log(path: &Path) -> std::fs::File {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap()
}

/// A loopback port with nothing listening on it.
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}
