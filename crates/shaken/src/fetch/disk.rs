//! On-disk cache files: one file per x5u URL, shared between processes.
//!
//! File name: lowercase hex SHA-256 of the URL. Content:
//!
//! ```text
//! shaken-x5u-cache 2\n
//! url <the exact URL>\n
//! expires <unix seconds>\n
//! from public\n            (or "from non-public")
//! length <body length>\n
//! \n
//! <raw body as fetched>
//! ```
//!
//! `from` says whether the body came from a public address. A body fetched
//! from a non-public one (only possible with `allow_private`) is not taken
//! from the disk by a process that refuses private addresses: its URL's
//! host name resolved to a private address when it was fetched, and the
//! resolver that would refuse it is never asked for a cached entry. Version
//! 1 files (written before the line existed) are read as from a non-public
//! address: such a process fetches them again, once.
//!
//! Files are written to a temporary name in the same directory, fsynced and
//! renamed, so a reader sees either the old or the new file, never a partial
//! one. A file that is expired, truncated, oversized, for another URL or
//! otherwise malformed is ignored.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const MAGIC: &str = "shaken-x5u-cache 2";
/// Files of the version before `from` was recorded: read, origin unknown.
const MAGIC_V1: &str = "shaken-x5u-cache 1";

/// An entry as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DiskEntry<B> {
    /// Expiry, Unix seconds.
    pub(crate) expires: u64,
    /// The body came from a public address (`false`: a non-public one, or
    /// a version 1 file, which did not record it).
    pub(crate) public: bool,
    /// The raw body as fetched.
    pub(crate) body: B,
}

/// The file holding the entry of `url` in `dir`.
pub(crate) fn path_for(dir: &Path, url: &str) -> PathBuf {
    let digest = Sha256::digest(url.as_bytes());
    dir.join(crate::hex(&digest))
}

/// Serialises one entry.
pub(crate) fn encode(url: &str, expires_unix: u64, public: bool, body: &[u8]) -> Vec<u8> {
    let from = if public { "public" } else { "non-public" };
    let mut out = format!(
        "{MAGIC}\nurl {url}\nexpires {expires_unix}\nfrom {from}\nlength {}\n\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

/// Parses one entry written for `url`, or `None` when the data is
/// malformed or belongs to another URL.
pub(crate) fn decode<'a>(data: &'a [u8], url: &str) -> Option<DiskEntry<&'a [u8]>> {
    let mut rest = data;
    let mut line = || -> Option<&'a str> {
        let nl = rest.iter().position(|&b| b == b'\n')?;
        let (l, r) = rest.split_at(nl);
        rest = r.get(1..)?;
        std::str::from_utf8(l).ok()
    };
    let v1 = match line()? {
        MAGIC => false,
        MAGIC_V1 => true,
        _ => return None,
    };
    if line()?.strip_prefix("url ")? != url {
        return None;
    }
    let expires = line()?.strip_prefix("expires ")?.parse::<u64>().ok()?;
    let public = match v1 {
        true => false,
        false => match line()?.strip_prefix("from ")? {
            "public" => true,
            "non-public" => false,
            _ => return None,
        },
    };
    let length = line()?.strip_prefix("length ")?.parse::<usize>().ok()?;
    if !line()?.is_empty() {
        return None;
    }
    if rest.len() != length {
        return None;
    }
    Some(DiskEntry {
        expires,
        public,
        body: rest,
    })
}

