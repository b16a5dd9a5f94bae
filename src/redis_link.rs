//! One Redis server, reached with bounded waits and reconnecting by itself.
//!
//! [`RedisLink`] is what the Redis shopper store and the catalog feed share: it parses
//! the `redis://HOST:PORT[/DB]` address once, keeps a few idle connections, and runs
//! one unit of work on a connection ([`RedisLink::run`]). Every connection has a
//! connect timeout and read/write timeouts, so no request waits on Redis for longer
//! than [`IO_TIMEOUT`]. A connection that fails is dropped, never reused; the next
//! call dials again, which is how a replica reconnects after Redis comes back. After a
//! failed dial the link fails fast for [`RETRY_AFTER`], so a search does not pay a
//! connect timeout each time while Redis is down.
//!
//! Failures that mean "Redis is not there right now" (refused, reset, timed out,
//! still loading its data after a restart) become [`Error::Unavailable`], which the
//! HTTP edge answers with `503`; anything else is [`Error::Internal`].

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use redis::{Client, Connection, RedisError, RedisResult};

use crate::error::{Error, Result};

/// Longest wait for a TCP connection to Redis.
pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
/// Longest wait for one reply (or one write) once connected.
pub const IO_TIMEOUT: Duration = Duration::from_secs(2);
/// After a failed dial, calls fail at once for this long before dialing again.
pub const RETRY_AFTER: Duration = Duration::from_secs(1);
/// Idle connections kept for reuse.
const MAX_IDLE: usize = 16;
/// A connection idle longer than this is checked with `PING` before reuse (Redis may
/// have restarted meanwhile, leaving it dead).
const CHECK_IDLE_AFTER: Duration = Duration::from_secs(1);

/// A Redis server shared by the replicas of one store.
pub struct RedisLink {
    client: Client,
    /// The address as given, without any password, for messages.
    shown: String,
    idle: Mutex<Vec<(Connection, Instant)>>,
    /// Set after a failed dial: until then, calls fail without dialing.
    down_until: Mutex<Option<Instant>>,
}

impl RedisLink {
    /// Parses `url` (`redis://HOST:PORT[/DB]`); does not connect yet.
    pub fn open(url: &str) -> Result<RedisLink> {
        let client = Client::open(url).map_err(|e| {
            Error::bad_request(
                "bad_store_url",
                format!(
                    "--shopper-store {url:?} is not a Redis address ({e}); use redis://HOST:PORT"
                ),
            )
        })?;
        let info = client.get_connection_info();
        let shown = format!("redis://{}", info.addr());
        Ok(RedisLink {
            client,
            shown,
            idle: Mutex::new(Vec::new()),
            down_until: Mutex::new(None),
        })
    }

    /// The address, for messages (never includes a password).
    pub fn address(&self) -> &str {
        &self.shown
    }

    /// A new connection of its own (for blocking reads), with `read_timeout`. It dials
    /// even while calls fail fast, so a background reader notices Redis returning (and
    /// ends the fail-fast window for everyone) as soon as it tries.
    pub fn dedicated(&self, read_timeout: Duration) -> Result<Connection> {
        let connection = self.dial_now()?;
        connection
            .set_read_timeout(Some(read_timeout))
            .map_err(|e| self.failure("setting a timeout", e))?;
        Ok(connection)
    }

    /// Runs `work` on a pooled connection; `what` names it in errors.
    pub fn run<T>(
        &self,
        what: &str,
        work: impl FnOnce(&mut Connection) -> RedisResult<T>,
    ) -> Result<T> {
        let mut connection = self.checkout()?;
        match work(&mut connection) {
            Ok(value) => {
                self.checkin(connection);
                Ok(value)
            }
            // The connection may be mid-reply or gone: never reuse it; and when Redis
            // is gone, the idle ones are dead too.
            Err(e) => {
                if is_unreachable(&e)
                    && let Ok(mut idle) = self.idle.lock()
                {
                    idle.clear();
                }
                Err(self.failure(what, e))
            }
        }
    }

