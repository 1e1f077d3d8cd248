//! The blob-store behaviour suite (`blobs/suite.rs`) on the local directory. The same suite
//! runs on an S3 bucket in `signaling/tests/edge/blobs_s3.rs`, beside the S3 client.

#[path = "blobs/suite.rs"]
mod suite;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use accord_cases::blobs::LocalBlobs;
use suite::{Backend, Inside, Store};

/// Stores in folders under one temporary root, removed when the suite is done.
struct LocalFolders {
    root: PathBuf,
}

/// A store's folder, looked at directly.
struct Folder(PathBuf);

#[async_trait::async_trait]
impl Backend for LocalFolders {
    async fn store(&self, name: &str) -> Store<'_> {
        let dir = self.root.join(name);
        let local = LocalBlobs::open(&dir).expect("a local store opens");
        Store {
            blobs: Arc::new(local),
            inside: Box::new(Folder(dir)),
        }
    }
}

impl Drop for LocalFolders {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

#[async_trait::async_trait]
impl Inside for Folder {
    async fn blob_names(&self) -> Vec<String> {
        let mut names = Vec::new();
        let mut folders = vec![self.0.clone()];
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

    async fn leftovers(&self) -> Vec<String> {
        std::fs::read_dir(self.0.join("tmp"))
            .expect("the temporary area exists")
            .map(|entry| file_name(&entry.expect("a folder entry").path()))
            .collect()
    }

    async fn upload_parts(&self, _sha256: &str) -> Option<usize> {
        // A file is written whole; there are no parts to count.
        None
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_directory_passes_the_suite() {
    let root = std::env::temp_dir().join(format!("accord-blob-suite-{}", std::process::id()));
    suite::run_suite(&LocalFolders { root }).await;
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default()
}
