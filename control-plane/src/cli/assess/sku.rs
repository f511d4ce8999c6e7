//! Rendering `ferry assess sku`: per instance the recommended tier, hardware, vCores,
//! storage and monthly cost, what it was sized on, and why.

use ferry_proto::operator::v1::{SkuRecommendation, SkuRecommendations};
use serde_json::{json, Value};

use crate::cli::output::table;

pub fn sku_text(found: &SkuRecommendations) -> String {
    let rows: Vec<Vec<String>> = found
        .instances
        .iter()
        .map(|r| {
            let sized = !r.hardware.is_empty();
            vec![
                r.host.clone(),
                r.instance.clone(),
                r.tier.clone(),
                if sized {
                    r.hardware.clone()
                } else {
                    "-".into()
                },
                if sized {
                    r.vcores.to_string()
                } else {
                    "-".into()
                },
                if sized {
                    format!("{} GB", r.storage_gb)
                } else {
                    "-".into()
                },
                if sized {
                    format!("{:.0} {}", r.monthly_cost, found.currency)
                } else {
                    "-".into()
                },
                stars(r.confidence),
            ]
        })
        .collect();
    let mut out = format!(
        "SKU recommendation at p{} + {}% headroom; prices: {}\n",
        found.percentile, found.headroom_percent, found.price_basis
    );
    out.push_str(&table(
        &[
            "HOST",
            "INSTANCE",
            "TIER",
            "HARDWARE",
            "VCORES",
            "STORAGE",
            "PER MONTH",
            "CONFIDENCE",
        ],
        &rows,
    ));
    out.push('\n');
    for r in &found.instances {
        out.push_str(&format!("\n{}/{}:\n", r.host, r.instance));
        for reason in &r.reasons {
            out.push_str(&format!("  - {reason}\n"));
        }
    }
    out
}

fn stars(confidence: u32) -> String {
    match confidence {
        0 => "no data".into(),
        n => format!(
            "{}{}",
            "*".repeat(n as usize),
            ".".repeat(5 - n.min(5) as usize)
        ),
    }
}

pub fn sku_json(found: &SkuRecommendations) -> Value {
    let one = |r: &SkuRecommendation| {
        json!({
            "host": r.host, "instance": r.instance, "tier": r.tier, "hardware": r.hardware,
            "vcores": r.vcores, "memory_gb": r.memory_gb, "storage_gb": r.storage_gb,
            "monthly_cost": r.monthly_cost, "reasons": r.reasons, "confidence": r.confidence,
            "observed": {
                "windows": r.windows, "cpu_count": r.cpu_count, "cpu_cores_used": r.cpu_cores_used,
                "memory_used_gb": r.memory_used_gb, "data_iops": r.data_iops,
                "log_mb_per_sec": r.log_mb_per_sec, "io_latency_ms": r.io_latency_ms,
                "storage_used_gb": r.storage_used_gb,
            },
        })
    };
    json!({
        "currency": found.currency, "price_basis": found.price_basis,
        "percentile": found.percentile, "headroom_percent": found.headroom_percent,
        "instances": found.instances.iter().map(one).collect::<Vec<_>>(),
    })
}
