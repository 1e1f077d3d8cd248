//! One suite of blob-store behaviour: what evidence uploads and recordings rely on, seen from
//! outside the store. Every backend runs it: the local folder in `cases/tests/blobs.rs`, an
//! S3 bucket on a real server (moto) in `signaling/tests/edge/blobs_s3.rs`, where the S3
//! client lives. Both include this file, so the checks cannot drift apart.

use std::sync::Arc;
use std::time::{Duration, Instant};

use accord_cases::blobs::{Blob, BlobReader, BlobStore};
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;

const MIB: usize = 1024 * 1024;

/// Where a backend keeps a fresh, empty store for each behaviour.
#[async_trait::async_trait]
pub trait Backend: Sync {
    /// A store of its own for one behaviour (a folder, a key prefix in the bucket).
    async fn store(&self, name: &str) -> Store<'_>;
}

/// What the suite looks at behind the interface, to see what a backend really kept.
#[async_trait::async_trait]
pub trait Inside: Send + Sync {
    /// The names of the stored blobs, sorted.
    async fn blob_names(&self) -> Vec<String>;
    /// Anything left of unfinished writes: temporary files or objects, unfinished uploads.
    async fn leftovers(&self) -> Vec<String>;
    /// How many parts the blob was uploaded in (1 for one request); `None` for a backend
    /// that does not upload in parts.
    async fn upload_parts(&self, sha256: &str) -> Option<usize>;
}

/// One store under test and a look behind it.
pub struct Store<'a> {
    /// The store, through the interface the service uses.
    pub blobs: Arc<dyn BlobStore>,
    /// Where its blobs really are.
    pub inside: Box<dyn Inside + 'a>,
}

impl Store<'_> {
    /// Polls the leftovers until there are none: an abandoned S3 upload is aborted in the
    /// background.
    async fn wait_for_no_leftovers(&self) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = self.inside.leftovers().await;
            if left.is_empty() || Instant::now() > deadline {
                return left;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Every behaviour, each on a fresh store of `backend`.
pub async fn run_suite(backend: &impl Backend) {
    writes_and_reads_back(&backend.store("write").await).await;
    same_content_is_kept_once(&backend.store("dedup").await).await;
    dropped_writers_leave_nothing(&backend.store("drop").await).await;
    reads_byte_ranges(&backend.store("range").await).await;
    stores_a_finished_file(&backend.store("file").await).await;
    deletes(&backend.store("delete").await).await;
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
    assert_eq!(store.inside.blob_names().await, [blob.sha256]);
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
    assert_eq!(store.inside.blob_names().await, expected);
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
    assert_eq!(store.inside.blob_names().await, Vec::<String>::new());
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
    if let Some(parts) = store.inside.upload_parts(&blob.sha256).await {
        // 20 MiB in 8 MiB parts.
        assert_eq!(parts, 3, "a multipart upload");
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
    assert_eq!(store.inside.blob_names().await, expected);
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
    assert_eq!(
        store.inside.blob_names().await,
        std::slice::from_ref(&kept.sha256)
    );
    assert_eq!(
        store.blobs.size(&kept.sha256).await.expect("size"),
        Some(kept.size)
    );
}

async fn put(store: &Store<'_>, parts: &[&[u8]]) -> Blob {
    let mut writer = store.blobs.writer().await.expect("a writer");
    for part in parts {
        writer.write(part).await.expect("writing");
    }
    writer.finish().await.expect("finishing")
}

async fn read_all(mut reader: BlobReader) -> Vec<u8> {
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
