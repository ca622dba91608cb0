//! A minimal zip writer for the streamed Excel export: small entries deflated whole, and one large entry deflated
//! as it arrives (with a data descriptor after it), so that a package of any length is written with constant
//! memory and a chosen compression level.
//!
//! Why not the `zip` crate's writer (which rust_xlsxwriter uses): it compresses at a fixed level after the whole
//! sheet has been written, on one thread; the export deflates on a thread of its own while the rows are still being
//! read, at a faster level (see `xlsx::stream_rows`). No ZIP64: an entry or the package beyond 4 GiB is an error
//! (a sheet of Excel's 1,048,576 rows stays far below it).

use std::io::{self, Write};

use flate2::Compression;
use flate2::write::DeflateEncoder;

/// DOS date of every entry: 1980-01-01 (time 00:00), as rust_xlsxwriter writes it, so that the same rows give the
/// same file.
const DOS_DATE: u16 = (1 << 5) | 1;
/// Version needed to extract: 2.0 (deflate).
const VERSION: u16 = 20;
/// General purpose flag: sizes and CRC follow the data in a data descriptor.
const DESCRIPTOR: u16 = 1 << 3;
/// Compression method: deflate.
const DEFLATE: u16 = 8;

/// One entry's record for the central directory.
struct Entry {
    name: String,
    flags: u16,
    crc: u32,
    compressed: u32,
    size: u32,
    offset: u32,
}

/// Counts what passes through to `inner`.
struct Counting<W> {
    inner: W,
    written: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(data)?;
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

fn too_large() -> io::Error {
    io::Error::other("导出文件超过 4 GB，无法写入（请缩小导出范围）")
}

fn u32_of(n: u64) -> io::Result<u32> {
    u32::try_from(n).map_err(|_| too_large())
}

/// A zip package written front to back into `W`.
pub struct ZipOut<W: Write> {
    out: Counting<W>,
    entries: Vec<Entry>,
    level: Compression,
}

impl<W: Write> ZipOut<W> {
    /// A package written to `out`, deflating at `level` (0–9).
    pub fn new(out: W, level: u32) -> Self {
        Self { out: Counting { inner: out, written: 0 }, entries: Vec::new(), level: Compression::new(level.min(9)) }
    }

    fn local_header(&mut self, name: &str, flags: u16, crc: u32, compressed: u32, size: u32) -> io::Result<u32> {
        let offset = u32_of(self.out.written)?;
        let name_len = u16::try_from(name.len()).map_err(|_| io::Error::other("zip entry name too long"))?;
        let mut h = Vec::with_capacity(30 + name.len());
        h.extend_from_slice(&0x0403_4b50_u32.to_le_bytes());
        h.extend_from_slice(&VERSION.to_le_bytes());
        h.extend_from_slice(&flags.to_le_bytes());
        h.extend_from_slice(&DEFLATE.to_le_bytes());
        h.extend_from_slice(&0u16.to_le_bytes());
        h.extend_from_slice(&DOS_DATE.to_le_bytes());
        h.extend_from_slice(&crc.to_le_bytes());
        h.extend_from_slice(&compressed.to_le_bytes());
        h.extend_from_slice(&size.to_le_bytes());
        h.extend_from_slice(&name_len.to_le_bytes());
        h.extend_from_slice(&0u16.to_le_bytes());
        h.extend_from_slice(name.as_bytes());
        self.out.write_all(&h)?;
        Ok(offset)
    }

    /// Adds an entry whose content is all at hand.
    pub fn add(&mut self, name: &str, data: &[u8]) -> io::Result<()> {
        let mut enc = DeflateEncoder::new(Vec::with_capacity(data.len() / 3 + 64), self.level);
        enc.write_all(data)?;
        let compressed = enc.finish()?;
        let crc = crc32fast::hash(data);
        let (csize, size) = (u32_of(compressed.len() as u64)?, u32_of(data.len() as u64)?);
        let offset = self.local_header(name, 0, crc, csize, size)?;
        self.out.write_all(&compressed)?;
        self.entries.push(Entry { name: name.to_string(), flags: 0, crc, compressed: csize, size, offset });
        Ok(())
    }

    /// Adds an entry whose content arrives in `parts`, deflated as it comes. `parts` yields `None` to end the
    /// entry; if it runs dry without that end mark (the producer failed), the entry stays unfinished and an error
    /// is returned, so no complete-looking package is written.
    pub fn add_streamed(&mut self, name: &str, parts: impl Iterator<Item = Option<Vec<u8>>>) -> io::Result<()> {
        let offset = self.local_header(name, DESCRIPTOR, 0, 0, 0)?;
        let start = self.out.written;
        let mut crc = crc32fast::Hasher::new();
        let mut size: u64 = 0;
        let mut enc = DeflateEncoder::new(&mut self.out, self.level);
        let mut ended = false;
        for part in parts {
            let Some(part) = part else {
                ended = true;
                break;
            };
            crc.update(&part);
            size += part.len() as u64;
            enc.write_all(&part)?;
        }
        if !ended {
            return Err(io::Error::other("the rows of the export stopped before their end"));
        }
        enc.finish()?;
        let (crc, size) = (crc.finalize(), u32_of(size)?);
        let compressed = u32_of(self.out.written - start)?;
        let mut d = Vec::with_capacity(16);
        d.extend_from_slice(&0x0807_4b50_u32.to_le_bytes());
        d.extend_from_slice(&crc.to_le_bytes());
        d.extend_from_slice(&compressed.to_le_bytes());
        d.extend_from_slice(&size.to_le_bytes());
        self.out.write_all(&d)?;
        self.entries.push(Entry { name: name.to_string(), flags: DESCRIPTOR, crc, compressed, size, offset });
        Ok(())
    }

