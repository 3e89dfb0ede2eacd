#!/usr/bin/env python3
"""Tests the deploy recipes as far as a machine without a container engine allows.

Usage: deploy/test_recipes.py MINOTAUR_BINARY

1. The stop time each recipe gives a node (compose's stop_grace_period, the StatefulSet's
   terminationGracePeriodSeconds, the unit's TimeoutStopSec) covers the node's drain bound,
   summed from the bounds in sessions/node_core.h; the image stops with SIGTERM, runs as a user
   that is not root and checks /readyz; Kubernetes probes /readyz and /healthz and its seeds'
   Service lists pods before they are ready.
2. The systemd unit passes `systemd-analyze verify` with no complaint.
3. The image's entry point, with the image's ENV (relocated from /run/secrets and
   /var/lib/minotaur into a folder of the test's), starts three real nodes on loopback that form
   one cluster; `minotaur ctl drain --all` stops them and each exits 0.
Exit 0 when everything holds; otherwise every failure is printed and the exit is 1.
"""
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "testing"))
from script_checks import Checks, make_secrets, print_log_tails  # noqa: E402

check = Checks("test_recipes")


def drain_bound_s():
    """The drain's bounds (sessions/node_core.h) plus 1 s for the last messages, in seconds."""
    text = open(os.path.join(ROOT, "sessions/node_core.h")).read()
    total = 1000
    for name in ("kDrainBoundMs", "kRemoteCallsBoundMs", "kStoreFlushBoundMs", "kDiskWriteBoundMs"):
        m = re.search(name + r" = ([0-9']+);", text)
        if not m:
            raise SystemExit(f"test_recipes: {name} is not in sessions/node_core.h; update this test")
        total += int(m.group(1).replace("'", ""))
    return total / 1000


def seconds(text):
    m = re.fullmatch(r"(\d+)(s|m)?", str(text).strip())
    if not m:
        return None
    return int(m.group(1)) * (60 if m.group(2) == "m" else 1)


def check_recipes(bound):
    dockerfile = open(os.path.join(HERE, "docker/Dockerfile")).read()
    check("STOPSIGNAL SIGTERM" in dockerfile, "the image stops with SIGTERM")
    users = re.findall(r"^USER (\S+)", dockerfile, re.M)
    check(bool(users) and users[-1] not in ("root", "0"), "the image runs as a user that is not root")
    check(re.search(r"HEALTHCHECK .*\n?.*?/readyz", dockerfile) is not None,
          "the image's health check asks /readyz")

    compose = yaml.safe_load(open(os.path.join(HERE, "docker/compose.yaml")))
    services = compose["services"]
    check(len(services) == 3, "compose starts three nodes")
    for name, s in services.items():
        grace = seconds(s.get("stop_grace_period", "10s"))
        check(grace is not None and grace >= bound,
              f"compose gives {name} {s.get('stop_grace_period')} to stop (the drain: {bound:.0f} s)")
        aliases = s.get("networks", {}).get("cluster", {}).get("aliases", [])
        check("minotaur" in aliases, f"compose's {name} answers to the seeds' name")
        check(s.get("environment", {}).get("MINOTAUR_SEEDS") == "minotaur:9080",
              f"compose's {name} finds the others by the seeds' name")

    docs = list(yaml.safe_load_all(open(os.path.join(HERE, "kubernetes/minotaur.yaml"))))
    kinds = {d["kind"]: d for d in docs if d and d.get("kind") != "Service"}
    peers = [d for d in docs if d and d["kind"] == "Service" and d["spec"].get("clusterIP") == "None"]
    check(len(peers) == 1 and peers[0]["spec"].get("publishNotReadyAddresses") is True,
          "Kubernetes: a headless Service lists the pods, ready or not")
    sts = kinds.get("StatefulSet")
    check(sts is not None, "Kubernetes: a StatefulSet")
    if sts:
        pod = sts["spec"]["template"]["spec"]
        check(pod.get("terminationGracePeriodSeconds", 30) >= bound,
              f"Kubernetes gives a pod {pod.get('terminationGracePeriodSeconds')} s to stop "
              f"(the drain: {bound:.0f} s)")
        c = pod["containers"][0]
        check(c["readinessProbe"]["httpGet"]["path"] == "/readyz", "Kubernetes: readiness is /readyz")
        check(c["livenessProbe"]["httpGet"]["path"] == "/healthz", "Kubernetes: liveness is /healthz")
        env = {e["name"]: e for e in c["env"]}
        check("svc.cluster.local" in env["MINOTAUR_SEEDS"]["value"] and
              peers and peers[0]["metadata"]["name"] in env["MINOTAUR_SEEDS"]["value"],
              "Kubernetes: the seeds are the headless Service's name")
        check(pod["volumes"][0]["secret"]["secretName"] == "minotaur-secrets",
              "Kubernetes: the secrets come from a Secret")
    pdb = kinds.get("PodDisruptionBudget")
    check(pdb is not None and pdb["spec"].get("maxUnavailable") == 1,
          "Kubernetes: a PodDisruptionBudget lets one node go at a time")

    unit = open(os.path.join(HERE, "systemd/minotaur.service")).read()
    check("KillSignal=SIGTERM" in unit, "the unit stops the node with SIGTERM")
    timeout = re.search(r"^TimeoutStopSec=(\d+)", unit, re.M)
    check(timeout is not None and int(timeout.group(1)) >= bound,
          f"the unit gives the node {timeout.group(1) if timeout else '?'} s to stop "
          f"(the drain: {bound:.0f} s)")


