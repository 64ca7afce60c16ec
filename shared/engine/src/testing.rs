//! Test harnesses (feature `testing`): a throw-away PostgreSQL server, [`PgServer`].
//!
//! [`PgServer::start`] creates a cluster with `initdb` in a new temporary folder, starts
//! `postgres` on a free loopback port (its unix socket in that folder too) with
//! password authentication (SCRAM) for the user `kite` and a random password, and waits
//! until it accepts connections. Dropping it stops the server and removes the folder; a
//! small shell watchdog does the same if the test process dies first.
//! [`PgServer::start_tls`] also turns TLS on, with a certificate for `localhost` (not for
//! `127.0.0.1`) signed by a test CA ([`PgServer::ca_cert`]), made with the `openssl`
//! command (installed with the `postgresql` package).
//!
//! The server binaries are Debian's (`/usr/lib/postgresql/<version>/bin`, the newest
//! version found) or those of the folder in `KITE_PG_BIN`. Missing binaries fail the test
//! with the command that installs them (`apt-get install -y postgresql`): tests never skip.
//! PostgreSQL refuses to run as root: as root, the server runs as the `postgres` system
//! user (created by the Debian package) through `setpriv`, in a folder owned by it.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long the server may take to accept connections.
const START_DEADLINE: Duration = Duration::from_secs(60);

/// A running PostgreSQL server for one test; stopped and removed when dropped.
#[derive(Debug)]
pub struct PgServer {
    /// `jdbc:postgresql://127.0.0.1:PORT/postgres`.
    pub url: String,
    /// The superuser (`kite`).
    pub user: String,
    /// Its password.
    pub password: String,
    /// The TCP port on 127.0.0.1.
    pub port: u16,
    /// With TLS: the PEM certificate of the CA that signed the server's.
    pub ca_cert: Option<String>,
    dir: PathBuf,
    bin: PathBuf,
    run_as: Option<String>,
    child: Option<Child>,
}

impl PgServer {
    /// Starts a server; panics with the reason (and the fix) when it cannot.
    pub fn start() -> PgServer {
        match Self::try_start(false) {
            Ok(s) => s,
            Err(e) => panic!("cannot start a PostgreSQL server for the test: {e}"),
        }
    }

    /// Starts a server that also accepts TLS (see [`PgServer::ca_cert`]); panics when it
    /// cannot.
    pub fn start_tls() -> PgServer {
        match Self::try_start(true) {
            Ok(s) => s,
            Err(e) => panic!("cannot start a PostgreSQL server with TLS for the test: {e}"),
        }
    }

