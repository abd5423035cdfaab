//! Where a run's results go, so that runs never overwrite each other silently.
//!
//! By default each run gets a folder of its own, `<output.dir>/<name>/<run-id>/`: the run-id is
//! the UTC time its results were written (`20261206T213000Z`, so folders sort by time), with
//! `-2`, `-3`, ... when several finish within one second. Once every file is written,
//! `<output.dir>/<name>/latest` is pointed at it (a symlink replaced in one rename, so a reader
//! never sees it missing or half-made). `--out DIR` writes exactly there, and refuses a folder
//! that already holds a run's results unless `--force`.

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};

/// The files a run writes (`report::write_results`, `drift.csv`): their presence marks a folder
/// as holding a run, and `--force` removes them first so no file of the old run survives beside
/// the new one's (a model run's `attributions.csv` beside a rules run's results).
const RUN_FILES: &[&str] = &[
    "summary.json",
    "trades.csv",
    "trades.parquet",
    "fills.csv",
    "fills.parquet",
    "orders.csv",
    "orders.parquet",
    "equity.csv",
    "equity.parquet",
    "attributions.csv",
    "attributions.parquet",
    "positions.parquet",
    "returns.parquet",
    "drift.csv",
    "report.json",
    "report.html",
];

/// The name of the link to the newest run of a config.
pub const LATEST: &str = "latest";

/// `--out` and `--force`, for commands that write a run's results.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct OutArgs {
    /// Write the results into exactly this folder, instead of a new
    /// `<output.dir>/<name>/<run-id>/` (with `<output.dir>/<name>/latest` pointing at the newest).
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
    /// With --out: replace the results the folder already holds (refused without it).
    #[arg(long, requires = "out")]
    pub(crate) force: bool,
}

impl OutArgs {
    /// Returns `--out DIR`, allowed to replace the results there.
    pub(crate) fn replacing(&self) -> Self {
        Self {
            out: self.out.clone(),
            force: true,
        }
    }

    /// Returns where a session writes, checked: a session resuming its journal (`resumed`)
    /// brings its own results up to date in the same `--out` folder; a new one is refused there
    /// like any run.
    ///
    /// # Errors
    /// As [`OutArgs::check`].
    pub(crate) fn for_session(&self, resumed: bool) -> Result<Self> {
        let out = if resumed {
            self.replacing()
        } else {
            self.clone()
        };
        out.check()?;
        Ok(out)
    }

    /// Checks before anything runs that `--out` may be written, so a refusal costs no run.
    ///
    /// # Errors
    /// When `--out` holds a run's results and `--force` is not given.
    pub(crate) fn check(&self) -> Result<()> {
        let Some(dir) = &self.out else {
            return Ok(());
        };
        if self.force {
            return Ok(());
        }
        if let Some(file) = RUN_FILES.iter().find(|f| dir.join(f).exists()) {
            bail!(
                "--out {}: the folder already holds a run's results ({file}); pass --force to \
                 replace them, or leave out --out to write a new <output.dir>/<name>/<run-id>/",
                dir.display()
            );
        }
        Ok(())
    }

    /// Returns the folder to write the results into, created: `--out` (checked again, its old
    /// results removed with `--force`), or a new `<base>/<run-id>/`.
    ///
    /// # Errors
    /// As [`OutArgs::check`], or a folder that cannot be created or cleared.
    pub(crate) fn create(&self, base: &Path) -> Result<RunDir> {
        let run_dir = self.open(base)?;
        run_dir.replace_old()?;
        Ok(run_dir)
    }

    /// Returns the folder as [`OutArgs::create`] does, but leaves an `--out` folder's old
    /// results in place until [`RunDir::replace_old`]: a run that writes while it goes on
    /// removes them only once it has succeeded, so a failed run never costs the last results.
    ///
    /// # Errors
    /// As [`OutArgs::check`], or a folder that cannot be created.
    pub(crate) fn open(&self, base: &Path) -> Result<RunDir> {
        let Some(dir) = &self.out else {
            return new_run(base);
        };
        self.check()?;
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        Ok(RunDir {
            dir: dir.clone(),
            // The folder's name is the user's; the id says when the run was written, as a new
            // folder's name would.
            id: run_id(),
            base: None,
        })
    }
}

/// Returns the run `dir` names: its newest run (`dir/latest`) when `dir` is a config's folder of
/// runs, so `quant report results/<name>` reads the latest run (not the files an older version
/// wrote straight into that folder), else `dir` itself.
pub(crate) fn run_in(dir: &Path) -> PathBuf {
    let latest = dir.join(LATEST);
    if latest.exists() {
        latest
    } else {
        dir.to_path_buf()
    }
}

