//! The one place where SQLite and PostgreSQL need different SQL. Every other query in the
//! store is written once and runs on both (`$1` placeholders, `ON CONFLICT`, `RETURNING`,
//! `TRUE`/`FALSE` for flags).

use sqlx::any::{Any, AnyTypeInfo, AnyTypeInfoKind};
use sqlx::error::BoxDynError;
use sqlx::{Decode, Type, ValueRef};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// The dialect a database URL speaks, if jury supports it.
    pub fn of_url(url: &str) -> Option<Dialect> {
        if url.starts_with("sqlite:") {
            Some(Dialect::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Dialect::Postgres)
        } else {
            None
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Dialect::Sqlite => "SQLite",
            Dialect::Postgres => "PostgreSQL",
        }
    }

    /// The current time in Unix epoch seconds, as the database server sees it.
    pub fn now(self) -> &'static str {
        match self {
            Dialect::Sqlite => "((julianday('now') - 2440587.5) * 86400.0)",
            Dialect::Postgres => "(extract(epoch FROM clock_timestamp())::double precision)",
        }
    }

    /// The first element of a JSON array of strings held in a TEXT column (a question's turns).
    pub fn first_turn(self, column: &str) -> String {
        match self {
            Dialect::Sqlite => format!("json_extract({column}, '$[0]')"),
            Dialect::Postgres => format!("({column}::json ->> 0)"),
        }
    }

    /// Appended to a `SELECT` that picks rows to claim, so that processes claiming at once
    /// take different rows instead of waiting for each other (SQLite has one writer anyway).
    pub fn skip_locked(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
        }
    }
}

impl Dialect {
    /// What makes ids continue past rows that were inserted with ids of their own (a copy):
    /// PostgreSQL's sequence must be moved; SQLite takes the largest id plus one by itself.
    pub fn continue_ids_after(self, table: &str) -> Option<String> {
        match self {
            Dialect::Sqlite => None,
            Dialect::Postgres => Some(format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'id'), COALESCE(MAX(id), 0) + 1, false) FROM {table}"
            )),
        }
    }
}

/// A flag column: `BOOLEAN` in PostgreSQL, `INTEGER` 0/1 in SQLite. Read it into a `bool`
/// field with `#[sqlx(try_from = "Flag")]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flag(pub bool);

impl From<Flag> for bool {
    fn from(flag: Flag) -> bool {
        flag.0
    }
}

impl Type<Any> for Flag {
    fn type_info() -> AnyTypeInfo {
        <bool as Type<Any>>::type_info()
    }

    fn compatible(ty: &AnyTypeInfo) -> bool {
        ty.kind() == AnyTypeInfoKind::Bool || ty.kind().is_integer()
    }
}

impl<'r> Decode<'r, Any> for Flag {
    fn decode(value: <Any as sqlx::Database>::ValueRef<'r>) -> Result<Self, BoxDynError> {
        if value.type_info().kind() == AnyTypeInfoKind::Bool {
            Ok(Flag(<bool as Decode<Any>>::decode(value)?))
        } else {
            Ok(Flag(<i64 as Decode<Any>>::decode(value)? != 0))
        }
    }
}

/// An optional real number to bind. sqlx 0.9.0's `Any` driver sends a `None` `f64` to
/// PostgreSQL as a `float4` NULL; a statement first prepared with that NULL then fails on its
/// next use with a value ("incorrect binary data format"). Bound through this, a NULL goes
/// as the `float8` the columns are.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OptionalReal(pub Option<f64>);

impl Type<Any> for OptionalReal {
    fn type_info() -> AnyTypeInfo {
        <f64 as Type<Any>>::type_info()
    }
}

impl<'q> sqlx::Encode<'q, Any> for OptionalReal {
    fn encode_by_ref(
        &self,
        buf: &mut <Any as sqlx::Database>::ArgumentBuffer,
    ) -> Result<sqlx::encode::IsNull, BoxDynError> {
        match self.0 {
            Some(value) => <f64 as sqlx::Encode<Any>>::encode_by_ref(&value, buf),
            // The kind sqlx 0.9.0 turns into a `float8` NULL is, swapped, the 4-byte one.
            None => <Option<f32> as sqlx::Encode<Any>>::encode_by_ref(&None, buf),
        }
    }
}