    /// Starts a server (with TLS when `tls`), or says why it could not.
    pub fn try_start(tls: bool) -> Result<PgServer, String> {
        let bin = find_bin()?;
        let root = command_output("id", &["-u"])?.trim() == "0";
        let run_as = root.then(|| "postgres".to_owned());
        let dir = std::env::temp_dir().join(format!(
            "kite-pg-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        ));
        std::fs::create_dir_all(dir.join("sock"))
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let password = uuid::Uuid::new_v4().simple().to_string();
        let mut server = PgServer {
            url: String::new(),
            user: "kite".into(),
            password,
            port: 0,
            ca_cert: None,
            dir,
            bin,
            run_as,
            child: None,
        };
        server.init()?;
        if tls {
            server.make_certificates()?;
        }
        // A port found free may be taken before the server binds it: try a few.
        let mut last = String::new();
        for _ in 0..3 {
            let port = free_port()?;
            match server.run(port) {
                Ok(()) => {
                    server.port = port;
                    server.url = format!("jdbc:postgresql://127.0.0.1:{port}/postgres");
                    return Ok(server);
                }
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// The server's log so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }

    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        match &self.run_as {
            Some(user) => {
                let mut c = Command::new("setpriv");
                c.args(["--reuid", user, "--regid", user, "--init-groups", "--"])
                    .arg(path)
                    // The server must not inherit root's home or a cwd it cannot read.
                    .env("HOME", &self.dir)
                    .current_dir(&self.dir);
                c
            }
            None => {
                let mut c = Command::new(path);
                c.current_dir(&self.dir);
                c
            }
        }
    }

    fn init(&self) -> Result<(), String> {
        let pwfile = self.dir.join("pwfile");
        std::fs::write(&pwfile, format!("{}\n", self.password))
            .map_err(|e| format!("cannot write {}: {e}", pwfile.display()))?;
        if let Some(user) = &self.run_as {
            let (uid, gid) = user_ids(user)?;
            for p in [self.dir.as_path(), &self.dir.join("sock"), &pwfile] {
                std::os::unix::fs::chown(p, Some(uid), Some(gid))
                    .map_err(|e| format!("cannot give {} to {user}: {e}", p.display()))?;
            }
        }
        let out = self
            .command("initdb")
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-U", &self.user, "-A", "scram-sha-256", "-E", "UTF8"])
            .args(["--locale=C", "--no-sync", "--no-instructions"])
            .arg(format!("--pwfile={}", pwfile.display()))
            .output()
            .map_err(|e| format!("cannot run initdb: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "initdb failed ({}): {}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(())
    }

    /// The test CA and the server's certificate (for `localhost` only), in `tls/`.
    fn make_certificates(&mut self) -> Result<(), String> {
        let tls = self.dir.join("tls");
        std::fs::create_dir_all(&tls)
            .map_err(|e| format!("cannot create {}: {e}", tls.display()))?;
        std::fs::write(
            tls.join("server.ext"),
            "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n\
             keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
        )
        .map_err(|e| e.to_string())?;
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        let steps: [Vec<&str>; 3] = [
            [
                &["req", "-x509", "-new"][..],
                &ec,
                &["-keyout", "ca.key", "-out", "ca.crt"],
            ]
            .concat()
            .into_iter()
            .chain([
                "-subj",
                "/CN=kite-test-ca",
                "-days",
                "2",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ])
            .collect(),
            [
                &["req", "-new"][..],
                &ec,
                &["-keyout", "server.key", "-out", "server.csr"],
            ]
            .concat()
            .into_iter()
            .chain(["-subj", "/CN=localhost"])
            .collect(),
            vec![
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                "server.crt",
                "-days",
                "2",
                "-extfile",
                "server.ext",
            ],
        ];
        for args in steps {
            let out = Command::new("openssl")
                .args(&args)
                .current_dir(&tls)
                .output()
                .map_err(|e| {
                    format!(
                        "cannot run openssl ({e}): install it with `apt-get install -y openssl`"
                    )
                })?;
            if !out.status.success() {
                return Err(format!(
                    "`openssl {}` failed: {}",
                    args.join(" "),
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
        }
        let key = tls.join("server.key");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| e.to_string())?;
        if let Some(user) = &self.run_as {
            let (uid, gid) = user_ids(user)?;
            for p in [tls.as_path(), &key, &tls.join("server.crt")] {
                std::os::unix::fs::chown(p, Some(uid), Some(gid))
                    .map_err(|e| format!("cannot give {} to {user}: {e}", p.display()))?;
            }
        }
        self.ca_cert =
            Some(std::fs::read_to_string(tls.join("ca.crt")).map_err(|e| e.to_string())?);
        Ok(())
    }

    fn run(&mut self, port: u16) -> Result<(), String> {
        let log = std::fs::File::create(self.dir.join("server.log"))
            .map_err(|e| format!("cannot create the server log: {e}"))?;
        let log2 = log.try_clone().map_err(|e| e.to_string())?;
        let mut child = self
            .command("postgres")
            .arg("-D")
            .arg(self.dir.join("data"))
            .arg("-k")
            .arg(self.dir.join("sock"))
            .args(["-p", &port.to_string()])
            .args(["-c", "listen_addresses=127.0.0.1"])
            .args(["-c", "fsync=off", "-c", "full_page_writes=off"])
            .args(["-c", "synchronous_commit=off", "-c", "max_connections=40"])
            .args(["-c", "shared_buffers=16MB", "-c", "logging_collector=off"])
            .args(if self.ca_cert.is_some() {
                vec![
                    "-c".to_owned(),
                    "ssl=on".to_owned(),
                    "-c".to_owned(),
                    format!(
                        "ssl_cert_file={}",
                        self.dir.join("tls/server.crt").display()
                    ),
                    "-c".to_owned(),
                    format!("ssl_key_file={}", self.dir.join("tls/server.key").display()),
                ]
            } else {
                Vec::new()
            })
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .spawn()
            .map_err(|e| format!("cannot start postgres: {e}"))?;
        self.watchdog(child.id());
        let deadline = Instant::now() + START_DEADLINE;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!(
                    "postgres exited ({status}) before accepting connections:\n{}",
                    self.log()
                ));
            }
            let ready = Command::new(self.bin.join("pg_isready"))
                .args(["-q", "-h", "127.0.0.1", "-p", &port.to_string()])
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if ready {
                self.child = Some(child);
                return Ok(());
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "postgres did not accept connections within {}s:\n{}",
                    START_DEADLINE.as_secs(),
                    self.log()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the server and removes the folder if this process dies without dropping it.
    fn watchdog(&self, server_pid: u32) {
        let script = format!(
            "while kill -0 {me} 2>/dev/null && [ -d '{dir}' ]; do sleep 1; done; \
             if [ -d '{dir}' ]; then kill -INT {server_pid} 2>/dev/null; sleep 2; \
             kill -KILL {server_pid} 2>/dev/null; rm -rf '{dir}'; fi",
            me = std::process::id(),
            dir = self.dir.display(),
        );
        let _ = Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // Fast shutdown (SIGINT), then SIGKILL if it lingers.
            let _ = Command::new("kill")
                .args(["-INT", &child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                match child.try_wait() {
                    Ok(Some(_)) | Err(_) => break,
                    Ok(None) if Instant::now() > deadline => {
                        let _ = child.kill();
                        let _ = child.wait();
                        break;
                    }
                    Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn find_bin() -> Result<PathBuf, String> {
    if let Ok(dir) = std::env::var("KITE_PG_BIN") {
        let p = PathBuf::from(dir);
        if p.join("initdb").is_file() {
            return Ok(p);
        }
        return Err(format!(
            "KITE_PG_BIN={} has no initdb: point it at PostgreSQL's bin folder",
            p.display()
        ));
    }
    let base = Path::new("/usr/lib/postgresql");
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir(base)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((v, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, p)| p).ok_or_else(|| {
        "the PostgreSQL server binaries are not installed (no /usr/lib/postgresql/*/bin/initdb): \
         install them with `apt-get install -y postgresql` (or set KITE_PG_BIN to their folder)"
            .to_owned()
    })
}

/// The uid and gid of `user`.
fn user_ids(user: &str) -> Result<(u32, u32), String> {
    let uid = command_output("id", &["-u", user])?;
    let gid = command_output("id", &["-g", user])?;
    Ok((
        uid.trim().parse::<u32>().map_err(|e| e.to_string())?,
        gid.trim().parse::<u32>().map_err(|e| e.to_string())?,
    ))
}

fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

fn command_output(program: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "`{program} {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
