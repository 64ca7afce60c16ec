//! The shell processes a worker starts die with it, even on `kill -9`.
//!
//! One long-lived watchdog per worker process: a POSIX `sh` loop reading lines from a pipe
//! whose write end only this process holds (Rust opens pipes close-on-exec, so task
//! processes do not inherit it). The worker writes `+<pgid>` when a task's process group
//! starts and `-<pgid>` when it ends (one small write each: no process is spawned per
//! task). When this process dies, however it dies, the pipe reaches end-of-file and the
//! watchdog sends SIGKILL to every group still registered, then exits. Linux's
//! `PR_SET_PDEATHSIG` would reach only direct children; a process group holds the
//! grandchildren too.
//!
//! The watchdog sits in its own process group and ignores SIGINT and SIGHUP, so a Ctrl-C
//! on the terminal reaches the worker (which then exits and closes the pipe), not it.
//! Without `/bin/sh` there is no watchdog: tasks still run, and are still killed by a
//! timeout or a kill, but not by the worker's own death.

use std::io::Write;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};

/// The watchdog's script: `+pgid` registers a group, `-pgid` forgets it; at end of input,
/// every registered group is killed.
const SCRIPT: &str = r#"trap '' INT HUP
groups=''
while read -r line; do
  case "$line" in
    +*) groups="$groups ${line#+}" ;;
    -*) pg=${line#-}; rest=''
        for g in $groups; do [ "$g" = "$pg" ] || rest="$rest $g"; done
        groups=$rest ;;
  esac
done
for g in $groups; do kill -s KILL -- "-$g" 2>/dev/null; done
"#;

/// One watchdog process and the write end of its pipe.
#[derive(Debug)]
pub struct Watchdog {
    child: Child,
    pipe: Mutex<Option<ChildStdin>>,
}

impl Watchdog {
    /// Starts a watchdog process.
    pub fn spawn() -> std::io::Result<Self> {
        use std::os::unix::process::CommandExt;
        let mut child = Command::new("/bin/sh")
            .args(["-c", SCRIPT])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()?;
        let pipe = child.stdin.take();
        Ok(Self {
            child,
            pipe: Mutex::new(pipe),
        })
    }

    /// The watchdog's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Registers process group `pgid`: it is killed if this process dies.
    pub fn register(&self, pgid: u32) {
        self.send('+', pgid);
    }

    /// Forgets process group `pgid` (it ended, or was killed).
    pub fn unregister(&self, pgid: u32) {
        self.send('-', pgid);
    }

    /// Closes the pipe, as this process's death would: the watchdog kills every group
    /// registered and exits.
    pub fn close(&self) {
        if let Ok(mut pipe) = self.pipe.lock() {
            pipe.take();
        }
    }

    fn send(&self, op: char, pgid: u32) {
        if pgid <= 1 {
            return;
        }
        let Ok(mut pipe) = self.pipe.lock() else {
            return;
        };
        let failed = match pipe.as_mut() {
            // One write of a few bytes: atomic on a pipe, never interleaved.
            Some(p) => p.write_all(format!("{op}{pgid}\n").as_bytes()).is_err(),
            None => false,
        };
        if failed {
            tracing::warn!("the process watchdog is gone: task processes may outlive this worker");
            pipe.take();
        }
    }
}

/// The watchdog of this process, started on first use (`None` when it cannot start).
pub fn global() -> Option<&'static Watchdog> {
    static WATCHDOG: OnceLock<Option<Watchdog>> = OnceLock::new();
    WATCHDOG
        .get_or_init(|| match Watchdog::spawn() {
            Ok(w) => Some(w),
            Err(e) => {
                tracing::warn!(
                    "cannot start the process watchdog (/bin/sh): task processes may outlive \
                     this worker: {e}"
                );
                None
            }
        })
        .as_ref()
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::CommandExt;
    use std::time::{Duration, Instant};

    use super::*;

    fn sleeper() -> Child {
        Command::new("sleep")
            .arg("600")
            .process_group(0)
            .spawn()
            .expect("sleep starts")
    }

    /// Waits (10 s at most) until `child` has exited.
    fn exited(child: &mut Child) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if child.try_wait().expect("wait").is_some() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }

    #[test]
    fn closing_the_pipe_kills_the_registered_groups_only() {
        let mut watchdog = Watchdog::spawn().expect("watchdog");
        let mut registered = sleeper();
        let mut forgotten = sleeper();
        watchdog.register(registered.id());
        watchdog.register(forgotten.id());
        watchdog.unregister(forgotten.id());
        watchdog.close();
        assert!(exited(&mut registered), "a registered group is killed");
        assert!(exited(&mut watchdog.child), "the watchdog exits");
        assert!(
            forgotten.try_wait().expect("wait").is_none(),
            "a forgotten group is left alone"
        );
        forgotten.kill().expect("kill");
        forgotten.wait().expect("wait");
    }

    #[test]
    fn the_global_watchdog_starts_once() {
        let a = global().expect("watchdog").pid();
        let b = global().expect("watchdog").pid();
        assert_eq!(a, b);
    }
}
