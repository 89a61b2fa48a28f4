//! Loading and validation of settings.
use super::*;
use figment::providers::{Env, Format, Toml};
use figment::Figment;

fn load(toml: &str, env: &[(&str, &str)]) -> Result<Settings, ConfigError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.toml");
    std::fs::write(&path, toml).unwrap();
    // A private env prefix per call keeps parallel tests apart from the real environment.
    let prefix = format!("TTEST{}__", uuid::Uuid::new_v4().simple());
    for (k, v) in env {
        std::env::set_var(format!("{prefix}{k}"), v);
    }
    let r = RawSettings::load_from(Some(&path), Env::prefixed(&prefix).split("__")).and_then(RawSettings::validate);
    for (k, _) in env {
        std::env::remove_var(format!("{prefix}{k}"));
    }
    r
}

#[test]
fn defaults_are_the_embedded_setup() {
    let s = load("", &[]).unwrap();
    assert_eq!(s.issuer.as_str(), "http://127.0.0.1:8080/");
    assert_eq!(s.http.bind.to_string(), "127.0.0.1:8080");
    assert_eq!(s.http.management_bind, None);
    assert_eq!(s.database.kind, DatabaseKind::Sqlite);
    assert!(s.redis.is_none());
    assert_eq!(s.registration, RegistrationMode::Open);
    assert_eq!(s.tokens.refresh_grace, 10);
    assert_eq!(s.tokens.rotated_refresh_retention, 86400);
    assert_eq!(s.database.purge_interval, Some(std::time::Duration::from_secs(3600)));
    let cores = crate::blocking::cores() as u32;
    assert_eq!(s.database.max_connections, (2 * cores).clamp(4, 16));
    assert!(matches!(s.keys.kek, KekSource::CreateIfMissing(_)));
    assert_eq!(s.limits.login_ip, Some(Rate { max: 100, window: 900 }));
    assert_eq!(s.limits.login_user, Some(Lockout { failures: 5, window: 900, lock: 60, max_lock: 900 }));
    assert_eq!(s.limits.token_client, Some(Rate { max: 600, window: 60 }));
    assert_eq!(s.limits.token_ip, Some(Rate { max: 1200, window: 60 }));
    assert_eq!(s.limits.register_ip, Some(Rate { max: 20, window: 3600 }));
    assert_eq!(s.limits.authorize_ip, Some(Rate { max: 300, window: 300 }));
    assert_eq!(s.limits.user_registration_ip, Some(Rate { max: 10, window: 3600 }));
    assert_eq!(s.limits.pending_sign_ins_memory, 64 << 20);
    assert_eq!(s.clients.assertion_audience, AssertionAudience::IssuerOrTokenEndpoint);
    assert_eq!(s.sessions.idle_timeout, None);
    assert_eq!((s.par.request_ttl, s.par.required), (60, false));
    assert_eq!(s.dpop.proof_max_age, 60);
    assert_eq!((s.dpop.require_nonce, s.dpop.nonce_window), (false, 300));
}

#[test]
fn the_minimum_length_of_a_password_users_set_defaults_to_eight_and_may_be_set() {
    assert_eq!(load("", &[]).unwrap().passwords.min_length, 8);
    assert_eq!(load("[passwords]\nmin_length = 12", &[]).unwrap().passwords.min_length, 12);
    assert_eq!(load("", &[("PASSWORDS__MIN_LENGTH", "1")]).unwrap().passwords.min_length, 1);
}

#[test]
fn the_password_policy_is_read_with_its_blocklist_file() {
    let policy = load("", &[]).unwrap().passwords.policy;
    assert_eq!((policy.min_length, policy.history, policy.not_username, policy.not_email), (8, 0, true, true));
    assert!(policy.blocklist.is_empty());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("blocked.txt");
    std::fs::write(&file, "Password1\nletmein\n").unwrap();
    let toml = format!(
        "[passwords]\nmin_length = 10\nhistory = 5\nnot_username = false\nnot_email = false\nblocklist_file = {file:?}"
    );
    let policy = load(&toml, &[]).unwrap().passwords.policy;
    assert_eq!((policy.min_length, policy.history, policy.not_username, policy.not_email), (10, 5, false, false));
    assert_eq!(policy.blocklist.len(), 2);
    let policy = load("", &[("PASSWORDS__HISTORY", "3"), ("PASSWORDS__NOT_EMAIL", "false")]).unwrap().passwords.policy;
    assert_eq!((policy.history, policy.not_email), (3, false));
    // A list that cannot be read stops the start, saying which.
    let missing = dir.path().join("missing.txt");
    let e = load(&format!("[passwords]\nblocklist_file = {missing:?}"), &[]).unwrap_err().to_string();
    assert!(e.contains("passwords.blocklist_file") && e.contains("missing.txt"), "{e}");
    let e = load("[passwords]\nhistory = 25", &[]).unwrap_err().to_string();
    assert!(e.contains("passwords.history"), "{e}");
}

