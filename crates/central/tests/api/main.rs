//! Integration tests of the central platform against real listening servers.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod admin;
mod common;
mod durability;
mod leases;
mod live;
mod multi;
mod online;
mod protect;
mod queue;
mod sync;
