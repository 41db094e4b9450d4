"""Starts a real `sekisho` binary for the compatibility suite and hands out boto3 clients."""
import os
import pathlib
import signal
import socket
import subprocess
import time
import urllib.request

import boto3
import botocore.config
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
ADMIN = ("AKIARTXV5AHD2JZDEGXD", "adminSecretKeyadminSecretKeyadminSecret0")
ALICE = ("AKIARTXV5AHD2JZALICE", "aliceSecretKeyaliceSecretKeyaliceSecret0")
PROD_ADMIN = ("AKIATHPL2AOHOXRILAV5", "prodSecretKeyprodSecretKeyprodSecretKey0")
DEPLOYER = "arn:aws:iam::222222222222:role/deployer"
AUDITOR = "arn:aws:iam::222222222222:role/auditor"


def binary():
    if os.environ.get("SEKISHO_BIN"):
        return os.environ["SEKISHO_BIN"]
    target = os.environ.get("CARGO_TARGET_DIR", str(ROOT / "target"))
    return str(pathlib.Path(target) / "debug" / "sekisho")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Sekisho:
    """One Sekisho process over a state directory; can be killed and restarted on it."""

    def __init__(self, state_dir, backend="embedded", offset=0, extra_config=""):
        self.dir = pathlib.Path(state_dir)
        self.backend = backend
        self.port = free_port()
        self.offset = offset
        self.extra_config = extra_config
        self.proc = None

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.port}"

    def write_config(self):
        store = f'backend = "{self.backend}"\npath = "sekisho.redb"\nsecret_key_path = "store.key"\n'
        if self.backend == "redis":
            ns = "compat" + str(abs(hash(str(self.dir))))
            store += f'redis_url = "{os.environ["REDIS_URL"]}"\nnamespace = "{ns}"\n'
        cfg = f"""
[server]
listen = "127.0.0.1:{self.port}"
public_url = "{self.endpoint}"
[store]
{store}
[keys]
path = "keyring.json"
[audit]
sink = "file"
path = "audit.jsonl"
[iam]
bootstrap = "{ROOT / 'tests/compat/iam.toml'}"
[revocation]
refresh_seconds = 1
operators = ["arn:aws:iam::333333333333:user/ops"]
[testing]
insecure_clock_offset_seconds = {self.offset}
{self.extra_config}
"""
        (self.dir / "sekisho.toml").write_text(cfg)

    def start(self):
        self.write_config()
        log = open(self.dir / "server.log", "ab")
        self.proc = subprocess.Popen(
            [binary(), "serve", "--config", str(self.dir / "sekisho.toml")],
            stdout=log, stderr=log,
        )
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                urllib.request.urlopen(self.endpoint + "/healthz", timeout=1).read()
                return self
            except Exception:
                if self.proc.poll() is not None:
                    raise RuntimeError((self.dir / "server.log").read_text())
                time.sleep(0.1)
        raise RuntimeError("sekisho did not start")

    def kill(self):
        """SIGKILL: no graceful shutdown, like a crash."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def restart(self, offset=None):
        self.kill()
        if offset is not None:
            self.offset = offset
        self.port = free_port()
        return self.start()

    def client(self, service, creds, token=None):
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id=creds[0],
            aws_secret_access_key=creds[1],
            aws_session_token=token,
            config=botocore.config.Config(retries={"max_attempts": 1}),
        )

    def sts(self, creds, token=None):
        return self.client("sts", creds, token)

    def audit_lines(self):
        """The audit file once the writer has caught up: it writes after the answer (every
        20 ms), so the file is read when `/metrics` shows no event waiting."""
        deadline = time.time() + 10
        while True:
            metrics = urllib.request.urlopen(self.endpoint + "/metrics", timeout=5).read().decode()
            if "\nsekisho_audit_events_waiting 0\n" in metrics:
                break
            if time.time() > deadline:
                raise AssertionError("audit events still waiting after 10 s:\n" + metrics)
            time.sleep(0.02)
        return (self.dir / "audit.jsonl").read_text().splitlines()


def backends():
    out = ["embedded"]
    if os.environ.get("REDIS_URL"):
        out.append("redis")
    return out


@pytest.fixture(params=backends())
def server(request, tmp_path):
    s = Sekisho(tmp_path, backend=request.param).start()
    yield s
    s.kill()


@pytest.fixture
def make_server(tmp_path):
    started = []

    def make(**kw):
        s = Sekisho(tmp_path, **kw).start()
        started.append(s)
        return s

    yield make
    for s in started:
        s.kill()


def temp_creds(resp):
    c = resp["Credentials"]
    return (c["AccessKeyId"], c["SecretAccessKey"]), c["SessionToken"]
