//! This node's load as placement weighs it: the SFU's counters and the process's CPU.

use std::time::Instant;

use accord_sfu::Sfu;

use super::Load;

/// Turns cumulative counters (forwarded packets, CPU seconds) into rates between two
/// samples.
#[derive(Debug)]
pub struct CpuSampler {
    last: Option<(Instant, f64, u64)>,
    cores: f64,
}

impl Default for CpuSampler {
    fn default() -> Self {
        Self {
            last: None,
            cores: std::thread::available_parallelism().map_or(1.0, |n| n.get() as f64),
        }
    }
}

impl CpuSampler {
    /// The load now; rates are over the time since the previous call (0 on the first).
    pub fn sample(&mut self, sfu: &Sfu) -> Load {
        let stats = sfu.stats();
        let now = Instant::now();
        let cpu = process_cpu_seconds().unwrap_or(0.0);
        let packets = stats.forwarded_packets;
        let (pps, cpu_percent) = match self.last {
            Some((then, cpu_then, packets_then)) => {
                let secs = now.duration_since(then).as_secs_f64().max(0.001);
                (
                    packets.saturating_sub(packets_then) as f64 / secs,
                    ((cpu - cpu_then).max(0.0) / secs / self.cores * 100.0).min(100.0),
                )
            }
            None => (0.0, 0.0),
        };
        self.last = Some((now, cpu, packets));
        Load {
            rooms: u32::try_from(stats.rooms.max(0)).unwrap_or(u32::MAX),
            participants: u32::try_from(stats.participants.max(0)).unwrap_or(u32::MAX),
            forwarded_pps: pps,
            cpu_percent,
        }
    }
}

/// User and system CPU seconds of this process, from `/proc/self/stat` (Linux; `None`
/// elsewhere, and CPU then weighs nothing). Ticks are taken as 100 a second, which is what
/// Linux reports to user space on every architecture we run on.
fn process_cpu_seconds() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) may hold spaces; fields are counted after its ')'.
    let after = text.get(text.rfind(')')? + 1..)?;
    let mut fields = after.split_whitespace().skip(11);
    let utime: f64 = fields.next()?.parse().ok()?;
    let stime: f64 = fields.next()?.parse().ok()?;
    Some((utime + stime) / 100.0)
}
