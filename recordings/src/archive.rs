//! The exported recording: one ZIP with every file of the folder under a top folder named
//! after the recording, and the reading side that [`crate::verify`] uses to check a folder or
//! a ZIP alike, streaming each file through its hash without extracting anything to disk.

use std::fs::File;
use std::io::{BufReader, Read, Seek, Write};
use std::path::{Path, PathBuf};

use zip::result::ZipError;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

use crate::chain::{CHAIN_FILE, is_plain_name};
use crate::error::{Error, Result};
use crate::manifest::{MANIFEST_FILE, Manifest, SIGNATURE_FILE};

/// Writes the recording in folder `dir` as a ZIP: `manifest.json`, `manifest.sig`, every file
/// the manifest lists and `chain.jsonl`, under `<recording_id>/`. Media and logs are stored as
/// they are (already compressed, and a reviewer's player can seek in them); JSON is deflated.
pub fn write_zip<W: Write + Seek>(dir: &Path, out: W) -> Result<()> {
    let manifest = Manifest::read(dir)?;
    if !is_plain_name(&manifest.recording_id) {
        return Err(Error::Malformed(format!(
            "recording id {:?} cannot name a folder",
            manifest.recording_id
        )));
    }
    let mut names = vec![MANIFEST_FILE.to_owned(), SIGNATURE_FILE.to_owned()];
    names.extend(manifest.files.iter().map(|f| f.name.clone()));
    if !manifest.lists(CHAIN_FILE) && dir.join(CHAIN_FILE).is_file() {
        names.push(CHAIN_FILE.to_owned());
    }
    let mut zip = ZipWriter::new(out);
    for name in &names {
        if !is_plain_name(name) {
            return Err(Error::Malformed(format!(
                "manifest lists {name:?}, not a file name"
            )));
        }
        let path = dir.join(name);
        let mut file =
            File::open(&path).map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
        let size = file
            .metadata()
            .map_err(|e| Error::io(format!("reading {}", path.display()), e))?
            .len();
        let method = if is_json(name) {
            CompressionMethod::Deflated
        } else {
            CompressionMethod::Stored
        };
        let options = SimpleFileOptions::default()
            .compression_method(method)
            .unix_permissions(0o600)
            .large_file(size >= u64::from(u32::MAX));
        zip.start_file(format!("{}/{name}", manifest.recording_id), options)
            .map_err(|e| zip_error("writing the ZIP", e))?;
        std::io::copy(&mut file, &mut zip)
            .map_err(|e| Error::io(format!("adding {name} to the ZIP"), e))?;
    }
    zip.finish()
        .map_err(|e| zip_error("finishing the ZIP", e))?;
    Ok(())
}

fn is_json(name: &str) -> bool {
    name.ends_with(".json") || name.ends_with(".jsonl") || name.ends_with(".sig")
}

fn zip_error(what: &str, e: ZipError) -> Error {
    match e {
        ZipError::Io(source) => Error::io(what, source),
        other => Error::Malformed(format!("{what}: {other}")),
    }
}

/// A recording to read: its folder, or its exported ZIP.
#[derive(Debug)]
pub enum RecordingSource {
    /// A recording folder.
    Folder(PathBuf),
    /// An exported ZIP; `prefix` is its top folder (`<recording_id>/`), or empty.
    Zip {
        /// The open archive.
        archive: ZipArchive<BufReader<File>>,
        /// The top folder with its slash.
        prefix: String,
    },
}

impl RecordingSource {
    /// Opens `path`: a directory is a folder, a file must be a ZIP.
    pub fn open(path: &Path) -> Result<Self> {
        let meta = std::fs::metadata(path)
            .map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
        if meta.is_dir() {
            return Ok(Self::Folder(path.to_owned()));
        }
        let file =
            File::open(path).map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
        let archive = ZipArchive::new(BufReader::new(file))
            .map_err(|e| zip_error(&format!("{} as a ZIP", path.display()), e))?;
        let prefix = top_folder(&archive);
        Ok(Self::Zip { archive, prefix })
    }

    /// The names of every file the source holds, sorted: names in the recording folder, and
    /// for a ZIP entry outside its top folder (or in a subfolder) its whole path in the ZIP.
    /// A ZIP's are read from its central directory alone, so one damaged entry does not hide
    /// the others.
    pub fn file_names(&mut self) -> Result<Vec<String>> {
        let mut names = Vec::new();
        match self {
            Self::Folder(dir) => {
                let entries = std::fs::read_dir(&*dir)
                    .map_err(|e| Error::io(format!("listing {}", dir.display()), e))?;
                for entry in entries {
                    let entry =
                        entry.map_err(|e| Error::io(format!("listing {}", dir.display()), e))?;
                    let file_type = entry
                        .file_type()
                        .map_err(|e| Error::io(format!("listing {}", dir.display()), e))?;
                    if file_type.is_file() {
                        names.push(entry.file_name().to_string_lossy().into_owned());
                    }
                }
            }
            Self::Zip { archive, prefix } => {
                for full in archive.file_names().filter(|n| !n.ends_with('/')) {
                    names.push(
                        full.strip_prefix(prefix.as_str())
                            .unwrap_or(full)
                            .to_owned(),
                    );
                }
            }
        }
        names.sort();
        Ok(names)
    }

    /// A reader over the file `name` of the recording, or `None` when there is no such file.
    /// A ZIP entry's reader checks its CRC at the end, and fails there if it does not match.
    pub fn open_file(&mut self, name: &str) -> Result<Option<Box<dyn Read + '_>>> {
        if !is_plain_name(name) {
            return Ok(None);
        }
        match self {
            Self::Folder(dir) => match File::open(dir.join(name)) {
                Ok(file) => Ok(Some(Box::new(file))),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(Error::io(format!("opening {name}"), e)),
            },
            Self::Zip { archive, prefix } => match archive.by_name(&format!("{prefix}{name}")) {
                Ok(entry) => Ok(Some(Box::new(entry))),
                Err(ZipError::FileNotFound) => Ok(None),
                Err(e) => Err(zip_error(&format!("reading {name} from the ZIP"), e)),
            },
        }
    }

    /// The whole of a small file (`manifest.json`, `manifest.sig`), refused beyond `limit`
    /// bytes so that a hostile input cannot exhaust memory. `None` when there is no such file.
    pub fn read_small(&mut self, name: &str, limit: u64) -> Result<Option<Vec<u8>>> {
        let Some(reader) = self.open_file(name)? else {
            return Ok(None);
        };
        let mut bytes = Vec::new();
        reader
            .take(limit.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(|e| Error::io(format!("reading {name}"), e))?;
        if bytes.len() as u64 > limit {
            return Err(Error::Malformed(format!("{name} is over {limit} bytes")));
        }
        Ok(Some(bytes))
    }
}

/// The folder holding `manifest.json` one level down, as [`write_zip`] lays it out; empty when
/// the manifest sits at the root (a ZIP made by hand).
fn top_folder<R: Read + Seek>(archive: &ZipArchive<R>) -> String {
    let at_depth_one = archive.file_names().find_map(|name| {
        let (folder, file) = name.split_once('/')?;
        (file == MANIFEST_FILE && !folder.is_empty()).then(|| format!("{folder}/"))
    });
    at_depth_one.unwrap_or_default()
}
