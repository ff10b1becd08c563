//! The site frame every page is drawn in (error pages too).

/// What the site frame needs: the active tab, the form token, and sign-in state.
#[derive(Debug, Clone, Default)]
pub struct Nav {
    pub active: &'static str,
    pub csrf: String,
    /// An admin token is configured (writes need a sign-in).
    pub admin_enabled: bool,
    pub signed_in: bool,
}

impl Nav {
    /// Whether write controls should be shown.
    pub fn can_write(&self) -> bool {
        !self.admin_enabled || self.signed_in
    }
}