#[test]
fn the_dpop_proof_age_may_be_set() {
    assert_eq!(load("[dpop]\nproof_max_age_seconds = 300", &[]).unwrap().dpop.proof_max_age, 300);
    assert_eq!(load("", &[("DPOP__PROOF_MAX_AGE_SECONDS", "5")]).unwrap().dpop.proof_max_age, 5);
}

#[test]
fn dpop_nonces_may_be_required() {
    let s = load("[dpop]\nrequire_nonce = true\nnonce_seconds = 60", &[]).unwrap();
    assert_eq!((s.dpop.require_nonce, s.dpop.nonce_window), (true, 60));
    let s = load("", &[("DPOP__REQUIRE_NONCE", "true"), ("DPOP__NONCE_SECONDS", "3600")]).unwrap();
    assert_eq!((s.dpop.require_nonce, s.dpop.nonce_window), (true, 3600));
}

#[test]
fn pushed_authorization_requests_may_be_required() {
    let s = load("[par]\nrequired = true\nrequest_ttl_seconds = 90", &[]).unwrap();
    assert_eq!((s.par.request_ttl, s.par.required), (90, true));
    let s = load("", &[("PAR__REQUIRED", "true")]).unwrap();
    assert!(s.par.required);
}

#[test]
fn sessions_may_have_an_idle_timeout() {
    let s = load("[sessions]\nidle_timeout_seconds = 1800", &[]).unwrap();
    assert_eq!(s.sessions.idle_timeout, Some(1800));
    let s = load("", &[("SESSIONS__IDLE_TIMEOUT_SECONDS", "60")]).unwrap();
    assert_eq!(s.sessions.idle_timeout, Some(60));
}

#[test]
fn client_assertions_may_be_held_to_the_issuer() {
    let s = load("[clients]\nassertion_audience = \"issuer\"", &[]).unwrap();
    assert_eq!(s.clients.assertion_audience, AssertionAudience::Issuer);
    let s = load("", &[("CLIENTS__ASSERTION_AUDIENCE", "issuer")]).unwrap();
    assert_eq!(s.clients.assertion_audience, AssertionAudience::Issuer);
}

#[test]
fn device_settings_default_to_ten_minutes_and_five_seconds_and_are_checked() {
    let s = load("", &[]).unwrap();
    assert_eq!(s.device, DeviceSettings { code_ttl: 600, interval: 5 });
    let s = load("[device]\ncode_ttl_seconds = 1800\ninterval_seconds = 10", &[]).unwrap();
    assert_eq!(s.device, DeviceSettings { code_ttl: 1800, interval: 10 });
    let s = load("", &[("DEVICE__INTERVAL_SECONDS", "2")]).unwrap();
    assert_eq!(s.device.interval, 2);
    for (toml, key) in [
        ("[device]\ncode_ttl_seconds = 5", "device.code_ttl_seconds"),
        ("[device]\ncode_ttl_seconds = 3601", "device.code_ttl_seconds"),
        ("[device]\ninterval_seconds = 0", "device.interval_seconds"),
        ("[device]\ninterval_seconds = 61", "device.interval_seconds"),
        ("[device]\ncode_ttl_seconds = 20\ninterval_seconds = 20", "device.interval_seconds"),
    ] {
        let e = load(toml, &[]).unwrap_err().to_string();
        assert!(e.contains(key), "{toml}: {e}");
    }
}

#[test]
fn two_step_verification_is_optional_by_default_and_may_be_required() {
    let s = load("", &[]).unwrap();
    assert_eq!(s.otp, OtpSettings { required: false, code_step: 300, setup: 900 });
    let s = load("[otp]\nrequired = true\ncode_step_seconds = 120\nsetup_seconds = 1800", &[]).unwrap();
    assert_eq!(s.otp, OtpSettings { required: true, code_step: 120, setup: 1800 });
    let s = load("", &[("OTP__REQUIRED", "true"), ("OTP__SETUP_SECONDS", "60")]).unwrap();
    assert_eq!((s.otp.required, s.otp.code_step, s.otp.setup), (true, 300, 60));
    for (toml, key) in [
        ("[otp]\ncode_step_seconds = 59", "otp.code_step_seconds"),
        ("[otp]\ncode_step_seconds = 1801", "otp.code_step_seconds"),
        ("[otp]\nsetup_seconds = 0", "otp.setup_seconds"),
        ("[otp]\nsetup_seconds = 3601", "otp.setup_seconds"),
    ] {
        let e = load(toml, &[]).unwrap_err().to_string();
        assert!(e.contains(key), "{toml}: {e}");
    }
    let e = load("[otp]\nrequire = true", &[]).unwrap_err().to_string();
    assert!(e.contains("require"), "a misspelt key is refused: {e}");
}

