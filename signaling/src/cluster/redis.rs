//! The Redis backend (being written): until it lands, a Redis URL is refused at start.

use super::{Cluster, ClusterConfig, ClusterError, ClusterEvent, NodeInfo, Placement};

/// A connection to the cluster's Redis.
pub(super) struct Redis {
    never: std::convert::Infallible,
}

impl Redis {
    pub(super) async fn connect(_url: &str, _config: &ClusterConfig) -> Result<Self, ClusterError> {
        Err(ClusterError::Redis(
            "this build has no Redis backend yet".into(),
        ))
    }
    pub(super) async fn register(&self, _c: &Cluster) -> Result<(), ClusterError> {
        match self.never {}
    }
    pub(super) async fn live_nodes(&self) -> Result<Vec<NodeInfo>, ClusterError> {
        match self.never {}
    }
    pub(super) async fn is_live(&self, _id: &str) -> Result<bool, ClusterError> {
        match self.never {}
    }
    pub(super) async fn place(&self, _c: &Cluster, _key: &str) -> Result<Placement, ClusterError> {
        match self.never {}
    }
    pub(super) async fn owner_of(
        &self,
        _c: &Cluster,
        _key: &str,
    ) -> Result<Option<Placement>, ClusterError> {
        match self.never {}
    }
    pub(super) async fn release(&self, _c: &Cluster, _key: &str) -> Result<(), ClusterError> {
        match self.never {}
    }
    pub(super) fn publish(&self, _node: &str, _event: ClusterEvent) {
        match self.never {}
    }
    pub(super) async fn leave(&self, _c: &Cluster) -> Result<(), ClusterError> {
        match self.never {}
    }
    pub(super) fn unreachable(&self, _e: &ClusterError) {
        match self.never {}
    }
    pub(super) fn wake_heartbeat(&self) {
        match self.never {}
    }
}

pub(super) fn spawn_tasks(_cluster: &Cluster) {}
