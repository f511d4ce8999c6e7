//! A real Prometheus for the tests (Debian's `prometheus` package; `.ci/run` installs
//! it), scraping control planes every second, queried through its HTTP API (range
//! queries, as a dashboard's, and its alerts); and the
//! reading of one sample out of Prometheus's text format.
//!
//! Without `prometheus` on the PATH, [`Prometheus::start`] says so and returns None
//! (a developer's machine), unless `FERRY_REQUIRE_TOOLS` is set (CI), where it fails.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

use crate::http_get;
use crate::wait;

/// Set (by CI) when a missing tool must fail its test rather than skip it.
pub const REQUIRE_TOOLS: &str = "FERRY_REQUIRE_TOOLS";

pub struct Prometheus {
    pub addr: SocketAddr,
    _child: Child,
}

/// Whether `prometheus` is on the PATH.
pub fn installed() -> bool {
    std::process::Command::new("prometheus")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

impl Prometheus {
    /// Starts Prometheus in `dir` scraping `targets`' `/metrics` every second (job
    /// `ferry-control`), with `rule_files` loaded; None when it is not installed.
    pub async fn start(dir: &Path, targets: &[SocketAddr], rule_files: &[&Path]) -> Option<Self> {
        if !installed() {
            assert!(
                std::env::var_os(REQUIRE_TOOLS).is_none(),
                "prometheus is not installed and FERRY_REQUIRE_TOOLS is set (apt-get install prometheus)"
            );
            eprintln!(
                "prometheus is not installed (apt-get install prometheus); its checks are skipped"
            );
            return None;
        }
        let targets: Vec<String> = targets.iter().map(|t| format!("\"{t}\"")).collect();
        let rules: Vec<String> = rule_files
            .iter()
            .map(|r| format!("\"{}\"", r.display()))
            .collect();
        let config = format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files: [{}]\n\
             scrape_configs:\n  - job_name: ferry-control\n    static_configs:\n      - targets: [{}]\n",
            rules.join(", "),
            targets.join(", ")
        );
        let config_path = dir.join("prometheus.yml");
        std::fs::write(&config_path, config).unwrap();
        let port = crate::processes::closed_port();
        let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("tsdb").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .expect("spawn prometheus");
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        wait::until(
            "Prometheus to be ready",
            Duration::from_secs(30),
            || async move {
                match http_get::get(addr, "/-/ready").await {
                    Ok((200, _)) => Ok(Some(())),
                    Ok((status, body)) => Err(format!("{status}: {body}")),
                    Err(e) => Err(e.to_string()),
                }
            },
        )
        .await;
        Some(Self {
            addr,
            _child: child,
        })
    }

    /// A range query's result from `start` to `end` (Unix seconds) every `step` seconds,
    /// as a dashboard panel charts it.
    pub async fn query_range(
        &self,
        promql: &str,
        start: i64,
        end: i64,
        step: u32,
    ) -> anyhow::Result<Vec<serde_json::Value>> {
        let range = format!("&start={start}&end={end}&step={step}");
        self.result(promql, "query_range", &range).await
    }

    /// `/api/v1/<api>` for `promql` with `more` parameters: its `data.result`.
    async fn result(
        &self,
        promql: &str,
        api: &str,
        more: &str,
    ) -> anyhow::Result<Vec<serde_json::Value>> {
        let encoded: String = form_urlencoded::byte_serialize(promql.as_bytes()).collect();
        let path = format!("/api/v1/{api}?query={encoded}{more}");
        let (status, body) = http_get::get(self.addr, &path).await?;
        let answer: serde_json::Value = serde_json::from_str(&body)?;
        anyhow::ensure!(
            status == 200 && answer["status"] == "success",
            "{promql}: {status} {body}"
        );
        Ok(answer["data"]["result"]
            .as_array()
            .cloned()
            .unwrap_or_default())
    }

    /// The alerts firing or pending now (`/api/v1/alerts`).
    pub async fn alerts(&self) -> anyhow::Result<Vec<serde_json::Value>> {
        let (status, body) = http_get::get(self.addr, "/api/v1/alerts").await?;
        let answer: serde_json::Value = serde_json::from_str(&body)?;
        anyhow::ensure!(status == 200, "alerts: {status} {body}");
        Ok(answer["data"]["alerts"]
            .as_array()
            .cloned()
            .unwrap_or_default())
    }
}

/// Prints where ferry-control's store time went: the operations that took the most
/// time in all, from its own `db.client.operation.duration` at `metrics`.
pub async fn print_store_time(metrics: std::net::SocketAddr) -> anyhow::Result<()> {
    let (_, body) = crate::http_get::get(metrics, "/metrics").await?;
    let mut operations: std::collections::BTreeMap<String, (f64, f64)> = Default::default();
    for line in body.lines() {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Some(name) = series
            .split("db_operation_name=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
        else {
            continue;
        };
        let value: f64 = value.parse().unwrap_or(0.0);
        let entry = operations.entry(name.to_string()).or_default();
        if series.starts_with("db_client_operation_duration_seconds_sum") {
            entry.0 += value;
        } else if series.starts_with("db_client_operation_duration_seconds_count") {
            entry.1 += value;
        }
    }
    let mut by_total: Vec<_> = operations.into_iter().collect();
    by_total.sort_by(|a, b| b.1 .0.total_cmp(&a.1 .0));
    println!("  store operations by time spent (ferry-control's /metrics):");
    for (name, (seconds, count)) in by_total.iter().take(8) {
        println!(
            "    {name:<34} {:>8.0} ms in all, {count:>6} calls, {:>7.2} ms each",
            seconds * 1000.0,
            seconds * 1000.0 / count.max(1.0)
        );
    }
    Ok(())
}

/// The value of the sample `name` whose labels include every one of `labels`, in
/// Prometheus's text format `text`; None when there is none.
pub fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    matching(text, name, labels).next()
}

/// The sum of every sample `name` whose labels include every one of `labels` (0 when
/// there is none): a counter across the label values not named.
pub fn sum(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    matching(text, name, labels).sum()
}

/// The values of the samples `name` whose labels include every one of `labels`.
fn matching<'a>(
    text: &'a str,
    name: &'a str,
    labels: &'a [(&str, &str)],
) -> impl Iterator<Item = f64> + 'a {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(move |line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (metric, rest) = match series.split_once('{') {
                Some((metric, rest)) => (metric, rest.strip_suffix('}')?),
                None => (series, ""),
            };
            let has = |(k, v): &(&str, &str)| rest.contains(&format!("{k}=\"{v}\""));
            (metric == name && labels.iter().all(has)).then(|| value.parse().ok())?
        })
}

#[cfg(test)]
mod tests {
    use super::{sample, sum};

    #[test]
    fn samples_are_found_by_name_and_labels() {
        let text = "# TYPE a gauge\na{x=\"1\",y=\"2\"} 3\na{x=\"2\"} 4\nab 5\nb 6.5\n";
        assert_eq!(sample(text, "a", &[("x", "2")]), Some(4.0));
        assert_eq!(sample(text, "a", &[("y", "2")]), Some(3.0));
        assert_eq!(sample(text, "b", &[]), Some(6.5));
        assert_eq!(sample(text, "a", &[("x", "3")]), None);
        assert_eq!(sample(text, "c", &[]), None);
        assert_eq!(sum(text, "a", &[]), 7.0);
        assert_eq!(sum(text, "a", &[("x", "1")]), 3.0);
        assert_eq!(sum(text, "c", &[]), 0.0);
    }
}
