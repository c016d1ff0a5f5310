//! codex-litellm's implementation of the seam (crate codex-litellm-hooks)
//! that upstream's codex-core, codex-client and codex-tui call: each hook
//! answers with this crate's logic. Installed by [`crate::session::activate`],
//! so only the codex-litellm binary has it; everything else built from the
//! same tree sees the seam's inert, stock-Codex answers.

use codex_litellm_hooks::BoxFuture;
use codex_litellm_hooks::Hooks;
use codex_litellm_hooks::SendError;
use codex_litellm_hooks::SendFn;
use serde_json::Value;

use crate::brand;
use crate::exchange;
use crate::session;
use crate::status;

/// The one implementation, installed once.
pub(crate) static INSTALLED: Installed = Installed;

pub(crate) struct Installed;

impl Hooks for Installed {
    fn provider_json(&self, litellm: Option<&toml::Value>, general: Option<&toml::Value>) -> Option<Value> {
        session::provider_json(litellm, general)
    }

    fn default_provider_id(&self, general: Option<&toml::Value>) -> Option<String> {
        session::default_provider_id(general)
    }

    fn default_model(&self, provider_id: &str, litellm: Option<&toml::Value>) -> Option<String> {
        session::default_model(provider_id, litellm)
    }

    fn context_window(&self, provider_id: &str, general: Option<&toml::Value>) -> Option<i64> {
        session::context_window(provider_id, general)
    }

    fn model_catalog(&self, provider_id: &str, template: Value) -> Option<Value> {
        session::model_catalog(provider_id, template)
    }

    fn retry_notice(&self, upstream: String, details: String) -> (String, Option<String>) {
        status::retry_notice(upstream, details)
    }

    fn is_litellm_session(&self) -> bool {
        status::is_litellm_session()
    }

    fn status_lines(&self) -> Vec<(&'static str, String)> {
        status::status_lines()
    }

    fn product_name(&self) -> &'static str {
        brand::product_name()
    }

    fn product_version(&self, upstream: &str) -> String {
        brand::product_version(upstream)
    }

    fn command_name(&self) -> &'static str {
        brand::command_name()
    }

    fn model_picker_hint(&self, upstream: &'static str) -> &'static str {
        brand::model_picker_hint(upstream)
    }

    fn exchange<'a>(
        &'a self,
        url: &'a str,
        body: Option<Value>,
        send: &'a SendFn<'a>,
    ) -> BoxFuture<'a, Result<reqwest::Response, SendError>> {
        Box::pin(exchange::exchange(url, body, send))
    }
}
