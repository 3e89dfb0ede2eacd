#!/usr/bin/env python3
"""DNS discovery against a real DNS server: nodes that know one name form one cluster.

Usage: node/dns_discovery_test.py MINOTAUR_BINARY

In a network namespace of its own (so nothing outside sees its addresses or its DNS server),
the test starts Debian's dnsmasq on 127.0.0.53, makes it the namespace's resolver
(/etc/netns/NS/resolv.conf, which `ip netns exec` puts in place of /etc/resolv.conf), and serves
the name minotaur.test with three A records, 127.0.0.11 to .13. Three real nodes listen on those
addresses and are given that name alone as their seed; they must form one cluster. Then a
fourth record is added (dnsmasq re-reads its hosts file on SIGHUP) and a fourth node, given the
same name, must join the three. A fifth node, given a name with no record yet, must wait rather
than form a cluster of its own, and join once the record exists. `minotaur ctl` (run in the
namespace) reads the cluster.

Needs root (network namespaces) and dnsmasq (scripts/install-deps.sh: dnsmasq-base).
Exit 0 when everything holds, 1 with every failure printed; 77 (skipped) only when not root.
"""
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "testing"))
from script_checks import Checks, make_secrets, print_log_tails  # noqa: E402

NAME = "minotaur.test"
check = Checks("dns_discovery_test")


def run(*argv, **kw):
    return subprocess.run(list(argv), capture_output=True, text=True, **kw)


class Namespace:
    def __init__(self):
        self.name = f"mdns{os.getpid()}{random.randint(0, 9999)}"
        self.etc = f"/etc/netns/{self.name}"

    def __enter__(self):
        r = run("ip", "netns", "add", self.name)
        if r.returncode != 0:
            raise SystemExit(f"dns_discovery_test: ip netns add failed: {r.stderr.strip()}")
        run("ip", "netns", "exec", self.name, "ip", "link", "set", "lo", "up")
        os.makedirs(self.etc, exist_ok=True)
        with open(self.etc + "/resolv.conf", "w") as f:
            f.write("nameserver 127.0.0.53\noptions timeout:1 attempts:2\n")
        return self

    def __exit__(self, *exc):
        run("ip", "netns", "del", self.name)
        shutil.rmtree(self.etc, ignore_errors=True)

    def argv(self, *argv):
        return ["ip", "netns", "exec", self.name, *argv]


def main():
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    binary = os.path.abspath(sys.argv[1])
    if os.geteuid() != 0:
        print("dns_discovery_test: skipped: network namespaces need root (CI runs as root)")
        return 77
    dnsmasq = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
    if not os.path.exists(dnsmasq):
        print("FAIL  dnsmasq is not installed: run scripts/install-deps.sh (dnsmasq-base)")
        return 1
    tmp = tempfile.mkdtemp(prefix="minotaur-dns-")
    procs = {}
    try:
        with Namespace() as ns:
            hosts = tmp + "/hosts"
            with open(hosts, "w") as f:
                f.write("".join(f"127.0.0.{11 + i} {NAME}\n" for i in range(3)))
            dns = subprocess.Popen(ns.argv(
                dnsmasq, "--keep-in-foreground", "--no-resolv", "--no-hosts", "--user=root",
                f"--addn-hosts={hosts}", "--listen-address=127.0.0.53", "--bind-interfaces", "--local=/test/",
                "--port=53", "--pid-file=", "--log-queries", f"--log-facility={tmp}/dnsmasq.log"))
            procs["dnsmasq"] = dns
            time.sleep(0.3)
            secrets = make_secrets(binary, tmp, "dns-admin-token")

            def start(i, seed=NAME):
                address = f"127.0.0.{10 + i}"
                log = open(f"{tmp}/d{i}.log", "w")
                argv = [binary, "node", "--name", f"d{i}", "--cluster", f"{address}:9080",
                        "--http", f"{address}:8080", "--seeds", f"{seed}:9080"]
                for flag, path in secrets.items():
                    argv += [flag, path]
                procs[f"d{i}"] = subprocess.Popen(ns.argv(*argv), stdout=log,
                                                  stderr=subprocess.STDOUT)

            def members(i):
                r = run(*ns.argv(binary, "ctl", "--node", f"127.0.0.{10 + i}:8080", "--json", "members"))
                try:
                    return {m["name"]: m["status"] for m in json.loads(r.stdout)}
                except (ValueError, KeyError, TypeError):
                    return {}

            def wait_members(i, want, seconds=20):
                deadline = time.time() + seconds
                seen = {}
                while time.time() < deadline:
                    seen = members(i)
                    if seen == want:
                        break
                    time.sleep(0.2)
                return seen

            for i in (1, 2, 3):
                start(i)
            three = {f"d{i}": "up" for i in (1, 2, 3)}
            for i in (1, 2, 3):
                seen = wait_members(i, three)
                check(seen == three, f"d{i} sees one cluster of the three from the name alone: {seen}")
            log1 = open(f"{tmp}/d1.log").read()
            check(f"seed {NAME}:9080 resolved to 3 address(es)" in log1,
                  "d1 found the three through the DNS server")

            with open(hosts, "a") as f:
                f.write(f"127.0.0.14 {NAME}\n")
            dns.send_signal(signal.SIGHUP)  # dnsmasq re-reads its hosts files
            time.sleep(0.3)
            start(4)
            four = dict(three, d4="up")
            for i in (1, 4):
                seen = wait_members(i, four)
                check(seen == four, f"d{i} sees the node added to the name later: {seen}")
            log4 = open(f"{tmp}/d4.log").read()
            check(f"seed {NAME}:9080 resolved to 4 address(es)" in log4,
                  "d4 found the others through the DNS server")
            # A node whose name has no record yet waits for one: it must not form a cluster of
            # its own beside the real one.
            start(5, seed="late.test")
            time.sleep(2.5)
            check(procs["d5"].poll() is None, "d5, whose name has no record, still runs")
            check("no seed resolves yet (late.test:9080)" in open(f"{tmp}/d5.log").read(),
                  "d5 says that it waits for its seed's name")
            check(members(5) == {}, "d5 serves nothing meanwhile (no cluster of its own)")
            with open(hosts, "a") as f:
                f.write(f"127.0.0.11 late.test\n")
            dns.send_signal(signal.SIGHUP)
            five = dict(four, d5="up")
            seen = wait_members(1, five)
            check(seen == five, f"d5 joins once its name has a record: {seen}")

            queries = open(f"{tmp}/dnsmasq.log").read() if os.path.exists(f"{tmp}/dnsmasq.log") else ""
            check(f"query[A] {NAME}" in queries, "the nodes asked the DNS server (its query log)")

            for name, p in procs.items():
                if name != "dnsmasq":
                    p.send_signal(signal.SIGTERM)
            for name, p in procs.items():
                if name != "dnsmasq":
                    try:
                        code = p.wait(timeout=40)
                    except subprocess.TimeoutExpired:
                        code = None
                    check(code == 0, f"{name} drained and exited 0 (exit {code})")
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
                p.wait()
        if check.failures:
            print_log_tails([f"{tmp}/d{i}.log" for i in (1, 2, 3, 4, 5)], lines=12)
        shutil.rmtree(tmp, ignore_errors=True)
    return check.finish("the nodes found each other through a real DNS server")


if __name__ == "__main__":
    sys.exit(main())
