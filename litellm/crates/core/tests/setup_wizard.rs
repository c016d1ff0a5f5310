//! The setup wizard end to end: scripted answers, a fake proxy, a temporary
//! CODEX_HOME.

// Test helpers outside #[test] fns panic on purpose, like upstream suites.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::fs;
use std::io::Cursor;

use codex_litellm_core::internals::config;
use codex_litellm_core::internals::config::WireApi;
use codex_litellm_core::internals::errors::LiteLlmError;
use codex_litellm_core::internals::setup::KeyEcho;
use codex_litellm_core::internals::setup::missing_config_message;
use codex_litellm_core::internals::setup::run_setup;
use codex_litellm_core::internals::setup::run_setup_masked;
use pretty_assertions::assert_eq;
use serde_json::json;
use wiremock::Mock;
use wiremock::MockServer;
use wiremock::ResponseTemplate;
use wiremock::matchers::header;
use wiremock::matchers::method;
use wiremock::matchers::path;

const KEY: &str = "sk-wizard-key";

async fn proxy() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/health/liveliness"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!("I'm alive!")))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/models"))
        .and(header("authorization", format!("Bearer {KEY}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": [
            {"id": "fake-model"}, {"id": "fake-tools"}, {"id": "vercel/maa/x"}
        ]})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/models"))
        .respond_with(ResponseTemplate::new(401).set_body_json(
            json!({"error": {"message": "Authentication Error", "type": "auth_error", "code": "401"}}),
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/model/info"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": [
            {"model_name": "fake-tools", "model_info": {"max_input_tokens": 32000}}
        ]})))
        .mount(&server)
        .await;
    server
}

async fn closed_port() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

#[tokio::test]
async fn wizard_saves_config_and_private_key_file() {
    let server = proxy().await;
    let home = tempfile::tempdir().unwrap();
    let original = "\
# my codex settings
model = \"o3\" # top-level model stays

[litellm]
# the proxy
api_base = \"http://old-proxy:4000\"
api_key = \"sk-old-inline\"
";
    fs::write(home.path().join("config.toml"), original).unwrap();
    let dead = closed_port().await;

    // 1st attempt: dead port → retry. 2nd: wrong key → 401 → retry.
    // 3rd: good. Then a typo'd model and a valid pick by name.
    let script = format!(
        "127.0.0.1:{dead}\n{KEY}\ny\n{uri}\nwrong-key\ny\n{uri}/\n{KEY}\nfake-tool\nvercel/maa/x\n",
        uri = server.uri()
    );
    let mut input = Cursor::new(script.into_bytes());
    let mut output = Vec::new();
    let outcome = run_setup(&mut input, &mut output, home.path())
        .await
        .unwrap();
    let transcript = String::from_utf8(output).unwrap();
    // Keys typed are never repeated, the wrong one included.
    assert!(!transcript.contains(KEY), "{transcript}");
    assert!(!transcript.contains("wrong-key"), "{transcript}");
    // It says where each thing went.
    assert!(
        transcript.contains(&format!(
            "Saved {}.",
            home.path().join("config.toml").display()
        )),
        "{transcript}"
    );
    assert!(
        transcript.contains(&format!(
            "API key stored in {}.",
            home.path().join("litellm").join("api_key").display()
        )),
        "{transcript}"
    );

    assert!(
        transcript.contains("LiteLLM proxy URL [http://old-proxy:4000]: "),
        "{transcript}"
    );
    assert!(
        transcript.contains(&format!(
            "Is the LiteLLM proxy running at http://127.0.0.1:{dead}?"
        )),
        "{transcript}"
    );
    assert!(
        transcript.contains("the proxy rejected the API key"),
        "{transcript}"
    );
    assert!(
        transcript.contains("the proxy offers 3 model(s)"),
        "{transcript}"
    );
    assert!(
        transcript.contains("   2. fake-tools  (32,000 tokens context)"),
        "{transcript}"
    );
    assert!(
        transcript.contains("nearest first): fake-tools"),
        "{transcript}"
    );

    let base_url = format!("{}/v1", server.uri());
    assert_eq!(outcome.base_url, base_url);
    assert_eq!(outcome.model.as_deref(), Some("vercel/maa/x"));

    let saved = fs::read_to_string(home.path().join("config.toml")).unwrap();
    let expected = format!(
        "\
# my codex settings
model = \"o3\" # top-level model stays

[litellm]
# the proxy
api_base = \"{base_url}\"
model = \"vercel/maa/x\"
"
    );
    assert_eq!(saved, expected);
    assert!(!saved.contains(KEY));

    let key_path = home.path().join("litellm").join("api_key");
    assert_eq!(outcome.key_path.as_deref(), Some(key_path.as_path()));
    assert_eq!(fs::read_to_string(&key_path).unwrap().trim(), KEY);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            fs::metadata(&key_path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    // What the wizard saved resolves to the same settings.
    let file = config::load_config_file(home.path()).unwrap();
    let settings = config::resolve(
        &config::CliOverrides::default(),
        |_| None,
        &file,
        home.path(),
    )
    .unwrap();
    assert_eq!(settings.base_url, base_url);
    assert_eq!(settings.api_key.as_deref(), Some(KEY));
    assert_eq!(settings.default_model.as_deref(), Some("vercel/maa/x"));
    assert_eq!(settings.wire_api, WireApi::Responses);
}

#[tokio::test]
async fn rerunning_keeps_the_saved_key_and_defaults() {
    let server = proxy().await;
    let home = tempfile::tempdir().unwrap();
    config::write_key_file(home.path(), KEY).unwrap();
    let script = format!("{}\n\n1\n", server.uri());
    let mut output = Vec::new();
    let outcome = run_setup(&mut Cursor::new(script), &mut output, home.path())
        .await
        .unwrap();
    let transcript = String::from_utf8(output).unwrap();
    assert!(
        transcript.contains("Enter keeps the saved key"),
        "{transcript}"
    );
    assert_eq!(outcome.model.as_deref(), Some("fake-model"));
    assert_eq!(
        fs::read_to_string(home.path().join("litellm/api_key"))
            .unwrap()
            .trim(),
        KEY
    );
}

#[tokio::test]
async fn end_of_input_aborts_without_writing() {
    let home = tempfile::tempdir().unwrap();
    let dead = closed_port().await;
    let script = format!("127.0.0.1:{dead}\n\nn\n");
    let mut output = Vec::new();
    let err = run_setup(&mut Cursor::new(script), &mut output, home.path())
        .await
        .unwrap_err();
    assert!(matches!(err, LiteLlmError::SetupAborted { .. }), "{err:?}");
    assert!(!home.path().join("config.toml").exists());

    let err = run_setup(&mut Cursor::new(""), &mut Vec::new(), home.path())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("input ended"), "{err}");
}

