//! What a buyer agreed to, as the Marketplace Agreement API's `GetAgreementTerms` tells it:
//! prices per dimension, the payment schedule, the term and whether it renews by itself.
//! See <https://docs.aws.amazon.com/marketplace/latest/APIReference/API_marketplace-agreements_GetAgreementTerms.html>.

use chrono::{DateTime, Utc};

/// The accepted terms of one agreement, in the parts a person asks about.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgreementTerms {
    pub currency: Option<String>,
    /// One line per priced dimension.
    pub prices: Vec<Price>,
    /// Charges and their dates (a payment schedule, or a fixed upfront price).
    pub schedule: Vec<Charge>,
    /// `true` when the agreement renews by itself at its end.
    pub auto_renew: Option<bool>,
    /// The agreement's length as written in its validity term (ISO 8601, e.g. `P12M`).
    pub duration: Option<String>,
}

/// A price for one dimension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Price {
    pub dimension: String,
    /// As the API writes it (a decimal string), in the terms' currency.
    pub amount: String,
    pub basis: PriceBasis,
    /// Units bought, for upfront (contract) pricing.
    pub quantity: Option<i32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PriceBasis {
    /// Per unit used (metered).
    Usage,
    /// Per unit, paid up front for the term (contract).
    Upfront,
    /// Each billing period (e.g. monthly).
    Recurring,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Charge {
    pub date: Option<DateTime<Utc>>,
    pub amount: String,
}

impl AgreementTerms {
    pub fn is_empty(&self) -> bool {
        self.prices.is_empty()
            && self.schedule.is_empty()
            && self.auto_renew.is_none()
            && self.duration.is_none()
    }
}
