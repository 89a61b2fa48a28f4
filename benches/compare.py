#!/usr/bin/env python3
"""Prints the benchmark tables of one run (bench-results/<time>/) with each figure's ratio to the peer: the kit's
single-request scenarios (wrk), the multi-step scenarios of benches/flows.rs, and the peak RSS of each server."""
import json
import pathlib
import re
import sys

run = pathlib.Path(sys.argv[1])
# benches/flows.rs scenarios and the unit of their rate.
FLOWS = {"flow_session": "flows/s", "refresh": "refreshes/s", "login": "logins/s"}


def rows(path):
    f = path / "runs.jsonl"
    if not f.exists():
        return []
    return [json.loads(line) for line in f.read_text().splitlines() if line.strip()]


def runs(path):
    return {(r["scenario"], r["conns"]): r for r in rows(path)}


def peak_mib(path):
    """The largest VmHWM of any server process this configuration ran (the kit's and the driver's)."""
    kb = [r.get("vmhwm_kb") or 0 for r in rows(path)]
    return max(kb) / 1024 if kb and max(kb) else None


def num(v, fmt):
    return "-" if v is None else format(v, fmt)


def flow_table(ours, peer):
    keys = sorted((k for k in ours if k[0] in FLOWS), key=lambda k: (list(FLOWS).index(k[0]), k[1]))
    if not keys:
        return
    print("Multi-step scenarios (benches/flows.rs); rates are operations per second, latencies per operation:\n")
    print("| scenario | conns | rate | peer rate | ratio | p50 ms | p99 ms | peer p50 ms | peer p99 ms | failed | "
          "peer failed | server CPU | peer server CPU | client CPU | HTTP req/op (peer) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for key in keys:
        r, p = ours[key], peer.get(key)
        g = (lambda f: p.get(f)) if p else (lambda f: None)
        ratio = f"{r['rps'] / p['rps']:.2f}x" if p and p["rps"] else "-"
        print(
            f"| {key[0]} ({FLOWS[key[0]]}) | {key[1]} | {r['rps']:.1f} | {num(g('rps'), '.1f')} | {ratio} | "
            f"{r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {num(g('p50_ms'), '.2f')} | {num(g('p99_ms'), '.2f')} | "
            f"{r['status_ge_400']} | {num(g('status_ge_400'), 'd')} | {num(r.get('server_cpu_cores'), '.2f')} | "
            f"{num(g('server_cpu_cores'), '.2f')} | {num(r.get('client_cpu_cores'), '.2f')} | "
            f"{r.get('http_requests_per_op', '-')} ({num(g('http_requests_per_op'), 'd')}) |"
        )
    print()
    for scenario in FLOWS:
        ours_note = next((r.get("notes") for k, r in ours.items() if k[0] == scenario), None)
        peer_note = next((r.get("notes") for k, r in peer.items() if k[0] == scenario), None)
        if ours_note:
            print(f"- {scenario}: Tessera: {ours_note}." + (f" Peer: {peer_note}." if peer_note else ""))
    for who, table in (("Tessera", ours), ("Peer", peer)):
        note = next((r.get("server_note") for k, r in table.items() if k[0] in FLOWS and r.get("server_note")), None)
        if note:
            print(f"- {who}: {note}.")
    print()


def openssl_sign_rate(path):
    text = path.read_text() if path.exists() else ""
    m = re.search(r"rsa\s+2048 bits\s+\S+\s+\S+\s+([\d.]+)\s+([\d.]+)", text)
    return float(m.group(1)) if m else None


def config_sign_rate(cfg):
    """The openssl rate around this configuration's single-request scenarios (the mean of the readings just
    before and just after them), or the run's first reading when those are missing."""
    around = [openssl_sign_rate(cfg / f"openssl-{when}.txt") for when in ("before", "after")]
    if all(around):
        print(f"openssl speed -multi around these scenarios: {around[0]:.0f} before, {around[1]:.0f} after; "
              f"client_credentials is read against their mean, {sum(around) / 2:.0f} sign/s\n")
        return sum(around) / 2
    return sign


def inprocess_sign_rate():
    text = (run / "inprocess-sign.txt").read_text() if (run / "inprocess-sign.txt").exists() else ""
    m = re.search(r"\((\d+) threads.*?([\d.]+) sign/s", text)
    return (float(m.group(2)), int(m.group(1))) if m else (None, None)


peer = runs(run / "peer")
sign = openssl_sign_rate(run / "openssl-speed.txt")
inprocess, inprocess_threads = inprocess_sign_rate()
print(f"# Benchmark {run.name}\n")
print((run / "conditions.txt").read_text() if (run / "conditions.txt").exists() else "")
if sign:
    print(f"openssl speed -multi (all cores) RSA-2048: {sign:.0f} sign/s\n")
if inprocess:
    share = f" ({inprocess / sign:.0%} of openssl speed)" if sign else ""
    print(f"in-process ceiling (benches/signing.rs, all cores, no HTTP): {inprocess:.0f} sign/s{share}\n")
for cfg in sorted(run.glob("tessera-*")):
    ours = runs(cfg / "results")
    print(f"## Tessera on {cfg.name.removeprefix('tessera-')}\n")
    cfg_sign = config_sign_rate(cfg)
    print("| scenario | conns | req/s | peer req/s | ratio | p50 ms | p99 ms | peer p99 ms | non-2xx | server CPU | VmHWM MiB | peer VmHWM MiB |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for (scenario, conns), r in sorted((k, v) for k, v in ours.items() if k[0] not in FLOWS):
        p = peer.get((scenario, conns)) or (peer.get(("introspect", conns)) if scenario == "introspect" else None)
        ratio = f"{r['rps'] / p['rps']:.2f}x" if p else "-"
        print(
            f"| {scenario} | {conns} | {r['rps']:.0f} | {p['rps']:.0f} | {ratio} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | "
            f"{p['p99_ms']:.2f} | {r['status_ge_400']} | {r['server_cpu_cores']:.2f} | {r['vmhwm_kb'] / 1024:.1f} | "
            f"{p['vmhwm_kb'] / 1024:.1f} |"
            if p
            else f"| {scenario} | {conns} | {r['rps']:.0f} | - | - | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | - | "
            f"{r['status_ge_400']} | {r['server_cpu_cores']:.2f} | {r['vmhwm_kb'] / 1024:.1f} | - |"
        )
        if scenario == "token_cc_jwt" and cfg_sign:
            print(f"|  ↳ share of the openssl RSA-2048 signing rate | | {r['rps'] / cfg_sign:.0%} | | | | | | | | | |")
        if scenario == "token_cc_jwt" and inprocess:
            print(f"|  ↳ share of the in-process signing ceiling | | {r['rps'] / inprocess:.0%} | | | | | | | | | |")
            # The load generator shares the cores: per core the server used, what is left is request handling.
            per_core = r["rps"] / r["server_cpu_cores"] / (inprocess / inprocess_threads) if r["server_cpu_cores"] else 0
            print(f"|  ↳ the same, per core the server used | | {per_core:.0%} | | | | | | | | | |")
    print()
    flow_table(ours, peer)
print("Peer introspection works on opaque tokens (it refuses JWTs); Tessera's introspects its RS256 JWT,")
print("checking signature, expiry, revocation (cache, then SQL) and the client and user rows.")
print("In the multi-step scenarios, `failed` counts operations with any unexpected status, a missing code, a")
print("wrong state or iss, or an id_token that fails verification; client CPU is the driver's own.\n")

peaks = [("peer", peak_mib(run / "peer"))] + [
    (f"Tessera on {cfg.name.removeprefix('tessera-')}", peak_mib(cfg / "results")) for cfg in sorted(run.glob("tessera-*"))
]
peer_peak = peaks[0][1]
print("## Peak RSS (VmHWM, largest over every server process of the configuration, whole run)\n")
print("| server | peak MiB | vs peer |")
print("|---|---:|---:|")
for name, mib in peaks:
    if mib is not None:
        print(f"| {name} | {mib:.1f} | {f'{mib / peer_peak:.2f}x' if peer_peak else '-'} |")
