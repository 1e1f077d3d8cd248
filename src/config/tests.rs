//! Loading and validating: defaults, the file, the environment, and the errors that name
//! their key.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;

fn write(text: &str) -> tempfile_path::TempPath {
    tempfile_path::TempPath::with(text)
}

/// A file that removes itself; enough for these tests without another dependency.
mod tempfile_path {
    pub struct TempPath(pub std::path::PathBuf);
    impl TempPath {
        pub fn with(text: &str) -> Self {
            static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
            let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let path =
                std::env::temp_dir().join(format!("accord-config-{}-{n}.toml", std::process::id()));
            std::fs::write(&path, text).expect("temp dir is writable");
            Self(path)
        }
    }
    impl Drop for TempPath {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
}

#[test]
fn defaults_run_locally_with_nothing_configured() {
    let (c, unknown) = Config::load(None, Vec::new()).expect("defaults are valid");
    assert_eq!(c.http.listen.port(), 8080);
    assert_eq!(c.media.listen.port(), 40000);
    assert_eq!(c.data_dir, PathBuf::from("data"));
    assert!(unknown.is_empty());
    assert!(c.signaling().api_key.is_none());
}

#[test]
fn the_file_then_the_environment_override_defaults() {
    let f = write("[http]\nlisten = \"127.0.0.1:9000\"\n[media]\nshards = 3\n");
    let env = vec![
        ("ACCORD_MEDIA_SHARDS".to_owned(), "1".to_owned()),
        ("ACCORD_MEDIA_SHARD_FILL".to_owned(), "0".to_owned()),
        ("ACCORD_TYPO".to_owned(), "x".to_owned()),
        ("PATH".to_owned(), "/bin".to_owned()),
    ];
    let (c, unknown) = Config::load(Some(&f.0), env).expect("valid");
    assert_eq!(
        c.http.listen,
        "127.0.0.1:9000".parse::<SocketAddr>().expect("addr")
    );
    assert_eq!(c.media.shards, 1);
    assert_eq!(c.media.shard_fill, 0, "0 spreads rooms evenly");
    assert_eq!(c.sfu().expect("sfu").shard_fill, 0);
    assert_eq!(unknown, ["ACCORD_TYPO"]);
}

#[test]
fn turn_is_handed_out_only_with_urls_and_a_secret_from_the_environment() {
    let f = write("[turn]\nurls = [\"turn:127.0.0.1:3478\"]\n");
    let (c, _) = Config::load(Some(&f.0), Vec::new()).expect("valid");
    assert!(c.signaling().turn.is_none(), "no secret, no TURN");
    let env = vec![
        ("ACCORD_TURN_SHARED_SECRET".to_owned(), "s3cret".to_owned()),
        (
            "ACCORD_TURN_URLS".to_owned(),
            "turn:127.0.0.1:3478?transport=udp, turn:127.0.0.1:3478?transport=tcp".to_owned(),
        ),
    ];
    let (c, _) = Config::load(Some(&f.0), env).expect("valid");
    let turn = c.signaling().turn.expect("TURN configured");
    assert_eq!(turn.urls.len(), 2);
    assert_eq!(turn.ttl, Duration::from_secs(6 * 3600));
}

#[test]
fn unknown_keys_in_the_file_are_rejected() {
    let f = write("[media]\nport = 5\n");
    let err = Config::load(Some(&f.0), Vec::new()).expect_err("unknown key");
    assert!(err.to_string().contains("port"), "{err}");
}

#[test]
fn the_sample_config_in_deploy_is_valid_and_matches_the_defaults() {
    let sample = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/accord.toml");
    let (c, _) = Config::load(Some(Path::new(sample)), Vec::new()).expect("sample loads");
    assert_eq!(c, Config::default());
}

#[test]
fn bad_values_name_their_key() {
    let env = vec![("ACCORD_HTTP_LISTEN".to_owned(), "nowhere".to_owned())];
    let err = Config::load(None, env).expect_err("bad address");
    assert!(err.to_string().starts_with("ACCORD_HTTP_LISTEN"), "{err}");
    let env = vec![("ACCORD_AUTH_TOKEN_SECRET".to_owned(), "short".to_owned())];
    assert!(Config::load(None, env).is_err());
}

#[test]
fn blobs_default_to_the_data_dir_and_s3_comes_from_file_and_environment() {
    use accord_cases::blobs::BlobStoreConfig;
    let env = vec![("ACCORD_DATA_DIR".to_owned(), "/srv/accord".to_owned())];
    let (c, _) = Config::load(None, env).expect("defaults are valid");
    assert_eq!(
        c.blob_store(),
        BlobStoreConfig::Local {
            dir: PathBuf::from("/srv/accord/blobs")
        }
    );
    let f = write(
        "[blobs]\nbackend = \"s3\"\n[blobs.s3]\nbucket = \"evidence\"\n\
         endpoint = \"http://127.0.0.1:9000\"\nallow_http = true\nprefix = \"/accord/prod/\"\n",
    );
    let env = vec![
        (
            "ACCORD_S3_ACCESS_KEY_ID".to_owned(),
            "AKIDEXAMPLE".to_owned(),
        ),
        (
            "ACCORD_S3_SECRET_ACCESS_KEY".to_owned(),
            "do-not-log-me".to_owned(),
        ),
    ];
    let (c, unknown) = Config::load(Some(&f.0), env).expect("valid");
    assert!(unknown.is_empty(), "{unknown:?}");
    let BlobStoreConfig::S3(s3) = c.blob_store() else {
        panic!("backend s3 opens a bucket");
    };
    assert_eq!(
        (s3.bucket.as_str(), s3.prefix.as_str()),
        ("evidence", "accord/prod")
    );
    assert_eq!(s3.secret_access_key, "do-not-log-me");
    assert!(!format!("{c:?}{s3:?}").contains("do-not-log-me"));
}

#[test]
fn an_s3_backend_needs_a_bucket_and_plain_http_only_when_allowed() {
    let env = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    };
    let err = Config::load(None, env(&[("ACCORD_BLOBS_BACKEND", "s3")])).expect_err("no bucket");
    assert!(err.to_string().starts_with("blobs.s3.bucket"), "{err}");
    let http = [
        ("ACCORD_BLOBS_BACKEND", "s3"),
        ("ACCORD_BLOBS_S3_BUCKET", "b"),
        ("ACCORD_BLOBS_S3_ENDPOINT", "http://10.0.0.5:9000"),
    ];
    let err = Config::load(None, env(&http)).expect_err("http not allowed");
    assert!(err.to_string().starts_with("blobs.s3.endpoint"), "{err}");
    let mut allowed = http.to_vec();
    allowed.push(("ACCORD_BLOBS_S3_ALLOW_HTTP", "true"));
    assert!(Config::load(None, env(&allowed)).is_ok());
    allowed.push(("ACCORD_BLOBS_S3_PREFIX", "a/../b"));
    let err = Config::load(None, env(&allowed)).expect_err("bad prefix");
    assert!(err.to_string().starts_with("blobs.s3.prefix"), "{err}");
}