#[test]
fn self_registration_is_off_by_default_and_has_its_own_limit() {
    let s = load("", &[]).unwrap();
    assert_eq!(
        s.users,
        UserSettings { self_registration: false, self_deletion: false, email_verification_link: 86_400 }
    );
    let s = load("[users]\nself_registration = true", &[]).unwrap();
    assert!(s.users.self_registration);
    let s = load("", &[("USERS__SELF_REGISTRATION", "true")]).unwrap();
    assert!(s.users.self_registration);
    let toml = "[limits]\nuser_registration_ip_requests = 3\nuser_registration_ip_window_seconds = 60";
    assert_eq!(load(toml, &[]).unwrap().limits.user_registration_ip, Some(Rate { max: 3, window: 60 }));
    let off = load("[limits]\nuser_registration_ip_requests = 0", &[]).unwrap();
    assert_eq!(off.limits.user_registration_ip, None);
    let e = load("[limits]\nuser_registration_ip_window_seconds = 0", &[]).unwrap_err().to_string();
    assert!(e.contains("limits.user_registration_ip_window_seconds"), "{e}");
    let e = load("[users]\nself_registrations = true", &[]).unwrap_err().to_string();
    assert!(e.contains("self_registrations"), "a misspelt key is refused: {e}");
}

#[test]
fn self_deletion_is_off_by_default() {
    assert!(!load("", &[]).unwrap().users.self_deletion);
    assert!(load("[users]\nself_deletion = true", &[]).unwrap().users.self_deletion);
    assert!(load("", &[("USERS__SELF_DELETION", "true")]).unwrap().users.self_deletion);
    let e = load("[users]\nself_delete = true", &[]).unwrap_err().to_string();
    assert!(e.contains("self_delete"), "a misspelt key is refused: {e}");
}

#[test]
fn retired_keys_outlive_the_longest_client_access_token() {
    let s = load("[tokens]\naccess_token_ttl_seconds = 300\nid_token_ttl_seconds = 60", &[]).unwrap();
    assert_eq!(
        (s.tokens.max_access_token_ttl, s.longest_signed_lifetime()),
        (300, 300),
        "the ceiling defaults to the lifetime"
    );
    let s = load("[tokens]\nmax_access_token_ttl_seconds = 86400", &[]).unwrap();
    assert_eq!((s.tokens.access_token_ttl, s.longest_signed_lifetime()), (600, 86400));
    let e = load("[tokens]\nmax_access_token_ttl_seconds = 599", &[]).unwrap_err().to_string();
    assert!(e.contains("tokens.max_access_token_ttl_seconds") && e.contains("600"), "{e}");
}

#[test]
fn rotated_refresh_tokens_are_kept_at_least_for_the_grace_window() {
    let s = load("", &[("TOKENS__ROTATED_REFRESH_RETENTION_SECONDS", "600")]).unwrap();
    assert_eq!(s.tokens.rotated_refresh_retention, 600);
    let s = load("[tokens]\nrefresh_grace_seconds = 30\nrotated_refresh_retention_seconds = 30", &[]).unwrap();
    assert_eq!((s.tokens.refresh_grace, s.tokens.rotated_refresh_retention), (30, 30));
    let s = load("[tokens]\nrefresh_grace_seconds = 0\nrotated_refresh_retention_seconds = 1", &[]).unwrap();
    assert_eq!(s.tokens.rotated_refresh_retention, 1);
    for retention in ["0", "-1"] {
        let e = load("", &[("TOKENS__ROTATED_REFRESH_RETENTION_SECONDS", retention)]).unwrap_err().to_string();
        assert!(e.contains("tokens.rotated_refresh_retention_seconds") && e.contains("greater than 0"), "{e}");
    }
    let e = load("[tokens]\nrefresh_grace_seconds = 30\nrotated_refresh_retention_seconds = 29", &[])
        .unwrap_err()
        .to_string();
    for part in ["tokens.rotated_refresh_retention_seconds", "tokens.refresh_grace_seconds", "(30)"] {
        assert!(e.contains(part), "{part}: {e}");
    }
}

