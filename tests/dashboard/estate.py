"""A real estate on loopback for the dashboard's browser test and benchmark.

What tests/integration/harness.cpp and scripts/quickstart.sh do, with
subprocess: the estate CA and beacon certificates (beaconctl), an enrollment
secret, the sample policy published as revision 1, a central and a DMZ relay
beacon (real processes, real TLS, a real SQLite store), and one real client
cycle through the relay. Every process listens on 127.0.0.1 only.

Executables come from the command line (CMake passes $<TARGET_FILE:...>).
"""

import base64
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time


def free_port():
    """A port nothing listens on right now (as the C++ harness's FreePort)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(what, predicate, timeout=60.0, interval=0.2):
    """Polls predicate() until it returns something true; fails after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(interval)


class Estate:
    """A central (with its admin listener on a free port) and a DMZ relay."""

    def __init__(self, beacon, beaconctl, client, source_dir, data_dir=None, keep=False):
        self.beacon, self.beaconctl, self.client_bin = beacon, beaconctl, client
        self.source_dir = source_dir
        self.dir = data_dir or tempfile.mkdtemp(prefix="dashboard-estate-")
        self.keep = keep or data_dir is not None
        self.central_dir = os.path.join(self.dir, "central")
        self.pki = os.path.join(self.dir, "pki")
        self.procs = []
        self.central_port = free_port()
        self.dmz_port = free_port()
        self.admin_port = None

    # -- beaconctl ---------------------------------------------------------
    def ctl(self, *args, check=True):
        r = subprocess.run([self.beaconctl, "--data-dir", self.central_dir, *args],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if check and r.returncode != 0:
            raise AssertionError("beaconctl %s failed (%d): %s" % (" ".join(args), r.returncode, r.stdout))
        return r.stdout

    def ctl_json(self, *args):
        return json.loads(self.ctl(*args, "--json"))

    def token(self, name, role):
        """A new API token (beaconctl token create): printed once, on its own line."""
        out = self.ctl("token", "create", "--name", name, "--role", role)
        found = re.findall(r"^bkt_[0-9a-f]{64}$", out, re.M)
        assert len(found) == 1, "no token in: " + out
        return found[0]

    # -- set-up --------------------------------------------------------------
    def create(self):
        """CA, certificates, secret, signing key, configs and revision 1 of the policy."""
        os.makedirs(os.path.join(self.central_dir, "policy", "default"), exist_ok=True)
        self.ctl("ca", "init", "--name", "Dashboard Test Estate CA")
        for name in ("central", "dmz"):
            self.ctl("beacon", "issue", name, "--host", "127.0.0.1", "--out", self.pki)
        self.secret = self.ctl("enroll", "secret", "create", "--label", "dashboard").strip()
        certs = os.path.join(self.dir, "certs")
        os.makedirs(certs, exist_ok=True)
        subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", certs + "/policy.key"], check=True)
        subprocess.run(["openssl", "pkey", "-in", certs + "/policy.key", "-pubout", "-out", certs + "/policy.pub"],
                       check=True)
        self.policy_pub = certs + "/policy.pub"
        for name in ("policy.xml", "schedule.xml"):
            shutil.copy(os.path.join(self.source_dir, "conf", "policy", "default", name),
                        os.path.join(self.central_dir, "policy", "default", name))
        with open(os.path.join(self.central_dir, "policy", "default", "failover.xml"), "w") as f:
            f.write('<failover version="1">\n  <beacon url="https://127.0.0.1:%d" priority="0"/>\n</failover>\n'
                    % self.dmz_port)
        self.write("central.conf", {
            "name": "central", "listen_host": "127.0.0.1", "listen_port": self.central_port,
            "admin_listen_host": "127.0.0.1", "admin_listen_port": 0,
            "tls_cert": self.pki + "/central.pem", "tls_key": self.pki + "/central.key",
            "data_dir": self.central_dir, "store": "sqlite", "policy_signing_key": certs + "/policy.key",
            "checkin_flush_interval": "1s", "policy_refresh_interval": "1s", "history_interval": "1s",
            "health_interval": "5s", "health_min_free": "1M", "spool_min_free": 0,
        })
        self.write("dmz.conf", {
            "name": "dmz", "listen_host": "127.0.0.1", "listen_port": self.dmz_port, "admin_listen_port": 0,
            "tls_cert": self.pki + "/dmz.pem", "tls_key": self.pki + "/dmz.key", "ca_file": self.pki + "/ca.pem",
            "data_dir": os.path.join(self.dir, "dmz"), "upstream": "https://127.0.0.1:%d" % self.central_port,
            "checkin_flush_interval": "1s", "health_interval": "5s", "health_min_free": "1M", "spool_min_free": 0,
        })
        self.write("client.conf", {
            "server": "https://127.0.0.1:%d" % self.dmz_port, "ca_file": self.pki + "/ca.pem",
            "policy_public_key": self.policy_pub, "state_dir": os.path.join(self.dir, "client"),
            "enroll_secret": self.secret, "connect_timeout": "3s", "request_timeout": "10s",
        })
        self.ctl("policy", "publish", "-m", "dashboard test")

    def write(self, name, keys):
        with open(os.path.join(self.dir, name), "w") as f:
            for k, v in keys.items():
                f.write("%s = %s\n" % (k, v))

    # -- processes -----------------------------------------------------------
    def start_beacon(self, name):
        log = os.path.join(self.dir, name + ".log")
        with open(log, "w") as out:
            p = subprocess.Popen([self.beacon, "--config", os.path.join(self.dir, name + ".conf")],
                                 stdout=out, stderr=subprocess.STDOUT)
        self.procs.append(p)

        def started():
            if p.poll() is not None:
                raise AssertionError("beacon %s exited (%d):\n%s" % (name, p.returncode, open(log).read()))
            m = re.search(r"listening on 127\.0\.0\.1:(\d+), admin on 127\.0\.0\.1:(\d+)", open(log).read())
            return m and (int(m.group(1)), int(m.group(2)))
        return wait_until("beacon " + name + " to listen", started, timeout=30)

    def start(self):
        _, self.admin_port = self.start_beacon("central")
        self.start_beacon("dmz")

    def run_client(self):
        r = subprocess.run([self.client_bin, "--config", os.path.join(self.dir, "client.conf"), "run", "--once"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if r.returncode != 0:
            raise AssertionError("beacon-client run --once failed (%d):\n%s" % (r.returncode, r.stdout))
        with open(os.path.join(self.dir, "client", "device-id")) as f:
            return f.read().strip()

    def wait_imported(self, device):
        """Until the central has the device active with its packages."""
        def imported():
            active = [d for d in self.ctl_json("devices", "--status", "active") if d["id"] == device]
            return active and self.ctl_json("software", device)
        return wait_until("the central to import device " + device, imported, timeout=60)

    def stop(self):
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.procs = []
        if not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)

    # -- TLS -------------------------------------------------------------------
    def central_spki_sha256(self):
        """base64 SHA-256 of the central certificate's public key (SPKI), for
        Chromium's --ignore-certificate-errors-spki-list: the browser accepts
        this one key for 127.0.0.1, and no other certificate error."""
        pub = subprocess.run(["openssl", "x509", "-in", self.pki + "/central.pem", "-noout", "-pubkey"],
                             check=True, stdout=subprocess.PIPE).stdout
        der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "der"], input=pub, check=True,
                             stdout=subprocess.PIPE).stdout
        digest = subprocess.run(["openssl", "dgst", "-sha256", "-binary"], input=der, check=True,
                                stdout=subprocess.PIPE).stdout
        return base64.b64encode(digest).decode()

    @property
    def url(self):
        return "https://127.0.0.1:%d/" % self.admin_port