#[test]
fn recordings_are_written_under_the_data_dir_unless_told_and_the_notice_is_settable() {
    let env = vec![("ACCORD_DATA_DIR".to_owned(), "/srv/accord".to_owned())];
    let (c, _) = Config::load(None, env).expect("defaults are valid");
    let settings = c.recording();
    assert_eq!(
        settings.recorder.work_dir,
        PathBuf::from("/srv/accord/recordings")
    );
    assert_eq!(settings.keys_dir, PathBuf::from("/srv/accord/keys/signing"));
    assert_eq!(settings.notice, std::time::Duration::from_secs(5));
    assert_eq!(settings.recorder.preferred_size, (640, 360));
    let f = write("[recording]\ndir = \"/mnt/rec\"\nvideo_width = 1280\nvideo_height = 720\n");
    let env = vec![("ACCORD_RECORDING_NOTICE_MS".to_owned(), "250".to_owned())];
    let (c, unknown) = Config::load(Some(&f.0), env).expect("valid");
    assert!(unknown.is_empty(), "{unknown:?}");
    let settings = c.recording();
    assert_eq!(settings.recorder.work_dir, PathBuf::from("/mnt/rec"));
    assert_eq!(settings.notice, std::time::Duration::from_millis(250));
    assert_eq!(settings.recorder.preferred_size, (1280, 720));
    let f = write("[recording]\nnotice_ms = 600000\n");
    let err = Config::load(Some(&f.0), Vec::new()).expect_err("a ten-minute notice");
    assert!(err.to_string().contains("recording.notice_ms"), "{err}");
}

#[test]
fn the_agreement_font_defaults_to_noto_and_an_explicit_one_must_exist() {
    let (c, _) = Config::load(None, Vec::new()).expect("defaults");
    let font = c.signaling().agreement_font;
    assert_eq!(
        font.path,
        PathBuf::from(accord_cases::agreements::pdf::DEFAULT_FONT_PATH)
    );
    assert_eq!(
        font.index,
        accord_cases::agreements::pdf::DEFAULT_FONT_INDEX
    );

    let own = write("not really a font, but a file");
    let env = vec![(
        "ACCORD_AGREEMENT_FONT".to_owned(),
        own.0.display().to_string(),
    )];
    let (c, unknown) = Config::load(None, env).expect("an existing file");
    assert!(unknown.is_empty());
    assert_eq!(c.agreement_font().path, own.0);
    assert_eq!(c.agreement_font().index, 0, "a font of one's own: face 0");

    let f = write("[agreements]\nfont_path = \"/nonexistent/font.ttc\"\nfont_index = 1\n");
    let err = Config::load(Some(&f.0), Vec::new()).expect_err("missing font");
    assert!(err.to_string().starts_with("agreements.font_path"), "{err}");
}

