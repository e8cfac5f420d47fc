//! The cluster backends of the machine, shared by tests that run at once:
//! PostgreSQL (127.0.0.1:5432, trust, database `test`) and Redis
//! (127.0.0.1:6379), started by the test command when they are not running.
//! Each test has a schema and a key prefix of its own, so none sees
//! another's rows or keys, and nothing is left behind.

use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::Connection;

/// The shared PostgreSQL; `HAVRE_TEST_POSTGRES` names another.
pub fn postgres_server() -> String {
    std::env::var("HAVRE_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// The shared Redis; `HAVRE_TEST_REDIS` names another.
pub fn redis_url() -> String {
    std::env::var("HAVRE_TEST_REDIS").unwrap_or_else(|_| "redis://127.0.0.1:6379/0".into())
}

/// A Redis key prefix no other test, nor another run, uses.
pub fn redis_prefix(test: &str) -> String {
    format!("havre-test:{test}:{}:", unique())
}

fn unique() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{}_{nanos}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A schema of the shared PostgreSQL for one test, dropped with all it
/// holds when this is dropped. [`PostgresSchema::url`] is a `storage.url`
/// whose connections see only it.
pub struct PostgresSchema {
    name: String,
    url: String,
}

impl PostgresSchema {
    pub async fn create() -> anyhow::Result<PostgresSchema> {
        let server = postgres_server();
        let name = format!("havre_test_{}", unique());
        let mut conn = sqlx::PgConnection::connect(&server).await.map_err(|err| {
            anyhow::anyhow!("PostgreSQL at {server} (the test command starts one): {err}")
        })?;
        sweep_dead_schemas(&mut conn).await;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {name}")))
            .execute(&mut conn)
            .await?;
        conn.close().await?;
        let separator = if server.contains('?') { '&' } else { '?' };
        let url = format!("{server}{separator}options=-c%20search_path%3D{name}");
        Ok(PostgresSchema { name, url })
    }

    /// Blocking form, for tests that are not async.
    pub fn create_blocking() -> anyhow::Result<PostgresSchema> {
        on_own_runtime(PostgresSchema::create())
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// The server's address, as its URL names it.
    pub fn server_address(&self) -> std::net::SocketAddr {
        let server = postgres_server();
        let authority = server
            .split_once("://")
            .and_then(|(_, rest)| rest.split('/').next())
            .and_then(|authority| authority.rsplit('@').next())
            .unwrap_or("127.0.0.1:5432");
        let authority = if authority.contains(':') {
            authority.to_string()
        } else {
            format!("{authority}:5432")
        };
        std::net::ToSocketAddrs::to_socket_addrs(&authority)
            .ok()
            .and_then(|mut addresses| addresses.next())
            .expect("the PostgreSQL server's address")
    }

    /// [`PostgresSchema::url`] through a proxy on loopback `port` (a
    /// [`crate::CutProxy`] in front of the server).
    pub fn url_through(&self, port: u16) -> String {
        let address = self.server_address();
        let url = self.url.replacen(
            &format!("{}:{}", address.ip(), address.port()),
            &format!("127.0.0.1:{port}"),
            1,
        );
        assert_ne!(
            url, self.url,
            "the URL {} names the server otherwise",
            self.url
        );
        url
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for PostgresSchema {
    /// Drops the schema unless a connection still holds a lock in it (a
    /// test that failed in a transaction, whose connection closes only
    /// after this returns): then it is left to the sweep of the next run.
    fn drop(&mut self) {
        let name = self.name.clone();
        let _ = on_own_runtime(async move {
            let mut conn = sqlx::PgConnection::connect(&postgres_server()).await?;
            drop_schema(&mut conn, &name).await;
            anyhow::Ok(())
        });
    }
}

/// `DROP SCHEMA … CASCADE`, giving up after a second of waiting for locks.
async fn drop_schema(conn: &mut sqlx::PgConnection, name: &str) {
    let statement = format!("SET lock_timeout = '1s'; DROP SCHEMA IF EXISTS {name} CASCADE");
    let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
        .execute(&mut *conn)
        .await;
}

/// Drops, once per process, the schemas of test processes that are gone
/// (named `havre_test_<pid>_…`; a pid no longer running is a finished run).
async fn sweep_dead_schemas(conn: &mut sqlx::PgConnection) {
    static SWEPT: std::sync::Once = std::sync::Once::new();
    let mut first = false;
    SWEPT.call_once(|| first = true);
    if !first {
        return;
    }
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT nspname::TEXT FROM pg_namespace WHERE nspname LIKE 'havre\\_test\\_%'",
    )
    .fetch_all(&mut *conn)
    .await
    .unwrap_or_default();
    for name in names {
        let pid = name.trim_start_matches("havre_test_").split('_').next();
        let running = pid.is_some_and(|pid| std::path::Path::new("/proc").join(pid).exists());
        if !running {
            drop_schema(conn, &name).await;
        }
    }
}

/// Runs `work` to its end on a runtime of its own, in a thread of its own:
/// callable from a test's async code as from plain code (and from `drop`).
fn on_own_runtime<T: Send + 'static>(
    work: impl std::future::Future<Output = anyhow::Result<T>> + Send + 'static,
) -> anyhow::Result<T> {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(work)
    })
    .join()
    .map_err(|_| anyhow::anyhow!("the PostgreSQL helper thread panicked"))?
}
