//! Settlements API v1 wire models: payouts, their totals and summaries, settled transactions,
//! pagination and the error body (`docs/klarna/settlements.md`, Klarna's `settlements-v1.yml`).
//!
//! Amounts are `i64` minor units. Dates are RFC 3339 strings as Klarna sends them. `type`,
//! `detailed_type` and `merchant_settlement_type` are open enums. Fields Klarna's schema requires
//! are plain values (a body without them does not parse); the rest are `Option`s that are never
//! serialized as `null`. Nothing here is personal data or a secret, so `Debug` is derived.

use serde::{Deserialize, Serialize};

open_enum! {
    /// `Transaction.type`: what a settled transaction is.
    pub enum TransactionType {
        /// A commission.
        Commission => "COMMISSION",
        /// A capture paid out (money to the merchant).
        Sale => "SALE",
        /// A reversal (dispute, chargeback).
        Reversal => "REVERSAL",
        /// A refund taken back from the merchant.
        Return => "RETURN",
        /// Tax.
        Tax => "TAX",
        /// A Klarna fee.
        Fee => "FEE",
        /// A fee given back.
        FeeRefund => "FEE_REFUND",
        /// A correction.
        Correction => "CORRECTION",
        /// A reversal under merchant protection.
        ReversalMerchantProtection => "REVERSAL_MERCHANT_PROTECTION",
        /// A charge (`detailed_type` says what for).
        Charge => "CHARGE",
        /// A credit (`detailed_type` says what for).
        Credit => "CREDIT",
        /// Money withheld by Klarna.
        Holdback => "HOLDBACK",
        /// Money released from a holdback.
        Release => "RELEASE",
    }
}

open_enum! {
    /// `Transaction.detailed_type`: the finer kind of a transaction.
    pub enum DetailedType {
        Commission => "COMMISSION",
        CreditedCorrection => "CREDITED_CORRECTION",
        PurchaseFeePercentage => "PURCHASE_FEE_PERCENTAGE",
        PurchaseFeePercentageRefund => "PURCHASE_FEE_PERCENTAGE_REFUND",
        LateReturnFee => "LATE_RETURN_FEE",
        PurchaseFeeFixed => "PURCHASE_FEE_FIXED",
        ExpiryFeeGross => "EXPIRY_FEE_GROSS",
        ExpiryFee => "EXPIRY_FEE",
        ServicingFee => "SERVICING_FEE",
        ReturnFee => "RETURN_FEE",
        ExtraInvoiceFee => "EXTRA_INVOICE_FEE",
        PurchaseReturn => "PURCHASE_RETURN",
        CommissionReturn => "COMMISSION_RETURN",
        Reversal => "REVERSAL",
        FraudPolicyCharge => "FRAUD_POLICY_CHARGE",
        CommissionReturnGross => "COMMISSION_RETURN_GROSS",
        FraudPolicyCreditNet => "FRAUD_POLICY_CREDIT_NET",
        Purchase => "PURCHASE",
        ManualEntry => "MANUAL_ENTRY",
        LoanPayout => "LOAN_PAYOUT",
        LoanAmortisation => "LOAN_AMORTISATION",
        LoanFee => "LOAN_FEE",
        FeeRefund => "FEE_REFUND",
        PurchaseCommissionPercentage => "PURCHASE_COMMISSION_PERCENTAGE",
        ExtendDueDateFee => "EXTEND_DUE_DATE_FEE",
        TransferFromLegacyIntegration => "TRANSFER_FROM_LEGACY_INTEGRATION",
        FixedFeeCorrectionUk => "FIXED_FEE_CORRECTION_UK",
        PercentageFeeCorrectionUk => "PERCENTAGE_FEE_CORRECTION_UK",
        VatOnFeeCorrectionUk => "VAT_ON_FEE_CORRECTION_UK",
        FixedFeeCorrectionSe => "FIXED_FEE_CORRECTION_SE",
        PercentageFeeCorrectionSe => "PERCENTAGE_FEE_CORRECTION_SE",
        PercentageFeeCorrection => "PERCENTAGE_FEE_CORRECTION",
        FixedFeeCorrection => "FIXED_FEE_CORRECTION",
        RollingReserve => "ROLLING_RESERVE",
        PercentageFees => "PERCENTAGE_FEES",
        PaymentReminder => "PAYMENT_REMINDER",
        Correction => "CORRECTION",
        UnderReview => "UNDER_REVIEW",
        InsufficientBankAccountDetails => "INSUFFICIENT_BANK_ACCOUNT_DETAILS",
        DisputeFee => "DISPUTE_FEE",
        DisputeFeeRefund => "DISPUTE_FEE_REFUND",
        CorrectionDispute => "CORRECTION_DISPUTE",
        PaymentDefault => "PAYMENT_DEFAULT",
    }
}

