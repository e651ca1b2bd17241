//! Catalog queries that compare what is installed with what the code declares; they live
//! in `pghistory_diesel_core::catalog`, beside the names they read.

pub use pghistory_diesel_core::catalog::*;
