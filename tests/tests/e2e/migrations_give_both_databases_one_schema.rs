//! The store writes every query once for both databases, so a column that one migration set
//! adds and the other forgets is a query that fails on one database only, and only where
//! that database runs (usually production, on PostgreSQL). `accord migrate` is run on a fresh
//! SQLite file and on a fresh PostgreSQL database, and the two schemas it leaves must have the
//! same tables, the same columns, and columns of the same kind (text, integer, bytes).

use std::collections::BTreeMap;
use std::path::Path;

use accord_tests::scratch_db::ScratchDatabase;
use accord_tests::server::accord_binary;
use anyhow::{Context, Result, ensure};

/// Table → column → kind, for the tables the migrations made (not the migrator's own).
type Schema = BTreeMap<String, BTreeMap<String, String>>;

/// What a declared column type stores, in words both databases share.
fn kind(declared: &str) -> String {
    let declared = declared.to_ascii_lowercase();
    let kind = match declared.as_str() {
        "text" | "character varying" | "varchar" => "text",
        "integer" | "bigint" | "smallint" | "int" => "integer",
        "blob" | "bytea" => "bytes",
        "real" | "double precision" => "real",
        "boolean" => "boolean",
        _ => return declared,
    };
    kind.to_owned()
}

/// Runs the real binary's `accord migrate` against `url`, with a scratch data directory.
async fn migrate(url: &str, data_dir: &Path) -> Result<()> {
    let output = tokio::process::Command::new(accord_binary()?)
        .arg("migrate")
        .env("ACCORD_DATA_DIR", data_dir)
        .env("ACCORD_DATABASE_URL", url)
        .env_remove("ACCORD_BIN")
        .env_remove("ACCORD_TEST_KEEP")
        .env_remove("ACCORD_TEST_LOG")
        .output()
        .await
        .context("running accord migrate")?;
    ensure!(
        output.status.success(),
        "accord migrate on {} failed ({}): {}",
        url.split(':').next().unwrap_or_default(),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(())
}

/// Rows of (table, column, declared type) as a [`Schema`].
fn schema_of(rows: Vec<(String, String, String)>) -> Schema {
    let mut schema = Schema::new();
    for (table, column, declared) in rows {
        schema
            .entry(table)
            .or_default()
            .insert(column, kind(&declared));
    }
    schema
}

async fn sqlite_schema(file: &Path) -> Result<Schema> {
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", file.display())).await?;
    let rows = sqlx::query_as::<_, (String, String, String)>(
        "SELECT m.name AS table_name, c.name AS column_name, c.type AS declared \
         FROM sqlite_master m JOIN pragma_table_info(m.name) c \
         WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> '_sqlx_migrations'",
    )
    .fetch_all(&pool)
    .await?;
    pool.close().await;
    Ok(schema_of(rows))
}

async fn postgres_schema(url: &str) -> Result<Schema> {
    let pool = sqlx::PgPool::connect(url).await?;
    let rows = sqlx::query_as::<_, (String, String, String)>(
        "SELECT table_name::text AS table_name, column_name::text AS column_name, \
                data_type::text AS declared \
         FROM information_schema.columns \
         WHERE table_schema = current_schema() AND table_name <> '_sqlx_migrations'",
    )
    .fetch_all(&pool)
    .await?;
    pool.close().await;
    Ok(schema_of(rows))
}

/// Every difference between the two schemas, one line each.
fn differences(sqlite: &Schema, postgres: &Schema) -> Vec<String> {
    let mut out = Vec::new();
    for (table, columns) in sqlite {
        let Some(other) = postgres.get(table) else {
            out.push(format!("table {table} exists on SQLite only"));
            continue;
        };
        for (column, kind) in columns {
            match other.get(column) {
                None => out.push(format!("column {table}.{column} exists on SQLite only")),
                Some(k) if k != kind => out.push(format!(
                    "column {table}.{column} holds {kind} on SQLite but {k} on PostgreSQL"
                )),
                Some(_) => {}
            }
        }
        for column in other.keys().filter(|c| !columns.contains_key(*c)) {
            out.push(format!("column {table}.{column} exists on PostgreSQL only"));
        }
    }
    for table in postgres.keys().filter(|t| !sqlite.contains_key(*t)) {
        out.push(format!("table {table} exists on PostgreSQL only"));
    }
    out
}

#[tokio::test]
async fn sqlite_and_postgres_have_the_same_tables_and_columns() -> Result<()> {
    let dir = accord_tests::fresh_temp_dir("accord-schema")?;
    let file = dir.join("accord.db");
    migrate(&format!("sqlite://{}", file.display()), &dir).await?;
    let sqlite = sqlite_schema(&file).await?;

    let database = ScratchDatabase::create("accord_schema").await?;
    let postgres = async {
        migrate(&database.url, &dir).await?;
        postgres_schema(&database.url).await
    }
    .await;
    database.drop().await?;
    let postgres = postgres?;
    let _ = std::fs::remove_dir_all(&dir);

    ensure!(
        sqlite.len() >= 5 && sqlite.contains_key("cases"),
        "the migrations made too few tables to compare: {:?}",
        sqlite.keys().collect::<Vec<_>>()
    );
    let differences = differences(&sqlite, &postgres);
    ensure!(
        differences.is_empty(),
        "the two migration sets disagree:\n  {}",
        differences.join("\n  ")
    );
    println!(
        "{} tables, {} columns alike on SQLite and PostgreSQL",
        sqlite.len(),
        sqlite.values().map(BTreeMap::len).sum::<usize>()
    );
    Ok(())
}