    /// The server's settings named in `names` (`CONFIG GET`).
    pub fn config_get(&self, names: &[&str]) -> Result<HashMap<String, String>> {
        self.run("reading the Redis configuration", |c| {
            let mut found = HashMap::new();
            for name in names {
                let pairs: HashMap<String, String> =
                    redis::cmd("CONFIG").arg("GET").arg(*name).query(c)?;
                found.extend(pairs);
            }
            Ok(found)
        })
    }

    fn checkout(&self) -> Result<Connection> {
        while let Some((mut connection, since)) =
            self.idle.lock().ok().and_then(|mut idle| idle.pop())
        {
            if since.elapsed() < CHECK_IDLE_AFTER
                || redis::cmd("PING").query::<String>(&mut connection).is_ok()
            {
                return Ok(connection);
            }
        }
        self.dial()
    }

    fn checkin(&self, connection: Connection) {
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < MAX_IDLE
        {
            idle.push((connection, Instant::now()));
        }
    }

    fn dial(&self) -> Result<Connection> {
        if let Ok(down) = self.down_until.lock()
            && down.is_some_and(|until| Instant::now() < until)
        {
            return Err(Error::Unavailable(format!(
                "the shopper store at {} is unreachable (it refused a connection moments \
                 ago); retry shortly",
                self.shown
            )));
        }
        self.dial_now()
    }

    fn dial_now(&self) -> Result<Connection> {
        let dialed = self
            .client
            .get_connection_with_timeout(CONNECT_TIMEOUT)
            .and_then(|c| {
                c.set_read_timeout(Some(IO_TIMEOUT))?;
                c.set_write_timeout(Some(IO_TIMEOUT))?;
                Ok(c)
            });
        let mut down = self.down_until.lock().ok();
        match dialed {
            Ok(connection) => {
                if let Some(down) = down.as_deref_mut() {
                    *down = None;
                }
                Ok(connection)
            }
            Err(e) => {
                if let Some(down) = down.as_deref_mut() {
                    *down = Some(Instant::now() + RETRY_AFTER);
                }
                Err(self.failure("connecting", e))
            }
        }
    }

    /// Turns a Redis error into ours: unreachable → `Unavailable`, else `Internal`.
    fn failure(&self, what: &str, e: RedisError) -> Error {
        if is_unreachable(&e) {
            tracing::warn!("redis {}: {what}: {e}", self.shown);
            Error::Unavailable(format!(
                "the shopper store at {} is unreachable ({what}: {e}); retry shortly",
                self.shown
            ))
        } else {
            Error::Internal(format!("redis {}: {what}: {e}", self.shown))
        }
    }
}

/// Whether `e` means Redis is not there (or not ready) rather than a wrong command.
pub fn is_unreachable(e: &RedisError) -> bool {
    use redis::{ErrorKind, ServerErrorKind};
    e.is_io_error()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_timeout()
        || matches!(
            e.kind(),
            ErrorKind::Server(
                ServerErrorKind::BusyLoading
                    | ServerErrorKind::TryAgain
                    | ServerErrorKind::MasterDown
            )
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_addresses_are_refused_with_a_hint() {
        let Err(e) = RedisLink::open("http://nope") else {
            panic!("accepted a non-Redis address");
        };
        assert!(e.to_string().contains("redis://HOST:PORT"), "{e}");
    }

    #[test]
    fn an_absent_server_is_unavailable_and_then_fails_fast() {
        // Port 1 on loopback: nothing listens there, the dial is refused at once.
        let link = RedisLink::open("redis://127.0.0.1:1").unwrap();
        let first = link.run("ping", |c| redis::cmd("PING").query::<String>(c));
        assert!(matches!(first, Err(Error::Unavailable(_))), "{first:?}");
        let started = Instant::now();
        let second = link.run("ping", |c| redis::cmd("PING").query::<String>(c));
        assert!(matches!(second, Err(Error::Unavailable(_))));
        assert!(started.elapsed() < RETRY_AFTER);
        assert_eq!(link.address(), "redis://127.0.0.1:1");
    }
}
