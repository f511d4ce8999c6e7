//! MI-TDE: a TDE-protected database can be seeded only after its certificate is on the
//! managed instance (mi-link.md §1.3). Reading the keys needs VIEW SERVER STATE.

use super::facts::{got, Facts, Missing};
use super::{Check, Hit, Scope, Severity};

pub const CHECK: Check = Check {
    id: "MI-TDE",
    scope: Scope::Database,
    severity: Severity::Warning,
    title: "TDE certificates are migrated first",
    remedy: "Before creating the link, back up the TDE certificate with its private key (BACKUP CERTIFICATE ... WITH PRIVATE KEY) and upload it to the managed instance (Add-AzSqlManagedInstanceTransparentDataEncryptionCertificate), or protect the database with a key in Azure Key Vault the MI can use.",
    evaluate,
};

fn evaluate(facts: &Facts) -> Result<Vec<Hit>, Missing> {
    let keys = got(&facts.encryption_keys)?;
    Ok(got(&facts.databases)?
        .iter()
        .filter_map(|d| {
            let key = keys.iter().find(|k| k.database_id == d.database_id)?;
            let protector = key.certificate.clone().unwrap_or_else(|| {
                format!("a {} not in master", key.encryptor_type.to_lowercase())
            });
            Some(
                Hit::database(
                    &d.name,
                    format!(
                        "encrypted with TDE ({}), protected by {protector}",
                        key.state
                    ),
                )
                .evidence("encryption_state", &key.state)
                .evidence("encryptor_type", &key.encryptor_type)
                .objects(
                    key.certificate
                        .iter()
                        .map(|c| format!("certificate master.{c}")),
                ),
            )
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::super::facts::EncryptionKey;
    use super::super::fixture::{found, ready};
    use super::*;

    #[test]
    fn an_encrypted_database_names_its_certificate() {
        let mut facts = ready();
        assert!(found(&CHECK, &facts).is_empty());
        facts.encryption_keys = Ok(vec![EncryptionKey {
            database_id: 5,
            state: "ENCRYPTED".into(),
            certificate: Some("TDECert".into()),
            encryptor_type: "CERTIFICATE".into(),
        }]);
        let hits = (CHECK.evaluate)(&facts).unwrap();
        assert_eq!(hits[0].objects, ["certificate master.TDECert"]);
    }
}
