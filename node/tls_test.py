#!/usr/bin/env python3
"""The API port over TLS: a real node started with --tls-cert/--tls-key, real clients.

Usage: node/tls_test.py MINOTAUR_BINARY

The test makes its certificates with the openssl command: a CA, and a node certificate for
127.0.0.1 and localhost signed by it. One node runs with them; Python's ssl module, verifying
the node against the CA, reads /readyz, /healthz, /metrics and the page at /, creates users, a
lobby and a game, and opens a WebSocket (WSS, by hand over the TLS socket) that receives the
game and acknowledges an action. Then the port is abused: plain HTTP, bytes that are not TLS,
and a client that connects and sends nothing (dropped at the handshake's deadline, 5 s); the
node serves on over TLS and counts them. `minotaur ctl --tls-ca` reads the node over HTTPS.
Last, the refusals at start (exit 2, naming the file):
one of the two flags alone (by flag and by environment variable), a missing file, a malformed
certificate, a key that is not the certificate's, and a key with a passphrase (refused, not
asked for).

Exit 0 when everything holds, 1 with every failure printed.
"""
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "testing"))
from script_checks import Checks, make_secrets, print_log_tails  # noqa: E402

check = Checks("tls_test")
HANDSHAKE_DEADLINE_S = 5  # gateway::ServerLimits::tls_handshake_timeout


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_certificates(folder):
    """A CA, and a node certificate for 127.0.0.1 and localhost that it signed; also a key of
    another certificate, a file that is not PEM, and the node's key with a passphrase."""
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=minotaur test CA",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=folder)
    openssl("req", *ec, "-keyout", "node.key", "-out", "node.csr", "-subj", "/CN=localhost",
            cwd=folder)
    with open(folder + "/node.ext", "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                "basicConstraints=critical,CA:FALSE\n"
                "keyUsage=critical,digitalSignature\n"
                "extendedKeyUsage=serverAuth\n"
                "subjectKeyIdentifier=hash\n"
                "authorityKeyIdentifier=keyid\n")
    openssl("x509", "-req", "-in", "node.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "node.pem", "-days", "2", "-extfile", "node.ext",
            cwd=folder)
    openssl("genpkey", "-algorithm", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-out", "other.key", cwd=folder)
    openssl("pkey", "-in", "node.key", "-aes256", "-passout", "pass:secret",
            "-out", "encrypted.key", cwd=folder)
    with open(folder + "/garbage.pem", "w") as f:
        f.write("-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Client:
    """HTTPS to the node, verified against the test's CA."""

    def __init__(self, port, cafile):
        self.port = port
        self.context = ssl.create_default_context(cafile=cafile)

    def request(self, method, path, body=None, token=None, host="127.0.0.1"):
        conn = http.client.HTTPSConnection(host, self.port, context=self.context, timeout=5)
        headers = {"Content-Type": "application/json"} if body is not None else {}
        if token:
            headers["Authorization"] = "Bearer " + token
        try:
            conn.request(method, path, body=json.dumps(body) if body is not None else None,
                         headers=headers)
            r = conn.getresponse()
            return r.status, r.getheader("Content-Type") or "", r.read().decode()
        finally:
            conn.close()

    def json(self, method, path, body=None, token=None):
        status, _, text = self.request(method, path, body, token)
        try:
            return status, json.loads(text)
        except ValueError:
            return status, text

    def tls_socket(self):
        raw = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        return self.context.wrap_socket(raw, server_hostname="localhost")


def recv_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def ws_send(sock, text):
    """One masked text frame, as a client must send it."""
    payload = text.encode()
    mask = os.urandom(4)
    head = bytes([0x81])
    if len(payload) < 126:
        head += bytes([0x80 | len(payload)])
    else:
        head += bytes([0x80 | 126]) + len(payload).to_bytes(2, "big")
    sock.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))


