//! What identifies one Zoho connection: where, who, and which Books organisation.

use crate::{dc::Endpoints, secret::Secret};

/// One Zoho connection: data centre (or custom base URLs), OAuth client, refresh token
/// and Books organisation id. `Debug` shows no secret.
#[derive(Debug, Clone)]
pub struct Connection {
    /// Accounts server and initial API domain.
    pub endpoints: Endpoints,
    /// OAuth client id (not secret, but kept out of logs anyway).
    pub client_id: String,
    /// OAuth client secret.
    pub client_secret: Secret,
    /// The long-lived refresh token.
    pub refresh_token: Secret,
    /// The Books organisation id, sent as `organization_id` on every Books call and used
    /// as the key of this organisation's rate budgets.
    pub organization_id: String,
}

impl Connection {
    /// A connection from its parts.
    pub fn new(
        endpoints: impl Into<Endpoints>,
        client_id: impl Into<String>,
        client_secret: impl Into<Secret>,
        refresh_token: impl Into<Secret>,
        organization_id: impl Into<String>,
    ) -> Connection {
        Connection {
            endpoints: endpoints.into(),
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            refresh_token: refresh_token.into(),
            organization_id: organization_id.into(),
        }
    }
}
