//! Models: everything that answers questions, by name.

use super::{Store, StoreError};

impl Store {
    /// The model called `name`, created on first use; its back end and settings are updated
    /// to the latest description.
    pub async fn upsert_model(
        &self,
        name: &str,
        backend: &str,
        settings: &serde_json::Value,
    ) -> Result<i64, StoreError> {
        let id = sqlx::query_scalar::<_, i64>(
            "INSERT INTO models (name, backend, settings) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET backend = excluded.backend, settings = excluded.settings \
             RETURNING id",
        )
        .bind(name)
        .bind(backend)
        .bind(settings.to_string())
        .fetch_all(self.writer())
        .await?
        .pop()
        .ok_or(sqlx::Error::RowNotFound)?;
        Ok(id)
    }
}

impl Store {
    pub async fn model_names(&self) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar::<_, String>("SELECT name FROM models ORDER BY name").fetch_all(self.pool()).await?)
    }
}
