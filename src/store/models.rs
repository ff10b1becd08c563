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
        .fetch_one(self.pool())
        .await?;
        Ok(id)
    }

    /// The model called `name`, created as `imported` if it does not exist yet (answers
    /// loaded from files); an existing model keeps its description.
    pub async fn model_id_or_import(&self, name: &str) -> Result<i64, StoreError> {
        sqlx::query("INSERT INTO models (name, backend) VALUES ($1, 'imported') ON CONFLICT (name) DO NOTHING")
            .bind(name)
            .execute(self.pool())
            .await?;
        Ok(sqlx::query_scalar::<_, i64>("SELECT id FROM models WHERE name = $1")
            .bind(name)
            .fetch_one(self.pool())
            .await?)
    }
}
