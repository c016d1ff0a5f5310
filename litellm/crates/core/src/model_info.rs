//! What the proxy says of one model: its limits, prices, abilities and
//! deployments, as [`crate::discovery`] reads them from `/v1/models` and
//! `/model/info`. Plain data that the catalog, the request shaping, cost,
//! `/status` and the `models` listing all read, so it depends on nothing
//! else of the crate.

use serde::Deserialize;
use serde::Serialize;

/// One model the proxy serves. Everything but `id` is optional because
/// LiteLLM only knows limits and prices for models in its cost map.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// The name clients send as `model`; may contain slashes.
    pub id: String,
    /// Maximum input tokens (`model_info.max_input_tokens`).
    pub context_window: Option<u64>,
    pub max_output_tokens: Option<u64>,
    /// USD per input token.
    pub input_cost_per_token: Option<f64>,
    /// USD per output token.
    pub output_cost_per_token: Option<f64>,
    /// USD per input token served from the prompt cache.
    pub cache_read_input_token_cost: Option<f64>,
    /// LiteLLM's `mode` ("chat", "embedding", "responses", …).
    #[serde(default)]
    pub mode: Option<String>,
    #[serde(default)]
    pub supports_function_calling: Option<bool>,
    /// `supports_reasoning`: whether `reasoning` parameters may be sent.
    #[serde(default)]
    pub supports_reasoning: Option<bool>,
    /// `supports_web_search`: whether a `web_search` tool may be sent.
    #[serde(default)]
    pub supports_web_search: Option<bool>,
    /// `supports_vision`: whether images may be sent.
    #[serde(default)]
    pub supports_vision: Option<bool>,
    /// `supports_parallel_function_calling`.
    #[serde(default)]
    pub supports_parallel_function_calling: Option<bool>,
    /// The proxy's deployments of this name (`model_info.id`, with where
    /// each sends requests), so `/status` can say where a request went when
    /// the answer's headers name only the deployment.
    #[serde(default)]
    pub deployments: Vec<Deployment>,
}

/// One deployment behind a model name, as `/model/info` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deployment {
    /// `model_info.id`, what `x-litellm-model-id` names.
    pub id: String,
    /// `litellm_params.api_base`, when the deployment sets one.
    pub api_base: Option<String>,
    /// `litellm_params.model` (`openai/gpt-4o`), the provider's own name.
    pub model: Option<String>,
}

impl Deployment {
    /// Where this deployment sends requests: its api base, else its
    /// provider's default endpoint, named by the provider's model.
    pub fn endpoint(&self) -> String {
        match (&self.api_base, &self.model) {
            (Some(base), _) => base.clone(),
            (None, Some(model)) => format!("the default endpoint of {model}"),
            (None, None) => "its provider's default endpoint".to_string(),
        }
    }
}

/// The deployment `id` (or the 12-character prefix LiteLLM's headers may
/// carry) among `models`' deployments.
pub fn find_deployment<'a>(models: &'a [ModelInfo], id: &str) -> Option<&'a Deployment> {
    models
        .iter()
        .flat_map(|m| &m.deployments)
        .find(|d| d.id == id || (id.len() >= 12 && d.id.starts_with(id)))
}

impl ModelInfo {
    /// A model known only by name.
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            context_window: None,
            max_output_tokens: None,
            input_cost_per_token: None,
            output_cost_per_token: None,
            cache_read_input_token_cost: None,
            mode: None,
            supports_function_calling: None,
            supports_reasoning: None,
            supports_web_search: None,
            supports_vision: None,
            supports_parallel_function_calling: None,
            deployments: Vec::new(),
        }
    }
}
