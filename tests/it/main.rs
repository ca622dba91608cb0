//! Integration tests: the real router through `oneshot` on a fresh in-memory database, driven by helpers that act
//! like users. One module per feature.

mod access;
mod access_matrix;
mod audit_chain;
mod backup;
mod bad_input;
mod binary;
mod concurrency;
mod config;
mod crash;
mod exchange;
mod filings;
mod harness;
mod journey;
mod map;
mod materials;
mod permits;
mod portal_apply;
mod portal_exchange;
mod roles;
mod security_admin;
mod signin;
mod sms;
mod stats;
mod store;
mod two_sites;
mod users;
mod workflow;
