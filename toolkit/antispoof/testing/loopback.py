"""Real remote targets on 127.0.0.1 for the tests and the benchmarks: an sshd, an adbd, a Ray
head node and TensorFlow multi-worker processes.

``sshd`` runs Debian's openssh-server as root on a free port with a generated host key and
authorized key; ``adbd`` runs the daemon that ``make system-deps`` extracted from Debian's
bookworm-backports into ``.cache/adbd``, reached through a private adb server; ``ray_head``
runs ``ray start --head`` bound to 127.0.0.1; ``tf_workers`` starts one command per worker
with a ``TF_CONFIG`` naming free loopback ports.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from antispoof.testing.checkout import ADBD_ROOT


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, process, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with status {process.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")


def stop(process):
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()


@contextmanager
def sshd(work):
    """sshd on a free loopback port, and an ssh client config naming it ``loopback`` (its
    remote TMPDIR holds a space and a ';', so remote paths need quoting). Yields the port,
    the client key, the config file and that remote TMPDIR."""
    work = Path(work)
    for name in ("host_key", "client_key"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", work / name], check=True)
    remote_tmp = work / "remote tmp;x"
    remote_tmp.mkdir()
    port = free_port()
    (work / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {work}/host_key\n"
        f"AuthorizedKeysFile {work}/client_key.pub\nPidFile {work}/sshd.pid\nUsePAM no\n"
        "StrictModes no\nPasswordAuthentication no\nPermitRootLogin prohibit-password\n"
        "AcceptEnv TMPDIR\nSubsystem sftp internal-sftp\n")
    (work / "ssh_config").write_text(
        f"Host loopback\n  HostName 127.0.0.1\n  User root\n  Port {port}\n"
        f"  UserKnownHostsFile {work}/known_hosts\n  StrictHostKeyChecking accept-new\n"
        f'  SetEnv TMPDIR="{remote_tmp}"\n')
    os.makedirs("/run/sshd", exist_ok=True)
    server = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", work / "sshd_config"],
                              stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, server)
        tmpdir = subprocess.run(["ssh", "-F", work / "ssh_config", "-i", work / "client_key",
                                 "loopback", 'echo "$TMPDIR"'], capture_output=True, text=True)
        if tmpdir.stdout.strip() != str(remote_tmp):
            raise RuntimeError(f"ssh to the loopback sshd failed: {tmpdir.stderr.strip()}")
        yield {"port": port, "key": work / "client_key", "config": work / "ssh_config",
               "remote_tmp": remote_tmp}
    finally:
        stop(server)


@contextmanager
def adbd():
    """adbd on a free loopback port, connected through a private adb server (its own port,
    set in ``ANDROID_ADB_SERVER_PORT`` for this process); yields the device serial."""
    daemon_path = ADBD_ROOT / "usr" / "lib" / "android-sdk" / "platform-tools" / "adbd"
    if not daemon_path.exists():
        raise FileNotFoundError(f"{daemon_path} missing: `make system-deps` extracts it")
    port, server_port = free_port(), free_port()
    env = {**os.environ, "ADBD_PORT": str(port),
           "LD_LIBRARY_PATH": str(ADBD_ROOT / "usr" / "lib" / "x86_64-linux-gnu" / "android")}
    daemon = subprocess.Popen([daemon_path], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    saved = os.environ.get("ANDROID_ADB_SERVER_PORT")
    os.environ["ANDROID_ADB_SERVER_PORT"] = str(server_port)
    try:
        wait_for_port(port, daemon)
        serial = f"127.0.0.1:{port}"
        connected = subprocess.run(["adb", "connect", serial], capture_output=True, text=True,
                                   timeout=60)
        if f"connected to {serial}" not in connected.stdout:
            raise RuntimeError(f"adb connect {serial}: {connected.stdout}{connected.stderr}")
        yield serial
    finally:
        subprocess.run(["adb", "kill-server"], capture_output=True, timeout=60)
        stop(daemon)
        if saved is None:
            os.environ.pop("ANDROID_ADB_SERVER_PORT", None)
        else:
            os.environ["ANDROID_ADB_SERVER_PORT"] = saved


# Ray on loopback only: no usage-stats report, 127.0.0.1 is not swapped for the host's address
# (Ray's switch for single-machine clusters), and token authentication with a fresh token
# rather than whatever ~/.ray/auth_token holds
RAY_ENV = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
           "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": os.urandom(16).hex()}


@contextmanager
def ray_head(cpus=2):
    """A Ray head node on 127.0.0.1 with ``cpus`` CPUs; yields its address. Its clients need
    ``RAY_ENV`` in their environment. ``ray stop`` at the end stops this machine's Ray."""
    ray = str(Path(sys.executable).with_name("ray"))
    env = {**os.environ, **RAY_ENV}
    port = free_port()
    subprocess.run([ray, "start", "--head", "--node-ip-address", "127.0.0.1", "--port", str(port),
                    "--num-cpus", str(cpus), "--include-dashboard", "false",
                    "--object-store-memory", str(200 << 20), "--disable-usage-stats"],
                   env=env, check=True, capture_output=True, timeout=120)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run([ray, "stop", "--force"], env=env, capture_output=True, timeout=120)


def tf_workers(command, count=2, logs=None):
    """Start ``command`` once per worker of a ``count``-worker TF_CONFIG cluster on loopback
    ports; returns the processes (output to ``logs``/worker-<i>.log when given)."""
    cluster = {"worker": [f"127.0.0.1:{free_port()}" for _ in range(count)]}
    processes = []
    for index in range(count):
        config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        log = open(Path(logs) / f"worker-{index}.log", "w") if logs else None
        processes.append(subprocess.Popen([str(c) for c in command],
                                          stdout=log or subprocess.DEVNULL, stderr=subprocess.STDOUT,
                                          env={**os.environ, "TF_CONFIG": config}))
        if log:
            log.close()
    return processes
