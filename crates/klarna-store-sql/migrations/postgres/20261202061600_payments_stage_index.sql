-- The operator's queue (`PaymentStore::list_payments_in_stage`, e.g. every `NeedsReview`
-- payment): select by stage, newest first, without scanning every payment.
CREATE INDEX payments_stage ON payments (stage, created_seq);
