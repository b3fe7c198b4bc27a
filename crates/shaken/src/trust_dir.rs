//! Installing a verified trust list into a directory (edge, feature `fs`),
//! and reading back what is installed.
//!
//! `DIR` is a symbolic link to a version directory under `DIR.versions/`;
//! each version holds exactly the listed roots, one PEM file each named by
//! its OpenSSL subject hash (`HASH.0`, `HASH.1` when two subjects hash
//! alike, as `c_rehash` does, so Kamailio, Asterisk and `openssl -CApath`
//! read the same directory), and `state.json` (sequence, exp, signer,
//! fetched-at, the roots), which is not a certificate. The STI-PA CRL and
//! its signer, when installed by [`install_crl`], sit in the version too
//! (`crl.pem`, `crl-signer.pem`) and are carried to the next version.
//!
//! Installing is two steps: [`stage`] writes the new version directory
//! (nothing anyone reads changes), [`Staged::commit`] swaps the `DIR` link
//! with one `rename(2)` and points `DIR.previous` at the version it
//! replaced. A crash before the rename leaves the old version in place, a
//! crash after it the new one: never a mix. Older versions are removed.

use crate::trust::{RootDiff, TrustList};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The state file of an installed version.
pub const STATE_FILE: &str = "state.json";
/// The STI-PA CRL inside an installed version.
pub const CRL_FILE: &str = "crl.pem";
/// The CRL signer's certificate inside an installed version.
pub const CRL_SIGNER_FILE: &str = "crl-signer.pem";
/// Files carried from one version to the next.
const CARRIED: [&str; 2] = [CRL_FILE, CRL_SIGNER_FILE];

/// Why installing or reading a trust directory failed (I/O, not a refusal
/// of the list).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InstallError {
    /// A file-system operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The path.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// `DIR` exists and is not a directory this installer made.
    #[error("{path} exists and is not an installed trust directory (a link to a version); move it away or choose another directory")]
    NotManaged {
        /// The path.
        path: PathBuf,
    },
    /// The state file does not parse.
    #[error("{path}: the state file does not parse: {reason}")]
    State {
        /// The state file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// Installing is local I/O: no SIP code, no verstat.
impl crate::diagnostic::Diagnostic for InstallError {
    fn id(&self) -> &'static str {
        match self {
            InstallError::Io { .. } => "trust-dir-io",
            InstallError::NotManaged { .. } => "trust-dir-not-managed",
            InstallError::State { .. } => "trust-dir-state",
        }
    }
    fn sip_code(&self) -> Option<u16> {
        None
    }
    fn verstat(&self) -> Option<crate::report::Verstat> {
        None
    }
}

/// One installed root, as the state file records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootState {
    /// Its file in the version (`HASH.N`).
    pub file: String,
    /// Its subject.
    pub subject: String,
    /// SHA-256 fingerprint (`AB:CD:..`).
    pub fingerprint: String,
    /// `notAfter`, Unix seconds.
    pub not_after: i64,
}

/// The state file: what is installed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustState {
    /// The list's `version`.
    pub version: String,
    /// The list's `sequence`.
    pub sequence: u64,
    /// The list's `exp`, Unix seconds.
    pub exp: i64,
    /// Subject of the list signer.
    pub signer: String,
    /// The signer's `x5u`, when the header had one.
    #[serde(default)]
    pub x5u: Option<String>,
    /// Where the list came from (a file or URL), as given.
    #[serde(default)]
    pub source: String,
    /// When it was fetched and installed, Unix seconds.
    pub fetched_at: i64,
    /// The roots.
    pub roots: Vec<RootState>,
}

impl TrustState {
    /// `(subject, fingerprint)` of every root.
    pub fn subjects(&self) -> Vec<(String, String)> {
        self.roots
            .iter()
            .map(|r| (r.subject.clone(), r.fingerprint.clone()))
            .collect()
    }
}

fn io<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> InstallError + 'a {
    move |source| InstallError::Io {
        op,
        path: path.to_owned(),
        source,
    }
}

