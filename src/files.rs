//! Attachments on disk: checked by type, size and content, stored under their SM3 hash, never under the name the
//! uploader gave. The metadata lives in DuckDB (`store::activities::add_file`).

use std::path::{Path, PathBuf};

use crate::exchange::sm3_hex;

/// The largest attachment accepted.
pub const MAX_UPLOAD: usize = 20 * 1024 * 1024;

/// What an upload may be: extension, MIME type, and a check of the first bytes.
const KINDS: &[(&str, &str, &[u8])] = &[
    ("pdf", "application/pdf", b"%PDF-"),
    ("png", "image/png", b"\x89PNG\r\n\x1a\n"),
    ("jpg", "image/jpeg", b"\xFF\xD8\xFF"),
    ("jpeg", "image/jpeg", b"\xFF\xD8\xFF"),
    ("docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", b"PK\x03\x04"),
    ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", b"PK\x03\x04"),
    ("html", "text/html; charset=utf-8", b"<!DOCTYPE html>"),
];

/// Extensions users may upload (HTML is only for documents inside bundles).
pub const UPLOAD_EXTENSIONS: &str = "PDF、JPG、PNG、DOCX、XLSX";

/// Why an upload was refused (the message is Chinese, for the page).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UploadError {
    /// Empty file.
    #[error("文件为空")]
    Empty,
    /// Too large.
    #[error("文件超过 {} MB", MAX_UPLOAD / 1024 / 1024)]
    TooLarge,
    /// Extension not allowed.
    #[error("只能上传 {UPLOAD_EXTENSIONS} 文件")]
    Type,
    /// Content does not match the extension.
    #[error("文件内容与扩展名不符")]
    Content,
    /// The disk write failed.
    #[error("文件保存失败")]
    Io,
}

/// A checked file: its safe display name, MIME type, size and hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedFile {
    /// The uploader's name, cleaned for display (no path, no control characters, at most 100 characters).
    pub name: String,
    /// MIME type from the checked kind.
    pub mime: &'static str,
    /// Size in bytes.
    pub size: usize,
    /// SM3 of the content (also the stored file name).
    pub sm3: String,
}

/// Checks `bytes` uploaded as `name`; `allow_html` only for documents carried inside bundles.
pub fn check(name: &str, bytes: &[u8], allow_html: bool) -> Result<CheckedFile, UploadError> {
    if bytes.is_empty() {
        return Err(UploadError::Empty);
    }
    if bytes.len() > MAX_UPLOAD {
        return Err(UploadError::TooLarge);
    }
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let ext = base.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    let (_, mime, magic) =
        KINDS.iter().find(|(e, _, _)| *e == ext && (allow_html || *e != "html")).ok_or(UploadError::Type)?;
    if !bytes.starts_with(magic) {
        return Err(UploadError::Content);
    }
    let clean: String = base
        .chars()
        .filter(|c| !c.is_control() && !is_bidi_control(*c) && !matches!(c, '<' | '>' | '"' | '\'' | '&'))
        .take(100)
        .collect();
    let name = if clean.trim().is_empty() { format!("附件.{ext}") } else { clean };
    Ok(CheckedFile { name, mime, size: bytes.len(), sm3: sm3_hex(bytes) })
}

/// The attachment directory.
#[derive(Debug, Clone)]
pub struct FileStore {
    dir: PathBuf,
}

impl FileStore {
    /// A store in `dir` (created when missing).
    pub fn new(dir: impl Into<PathBuf>) -> std::io::Result<Self> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)?;
        Ok(Self { dir })
    }

    /// Where the file with hash `sm3` lives; `None` for anything that is not a hex hash.
    pub fn path(&self, sm3: &str) -> Option<PathBuf> {
        (sm3.len() == 64 && sm3.bytes().all(|b| b.is_ascii_hexdigit())).then(|| self.dir.join(sm3))
    }

    /// Writes checked bytes under their hash (idempotent; written to a temporary name and renamed).
    pub fn save(&self, file: &CheckedFile, bytes: &[u8]) -> Result<(), UploadError> {
        let path = self.path(&file.sm3).ok_or(UploadError::Io)?;
        if path.exists() {
            return Ok(());
        }
        let tmp = self.dir.join(format!("{}.tmp", file.sm3));
        std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, &path)).map_err(|_| UploadError::Io)
    }

    /// Reads the file with hash `sm3`.
    pub fn read(&self, sm3: &str) -> Option<Vec<u8>> {
        self.path(sm3).and_then(|p| std::fs::read(p).ok())
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// Characters that change the display order of text (e.g. U+202E): a name `a\u{202E}fdp.jpg` would look like a
/// different file type.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200E}' | '\u{200F}' | '\u{061C}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_order_controls_are_dropped_from_names() {
        assert!(!is_bidi_control('a'));
        for c in ['\u{202E}', '\u{2066}', '\u{200F}'] {
            assert!(is_bidi_control(c));
        }
        let f = check("invoice\u{202E}gpj.pdf", b"%PDF-1.4 x", false).unwrap();
        assert_eq!(f.name, "invoicegpj.pdf");
    }

    #[test]
    fn uploads_are_checked_by_type_size_and_content() {
        let pdf = b"%PDF-1.7\n...";
        let ok = check("../../etc/方案.pdf", pdf, false).unwrap();
        assert_eq!(ok.name, "方案.pdf");
        assert_eq!(ok.mime, "application/pdf");
        for (name, bytes, err) in [
            ("a.pdf", &b""[..], UploadError::Empty),
            ("a.exe", &pdf[..], UploadError::Type),
            ("a", &pdf[..], UploadError::Type),
            ("a.png", &pdf[..], UploadError::Content),
            ("a.pdf", &b"MZ\x90\x00"[..], UploadError::Content),
            ("a.html", &b"<!DOCTYPE html>"[..], UploadError::Type),
        ] {
            assert_eq!(check(name, bytes, false), Err(err), "{name}");
        }
        assert!(check("doc.html", b"<!DOCTYPE html><html>", true).is_ok());
        let big = vec![b'%'; MAX_UPLOAD + 1];
        assert_eq!(check("a.pdf", &big, false), Err(UploadError::TooLarge));
        assert_eq!(check("<script>.pdf", pdf, false).unwrap().name, "script.pdf");
    }

    #[test]
    fn stored_under_the_hash_only() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new(dir.path()).unwrap();
        let bytes = b"%PDF-1.4 test";
        let f = check("x.pdf", bytes, false).unwrap();
        store.save(&f, bytes).unwrap();
        store.save(&f, bytes).unwrap();
        assert_eq!(store.read(&f.sm3).unwrap(), bytes);
        assert!(store.path("../x").is_none());
        assert!(store.read(&"0".repeat(64)).is_none());
    }
}
