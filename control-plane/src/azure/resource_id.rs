//! Managed instance resource ids:
//! `/subscriptions/{id}/resourceGroups/{group}/providers/Microsoft.Sql/managedInstances/{name}`.
//! ARM compares ids without case; the canonical form keeps the names as given and
//! the fixed segments as ARM writes them.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagedInstanceId {
    pub subscription: String,
    pub resource_group: String,
    pub name: String,
}

const SHAPE: &str =
    "/subscriptions/SUBSCRIPTION/resourceGroups/GROUP/providers/Microsoft.Sql/managedInstances/NAME";

impl ManagedInstanceId {
    pub fn parse(text: &str) -> Result<Self, String> {
        let wrong = |why: &str| format!("resource id {text:?}: {why}; expected {SHAPE}");
        let parts: Vec<&str> = text.trim().trim_end_matches('/').split('/').collect();
        let [empty, subscriptions, subscription, groups, group, providers, namespace, kind, name] =
            parts.as_slice()
        else {
            return Err(wrong("it has the wrong number of segments"));
        };
        let fixed = [
            (*subscriptions, "subscriptions"),
            (*groups, "resourceGroups"),
            (*providers, "providers"),
            (*namespace, "Microsoft.Sql"),
            (*kind, "managedInstances"),
        ];
        if !empty.is_empty()
            || fixed
                .iter()
                .any(|(got, want)| !got.eq_ignore_ascii_case(want))
        {
            return Err(wrong("it is not a managed instance's id"));
        }
        if uuid::Uuid::parse_str(subscription).is_err() {
            return Err(wrong("the subscription is not a GUID"));
        }
        // Resource group: 1-90 of letters, digits, '_', '-', '.', '(' and ')', not ending in '.'.
        let group_ok = (1..=90).contains(&group.len())
            && group
                .chars()
                .all(|c| c.is_alphanumeric() || "_-.()".contains(c))
            && !group.ends_with('.');
        if !group_ok {
            return Err(wrong("the resource group name is not valid"));
        }
        // Managed instance: 1-63 lower-case letters, digits and '-', not starting or ending with '-'.
        let name_ok = (1..=63).contains(&name.len())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !name.starts_with('-')
            && !name.ends_with('-');
        if !name_ok {
            return Err(wrong(
                "the managed instance name must be 1-63 lower-case letters, digits and '-'",
            ));
        }
        Ok(ManagedInstanceId {
            subscription: subscription.to_ascii_lowercase(),
            resource_group: group.to_string(),
            name: name.to_string(),
        })
    }

    /// The key targets are stored under: ARM ids compare without case.
    pub fn key(&self) -> String {
        self.to_string().to_ascii_lowercase()
    }
}

impl fmt::Display for ManagedInstanceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Sql/managedInstances/{}",
            self.subscription, self.resource_group, self.name
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_without_case_and_bad_ones_say_why() {
        let id = ManagedInstanceId::parse(
            "/SUBSCRIPTIONS/0B1F6471-1BF0-4DDA-AEC3-CB9272F09590/resourcegroups/Rg-Ferry/providers/microsoft.sql/managedinstances/mi-one/",
        )
        .unwrap();
        assert_eq!(
            id.to_string(),
            "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590/resourceGroups/Rg-Ferry/providers/Microsoft.Sql/managedInstances/mi-one"
        );
        let err = |text: &str| ManagedInstanceId::parse(text).unwrap_err();
        assert!(err("mi-one").contains("number of segments"));
        assert!(err(
            "/subscriptions/x/resourceGroups/g/providers/Microsoft.Sql/managedInstances/m"
        )
        .contains("GUID"));
        assert!(err("/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590/resourceGroups/g/providers/Microsoft.Sql/servers/m")
            .contains("not a managed instance"));
        assert!(err("/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590/resourceGroups/g/providers/Microsoft.Sql/managedInstances/MI_One")
            .contains("lower-case"));
    }
}
