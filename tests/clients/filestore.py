#!/usr/bin/env python3
"""A brawl external client (protocol 1) for every workload, for brawl's own tests.

The "system" is one JSON file on the control node (BRAWL_STORE), locked with flock for each op,
so every client process sees one atomic, linearizable store: every run through it must be
valid. It shows each workload's shapes (docs/client-protocol.md) end to end.
"""
import fcntl
import json
import os
import sys

STORE = os.environ["BRAWL_STORE"]


def send(msg):
    sys.stdout.write(json.dumps(msg) + "\n")
    sys.stdout.flush()


def atomically(fn):
    """Runs fn(state) with the store locked and saves what it changed."""
    with open(STORE, "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        f.seek(0)
        text = f.read()
        state = json.loads(text) if text else {}
        result = fn(state)
        f.seek(0)
        f.truncate()
        f.write(json.dumps(state))
        f.flush()
        return result


def perform(workload, options, req):
    f, value = req["f"], req["value"]

    def ok(v):
        return {"id": req["id"], "type": "ok", "value": v}

    def fail(why):
        return {"id": req["id"], "type": "fail", "error": why}

    def op(state):
        if workload == "register":
            regs = state.setdefault("reg", {})
            k = str(value[0])
            if f == "read":
                return ok([value[0], regs.get(k)])
            if f == "write":
                regs[k] = value[1]
                return ok(value)
            old, new = value[1]
            if regs.get(k) != old:
                return fail("cas: value is %s, not %s" % (regs.get(k), old))
            regs[k] = new
            return ok(value)
        if workload == "set":
            elems = state.setdefault("set", [])
            if f == "add":
                elems.append(value)
                return ok(value)
            return ok(sorted(elems))
        if workload == "counter":
            if f == "add":
                state["counter"] = state.get("counter", 0) + value
                return ok(value)
            return ok(state.get("counter", 0))
        if workload == "bank":
            if "bank" not in state:
                accounts = options["accounts"]
                state["bank"] = {str(a): b for a, b in zip(accounts, options["balances"])}
            bank = state["bank"]
            if f == "read":
                return ok(dict(bank))
            src, dst, amount = str(value["from"]), str(value["to"]), value["amount"]
            if bank[src] - amount < 0 and not options["negative_balances"]:
                return fail("insufficient funds")
            bank[src] -= amount
            bank[dst] += amount
            return ok(value)
        if workload in ("list-append", "rw-register"):
            table = state.setdefault(workload, {})
            out = []
            for m, k, v in value:
                key = str(k)
                if m == "r":
                    got = table.get(key, [] if workload == "list-append" else None)
                    out.append(["r", k, list(got) if workload == "list-append" else got])
                elif m == "append":
                    table.setdefault(key, []).append(v)
                    out.append([m, k, v])
                else:
                    table[key] = v
                    out.append([m, k, v])
            return ok(out)
        return fail("unknown workload " + workload)

    return atomically(op)


def main():
    hello = json.loads(sys.stdin.readline())
    assert hello["type"] == "hello" and hello["protocol"] == 1, hello
    send({"type": "hello", "protocol": 1})
    for line in sys.stdin:
        send(perform(hello["workload"], hello["options"], json.loads(line)))


if __name__ == "__main__":
    main()
