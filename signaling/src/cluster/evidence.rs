//! A session's evidence share counted once for all nodes: uploads are HTTP and land on any
//! node, so a count per node would give a session its share once per node.
//!
//! `<prefix>:evidence:<session>` is a hash of `files` and `bytes`. One script checks and adds
//! atomically, so uploads finishing on two nodes at once cannot both take the last file. Each
//! call brings the session's count from the store (what its record holds): the script starts
//! an absent key from it and lifts a key below it, which catches up uploads a node took from
//! the store's count alone while Redis was unreachable, or a key lost with a Redis restart.
//! The key expires a day after the last upload; a session after that starts from its record
//! again.

use std::time::Duration;

use ::redis::Script;
use accord_cases::evidence_tally::{EvidenceTally, ShareAsk};

use super::ClusterError;
use super::redis::{Redis, timed};

/// How long a session's count outlives its last upload.
pub const EVIDENCE_TTL: Duration = Duration::from_secs(24 * 3600);

/// KEYS[1]: the session's count. ARGV: files and bytes in the store; the new file's size, or
/// -1 for a check that takes nothing; the caps (files, bytes); the TTL in ms.
/// Returns 1 if allowed, else 0.
const SHARE: &str = r#"
local files = math.max(tonumber(redis.call('HGET', KEYS[1], 'files') or '0'), tonumber(ARGV[1]))
local bytes = math.max(tonumber(redis.call('HGET', KEYS[1], 'bytes') or '0'), tonumber(ARGV[2]))
local size = tonumber(ARGV[3])
local max_files = tonumber(ARGV[4])
local max_bytes = tonumber(ARGV[5])
local allowed
if size < 0 then
  allowed = files < max_files and bytes < max_bytes
else
  allowed = files < max_files and bytes + size <= max_bytes
end
if allowed and size >= 0 then
  files = files + 1
  bytes = bytes + size
end
redis.call('HSET', KEYS[1], 'files', files, 'bytes', bytes)
redis.call('PEXPIRE', KEYS[1], ARGV[6])
if allowed then return 1 end
return 0
"#;

impl Redis {
    /// Does what `ask` says on `session`'s shared count, under `tally`'s caps, after lifting
    /// the count to `stored` (files, bytes) if it is below. `Ok(false)`: past the share.
    pub(crate) async fn evidence_share(
        &self,
        session: &str,
        stored: (u32, u64),
        ask: ShareAsk,
        tally: &EvidenceTally,
    ) -> Result<bool, ClusterError> {
        let size: i64 = match ask {
            ShareAsk::Room => -1,
            ShareAsk::Take(size) => i64::try_from(size).unwrap_or(i64::MAX),
        };
        let mut conn = self.conn.clone();
        let allowed: i64 = timed(
            Script::new(SHARE)
                .key(format!("{}:evidence:{session}", self.prefix))
                .arg(stored.0)
                .arg(stored.1)
                .arg(size)
                .arg(tally.max_files())
                .arg(tally.max_bytes())
                .arg(u64::try_from(EVIDENCE_TTL.as_millis()).unwrap_or(u64::MAX))
                .invoke_async(&mut conn),
        )
        .await?;
        Ok(allowed == 1)
    }
}
