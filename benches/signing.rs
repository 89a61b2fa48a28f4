//! The in-process ceiling for RS256 issuance: Tessera's own signing path (`SigningKey::sign_jwt` on an access
//! token's claims: JSON, base64url, RSA-2048 through OpenSSL) on N threads of one process, with no HTTP and
//! no request handling. `benches/bench.sh` prints it next to `openssl speed -multi` (separate processes),
//! so the client_credentials figure can be read against both: what threads of one process can sign at all,
//! and what the request handling around each signature costs on top.
//!
//! ```text
//! cargo build --release --bench signing    # then run target/release/deps/signing-<hash> directly:
//! signing --threads 2 --duration 5
//! ```
use anyhow::Result;
use clap::Parser;
use josekit::jwt::JwtPayload;
use serde_json::json;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tessera::jose::key::NewKey;
use tessera::jose::{Kek, SigningKey};

#[derive(Parser, Debug)]
struct Args {
    /// Signing threads (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
    /// Seconds to measure, after one second of warm-up.
    #[arg(long, default_value_t = 5)]
    duration: u64,
}

fn access_token_claims() -> Result<JwtPayload> {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
    let claims = json!({
        "iss": "http://127.0.0.1:3000",
        "sub": "bench-client",
        "aud": "https://api.example.test",
        "client_id": "bench-client",
        "scope": "api:read",
        "iat": now,
        "exp": now + 600,
        "jti": "0123456789abcdefghijkl",
    });
    let serde_json::Value::Object(map) = claims else { anyhow::bail!("claims are an object") };
    Ok(JwtPayload::from_map(map)?)
}

/// Signatures made by `threads` threads in `duration`.
fn measure(key: &SigningKey, claims: &JwtPayload, threads: usize, duration: Duration) -> Result<u64> {
    let stop = AtomicBool::new(false);
    let signed = AtomicU64::new(0);
    std::thread::scope(|s| -> Result<()> {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| -> Result<()> {
                    while !stop.load(Ordering::Relaxed) {
                        key.sign_jwt(claims, "at+jwt")?;
                        signed.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(())
                })
            })
            .collect();
        std::thread::sleep(duration);
        stop.store(true, Ordering::Relaxed);
        for w in workers {
            w.join().map_err(|_| anyhow::anyhow!("a signing thread panicked"))??;
        }
        Ok(())
    })?;
    Ok(signed.load(Ordering::Relaxed))
}

fn main() -> Result<()> {
    let args = Args::parse();
    let threads = match args.threads {
        Some(n) => n.max(1),
        None => std::thread::available_parallelism()?.get(),
    };
    // The server's path: a key made with OpenSSL, sealed as stored, and unsealed as the ring loads it.
    let kek = Kek::from_bytes([7; 32]);
    let key = SigningKey::unseal(&NewKey::generate(2048)?.seal(&kek, 0, 0)?, &kek)?;
    let claims = access_token_claims()?;
    measure(&key, &claims, threads, Duration::from_secs(1))?;
    let started = Instant::now();
    let signed = measure(&key, &claims, threads, Duration::from_secs(args.duration.max(1)))?;
    let rate = signed as f64 / started.elapsed().as_secs_f64();
    println!("in-process RS256 ({threads} threads, SigningKey::sign_jwt): {rate:.0} sign/s");
    Ok(())
}