#[test]
fn a_zero_limit_or_interval_is_off() {
    let toml = "[limits]\ntoken_ip_requests = 0\nlogin_user_failures = 0\nauthorize_ip_requests = 0\n\
                [database]\npurge_interval_seconds = 0\n";
    let s = load(toml, &[]).unwrap();
    assert_eq!(s.database.purge_interval, None);
    assert_eq!(s.limits.token_ip, None);
    assert_eq!(s.limits.authorize_ip, None);
    assert_eq!(s.limits.login_user, None);
    assert!(s.limits.token_client.is_some());
}

#[test]
fn environment_overrides_file() {
    let s = load(
        "issuer = \"https://id.example\"\n[tokens]\nrefresh_grace_seconds = 3\n",
        &[("TOKENS__REFRESH_GRACE_SECONDS", "7"), ("HTTP__BIND", "0.0.0.0:9000")],
    )
    .unwrap();
    assert_eq!(s.issuer.as_str(), "https://id.example/");
    assert_eq!(s.tokens.refresh_grace, 7);
    assert_eq!(s.http.bind.port(), 9000);
}

#[test]
fn unknown_keys_are_refused_by_name() {
    let e = load("[database]\nurll = \"x\"\n", &[]).unwrap_err().to_string();
    assert!(e.contains("urll"), "{e}");
    let e = load("", &[("TOKENZ__X", "1")]).unwrap_err().to_string();
    assert!(e.contains("tokenz"), "{e}");
}

#[test]
fn invalid_values_name_their_key() {
    for (toml, key) in [
        ("issuer = \"http://id.example\"", "issuer"),
        ("[http]\nbind = \"nope\"", "http.bind"),
        ("[http]\nmanagement_bind = \"9000\"", "http.management_bind"),
        ("[database]\nurl = \"./x.db\"", "database.url"),
        ("[keys]\nalgorithm_bits = 1024", "keys.algorithm_bits"),
        ("[keys]\npublish_ahead_seconds = 10", "keys.publish_ahead_seconds"),
        // jwks_max_age_seconds (300) is not enough: an instance may take refresh_seconds (10) to see the key.
        ("[keys]\npublish_ahead_seconds = 305", "keys.publish_ahead_seconds"),
        ("[registration]\nmode = \"maybe\"", "registration.mode"),
        ("[clients]\nassertion_audience = \"token_endpoint\"", "clients.assertion_audience"),
        ("[sessions]\nidle_timeout_seconds = 59", "sessions.idle_timeout_seconds"),
        ("[par]\nrequest_ttl_seconds = 0", "par.request_ttl_seconds"),
        ("[par]\nrequest_ttl_seconds = 601", "par.request_ttl_seconds"),
        ("[dpop]\nproof_max_age_seconds = 0", "dpop.proof_max_age_seconds"),
        ("[dpop]\nproof_max_age_seconds = 301", "dpop.proof_max_age_seconds"),
        ("[dpop]\nnonce_seconds = 9", "dpop.nonce_seconds"),
        ("[dpop]\nnonce_seconds = 3601", "dpop.nonce_seconds"),
        ("[sessions]\nidle_timeout_seconds = -1", "sessions.idle_timeout_seconds"),
        ("[tokens]\nrefresh_grace_seconds = -1", "tokens.refresh_grace_seconds"),
        ("[log]\nformat = \"xml\"", "log.format"),
        ("[passwords]\nmin_length = 0", "passwords.min_length"),
        ("[passwords]\nmin_length = -1", "min_length"),
        ("[log]\nlevel = \"inf\"", "log.level"),
        ("[log]\nlevel = \"info,tessera=dbug\"", "log.level"),
        ("[log]\nlevel = \"\"", "log.level"),
        ("[limits]\nlogin_ip_window_seconds = 0", "limits.login_ip_window_seconds"),
        ("[limits]\nlogin_user_max_lock_seconds = 10", "limits.login_user_max_lock_seconds"),
        ("[limits]\nfallback_entries = 0", "limits.fallback_entries"),
        ("[limits]\nauthorize_ip_window_seconds = 0", "limits.authorize_ip_window_seconds"),
        ("[limits]\nauthorize_ip_requests = -1", "limits.authorize_ip_requests"),
        // The pending sign-ins' memory has no "off": unbounded is what it prevents.
        ("[limits]\npending_sign_ins_memory_kib = 0", "limits.pending_sign_ins_memory_kib"),
        ("[limits]\npending_sign_ins_memory_kib = 18014398509481984", "limits.pending_sign_ins_memory_kib"),
    ] {
        let e = load(toml, &[]).unwrap_err().to_string();
        assert!(e.contains(key), "{toml}: {e}");
    }
    let e = load("[tokens]\naccess_token_ttl_seconds = \"ten\"", &[]).unwrap_err().to_string();
    assert!(e.contains("access_token_ttl_seconds"), "{e}");
}

