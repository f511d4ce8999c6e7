//! The operator API's SKU recommendation: per instance of one host or of every host,
//! from its load windows and its newest assessment (memory-optimized databases need
//! Business Critical), priced with the configured price table.

use std::collections::{BTreeMap, BTreeSet};

use ferry_proto::operator::v1 as op;

use super::{ApiError, Context};
use crate::assess::CheckStatus;
use crate::sizing::recommend::{recommend, Policy};
use crate::sizing::LoadWindow;
use crate::store::agents::AgentRecord;
use ferry_proto::clock::now_ms;

/// The check whose findings are databases with memory-optimized objects.
const IN_MEMORY_CHECK: &str = "MI-INMEMORY-TIER";

pub async fn recommend_sku(
    shared: &Context,
    request: op::RecommendSkuRequest,
) -> Result<op::SkuRecommendations, ApiError> {
    let defaults = &shared.config.sizing;
    let percentile = request.percentile.unwrap_or(defaults.percentile);
    if !(percentile > 0.0 && percentile <= 100.0) {
        return Err(ApiError::invalid("percentile", "above 0 and at most 100"));
    }
    let headroom = request
        .headroom_percent
        .unwrap_or(defaults.headroom_percent);
    if !(0.0..=1000.0).contains(&headroom) {
        return Err(ApiError::invalid("headroom_percent", "0 to 1000"));
    }
    let policy = Policy {
        percentile,
        headroom_percent: headroom,
        history_days: defaults.history_days,
    };
    let hosts: Vec<AgentRecord> = if request.host.is_empty() {
        crate::service::lookup::live_hosts(shared, |_| true).await?
    } else {
        vec![crate::service::lookup::find_host(shared, &request.host).await?]
    };
    let since = now_ms() - i64::from(defaults.history_days) * 86_400_000;
    let mut instances = Vec::new();
    for host in &hosts {
        let mut windows: BTreeMap<String, Vec<LoadWindow>> = BTreeMap::new();
        for name in shared
            .store
            .list_instances(host.id)
            .await?
            .into_iter()
            .map(|i| i.name)
        {
            windows.entry(name).or_default();
        }
        for w in shared.store.load_windows(host.id, since).await? {
            windows.entry(w.instance.clone()).or_default().push(w);
        }
        let in_memory = in_memory_databases(shared, host).await?;
        for (instance, windows) in windows {
            let needs_bc: Vec<String> = in_memory
                .get(&instance)
                .map(|dbs| dbs.iter().cloned().collect())
                .unwrap_or_default();
            let r = recommend(&windows, &needs_bc, policy, &shared.prices);
            let choice = r.choice.clone();
            instances.push(op::SkuRecommendation {
                host: host.name.clone(),
                instance,
                tier: r.tier.as_str().into(),
                hardware: choice
                    .as_ref()
                    .map(|c| c.hardware.clone())
                    .unwrap_or_default(),
                vcores: choice.as_ref().map_or(0, |c| c.vcores),
                memory_gb: choice.as_ref().map_or(0.0, |c| c.memory_gb),
                storage_gb: choice.as_ref().map_or(0, |c| c.storage_gb),
                monthly_cost: choice.as_ref().map_or(0.0, |c| c.monthly_cost),
                reasons: r.reasons,
                confidence: u32::from(r.confidence),
                windows: r.observed.windows,
                cpu_count: r.observed.cpu_count,
                cpu_cores_used: r.observed.cpu_cores,
                memory_used_gb: r.observed.memory_gb,
                data_iops: r.observed.data_iops,
                log_mb_per_sec: r.observed.log_mb_per_sec,
                io_latency_ms: r.observed.io_latency_ms,
                storage_used_gb: r.observed.storage_gb,
            });
        }
    }
    Ok(op::SkuRecommendations {
        currency: shared.prices.currency.clone(),
        price_basis: shared.prices.basis.clone(),
        percentile,
        headroom_percent: headroom,
        instances,
    })
}

/// Per instance, the databases the host's newest assessment found memory-optimized
/// objects in.
async fn in_memory_databases(
    shared: &Context,
    host: &AgentRecord,
) -> Result<BTreeMap<String, BTreeSet<String>>, ApiError> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let Some(run) = shared
        .store
        .list_assessment_runs(Some(host.id), 1)
        .await?
        .into_iter()
        .next()
    else {
        return Ok(out);
    };
    for outcome in shared
        .store
        .assessment_outcomes(&run.id, Some(host.id))
        .await?
    {
        if outcome.check_id == IN_MEMORY_CHECK && outcome.status == CheckStatus::Found {
            out.entry(outcome.instance)
                .or_default()
                .extend(outcome.found_on);
        }
    }
    Ok(out)
}