    /// Writes the central directory and returns the output.
    pub fn finish(mut self) -> io::Result<W> {
        let start = u32_of(self.out.written)?;
        let mut cd = Vec::new();
        for e in &self.entries {
            cd.extend_from_slice(&0x0201_4b50_u32.to_le_bytes());
            cd.extend_from_slice(&VERSION.to_le_bytes()); // made by (MS-DOS, 2.0)
            cd.extend_from_slice(&VERSION.to_le_bytes());
            cd.extend_from_slice(&e.flags.to_le_bytes());
            cd.extend_from_slice(&DEFLATE.to_le_bytes());
            cd.extend_from_slice(&0u16.to_le_bytes());
            cd.extend_from_slice(&DOS_DATE.to_le_bytes());
            cd.extend_from_slice(&e.crc.to_le_bytes());
            cd.extend_from_slice(&e.compressed.to_le_bytes());
            cd.extend_from_slice(&e.size.to_le_bytes());
            // Names were checked to fit when their local header was written.
            cd.extend_from_slice(&(e.name.len() as u16).to_le_bytes());
            cd.extend_from_slice(&[0; 12]); // extra, comment, disk, internal and external attributes
            cd.extend_from_slice(&e.offset.to_le_bytes());
            cd.extend_from_slice(e.name.as_bytes());
        }
        let count = u16::try_from(self.entries.len()).map_err(|_| io::Error::other("too many zip entries"))?;
        let cd_len = u32_of(cd.len() as u64)?;
        cd.extend_from_slice(&0x0605_4b50_u32.to_le_bytes());
        cd.extend_from_slice(&[0; 4]); // this disk, disk of the directory
        cd.extend_from_slice(&count.to_le_bytes());
        cd.extend_from_slice(&count.to_le_bytes());
        cd.extend_from_slice(&cd_len.to_le_bytes());
        cd.extend_from_slice(&start.to_le_bytes());
        cd.extend_from_slice(&0u16.to_le_bytes());
        self.out.write_all(&cd)?;
        self.out.flush()?;
        Ok(self.out.inner)
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Cursor, Read};

    use super::*;

    fn read_back(bytes: Vec<u8>) -> Vec<(String, Vec<u8>)> {
        let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).expect("a readable zip");
        (0..archive.len())
            .map(|i| {
                let mut f = archive.by_index(i).expect("entry");
                let mut data = Vec::new();
                // Reading to the end checks the CRC.
                f.read_to_end(&mut data).expect("entry data with a matching CRC");
                (f.name().to_string(), data)
            })
            .collect()
    }

    #[test]
    fn whole_and_streamed_entries_read_back() {
        let mut z = ZipOut::new(Vec::new(), 1);
        z.add("[Content_Types].xml", b"<Types/>").unwrap();
        let parts: Vec<Vec<u8>> =
            (0..300).map(|i| format!("<row r=\"{i}\">行{i}</row>").repeat(50).into_bytes()).collect();
        let whole: Vec<u8> = parts.concat();
        z.add_streamed("xl/worksheets/sheet1.xml", parts.into_iter().map(Some).chain([None])).unwrap();
        z.add("empty", b"").unwrap();
        let entries = read_back(z.finish().unwrap());
        assert_eq!(entries.len(), 3);
        assert_eq!(entries[0], ("[Content_Types].xml".to_string(), b"<Types/>".to_vec()));
        assert_eq!(entries[1].0, "xl/worksheets/sheet1.xml");
        assert_eq!(entries[1].1, whole);
        assert_eq!(entries[2], ("empty".to_string(), Vec::new()));
    }

    #[test]
    fn a_stream_without_its_end_mark_is_an_error_and_leaves_no_directory() {
        let mut z = ZipOut::new(Vec::new(), 1);
        z.add("a", b"x").unwrap();
        let parts = vec![Some(b"<row/>".to_vec())];
        assert!(z.add_streamed("sheet", parts.into_iter()).is_err());
        // The caller drops the package: what was written has no end-of-directory record.
        let written = z.out.inner;
        assert!(!written.windows(4).any(|w| w == 0x0605_4b50_u32.to_le_bytes()));
        assert!(zip::ZipArchive::new(Cursor::new(written)).is_err());
    }
}
