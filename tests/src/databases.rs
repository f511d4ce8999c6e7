//! Scratch PostgreSQL databases for tests, from `FERRY_TEST_DATABASE_URL`: each test
//! gets a fresh database, so runs never see each other's rows, and drops it after.

use sqlx::{Connection, Executor, PgConnection};

pub struct ScratchPostgres {
    pub url: String,
    name: String,
    admin: PgConnection,
}

impl ScratchPostgres {
    /// A fresh database named `<prefix>_<random>`, or None (with a note on stderr) when
    /// FERRY_TEST_DATABASE_URL is not set.
    pub async fn create(prefix: &str) -> Option<Self> {
        let Ok(base) = std::env::var("FERRY_TEST_DATABASE_URL") else {
            eprintln!(
                "FERRY_TEST_DATABASE_URL not set: the PostgreSQL run of this test is skipped"
            );
            return None;
        };
        let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::connect(&base)
            .await
            .expect("connect to FERRY_TEST_DATABASE_URL");
        admin
            .execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .unwrap();
        let (server, _) = base
            .rsplit_once('/')
            .expect("FERRY_TEST_DATABASE_URL ends in /DATABASE");
        Some(Self {
            url: format!("{server}/{name}"),
            name,
            admin,
        })
    }

    /// Drops the database, closing whatever still uses it.
    pub async fn drop_database(mut self) {
        let sql = format!("DROP DATABASE {} WITH (FORCE)", self.name);
        self.admin.execute(sql.as_str()).await.unwrap();
    }
}
