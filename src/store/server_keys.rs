//! Keys every server on the database shares (`server_keys`): the first server to start makes
//! one, the others read it, so what one signs the others accept.

use rand::RngCore;

use super::{Store, StoreError};

impl Store {
    /// The 32-byte key named `name`, made now if no server has made it yet.
    pub async fn server_key(&self, name: &str) -> Result<[u8; 32], StoreError> {
        let mut fresh = [0u8; 32];
        rand::rng().fill_bytes(&mut fresh);
        // Two servers starting at once both insert; one wins and both read the winner's.
        sqlx::query("INSERT INTO server_keys (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
            .bind(name)
            .bind(hex::encode(fresh))
            .execute(self.writer())
            .await?;
        let stored: String = sqlx::query_scalar("SELECT value FROM server_keys WHERE name = $1")
            .bind(name)
            .fetch_one(self.writer())
            .await?;
        let mut key = [0u8; 32];
        match hex::decode(&stored) {
            Ok(bytes) if bytes.len() == 32 => key.copy_from_slice(&bytes),
            _ => {
                return Err(sqlx::Error::Decode(format!("server key {name} is not 32 hex-encoded bytes").into()).into());
            }
        }
        Ok(key)
    }
}
