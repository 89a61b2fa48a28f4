//! Bad configuration is refused at startup with a message naming the setting. These run the binary with a
//! clean environment in a temp dir and need no database.
use crate::helpers::*;
use std::time::Duration;

/// `tessera <args>` in a fresh temp dir with `env` (plus a SQLite file and key dir inside the temp dir, so a
/// configuration wrongly accepted cannot touch anything else); fails the test if it runs over 30 s.
fn tessera(args: &[&str], env: &[(&str, &str)]) -> (std::process::Output, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = tessera_command(dir.path());
    cmd.env("TESSERA__DATABASE__URL", tessera::storage::diesel::testing::sqlite_url(&dir.path().join("t.db")))
        .env("TESSERA__KEYS__DIR", dir.path().join("keys"))
        .env("TESSERA__HTTP__BIND", "127.0.0.1:0")
        .envs(env.iter().copied())
        .args(args);
    (run_with_limit(cmd, Duration::from_secs(30)), dir)
}

fn refused(args: &[&str], env: &[(&str, &str)]) -> String {
    let (out, _dir) = tessera(args, env);
    let stderr = assert_failure(&out, args);
    assert_eq!(out.status.code(), Some(1), "configuration errors exit with 1: {stderr}");
    assert!(stderr.contains("configuration"), "{stderr}");
    stderr
}

#[test]
fn invalid_bind_address_is_refused_by_name() {
    let err = refused(&["serve"], &[("TESSERA__HTTP__BIND", "nope")]);
    assert!(err.contains("http.bind"), "{err}");
}

#[test]
fn unknown_environment_key_is_refused_by_name() {
    let err = refused(&["serve"], &[("TESSERA__DATABASE__URLL", "x")]);
    assert!(err.to_lowercase().contains("database.urll"), "{err}");
    assert!(err.contains("TESSERA__"), "says where the key came from: {err}");
    let err = refused(&["migrate"], &[("TESSERA__DATABSE__URL", "x")]);
    assert!(err.to_lowercase().contains("databse"), "{err}");
    let err = refused(&["migrate"], &[("TESSERA__TOKENS__ACCESS_TOKEN_TTL_SECONDS", "ten")]);
    assert!(err.to_lowercase().contains("tokens.access_token_ttl_seconds"), "{err}");
}

#[test]
fn unknown_key_in_config_file_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tessera.toml");
    std::fs::write(&file, "[http]\nbind = \"127.0.0.1:0\"\nworkerz = 2\n").unwrap();
    let err = refused(&["--config", file.to_str().unwrap(), "serve"], &[]);
    assert!(err.contains("http.workerz") && err.contains("tessera.toml"), "{err}");
    // A file that does not exist is an error too, not silently the defaults.
    let missing = dir.path().join("missing.toml");
    let err = refused(&["--config", missing.to_str().unwrap(), "migrate"], &[]);
    assert!(err.contains("missing.toml"), "{err}");
}

#[test]
fn invalid_value_in_config_file_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tessera.toml");
    std::fs::write(&file, "[keys]\nalgorithm_bits = 1024\n").unwrap();
    let err = refused(&["--config", file.to_str().unwrap(), "serve"], &[]);
    assert!(err.contains("keys.algorithm_bits"), "{err}");
}

#[test]
fn misspelt_log_level_is_refused_by_name() {
    // A tracing filter alone would take `inf` for a target name and log nothing at all.
    let err = refused(&["serve"], &[("TESSERA__LOG__LEVEL", "inf")]);
    assert!(err.contains("log.level") && err.contains("\"inf\""), "{err}");
}

#[test]
fn postgres_without_kek_is_refused_by_name() {
    // Refused before any connection is tried: port 1 on loopback has no server.
    let err = refused(&["serve"], &[("TESSERA__DATABASE__URL", "postgres://postgres@127.0.0.1:1/tessera")]);
    assert!(err.contains("keys.kek"), "{err}");
}

#[test]
fn non_loopback_http_issuer_is_refused_by_name() {
    let err = refused(&["migrate"], &[("TESSERA__ISSUER", "http://id.example")]);
    assert!(err.contains("issuer"), "{err}");
}

#[test]
fn an_issuer_with_a_path_is_refused_by_name() {
    // The routes are at the root: a path would advertise endpoints that answer 404.
    for issuer in ["https://id.example/tenant", "https://id.example/idp/"] {
        let err = refused(&["migrate"], &[("TESSERA__ISSUER", issuer)]);
        assert!(err.contains("issuer") && err.contains("path"), "{issuer}: {err}");
    }
}

#[test]
fn the_same_setup_with_valid_settings_is_accepted() {
    // The control for the tests above: without the bad setting, the command succeeds.
    let (out, dir) = tessera(&["--json", "migrate"], &[]);
    assert_success(&out, &["migrate"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["status"], "migrated");
    assert!(dir.path().join("t.db").exists());
}

// The run that applied the migrations said "database is up to date" too.
#[test]
fn migrate_lists_what_it_applied() {
    let (out, dir) = tessera(&["migrate"], &[]);
    assert_success(&out, &["migrate"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("applied: 20250601000000, ") && !text.contains("up to date"), "{text}");
    let mut again = tessera_command(dir.path());
    again
        .env("TESSERA__DATABASE__URL", tessera::storage::diesel::testing::sqlite_url(&dir.path().join("t.db")))
        .env("TESSERA__KEYS__DIR", dir.path().join("keys"))
        .args(["--json", "migrate"]);
    let out = run_with_limit(again, Duration::from_secs(30));
    assert_success(&out, &["migrate"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((json["status"].as_str(), json["applied"].as_array().map(Vec::len)), (Some("migrated"), Some(0)));
}

#[test]
fn serve_with_json_prints_one_json_line_once_it_listens() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, v) = serve_json(dir.path(), &[("TESSERA__HTTP__BIND", "127.0.0.1:0")]);
    let _ = child.kill();
    let _ = child.wait();
    let listening = v["listening"].as_str().unwrap();
    assert!(listening.starts_with("127.0.0.1:") && !listening.ends_with(":0"), "{v}");
    assert_eq!((v["database"].as_str(), v["cache"].as_str()), (Some("sqlite"), Some("memory")), "{v}");
    assert_eq!(v["issuer"], "http://127.0.0.1:8080");
}

#[test]
fn a_management_address_equal_to_the_public_one_is_refused_by_name() {
    let err = refused(
        &["serve"],
        &[("TESSERA__HTTP__BIND", "127.0.0.1:8080"), ("TESSERA__HTTP__MANAGEMENT_BIND", "127.0.0.1:8080")],
    );
    assert!(err.contains("http.management_bind") && err.contains("http.bind"), "{err}");
    let err = refused(&["serve"], &[("TESSERA__HTTP__MANAGEMENT_BIND", "localhost")]);
    assert!(err.contains("http.management_bind"), "{err}");
}

#[test]
fn a_management_address_already_in_use_stops_serve_naming_the_setting() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let (out, _dir) = tessera(&["serve"], &[("TESSERA__HTTP__MANAGEMENT_BIND", &addr)]);
    let err = assert_failure(&out, &["serve"]);
    assert!(err.contains("http.management_bind") && err.contains(&addr), "{err}");
}