/// `deploy/tessera.example.toml` with each `# key = value` line uncommented but `kek`, which the file says to set
/// instead of `kek_file`, never with it, and `smtp_password_file` and `blocklist_file`, whose example files do not
/// exist here.
fn example_file_uncommented() -> String {
    include_str!("../../deploy/tessera.example.toml")
        .lines()
        .map(|line| match line.strip_prefix("# ") {
            Some(setting)
                if setting.split_once(" = ").is_some_and(|(key, _)| {
                    is_key(key) && !matches!(key, "kek" | "smtp_password_file" | "blocklist_file")
                }) =>
            {
                setting
            }
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn is_key(word: &str) -> bool {
    !word.is_empty() && word.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

#[test]
fn the_example_file_has_every_setting_at_its_default_and_loads() {
    let text = example_file_uncommented();
    load(&text, &[]).unwrap();
    let example: serde_json::Value = Figment::from(Toml::string(&text)).extract().unwrap();
    let defaults = serde_json::to_value(RawSettings::default()).unwrap();
    let serde_json::Value::Object(sections) = &defaults else { panic!("{defaults}") };
    for (section, keys) in sections {
        let keys = match keys {
            serde_json::Value::Object(keys) => keys.iter().map(|(k, v)| (format!("{section}.{k}"), v)).collect(),
            top => vec![(section.clone(), top)],
        };
        for (path, default) in keys {
            let shown = path.split('.').try_fold(&example, |value, key| value.get(key));
            let Some(shown) = shown else {
                // Left commented: `keys.kek` excludes `keys.kek_file`; the SMTP password file does not exist here.
                let commented = match path.as_str() {
                    "keys.kek" => "\n# kek = ",
                    "mail.smtp_password_file" => "\n# smtp_password_file = ",
                    "passwords.blocklist_file" => "\n# blocklist_file = ",
                    _ => "\u{0}",
                };
                assert!(text.contains(commented), "{path} is missing from the example file");
                continue;
            };
            // A setting without a default shows an example value; the others show their default.
            let no_default = default.is_null() || default.as_array().is_some_and(Vec::is_empty);
            assert!(no_default || shown == default, "{path}: the example shows {shown}, the default is {default}");
        }
    }
}

#[test]
fn log_levels_and_filters_are_accepted() {
    for (level, kept) in [
        ("info", "info"),
        ("WARN", "WARN"),
        ("off", "off"),
        ("info,tessera=debug", "info,tessera=debug"),
        ("warn, actix_web=info ,tessera::oauth=trace,", "warn,actix_web=info,tessera::oauth=trace"),
    ] {
        let s = load(&format!("[log]\nlevel = \"{level}\""), &[]).unwrap();
        assert_eq!(s.log.level, kept);
    }
}

#[test]
fn trusted_proxies_take_addresses_and_cidr_ranges_and_refuse_bad_prefixes_naming_the_key() {
    let s = load("[http]\ntrusted_proxies = [\"10.0.0.0/8\", \"fd00::/8\", \"192.0.2.7\"]", &[]).unwrap();
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    let trusted = |a: &str| s.http.trusted_proxies.iter().any(|r| r.contains(ip(a)));
    assert!(trusted("10.244.0.3") && trusted("fd12::1") && trusted("192.0.2.7"));
    assert!(!trusted("192.0.2.8") && !trusted("11.0.0.1"));
    // The form the Kubernetes ConfigMap uses.
    let s = load("", &[("HTTP__TRUSTED_PROXIES", "[\"10.0.0.0/8\"]")]).unwrap();
    assert_eq!(s.http.trusted_proxies, vec![IpRange::parse("10.0.0.0/8").unwrap()]);
    for bad in ["10.0.0.0/33", "fd00::/129", "10.0.0.0/", "10.0.0.5/8", "10.0.0.0/x", "ingress"] {
        let e = load(&format!("[http]\ntrusted_proxies = [{bad:?}]"), &[]).unwrap_err().to_string();
        assert!(e.contains("http.trusted_proxies") && e.contains(bad), "{bad}: {e}");
    }
}

#[test]
fn postgres_requires_an_explicit_kek_and_defaults_to_token_registration() {
    let e = load("[database]\nurl = \"postgres://localhost/x\"", &[]).unwrap_err().to_string();
    assert!(e.contains("keys.kek"), "{e}");
    let s = load("[database]\nurl = \"postgres://localhost/x\"\n[keys]\nkek = \"abc\"", &[]).unwrap();
    assert_eq!(s.registration, RegistrationMode::Token);
    assert_eq!(s.database.max_connections, 16);
    assert!(!format!("{s:?}").contains("abc"));
}

#[test]
fn a_set_connection_count_is_kept_on_either_backend_and_zero_is_refused() {
    let s = load("[database]\nmax_connections = 7", &[]).unwrap();
    assert_eq!(s.database.max_connections, 7);
    let s =
        load("[database]\nurl = \"postgres://localhost/x\"\nmax_connections = 3\n[keys]\nkek = \"abc\"", &[]).unwrap();
    assert_eq!(s.database.max_connections, 3);
    let e = load("", &[("DATABASE__MAX_CONNECTIONS", "0")]).unwrap_err().to_string();
    assert!(e.contains("database.max_connections"), "{e}");
}

#[test]
fn a_management_address_is_read_from_the_file_or_the_environment_and_a_blank_one_is_unset() {
    let s = load("[http]\nmanagement_bind = \"127.0.0.1:9000\"", &[]).unwrap();
    assert_eq!(s.http.management_bind, Some("127.0.0.1:9000".parse().unwrap()));
    let s = load("", &[("HTTP__MANAGEMENT_BIND", "0.0.0.0:9000")]).unwrap();
    assert_eq!(s.http.management_bind, Some("0.0.0.0:9000".parse().unwrap()));
    let s = load("[http]\nmanagement_bind = \"[::1]:9000\"", &[("HTTP__MANAGEMENT_BIND", "")]).unwrap();
    assert_eq!(s.http.management_bind, None);
}

#[test]
fn a_management_address_that_is_the_public_one_is_refused_naming_both_keys() {
    for (bind, management) in [
        ("127.0.0.1:8080", "127.0.0.1:8080"),
        ("[::1]:9000", "[::1]:9000"),
        // A wildcard address takes the port on every address: the second bind would fail.
        ("0.0.0.0:8080", "127.0.0.1:8080"),
        ("127.0.0.1:8080", "0.0.0.0:8080"),
        ("[::]:8080", "127.0.0.1:8080"),
    ] {
        let e = load("", &[("HTTP__BIND", bind), ("HTTP__MANAGEMENT_BIND", management)]).unwrap_err().to_string();
        assert!(e.contains("`http.management_bind`") && e.contains("`http.bind`"), "{bind} {management}: {e}");
    }
    // Another port, another address on the same port, or free ports picked by the system are all distinct.
    for (bind, management) in
        [("127.0.0.1:8080", "127.0.0.1:9000"), ("127.0.0.1:8080", "10.0.0.5:8080"), ("127.0.0.1:0", "127.0.0.1:0")]
    {
        let s = load("", &[("HTTP__BIND", bind), ("HTTP__MANAGEMENT_BIND", management)]).unwrap();
        assert_eq!(s.http.management_bind, Some(management.parse().unwrap()), "{bind} {management}");
    }
}

const UPSTREAM: &str = "[[federation.providers]]\nid = \"corp\"\nname = \"Corp\"\nissuer = \"https://sso.corp.example\"\nclient_id = \"tessera\"\n";

#[test]
fn federation_providers_are_read_with_their_defaults() {
    use secrecy::ExposeSecret;
    assert!(load("", &[]).unwrap().federation.providers.is_empty());
    let s = load(&format!("{UPSTREAM}client_secret = \"s3cret\"\n"), &[]).unwrap();
    let p = s.federation.provider("corp").unwrap();
    assert_eq!(
        (p.name.as_str(), p.issuer.as_str(), p.client_id.as_str()),
        ("Corp", "https://sso.corp.example", "tessera")
    );
    assert_eq!(p.client_secret.expose_secret(), "s3cret");
    assert_eq!(p.scopes, ["openid", "email", "profile"]);
    assert!(!p.trust_email);
    assert!(!format!("{s:?}").contains("s3cret"));

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("secret");
    std::fs::write(&file, "from-file\n").unwrap();
    let toml = format!(
        "{UPSTREAM}client_secret_file = {:?}\nscopes = \"openid email\"\ntrust_email = true\n",
        file.display().to_string()
    );
    let s = load(&toml, &[]).unwrap();
    let p = s.federation.provider("corp").unwrap();
    assert_eq!(p.client_secret.expose_secret(), "from-file");
    assert_eq!(p.scopes, ["openid", "email"]);
    assert!(p.trust_email);
    // In the environment, in figment's syntax.
    let env = "[{id=\"corp\", name=\"Corp\", issuer=\"https://sso.corp.example\", client_id=\"c\", client_secret=\"e\", trust_email=true}]";
    let s = load("", &[("FEDERATION__PROVIDERS", env)]).unwrap();
    let p = s.federation.provider("corp").unwrap();
    assert_eq!((p.client_secret.expose_secret(), p.trust_email), ("e", true));
    // Plain http on a loopback address, for development.
    let local = UPSTREAM.replace("https://sso.corp.example", "http://127.0.0.1:9000");
    assert!(load(&format!("{local}client_secret = \"s\"\n"), &[]).is_ok());
}

#[test]
fn federation_providers_are_checked() {
    let with = |extra: &str| format!("{UPSTREAM}client_secret = \"s\"\n{extra}");
    for (toml, key) in [
        (UPSTREAM.to_owned(), "client_secret"),
        (format!("{UPSTREAM}client_secret = \"s\"\nclient_secret_file = \"/x\"\n"), "client_secret"),
        (format!("{UPSTREAM}client_secret_file = \"/nonexistent/secret\"\n"), "client_secret_file"),
        (with("scopes = \"email profile\"\n"), "scopes"),
        (with("").replace("\"corp\"", "\"Corp\""), "id"),
        (with("").replace("\"corp\"", "\"a/b\""), "id"),
        (with("").replace("https://sso.corp.example", "http://sso.corp.example"), "issuer"),
        (with("").replace("https://sso.corp.example", "not a url"), "issuer"),
        (with("").replace("https://sso.corp.example", "https://sso.corp.example/?x=1"), "issuer"),
        (with("").replace("client_id = \"tessera\"", "client_id = \"\""), "client_id"),
        (with("").replace("name = \"Corp\"", "name = \" \""), "name"),
        (format!("{}{}", with(""), with("")), "is used by two providers"),
        (with("colour = \"blue\"\n"), "colour"),
    ] {
        let e = load(&toml, &[]).unwrap_err().to_string();
        assert!(e.contains(key), "{toml}: {e}");
    }
}

#[test]
fn mail_is_off_by_default_and_on_with_a_url_and_a_sender() {
    let s = load("", &[]).unwrap();
    assert!(s.mail.is_none());
    assert_eq!(s.passwords.reset_link, 1800);
    assert_eq!(s.limits.password_reset_ip, Some(Rate { max: 10, window: 3600 }));
    assert_eq!(s.limits.password_reset_user, Some(Rate { max: 3, window: 3600 }));
    let s = load("[mail]\nsmtp_url = \"smtp://127.0.0.1:2525\"\nfrom = \"Tessera <id@example.com>\"\n", &[]).unwrap();
    let mail = s.mail.unwrap();
    assert_eq!((mail.from.as_str(), mail.timeout.as_secs()), ("Tessera <id@example.com>", 10));
    assert_eq!(mail.first_retry.as_secs(), 10);
    // An empty URL (a variable blanking a file's value) is off.
    assert!(load("[mail]\nsmtp_url = \"\"\n", &[]).unwrap().mail.is_none());
    let s = load("", &[("MAIL__SMTP_URL", "smtps://u:p4ss@mail.example"), ("MAIL__FROM", "id@example.com")]).unwrap();
    let shown = format!("{s:?}");
    assert!(s.mail.is_some() && !shown.contains("p4ss"), "{shown}");

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("smtp-password");
    std::fs::write(&file, "from-file\n").unwrap();
    let toml = format!(
        "[mail]\nsmtp_url = \"smtp://tessera@mail.example?tls=required\"\nsmtp_password_file = {:?}\nfrom = \"id@example.com\"\n",
        file.display().to_string()
    );
    let mail = load(&toml, &[]).unwrap().mail.unwrap();
    assert_eq!(mail.password.unwrap().expose_secret(), "from-file");
}

#[test]
fn mail_settings_are_checked() {
    let from = "from = \"id@example.com\"\n";
    for (toml, key) in [
        ("smtp_url = \"smtp://mail.example\"\n".to_owned(), "mail.from"),
        ("smtp_url = \"smtp://mail.example\"\nfrom = \"not a mailbox\"\n".to_owned(), "mail.from"),
        (format!("smtp_url = \"http://mail.example\"\n{from}"), "smtp://"),
        (format!("smtp_url = \"not a url\"\n{from}"), "mail.smtp_url"),
        (format!("smtp_url = \"smtp://mail.example?tls=maybe\"\n{from}"), "tls"),
        (format!("smtp_url = \"smtps://mail.example?tls=required\"\n{from}"), "tls"),
        // A password that would travel in clear text.
        (format!("smtp_url = \"smtp://u:secret@mail.example\"\n{from}"), "unencrypted"),
        (format!("smtp_url = \"smtp://u:secret@mail.example?tls=opportunistic\"\n{from}"), "unencrypted"),
        (format!("smtp_url = \"smtps://u:secret@mail.example\"\nsmtp_password_file = \"/x\"\n{from}"), "set one"),
        (format!("smtp_url = \"smtps://mail.example\"\nsmtp_password_file = \"/x\"\n{from}"), "user name"),
        (format!("smtp_url = \"smtps://u@mail.example\"\nsmtp_password_file = \"/nonexistent\"\n{from}"), "read"),
        ("smtp_password_file = \"/x\"\n".to_owned(), "without `mail.smtp_url`"),
        (format!("smtp_url = \"smtps://mail.example\"\ntimeout_seconds = 0\n{from}"), "mail.timeout_seconds"),
        (format!("smtp_url = \"smtps://mail.example\"\nretry_seconds = 0\n{from}"), "mail.retry_seconds"),
        (format!("smtp_url = \"smtps://mail.example\"\nretry_seconds = 301\n{from}"), "mail.retry_seconds"),
        (format!("smtp_url = \"smtps://mail.example\"\nport = 25\n{from}"), "port"),
    ] {
        let e = load(&format!("[mail]\n{toml}"), &[]).unwrap_err().to_string();
        assert!(e.contains(key), "{toml}: {e}");
        assert!(!e.contains("secret@"), "the URL's password is never quoted: {e}");
    }
    for seconds in ["0", "86401"] {
        let e = load(&format!("[passwords]\nreset_link_seconds = {seconds}"), &[]).unwrap_err().to_string();
        assert!(e.contains("passwords.reset_link_seconds"), "{e}");
    }
    let s = load("[limits]\npassword_reset_ip_requests = 0\npassword_reset_user_requests = 0", &[]).unwrap();
    assert_eq!((s.limits.password_reset_ip, s.limits.password_reset_user), (None, None));
    let e = load("[limits]\npassword_reset_user_window_seconds = 0", &[]).unwrap_err().to_string();
    assert!(e.contains("limits.password_reset_user_window_seconds"), "{e}");
}

#[test]
fn email_verification_settings_are_checked() {
    let s = load("", &[]).unwrap();
    assert_eq!(s.limits.email_verification_user, Some(Rate { max: 3, window: 3600 }));
    let s = load("[users]\nemail_verification_link_seconds = 600\n[limits]\nemail_verification_user_requests = 0", &[])
        .unwrap();
    assert_eq!((s.users.email_verification_link, s.limits.email_verification_user), (600, None));
    for seconds in ["0", "604801"] {
        let e = load(&format!("[users]\nemail_verification_link_seconds = {seconds}"), &[]).unwrap_err().to_string();
        assert!(e.contains("users.email_verification_link_seconds"), "{e}");
    }
    let e = load("[limits]\nemail_verification_user_window_seconds = 0", &[]).unwrap_err().to_string();
    assert!(e.contains("limits.email_verification_user_window_seconds"), "{e}");
}

#[test]
fn the_pages_default_language_is_english_and_may_be_set_to_one_of_ours() {
    use crate::i18n::Locale;
    assert_eq!(load("", &[]).unwrap().ui.default_locale, Locale::En);
    assert_eq!(load("[ui]\ndefault_locale = \"de\"", &[]).unwrap().ui.default_locale, Locale::De);
    assert_eq!(load("", &[("UI__DEFAULT_LOCALE", "fr")]).unwrap().ui.default_locale, Locale::Fr);
    for refused in ["es", "de-CH", "", "german"] {
        let e = load(&format!("[ui]\ndefault_locale = {refused:?}"), &[]).unwrap_err().to_string();
        assert!(e.contains("ui.default_locale") && e.contains("en, de, fr"), "{refused}: {e}");
    }
}
