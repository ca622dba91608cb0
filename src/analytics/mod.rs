//! The analytics core: DuckDB aggregates for the situation map and the statistics centre, Polars shaping,
//! classification and SVG charts. Everything here is blocking work; callers run it inside `Store::read` or on a
//! blocking thread, never on an async worker.

pub mod charts;
pub mod classify;
pub mod map;
pub mod svgmap;
