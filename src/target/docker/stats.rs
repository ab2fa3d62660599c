//! One container's resource use from Docker's stats API, computed as the
//! docker CLI does (`docker stats`): CPU from the deltas between the
//! engine's two samples, memory without the reclaimable page cache; the
//! CPU limit comes from the container's host config, since the stats
//! carry none.

use bollard::models::{ContainerStatsResponse, HostConfig};
use bollard::query_parameters::StatsOptions;
use futures::StreamExt;

use super::error::{ENGINE, to_target};
use super::{DockerTarget, timed};
use crate::target::{ErrorKind, TargetError, TargetOp, Usage};

/// CPU cores in use over the engine's sample: the container's CPU time
/// delta over the host's, times the CPUs online. `None` without two
/// samples (the first read of a container that just started).
pub(super) fn cpu_cores(s: &ContainerStatsResponse) -> Option<f64> {
    let now = s.cpu_stats.as_ref()?;
    let pre = s.precpu_stats.as_ref()?;
    let used = now.cpu_usage.as_ref()?.total_usage?;
    let used_before = pre.cpu_usage.as_ref()?.total_usage?;
    let system = now.system_cpu_usage?;
    let system_before = pre.system_cpu_usage?;
    let cpu_delta = used.checked_sub(used_before)? as f64;
    let system_delta = system.checked_sub(system_before)? as f64;
    if system_delta <= 0.0 {
        return None;
    }
    let online = now.online_cpus.filter(|&n| n > 0).unwrap_or_else(|| {
        now.cpu_usage
            .as_ref()
            .and_then(|u| u.percpu_usage.as_ref())
            .map_or(1, |p| p.len().max(1) as u32)
    });
    Some(cpu_delta / system_delta * f64::from(online))
}

/// Memory in use without the page cache the kernel can reclaim: cgroup
/// v2's `inactive_file`, or v1's `total_inactive_file`, as the CLI does.
pub(super) fn memory_bytes(s: &ContainerStatsResponse) -> Option<(u64, u64)> {
    let m = s.memory_stats.as_ref()?;
    let usage = m.usage?;
    let cache = m.stats.as_ref().and_then(|st| {
        st.get("inactive_file")
            .or_else(|| st.get("total_inactive_file"))
            .copied()
    });
    let used = match cache {
        Some(c) if c < usage => usage - c,
        _ => usage,
    };
    Some((used, m.limit.unwrap_or(0)))
}

/// The CPU limit in cores: `--cpus` (NanoCpus), else a CFS quota over its
/// period; `None` without a limit.
pub(super) fn cpu_limit(h: &HostConfig) -> Option<f64> {
    if let Some(n) = h.nano_cpus.filter(|&n| n > 0) {
        return Some(n as f64 / 1e9);
    }
    match (h.cpu_quota, h.cpu_period) {
        (Some(q), Some(p)) if q > 0 && p > 0 => Some(q as f64 / p as f64),
        // Docker's default period is 100 ms when only a quota is set.
        (Some(q), _) if q > 0 => Some(q as f64 / 100_000.0),
        _ => None,
    }
}

impl DockerTarget {
    /// One-shot stats (the engine samples twice, about a second apart, so
    /// the CPU deltas are real) and the container's CPU limit.
    pub(super) async fn read_usage(&self, name: &str) -> Result<Usage, TargetError> {
        let opts = StatsOptions {
            stream: false,
            one_shot: false,
        };
        let stats = timed(TargetOp::Stats, async {
            self.docker.stats(name, Some(opts)).next().await
        });
        let inspect = timed(TargetOp::Inspect, self.docker.inspect_container(name, None));
        let (stats, inspect) = futures::join!(stats, inspect);
        let stats = match stats {
            Some(Ok(s)) => s,
            Some(Err(e)) => return Err(to_target(TargetOp::Stats, e)),
            None => {
                return Err(TargetError::new(
                    ENGINE,
                    TargetOp::Stats,
                    ErrorKind::Other,
                    "the stats stream ended without a sample",
                ));
            }
        };
        let inspect = inspect.map_err(|e| to_target(TargetOp::Inspect, e))?;
        let unmeasured = |what: &str| {
            TargetError::new(
                ENGINE,
                TargetOp::Stats,
                ErrorKind::Other,
                format!("container {name}: no {what} in its stats (not running?)"),
            )
        };
        let cpu = cpu_cores(&stats).ok_or_else(|| unmeasured("CPU sample pair"))?;
        let (memory, limit) = memory_bytes(&stats).ok_or_else(|| unmeasured("memory usage"))?;
        Ok(Usage {
            cpu_cores: cpu,
            cpu_limit_cores: inspect.host_config.as_ref().and_then(cpu_limit),
            memory_bytes: memory,
            memory_limit_bytes: limit,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stats answer as Docker 27 gives it with cgroup v2 (trimmed).
    const SAMPLE: &str = r#"{
        "cpu_stats": {"cpu_usage": {"total_usage": 2500000000}, "system_cpu_usage": 104000000000, "online_cpus": 2},
        "precpu_stats": {"cpu_usage": {"total_usage": 2000000000}, "system_cpu_usage": 102000000000, "online_cpus": 2},
        "memory_stats": {"usage": 300000000, "limit": 1000000000, "stats": {"inactive_file": 100000000}}
    }"#;

    #[test]
    fn cpu_and_memory_as_the_cli_computes_them() {
        let s: ContainerStatsResponse = serde_json::from_str(SAMPLE).unwrap();
        // 0.5 s of CPU over 2 s of host time on 2 CPUs: half a core.
        assert!((cpu_cores(&s).unwrap() - 0.5).abs() < 1e-9);
        assert_eq!(memory_bytes(&s), Some((200_000_000, 1_000_000_000)));
    }

    #[test]
    fn a_first_sample_has_no_cpu_figure() {
        let mut s: ContainerStatsResponse = serde_json::from_str(SAMPLE).unwrap();
        s.precpu_stats = None;
        assert_eq!(cpu_cores(&s), None);
    }

    #[test]
    fn cpu_limits_from_nano_cpus_or_quota() {
        let h = |nano, quota, period| HostConfig {
            nano_cpus: nano,
            cpu_quota: quota,
            cpu_period: period,
            ..Default::default()
        };
        assert_eq!(cpu_limit(&h(Some(500_000_000), None, None)), Some(0.5));
        assert_eq!(cpu_limit(&h(None, Some(150_000), Some(100_000))), Some(1.5));
        assert_eq!(cpu_limit(&h(Some(0), Some(0), Some(0))), None);
        let u = Usage {
            cpu_cores: 0.45,
            cpu_limit_cores: Some(0.5),
            memory_bytes: 1,
            memory_limit_bytes: 4,
        };
        assert!((u.cpu_utilisation() - 0.9).abs() < 1e-9);
        assert_eq!(u.memory_utilisation(), Some(0.25));
    }
}