/// Reads the entry for `url`, reading at most what a body of `max_body`
/// bytes needs. `None` when absent, unreadable or malformed.
pub(crate) async fn read(dir: &Path, url: &str, max_body: usize) -> Option<DiskEntry<Vec<u8>>> {
    let path = path_for(dir, url);
    let file = tokio::fs::File::open(&path).await.ok()?;
    let cap = max_body.saturating_add(url.len()).saturating_add(160);
    let mut data = Vec::new();
    let mut limited = file.take(u64::try_from(cap).unwrap_or(u64::MAX).saturating_add(1));
    if let Err(e) = limited.read_to_end(&mut data).await {
        tracing::debug!(path = %path.display(), error = %e, "unreadable cache file ignored");
        return None;
    }
    if data.len() > cap {
        tracing::debug!(path = %path.display(), "oversized cache file ignored");
        return None;
    }
    match decode(&data, url) {
        Some(e) => Some(DiskEntry {
            expires: e.expires,
            public: e.public,
            body: e.body.to_vec(),
        }),
        None => {
            tracing::debug!(path = %path.display(), "malformed cache file ignored");
            None
        }
    }
}

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Writes the entry for `url` atomically (temp file, fsync, rename).
pub(crate) async fn write(
    dir: &Path,
    url: &str,
    expires_unix: u64,
    public: bool,
    body: &[u8],
) -> std::io::Result<()> {
    let path = path_for(dir, url);
    let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let file_name = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{file_name}.{}.{n}.tmp", std::process::id()));
    let result = async {
        // Created on first use (and again if someone removed it meanwhile).
        tokio::fs::create_dir_all(dir).await?;
        let mut f = tokio::fs::File::create(&tmp).await?;
        f.write_all(&encode(url, expires_unix, public, body))
            .await?;
        f.sync_all().await?;
        drop(f);
        tokio::fs::rename(&tmp, &path).await
    }
    .await;
    if result.is_err() {
        let _ = tokio::fs::remove_file(&tmp).await;
    }
    result
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    const URL: &str = "https://cr.example/c.pem";

    fn entry(expires: u64, public: bool, body: &[u8]) -> DiskEntry<&[u8]> {
        DiskEntry {
            expires,
            public,
            body,
        }
    }

    #[test]
    fn round_trip() {
        for public in [true, false] {
            let data = encode(URL, 1_700_000_000, public, b"body\nwith newline");
            assert_eq!(
                decode(&data, URL),
                Some(entry(1_700_000_000, public, b"body\nwith newline"))
            );
        }
        let text = String::from_utf8(encode(URL, 9, true, b"")).unwrap();
        assert_eq!(
            text,
            format!("shaken-x5u-cache 2\nurl {URL}\nexpires 9\nfrom public\nlength 0\n\n")
        );
    }

    /// A file of the version before `from` existed is still read, as from
    /// a non-public address (its origin is unknown).
    #[test]
    fn version_1_files_are_read_as_non_public() {
        let v1 = format!("shaken-x5u-cache 1\nurl {URL}\nexpires 7\nlength 3\n\nabc");
        assert_eq!(decode(v1.as_bytes(), URL), Some(entry(7, false, b"abc")));
        // A version 1 file with a `from` line is not one.
        let mixed =
            format!("shaken-x5u-cache 1\nurl {URL}\nexpires 7\nfrom public\nlength 3\n\nabc");
        assert_eq!(decode(mixed.as_bytes(), URL), None);
    }

    #[test]
    fn rejects_malformed() {
        let good = encode(URL, 5, true, b"abc");
        assert_eq!(decode(&good, "https://other.example/"), None, "other URL");
        assert_eq!(decode(&good[..good.len() - 1], URL), None, "truncated");
        let mut longer = good.clone();
        longer.push(b'x');
        assert_eq!(decode(&longer, URL), None, "trailing bytes");
        assert_eq!(decode(b"", URL), None);
        assert_eq!(decode(b"garbage\xff\xfe\n", URL), None);
        let bad_exp = format!("{MAGIC}\nurl {URL}\nexpires soon\nfrom public\nlength 0\n\n");
        assert_eq!(decode(bad_exp.as_bytes(), URL), None);
        let no_blank = format!("{MAGIC}\nurl {URL}\nexpires 1\nfrom public\nlength 0\nX\n");
        assert_eq!(decode(no_blank.as_bytes(), URL), None);
        let wrong_magic =
            format!("shaken-x5u-cache 3\nurl {URL}\nexpires 1\nfrom public\nlength 0\n\n");
        assert_eq!(decode(wrong_magic.as_bytes(), URL), None);
        for from in ["from somewhere", "from ", "from", "origin public"] {
            let bad = format!("{MAGIC}\nurl {URL}\nexpires 1\n{from}\nlength 0\n\n");
            assert_eq!(decode(bad.as_bytes(), URL), None, "{from}");
        }
        let no_from = format!("{MAGIC}\nurl {URL}\nexpires 1\nlength 0\n\n");
        assert_eq!(
            decode(no_from.as_bytes(), URL),
            None,
            "version 2 without from"
        );
    }

    #[test]
    fn file_name_is_hex_sha256() {
        let p = path_for(Path::new("/d"), "abc");
        assert_eq!(
            p,
            Path::new("/d/ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        );
    }

    fn owned(expires: u64, public: bool, body: &[u8]) -> Option<DiskEntry<Vec<u8>>> {
        Some(DiskEntry {
            expires,
            public,
            body: body.to_vec(),
        })
    }

    #[tokio::test]
    async fn write_then_read_and_bounded_read() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), URL, 42, true, b"hello").await.unwrap();
        assert_eq!(read(dir.path(), URL, 100).await, owned(42, true, b"hello"));
        write(dir.path(), URL, 43, false, b"hello").await.unwrap();
        assert_eq!(read(dir.path(), URL, 100).await, owned(43, false, b"hello"));
        // No temp files left behind.
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1);
        // A body of exactly the limit is read, with the longest header.
        write(dir.path(), URL, u64::MAX, false, &[b'a'; 100])
            .await
            .unwrap();
        assert_eq!(
            read(dir.path(), URL, 100).await,
            owned(u64::MAX, false, &[b'a'; 100])
        );
        // A body larger than allowed is not read in full and is ignored.
        write(dir.path(), URL, 42, true, &vec![b'a'; 10_000])
            .await
            .unwrap();
        assert_eq!(read(dir.path(), URL, 100).await, None);
        assert_eq!(read(dir.path(), "https://absent.example/", 100).await, None);
    }

    /// A `--cache-dir` that does not exist yet is created on the first write
    /// (it used to fail with only a warning, so nothing was ever cached).
    #[tokio::test]
    async fn missing_directory_is_created() {
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("a/b");
        write(&nested, URL, 7, true, b"x").await.unwrap();
        assert_eq!(read(&nested, URL, 100).await, owned(7, true, b"x"));
    }
}