def ws_recv(sock):
    """The next text message (the server's frames are not masked, nor fragmented here)."""
    while True:
        b0, b1 = recv_exact(sock, 2)
        length = b1 & 0x7F
        if length == 126:
            length = int.from_bytes(recv_exact(sock, 2), "big")
        elif length == 127:
            length = int.from_bytes(recv_exact(sock, 8), "big")
        payload = recv_exact(sock, length)
        if b0 & 0x0F == 0x1:
            return json.loads(payload)
        if b0 & 0x0F == 0x8:
            raise ConnectionError("closed by the server")


def ws_open(client, path, token):
    sock = client.tls_socket()
    key = "dGhlIHNhbXBsZSBub25jZQ=="
    sock.sendall((f"GET {path} HTTP/1.1\r\nHost: localhost:{client.port}\r\n"
                  "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                  f"Authorization: Bearer {token}\r\n\r\n").encode())
    head = b""
    while not head.endswith(b"\r\n\r\n") and len(head) < 8192:
        head += recv_exact(sock, 1)
    return sock, head.decode(errors="replace")


def closed_within(sock, seconds):
    """Seconds until the peer closed the connection (None if it did not within `seconds`), and
    what it sent before."""
    started = time.time()
    sock.settimeout(seconds)
    got = b""
    try:
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                break
            got += chunk
    except ConnectionResetError:
        pass
    except socket.timeout:
        return None, got
    return time.time() - started, got


def metric(client, name):
    status, _, text = client.request("GET", "/metrics")
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


def unit_move(game, user_id):
    """A move of `user_id`'s player that stays on the board."""
    radius = game["board_radius"]
    me = next(p for p in game["players"] if p["user_id"] == user_id)
    for q, r in ((1, 0), (1, -1), (0, -1), (-1, 0), (-1, 1), (0, 1)):
        nq, nr = me["coord"]["q"] + q, me["coord"]["r"] + r
        if max(abs(nq), abs(nr), abs(nq + nr)) <= radius:
            return {"type": "move", "vector": {"q": q, "r": r}}
    return None


def check_refusals(binary, tmp, secrets):
    """Bad TLS flags: exit 2 at start, with a message that names the file."""
    base = [binary, "node", "--name", "bad", "--cluster", f"127.0.0.1:{free_port()}",
            "--http", f"127.0.0.1:{free_port()}"]
    for flag, path in secrets.items():
        base += [flag, path]
    cert, key = tmp + "/node.pem", tmp + "/node.key"
    cases = [
        ("--tls-cert alone", ["--tls-cert", cert], {}, [cert, "--tls-key"]),
        ("MINOTAUR_TLS_KEY alone", [], {"MINOTAUR_TLS_KEY": key}, [key, "--tls-cert"]),
        ("a certificate file that does not exist",
         ["--tls-cert", tmp + "/missing.pem", "--tls-key", key], {}, [tmp + "/missing.pem"]),
        ("a certificate file that is not PEM",
         ["--tls-cert", tmp + "/garbage.pem", "--tls-key", key], {}, [tmp + "/garbage.pem"]),
        ("a key that is not the certificate's",
         ["--tls-cert", cert, "--tls-key", tmp + "/other.key"], {}, [tmp + "/other.key", cert]),
        ("a key with a passphrase",
         ["--tls-cert", cert, "--tls-key", tmp + "/encrypted.key"], {},
         [tmp + "/encrypted.key", "passphrase"]),
    ]
    for what, args, env, names in cases:
        try:
            r = subprocess.run(base + args, env=dict(os.environ, **env), stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               timeout=20)
            code, out = r.returncode, r.stdout
        except subprocess.TimeoutExpired as e:
            code, out = None, (e.stdout or b"").decode(errors="replace")
        missing = [n for n in names if n not in out]
        check(code == 2 and not missing,
              f"{what}: exit 2 naming {', '.join(names)} (exit {code}; said: {out.strip()[-300:]})")


def main():
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    binary = os.path.abspath(sys.argv[1])
    if shutil.which("openssl") is None:
        print("FAIL  the openssl command is not installed: run scripts/install-deps.sh")
        return 1
    tmp = tempfile.mkdtemp(prefix="minotaur-tls-")
    node = None
    log_path = tmp + "/t1.log"
    try:
        make_certificates(tmp)
        secrets = make_secrets(binary, tmp, "tls-admin-token")
        port = free_port()
        argv = [binary, "node", "--name", "t1", "--cluster", f"127.0.0.1:{free_port()}",
                "--http", f"127.0.0.1:{port}", "--tls-cert", tmp + "/node.pem",
                "--tls-key", tmp + "/node.key"]
        for flag, path in secrets.items():
            argv += [flag, path]
        node = subprocess.Popen(argv, stdout=open(log_path, "w"), stderr=subprocess.STDOUT)
        client = Client(port, tmp + "/ca.pem")

        ready = None
        deadline = time.time() + 20
        while time.time() < deadline and node.poll() is None:
            try:
                ready = client.request("GET", "/readyz")
                if ready[0] == 200:
                    break
            except (OSError, http.client.HTTPException):
                pass
            time.sleep(0.2)
        check(ready is not None and ready[0] == 200,
              f"GET /readyz over HTTPS, the CA verified: {ready}")
        check("serving HTTPS and WSS" in open(log_path).read(), "the node says it serves HTTPS")
        status, _, _ = client.request("GET", "/healthz", host="localhost")
        check(status == 200, f"GET /healthz over HTTPS to localhost: {status}")
        status, kind, page = client.request("GET", "/")
        check(status == 200 and "text/html" in kind, f"the page at / over HTTPS: {status} {kind}")
        check(metric(client, "minotaur_http_tls_failures_total") == 0,
              "/metrics over HTTPS, no TLS failure yet")

        # A game, made over HTTPS, then watched and played over WSS.
        status, ada = client.json("POST", "/api/v1/users", {"display_name": "Ada"})
        check(status == 201 and "token" in ada, f"POST /api/v1/users over HTTPS: {status}")
        _, bob = client.json("POST", "/api/v1/users", {"display_name": "Bob"})
        status, lobby = client.json("POST", "/api/v1/lobbies", token=ada["token"])
        check(status == 201, f"POST /api/v1/lobbies: {status} {lobby}")
        code = lobby["join_code"]
        status, _ = client.json("POST", f"/api/v1/lobbies/{code}/join", token=bob["token"])
        check(status == 200, f"join the lobby: {status}")
        status, started = client.json("POST", f"/api/v1/lobbies/{code}/start", token=ada["token"])
        check(status == 201, f"start the game: {status} {started}")
        game_id = started["game_id"]

        ws, head = ws_open(client, "/api/v1/ws", ada["token"])
        check(head.startswith("HTTP/1.1 101"), f"WSS upgrade to /api/v1/ws: {head.splitlines()[0]}")
        ws_send(ws, json.dumps({"op": "subscribe", "game_id": game_id}))
        pushed = ws_recv(ws)
        check(pushed.get("event") == "game" and pushed["game"]["id"] == game_id,
              f"the subscription pushes the game over WSS: {str(pushed)[:120]}")
        move = unit_move(pushed["game"], ada["user_id"])
        ws_send(ws, json.dumps({"op": "act", "id": 7, "game_id": game_id, "action": move}))
        answers = [ws_recv(ws) for _ in range(2)]  # the ack and the new version, in any order
        check(any(a.get("event") == "ack" and a.get("id") == 7 for a in answers),
              f"an action over WSS is acknowledged: {[a.get('event') for a in answers]}")
        ws.close()

        # Abuse of the TLS port: each connection is closed, the node serves on.
        raw = socket.create_connection(("127.0.0.1", port), timeout=5)
        raw.sendall(b"GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        took, got = closed_within(raw, 5)
        raw.close()
        check(took is not None and not got.startswith(b"HTTP/"),
              f"plain HTTP to the TLS port: closed without an HTTP answer ({took}, {got[:20]})")
        raw = socket.create_connection(("127.0.0.1", port), timeout=5)
        raw.sendall(b"\x00\x01 these bytes are not TLS \xff\xfe" * 64)
        took, got = closed_within(raw, 5)
        raw.close()
        check(took is not None, f"bytes that are not TLS: closed ({took})")
        silent = socket.create_connection(("127.0.0.1", port), timeout=5)
        took, got = closed_within(silent, HANDSHAKE_DEADLINE_S + 10)
        silent.close()
        check(took is not None and HANDSHAKE_DEADLINE_S - 1 <= took <= HANDSHAKE_DEADLINE_S + 3,
              f"a client that sends nothing is dropped at the handshake's deadline "
              f"({HANDSHAKE_DEADLINE_S} s): after {took} s")
        check(node.poll() is None, "the node still runs")
        status, _, _ = client.request("GET", "/readyz")
        check(status == 200, f"GET /readyz over HTTPS after the abuse: {status}")
        failures = metric(client, "minotaur_http_tls_failures_total")
        check(failures is not None and failures >= 3,
              f"minotaur_http_tls_failures_total counts them: {failures}")
        check("TLS connections that failed" in open(log_path).read(),
              "the node logged the failed TLS connections")

        # minotaur ctl over HTTPS, verifying the node against the CA; without TLS it is told why.
        ctl = [binary, "ctl", "--node", f"127.0.0.1:{port}", "--json"]
        r = subprocess.run(ctl + ["--tls-ca", tmp + "/ca.pem", "members"], capture_output=True,
                           text=True, timeout=30)
        try:
            seen = {m["name"]: m["status"] for m in json.loads(r.stdout)}
        except (ValueError, KeyError, TypeError):
            seen = r.stdout + r.stderr
        check(r.returncode == 0 and seen == {"t1": "up"},
              f"ctl --tls-ca members over HTTPS: exit {r.returncode}, {seen}")
        r = subprocess.run(ctl + ["--tls-ca", tmp + "/ca.pem", "--admin-token-file",
                                  secrets["--admin-token-file"], "sessions"],
                           capture_output=True, text=True, timeout=30)
        check(r.returncode == 0 and game_id in r.stdout,
              f"ctl --tls-ca sessions (an admin call) over HTTPS: exit {r.returncode}, "
              f"{(r.stdout + r.stderr).strip()[:200]}")
        r = subprocess.run(ctl + ["--tls", "members"], capture_output=True, text=True, timeout=30)
        check(r.returncode == 1 and "certificate verifies" in r.stderr,
              f"ctl --tls (the system's CAs, which did not sign the node's certificate): exit 1, "
              f"{r.stderr.strip()[:200]}")
        r = subprocess.run(ctl + ["members"], capture_output=True, text=True, timeout=30)
        check(r.returncode == 1 and "--tls" in r.stderr,
              f"ctl without --tls-ca: exit 1, saying to give it: {r.stderr.strip()[:200]}")
        check(node.poll() is None, "the node still runs")

        node.send_signal(signal.SIGTERM)
        try:
            code = node.wait(timeout=30)
        except subprocess.TimeoutExpired:
            code = None
        check(code == 0, f"SIGTERM: drained and exited 0 (exit {code})")

        check_refusals(binary, tmp, secrets)
    finally:
        if node is not None and node.poll() is None:
            node.send_signal(signal.SIGKILL)
            node.wait()
        if check.failures:
            print_log_tails([log_path], lines=20)
        shutil.rmtree(tmp, ignore_errors=True)
    return check.finish("HTTPS and WSS on the API port, its abuse survived, bad flags refused")


if __name__ == "__main__":
    sys.exit(main())