fn sibling(dir: &Path, suffix: &str) -> PathBuf {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "trust".to_owned());
    dir.with_file_name(format!("{name}{suffix}"))
}

/// The directory that holds the versions of `dir`.
pub fn versions_dir(dir: &Path) -> PathBuf {
    sibling(dir, ".versions")
}

/// The link to the version before the installed one.
pub fn previous_link(dir: &Path) -> PathBuf {
    sibling(dir, ".previous")
}

/// What is installed in `dir`: `None` when nothing is (no `dir`, or a
/// directory without a state file).
pub fn read_state(dir: &Path) -> Result<Option<TrustState>, InstallError> {
    let path = dir.join(STATE_FILE);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => return Ok(None),
        Err(e) => return Err(io("reading", &path)(e)),
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| InstallError::State {
            path,
            reason: e.to_string(),
        })
}

/// A version written and not yet in use.
#[derive(Debug)]
pub struct Staged {
    dir: PathBuf,
    version: PathBuf,
    /// The state the version holds.
    pub state: TrustState,
    /// What it changes, compared with the installed list.
    pub diff: RootDiff,
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), InstallError> {
    use std::io::Write as _;
    let mut f = std::fs::File::create(path).map_err(io("creating", path))?;
    f.write_all(bytes).map_err(io("writing", path))?;
    f.sync_all().map_err(io("syncing", path))
}

/// Checks that `dir` is absent, an empty directory (removed, so the link
/// can take its place) or a link this installer made.
fn check_managed(dir: &Path) -> Result<(), InstallError> {
    match std::fs::symlink_metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io("reading", dir)(e)),
        Ok(m) if m.file_type().is_symlink() => Ok(()),
        Ok(m) if m.is_dir() => {
            let empty = std::fs::read_dir(dir)
                .map_err(io("reading", dir))?
                .next()
                .is_none();
            if empty {
                std::fs::remove_dir(dir).map_err(io("removing the empty directory", dir))
            } else {
                Err(InstallError::NotManaged {
                    path: dir.to_owned(),
                })
            }
        }
        Ok(_) => Err(InstallError::NotManaged {
            path: dir.to_owned(),
        }),
    }
}

/// Writes `list` as a new version of `dir` without touching what is in use.
/// `source`: where the list came from; `fetched_at`: now, Unix seconds.
/// Returns `None` when `dir` already holds this list (same sequence, exp
/// and roots): nothing is written.
pub fn stage(
    dir: &Path,
    list: &TrustList,
    source: &str,
    fetched_at: i64,
) -> Result<Option<Staged>, InstallError> {
    check_managed(dir)?;
    let current = read_state(dir)?;
    let mut roots = Vec::with_capacity(list.roots.len());
    let mut files: Vec<(String, String)> = Vec::new();
    for r in &list.roots {
        let hash = format!("{:08x}", r.subject_hash());
        let n = files
            .iter()
            .filter(|(f, _)| f.starts_with(&format!("{hash}.")))
            .count();
        let file = format!("{hash}.{n}");
        files.push((file.clone(), r.pem()));
        roots.push(RootState {
            file,
            subject: r.certificate().subject().to_owned(),
            fingerprint: r.fingerprint().to_owned(),
            not_after: r.certificate().not_after(),
        });
    }
    let state = TrustState {
        version: list.version.clone(),
        sequence: list.sequence,
        exp: list.exp,
        signer: list.signer.clone(),
        x5u: list.x5u.clone(),
        source: source.to_owned(),
        fetched_at,
        roots,
    };
    let old = current
        .as_ref()
        .map(TrustState::subjects)
        .unwrap_or_default();
    let diff = RootDiff::between(&old, &state.subjects());
    if let Some(c) = &current {
        if c.sequence == state.sequence && c.exp == state.exp && diff.is_empty() {
            return Ok(None);
        }
    }
    let versions = versions_dir(dir);
    std::fs::create_dir_all(&versions).map_err(io("creating", &versions))?;
    let name = format!("{:010}-{fetched_at}-{}", state.sequence, std::process::id());
    let tmp = versions.join(format!(".{name}.tmp"));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(io("removing", &tmp))?;
    }
    std::fs::create_dir(&tmp).map_err(io("creating", &tmp))?;
    for (file, pem) in &files {
        write_synced(&tmp.join(file), pem.as_bytes())?;
    }
    for carried in CARRIED {
        let from = dir.join(carried);
        if let Ok(bytes) = std::fs::read(&from) {
            write_synced(&tmp.join(carried), &bytes)?;
        }
    }
    let json = serde_json::to_vec_pretty(&state).map_err(|e| InstallError::State {
        path: tmp.join(STATE_FILE),
        reason: e.to_string(),
    })?;
    write_synced(&tmp.join(STATE_FILE), &json)?;
    let version = versions.join(&name);
    if version.exists() {
        std::fs::remove_dir_all(&version).map_err(io("removing", &version))?;
    }
    std::fs::rename(&tmp, &version).map_err(io("renaming", &tmp))?;
    sync_dir(&versions);
    Ok(Some(Staged {
        dir: dir.to_owned(),
        version,
        state,
        diff,
    }))
}

