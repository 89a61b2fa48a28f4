//! Operational counters, and their rendering in the Prometheus text exposition format (version 0.0.4) for
//! `GET /metrics`.
//!
//! Counting is an atomic add with relaxed ordering: no lock, no allocation, a few nanoseconds. The only lock is
//! taken when the route table registers a route (once per worker at start) and when a scrape lists the routes.
//! Labels come from fixed sets only (route patterns, status classes, grant types, error codes): never a client
//! id, user, token or address, so that cardinality stays bounded and nothing secret can reach a scrape.
//!
//! This module knows no HTTP framework: `oauth` counts through its plain methods, `http` times requests and
//! serves the text.
use crate::domain::GrantType;
use parking_lot::Mutex;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// `Content-Type` of the exposition.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The route label of requests that matched no route (404s of unknown paths, and methods a path does not take).
pub const UNMATCHED: &str = "unmatched";

/// Upper bounds of the request duration buckets, in seconds (`+Inf` follows).
const BUCKETS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];
/// The same bounds in nanoseconds, for comparing without floating point.
const BUCKET_NANOS: [u64; 10] = [
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
    2_500_000_000,
    5_000_000_000,
];

/// Status classes, `1xx` to `5xx`.
const STATUS_CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

/// Grant types, in the order of their counters.
const GRANTS: [GrantType; 5] = [
    GrantType::AuthorizationCode,
    GrantType::RefreshToken,
    GrantType::ClientCredentials,
    GrantType::DeviceCode,
    GrantType::TokenExchange,
];

/// Error codes the token endpoint answers with (RFC 6749 §5.2, RFC 8707, RFC 8628 §3.5, RFC 9449 §5 and §8, and
/// the 429 of the abuse limits); any other is counted as `other`.
const TOKEN_ERRORS: [&str; 17] = [
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
    "invalid_target",
    "server_error",
    "temporarily_unavailable",
    "too_many_requests",
    "authorization_pending",
    "slow_down",
    "access_denied",
    "expired_token",
    "invalid_dpop_proof",
    "use_dpop_nonce",
    "other",
];

/// How a sign-in attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignIn {
    /// The password was right.
    Succeeded,
    /// Wrong username or password.
    Failed,
    /// Refused unchecked: the IP or the name was locked by earlier failures.
    Locked,
}

impl SignIn {
    const ALL: [SignIn; 3] = [SignIn::Succeeded, SignIn::Failed, SignIn::Locked];

    fn as_str(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Locked => "locked",
        }
    }
}

/// A security event that has a counter of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecurityEvent {
    /// Failures locked an IP or a username.
    SignInLockout,
    /// A rotated refresh token came back (its family was revoked).
    RefreshTokenReuse,
    /// An authorization code was presented again.
    CodeReplay,
    /// A revoked refresh token was presented.
    RevokedTokenPresented,
}

/// How loaded one pool of blocking threads is, read when scraped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PoolLoad {
    /// Threads in the pool.
    pub threads: usize,
    /// Threads running a job.
    pub busy: usize,
    /// Jobs waiting for a thread.
    pub queued: usize,
}

/// The requests one route pattern answered.
#[derive(Debug, Default)]
pub struct RouteStats {
    /// By status class, `1xx` to `5xx`.
    status: [AtomicU64; 5],
    /// How many took at most each bound of [`BUCKETS`] and more than the one before; the last is `+Inf`.
    buckets: [AtomicU64; BUCKETS.len() + 1],
    sum_nanos: AtomicU64,
}

impl RouteStats {
    /// Counts one answer with status `status`, which took `took`.
    pub fn observe(&self, status: u16, took: Duration) {
        let class = usize::from(status / 100).clamp(1, 5) - 1;
        if let Some(c) = self.status.get(class) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        let bucket = BUCKET_NANOS.iter().position(|&bound| nanos <= bound).unwrap_or(BUCKET_NANOS.len());
        if let Some(b) = self.buckets.get(bucket) {
            b.fetch_add(1, Ordering::Relaxed);
        }
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }
}

