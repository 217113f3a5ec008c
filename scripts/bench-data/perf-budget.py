"""Splits a `perf record --call-graph dwarf` profile of podpass into the parts of a request, for
the per-call budgets of docs/BENCHMARKS.md. Reads `perf script` output on stdin; each sample
goes to the part of the deepest frame of its stack that names one (so RSA inside the token
check counts as RSA, the rest of the token check as the token check), or to "other". With
CPU_US_PER_CALL, also prints each part in microseconds per call.
Usage: perf script -i FILE.perf.data | perf-budget.py [CPU_US_PER_CALL]"""

import re
import sys

# (part, pattern over a frame's symbol and library), deepest match wins.
PARTS = [
    ("kernel: sockets, epoll, futex, scheduling", r"\[kernel\.kallsyms\]"),
    ("allocator (malloc/free or mimalloc, wherever called)", r"^(__GI___libc_|__libc_)?(malloc|free|realloc|calloc|cfree)\b|_int_(malloc|free|realloc)|malloc_consolidate|unlink_chunk|tcache_|^_?mi_\w"),
    ("RSA-2048 verify (aws-lc)", r"RSA_verify|rsa_verify|RSA_public|bn_\w*mont|bn_sqr|bn_mul|BN_mod_exp|bn_\w*x8x|bn_\w*mulx"),
    ("SigV4 of the signed request (HMAC-SHA256, canonical request)", r"podpass_sigv4::|HMAC_|hmac"),
    ("token decode: base64, JSON claims, checks", r"jsonwebtoken::|podpass_token::"),
    ("session sealing: AES-GCM and random ids", r"podpass_session::|EVP_AEAD|aes_gcm|aes_hw|gcm_|RAND_bytes|CRYPTO_sysrand|getrandom|rand::"),
    ("trust and identity policy evaluation", r"podpass_policy::"),
    ("IAM cache: provider, role, association lookups", r"podpass_control::cache|moka::"),
    ("XML and JSON rendering", r"quick_xml|podpass_awsproto::xml|serde_json::ser"),
    ("form and JSON request parsing", r"form_urlencoded|serde_urlencoded|podpass_awsproto::params|serde_json::de"),
    ("input validation against the API model", r"podpass_awsproto::validate"),
    ("audit trail", r"audit"),
    ("metrics", r"prometheus"),
    ("logging (tracing)", r"tracing"),
    ("domain layer: credential issuance, its checks and records", r"podpass_control::"),
    ("API handlers: decode, dispatch, encode", r"podpass_api::|podpass_awsproto::"),
    ("HTTP: hyper, axum, tower", r"hyper::|axum::|tower::|podpass_http::|httparse"),
    ("tokio runtime", r"tokio::"),
]
COMPILED = [(part, re.compile(pattern)) for part, pattern in PARTS]


def part_of(stack):
    for frame in stack:  # leaf first
        for part, pattern in COMPILED:
            if pattern.search(frame):
                return part
    return "other (podpass's handlers and domain, std)"


def samples(lines):
    stack = []
    for line in lines:
        if not line.strip():
            if stack:
                yield stack
            stack = []
        elif line[0] in " \t":
            # "\t addr symbol+0xoff (library)"
            stack.append(line.strip().split(" ", 1)[-1])
        else:
            stack = []
    if stack:
        yield stack


def main():
    cpu_us = float(sys.argv[1]) if len(sys.argv) > 1 else None
    counts = {}
    total = 0
    for stack in samples(sys.stdin):
        part = part_of(stack)
        counts[part] = counts.get(part, 0) + 1
        total += 1
    if not total:
        sys.exit("perf-budget: no samples on stdin")
    print(f"{total} samples")
    for part, count in sorted(counts.items(), key=lambda item: -item[1]):
        share = count / total
        us = f"{share * cpu_us:6.1f} us" if cpu_us else ""
        print(f"{100 * share:5.1f} %  {us}  {part}")


if __name__ == "__main__":
    main()
