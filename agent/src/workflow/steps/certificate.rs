//! The endpoint certificate `Cert_<server>_endpoint` in master, its private key
//! protected by the master key (mi-link.md §2.1 (c)). An expired one blocks: the link
//! fails with it, and replacing it means a new upload to the MI (rotation is not
//! built yet).

use time::format_description::FormatItem;
use time::macros::format_description;
use time::{Duration, OffsetDateTime, PrimitiveDateTime};

use crate::sql::{self, literal, plain_literal, quote_name, text};
use crate::workflow::names::endpoint_certificate;
use crate::workflow::{execute, Context, Found, StepError};

/// How long a certificate Ferry creates is valid.
const VALIDITY_DAYS: i64 = 5 * 365;
const STYLE_120: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");

pub async fn inspect(ctx: &mut Context<'_>) -> Result<Found, StepError> {
    let q = "endpoint certificate";
    let name = endpoint_certificate(&ctx.server_name);
    let sql_text = format!(
        "SELECT pvt_key_encryption_type, CONVERT(nvarchar(30), expiry_date, 120) AS expiry
         FROM master.sys.certificates WHERE name = {}",
        literal(&name)
    );
    let rows = sql::rows(ctx.conn, q, &sql_text, ctx.timeout).await?;
    let quoted = quote_name(&name);
    let Some(row) = rows.first() else {
        return Ok(Found::Missing(format!(
            "create certificate {quoted}, valid {VALIDITY_DAYS} days"
        )));
    };
    let protection = text(row, q, "pvt_key_encryption_type")?;
    let expiry = text(row, q, "expiry")?;
    // Style 120 is exactly 19 characters; anything after it (fractions) is ignored.
    let expires = PrimitiveDateTime::parse(expiry.get(..19).unwrap_or(&expiry), STYLE_120)
        .map_err(|e| StepError::Local(format!("{quoted}: expiry date {expiry:?}: {e}")))?
        .assume_utc();
    Ok(if protection.trim() != "MK" {
        Found::Blocked(format!(
            "certificate {quoted} exists, but its private key is not protected by the master key ({protection:?}): drop it or protect it with the master key"
        ))
    } else if expires <= OffsetDateTime::now_utc() {
        Found::Blocked(format!(
            "certificate {quoted} expired on {expiry}: create a new endpoint certificate, use it on the endpoint and upload it to the MI"
        ))
    } else {
        Found::Done(format!("certificate {quoted} valid until {expiry}"))
    })
}

/// A certificate in master as SQL Server encodes it (CERTENCODED: DER), if it exists.
pub(crate) async fn encoded(
    ctx: &mut Context<'_>,
    name: &str,
) -> Result<Option<Vec<u8>>, StepError> {
    let q = "certificate";
    let statement = format!(
        "USE master; SELECT CERTENCODED(CERT_ID({})) AS der",
        literal(name)
    );
    let rows = sql::rows(ctx.conn, q, &statement, ctx.timeout).await?;
    Ok(match rows.first() {
        Some(row) => sql::column::<&[u8]>(row, q, "der")?.map(<[u8]>::to_vec),
        None => None,
    })
}

pub async fn apply(ctx: &mut Context<'_>) -> Result<(), StepError> {
    let name = endpoint_certificate(&ctx.server_name);
    let expiry = OffsetDateTime::now_utc() + Duration::days(VALIDITY_DAYS);
    let statement = format!(
        "USE master; CREATE CERTIFICATE {} WITH SUBJECT = {}, EXPIRY_DATE = '{:04}{:02}{:02}'",
        quote_name(&name),
        plain_literal(&format!("Certificate for {name}")),
        expiry.year(),
        u8::from(expiry.month()),
        expiry.day()
    );
    execute(ctx, "create endpoint certificate", &statement).await
}
