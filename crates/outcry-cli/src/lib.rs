//! The `outcry` command's library: the demo, the in-process stack, the sample stream and a
//! loopback webhook receiver, shared with the end-to-end tests.

pub mod broker;
pub mod dead_letters;
pub mod demo;
pub mod ingest;
pub mod router_state;
pub mod sample;
pub mod stack;
pub mod webhook;
