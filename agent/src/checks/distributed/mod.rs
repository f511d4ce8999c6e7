//! Distributed transactions (mi-link.md §6.2 MIHomogeneousMSDTCTransactSQL,
//! MIHeterogeneousMSDTCTransactSQL): modules whose text begins one (`BEGIN DISTRIBUTED
//! TRAN[SACTION]`, outside comments and strings), and the linked servers their text
//! names, which are the transaction's partners as far as the text shows. One check per
//! kind of partner; they share [`hits`].
//!
//! - `sql_partners`: every partner named is SQL Server (or none is named).
//! - `other_partners`: a partner is reached over a non-SQL provider.
//!
//! Not seen: modules created WITH ENCRYPTION (no text), dynamic SQL, and distributed
//! transactions that applications start through their drivers.

pub mod other_partners;
pub mod sql_partners;

use std::collections::BTreeSet;

use super::facts::{got, Facts, LinkedServer, Missing, ModuleName};
use super::tsql_words::{has_sequence, words};
use super::{listed, Hit};

const BEGIN_DISTRIBUTED: &[&[&str]] = &[&["BEGIN"], &["DISTRIBUTED"], &["TRAN", "TRANSACTION"]];

/// A module that begins distributed transactions, and the linked servers it names.
struct Distributed<'f> {
    module: &'f ModuleName,
    partners: Vec<&'f LinkedServer>,
}

/// One hit per online database with modules that begin distributed transactions and
/// that `keep` picks.
fn hits(
    facts: &Facts,
    what: &str,
    keep: impl Fn(&Distributed) -> bool,
) -> Result<Vec<Hit>, Missing> {
    let servers = got(&facts.linked_servers)?;
    let modules = got(&facts.distributed_modules)?;
    let mut hits = Vec::new();
    for database in got(&facts.databases)?.iter().filter(|d| d.online()) {
        let found: Vec<Distributed> = modules
            .iter()
            .filter(|m| m.module.database == database.name)
            .filter_map(|m| {
                let words = words(&m.definition);
                has_sequence(&words, BEGIN_DISTRIBUTED).then(|| Distributed {
                    module: &m.module,
                    partners: servers
                        .iter()
                        .filter(|s| words.iter().any(|w| w.eq_ignore_ascii_case(&s.name)))
                        .collect(),
                })
            })
            .filter(|d| keep(d))
            .collect();
        if found.is_empty() {
            continue;
        }
        let names: Vec<String> = found.iter().map(|d| d.module.to_string()).collect();
        let partners: BTreeSet<String> = found
            .iter()
            .flat_map(|d| &d.partners)
            .map(|s| format!("{} ({})", s.name, s.provider))
            .collect();
        let partners = if partners.is_empty() {
            "none named in the text".to_string()
        } else {
            partners.into_iter().collect::<Vec<_>>().join(", ")
        };
        hits.push(
            Hit::database(
                &database.name,
                format!("{} module(s) {what}: {}", found.len(), listed(&names, 5)),
            )
            .evidence("linked_servers", partners)
            .objects(names),
        );
    }
    Ok(hits)
}

#[cfg(test)]
fn facts_with(provider: &str, definition: &str) -> Facts {
    use super::facts::Module;
    let mut facts = super::fixture::ready();
    facts.linked_servers = Ok(vec![LinkedServer {
        name: "HQ".into(),
        provider: provider.into(),
        product: String::new(),
    }]);
    facts.distributed_modules = Ok(vec![Module {
        module: ModuleName {
            database: "Sales".into(),
            schema: "dbo".into(),
            name: "Post".into(),
            kind: "SQL_STORED_PROCEDURE".into(),
        },
        definition: definition.into(),
    }]);
    facts
}
