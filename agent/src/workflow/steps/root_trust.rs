//! Trust in the roots Azure issues managed instances' certificates from (mi-link.md
//! §1.2.7, §2.1 (f)): Microsoft RSA Root Certificate Authority 2017 and DigiCert
//! Global Root G2 imported into master as `[MicrosoftPKI]` and `[DigiCertPKI]` (the
//! names Microsoft's scripts fix), each then added as an issuer for
//! `*.database.windows.net` with `sp_certificate_add_issuer`. The procedure comes with
//! the servicing update; without it the step blocks with the update to install.
//!
//! No catalog view shows the issuers added, so the step cannot inspect that half: it
//! adds each issuer on every run and takes "already added as trusted issuer" as done,
//! as Microsoft's own cmdlet does. A run cut off between the import and the issuer is
//! therefore finished by the next one. These certificates trust Azure for the whole
//! instance, so `ferry migrate cancel` leaves them in place.

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

use crate::sql::{self, literal, quote_name, SqlError};
use crate::workflow::steps::certificate::encoded;
use crate::workflow::{execute, Context, Found, StepError};

/// The DNS names the issuers are trusted for.
const ISSUER_DNS: &str = "*.database.windows.net";

/// (certificate name in master, the root's PEM).
const ROOTS: [(&str, &str); 2] = [
    (
        "MicrosoftPKI",
        include_str!("roots/microsoft_rsa_root_2017.pem"),
    ),
    (
        "DigiCertPKI",
        include_str!("roots/digicert_global_root_g2.pem"),
    ),
];

fn der(name: &str, pem: &str) -> Result<Vec<u8>, StepError> {
    CertificateDer::from_pem_slice(pem.as_bytes())
        .map(|c| c.to_vec())
        .map_err(|e| StepError::Local(format!("the built-in root {name}: {e}")))
}

/// What can be seen: the procedure and the two certificates. Whether the issuers were
/// added cannot be, so the step applies even when it finds the certificates
/// (`Step::run`).
pub async fn inspect(ctx: &mut Context<'_>) -> Result<Found, StepError> {
    if !issuer_procedure(ctx).await? {
        return Ok(Found::Blocked(
            "sys.sp_certificate_add_issuer does not exist: install the servicing update for the MI link (the cumulative update, or the Azure Connect pack on 2016 and 2017) and retry".into(),
        ));
    }
    let mut missing = Vec::new();
    for (name, pem) in ROOTS {
        let quoted = quote_name(name);
        match encoded(ctx, name).await? {
            Some(found) if found == der(name, pem)? => {}
            Some(_) => {
                return Ok(Found::Blocked(format!(
                    "certificate {quoted} in master is not the Azure root Ferry imports under that name: drop it (USE master; DROP CERTIFICATE {quoted}) and retry"
                )))
            }
            None => missing.push(quoted),
        }
    }
    Ok(if missing.is_empty() {
        Found::Done(format!(
            "MicrosoftPKI and DigiCertPKI are imported and trusted for {ISSUER_DNS}"
        ))
    } else {
        Found::Missing(format!(
            "import {} and trust them for {ISSUER_DNS}",
            missing.join(" and ")
        ))
    })
}

/// Imports the roots that are missing and adds both as issuers; whether anything
/// changed.
pub async fn apply(ctx: &mut Context<'_>) -> Result<bool, StepError> {
    let mut changed = Vec::new();
    for (name, pem) in ROOTS {
        let quoted = quote_name(name);
        if encoded(ctx, name).await?.is_none() {
            let statement = format!(
                "USE master; CREATE CERTIFICATE {quoted} FROM BINARY = 0x{}",
                hex::encode_upper(der(name, pem)?)
            );
            execute(ctx, "import Azure root certificate", &statement).await?;
            changed.push(format!("imported {quoted}"));
        }
        if add_issuer(ctx, name).await? {
            changed.push(format!("trusted {quoted} for {ISSUER_DNS}"));
        }
    }
    if !changed.is_empty() {
        tracing::info!(changed = %changed.join("; "), "Azure root trust");
    }
    Ok(!changed.is_empty())
}

/// Adds `name` as a trusted issuer; false when it already was.
async fn add_issuer(ctx: &mut Context<'_>, name: &str) -> Result<bool, StepError> {
    let statement = format!(
        "USE master; DECLARE @certificate_id int = CERT_ID({}); EXEC sp_certificate_add_issuer @certificate_id, {}",
        literal(name),
        literal(ISSUER_DNS)
    );
    match sql::execute(ctx.conn, "add trusted issuer", &statement, ctx.timeout).await {
        Ok(()) => Ok(true),
        Err(SqlError::Server { message, .. })
            if message.to_ascii_lowercase().contains("already") =>
        {
            Ok(false)
        }
        Err(e) => Err(e.into()),
    }
}

async fn issuer_procedure(ctx: &mut Context<'_>) -> Result<bool, StepError> {
    Ok(sql::positive(
        ctx.conn,
        "issuer procedure",
        "SELECT CAST(CASE WHEN OBJECT_ID(N'sys.sp_certificate_add_issuer') IS NULL THEN 0 ELSE 1 END AS int) AS n",
        ctx.timeout,
    )
    .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_roots_are_the_azure_roots() {
        for (name, pem) in ROOTS {
            let der = der(name, pem).unwrap();
            let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
            let subject = cert.subject().to_string();
            let expected = match name {
                "MicrosoftPKI" => "Microsoft RSA Root Certificate Authority 2017",
                _ => "DigiCert Global Root G2",
            };
            assert!(subject.contains(expected), "{name}: {subject}");
            assert_eq!(cert.subject(), cert.issuer(), "{name} is a root");
        }
    }
}
