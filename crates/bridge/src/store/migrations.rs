//! The schema migrations, compiled into the binary so it needs no files beside it.
//!
//! sqlx's `migrate!` macro needs its `macros` feature; building the [`Migrator`] from
//! `include_str!` keeps the dependency lean and works the same way.

use std::borrow::Cow;

use sqlx::SqlSafeStr;
use sqlx::migrate::{Migration, MigrationType, Migrator};

/// SQLite migrations: (version, description, SQL).
const SQLITE: &[(i64, &str, &str)] = &[
    (1, "store", include_str!("../../migrations/sqlite/0001_store.sql")),
    (2, "inbox and audit lookups", include_str!("../../migrations/sqlite/0002_lookups.sql")),
    (3, "shared access tokens", include_str!("../../migrations/sqlite/0003_tokens.sql")),
    (4, "links by relation, snapshots, typed job payloads", include_str!("../../migrations/sqlite/0004_relations.sql")),
    (5, "customer matching: directory and review list", include_str!("../../migrations/sqlite/0005_matching.sql")),
    (6, "processes sharing a rate budget", include_str!("../../migrations/sqlite/0006_budget_shares.sql")),
    (7, "audit by action", include_str!("../../migrations/sqlite/0007_audit_actions.sql")),
    (9, "agent gateway tokens", include_str!("../../migrations/sqlite/0009_agent_tokens.sql")),
    (10, "jobs by flow", include_str!("../../migrations/sqlite/0010_jobs_by_flow.sql")),
    (11, "agent calls per token", include_str!("../../migrations/sqlite/0011_agent_calls.sql")),
];

/// PostgreSQL migrations: (version, description, SQL).
const POSTGRES: &[(i64, &str, &str)] = &[
    (1, "store", include_str!("../../migrations/postgres/0001_store.sql")),
    (2, "inbox and audit lookups", include_str!("../../migrations/postgres/0002_lookups.sql")),
    (3, "shared access tokens", include_str!("../../migrations/postgres/0003_tokens.sql")),
    (4, "links by relation, snapshots, typed job payloads", include_str!("../../migrations/postgres/0004_relations.sql")),
    (5, "customer matching: directory and review list", include_str!("../../migrations/postgres/0005_matching.sql")),
    (6, "processes sharing a rate budget", include_str!("../../migrations/postgres/0006_budget_shares.sql")),
    (7, "audit by action", include_str!("../../migrations/postgres/0007_audit_actions.sql")),
    (9, "agent gateway tokens", include_str!("../../migrations/postgres/0009_agent_tokens.sql")),
    (10, "jobs by flow", include_str!("../../migrations/postgres/0010_jobs_by_flow.sql")),
    (11, "agent calls per token", include_str!("../../migrations/postgres/0011_agent_calls.sql")),
];

fn migrator(list: &[(i64, &'static str, &'static str)]) -> Migrator {
    Migrator::with_migrations(
        list.iter()
            .map(|&(version, description, sql)| Migration::new(version, Cow::Borrowed(description), MigrationType::Simple, sql.into_sql_str(), false))
            .collect(),
    )
}

/// The SQLite schema's migrator.
pub(crate) fn sqlite() -> Migrator {
    migrator(SQLITE)
}

/// The PostgreSQL schema's migrator.
pub(crate) fn postgres() -> Migrator {
    migrator(POSTGRES)
}
