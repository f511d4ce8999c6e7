//! The price table: per tier and hardware, the vCore sizes, memory per vCore, storage
//! limits and prices. Read once at start from `[sizing] price_table`, or the shipped
//! example (`deploy/mi-prices.toml`, embedded) when none is configured; every error
//! names the entry and field.

use serde::Deserialize;

pub const EXAMPLE: &str = include_str!("../../../deploy/mi-prices.toml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceTable {
    pub currency: String,
    pub hours_per_month: f64,
    pub basis: String,
    #[serde(rename = "sku")]
    pub skus: Vec<Sku>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Tier {
    GeneralPurpose,
    BusinessCritical,
}

impl Tier {
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::GeneralPurpose => "GeneralPurpose",
            Tier::BusinessCritical => "BusinessCritical",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sku {
    pub tier: Tier,
    pub hardware: String,
    pub vcores: Vec<u32>,
    pub memory_gb_per_vcore: f64,
    pub max_storage_gb: u32,
    pub included_storage_gb: u32,
    pub price_per_vcore_hour: f64,
    pub price_per_gb_month: f64,
}

impl PriceTable {
    pub fn parse(text: &str) -> Result<Self, String> {
        let table: PriceTable = toml::from_str(text).map_err(|e| e.to_string())?;
        table.validate()?;
        Ok(table)
    }

    fn validate(&self) -> Result<(), String> {
        if self.currency.is_empty() {
            return Err("currency: give the prices' currency, e.g. \"USD\"".into());
        }
        if !(self.hours_per_month > 0.0 && self.hours_per_month <= 744.0) {
            return Err("hours_per_month: between 0 and 744 (730 is usual)".into());
        }
        if self.skus.is_empty() {
            return Err("sku: list at least one [[sku]]".into());
        }
        for (n, sku) in self.skus.iter().enumerate() {
            let at = |field: &str| format!("sku[{n}] ({}).{field}", sku.hardware);
            if sku.vcores.is_empty() || sku.vcores.contains(&0) {
                return Err(format!(
                    "{}: list the vCore sizes, e.g. [4, 8, 16]",
                    at("vcores")
                ));
            }
            for (field, value) in [
                ("memory_gb_per_vcore", sku.memory_gb_per_vcore),
                ("price_per_vcore_hour", sku.price_per_vcore_hour),
                ("price_per_gb_month", sku.price_per_gb_month),
            ] {
                if !(value.is_finite() && value >= 0.0) {
                    return Err(format!("{}: a number, zero or more", at(field)));
                }
            }
            if sku.memory_gb_per_vcore == 0.0 || sku.max_storage_gb == 0 {
                return Err(format!(
                    "{}: memory per vCore and maximum storage must be greater than zero",
                    at("memory_gb_per_vcore / max_storage_gb")
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_example_is_valid() {
        let table = PriceTable::parse(EXAMPLE).unwrap();
        assert!(table.skus.iter().any(|s| s.tier == Tier::BusinessCritical));
    }

    #[test]
    fn errors_name_the_entry_and_field() {
        let bad = EXAMPLE.replacen("vcores = [4, 8, 16, 24, 32, 40, 64, 80]", "vcores = []", 1);
        let e = PriceTable::parse(&bad).unwrap_err();
        assert!(e.contains("sku[0] (Standard-series (Gen5)).vcores"), "{e}");
        assert!(PriceTable::parse("currency = \"USD\"").is_err());
    }
}
