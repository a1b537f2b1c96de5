//! The channel-partner report's query: the integration's `INVOICED` revenue rows summed by
//! agreement, offer, product, buyer, currency, type and accounts.

use souk_core::clock::to_unix_millis;
use souk_store::{Args, row};
use time::OffsetDateTime;

use super::{SqlStore, scope};
use crate::domain::Error;
use crate::domain::channel_partner::{PARTNER_TYPES, PartnerLine};
use crate::domain::ports::Acting;

impl SqlStore {
    /// [`Store::partner_lines`](crate::domain::ports::Store::partner_lines).
    pub(super) async fn select_partner_lines(
        &self,
        acting: &Acting,
        start: Option<OffsetDateTime>,
        end: Option<OffsetDateTime>,
    ) -> Result<Vec<PartnerLine>, Error> {
        const GROUP: &str = "COALESCE(agreement_id, ''), COALESCE(offer_id, ''), product_id, \
            end_user_account_id, currency, transaction_type, from_account_id, to_account_id";
        let mut args = Args::default();
        let mut sql = format!(
            "SELECT COALESCE(agreement_id, '') AS agreement_id, COALESCE(offer_id, '') AS offer_id, \
             product_id, end_user_account_id, currency, transaction_type, from_account_id, \
             to_account_id, CAST(SUM(amount_micros) AS BIGINT) AS amount FROM billing_events \
             WHERE {} AND delete_date IS NULL AND action = 'INVOICED' AND transaction_type IN ({})",
            scope(&mut args, acting),
            args.texts(PARTNER_TYPES.iter().copied())
        );
        if let Some(start) = start {
            sql.push_str(&format!(" AND at >= {}", args.int(to_unix_millis(start))));
        }
        if let Some(end) = end {
            sql.push_str(&format!(" AND at < {}", args.int(to_unix_millis(end))));
        }
        sql.push_str(&format!(" GROUP BY {GROUP}"));
        let found = self.fetch(args, sql).await?;
        found
            .iter()
            .map(|r| {
                Ok(PartnerLine {
                    agreement_id: row::text(r, "agreement_id")?,
                    offer_id: row::text(r, "offer_id")?,
                    product_id: row::text(r, "product_id")?,
                    end_user_account_id: row::text(r, "end_user_account_id")?,
                    currency: row::text(r, "currency")?,
                    transaction_type: row::text(r, "transaction_type")?,
                    from_account_id: row::text(r, "from_account_id")?,
                    to_account_id: row::text(r, "to_account_id")?,
                    amount_micros: row::int(r, "amount")?,
                })
            })
            .collect()
    }
}
