//! Host labels (`env=prod`, `site=paris`): set by operators on the control plane, never
//! by agents (a host cannot move itself into a wave), and matched by label selectors.
//! The syntax follows Kubernetes' labels, which operators already know.

use std::collections::BTreeMap;

/// Labels per host, most at once.
pub const MAX_LABELS: usize = 32;
const MAX_KEY: usize = 63;
const MAX_VALUE: usize = 63;

pub type Labels = BTreeMap<String, String>;

/// Checks a label key: 1 to 63 letters, digits, `.`, `_`, `-` or `/`, starting and
/// ending with a letter or digit.
pub fn check_key(key: &str) -> Result<(), String> {
    let edges_ok = |s: &str| {
        s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
            && s.chars().last().is_some_and(|c| c.is_ascii_alphanumeric())
    };
    if key.is_empty() || key.len() > MAX_KEY || !edges_ok(key) {
        return Err(format!(
            "label key {key:?}: 1 to {MAX_KEY} characters, starting and ending with a letter or digit"
        ));
    }
    if let Some(c) = key
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/')))
    {
        return Err(format!(
            "label key {key:?}: {c:?} is not allowed; use letters, digits, '.', '_', '-', '/'"
        ));
    }
    Ok(())
}

/// Checks a label value: empty, or up to 63 letters, digits, `.`, `_` or `-`.
pub fn check_value(key: &str, value: &str) -> Result<(), String> {
    if value.len() > MAX_VALUE {
        return Err(format!(
            "label {key}: the value is longer than {MAX_VALUE} characters"
        ));
    }
    if let Some(c) = value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(format!(
            "label {key}={value}: {c:?} is not allowed in a value; use letters, digits, '.', '_', '-'"
        ));
    }
    Ok(())
}

/// Parses `key=value` selector terms; a host matches when it has every pair.
pub fn parse_selector(terms: &[String]) -> Result<Vec<(String, String)>, String> {
    let mut pairs = Vec::with_capacity(terms.len());
    for term in terms {
        let (key, value) = term
            .split_once('=')
            .ok_or_else(|| format!("label selector {term:?}: write key=value, e.g. env=prod"))?;
        check_key(key)?;
        check_value(key, value)?;
        pairs.push((key.to_string(), value.to_string()));
    }
    Ok(pairs)
}

pub fn matches(labels: &Labels, selector: &[(String, String)]) -> bool {
    selector
        .iter()
        .all(|(k, v)| labels.get(k).is_some_and(|have| have == v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_values_follow_the_documented_syntax() {
        assert!(check_key("env").is_ok());
        assert!(check_key("ferry.io/site").is_ok());
        assert!(check_key("").is_err());
        assert!(check_key("-env").is_err());
        assert!(check_key("en v").unwrap_err().contains("' '"));
        assert!(check_key(&"k".repeat(64)).is_err());
        assert!(check_value("env", "").is_ok());
        assert!(check_value("env", "prod-1.a_b").is_ok());
        assert!(check_value("env", "a=b").is_err());
    }

    #[test]
    fn a_selector_matches_hosts_with_every_pair() {
        let selector = parse_selector(&["env=prod".into(), "site=paris".into()]).unwrap();
        let mut labels = Labels::from([("env".to_string(), "prod".to_string())]);
        assert!(!matches(&labels, &selector));
        labels.insert("site".into(), "paris".into());
        assert!(matches(&labels, &selector));
        labels.insert("site".into(), "lyon".into());
        assert!(!matches(&labels, &selector));
        assert!(parse_selector(&["env".into()])
            .unwrap_err()
            .contains("key=value"));
    }
}