/// What became of a mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailOutcome {
    /// The SMTP server took it.
    Sent = 0,
    /// Delivery failed (the cause is logged).
    Failed = 1,
    /// The send queue was full: not sent.
    Dropped = 2,
    /// An attempt failed for a reason that may pass (no connection, a 4xx reply): the mail is tried again.
    Retried = 3,
}

impl MailOutcome {
    const ALL: [Self; 4] = [Self::Sent, Self::Failed, Self::Dropped, Self::Retried];

    fn as_str(self) -> &'static str {
        match self {
            Self::Sent => "sent",
            Self::Failed => "failed",
            Self::Dropped => "dropped",
            Self::Retried => "retried",
        }
    }
}

/// Every counter of one server.
#[derive(Debug)]
pub struct Metrics {
    /// Unix time, in seconds, when the server started.
    started_at: f64,
    /// By route pattern, in the order registered. Locked only to register a route and to scrape.
    routes: Mutex<Vec<(String, Arc<RouteStats>)>>,
    tokens_issued: [AtomicU64; GRANTS.len()],
    token_errors: [AtomicU64; TOKEN_ERRORS.len()],
    sign_ins: [AtomicU64; SignIn::ALL.len()],
    sign_in_lockouts: AtomicU64,
    refresh_token_reuse: AtomicU64,
    code_replays: AtomicU64,
    revoked_tokens_presented: AtomicU64,
    /// Logout tokens delivered, and those given up on.
    logout_notices: [AtomicU64; 2],
    /// Mails delivered, failed, and dropped for a full queue; attempts retried.
    mails: [AtomicU64; MailOutcome::ALL.len()],
}

