//! Accord recorder (arrives with the recording issue).
