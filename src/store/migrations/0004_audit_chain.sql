-- The audit log becomes a hash chain (SM3, see store::audit): every record keeps the hash of the record before it
-- (prev_hash) and its own (hash), both as 64 hex digits. Records written before this version are chained in id order
-- by the migration's Rust step (store::audit::chain_unchained), in the same transaction.
ALTER TABLE audit_log ADD COLUMN prev_hash VARCHAR;
ALTER TABLE audit_log ADD COLUMN hash VARCHAR;
