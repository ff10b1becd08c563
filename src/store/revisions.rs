//! Revision counters, kept by triggers: they change with every write that can change what the
//! pages show, from this process or another, so caches know when to refresh.

use super::{Store, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Revisions {
    /// Battles, verdicts, votes and judgments: what ratings and scores are computed from.
    pub battles: i64,
    /// Question sets, questions, models and answers.
    pub catalog: i64,
}

impl Store {
    pub async fn revisions(&self) -> Result<Revisions, StoreError> {
        let rows = sqlx::query_as::<_, (String, i64)>("SELECT name, n FROM revisions").fetch_all(self.pool()).await?;
        let mut out = Revisions::default();
        for (name, n) in rows {
            match name.as_str() {
                "battles" => out.battles = n,
                "catalog" => out.catalog = n,
                _ => {}
            }
        }
        Ok(out)
    }
}
