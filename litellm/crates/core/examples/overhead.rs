//! The work our layer adds to each request, measured in-process: the
//! discovery lookup (context window and max output of the model), LiteLLM
//! header parsing and usage recording; a tier-0 hit; and telemetry per
//! request. Prints one JSON line for `npm run bench`.
//!
//! cargo run --release --example overhead

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::hint::black_box;
use std::time::Instant;

use codex_litellm_core::hooks;
use codex_litellm_core::internals::canonical::request_key;
use codex_litellm_core::internals::config::LiteLlmSettings;
use codex_litellm_core::internals::config::Source;
use codex_litellm_core::internals::cost::SessionTotals;
use codex_litellm_core::internals::headers::parse_proxy_headers;
use codex_litellm_core::internals::model_info::ModelInfo;
use codex_litellm_core::internals::session;
use codex_litellm_core::internals::stream_observer::StreamObserver;
use codex_litellm_core::internals::telemetry::RequestRecord;
use codex_litellm_core::internals::telemetry::Telemetry;
use codex_litellm_core::internals::telemetry::TelemetryConfig;
use codex_litellm_core::internals::tier0::Tier0Cache;
use codex_litellm_core::internals::tier0::Tier0Config;
use codex_litellm_core::internals::usage::parse_chat_usage;
use codex_litellm_hooks as seam;
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
    // Active, as in the codex-litellm binary: the seam reaches this crate.
    hooks::activate("0.0.0-litellm.1 (bench)");
    session::install_session(settings, models, model.clone());
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
        // As upstream's config calls it: through the seam.
        let window = seam::context_window(black_box("litellm"), None);
        let meta = parse_proxy_headers(black_box(headers.iter().copied()));
        let u = parse_chat_usage(black_box(&usage));
        black_box((window, meta, u));
        samples.push(t.elapsed().as_nanos() as f64);
    }
    let (median, p99) = stats(&mut samples);

    // Tier 0: what a local hit costs (read the stored answer, observe it).
    let home = tempfile::tempdir().unwrap();
    let mut cfg = Tier0Config::defaults(home.path());
    cfg.enabled = true;
    let cache = Tier0Cache::open(cfg).unwrap().unwrap();
    let answer = sample_answer();
    let key = request_key(&json!({"model": model, "input": "What is the capital of France?"}));
    cache.put(&key, answer.as_bytes()).unwrap();
    let mut hit = Vec::with_capacity(2_000);
    for _ in 0..2_000 {
        let t = Instant::now();
        let body = cache.get(black_box(&key)).unwrap();
        let mut obs = StreamObserver::new();
        obs.feed(&body);
        black_box(obs.usage());
        hit.push(t.elapsed().as_nanos() as f64);
    }
    let (hit_median, _) = stats(&mut hit);

    // Telemetry: one session record written (with rotation) and totals updated.
    let mut tcfg = TelemetryConfig::defaults(home.path());
    tcfg.max_total_bytes = 256 * 1024;
    tcfg.debug_enabled = true;
    let telemetry = Telemetry::open(tcfg, &["sk-bench-secret".to_string()])
        .unwrap()
        .unwrap();
    let mut totals = SessionTotals::new();
    let mut tel = Vec::with_capacity(5_000);
    for i in 0..5_000u64 {
        let rec = RequestRecord {
            session_id: "bench".into(),
            seq: i,
            model: model.clone(),
            wire_api: "responses".into(),
            litellm_model_id: Some("4b2b8f0c0c1e4d5d9e1f".into()),
            api_base: Some("https://api.example.com/v1".into()),
            call_id: Some("5e1c4f1e-8a0b-4a47-9c55-3f0f7b6a1d2e".into()),
            latency_ms: 812,
            status: "ok".into(),
            http_status: Some(200),
            tokens_in: 3988,
            tokens_cached: 3072,
            tokens_out: 7,
            cost_usd: Some(0.000123),
            tier0_key: key.clone(),
            ..RequestRecord::default()
        };
        let t = Instant::now();
        telemetry.record(black_box(&rec)).unwrap();
        telemetry.debug(
            "request",
            json!({"seq": i, "model": rec.model, "status": "ok"}),
        );
        totals.add(&rec.model, &rec.outcome());
        tel.push(t.elapsed().as_nanos() as f64);
    }
    let (tel_median, tel_p99) = stats(&mut tel);
    println!(
        "{}",
        json!({"runs": runs, "median_ns": median, "p99_ns": p99,
               "tier0_hit_median_ns": hit_median,
               "telemetry_median_ns": tel_median, "telemetry_p99_ns": tel_p99})
    );
}

fn stats(samples: &mut [f64]) -> (f64, f64) {
    samples.sort_by(|a, b| a.partial_cmp(b).unwrap());
    (
        samples[samples.len() / 2],
        samples[samples.len() * 99 / 100],
    )
}

/// A Responses stream like the proxy sends for a short answer.
fn sample_answer() -> String {
    let mut out = String::new();
    out.push_str("data: {\"type\":\"response.created\",\"response\":{\"id\":\"resp_1\",\"status\":\"in_progress\"}}\n\n");
    for word in ["The", " capital", " of", " France", " is", " Paris."] {
        out.push_str(&format!(
            "data: {{\"type\":\"response.output_text.delta\",\"delta\":\"{word}\"}}\n\n"
        ));
    }
    out.push_str("data: {\"type\":\"response.completed\",\"response\":{\"id\":\"resp_1\",\"status\":\"completed\",\"usage\":{\"input_tokens\":3988,\"input_tokens_details\":{\"cached_tokens\":0},\"output_tokens\":7,\"output_tokens_details\":{\"reasoning_tokens\":0},\"total_tokens\":3995}}}\n\n");
    out
}
