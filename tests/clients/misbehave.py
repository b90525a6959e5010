#!/usr/bin/env python3
"""A brawl external client (protocol 1) for the set workload, for brawl's own tests.

The "system" is a file on the control node (BRAWL_SET_FILE) guarded by flock, so every client
process sees one linearizable set. MODE picks a misbehaviour on the Nth request (N = MODE_AT,
default 5; counted per process): good, crash, garbage, late, twice, silent (never answers it),
silent-hello.
"""
import fcntl
import json
import os
import sys
import time

MODE = os.environ.get("MODE", "good")
AT = int(os.environ.get("MODE_AT", "5"))
STORE = os.environ["BRAWL_SET_FILE"]


def send(msg):
    sys.stdout.write(json.dumps(msg) + "\n")
    sys.stdout.flush()


def perform(req):
    with open(STORE, "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        if req["f"] == "add":
            f.write("%d\n" % req["value"])
            f.flush()
            return {"id": req["id"], "type": "ok", "value": req["value"]}
        f.seek(0)
        elems = [int(line) for line in f.read().split()]
        return {"id": req["id"], "type": "ok", "value": elems}


def main():
    hello = json.loads(sys.stdin.readline())
    assert hello["type"] == "hello" and hello["protocol"] == 1, hello
    assert hello["options"]["op_timeout_ms"] == 1000, hello
    if MODE == "silent-hello":
        time.sleep(3600)
    print("client for %s on %s" % (hello["workload"], hello["node"]["name"]), file=sys.stderr, flush=True)
    send({"type": "hello", "protocol": 1})
    n = 0
    for line in sys.stdin:
        req = json.loads(line)
        n += 1
        if n == AT and MODE == "crash":
            sys.exit(3)
        if n == AT and MODE == "silent":
            time.sleep(3600)
        if n == AT and MODE == "garbage":
            sys.stdout.write("this is not json\n")
            sys.stdout.flush()
            continue
        reply = perform(req)
        if n == AT and MODE == "late":
            time.sleep(req["timeout_ms"] / 1000.0 + 1.5)
        send(reply)
        if n == AT and MODE == "twice":
            send(reply)


if __name__ == "__main__":
    main()