/// What the wizard asked of the terminal.
#[derive(Default)]
struct RecordingEcho(Vec<&'static str>);

impl KeyEcho for RecordingEcho {
    fn hide(&mut self) -> std::io::Result<()> {
        self.0.push("hide");
        Ok(())
    }
    fn restore(&mut self) {
        self.0.push("restore");
    }
}

#[tokio::test]
async fn masked_wizard_hides_the_key_and_saves_it() {
    let server = proxy().await;
    let home = tempfile::tempdir().unwrap();
    // The key is pasted (one burst, ending in a carriage return as a
    // terminal without icanon sends Enter); the other answers are lines.
    let script = format!("{}\n{KEY}\r1\n", server.uri());
    let mut output = Vec::new();
    let mut echo = RecordingEcho::default();
    let outcome = run_setup_masked(
        &mut Cursor::new(script.into_bytes()),
        &mut output,
        home.path(),
        &mut echo,
    )
    .await
    .unwrap();
    let transcript = String::from_utf8(output).unwrap();
    assert!(!transcript.contains(KEY), "{transcript}");
    assert!(
        transcript.contains(&format!(
            "API key (Enter if the proxy needs none): {}\n",
            "*".repeat(KEY.len())
        )),
        "{transcript}"
    );
    assert_eq!(echo.0, ["hide", "restore"]);
    assert_eq!(outcome.model.as_deref(), Some("fake-model"));
    let key_path = home.path().join("litellm").join("api_key");
    assert_eq!(fs::read_to_string(key_path).unwrap().trim(), KEY);
    let config = fs::read_to_string(home.path().join("config.toml")).unwrap();
    assert!(!config.contains(KEY), "{config}");
}

#[test]
fn missing_config_message_is_actionable() {
    let text = missing_config_message();
    assert!(text.contains("LITELLM_BASE_URL"));
    assert!(text.contains("LITELLM_API_KEY"));
    assert!(text.contains("[litellm] api_base"));
    assert!(text.contains("CODEX_HOME/config.toml"));
    assert!(text.contains("run `codex-litellm` in an interactive terminal"));
}