open_enum! {
    /// `Payout.merchant_settlement_type`: whether amounts are net or gross.
    pub enum SettlementType {
        /// Gross amounts.
        Gross => "GROSS",
        /// Net amounts (fees deducted).
        Net => "NET",
        /// Gross with fees.
        GrossFee => "GROSS_FEE",
    }
}

/// `Pagination`: where a page sits in its collection. Only `count` is required.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Pagination {
    /// Number of elements in this page.
    pub count: i64,
    /// Number of elements in the whole collection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<i64>,
    /// URI of the next page (`…?offset=…&size=…`); absent (or empty) on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    /// URI of the previous page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prev: Option<String>,
    /// Offset of this page's first element.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<i64>,
}

/// `Totals` of a payout, every amount in minor units.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Totals {
    /// Commissions.
    pub commission_amount: i64,
    /// Repaid by the merchant from its debt to Klarna.
    pub repay_amount: i64,
    /// Sales (captures).
    pub sale_amount: i64,
    /// Withheld by Klarna.
    pub holdback_amount: i64,
    /// Tax.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax_amount: Option<i64>,
    /// What this payout pays.
    pub settlement_amount: i64,
    /// Fee corrections.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fee_correction_amount: Option<i64>,
    /// Reversals.
    pub reversal_amount: i64,
    /// Released from holdback.
    pub release_amount: i64,
    /// Returns (refunds).
    pub return_amount: i64,
    /// Fees.
    pub fee_amount: i64,
    /// Charges.
    pub charge_amount: i64,
    /// Credits.
    pub credit_amount: i64,
    /// Refunded fees.
    pub fee_refund_amount: i64,
    /// Refunded tax.
    pub tax_refund_amount: i64,
    /// Increase of the merchant's debt balance.
    pub deposit_amount: i64,
    /// Debt balance before this payout.
    pub opening_debt_balance_amount: i64,
    /// Debt balance after this payout.
    pub closing_debt_balance_amount: i64,
}

/// `Payout`: one payment from Klarna to the merchant's bank account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payout {
    /// The payout's totals.
    pub totals: Totals,
    /// The reference on the bank statement; unique per payout.
    pub payment_reference: String,
    /// RFC 3339 payout date.
    pub payout_date: String,
    /// ISO 4217 currency of the payout.
    pub currency_code: String,
    /// ISO 4217 currency of the merchant's registration country.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency_code_of_registration_country: Option<String>,
    /// Net or gross.
    pub merchant_settlement_type: SettlementType,
    /// The merchant id.
    pub merchant_id: String,
    /// Link to the payout's transactions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transactions: Option<String>,
}

/// `PayoutCollection`: one page of payouts (S1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayoutCollection {
    /// The payouts of this page.
    pub payouts: Vec<Payout>,
    /// Where the page sits.
    pub pagination: Pagination,
}

