//! The edge's tests through its public API: the embedded web client and the API
//! description. One binary, so the crate links once.

mod openapi;
mod web;
