"""Where ``antispoof bench`` runs: this machine, a host over ssh, or a device over adb.

Each target makes a fresh working folder, copies files in, runs one shell command, copies
results out and removes the folder. ssh and scp are the system clients (so ``~/.ssh/config``,
agents and keys work as for the user); adb is the system ``adb``. Every remote argument is
quoted with ``shlex.quote``.
"""
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path, PurePosixPath

from antispoof.core.errors import AntispoofError

TIMEOUT_S = 600
SETUP_VENV = "$HOME/.cache/antispoof-bench/venv"


class LocalTarget:
    """This machine, through the same runner file as the remote targets."""

    name = "local"
    python = sys.executable

    def make_dir(self):
        return tempfile.mkdtemp(prefix="antispoof-bench.")

    def put(self, local, folder, name):
        return str(Path(local).resolve())  # nothing to copy

    def get(self, remote, local):
        shutil.copyfile(remote, local)

    def shell(self, command, timeout=TIMEOUT_S):
        return subprocess.run(["sh", "-c", command], capture_output=True, text=True, timeout=timeout)

    def remove_dir(self, folder):
        shutil.rmtree(folder, ignore_errors=True)

    def explain(self, status, stderr):
        return _last_line(stderr)


def _no_ssh_client(client):
    return AntispoofError(f"{client} not found: install an OpenSSH client (Debian: apt-get "
                          "install openssh-client)")


class SshTarget:
    """``ssh://[USER@]HOST[:PORT]`` through the system ``ssh``/``scp`` clients."""

    def __init__(self, destination, port=None, identity=None, config=None, options=(),
                 python="python3"):
        self.destination, self.port, self.python = destination, port, python
        self.name = f"ssh://{destination}" + (f":{port}" if port else "")
        common = ["-o", "BatchMode=yes", "-o", "ConnectTimeout=10"]
        if config:
            common += ["-F", str(config)]
        if identity:
            common += ["-i", str(identity)]
        for option in options:
            common += ["-o", option]
        self.ssh = ["ssh", *common] + (["-p", str(port)] if port else [])
        self.scp = ["scp", "-q", *common] + (["-P", str(port)] if port else [])
        for client in ("ssh", "scp"):  # before any work
            if shutil.which(client) is None:
                raise _no_ssh_client(client)

    def _run(self, argv, timeout=TIMEOUT_S):
        try:
            return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        except FileNotFoundError:  # removed since the check
            raise _no_ssh_client(argv[0]) from None
        except subprocess.TimeoutExpired:
            raise AntispoofError(f"{self.name}: no answer in {timeout} s") from None

    def make_dir(self):
        return _make_remote_dir(self)

    def put(self, local, folder, name):
        remote = str(PurePosixPath(folder) / name)
        done = self._run(self.scp + ["--", str(local), f"{self.destination}:{remote}"])
        if done.returncode:
            raise AntispoofError(f"{self.name}: cannot copy {local} ({_last_line(done.stderr)}); "
                                 "scp needs the host's sftp subsystem")
        return remote

    def get(self, remote, local):
        done = self._run(self.scp + ["--", f"{self.destination}:{remote}", str(local)])
        if done.returncode:
            raise AntispoofError(f"{self.name}: cannot fetch {remote} ({_last_line(done.stderr)})")

    def shell(self, command, timeout=TIMEOUT_S):
        done = self._run(self.ssh + ["--", self.destination, command], timeout)
        if done.returncode == 255:  # ssh's own failure, not the command's
            raise AntispoofError(
                f"{self.name}: cannot connect ({_last_line(done.stderr)}); check that "
                f"`{shlex.join(self.ssh + [self.destination, 'true'])}` works")
        return done

    def remove_dir(self, folder):
        self.shell(f"rm -rf -- {shlex.quote(folder)}")

    def setup(self):
        """Create a venv on the host and install numpy and a TFLite runtime for its
        architecture (pip picks the aarch64 wheels on a Raspberry Pi); returns its python."""
        pip = '"$v/bin/pip" install --quiet'
        command = (f'v="{SETUP_VENV}" && python3 -m venv "$v" && {pip} --upgrade pip && '
                   f'{{ {pip} numpy ai-edge-litert || {pip} numpy tflite-runtime; }} && '
                   'printf "%s\\n" "$v/bin/python"')
        done = self.shell(command, timeout=1800)
        if done.returncode:
            raise AntispoofError(f"{self.name}: set-up failed ({_last_line(done.stderr)}); "
                                 "it needs python3 with venv and pip and access to PyPI")
        return done.stdout.strip().splitlines()[-1]

    def explain(self, status, stderr):
        if status == 127:
            return (f"no Python at {self.python!r} there: give --remote-python PATH, or --setup "
                    "to create a venv with a runtime")
        return _last_line(stderr)


