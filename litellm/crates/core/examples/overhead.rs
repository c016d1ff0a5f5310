//! The work our layer adds to each request, measured in-process: the
//! discovery lookup (context window and max output of the model), LiteLLM
//! header parsing and usage recording. Prints one JSON line for `npm run bench`.
//!
//! cargo run --release --example overhead

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::hint::black_box;
use std::time::Instant;

use codex_litellm_core::LiteLlmSettings;
use codex_litellm_core::ModelInfo;
use codex_litellm_core::config::Source;
use codex_litellm_core::headers::parse_proxy_headers;
use codex_litellm_core::hooks;
use codex_litellm_core::usage::parse_chat_usage;
use serde_json::json;

fn main() {
    // A proxy with 200 models, as a busy gateway might have.
    let models: Vec<ModelInfo> = (0..200)
        .map(|i| {
            let mut m = ModelInfo::new(format!("provider{}/family/model-{i}", i % 7));
            m.context_window = Some(128_000);
            m.max_output_tokens = Some(16_384);
            m.input_cost_per_token = Some(1e-6);
            m.output_cost_per_token = Some(2e-6);
            m
        })
        .collect();
    let model = "provider3/family/model-199".to_string();
    let settings = LiteLlmSettings {
        base_url: "http://127.0.0.1:4000/v1".into(),
        base_url_source: Source::Env,
        api_key: None,
        api_key_source: None,
        wire_api: Default::default(),
        default_model: Some(model.clone()),
        context_length: None,
    };
    hooks::install_session(settings, models, model.clone());
    let headers = [
        ("content-type", "text/event-stream"),
        ("x-litellm-call-id", "5e1c4f1e-8a0b-4a47-9c55-3f0f7b6a1d2e"),
        ("x-litellm-model-id", "4b2b8f0c0c1e4d5d9e1f"),
        ("x-litellm-model-api-base", "https://api.example.com/v1"),
        ("x-litellm-version", "1.106.2"),
        ("x-litellm-response-cost", "0.000123"),
        ("x-litellm-response-duration-ms", "812.5"),
        ("x-litellm-overhead-duration-ms", "3.1"),
        ("x-ratelimit-remaining-requests", "99"),
    ];
    let usage = json!({"prompt_tokens": 3988, "completion_tokens": 7, "total_tokens": 3995,
        "prompt_tokens_details": {"cached_tokens": 3072}, "completion_tokens_details": {"reasoning_tokens": 0}});

    let runs = 20_000;
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        let window = hooks::context_window("litellm", black_box(&model), None);
        let max_out = hooks::max_output_tokens("litellm", black_box(&model));
        let meta = parse_proxy_headers(black_box(headers.iter().copied()));
        let u = parse_chat_usage(black_box(&usage));
        black_box((window, max_out, meta, u));
        samples.push(t.elapsed().as_nanos() as f64);
    }
    samples.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let median = samples[runs / 2];
    let p99 = samples[runs * 99 / 100];
    println!(
        "{}",
        json!({"runs": runs, "median_ns": median, "p99_ns": p99})
    );
}
