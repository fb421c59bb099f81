#!/usr/bin/env python3
"""bench/auth client: bounded keep-alive HTTP/1.1 loops against bulwark on loopback.

Each chain is a thread with its own keep-alive connection (http.client); the chains start
together after their set-up (a login for `refresh`), and only the loop is timed.

  get      COUNT x GET PATH (an unauthenticated proxied request): the client's own ceiling,
           measured with the same code as the other two, to read their rates against
  refresh  one login per chain, then COUNT sequential refresh rotations, each with the
           refresh_token the previous one returned; every rotation must answer 200 with a new
           refresh token and an access token. At the end the last access token must open
           SECURE_PATH (200). (Reuse of an old token is not tried here: it revokes the session
           and writes SECURITY_INCIDENT, which the unit tests cover.)
  login    COUNT sequential logins per chain (argon2id dominates)

Prints one line: ops=N seconds=S per_s=X p50_ms=X p99_ms=X reconnects=N
Exits 1, naming the operation and the answer, on the first failure; every loop is bounded by
COUNT and by --deadline seconds.
"""

import argparse
import http.client
import json
import sys
import threading
import time


class Failure(Exception):
    pass


def request(conn, method, path, body=None, token=None):
    headers = {}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if token is not None:
        headers["Authorization"] = "Bearer " + token
    conn.request(method, path, body=data, headers=headers)
    resp = conn.getresponse()
    payload = resp.read()
    return resp.status, payload, resp.will_close


def describe(what, status, payload):
    text = payload[:300].decode("utf-8", "replace")
    return f"{what}: HTTP {status}: {text}"


def login(conn, user, password):
    status, payload, closed = request(conn, "POST", "/auth/login",
                                      {"username": user, "password": password})
    if status != 200:
        raise Failure(describe("login", status, payload))
    grant = json.loads(payload)
    for key in ("access_token", "refresh_token"):
        if not isinstance(grant.get(key), str) or not grant[key]:
            raise Failure(f"login: answer without {key}: keys {sorted(grant)}")
    return grant, closed


def percentile(sorted_values, p):
    if not sorted_values:
        return float("nan")
    rank = max(1, -(-len(sorted_values) * p // 100))  # nearest rank
    return sorted_values[int(rank) - 1]


def chain(args, index, barrier, deadline, results, errors):
    conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=args.timeout)
    latencies = []
    reconnects = 0
    try:
        grant = None
        if args.mode == "refresh":
            grant, _ = login(conn, args.user, args.password)
        barrier.wait(timeout=args.deadline)
        start = time.monotonic()
        for i in range(args.count):
            if time.monotonic() > deadline:
                raise Failure(f"chain {index}: deadline of {args.deadline} s passed after {i} operations")
            t0 = time.perf_counter()
            if args.mode == "get":
                status, payload, closed = request(conn, "GET", args.path)
                if status != 200:
                    raise Failure(describe(f"chain {index}: GET {args.path} #{i + 1}", status, payload))
            elif args.mode == "login":
                _, closed = login(conn, args.user, args.password)
            else:
                status, payload, closed = request(conn, "POST", "/auth/refresh",
                                                  {"refresh_token": grant["refresh_token"]})
                if status != 200:
                    raise Failure(describe(f"chain {index}: rotation #{i + 1}", status, payload))
                new = json.loads(payload)
                if not new.get("access_token") or not new.get("refresh_token"):
                    raise Failure(f"chain {index}: rotation #{i + 1}: answer keys {sorted(new)}")
                if new["refresh_token"] == grant["refresh_token"]:
                    raise Failure(f"chain {index}: rotation #{i + 1} returned the same refresh token")
                grant = new
            latencies.append(time.perf_counter() - t0)
            reconnects += 1 if closed else 0
        end = time.monotonic()
        if args.mode == "refresh":
            status, payload, _ = request(conn, "GET", args.secure_path, token=grant["access_token"])
            if status != 200:
                raise Failure(describe(f"chain {index}: GET {args.secure_path} with the last rotated "
                                       "access token", status, payload))
        results[index] = (start, end, latencies, reconnects)
    except Exception as e:  # noqa: BLE001  (reported, then exit 1)
        errors.append(f"{type(e).__name__}: {e}" if not isinstance(e, Failure) else str(e))
        barrier.abort()
    finally:
        conn.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("mode", choices=("get", "refresh", "login"))
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--chains", type=int, default=1)
    ap.add_argument("--count", type=int, required=True, help="operations per chain")
    ap.add_argument("--user", default="")
    ap.add_argument("--password", default="")
    ap.add_argument("--path", default="/open/bench")
    ap.add_argument("--secure-path", default="/secure/bench")
    ap.add_argument("--timeout", type=float, default=10.0, help="socket timeout, seconds")
    ap.add_argument("--deadline", type=float, default=120.0, help="whole run, seconds")
    args = ap.parse_args()
    if args.chains < 1 or args.count < 1:
        ap.error("--chains and --count must be at least 1")

    deadline = time.monotonic() + args.deadline
    barrier = threading.Barrier(args.chains)
    results = [None] * args.chains
    errors = []
    threads = [threading.Thread(target=chain, args=(args, i, barrier, deadline, results, errors),
                                daemon=True) for i in range(args.chains)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=max(0.0, deadline - time.monotonic()) + args.timeout + 1)
    if any(t.is_alive() for t in threads):
        errors.append(f"a chain was still running after the {args.deadline} s deadline")
    real = [e for e in errors if "BrokenBarrierError" not in e]
    if real or errors:
        for e in real or errors:
            print(f"client.py {args.mode}: {e}", file=sys.stderr)
        return 1

    start = min(r[0] for r in results)
    end = max(r[1] for r in results)
    latencies = sorted(x for r in results for x in r[2])
    reconnects = sum(r[3] for r in results)
    seconds = end - start
    ops = len(latencies)
    per_s = ops / seconds if seconds > 0 else float("nan")
    print(f"ops={ops} seconds={seconds:.4f} per_s={per_s:.1f} "
          f"p50_ms={percentile(latencies, 50) * 1000:.3f} p99_ms={percentile(latencies, 99) * 1000:.3f} "
          f"reconnects={reconnects}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
