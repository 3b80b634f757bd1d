"""Real remote targets on 127.0.0.1 for the tests and benchmarks: an sshd and an adbd.

``sshd`` runs Debian's openssh-server as root on a free port with a generated host key and
authorized key; ``adbd`` runs the daemon that ``make system-deps`` extracted from Debian's
bookworm-backports into ``.cache/adbd``, reached through a private adb server.
"""
import os
import signal
import socket
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

ADBD_ROOT = Path(__file__).resolve().parent.parent / ".cache" / "adbd"


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