def check_unit_verifies(binary):
    analyze = shutil.which("systemd-analyze")
    check(analyze is not None, "systemd-analyze is installed (scripts/install-deps.sh: systemd)")
    if not analyze:
        return
    with tempfile.TemporaryDirectory() as d:
        unit = open(os.path.join(HERE, "systemd/minotaur.service")).read()
        unit = unit.replace("ExecStart=/usr/local/bin/minotaur", "ExecStart=" + binary)
        path = os.path.join(d, "minotaur.service")
        open(path, "w").write(unit)
        r = subprocess.run([analyze, "verify", path], capture_output=True, text=True)
        said = (r.stdout + r.stderr).strip()
        check(r.returncode == 0 and not said,
              "systemd-analyze verify finds nothing in the unit" + (f": {said}" if said else ""))


def image_env(tmp):
    """The image's ENV, relocated into `tmp`."""
    text = open(os.path.join(HERE, "docker/Dockerfile")).read().replace("\\\n", " ")
    env = {}
    for line in re.findall(r"^ENV (.*)$", text, re.M):
        for k, v in re.findall(r"(\w+)=(\S+)", line):
            env[k] = v.replace("/run/secrets", tmp + "/secrets").replace("/var/lib/minotaur", tmp)
    return env


def free_base(count):
    for _ in range(100):
        base = random.randint(20000, 31000)
        ok = True
        for p in range(base, base + count):
            s = socket.socket()
            try:
                s.bind(("127.0.0.1", p))
            except OSError:
                ok = False
            finally:
                s.close()
        if ok:
            return base
    raise SystemExit("test_recipes: no free ports")


def get(port, path):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except OSError:
        return 0, ""


def check_entrypoint(binary):
    tmp = tempfile.mkdtemp(prefix="minotaur-recipes-")
    procs = []
    try:
        make_secrets(binary, tmp + "/secrets", "recipes-admin-token")
        # The entry point listens on the address `hostname -i` gives: the seeds are there too.
        own = subprocess.run(["hostname", "-i"], capture_output=True, text=True).stdout.split()[0]
        base = free_base(6)
        http = [base + i for i in range(3)]
        cluster = [base + 3 + i for i in range(3)]
        for i in range(3):
            env = dict(os.environ)
            env.update(image_env(tmp))
            env.update({
                "MINOTAUR_BINARY": binary,
                "MINOTAUR_HTTP": f"127.0.0.1:{http[i]}",
                "MINOTAUR_CLUSTER_PORT": str(cluster[i]),
                "MINOTAUR_NAME": f"r{i + 1}",
                "MINOTAUR_SEEDS": ",".join(f"{own}:{p}" for p in cluster[:i]),
                "MINOTAUR_DATA_DIR": f"{tmp}/r{i + 1}",
            })
            if i == 0:
                del env["MINOTAUR_SEEDS"]
            env.pop("MINOTAUR_CLUSTER", None)  # the entry point's own: hostname -i and the port
            log = open(f"{tmp}/r{i + 1}.log", "w")
            procs.append(subprocess.Popen([os.path.join(HERE, "docker/entrypoint.sh")], env=env,
                                          stdout=log, stderr=subprocess.STDOUT))
            # Ready once is what is asked: readiness may drop for a moment right after, while the
            # stores catch up with the membership change this node's own joining made.
            deadline = time.time() + 20
            ready = False
            while time.time() < deadline and not ready:
                ready = get(http[i], "/readyz")[0] == 200
                if not ready:
                    time.sleep(0.1)
            check(ready, f"node r{i + 1}, started as the image starts it, is ready")
        members = []
        deadline = time.time() + 10
        while time.time() < deadline:
            status, body = get(http[2], "/api/v1/cluster")
            members = json.loads(body)["members"] if status == 200 else []
            if sum(m["status"] == "up" for m in members) == 3:
                break
            time.sleep(0.1)
        check(sum(m["status"] == "up" for m in members) == 3,
              "the three form one cluster: " + ", ".join(f"{m['name']} {m['status']}" for m in members))
        ctl = subprocess.run([binary, "ctl", "--node", f"127.0.0.1:{http[0]}", "--admin-token-file",
                              tmp + "/secrets/admin-token", "drain", "--all"],
                             capture_output=True, text=True, timeout=60)
        check(ctl.returncode == 0, "minotaur ctl drain --all: " + (ctl.stdout + ctl.stderr).strip())
        for i, p in enumerate(procs):
            try:
                code = p.wait(timeout=40)
            except subprocess.TimeoutExpired:
                code = None
            check(code == 0, f"node r{i + 1} exited 0 after the drain (exit {code})")
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
                p.wait()
        if check.failures:
            print_log_tails([f"{tmp}/r{i}.log" for i in (1, 2, 3)])
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    binary = os.path.abspath(sys.argv[1])
    bound = drain_bound_s()
    check_recipes(bound)
    check_unit_verifies(binary)
    check_entrypoint(binary)
    return check.finish("every recipe check passed")


if __name__ == "__main__":
    sys.exit(main())
