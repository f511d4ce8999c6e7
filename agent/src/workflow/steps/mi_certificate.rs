//! The MI's endpoint certificate, imported into master under the MI's FQDN
//! (mi-link.md §2.1 (e)): SQL Server finds the certificate that authenticates the MI
//! by that name, so any other name breaks the link. The public key comes from Azure
//! (`endpointCertificates/DATABASE_MIRRORING`), read by the control plane.

use crate::sql::quote_name;
use crate::workflow::steps::certificate::encoded;
use crate::workflow::{execute, Context, Found, StepError};

pub async fn inspect(ctx: &mut Context<'_>) -> Result<Found, StepError> {
    let link = ctx.link("mi_certificate")?.clone();
    if link.mi_certificate.is_empty() {
        return Err(StepError::Local(
            "mi_certificate: the command carries no certificate for the MI".into(),
        ));
    }
    let quoted = quote_name(&link.mi_fqdn);
    Ok(match encoded(ctx, &link.mi_fqdn).await? {
        None => Found::Missing(format!("import the MI's certificate as {quoted}")),
        Some(der) if der == link.mi_certificate => {
            Found::Done(format!("the MI's certificate is held as {quoted}"))
        }
        Some(_) => Found::Blocked(format!(
            "certificate {quoted} holds another public key than the MI's endpoint certificate (was the MI's certificate renewed?): drop it (USE master; DROP CERTIFICATE {quoted}) and start the migration again"
        )),
    })
}

pub async fn apply(ctx: &mut Context<'_>) -> Result<(), StepError> {
    let link = ctx.link("mi_certificate")?;
    let statement = format!(
        "USE master; CREATE CERTIFICATE {} FROM BINARY = 0x{}",
        quote_name(&link.mi_fqdn),
        hex::encode_upper(&link.mi_certificate)
    );
    execute(ctx, "import MI certificate", &statement).await
}
