//! The single-node backend: every placement is this node's, within `max_rooms` and unless
//! it is draining.

use std::collections::HashSet;
use std::sync::Mutex;

use super::{Cluster, ClusterError, Placement};

/// The keys this node has placed.
#[derive(Default)]
pub(super) struct Local {
    placed: Mutex<HashSet<String>>,
}

impl Local {
    pub(super) fn place(&self, cluster: &Cluster, key: &str) -> Result<Placement, ClusterError> {
        let mut placed = self.placed.lock().unwrap_or_else(|e| e.into_inner());
        if placed.contains(key) {
            return Ok(cluster.here(None));
        }
        let max = cluster.config().max_rooms;
        let full = max != 0 && placed.len() >= max as usize;
        if cluster.draining() || full {
            return Err(ClusterError::NoNodeAvailable);
        }
        placed.insert(key.to_owned());
        Ok(cluster.here(None))
    }

    pub(super) fn owns(&self, key: &str) -> bool {
        self.placed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(key)
    }

    pub(super) fn release(&self, key: &str) {
        self.placed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
    }
}