impl Metrics {
    /// All zero, started at `started_at`.
    pub fn new(started_at: SystemTime) -> Self {
        Self {
            started_at: started_at.duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64()),
            routes: Mutex::default(),
            tokens_issued: Default::default(),
            token_errors: Default::default(),
            sign_ins: Default::default(),
            sign_in_lockouts: AtomicU64::new(0),
            refresh_token_reuse: AtomicU64::new(0),
            code_replays: AtomicU64::new(0),
            revoked_tokens_presented: AtomicU64::new(0),
            logout_notices: Default::default(),
            mails: Default::default(),
        }
    }

    /// The counters of the route `pattern` (as written in the route table, or [`UNMATCHED`]), shared by every
    /// worker and every method registered under it. For building the route table, not for requests.
    pub fn route(&self, pattern: &str) -> Arc<RouteStats> {
        let mut routes = self.routes.lock();
        if let Some((_, stats)) = routes.iter().find(|(p, _)| p == pattern) {
            return Arc::clone(stats);
        }
        let stats = Arc::new(RouteStats::default());
        routes.push((pattern.to_owned(), Arc::clone(&stats)));
        stats
    }

    /// A token response was sent for `grant`.
    pub fn token_issued(&self, grant: GrantType) {
        let i = GRANTS.iter().position(|g| *g == grant).unwrap_or(0);
        if let Some(c) = self.tokens_issued.get(i) {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The token endpoint answered with the error `code` (its wire name).
    pub fn token_error(&self, code: &str) {
        let i = TOKEN_ERRORS.iter().position(|c| *c == code).unwrap_or(TOKEN_ERRORS.len() - 1);
        if let Some(c) = self.token_errors.get(i) {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A sign-in attempt ended as `outcome`.
    pub fn sign_in(&self, outcome: SignIn) {
        let i = SignIn::ALL.iter().position(|o| *o == outcome).unwrap_or(0);
        if let Some(c) = self.sign_ins.get(i) {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// `event` happened.
    pub fn security_event(&self, event: SecurityEvent) {
        let counter = match event {
            SecurityEvent::SignInLockout => &self.sign_in_lockouts,
            SecurityEvent::RefreshTokenReuse => &self.refresh_token_reuse,
            SecurityEvent::CodeReplay => &self.code_replays,
            SecurityEvent::RevokedTokenPresented => &self.revoked_tokens_presented,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// A logout token was delivered to a client's `backchannel_logout_uri`, or given up on after its retries.
    pub fn logout_notice(&self, delivered: bool) {
        if let Some(c) = self.logout_notices.get(usize::from(!delivered)) {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A mail was delivered to the SMTP server, failed, or was dropped unsent because the queue was full; or one of
    /// its attempts failed and it is tried again.
    pub fn mail(&self, outcome: MailOutcome) {
        if let Some(c) = self.mails.get(outcome as usize) {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The exposition: every counter, then the load of `pools` (label value, load) as read by the caller.
    pub fn render(&self, pools: &[(&str, PoolLoad)]) -> String {
        let mut out = Exposition::default();
        out.family("tessera_build_info", "gauge", "The version of Tessera that is running.");
        out.sample("tessera_build_info", &[("version", env!("CARGO_PKG_VERSION"))], 1);
        out.family("tessera_process_start_time_seconds", "gauge", "When this server started, in Unix time.");
        out.sample_f64("tessera_process_start_time_seconds", &[], self.started_at);

        // Sorted by pattern, so that a scrape reads the same from one to the next.
        let mut routes: Vec<(String, Arc<RouteStats>)> = self.routes.lock().clone();
        routes.sort_by(|a, b| a.0.cmp(&b.0));
        out.family(
            "tessera_http_requests_total",
            "counter",
            "HTTP requests answered, by route pattern and status class.",
        );
        for (route, stats) in &routes {
            for (class, c) in STATUS_CLASSES.iter().zip(&stats.status) {
                let n = c.load(Ordering::Relaxed);
                if n > 0 {
                    out.sample("tessera_http_requests_total", &[("route", route), ("status", class)], n);
                }
            }
        }
        out.family(
            "tessera_http_request_duration_seconds",
            "histogram",
            "Time from routing a request to its response being ready, by route pattern.",
        );
        for (route, stats) in &routes {
            let counts: Vec<u64> = stats.buckets.iter().map(|b| b.load(Ordering::Relaxed)).collect();
            if counts.iter().any(|&n| n > 0) {
                let sum = stats.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
                out.histogram("tessera_http_request_duration_seconds", &[("route", route)], &BUCKETS, &counts, sum);
            }
        }

        out.family("tessera_tokens_issued_total", "counter", "Token responses sent, by grant type.");
        for (grant, c) in GRANTS.iter().zip(&self.tokens_issued) {
            out.sample("tessera_tokens_issued_total", &[("grant_type", grant.as_str())], c.load(Ordering::Relaxed));
        }
        out.family("tessera_token_errors_total", "counter", "Error responses of the token endpoint, by error code.");
        for (code, c) in TOKEN_ERRORS.iter().zip(&self.token_errors) {
            out.sample("tessera_token_errors_total", &[("error", code)], c.load(Ordering::Relaxed));
        }
        out.family(
            "tessera_sign_ins_total",
            "counter",
            "Password sign-in attempts, by result (locked: refused unchecked while a lock holds).",
        );
        for (outcome, c) in SignIn::ALL.iter().zip(&self.sign_ins) {
            out.sample("tessera_sign_ins_total", &[("result", outcome.as_str())], c.load(Ordering::Relaxed));
        }
        out.family(
            "tessera_backchannel_logout_notices_total",
            "counter",
            "Logout tokens sent to clients' backchannel_logout_uri, by result (failed: given up after retries).",
        );
        for (result, c) in ["delivered", "failed"].iter().zip(&self.logout_notices) {
            out.sample("tessera_backchannel_logout_notices_total", &[("result", result)], c.load(Ordering::Relaxed));
        }
        out.family(
            "tessera_mails_total",
            "counter",
            "Mails handed to the SMTP server, by result (dropped: the send queue was full; retried: a failed attempt).",
        );
        for (result, c) in MailOutcome::ALL.iter().zip(&self.mails) {
            out.sample("tessera_mails_total", &[("result", result.as_str())], c.load(Ordering::Relaxed));
        }
        let singles = [
            (
                "tessera_sign_in_lockouts_total",
                "Locks put on an IP or a username after failed sign-ins.",
                &self.sign_in_lockouts,
            ),
            (
                "tessera_refresh_token_reuse_total",
                "Rotated refresh tokens presented again; each revoked its token family.",
                &self.refresh_token_reuse,
            ),
            ("tessera_code_replays_total", "Authorization codes presented again.", &self.code_replays),
            (
                "tessera_revoked_tokens_presented_total",
                "Revoked refresh tokens presented.",
                &self.revoked_tokens_presented,
            ),
        ];
        for (name, help, c) in singles {
            out.family(name, "counter", help);
            out.sample(name, &[], c.load(Ordering::Relaxed));
        }

        let gauges = [
            ("tessera_blocking_pool_threads", "Threads of each pool of blocking work."),
            ("tessera_blocking_pool_busy_threads", "Threads running a job, by pool."),
            ("tessera_blocking_pool_queued_jobs", "Jobs waiting for a thread, by pool."),
        ];
        for (i, (name, help)) in gauges.into_iter().enumerate() {
            out.family(name, "gauge", help);
            for (pool, load) in pools {
                let value = [load.threads, load.busy, load.queued].get(i).copied().unwrap_or(0);
                out.sample(name, &[("pool", pool)], value as u64);
            }
        }
        out.text
    }
}

/// Writes the text format: `# HELP` and `# TYPE` once per family, then its samples.
#[derive(Default)]
struct Exposition {
    text: String,
}

impl Exposition {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        // HELP text escapes backslash and line feed.
        let help = help.replace('\\', r"\\").replace('\n', r"\n");
        let _ = writeln!(self.text, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: u64) {
        self.series(name, labels, None);
        let _ = writeln!(self.text, " {value}");
    }

    fn sample_f64(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.series(name, labels, None);
        let _ = writeln!(self.text, " {}", float(value));
    }

    /// `counts` are per bucket (not cumulative), one per bound and one for `+Inf`; they are written cumulative,
    /// with `_sum` and `_count`.
    fn histogram(&mut self, name: &str, labels: &[(&str, &str)], bounds: &[f64], counts: &[u64], sum: f64) {
        let bucket = format!("{name}_bucket");
        let mut cumulative = 0u64;
        for (i, n) in counts.iter().enumerate() {
            cumulative = cumulative.saturating_add(*n);
            let le = bounds.get(i).map_or_else(|| "+Inf".to_owned(), |b| float(*b));
            self.series(&bucket, labels, Some(&le));
            let _ = writeln!(self.text, " {cumulative}");
        }
        self.series(&format!("{name}_sum"), labels, None);
        let _ = writeln!(self.text, " {}", float(sum));
        self.series(&format!("{name}_count"), labels, None);
        let _ = writeln!(self.text, " {cumulative}");
    }

    /// `name{label="value",…}`, with `le` last when given; label values escape backslash, quote and line feed.
    fn series(&mut self, name: &str, labels: &[(&str, &str)], le: Option<&str>) {
        self.text.push_str(name);
        let le = le.map(|le| ("le", le));
        let all = labels.iter().copied().chain(le);
        for (i, (label, value)) in all.enumerate() {
            self.text.push(if i == 0 { '{' } else { ',' });
            self.text.push_str(label);
            self.text.push_str("=\"");
            for ch in value.chars() {
                match ch {
                    '\\' => self.text.push_str(r"\\"),
                    '"' => self.text.push_str("\\\""),
                    '\n' => self.text.push_str(r"\n"),
                    c => self.text.push(c),
                }
            }
            self.text.push('"');
        }
        if !labels.is_empty() || le.is_some() {
            self.text.push('}');
        }
    }
}

/// A float as Prometheus reads it: `+Inf`, `-Inf`, `NaN`, or Rust's shortest round-trip form (`0.005`, `1`).
fn float(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_owned()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.to_owned()
    } else {
        v.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<&str> {
        text.lines().collect()
    }

    #[test]
    fn every_family_has_help_then_type_once() {
        let m = Metrics::new(UNIX_EPOCH + Duration::from_secs(1_700_000_000));
        m.route("/token").observe(200, Duration::from_millis(3));
        let text = m.render(&[("signing", PoolLoad { threads: 4, busy: 1, queued: 0 })]);
        let mut families = Vec::new();
        let all = lines(&text);
        for (i, line) in all.iter().enumerate() {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                let name = rest.split(' ').next().unwrap();
                assert!(all[i + 1].starts_with(&format!("# TYPE {name} ")), "{text}");
                assert!(!families.contains(&name), "{name} twice:\n{text}");
                families.push(name);
            } else if !line.starts_with('#') {
                // Every sample belongs to the family declared last.
                let family = families.last().unwrap();
                assert!(line.starts_with(family), "{line} outside {family}:\n{text}");
            }
        }
        assert!(families.contains(&"tessera_http_requests_total"), "{text}");
        assert!(text.contains("# TYPE tessera_http_request_duration_seconds histogram\n"), "{text}");
        assert!(text.contains("# TYPE tessera_tokens_issued_total counter\n"), "{text}");
        assert!(text.contains("tessera_process_start_time_seconds 1700000000\n"), "{text}");
        assert!(text.contains("tessera_blocking_pool_threads{pool=\"signing\"} 4\n"), "{text}");
        assert!(text.contains("tessera_blocking_pool_busy_threads{pool=\"signing\"} 1\n"), "{text}");
        assert!(text.ends_with('\n'));
    }

    #[test]
    fn histogram_buckets_are_cumulative_and_end_with_inf_sum_and_count() {
        let m = Metrics::new(UNIX_EPOCH);
        let stats = m.route("/token");
        stats.observe(200, Duration::from_millis(2)); // 0.005
        stats.observe(200, Duration::from_millis(5)); // 0.005: the bound is inclusive
        stats.observe(400, Duration::from_millis(30)); // 0.05
        stats.observe(500, Duration::from_secs(7)); // +Inf only
        let text = m.render(&[]);
        let buckets: Vec<&str> =
            lines(&text).into_iter().filter(|l| l.starts_with("tessera_http_request_duration_seconds")).collect();
        assert_eq!(
            buckets,
            [
                r#"tessera_http_request_duration_seconds_bucket{route="/token",le="0.005"} 2"#,
                r#"tessera_http_request_duration_seconds_bucket{route="/token",le="0.01"} 2"#,
                r#"tessera_http_request_duration_seconds_bucket{route="/token",le="0.025"} 2"#,
                r#"tessera_http_request_duration_seconds_bucket{route="/token",le="0.05"} 3"#,
                r#"tessera_http_request_duration_seconds_bucket{route="/token",le="0.1"} 3"#,
                r#"tessera_http_request_duration_seconds_bucket{route="/token",le="0.25"} 3"#,
                r#"tessera_http_request_duration_seconds_bucket{route="/token",le="0.5"} 3"#,
                r#"tessera_http_request_duration_seconds_bucket{route="/token",le="1"} 3"#,
                r#"tessera_http_request_duration_seconds_bucket{route="/token",le="2.5"} 3"#,
                r#"tessera_http_request_duration_seconds_bucket{route="/token",le="5"} 3"#,
                r#"tessera_http_request_duration_seconds_bucket{route="/token",le="+Inf"} 4"#,
                r#"tessera_http_request_duration_seconds_sum{route="/token"} 7.037"#,
                r#"tessera_http_request_duration_seconds_count{route="/token"} 4"#,
            ]
        );
        assert!(text.contains("tessera_http_requests_total{route=\"/token\",status=\"2xx\"} 2\n"), "{text}");
        assert!(text.contains("tessera_http_requests_total{route=\"/token\",status=\"4xx\"} 1\n"), "{text}");
        assert!(text.contains("tessera_http_requests_total{route=\"/token\",status=\"5xx\"} 1\n"), "{text}");
        // Classes never seen are left out rather than written as zero.
        assert!(!text.contains("status=\"3xx\""), "{text}");
    }

    #[test]
    fn label_values_and_help_are_escaped() {
        let mut out = Exposition::default();
        out.family("x_total", "counter", "a \\ b\nc");
        out.sample("x_total", &[("route", "/a\\b\"c\nd"), ("status", "2xx")], 3);
        out.sample("x_total", &[], 4);
        assert_eq!(out.text, "# HELP x_total a \\\\ b\\nc\n# TYPE x_total counter\nx_total{route=\"/a\\\\b\\\"c\\nd\",status=\"2xx\"} 3\nx_total 4\n");
    }

    #[test]
    fn routes_registered_twice_share_their_counters() {
        let m = Metrics::new(UNIX_EPOCH);
        m.route("/authorize").observe(200, Duration::ZERO);
        m.route("/authorize").observe(302, Duration::ZERO);
        m.route(UNMATCHED).observe(404, Duration::ZERO);
        let text = m.render(&[]);
        assert!(text.contains("tessera_http_requests_total{route=\"/authorize\",status=\"2xx\"} 1\n"), "{text}");
        assert!(text.contains("tessera_http_requests_total{route=\"/authorize\",status=\"3xx\"} 1\n"), "{text}");
        assert!(text.contains("tessera_http_requests_total{route=\"unmatched\",status=\"4xx\"} 1\n"), "{text}");
        assert!(text.contains("tessera_http_request_duration_seconds_count{route=\"/authorize\"} 2\n"), "{text}");
    }

    #[test]
    fn protocol_counters_are_written_with_their_fixed_labels() {
        let m = Metrics::new(UNIX_EPOCH);
        m.token_issued(GrantType::ClientCredentials);
        m.token_issued(GrantType::ClientCredentials);
        m.token_error("invalid_client");
        m.token_error("something_new");
        m.token_issued(GrantType::DeviceCode);
        m.token_issued(GrantType::TokenExchange);
        m.token_error("slow_down");
        m.sign_in(SignIn::Failed);
        m.security_event(SecurityEvent::CodeReplay);
        m.security_event(SecurityEvent::RefreshTokenReuse);
        m.logout_notice(false);
        let text = m.render(&[]);
        for line in [
            "tessera_tokens_issued_total{grant_type=\"client_credentials\"} 2",
            "tessera_tokens_issued_total{grant_type=\"authorization_code\"} 0",
            "tessera_token_errors_total{error=\"invalid_client\"} 1",
            "tessera_token_errors_total{error=\"other\"} 1",
            "tessera_token_errors_total{error=\"invalid_grant\"} 0",
            "tessera_tokens_issued_total{grant_type=\"urn:ietf:params:oauth:grant-type:device_code\"} 1",
            "tessera_tokens_issued_total{grant_type=\"urn:ietf:params:oauth:grant-type:token-exchange\"} 1",
            "tessera_token_errors_total{error=\"slow_down\"} 1",
            "tessera_sign_ins_total{result=\"failed\"} 1",
            "tessera_sign_ins_total{result=\"succeeded\"} 0",
            "tessera_code_replays_total 1",
            "tessera_refresh_token_reuse_total 1",
            "tessera_sign_in_lockouts_total 0",
            "tessera_backchannel_logout_notices_total{result=\"delivered\"} 0",
            "tessera_backchannel_logout_notices_total{result=\"failed\"} 1",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing:\n{text}");
        }
    }

    #[test]
    fn floats_are_written_as_prometheus_reads_them() {
        assert_eq!(float(0.005), "0.005");
        assert_eq!(float(1.0), "1");
        assert_eq!(float(f64::INFINITY), "+Inf");
        assert_eq!(float(f64::NEG_INFINITY), "-Inf");
        assert_eq!(float(f64::NAN), "NaN");
    }
}
