//! A PgBouncer of the test's own, on loopback in front of the test server.
//!
//! [`PgBouncer::start`] runs the machine's `pgbouncer` (Debian's package, which
//! `scripts/install-pgbouncer` installs; `PGH_PGBOUNCER` names another binary) with a
//! configuration written for it: transaction pooling, trust authentication, every database of
//! the test server reachable under its own name, `pool_size` server connections per
//! database. It is stopped when the value is dropped. PgBouncer refuses to run as root, so as
//! root it runs as the `postgres` user, like the server `scripts/with-postgres` starts.

use std::fs;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running PgBouncer.
pub struct PgBouncer {
    child: Child,
    dir: PathBuf,
    port: u16,
}

/// Where the `user@host:port` part of a `postgres://` URL is: the byte range after `://`
/// up to the path.
fn authority(url: &str) -> (usize, usize) {
    let start = url.find("://").expect("a postgres:// URL") + 3;
    let end = url[start..].find('/').map_or(url.len(), |i| start + i);
    (start, end)
}

/// The server's host and port from a `postgres://user@host:port/db` URL.
fn host_port(url: &str) -> (String, u16) {
    let (start, end) = authority(url);
    let hostport = url[start..end].rsplit('@').next().expect("an authority");
    match hostport.rsplit_once(':') {
        Some((host, port)) => (host.to_owned(), port.parse().expect("a numeric port")),
        None => (hostport.to_owned(), 5432),
    }
}

/// The `pgbouncer` binary: `$PGH_PGBOUNCER`, else `pgbouncer` on PATH, else Debian's place.
fn binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("PGH_PGBOUNCER") {
        return Some(PathBuf::from(path));
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("pgbouncer"))
            .find(|candidate| candidate.is_file())
    });
    on_path.or_else(|| {
        let debian = Path::new("/usr/sbin/pgbouncer");
        debian.is_file().then(|| debian.to_path_buf())
    })
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
        .unwrap_or(false)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
        .port()
}

impl PgBouncer {
    /// Starts a transaction-mode PgBouncer in front of the server of `server_url`, with
    /// `pool_size` server connections per database.
    ///
    /// Returns `None`, after saying why on stderr, when no `pgbouncer` is installed, so that
    /// a machine without it still runs the rest of the suite; with `PGH_REQUIRE_PGBOUNCER=1`
    /// (CI, `scripts/test`) that panics instead.
    pub fn start(server_url: &str, pool_size: u32) -> Option<PgBouncer> {
        let Some(bin) = binary() else {
            let why = "no pgbouncer installed (scripts/install-pgbouncer installs it)";
            if std::env::var("PGH_REQUIRE_PGBOUNCER").as_deref() == Ok("1") {
                panic!("PGH_REQUIRE_PGBOUNCER=1 but {why}");
            }
            // Straight to stderr: libtest captures eprintln! of a passing test, and a skip
            // nobody sees is a pass.
            let _ = writeln!(std::io::stderr(), "pgbouncer test skipped: {why}");
            return None;
        };
        let (host, server_port) = host_port(server_url);
        let port = free_port();
        let dir = std::env::temp_dir().join(format!(
            "pghistory-pgbouncer-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        fs::create_dir(&dir).expect("create the pgbouncer directory");
        // Readable by the `postgres` user when we are root; nothing in it is secret.
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).expect("chmod");
        let userlist = dir.join("userlist.txt");
        fs::write(&userlist, "\"postgres\" \"\"\n").expect("write userlist.txt");
        let ini = dir.join("pgbouncer.ini");
        let config = format!(
            "[databases]\n\
             * = host={host} port={server_port}\n\
             [pgbouncer]\n\
             listen_addr = 127.0.0.1\n\
             listen_port = {port}\n\
             unix_socket_dir =\n\
             auth_type = trust\n\
             auth_file = {userlist}\n\
             pool_mode = transaction\n\
             default_pool_size = {pool_size}\n\
             min_pool_size = 0\n\
             reserve_pool_size = 0\n\
             max_client_conn = 500\n\
             server_lifetime = 3600\n\
             server_idle_timeout = 600\n\
             log_connections = 0\n\
             log_disconnections = 0\n",
            userlist = userlist.display(),
        );
        fs::write(&ini, config).expect("write pgbouncer.ini");
        let log = fs::File::create(dir.join("pgbouncer.log")).expect("create the log");
        let mut command = if running_as_root() {
            // setpriv execs pgbouncer itself (no parent left in between), so killing the
            // child stops PgBouncer.
            let mut c = Command::new("setpriv");
            c.args([
                "--reuid=postgres",
                "--regid=postgres",
                "--clear-groups",
                "--",
            ])
            .arg(&bin);
            c
        } else {
            Command::new(&bin)
        };
        let child = command
            .arg(&ini)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone the log handle"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", bin.display()));
        let mut bouncer = PgBouncer { child, dir, port };
        bouncer.wait_until_listening();
        Some(bouncer)
    }

    fn wait_until_listening(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().expect("poll pgbouncer") {
                panic!("pgbouncer exited ({status}):\n{}", self.log());
            }
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            if Instant::now() > deadline {
                panic!("pgbouncer did not listen within 20 s:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// What PgBouncer has logged so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.join("pgbouncer.log")).unwrap_or_default()
    }

    /// `database_url` (a URL of the test server) with PgBouncer in between: same user and
    /// database, PgBouncer's host and port.
    pub fn url(&self, database_url: &str) -> String {
        let (start, end) = authority(database_url);
        let user = database_url[start..end]
            .rsplit_once('@')
            .map_or("postgres", |(user, _)| user);
        format!(
            "{}{user}@127.0.0.1:{}{}",
            &database_url[..start],
            self.port,
            &database_url[end..]
        )
    }
}

impl Drop for PgBouncer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            // What PgBouncer saw is the first thing to read when a test through it fails.
            let _ = writeln!(
                std::io::stderr(),
                "pgbouncer log ({}):\n{}",
                self.dir.display(),
                self.log()
            );
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_rewritten_to_the_bouncer_keeping_user_database_and_query() {
        assert_eq!(
            host_port("postgres://postgres@127.0.0.1:5433/db"),
            ("127.0.0.1".to_owned(), 5433)
        );
        assert_eq!(
            host_port("postgres://localhost/db"),
            ("localhost".to_owned(), 5432)
        );
        let (start, end) = authority("postgres://app@127.0.0.1:5433/db?sslmode=disable");
        assert_eq!(
            &"postgres://app@127.0.0.1:5433/db?sslmode=disable"[start..end],
            "app@127.0.0.1:5433"
        );
    }
}
