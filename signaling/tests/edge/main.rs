//! The edge's tests through its public API: rate limits and the client's address, the
//! embedded web client and the API description. One binary, so the crate links once.

mod limits;
mod openapi;
mod web;
