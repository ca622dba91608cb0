//! 安许 (anxu): permits for large public events and the situation across a province's regions.
//!
//! Layers look only down: `web` → `auth`/`setup` → `store` → `domain`. See ARCHITECTURE.md.

pub mod analytics;
pub mod auth;
pub mod backup;
pub mod clock;
pub mod config;
pub mod demo;
pub mod demo_data;
pub mod documents;
pub mod domain;
pub mod exchange;
pub mod files;
pub mod geo;
pub mod reports;
pub mod setup;
pub mod sms_delivery;
pub mod store;
pub mod web;
