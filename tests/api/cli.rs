//! Operator commands, run as the real `tessera` binary against each backend.
use crate::helpers::*;
use serde_json::Value;
use tessera::domain::{ClientId, Username};
use tessera::storage::{ClientStore, UserStore};

const PASSWORD: &str = "correct horse battery";
const NEW_PASSWORD: &str = "staple battery horse";

fn user<'a>(list: &'a Value, username: &str) -> &'a Value {
    list["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == username)
        .unwrap_or_else(|| panic!("{username} not in {list}"))
}

both_backends!(users_round_trip, async |app| {
    let added =
        app.cli_json(&["users", "add", "alice", "--password-stdin", "--email", "alice@example.com"], Some(PASSWORD));
    assert_eq!(added["username"], "alice");
    assert_eq!(added["email"], "alice@example.com");
    assert_eq!(added["disabled"], false);
    let sub = added["id"].as_str().unwrap().to_owned();
    assert!(!format!("{added}").contains(PASSWORD), "the password is never printed");
    app.cli_json(&["users", "add", "bob", "--password-stdin"], Some(&format!("{PASSWORD}\n")));

    let list = app.cli_json(&["users", "list"], None);
    assert_eq!(list["users"].as_array().unwrap().len(), 2);
    assert_eq!(user(&list, "alice")["id"], sub.as_str());
    assert_eq!(user(&list, "bob")["disabled"], false);
    let text = app.cli(&["users", "list"], None);
    assert_success(&text, &["users", "list"]);
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(text.contains("alice") && text.contains("bob") && text.contains("alice@example.com"), "{text}");

    assert_eq!(app.cli_json(&["users", "disable", "alice"], None)["disabled"], true);
    let list = app.cli_json(&["users", "list"], None);
    assert_eq!(user(&list, "alice")["disabled"], true);
    assert_eq!(user(&list, "bob")["disabled"], false);
    assert_eq!(app.cli_json(&["users", "enable", "alice"], None)["disabled"], false);
    assert_eq!(user(&app.cli_json(&["users", "list"], None), "alice")["disabled"], false);

    app.cli_json(&["users", "passwd", "alice", "--password-stdin"], Some(NEW_PASSWORD));
    let store = tessera::startup::open_store(&app.settings).await.unwrap();
    let (_, hash) = store.user_by_username(&Username::parse("alice").unwrap()).await.unwrap().unwrap();
    assert!(password_matches(NEW_PASSWORD, &hash), "passwd stored the new password");
    assert!(!password_matches(PASSWORD, &hash), "the old password no longer works");

    // Failures: non-zero exit and a message that says what is wrong.
    let args = ["users", "add", "alice", "--password-stdin"];
    let err = assert_failure(&app.cli(&args, Some(PASSWORD)), &args);
    assert!(err.contains("alice") && err.contains("already exists"), "{err}");
    let args = ["users", "disable", "nobody"];
    let err = assert_failure(&app.cli(&args, None), &args);
    assert!(err.contains("no user named nobody"), "{err}");
    let args = ["users", "add", "carol", "--password-stdin"];
    let err = assert_failure(&app.cli(&args, Some("short")), &args);
    assert!(err.contains("password"), "{err}");
    let err = assert_failure(&app.cli(&args, None), &args);
    assert!(err.contains("no password on standard input"), "{err}");
    let args = ["users", "add", "carol"];
    assert_failure(&app.cli(&args, Some(PASSWORD)), &args);
    assert_eq!(app.cli_json(&["users", "list"], None)["users"].as_array().unwrap().len(), 2);

    // With --json, errors come as JSON on stdout.
    let args = ["--json", "users", "add", "alice", "--password-stdin"];
    let out = app.cli(&args, Some(PASSWORD));
    assert_failure(&out, &args);
    let err: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(err["error"].as_str().unwrap().contains("already exists"), "{err}");
});

// Regression: `users add` refused control characters only, so an account could be made with a bidi control or an
// invisible character in its username or display name and show on the pages as another.
both_backends!(users_add_refuses_invisible_characters, async |app| {
    for (args, flag) in [
        (["users", "add", "\u{202e}nimda", "--password-stdin", "--name", "Admin"], "username"),
        (["users", "add", "ali\u{200b}ce", "--password-stdin", "--name", "Alice"], "username"),
        (["users", "add", "alice", "--password-stdin", "--name", "Alice \u{2066}"], "--name"),
        (["users", "add", "alice", "--password-stdin", "--name", "Goo\u{200d}gle"], "--name"),
    ] {
        let err = assert_failure(&app.cli(&args, Some(PASSWORD)), &args);
        assert!(err.contains(flag) && err.contains("invisible"), "{args:?}: {err}");
    }
    assert_eq!(app.cli_json(&["users", "list"], None)["users"].as_array().unwrap().len(), 0);
    let persian = "\u{0645}\u{06cc}\u{200c}\u{062e}\u{0648}\u{0627}\u{0647}\u{0645}";
    let added = app.cli_json(&["users", "add", "alice", "--password-stdin", "--name", persian], Some(PASSWORD));
    assert_eq!(added["name"], persian);
});