class AdbTarget:
    """``adb[://SERIAL]``: a phone or board through the system ``adb`` client."""

    def __init__(self, serial=None, python="python3"):
        self.serial, self.python = serial, python
        self.name = f"adb://{serial}" if serial else "adb"
        self.adb = ["adb"] + (["-s", serial] if serial else [])

    def _run(self, argv, timeout=TIMEOUT_S):
        try:
            return subprocess.run(self.adb + argv, capture_output=True, text=True, timeout=timeout)
        except FileNotFoundError:
            raise AntispoofError("adb not found: install Android platform-tools "
                                 "(Debian: apt-get install adb)") from None
        except subprocess.TimeoutExpired:
            raise AntispoofError(f"{self.name}: no answer in {timeout} s") from None

    def check_online(self):
        done = self._run(["get-state"], timeout=30)
        state = done.stdout.strip()
        if done.returncode or state != "device":
            problem = state or _last_line(done.stderr) or "not found"
            raise AntispoofError(
                f"{self.name}: device is not online ({problem}); check `adb devices` (a network "
                "device needs `adb connect HOST:PORT`, a phone needs USB debugging allowed)")

    def make_dir(self):
        self.check_online()
        return _make_remote_dir(self)

    def put(self, local, folder, name):
        remote = str(PurePosixPath(folder) / name)
        done = self._run(["push", str(local), remote])
        if done.returncode:
            raise AntispoofError(f"{self.name}: cannot push {local} ({_last_line(done.stderr)})")
        return remote

    def get(self, remote, local):
        done = self._run(["pull", remote, str(local)])
        if done.returncode:
            raise AntispoofError(f"{self.name}: cannot pull {remote} ({_last_line(done.stderr)})")

    def shell(self, command, timeout=TIMEOUT_S):
        return self._run(["shell", command], timeout)

    def has_python(self):
        done = self.shell(f"command -v {shlex.quote(self.python)}")
        return done.returncode == 0 and done.stdout.strip() != ""

    def remove_dir(self, folder):
        self.shell(f"rm -rf {shlex.quote(folder)}")

    def explain(self, status, stderr):
        if status == 127:
            return (f"no Python at {self.python!r} on the device: give --remote-python PATH "
                    "(Termux: pkg install python python-numpy) or --benchmark-binary")
        return _last_line(stderr)


def parse_target(text, *, identity=None, ssh_config=None, ssh_options=(), python=None):
    """``local``, ``ssh://[USER@]HOST[:PORT]`` or ``adb[://SERIAL]`` → a target."""
    if text in (None, "", "local"):
        return LocalTarget()
    if text == "adb" or text.startswith("adb://"):
        serial = text[len("adb://"):] if text.startswith("adb://") else None
        return AdbTarget(serial or None, python or "python3")
    match = re.fullmatch(r"ssh://(?P<dest>(?:[^@/\s]+@)?(?:\[[^\]]+\]|[^:/\s@]+))(?::(?P<port>\d+))?/?",
                         text)
    if match:
        return SshTarget(match["dest"], match["port"], identity, ssh_config, ssh_options,
                         python or "python3")
    raise AntispoofError(f"{text}: unknown target; use local, ssh://USER@HOST[:PORT] or "
                         "adb[://SERIAL]")


def _make_remote_dir(target):
    """A fresh folder under the target's TMPDIR, else /data/local/tmp (Android), else /tmp."""
    done = target.shell('for d in "$TMPDIR" /data/local/tmp /tmp; do [ -d "$d" ] && break; done; '
                        'mktemp -d "$d/antispoof-bench.XXXXXX"')
    if done.returncode:
        raise AntispoofError(f"{target.name}: cannot make a temporary folder "
                             f"({_last_line(done.stderr)})")
    return done.stdout.strip()


def _last_line(text):
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[-1] if lines else "no message"