#[test]
fn a_node_is_alone_by_default_and_the_cluster_comes_from_file_and_environment() {
    let (c, _) = Config::load(None, Vec::new()).expect("defaults");
    assert!(c.cluster.redis_url.is_empty(), "no Redis: a single node");
    assert_eq!(c.keys_dir(), PathBuf::from("data"), "keys beside the data");
    assert_eq!(c.drain_deadline(), Duration::from_secs(4 * 3600));
    let http: SocketAddr = "0.0.0.0:8080".parse().expect("addr");
    let media: SocketAddr = "0.0.0.0:40000".parse().expect("addr");
    let cluster = c.cluster("N_a".into(), http, media);
    assert_eq!(cluster.node_id, "N_a");
    assert_eq!(cluster.redis_url, None);
    assert_eq!(cluster.internal_url, "http://127.0.0.1:8080");
    assert_eq!(cluster.media_addr, "127.0.0.1:40000");
    assert_eq!(cluster.lease, Duration::from_secs(10));
    assert_eq!((cluster.max_rooms, cluster.prefix.as_str()), (0, "accord"));

    let f =
        write("[cluster]\nmax_rooms = 50\nprefix = \"prod\"\n[keys]\ndir = \"/etc/accord/keys\"\n");
    let env: Vec<(String, String)> = [
        ("ACCORD_CLUSTER_NODE_ID", "node-2"),
        ("ACCORD_CLUSTER_REDIS_URL", "redis://:pw@10.0.0.9:6379/2"),
        ("ACCORD_CLUSTER_INTERNAL_URL", "http://10.0.0.5:8080/"),
        ("ACCORD_CLUSTER_MAX_ROOMS", "80"),
        ("ACCORD_CLUSTER_LEASE_SECONDS", "3"),
        ("ACCORD_CLUSTER_DRAIN_DEADLINE_SECONDS", "600"),
        ("ACCORD_CLUSTER_PREFIX", "staging"),
        ("ACCORD_KEYS_DIR", "/run/secrets/accord"),
        ("ACCORD_MEDIA_ANNOUNCE", "203.0.113.7"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    let (c, unknown) = Config::load(Some(&f.0), env).expect("valid");
    assert!(unknown.is_empty(), "{unknown:?}");
    assert_eq!(c.cluster.node_id, "node-2");
    assert_eq!(c.keys_dir(), PathBuf::from("/run/secrets/accord"));
    assert_eq!(
        c.recording().keys_dir,
        PathBuf::from("/run/secrets/accord/keys/signing")
    );
    assert_eq!(c.drain_deadline(), Duration::from_secs(600));
    let cluster = c.cluster("node-2".into(), http, media);
    assert_eq!(
        cluster.redis_url.as_deref(),
        Some("redis://:pw@10.0.0.9:6379/2")
    );
    assert_eq!(cluster.internal_url, "http://10.0.0.5:8080");
    assert_eq!(cluster.media_addr, "203.0.113.7:40000");
    assert_eq!(cluster.lease, Duration::from_secs(3));
    assert_eq!(
        (cluster.max_rooms, cluster.prefix.as_str()),
        (80, "staging")
    );
}

#[test]
fn cluster_values_out_of_range_name_their_key() {
    let bad = [
        ("ACCORD_CLUSTER_LEASE_SECONDS", "2", "cluster.lease_seconds"),
        ("ACCORD_CLUSTER_NODE_ID", "a b", "cluster.node_id"),
        ("ACCORD_CLUSTER_REDIS_URL", "http://x", "cluster.redis_url"),
        (
            "ACCORD_CLUSTER_REDIS_URL",
            "rediss://x",
            "cluster.redis_url",
        ),
        (
            "ACCORD_CLUSTER_INTERNAL_URL",
            "10.0.0.5:8080",
            "cluster.internal_url",
        ),
        (
            "ACCORD_CLUSTER_DRAIN_DEADLINE_SECONDS",
            "0",
            "cluster.drain_deadline_seconds",
        ),
        ("ACCORD_CLUSTER_PREFIX", "a:b", "cluster.prefix"),
        ("ACCORD_CLUSTER_MAX_ROOMS", "-1", "ACCORD_CLUSTER_MAX_ROOMS"),
    ];
    for (key, value, named) in bad {
        let err = Config::load(None, vec![(key.to_owned(), value.to_owned())])
            .expect_err(&format!("{key}={value}"));
        assert!(err.to_string().starts_with(named), "{key}={value}: {err}");
    }
}