both_backends!(clients_round_trip, async |app| {
    let redirect = "https://app.example/callback";
    let added = app.cli_json(&["clients", "add", "--name", "Web app", "--redirect-uri", redirect], None);
    let id = added["client_id"].as_str().unwrap().to_owned();
    let secret = added["client_secret"].as_str().expect("a confidential client gets a secret").to_owned();
    assert!(secret.len() >= 32, "secret too short: {secret}");
    assert_eq!(added["client_name"], "Web app");
    assert_eq!(added["token_endpoint_auth_method"], "client_secret_basic");
    assert_eq!(added["redirect_uris"], serde_json::json!([redirect]));

    let public = app.cli_json(
        &["clients", "add", "--name", "CLI", "--public", "--redirect-uri", "http://127.0.0.1/callback"],
        None,
    );
    let public_id = public["client_id"].as_str().unwrap().to_owned();
    assert!(public.get("client_secret").is_none(), "public clients have no secret: {public}");
    assert_eq!(public["token_endpoint_auth_method"], "none");
    assert_eq!(public["require_pkce"], true);

    let list = app.cli_json(&["clients", "list"], None);
    let ids: Vec<&str> = list["clients"].as_array().unwrap().iter().map(|c| c["client_id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&id.as_str()) && ids.contains(&public_id.as_str()), "{ids:?}");

    let shown = app.cli_json(&["clients", "show", &id], None);
    assert_eq!(shown["client_id"], id.as_str());
    assert_eq!(shown["client_name"], "Web app");
    // The secret is shown once, at creation: never again, hashed or not.
    for out in [&shown, &list] {
        let text = out.to_string();
        assert!(
            !text.contains(&secret) && !text.contains("secret_hash") && !text.contains("client_secret\""),
            "{text}"
        );
    }
    let text = app.cli(&["clients", "show", &id], None);
    assert_success(&text, &["clients", "show"]);
    assert!(String::from_utf8(text.stdout).unwrap().contains(&id));

    let rotated = app.cli_json(&["clients", "rotate-secret", &id], None);
    let new_secret = rotated["client_secret"].as_str().unwrap().to_owned();
    assert_ne!(new_secret, secret);
    let overlap_until = rotated["previous_secret_expires_at"].as_i64().unwrap();
    assert!(overlap_until >= tessera::domain::now() + app.settings.clients.secret_overlap - 5);
    let store = tessera::startup::open_store(&app.settings).await.unwrap();
    let stored = store.client(&ClientId::parse(&id).unwrap()).await.unwrap().unwrap();
    assert!(stored.secret_hash.as_ref().unwrap().matches(&new_secret), "the printed secret is the stored one");
    let (previous, until) = stored.previous_secret.as_ref().unwrap();
    assert!(previous.matches(&secret) && *until == overlap_until, "the old secret works during the overlap");

    let args = ["clients", "rotate-secret", public_id.as_str()];
    let err = assert_failure(&app.cli(&args, None), &args);
    assert!(err.contains("not a secret"), "{err}");

    let removed = app.cli_json(&["clients", "remove", &id], None);
    assert_eq!(removed["removed"], true);
    let args = ["clients", "show", id.as_str()];
    let err = assert_failure(&app.cli(&args, None), &args);
    assert!(err.contains(&format!("no client {id}")), "{err}");
    let args = ["clients", "remove", id.as_str()];
    let err = assert_failure(&app.cli(&args, None), &args);
    assert!(err.contains("no client"), "{err}");
    let list = app.cli_json(&["clients", "list"], None);
    assert_eq!(list["clients"].as_array().unwrap().len(), 1);

    let args = ["clients", "add", "--name", "No redirect"];
    let err = assert_failure(&app.cli(&args, None), &args);
    assert!(err.contains("--redirect-uri"), "{err}");
    // Names that would reorder or disguise themselves on the pages.
    for name in ["Photos \u{202e}", "G\u{200b}oogle", "\u{2066}App"] {
        let args = ["clients", "add", "--name", name, "--redirect-uri", "http://127.0.0.1/callback"];
        let err = assert_failure(&app.cli(&args, None), &args);
        assert!(err.contains("--name must be"), "{name:?}: {err}");
    }
    assert_eq!(app.cli_json(&["clients", "list"], None)["clients"].as_array().unwrap().len(), 1);
});

both_backends!(clients_have_an_application_type, async |app| {
    let add = |extra: &[&str]| {
        let mut args = vec!["clients", "add", "--name", "App", "--public"];
        args.extend_from_slice(extra);
        app.cli_json(&args, None)
    };
    // Without the flag, the redirect URIs decide: a private-use scheme only reaches an app on a device.
    let web = add(&["--redirect-uri", "https://app.example/cb"]);
    assert_eq!(web["application_type"], "web");
    let device = add(&["--redirect-uri", "com.example.app:/cb"]);
    assert_eq!(device["application_type"], "native");
    let native = add(&["--redirect-uri", "http://127.0.0.1/cb", "--application-type", "native"]);
    assert_eq!(native["application_type"], "native");
    let id = native["client_id"].as_str().unwrap();
    assert_eq!(app.cli_json(&["clients", "show", id], None)["application_type"], "native");
    let listed = app.cli_json(&["clients", "list"], None);
    let types: Vec<&str> =
        listed["clients"].as_array().unwrap().iter().map(|c| c["application_type"].as_str().unwrap()).collect();
    assert_eq!(types.iter().filter(|t| **t == "native").count(), 2, "{listed}");
    let text = app.cli(&["clients", "list"], None);
    assert_success(&text, &["clients", "list"]);
    let text = String::from_utf8(text.stdout).unwrap();
    let line = text.lines().find(|l| l.starts_with(id)).unwrap_or_else(|| panic!("{text}"));
    assert!(line.ends_with("  native"), "the type comes last, after the columns scripts already read: {line}");

    let args = [
        "clients",
        "add",
        "--name",
        "App",
        "--redirect-uri",
        "https://app.example/cb",
        "--application-type",
        "desktop",
    ];
    let err = assert_failure(&app.cli(&args, None), &args);
    assert!(err.contains("--application-type"), "{err}");
});

both_backends!(keys_list_and_rotate, async |app| {
    let list = app.cli_json(&["keys", "list"], None);
    let keys = list["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["state"], "current");
    assert_eq!(keys[0]["alg"], "RS256");
    let current = keys[0]["kid"].as_str().unwrap().to_owned();

    let r = app.cli_json(&["keys", "rotate"], None);
    assert_eq!(r["created"], true);
    let next = r["kid"].as_str().unwrap().to_owned();
    let expected_at = tessera::domain::now() + app.settings.keys.publish_ahead;
    assert!((expected_at - 5..=expected_at).contains(&r["activates_at"].as_i64().unwrap()), "{r}");
    // Rotating again keeps the staged key instead of stacking another.
    let again = app.cli_json(&["keys", "rotate"], None);
    assert_eq!(again["created"], false);
    assert_eq!(again["kid"], next.as_str());

    let list = app.cli_json(&["keys", "list"], None);
    let states: Vec<(&str, &str)> = list["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| (k["kid"].as_str().unwrap(), k["state"].as_str().unwrap()))
        .collect();
    assert_eq!(states, vec![(next.as_str(), "next"), (current.as_str(), "current")]);
    let text = app.cli(&["keys", "list"], None);
    assert_success(&text, &["keys", "list"]);
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(text.contains(&next) && text.contains("next") && text.contains("current"), "{text}");

    let now = app.cli_json(&["keys", "rotate", "--now"], None);
    assert_eq!(now["created"], true);
    let list = app.cli_json(&["keys", "list"], None);
    assert_eq!(list["keys"].as_array().unwrap().len(), 3);
});

both_backends!(clients_add_with_a_chosen_id_and_imported_secret, async |app| {
    let secret = "an-imported-secret-from-another-server";
    let client = app.cli_json(
        &[
            "clients",
            "add",
            "--name",
            "Imported",
            "--client-id",
            "bench-client",
            "--client-secret-stdin",
            "--grant-type",
            "client_credentials",
            "--scope",
            "api:read",
        ],
        Some(secret),
    );
    assert_eq!(client["client_id"], "bench-client");
    assert!(client.get("client_secret").is_none(), "an imported secret is not echoed");
    let r = app
        .api_client
        .post(app.url("/token"))
        .basic_auth("bench-client", Some(secret))
        .form(&[("grant_type", "client_credentials"), ("scope", "api:read")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let out = app.cli(
        &["clients", "add", "--name", "Short", "--client-secret-stdin", "--grant-type", "client_credentials"],
        Some("short"),
    );
    assert!(!out.status.success());
    let out = app.cli(
        &["clients", "add", "--name", "Dup", "--client-id", "bench-client", "--grant-type", "client_credentials"],
        None,
    );
    assert!(!out.status.success(), "a taken client_id is refused");
    // Regression: a user's id was accepted, so the client's own tokens named that user as their subject.
    let bob = app.cli_json(&["users", "add", "bob", "--password-stdin"], Some("a long password"));
    let bob_id = bob["id"].as_str().unwrap();
    let out = app.cli(&["clients", "add", "--name", "Bob?", "--client-id", bob_id], None);
    assert!(!out.status.success(), "a user's id is refused");
    assert!(String::from_utf8_lossy(&out.stderr).contains("a user has the id"), "{out:?}");

    // Removed and added again under the same id: what the earlier client was issued stays dead.
    let old_token: serde_json::Value = r.json().await.unwrap();
    let old_token = old_token["access_token"].as_str().unwrap().to_owned();
    app.cli_json(&["clients", "remove", "bench-client"], None);
    next_second().await;
    let args = ["clients", "add", "--name", "Again", "--client-id", "bench-client", "--client-secret-stdin"];
    app.cli_json(&[&args[..], &["--grant-type", "client_credentials"]].concat(), Some(secret));
    let r = app
        .api_client
        .post(app.url("/introspect"))
        .basic_auth("bench-client", Some(secret))
        .form(&[("token", old_token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<serde_json::Value>().await.unwrap(), serde_json::json!({ "active": false }));
});

/// The permission bits of `path` in octal, as `ls` and `chmod` write them.
fn mode(path: &std::path::Path) -> String {
    use std::os::unix::fs::PermissionsExt;
    let metadata = std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    format!("{:o}", metadata.permissions().mode() & 0o777)
}

#[test]
fn the_embedded_default_creates_its_database_and_key_directory_for_its_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let args = ["--json", "keys", "list"];
    // The compiled-in defaults: ./data/tessera.db and ./keys, in a fresh directory.
    let fresh = tempfile::tempdir().unwrap();
    let mut cmd = tessera_command(fresh.path());
    cmd.args(args);
    assert_success(&run_with_limit(cmd, std::time::Duration::from_secs(60)), &args);
    let data = fresh.path().join("data");
    assert_eq!(mode(&data.join("tessera.db")), "600", "it holds password hashes and the sealed signing keys");
    assert_eq!(mode(&fresh.path().join("keys")), "700");
    assert_eq!(mode(&fresh.path().join("keys/kek")), "600");

    // What an operator made beforehand keeps its mode.
    let prepared = tempfile::tempdir().unwrap();
    let (db, keys) = (prepared.path().join("data/tessera.db"), prepared.path().join("keys"));
    std::fs::create_dir_all(db.parent().unwrap()).unwrap();
    std::fs::write(&db, b"").unwrap();
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o640)).unwrap();
    std::fs::create_dir(&keys).unwrap();
    std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o750)).unwrap();
    let mut cmd = tessera_command(prepared.path());
    cmd.args(args);
    let out = run_with_limit(cmd, std::time::Duration::from_secs(60));
    assert_success(&out, &args);
    assert_eq!(mode(&db), "640");
    assert_eq!(mode(&keys), "750");
    // Others may read the database, which holds password hashes: a warning names it (an older release made
    // its file with the umask's mode, and an upgrade leaves it so).
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("SQLite database") && stderr.contains("chmod 600"), "{stderr}");
    assert!(!stderr.contains("key-encryption key"), "keys/kek was made 0600: {stderr}");
    std::fs::set_permissions(keys.join("kek"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut cmd = tessera_command(prepared.path());
    cmd.args(args);
    let out = run_with_limit(cmd, std::time::Duration::from_secs(60));
    assert!(String::from_utf8_lossy(&out.stderr).contains("key-encryption key"), "{out:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_sqlite_server_has_its_journal_files_for_its_owner_only() {
    let app = spawn_app_with(Backend::Sqlite, |_| {}).await;
    let db = app.dir.path().join("tessera.db");
    // SQLite makes the -wal and -shm files of a database in WAL mode with the database file's mode.
    for path in [db.with_file_name("tessera.db-wal"), db.with_file_name("tessera.db-shm"), db] {
        assert_eq!(mode(&path), "600", "{}", path.display());
    }
}
