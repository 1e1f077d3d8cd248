//! One suite of blob-store behaviour, run against the local directory and against a real
//! S3-compatible server (moto, started on loopback by the test): what evidence uploads and
//! recordings rely on, seen from outside the store.

#[path = "blobs/moto.rs"]
mod moto;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use accord_cases::blobs::{BlobStore, LocalBlobs, S3Blobs, S3Config};
use futures_util::TryStreamExt;
use moto::MotoServer;
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;

const BUCKET: &str = "accord-test";
const MIB: usize = 1024 * 1024;

/// Where a suite's stores live.
enum Backend {
    Local { root: PathBuf },
    S3 { server: MotoServer },
}

/// One fresh, empty store of a backend, with what the test needs to look behind it.
struct Store<'a> {
    blobs: Arc<dyn BlobStore>,
    inside: Inside<'a>,
}

enum Inside<'a> {
    Local(PathBuf),
    S3 {
        s3: S3Blobs,
        prefix: String,
        server: &'a MotoServer,
    },
}

impl Backend {
    fn local() -> Self {
        let root = std::env::temp_dir().join(format!("accord-blob-suite-{}", std::process::id()));
        Self::Local { root }
    }

    async fn s3() -> Option<Self> {
        Some(Self::S3 {
            server: MotoServer::start(BUCKET).await?,
        })
    }

    /// A store of its own for one behaviour: a folder, or a key prefix in the bucket.
    async fn store(&self, name: &str) -> Store<'_> {
        match self {
            Self::Local { root } => {
                let dir = root.join(name);
                let local = LocalBlobs::open(&dir).expect("a local store opens");
                Store {
                    blobs: Arc::new(local),
                    inside: Inside::Local(dir),
                }
            }
            Self::S3 { server } => {
                let prefix = format!("suite/{name}");
                let config = S3Config {
                    bucket: BUCKET.into(),
                    endpoint: server.endpoint(),
                    region: "us-east-1".into(),
                    prefix: prefix.clone(),
                    allow_http: true,
                    access_key_id: "testing".into(),
                    secret_access_key: "testing".into(),
                };
                let s3 = S3Blobs::open(&config).await.expect("the bucket answers");
                Store {
                    blobs: Arc::new(s3.clone()),
                    inside: Inside::S3 { s3, prefix, server },
                }
            }
        }
    }

    async fn run_suite(&self) {
        writes_and_reads_back(&self.store("write").await).await;
        same_content_is_kept_once(&self.store("dedup").await).await;
        dropped_writers_leave_nothing(&self.store("drop").await).await;
        reads_byte_ranges(&self.store("range").await).await;
        stores_a_finished_file(&self.store("file").await).await;
        deletes(&self.store("delete").await).await;
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        if let Self::Local { root } = self {
            let _ = std::fs::remove_dir_all(root);
        }
    }
}

