//! Load generator for Accord (not written yet).

fn main() {}