fn sync_dir(dir: &Path) {
    // Best effort: makes the renames durable on file systems that need it.
    if let Ok(f) = std::fs::File::open(dir) {
        let _ = f.sync_all();
    }
}

/// Points `link` at `target` atomically (a new link renamed over it).
fn swap_link(link: &Path, target: &Path) -> Result<(), InstallError> {
    let tmp = sibling(link, &format!(".link-{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp).map_err(io("linking", &tmp))?;
    std::fs::rename(&tmp, link).map_err(io("renaming", &tmp))
}

/// The link target for a version: relative (`NAME.versions/VERSION`), so the
/// tree can be moved or mounted elsewhere.
fn relative_target(dir: &Path, version: &Path) -> PathBuf {
    let versions = versions_dir(dir);
    match (versions.file_name(), version.file_name()) {
        (Some(v), Some(n)) => Path::new(v).join(n),
        _ => version.to_owned(),
    }
}

impl Staged {
    /// The version directory written.
    pub fn version_dir(&self) -> &Path {
        &self.version
    }

    /// Puts the staged version in use: one rename of the `dir` link; the
    /// replaced version becomes `DIR.previous`; older versions are removed.
    pub fn commit(self) -> Result<TrustState, InstallError> {
        let old = std::fs::read_link(&self.dir).ok();
        swap_link(&self.dir, &relative_target(&self.dir, &self.version))?;
        if let Some(parent) = self.dir.parent() {
            sync_dir(parent);
        }
        let prev = previous_link(&self.dir);
        if let Some(old) = &old {
            swap_link(&prev, old)?;
        }
        // Keep the current and the previous version, remove the rest.
        let versions = versions_dir(&self.dir);
        let keep: Vec<PathBuf> = [Some(relative_target(&self.dir, &self.version)), old]
            .into_iter()
            .flatten()
            .filter_map(|t| t.file_name().map(PathBuf::from))
            .collect();
        if let Ok(entries) = std::fs::read_dir(&versions) {
            for e in entries.flatten() {
                let name = PathBuf::from(e.file_name());
                let tmp = name.to_string_lossy().ends_with(".tmp");
                if !keep.contains(&name) && !tmp {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
        Ok(self.state)
    }
}

/// Writes the STI-PA CRL and its signer's certificate into the installed
/// version of `dir` (each written to a temporary file, then renamed), where
/// `--crl DIR/crl.pem` and the anchors of `DIR` reach them; the next list
/// install carries them forward.
pub fn install_crl(dir: &Path, crl_pem: &[u8], signer_pem: &[u8]) -> Result<(), InstallError> {
    // A CRL kept apart from the roots: its directory is made on first use.
    if std::fs::symlink_metadata(dir).is_err() {
        std::fs::create_dir_all(dir).map_err(io("creating", dir))?;
    }
    let meta = std::fs::metadata(dir).map_err(io("reading", dir))?;
    if !meta.is_dir() {
        return Err(InstallError::NotManaged {
            path: dir.to_owned(),
        });
    }
    for (name, bytes) in [(CRL_SIGNER_FILE, signer_pem), (CRL_FILE, crl_pem)] {
        let tmp = dir.join(format!(".{name}.tmp"));
        write_synced(&tmp, bytes)?;
        let to = dir.join(name);
        std::fs::rename(&tmp, &to).map_err(io("renaming", &tmp))?;
    }
    sync_dir(dir);
    Ok(())
}

/// A fingerprint of what `dir` points at now (the link target and the state
/// file's modification time), to tell a long-running process that a new
/// version was installed.
pub fn generation(dir: &Path) -> Option<String> {
    let target = std::fs::read_link(dir).ok();
    let state = std::fs::metadata(dir.join(STATE_FILE))
        .and_then(|m| m.modified())
        .ok();
    let crl = std::fs::metadata(dir.join(CRL_FILE))
        .and_then(|m| m.modified())
        .ok();
    if target.is_none() && state.is_none() {
        return None;
    }
    Some(format!("{target:?} {state:?} {crl:?}"))
}

/// `Accept` sent for trust-list fetches (the STI-PA serves a JWS, or JSON
/// that wraps one).
pub const LIST_ACCEPT: &str = "application/jose+json, application/json;q=0.9, */*;q=0.1";

/// What a trust-list update did.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Refreshed {
    /// A new version is installed: the state and the roots added/removed.
    Installed {
        /// The installed state.
        state: TrustState,
        /// What changed.
        diff: RootDiff,
    },
    /// The list holds the roots already installed: nothing was written.
    Unchanged(TrustState),
}

impl Refreshed {
    /// The state in place after the update.
    pub fn state(&self) -> &TrustState {
        match self {
            Refreshed::Installed { state, .. } | Refreshed::Unchanged(state) => state,
        }
    }
}

/// Why a trust-list update did not install anything. The directory is
/// left as it was in every case.
#[cfg(feature = "fetch")]
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RefreshError {
    /// The list or its signer certificate could not be fetched.
    #[error("fetching {what}: {source}")]
    Fetch {
        /// `the trust list URL` or `the list signer certificate (x5u) URL`.
        what: String,
        /// Why.
        source: crate::fetch::FetchError,
    },
    /// The list was refused: the rule it broke.
    #[error(transparent)]
    Refused(#[from] crate::trust::TrustError),
    /// The directory could not be written (or is not one this installer
    /// manages).
    #[error(transparent)]
    Install(#[from] InstallError),
}

/// What a trust-list update checks against: the pinned STI-PA roots, the
/// signer certificate (else fetched from the list's `x5u`), the fetch rules
/// and the limits. The whole of `shaken trust update` and of `shaken serve
/// --trust-list-url`.
#[cfg(feature = "fetch")]
#[derive(Debug, Clone, Copy)]
pub struct Updater<'a> {
    /// The pinned STI-PA roots (several during a root rollover).
    pub roots: &'a crate::cert::TrustAnchors,
    /// The list signer's chain, when given; else fetched from `x5u`.
    pub signer: Option<&'a [crate::cert::Certificate]>,
    /// The guarded fetcher's rules (https, SSRF guard, timeouts).
    pub fetch: &'a crate::fetch::FetchOptions,
    /// Size caps.
    pub limits: &'a crate::Limits,
}

#[cfg(feature = "fetch")]
impl Updater<'_> {
    /// Verify a trust list (`bytes`, from `source`) and install it into
    /// `dir`. A refused list leaves `dir` as it was.
    pub async fn install(
        &self,
        dir: &Path,
        bytes: &[u8],
        source: &str,
        now: i64,
    ) -> Result<Refreshed, RefreshError> {
        use crate::trust::{TrustError, UnverifiedList};
        let installed = read_state(dir)?;
        let unverified = UnverifiedList::parse(bytes, self.limits)?;
        let fetched;
        let chain: &[crate::cert::Certificate] = match (self.signer, unverified.x5u()) {
            (Some(c), _) => c,
            (None, Some(x5u)) => {
                let cache = crate::online::chain_cache(self.fetch.clone()).map_err(|source| {
                    RefreshError::Fetch {
                        what: "the list signer certificate (x5u)".into(),
                        source,
                    }
                })?;
                fetched = cache.get(x5u).await.map_err(|source| RefreshError::Fetch {
                    what: format!("the list signer certificate (x5u) {x5u}"),
                    source,
                })?;
                fetched.as_slice()
            }
            (None, None) => return Err(TrustError::NoSigner.into()),
        };
        let list = unverified.verify(
            chain,
            self.roots,
            installed.as_ref().map(|s| s.sequence),
            now,
            self.limits,
        )?;
        match stage(dir, &list, source, now)? {
            None => {
                let state = read_state(dir)?.ok_or_else(|| InstallError::Io {
                    op: "reading the installed state of",
                    path: dir.to_owned(),
                    source: std::io::Error::other("the installed state vanished"),
                })?;
                Ok(Refreshed::Unchanged(state))
            }
            Some(staged) => {
                let diff = staged.diff.clone();
                let state = staged.commit()?;
                Ok(Refreshed::Installed { state, diff })
            }
        }
    }

    /// Fetch the trust list at `url` (the guarded fetcher, the list size
    /// cap) and [`install`](Self::install) it.
    pub async fn refresh(
        &self,
        dir: &Path,
        url: &str,
        now: i64,
    ) -> Result<Refreshed, RefreshError> {
        let what = || format!("the trust list {url}");
        let http =
            crate::fetch::HttpFetcher::new(self.fetch).map_err(|source| RefreshError::Fetch {
                what: what(),
                source,
            })?;
        let got = http
            .get(url, LIST_ACCEPT, self.limits.max_trust_list)
            .await
            .map_err(|source| RefreshError::Fetch {
                what: what(),
                source,
            })?;
        self.install(dir, &got.body, url, now).await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::cert::{parse_chain, TrustAnchors};
    use crate::pki::{LabPki, LabPkiOptions};
    use crate::trust::stand_in::{StiPa, T0};
    use crate::trust::UnverifiedList;
    use crate::Limits;

    fn verified(pa: &StiPa, seq: u64, roots: &[&str]) -> TrustList {
        let l = Limits::default();
        let mut pinned = TrustAnchors::new();
        pinned.add_pem(pa.pki.root.cert_pem.as_bytes()).unwrap();
        let chain = parse_chain(pa.signer_chain_pem().as_bytes(), &l).unwrap();
        UnverifiedList::parse(pa.list(seq, T0 + 86_400, roots).as_bytes(), &l)
            .unwrap()
            .verify(&chain, &pinned, None, T0, &l)
            .unwrap()
    }

    fn files(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn install_swaps_versions_and_keeps_the_previous() {
        let pa = StiPa::new();
        let a = LabPki::generate(&LabPkiOptions::new(T0, T0 + 86_400)).unwrap();
        let b = LabPki::generate(&LabPkiOptions::new(T0, T0 + 86_400)).unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("sti-roots");
        std::fs::create_dir(&dir).unwrap(); // an empty directory is taken over

        let one = verified(&pa, 1, &[&a.root.cert_pem, &b.root.cert_pem]);
        let staged = stage(&dir, &one, "list.jws", T0).unwrap().unwrap();
        assert_eq!(staged.diff.added.len(), 2);
        staged.commit().unwrap();
        let names = files(&dir);
        assert_eq!(names.len(), 3, "{names:?}");
        // Two lab roots with the same subject: one hash, `.0` and `.1`.
        assert!(
            names[0].ends_with(".0") && names[1].ends_with(".1"),
            "{names:?}"
        );
        assert_eq!(names[0][..8], names[1][..8]);
        assert_eq!(names[2], STATE_FILE);
        let anchors =
            crate::load::trust_anchors(&[crate::config::Source::Path(dir.clone())]).unwrap();
        assert_eq!(anchors.len(), 2);
        assert_eq!(read_state(&dir).unwrap().unwrap().sequence, 1);

        // The same list again: nothing to do.
        assert!(stage(&dir, &one, "list.jws", T0 + 60).unwrap().is_none());

        // Root b removed.
        let two = verified(&pa, 2, &[&a.root.cert_pem]);
        let staged = stage(&dir, &two, "list.jws", T0 + 60).unwrap().unwrap();
        assert_eq!(staged.diff.removed.len(), 1);
        assert!(staged.diff.added.is_empty());
        staged.commit().unwrap();
        assert_eq!(files(&dir).len(), 2);
        let prev = read_state(&previous_link(&dir)).unwrap().unwrap();
        assert_eq!(prev.sequence, 1);
        // A third version: the first is removed, two are kept.
        let three = verified(&pa, 3, &[&b.root.cert_pem]);
        stage(&dir, &three, "x", T0 + 120)
            .unwrap()
            .unwrap()
            .commit()
            .unwrap();
        assert_eq!(files(&versions_dir(&dir)).len(), 2);
        assert_eq!(
            read_state(&previous_link(&dir)).unwrap().unwrap().sequence,
            2
        );
    }

    #[test]
    fn a_crash_after_the_write_step_leaves_the_old_version() {
        let pa = StiPa::new();
        let a = LabPki::generate(&LabPkiOptions::new(T0, T0 + 86_400)).unwrap();
        let b = LabPki::generate(&LabPkiOptions::new(T0, T0 + 86_400)).unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("roots");
        stage(&dir, &verified(&pa, 1, &[&a.root.cert_pem]), "x", T0)
            .unwrap()
            .unwrap()
            .commit()
            .unwrap();
        let before: Vec<(String, Vec<u8>)> = files(&dir)
            .into_iter()
            .map(|f| (f.clone(), std::fs::read(dir.join(&f)).unwrap()))
            .collect();
        // Write the new version, then "crash" (never commit).
        let staged = stage(&dir, &verified(&pa, 2, &[&b.root.cert_pem]), "x", T0 + 1)
            .unwrap()
            .unwrap();
        assert!(staged.version_dir().join(STATE_FILE).exists());
        drop(staged);
        let after: Vec<(String, Vec<u8>)> = files(&dir)
            .into_iter()
            .map(|f| (f.clone(), std::fs::read(dir.join(&f)).unwrap()))
            .collect();
        assert_eq!(
            before, after,
            "the directory in use changed before the commit"
        );
        // The next install recovers and commits normally.
        stage(&dir, &verified(&pa, 2, &[&b.root.cert_pem]), "x", T0 + 2)
            .unwrap()
            .unwrap()
            .commit()
            .unwrap();
        assert_eq!(read_state(&dir).unwrap().unwrap().sequence, 2);
    }

    #[test]
    fn a_foreign_directory_is_not_overwritten() {
        let pa = StiPa::new();
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("roots");
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("mine.pem"), "x").unwrap();
        let e = stage(&dir, &verified(&pa, 1, &[&pa.pki.root.cert_pem]), "x", T0).unwrap_err();
        assert!(matches!(e, InstallError::NotManaged { .. }), "{e}");
        assert_eq!(files(&dir), ["mine.pem"]);
    }

    #[test]
    fn the_crl_is_carried_to_the_next_version() {
        let pa = StiPa::new();
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("roots");
        stage(&dir, &verified(&pa, 1, &[&pa.pki.root.cert_pem]), "x", T0)
            .unwrap()
            .unwrap()
            .commit()
            .unwrap();
        let g1 = generation(&dir);
        install_crl(
            &dir,
            pa.pki.crl.as_bytes(),
            pa.pki.crl_signer.cert_pem.as_bytes(),
        )
        .unwrap();
        stage(
            &dir,
            &verified(&pa, 2, &[&pa.pki.root.cert_pem]),
            "x",
            T0 + 1,
        )
        .unwrap()
        .unwrap()
        .commit()
        .unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.join(CRL_FILE)).unwrap(),
            pa.pki.crl
        );
        assert_ne!(generation(&dir), g1);
    }
}