/// `PayoutSummary`: the totals of a date range in one currency (S3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayoutSummary {
    /// Fee corrections.
    pub summary_total_fee_correction_amount: i64,
    /// RFC 3339 start of the range.
    pub summary_payout_date_start: String,
    /// Released from holdback.
    pub summary_total_release_amount: i64,
    /// ISO 4217 currency.
    pub summary_settlement_currency: String,
    /// RFC 3339 end of the range.
    pub summary_payout_date_end: String,
    /// Tax.
    pub summary_total_tax_amount: i64,
    /// Paid out.
    pub summary_total_settlement_amount: i64,
    /// Withheld.
    pub summary_total_holdback_amount: i64,
    /// Reversals.
    pub summary_total_reversal_amount: i64,
    /// Returns.
    pub summary_total_return_amount: i64,
    /// Fees.
    pub summary_total_fee_amount: i64,
    /// Commissions.
    pub summary_total_commission_amount: i64,
    /// Sales.
    pub summary_total_sale_amount: i64,
    /// Repaid debt.
    pub summary_total_repay_amount: i64,
}

/// `Transaction`: one settled line of a payout (S4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transaction {
    /// Amount in minor units.
    pub amount: i64,
    /// Klarna's capture id (sales and fees; empty for returns and reversals).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capture_id: Option<String>,
    /// The order's first merchant reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant_reference1: Option<String>,
    /// RFC 3339 time of the sale.
    pub sale_date: String,
    /// What the transaction is.
    pub r#type: TransactionType,
    /// RFC 3339 time of the capture.
    pub capture_date: String,
    /// The payout this transaction is part of, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_reference: Option<String>,
    /// Klarna's order id.
    pub order_id: String,
    /// Link to the payout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payout: Option<String>,
    /// Klarna's refund id (returns).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_id: Option<String>,
    /// Klarna's short order id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub short_order_id: Option<String>,
    /// The order's second merchant reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant_reference2: Option<String>,
    /// ISO 4217 currency.
    pub currency_code: String,
    /// ISO alpha-2 purchase country.
    pub purchase_country: String,
    /// VAT rate on Klarna's fees (1/100 %).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vat_rate: Option<i64>,
    /// VAT on Klarna's fees, minor units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vat_amount: Option<i64>,
    /// ISO alpha-2 shipping country.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_country: Option<String>,
    /// The payment method chosen at checkout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_payment_method_type: Option<String>,
    /// Installments chosen at checkout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_number_of_installments: Option<i64>,
    /// Monthly down payments chosen at checkout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_payment_method_monthly_downpayments: Option<i64>,
    /// The `reference` sent with the capture.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant_capture_reference: Option<String>,
    /// The `reference` sent with the refund.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant_refund_reference: Option<String>,
    /// The finer kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detailed_type: Option<DetailedType>,
    /// Fee tax converted to the registration country's currency, minor units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax_in_currency_of_registration_country: Option<i64>,
    /// ISO 4217 currency of the registration country.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency_code_of_registration_country: Option<String>,
    /// Klarna's comment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub klarna_comment: Option<String>,
    /// The dispute's KRN, for reversals.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reversal_reference: Option<String>,
}

impl Transaction {
    /// The capture id, treating Klarna's empty string (returns, reversals) as none.
    #[must_use]
    pub fn capture_id(&self) -> Option<&str> {
        self.capture_id.as_deref().filter(|s| !s.is_empty())
    }

    /// The refund id, treating an empty string as none.
    #[must_use]
    pub fn refund_id(&self) -> Option<&str> {
        self.refund_id.as_deref().filter(|s| !s.is_empty())
    }
}

/// `TransactionCollection`: one page of transactions (S4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransactionCollection {
    /// The transactions of this page.
    pub transactions: Vec<Transaction>,
    /// Where the page sits.
    pub pagination: Pagination,
}

/// The Settlements API's `ErrorResponse`. Klarna's schema requires every field; they are
/// optional here because error answers (401, gateways) may come without a body.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ErrorResponse {
    /// Machine code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// Human-readable messages (English, not stable).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_messages: Option<Vec<String>>,
    /// Same as the `Klarna-Correlation-Id` response header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
}
