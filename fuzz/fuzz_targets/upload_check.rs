//! The upload checker `files::check` (type by extension, size, magic bytes, display-name cleaning) and the stored-file
//! lookup `FileStore::path`. Input layout: byte 0 bit 0 = `allow_html`, byte 1 = length `n` of the file name, the
//! next `n` bytes the name (lossy UTF-8, as a multipart file name), the rest the content.
#![no_main]

use std::path::{Component, Path};
use std::sync::OnceLock;

use anxu_fuzz::exchange::sm3_hex;
use anxu_fuzz::files::{FileStore, MAX_UPLOAD, check};
use libfuzzer_sys::fuzz_target;

static STORE: OnceLock<FileStore> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let store = STORE.get_or_init(|| match FileStore::new(std::env::temp_dir().join("anxu-fuzz-files")) {
        Ok(s) => s,
        Err(e) => panic!("cannot create the file store directory: {e}"),
    });
    let [flags, n, rest @ ..] = data else { return };
    let (name, bytes) = rest.split_at(usize::from(*n).min(rest.len()));
    let name = String::from_utf8_lossy(name);
    let allow_html = flags & 1 == 1;
    if let Ok(f) = check(&name, bytes, allow_html) {
        assert!(!bytes.is_empty() && bytes.len() <= MAX_UPLOAD);
        assert_eq!(f.size, bytes.len());
        assert_eq!(f.sm3, sm3_hex(bytes));
        let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
        let magic: &[u8] = match ext.as_str() {
            "pdf" => b"%PDF-",
            "png" => b"\x89PNG\r\n\x1a\n",
            "jpg" | "jpeg" => b"\xFF\xD8\xFF",
            "docx" | "xlsx" => b"PK\x03\x04",
            "html" if allow_html => b"<!DOCTYPE html>",
            other => panic!("accepted extension {other:?}"),
        };
        assert!(bytes.starts_with(magic));
        assert!(!f.name.trim().is_empty());
        assert!(f.name.chars().count() <= 100, "{:?}", f.name);
        let bad = |c: char| c.is_control() || matches!(c, '/' | '\\' | '<' | '>' | '"' | '\'' | '&');
        assert!(!f.name.chars().any(bad), "{:?}", f.name);
        let path = store.path(&f.sm3).unwrap_or_else(|| panic!("no path for {}", f.sm3));
        assert_eq!(path.parent(), Some(store.dir()));
    }
    // Hashes from URLs: a path is only ever a plain file name directly inside the store.
    if let Some(path) = store.path(&name) {
        let inside = path.strip_prefix(store.dir()).map(Path::components).map(|c| c.collect::<Vec<_>>());
        assert!(matches!(inside.as_deref(), Ok([Component::Normal(_)])), "{name:?} → {}", path.display());
    }
});
