//! CPU time and memory of a process from `/proc` (Linux only).

use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// Clock ticks per second of `utime`/`stime`, from `getconf CLK_TCK` (100 on every Linux we
/// know of, which is the fallback: reading it directly would need `libc::sysconf`).
pub fn clock_ticks_per_second() -> f64 {
    static TICKS: OnceLock<f64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse::<f64>().ok())
            .filter(|t| *t > 0.0)
            .unwrap_or(100.0)
    })
}

/// `utime + stime` in seconds from a `stat` file's text (process or thread).
fn cpu_seconds_of_stat(text: &str) -> Option<f64> {
    // The command name (field 2) is in parentheses and may contain spaces; count fields
    // after its closing parenthesis. Field 3 (state) is then index 0, utime (14) index 11.
    let after = text.get(text.rfind(')')? + 1..)?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / clock_ticks_per_second())
}

/// CPU seconds (user + system, all threads) the process `pid` has used; `None` = this one.
pub fn cpu_seconds(pid: Option<u32>) -> Result<f64> {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/stat"),
        None => "/proc/self/stat".to_owned(),
    };
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    cpu_seconds_of_stat(&text).with_context(|| format!("parsing {path}"))
}

/// Resident set size of `pid` in KiB (`VmRSS`).
pub fn rss_kib(pid: u32) -> Result<u64> {
    let path = format!("/proc/{pid}/status");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    text.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .with_context(|| format!("no VmRSS in {path}"))
}

/// CPU seconds per thread name of `pid` (threads with the same name summed), to show which
/// part of the server spends the time: shards, the UDP reader, the HTTP runtime.
pub fn thread_cpu_seconds(pid: u32) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for entry in dir.flatten() {
        let path = entry.path();
        let name = std::fs::read_to_string(path.join("comm"))
            .map(|s| s.trim().to_owned())
            .unwrap_or_else(|_| "?".to_owned());
        if let Some(secs) = std::fs::read_to_string(path.join("stat"))
            .ok()
            .and_then(|t| cpu_seconds_of_stat(&t))
        {
            *out.entry(name).or_insert(0.0) += secs;
        }
    }
    out
}

/// CPU seconds the whole machine spent busy (all CPUs, everything but idle and iowait),
/// from `/proc/stat`: with the server's and our own share taken out, what is left is other
/// work that competed with the run.
pub fn machine_busy_seconds() -> Result<f64> {
    let text = std::fs::read_to_string("/proc/stat").context("reading /proc/stat")?;
    let line = text
        .lines()
        .find(|l| l.starts_with("cpu "))
        .context("no cpu line in /proc/stat")?;
    let ticks: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    let total: f64 = ticks.iter().take(8).sum();
    let idle = ticks.get(3).copied().unwrap_or(0.0) + ticks.get(4).copied().unwrap_or(0.0);
    Ok((total - idle) / clock_ticks_per_second())
}

/// The CPU model and the number of CPUs this process may use.
pub fn machine() -> (usize, String) {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .and_then(|v| v.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned());
    (cpus, model)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_spaces_in_the_name() {
        let text = "123 (tokio runtime w) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 4 0";
        let secs = cpu_seconds_of_stat(text).expect("parses");
        assert!((secs - 300.0 / clock_ticks_per_second()).abs() < 1e-9);
    }

    #[test]
    fn own_process() -> Result<()> {
        assert!(cpu_seconds(None)? >= 0.0);
        assert!(rss_kib(std::process::id())? > 0);
        assert!(!thread_cpu_seconds(std::process::id()).is_empty());
        assert!(machine_busy_seconds()? > 0.0);
        Ok(())
    }
}
