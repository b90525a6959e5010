#!/usr/bin/env python3
"""A brawl external client (protocol 1, docs/client-protocol.md) for the register workload on
ZooKeeper, with kazoo. brawl starts one process per worker; it talks to the one server brawl
binds it to (the hello's node), so reads show what that server serves.

Keys are znodes /brawl/register/K holding the value as decimal text.
  read  [k, null]      -> get; ok [k, v], or [k, null] when the znode does not exist
  write [k, v]         -> set (create the first time); ok [k, v]
  cas   [k, [old, new]] -> get the value and its version; fail if the value is not old;
                          set(path, new, version=that version): BadVersion -> fail
The rules of info: an error *after* a write was sent (connection loss, a timeout, a lost
session) is info: the write may or may not have happened. An error that proves nothing was
written (NoNode, BadVersion, a value mismatch, no connection before sending) is fail. A read
changes nothing, so a failed read is fail.

Environment: ZK_SYNC=1 calls sync() before each read (no stale reads from a lagging or
isolated follower); ZK_SESSION_TIMEOUT is kazoo's session timeout in seconds (default 4).
Diagnostics go to stderr, which brawl writes to the run's log.
"""
import json
import logging
import os
import sys
import time

from kazoo.client import KazooClient
from kazoo.exceptions import BadVersionError, NodeExistsError, NoNodeError, ZookeeperError
from kazoo.handlers.threading import KazooTimeoutError

SYNC = os.environ.get("ZK_SYNC", "0") == "1"
SESSION_TIMEOUT = float(os.environ.get("ZK_SESSION_TIMEOUT", "4"))
ROOT = "/brawl/register"

logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="kazoo %(levelname)s %(message)s")


class Indeterminate(Exception):
    """The request may have reached the server: the op's outcome is unknown."""


class Refused(Exception):
    """The op surely did not take effect."""


def send(msg):
    sys.stdout.write(json.dumps(msg) + "\n")
    sys.stdout.flush()


class Register:
    def __init__(self, address):
        self.hosts = "%s:2181" % address
        self.zk = None
        self.deadline = 0.0

    def left(self):
        return max(0.05, self.deadline - time.monotonic())

    def connect(self):
        if self.zk is not None and self.zk.connected:
            return
        if self.zk is None:
            # One server only: the one brawl bound this worker to. kazoo reconnects to it in
            # the background after a connection loss.
            self.zk = KazooClient(
                hosts=self.hosts,
                timeout=SESSION_TIMEOUT,
                connection_retry={"max_tries": -1, "delay": 0.1, "max_delay": 1},
            )
        try:
            self.zk.start(timeout=self.left())
        except KazooTimeoutError:
            # kazoo stopped and closed the client; the next op starts a new one.
            self.zk = None
            raise Refused("cannot connect to %s" % self.hosts)  # nothing was sent

    def call(self, _timeout, name, *args, **kwargs):
        """Calls the kazoo method `name` (its async form), waiting at most until the op's deadline."""
        try:
            return getattr(self.zk, name + "_async")(*args, **kwargs).get(timeout=self.left())
        except KazooTimeoutError:
            raise Indeterminate("%s timed out" % name)

    def read(self, key, timeout):
        path = "%s/%d" % (ROOT, key)
        try:
            if SYNC:
                self.call(timeout, "sync", path)
            data, _ = self.call(timeout, "get", path)
        except NoNodeError:
            return [key, None]
        except (Indeterminate, ZookeeperError) as e:
            raise Refused("read: %s" % describe(e))  # a read changes nothing
        return [key, int(data)]

    def write(self, key, value, timeout):
        path = "%s/%d" % (ROOT, key)
        data = str(value).encode()
        try:
            try:
                self.call(timeout, "set", path, data)
            except NoNodeError:
                try:
                    self.call(timeout, "create", path, data, makepath=True)
                except NodeExistsError:
                    self.call(timeout, "set", path, data)
        except (Indeterminate, ZookeeperError) as e:
            raise Indeterminate("write: %s" % describe(e))
        return [key, value]

    def cas(self, key, old, new, timeout):
        path = "%s/%d" % (ROOT, key)
        try:
            data, stat = self.call(timeout, "get", path)
        except NoNodeError:
            raise Refused("cas: no such key")
        except (Indeterminate, ZookeeperError) as e:
            raise Refused("cas read: %s" % describe(e))  # nothing written yet
        if int(data) != old:
            raise Refused("cas: value is %s, not %s" % (int(data), old))
        try:
            self.call(timeout, "set", path, str(new).encode(), version=stat.version)
        except BadVersionError:
            raise Refused("cas: version changed")
        except NoNodeError:
            raise Refused("cas: no such key")
        except (Indeterminate, ZookeeperError) as e:
            raise Indeterminate("cas write: %s" % describe(e))
        return [key, [old, new]]

    def perform(self, f, value, timeout):
        self.deadline = time.monotonic() + timeout
        self.connect()
        key = value[0]
        if f == "read":
            return self.read(key, timeout)
        if f == "write":
            return self.write(key, value[1], timeout)
        if f == "cas":
            return self.cas(key, value[1][0], value[1][1], timeout)
        raise Refused("unknown op %s" % f)


def describe(e):
    return "%s%s" % (type(e).__name__, (": %s" % e) if str(e) else "")


def main():
    hello = json.loads(sys.stdin.readline())
    if hello.get("type") != "hello" or hello.get("protocol") != 1:
        print("unexpected hello: %r" % hello, file=sys.stderr)
        sys.exit(2)
    if hello.get("workload") != "register":
        print("this client serves the register workload, not %s" % hello.get("workload"), file=sys.stderr)
        sys.exit(2)
    # Answer at once; connect on the first op, so a server that is down when this process
    # starts costs a `fail` op, not the run.
    send({"type": "hello", "protocol": 1})
    reg = Register(hello["node"]["address"])
    for line in sys.stdin:
        req = json.loads(line)
        # Answer before brawl's deadline (timeout_ms), with room for the reply itself.
        timeout = max(0.2, req["timeout_ms"] / 1000.0 - 0.3)
        reply = {"id": req["id"]}
        try:
            reply.update(type="ok", value=reg.perform(req["f"], req["value"], timeout))
        except Refused as e:
            reply.update(type="fail", error=str(e))
        except Indeterminate as e:
            reply.update(type="info", error=str(e))
        except Exception as e:  # an unexpected error: the outcome is unknown
            reply.update(type="info", error="unexpected %s" % describe(e))
        send(reply)
    if reg.zk is not None:
        reg.zk.stop()


if __name__ == "__main__":
    main()
