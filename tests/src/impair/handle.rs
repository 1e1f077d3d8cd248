//! [`ImpairHandle`]: changing conditions, cutting and restoring flows, and reading counters
//! while the proxy runs.

use anyhow::{Context, Result, anyhow, bail};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tokio::sync::{mpsc, oneshot};

use super::link::{Direction, LinkConditions, LinkCounters, LinkState};
use super::udp::Flow;
use super::{Control, FlowInfo, Shared, TcpCounters, lock};

/// Changes conditions, cuts flows and reads counters of a running
/// [`ImpairProxy`](crate::impair::ImpairProxy). Cheap to clone; it does not keep the proxy
/// running.
#[derive(Debug, Clone)]
pub struct ImpairHandle {
    pub(super) shared: Arc<Shared>,
    pub(super) control: mpsc::Sender<Control>,
}

impl ImpairHandle {
    /// Replaces the default conditions of one direction; applies to the next datagram of
    /// every flow without conditions of its own.
    pub fn set(&self, direction: Direction, conditions: LinkConditions) {
        lock(&self.shared.defaults[direction.index()]).conditions = conditions;
    }

    /// Replaces the default conditions of both directions.
    pub fn set_both(&self, conditions: LinkConditions) {
        self.set(Direction::ToServer, conditions);
        self.set(Direction::ToClient, conditions);
    }

    /// The current default conditions of one direction.
    pub fn conditions(&self, direction: Direction) -> LinkConditions {
        lock(&self.shared.defaults[direction.index()]).conditions
    }

    /// What one direction has done so far, over every flow.
    pub fn counters(&self, direction: Direction) -> LinkCounters {
        self.shared.totals[direction.index()].snapshot()
    }

    /// Gives `client`'s flow conditions of its own in one direction, with a bottleneck of its
    /// own (its rate cap is not shared with anyone). The flow need not exist yet. Also applies
    /// to a TCP connection from that address (delay and rate only).
    pub fn set_flow(&self, client: SocketAddr, direction: Direction, conditions: LinkConditions) {
        let seed = self.shared.rule_seed(client, direction);
        let mut rules = lock(&self.shared.rules);
        let slot = &mut rules.entry(client).or_default().links[direction.index()];
        match slot {
            Some(link) => link.conditions = conditions,
            None => *slot = Some(LinkState::new(conditions, seed)),
        }
    }

    /// `client`'s own conditions in one direction, if it has any.
    pub fn flow_conditions(
        &self,
        client: SocketAddr,
        direction: Direction,
    ) -> Option<LinkConditions> {
        lock(&self.shared.rules)
            .get(&client)
            .and_then(|r| r.links[direction.index()].as_ref())
            .map(|link| link.conditions)
    }

    /// Puts `client`'s flow back under the default conditions (a cut stays).
    pub fn clear_flow(&self, client: SocketAddr) {
        let mut rules = lock(&self.shared.rules);
        if let Some(r) = rules.get_mut(&client) {
            r.links = [None, None];
        }
    }

    /// Puts every client back under the default conditions (cuts stay).
    pub fn clear_flows(&self) {
        for r in lock(&self.shared.rules).values_mut() {
            r.links = [None, None];
        }
    }

    /// Drops every datagram of `client`'s flow both ways, or of every flow with `None`, until
    /// [`restore`](Self::restore). A TCP connection from `client` stalls meanwhile (its bytes
    /// wait, as in a TCP stream whose path is gone); with `None`, TCP goes on unless
    /// [`cut_tcp`](Self::cut_tcp) stalls it too.
    pub fn cut(&self, client: Option<SocketAddr>) {
        match client {
            Some(client) => lock(&self.shared.rules).entry(client).or_default().cut = true,
            None => self.shared.cut_all_udp.store(true, Ordering::Relaxed),
        }
    }

    /// Stalls every TCP connection until [`restore`](Self::restore) with `None`.
    pub fn cut_tcp(&self) {
        self.shared.cut_all_tcp.store(true, Ordering::Relaxed);
    }

    /// Ends the cut of `client` (with `None`: every cut, UDP and TCP; a client's restore
    /// leaves a cut of everything in place). With `rebind`, each
    /// restored flow first gets a new upstream socket, so the server sees the client come
    /// back from a new port; the old socket is closed. Returns the restored flows (for a
    /// client without a flow yet, none).
    pub async fn restore(&self, client: Option<SocketAddr>, rebind: bool) -> Result<Vec<FlowInfo>> {
        if rebind {
            if let Some(client) = client
                && self.shared.flow(client).is_none()
            {
                bail!("no flow from {client} to rebind");
            }
            let (reply, answer) = oneshot::channel();
            self.control
                .send(Control::Rebind { client, reply })
                .await
                .map_err(|_| anyhow!("the proxy has stopped"))?;
            answer
                .await
                .context("the proxy stopped during a rebind")??;
        }
        match client {
            Some(client) => {
                if let Some(r) = lock(&self.shared.rules).get_mut(&client) {
                    r.cut = false;
                }
            }
            None => {
                self.shared.cut_all_udp.store(false, Ordering::Relaxed);
                self.shared.cut_all_tcp.store(false, Ordering::Relaxed);
                for r in lock(&self.shared.rules).values_mut() {
                    r.cut = false;
                }
            }
        }
        Ok(match client {
            Some(client) => self.flow(client).into_iter().collect(),
            None => self.flows(),
        })
    }

    /// Every flow seen so far, in the order of their client addresses.
    pub fn flows(&self) -> Vec<FlowInfo> {
        let flows: Vec<Arc<Flow>> = lock(&self.shared.flows).values().cloned().collect();
        let mut infos: Vec<FlowInfo> = flows.iter().map(|f| self.shared.info(f)).collect();
        infos.sort_by_key(|f| f.client);
        infos
    }

    /// The flow from `client`, if it has sent anything.
    pub fn flow(&self, client: SocketAddr) -> Option<FlowInfo> {
        self.shared.flow(client).map(|f| self.shared.info(&f))
    }

    /// What the TCP relay has done so far.
    pub fn tcp_counters(&self) -> TcpCounters {
        TcpCounters {
            connections: self.shared.tcp_connections.load(Ordering::Relaxed),
            bytes_to_server: self.shared.tcp_bytes[0].load(Ordering::Relaxed),
            bytes_to_client: self.shared.tcp_bytes[1].load(Ordering::Relaxed),
        }
    }
}
