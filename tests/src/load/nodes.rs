//! Per-node figures of a run on several nodes: where placement put the rooms and their
//! participants, what each node forwarded and what it cost, and how even the spread was.

use super::config::Spread;
use super::target::ServerCounters;
use serde::Serialize;

/// One node over the measured window.
#[derive(Debug, Clone, Default, Serialize)]
pub struct NodeFigures {
    /// Its HTTP address.
    pub url: String,
    /// Clients whose WebSocket went to this node (relayed on if another owns the room).
    pub sockets: usize,
    /// Media rooms it held at the window's end (`accord_rooms`): the rooms placed on it.
    pub rooms: f64,
    /// Participants with a peer connection on it at the window's end (`accord_participants`).
    pub participants: f64,
    /// RTP packets it forwarded in the window.
    pub forwarded_packets: f64,
    /// Its CPU (user + system) in the window, when its pid is known.
    pub cpu_seconds: Option<f64>,
    /// Its CPU per forwarded packet, microseconds.
    pub cpu_us_per_forwarded: Option<f64>,
}

/// How a run on several nodes spread.
#[derive(Debug, Clone, Serialize)]
pub struct Placement {
    /// How clients were spread over the nodes.
    pub spread: Spread,
    /// Each node, in the order they were given or started.
    pub nodes: Vec<NodeFigures>,
    /// Most rooms on one node over fewest (`None` when a node has none).
    pub rooms_max_over_min: Option<f64>,
}

impl Placement {
    /// From each node's address, sockets, counters over the window and CPU seconds.
    pub fn of(
        spread: Spread,
        urls: Vec<String>,
        sockets: &[usize],
        window: &[ServerCounters],
        cpu_seconds: &[Option<f64>],
    ) -> Self {
        let nodes: Vec<NodeFigures> = urls
            .into_iter()
            .enumerate()
            .map(|(n, url)| {
                let counters = window.get(n).copied().unwrap_or_default();
                let cpu = cpu_seconds.get(n).copied().flatten();
                NodeFigures {
                    url,
                    sockets: sockets.get(n).copied().unwrap_or(0),
                    rooms: counters.rooms,
                    participants: counters.participants,
                    forwarded_packets: counters.forwarded_packets,
                    cpu_seconds: cpu,
                    cpu_us_per_forwarded: cpu
                        .filter(|_| counters.forwarded_packets > 0.0)
                        .map(|s| s * 1e6 / counters.forwarded_packets),
                }
            })
            .collect();
        let most = nodes.iter().map(|n| n.rooms).fold(0.0, f64::max);
        let fewest = nodes.iter().map(|n| n.rooms).fold(f64::INFINITY, f64::min);
        Self {
            spread,
            rooms_max_over_min: (fewest > 0.0 && fewest.is_finite()).then(|| most / fewest),
            nodes,
        }
    }

    /// Rows for the report's table.
    pub fn rows(&self) -> Vec<(String, String)> {
        let mut rows = vec![(
            "clients spread".to_owned(),
            match self.spread {
                Spread::Participants => "alternating within each room".to_owned(),
                Spread::Rooms => "each room through one node, rooms alternating".to_owned(),
            },
        )];
        for (n, node) in self.nodes.iter().enumerate() {
            let cost = match (node.cpu_seconds, node.cpu_us_per_forwarded) {
                (Some(s), Some(us)) => format!("; CPU {s:.1} s, {us:.2} µs per forwarded packet"),
                (Some(s), None) => format!("; CPU {s:.1} s"),
                _ => String::new(),
            };
            rows.push((
                format!("node {} ({})", n + 1, node.url),
                format!(
                    "{} sockets; {:.0} rooms, {:.0} participants placed; {:.0} packets forwarded{cost}",
                    node.sockets, node.rooms, node.participants, node.forwarded_packets
                ),
            ));
        }
        let rooms: Vec<String> = self
            .nodes
            .iter()
            .map(|n| format!("{:.0}", n.rooms))
            .collect();
        rows.push((
            "placement balance (rooms)".to_owned(),
            match self.rooms_max_over_min {
                Some(ratio) => format!("{} (max/min {ratio:.2})", rooms.join(" / ")),
                None => format!("{} (a node has none)", rooms.join(" / ")),
            },
        ));
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn balance_and_cost_per_node() {
        let node = |rooms: f64, forwarded: f64| ServerCounters {
            rooms,
            participants: rooms * 4.0,
            forwarded_packets: forwarded,
            ..ServerCounters::default()
        };
        let placement = Placement::of(
            Spread::Participants,
            vec!["http://127.0.0.2:1".into(), "http://127.0.0.3:1".into()],
            &[20, 20],
            &[node(6.0, 2e6), node(4.0, 1e6)],
            &[Some(4.0), None],
        );
        assert_eq!(placement.rooms_max_over_min, Some(1.5));
        assert_eq!(placement.nodes[0].cpu_us_per_forwarded, Some(2.0));
        assert_eq!(placement.nodes[1].cpu_us_per_forwarded, None);
        let rows = placement.rows();
        assert!(
            rows.iter()
                .any(|(k, v)| k == "placement balance (rooms)" && v == "6 / 4 (max/min 1.50)")
        );
        let lopsided = Placement::of(
            Spread::Rooms,
            vec!["a".into(), "b".into()],
            &[40, 0],
            &[node(10.0, 1.0), node(0.0, 0.0)],
            &[None, None],
        );
        assert_eq!(lopsided.rooms_max_over_min, None);
    }
}