impl Store<'_> {
    /// The names of the stored blobs.
    async fn blob_names(&self) -> Vec<String> {
        match &self.inside {
            Inside::Local(root) => {
                let mut names = Vec::new();
                let mut folders = vec![root.clone()];
                while let Some(folder) = folders.pop() {
                    for entry in std::fs::read_dir(&folder).expect("a readable folder") {
                        let path = entry.expect("a folder entry").path();
                        if path.is_dir() && !path.ends_with("tmp") {
                            folders.push(path);
                        } else if path.is_file() {
                            names.push(file_name(&path));
                        }
                    }
                }
                names.sort();
                names
            }
            Inside::S3 { s3, prefix, .. } => {
                let blobs = object_store::path::Path::from(format!("{prefix}/blobs"));
                let mut names: Vec<String> = s3
                    .object_store()
                    .list(Some(&blobs))
                    .map_ok(|meta| meta.location.filename().unwrap_or_default().to_owned())
                    .try_collect()
                    .await
                    .expect("listing the bucket");
                names.sort();
                names
            }
        }
    }

    /// Anything left of unfinished writes: temporary files or objects, unfinished multipart
    /// uploads.
    async fn leftovers(&self) -> Vec<String> {
        match &self.inside {
            Inside::Local(root) => std::fs::read_dir(root.join("tmp"))
                .expect("the temporary area exists")
                .map(|entry| file_name(&entry.expect("a folder entry").path()))
                .collect(),
            Inside::S3 { s3, prefix, server } => {
                let tmp = object_store::path::Path::from(format!("{prefix}/tmp"));
                let mut left: Vec<String> = s3
                    .object_store()
                    .list(Some(&tmp))
                    .map_ok(|meta| meta.location.to_string())
                    .try_collect()
                    .await
                    .expect("listing the bucket");
                // Unfinished multipart uploads are not objects; only this request sees them.
                let (status, body) = server
                    .request("GET", &format!("/{BUCKET}?uploads&prefix={prefix}/"))
                    .await
                    .expect("listing multipart uploads");
                assert_eq!(status, 200, "{body}");
                left.extend(
                    body.split("<Key>")
                        .skip(1)
                        .filter_map(|rest| rest.split_once("</Key>"))
                        .map(|(key, _)| format!("unfinished upload to {key}")),
                );
                left
            }
        }
    }

    /// Polls `leftovers` until it is empty: an abandoned S3 upload is aborted in the
    /// background.
    async fn wait_for_no_leftovers(&self) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = self.leftovers().await;
            if left.is_empty() || Instant::now() > deadline {
                return left;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// How many parts the blob was uploaded in, from its S3 ETag (`"<md5>-<parts>"` after a
    /// multipart upload); `None` for a local store or a single PUT.
    async fn parts_of(&self, sha256: &str) -> Option<usize> {
        let Inside::S3 { s3, .. } = &self.inside else {
            return None;
        };
        let key = s3.key_of(sha256).expect("a blob name");
        let meta = s3.object_store().head(&key).await.expect("the blob exists");
        let etag = meta.e_tag?;
        etag.trim_matches('"').rsplit_once('-')?.1.parse().ok()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_directory_passes_the_suite() {
    Backend::local().run_suite().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_s3_bucket_on_a_real_server_passes_the_suite() {
    let Some(backend) = Backend::s3().await else {
        return;
    };
    backend.run_suite().await;
}

async fn writes_and_reads_back(store: &Store<'_>) {
    let mut writer = store.blobs.writer().await.expect("a writer");
    writer.write(b"hello ").await.expect("writing");
    writer.write(b"world").await.expect("writing");
    assert_eq!(writer.written(), 11);
    let blob = writer.finish().await.expect("finishing");
    assert_eq!(
        blob.sha256,
        "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
    );
    assert_eq!(blob.size, 11);
    let reader = store.blobs.open(&blob.sha256).await.expect("opening");
    assert_eq!(
        read_all(reader.expect("the blob just stored")).await,
        b"hello world"
    );
    assert_eq!(
        store.blobs.size(&blob.sha256).await.expect("size"),
        Some(11)
    );
    assert_eq!(store.blob_names().await, [blob.sha256]);
    let nothing = "0".repeat(64);
    assert!(store.blobs.open(&nothing).await.expect("opening").is_none());
    assert!(store.blobs.size(&nothing).await.expect("size").is_none());
    assert!(
        store
            .blobs
            .open("../../etc/passwd")
            .await
            .expect("opening")
            .is_none()
    );
}

async fn same_content_is_kept_once(store: &Store<'_>) {
    let small = put(store, &[b"evidence"]).await;
    assert_eq!(small, put(store, &[b"evi", b"dence"]).await);
    // Larger than one S3 part: streamed to a temporary object, then copied to its key.
    let large = content(9 * MIB + 17);
    let chunks: Vec<&[u8]> = large.chunks(MIB).collect();
    let first = put(store, &chunks).await;
    assert_eq!(first, put(store, &[&large]).await);
    assert_eq!(first.sha256, sha256_hex(&large));
    let mut expected = vec![small.sha256, first.sha256.clone()];
    expected.sort();
    assert_eq!(store.blob_names().await, expected);
    assert_eq!(store.wait_for_no_leftovers().await, Vec::<String>::new());
    let reader = store.blobs.open(&first.sha256).await.expect("opening");
    assert!(read_all(reader.expect("stored")).await == large);
}

async fn dropped_writers_leave_nothing(store: &Store<'_>) {
    let mut small = store.blobs.writer().await.expect("a writer");
    small.write(b"half a photo").await.expect("writing");
    drop(small);
    // Past one part, so on S3 a multipart upload was under way when the writer went.
    let mut large = store.blobs.writer().await.expect("a writer");
    for chunk in content(12 * MIB).chunks(MIB) {
        large.write(chunk).await.expect("writing");
    }
    drop(large);
    assert_eq!(store.wait_for_no_leftovers().await, Vec::<String>::new());
    assert_eq!(store.blob_names().await, Vec::<String>::new());
}

async fn reads_byte_ranges(store: &Store<'_>) {
    let data = content(1000);
    let blob = put(store, &[&data]).await;
    let range = |start: u64, end: Option<u64>| {
        let sha256 = blob.sha256.clone();
        async move {
            let (reader, total) = store
                .blobs
                .open_range(&sha256, start, end)
                .await
                .expect("a range read")
                .expect("the blob exists");
            (read_all(reader).await, total)
        }
    };
    assert_eq!(
        range(0, Some(0)).await,
        (data[..1].to_vec(), 1000),
        "first byte"
    );
    assert_eq!(
        range(100, Some(199)).await,
        (data[100..200].to_vec(), 1000),
        "middle"
    );
    assert_eq!(
        range(900, None).await,
        (data[900..].to_vec(), 1000),
        "suffix"
    );
    assert_eq!(range(0, None).await, (data.clone(), 1000), "all of it");
    assert_eq!(
        range(990, Some(5000)).await,
        (data[990..].to_vec(), 1000),
        "end past the end"
    );
    // Past the end: empty, with the size for a 416's Content-Range.
    assert_eq!(
        range(1000, None).await,
        (Vec::new(), 1000),
        "start at the end"
    );
    assert_eq!(
        range(5000, Some(6000)).await,
        (Vec::new(), 1000),
        "start past the end"
    );
    assert!(
        store
            .blobs
            .open_range(&blob.sha256, 10, Some(5))
            .await
            .is_err(),
        "reversed"
    );
    let nothing = "0".repeat(64);
    assert!(
        store
            .blobs
            .open_range(&nothing, 0, None)
            .await
            .expect("a read")
            .is_none()
    );
}

async fn stores_a_finished_file(store: &Store<'_>) {
    let dir = std::env::temp_dir().join(format!("accord-blob-file-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temp folder");
    let track = dir.join("t01-video.webm");
    let data = content(20 * MIB);
    std::fs::write(&track, &data).expect("writing the file");
    let blob = store
        .blobs
        .put_file(&track)
        .await
        .expect("storing the file");
    assert_eq!(
        (blob.sha256.as_str(), blob.size),
        (sha256_hex(&data).as_str(), data.len() as u64)
    );
    assert!(track.is_file(), "the source file stays where it was");
    let reader = store.blobs.open(&blob.sha256).await.expect("opening");
    assert!(
        read_all(reader.expect("stored")).await == data,
        "the content reads back"
    );
    if let Inside::S3 { .. } = store.inside {
        // 20 MiB in 8 MiB parts.
        assert_eq!(
            store.parts_of(&blob.sha256).await,
            Some(3),
            "a multipart upload"
        );
    }
    assert_eq!(store.blobs.put_file(&track).await.expect("again"), blob);
    let small = dir.join("manifest.json");
    std::fs::write(&small, b"{\"format\":\"accord-recording/1\"}").expect("writing");
    let manifest = store
        .blobs
        .put_file(&small)
        .await
        .expect("storing a small file");
    let mut expected = vec![blob.sha256, manifest.sha256];
    expected.sort();
    assert_eq!(store.blob_names().await, expected);
    assert_eq!(store.wait_for_no_leftovers().await, Vec::<String>::new());
    assert!(
        store
            .blobs
            .put_file(&dir.join("missing.webm"))
            .await
            .is_err()
    );
    let _ = std::fs::remove_dir_all(dir);
}

async fn deletes(store: &Store<'_>) {
    let kept = put(store, &[b"a power of attorney"]).await;
    let expired = put(store, &[b"a recording past its retention"]).await;
    assert!(store.blobs.delete(&expired.sha256).await.expect("deleting"));
    assert!(
        store
            .blobs
            .size(&expired.sha256)
            .await
            .expect("size")
            .is_none()
    );
    assert!(
        store
            .blobs
            .open(&expired.sha256)
            .await
            .expect("opening")
            .is_none()
    );
    assert!(
        !store
            .blobs
            .delete(&expired.sha256)
            .await
            .expect("deleting again")
    );
    assert!(!store.blobs.delete("not-a-hash").await.expect("a bad name"));
    assert_eq!(store.blob_names().await, std::slice::from_ref(&kept.sha256));
    assert_eq!(
        store.blobs.size(&kept.sha256).await.expect("size"),
        Some(kept.size)
    );
}

async fn put(store: &Store<'_>, parts: &[&[u8]]) -> accord_cases::blobs::Blob {
    let mut writer = store.blobs.writer().await.expect("a writer");
    for part in parts {
        writer.write(part).await.expect("writing");
    }
    writer.finish().await.expect("finishing")
}

async fn read_all(mut reader: accord_cases::blobs::BlobReader) -> Vec<u8> {
    let mut content = Vec::new();
    reader.read_to_end(&mut content).await.expect("reading");
    content
}

/// Bytes that do not repeat with any short period, so a misplaced range shows.
fn content(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| ((i as u32).wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect()
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn file_name(path: &std::path::Path) -> String {
    path.file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default()
}