/// The folder one run writes into.
#[derive(Debug, Clone)]
pub(crate) struct RunDir {
    /// The folder.
    pub(crate) dir: PathBuf,
    /// The run's id, which its Parquet files carry: the folder's name (`20261206T213000Z`,
    /// `-2`, ...), or with `--out` the time the results were written.
    pub(crate) id: String,
    /// The config's folder whose `latest` link points at the newest run (none with `--out`).
    base: Option<PathBuf>,
}

impl RunDir {
    /// Removes the results an earlier run left in an `--out` folder (a new run's folder has
    /// none), and the `*.partial` files of a failed one: the files this run writes next replace
    /// them.
    ///
    /// # Errors
    /// A file that cannot be removed.
    pub(crate) fn replace_old(&self) -> Result<()> {
        if self.base.is_some() {
            return Ok(());
        }
        let partials = RUN_FILES.iter().map(|file| format!("{file}.partial"));
        for file in RUN_FILES.iter().map(|f| f.to_string()).chain(partials) {
            let path = self.dir.join(file);
            match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(e).with_context(|| format!("cannot replace {}", path.display()));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Points `<base>/latest` at this run, once its files are all written.
    ///
    /// # Errors
    /// When the link cannot be made.
    pub(crate) fn finish(&self) -> Result<()> {
        let (Some(base), Some(name)) = (&self.base, self.dir.file_name()) else {
            return Ok(());
        };
        let latest = base.join(LATEST);
        // Made beside the link under a name of its own, then renamed over it: rename replaces
        // atomically, and two runs finishing together each use their own temporary name.
        let temporary = base.join(format!(".{LATEST}-{}", std::process::id()));
        let _ = std::fs::remove_file(&temporary);
        link(Path::new(name), &temporary)
            .and_then(|()| std::fs::rename(&temporary, &latest))
            .with_context(|| format!("cannot point {} at {}", latest.display(), name.display()))
    }
}

/// Creates `<base>/<run-id>/`, a name no other run holds (`create_dir` fails on an existing
/// folder, so two runs finishing in the same second never share one).
fn new_run(base: &Path) -> Result<RunDir> {
    std::fs::create_dir_all(base).with_context(|| format!("cannot create {}", base.display()))?;
    let stamp = run_id();
    for n in 1.. {
        let name = if n == 1 {
            stamp.clone()
        } else {
            format!("{stamp}-{n}")
        };
        let dir = base.join(&name);
        match std::fs::create_dir(&dir) {
            Ok(()) => {
                return Ok(RunDir {
                    dir,
                    id: name,
                    base: Some(base.to_path_buf()),
                });
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e).with_context(|| format!("cannot create {}", dir.display())),
        }
    }
    unreachable!("the loop returns")
}

/// Returns the run-id of a run finishing now: the UTC time to the second, sortable as text.
fn run_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let ts = market_data::Timestamp(i64::try_from(nanos).unwrap_or(i64::MAX));
    ts.to_datetime().format("%Y%m%dT%H%M%SZ").to_string()
}

#[cfg(unix)]
fn link(target: &Path, at: &Path) -> std::io::Result<()> {
    std::os::unix::fs::symlink(target, at)
}

/// Without symlinks, `latest` is a file holding the run-id.
#[cfg(not(unix))]
fn link(target: &Path, at: &Path) -> std::io::Result<()> {
    std::fs::write(at, target.to_string_lossy().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("quant-run-dir-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn runs_get_folders_of_their_own_and_latest_follows() {
        let base = scratch("auto");
        let auto = OutArgs::default();
        let first = auto.create(&base).unwrap();
        first.finish().unwrap();
        let second = auto.create(&base).unwrap();
        assert_ne!(first.dir, second.dir);
        assert!(second.dir.file_name() > first.dir.file_name());
        assert_eq!(Some(second.id.as_ref()), second.dir.file_name());
        second.finish().unwrap();
        let latest = std::fs::read_link(base.join(LATEST)).unwrap();
        assert_eq!(Some(latest.as_os_str()), second.dir.file_name());
        let _ = std::fs::remove_dir_all(&base);
    }

    #[test]
    fn out_refuses_a_folder_with_results_unless_forced() {
        let dir = scratch("out");
        let out = OutArgs {
            out: Some(dir.clone()),
            force: false,
        };
        out.create(Path::new("unused")).unwrap();
        std::fs::write(dir.join("summary.json"), "{}").unwrap();
        std::fs::write(dir.join("notes.txt"), "mine").unwrap();
        let err = out.check().unwrap_err().to_string();
        assert!(err.contains("--force"), "{err}");
        assert!(out.create(Path::new("unused")).is_err());
        out.replacing().create(Path::new("unused")).unwrap();
        assert!(!dir.join("summary.json").exists());
        assert!(dir.join("notes.txt").exists(), "only a run's files go");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
