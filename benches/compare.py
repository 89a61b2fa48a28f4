#!/usr/bin/env python3
"""Prints the benchmark tables of one run (bench-results/<time>/) with each figure's ratio to the peer."""
import json
import pathlib
import re
import sys

run = pathlib.Path(sys.argv[1])


def runs(path):
    f = path / "runs.jsonl"
    if not f.exists():
        return {}
    rows = [json.loads(line) for line in f.read_text().splitlines() if line.strip()]
    return {(r["scenario"], r["conns"]): r for r in rows}


def openssl_sign_rate():
    text = (run / "openssl-speed.txt").read_text() if (run / "openssl-speed.txt").exists() else ""
    m = re.search(r"rsa\s+2048 bits\s+\S+\s+\S+\s+([\d.]+)\s+([\d.]+)", text)
    return float(m.group(1)) if m else None


peer = runs(run / "peer")
sign = openssl_sign_rate()
print(f"# Benchmark {run.name}\n")
print((run / "conditions.txt").read_text() if (run / "conditions.txt").exists() else "")
if sign:
    print(f"openssl speed -multi (all cores) RSA-2048: {sign:.0f} sign/s\n")
for cfg in sorted(run.glob("tessera-*")):
    ours = runs(cfg / "results")
    print(f"## Tessera on {cfg.name.removeprefix('tessera-')}\n")
    print("| scenario | conns | req/s | peer req/s | ratio | p50 ms | p99 ms | peer p99 ms | non-2xx | server CPU | VmHWM MiB | peer VmHWM MiB |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for (scenario, conns), r in sorted(ours.items()):
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
        if scenario == "token_cc_jwt" and sign:
            print(f"|  ↳ share of the openssl RSA-2048 signing rate | | {r['rps'] / sign:.0%} | | | | | | | | | |")
    print()
print("Peer introspection works on opaque tokens (it refuses JWTs); Tessera's introspects its RS256 JWT,")
print("checking signature, expiry, revocation (cache, then SQL) and the client and user rows.")
