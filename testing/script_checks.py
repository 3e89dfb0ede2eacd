"""What the project's Python tests of real nodes share (deploy/test_recipes.py,
node/dns_discovery_test.py): checks that print as they go and are counted, a cluster's secrets
made as an operator makes them, and the last lines of the nodes' logs after a failure."""
import os
import random
import subprocess


class Checks:
    """check(ok, what) prints the check's line; finish() gives the script's exit code."""

    def __init__(self, name):
        self.name = name
        self.failures = []

    def __call__(self, ok, what):
        print(("ok    " if ok else "FAIL  ") + what, flush=True)
        if not ok:
            self.failures.append(what)
        return ok

    def finish(self, passed_message):
        if self.failures:
            print(f"{self.name}: {len(self.failures)} failure(s)")
            return 1
        print(f"{self.name}: {passed_message}")
        return 0


def make_secrets(binary, folder, admin_token):
    """The three files every node of a cluster is given, in `folder`: {flag: path}."""
    os.makedirs(folder, exist_ok=True)
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    with open(folder + "/cookie", "w") as f:
        f.write("".join(random.choice(alphabet) for _ in range(40)))
    with open(folder + "/admin-token", "w") as f:
        f.write(admin_token + "\n")
    subprocess.run([binary, "token-keys", "new", folder + "/token-keys"], check=True,
                   capture_output=True)
    return {"--cookie-file": folder + "/cookie", "--token-keys-file": folder + "/token-keys",
            "--admin-token-file": folder + "/admin-token"}


def print_log_tails(paths, lines=15):
    for path in paths:
        if os.path.exists(path):
            print(f"---- {path} (last lines)")
            print("".join(open(path).readlines()[-lines:]))
