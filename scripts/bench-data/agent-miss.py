"""Cache-miss latency of scripts/bench-agent: one request per token, each token new to the agent,
so each one goes through EKS Auth (AssumeRoleForPodIdentity). Sequential, timed one by one.
Usage: agent-miss.py AGENT_URL TOKEN_FILE... ; prints the count, p50, p99 and max in ms."""

import sys
import time
import urllib.request


def percentile(sorted_values, share):
    # Nearest rank, as wrk reports its percentiles.
    index = max(0, min(len(sorted_values) - 1, round(share * len(sorted_values) + 0.5) - 1))
    return sorted_values[index]


def main():
    url, *token_files = sys.argv[1:]
    timings = []
    for path in token_files:
        with open(path) as file:
            token = file.read()
        request = urllib.request.Request(url, headers={"Authorization": token})
        start = time.perf_counter()
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        elapsed = time.perf_counter() - start
        if response.status != 200 or b"AccessKeyId" not in body:
            sys.exit(f"agent-miss: {path}: status {response.status}, no credentials")
        timings.append(elapsed * 1000)
    timings.sort()
    print(
        f"cache misses: {len(timings)}  p50 {percentile(timings, 0.5):.2f}ms"
        f"  p99 {percentile(timings, 0.99):.2f}ms  max {timings[-1]:.2f}ms"
    )


main()
