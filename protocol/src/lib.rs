//! Accord's WebSocket signaling protocol, free of any web framework so that the server and
//! its tools share one vocabulary. The frames move here from `accord-signaling` next; the
//! participant [`Role`] comes first because join tokens and frames both carry it.

mod role;

pub use role::Role;
