"""The installed ``antispoof`` command, run as a user runs it: in a pipe, or with a
pseudo-terminal as its stderr."""
import os
import subprocess
import sys
from pathlib import Path

ANTISPOOF = Path(sys.executable).with_name("antispoof")


def run_cli(*args, check=True, timeout=600):
    """Run the installed ``antispoof`` console script; return the CompletedProcess."""
    proc = subprocess.run([str(ANTISPOOF), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"antispoof {' '.join(map(str, args))} failed:\n{proc.stderr[-3000:]}")
    return proc


def run_cli_on_terminal(*args, timeout=600):
    """Run the console script with a pseudo-terminal as its stderr (as a person at a terminal
    sees it); return (exit status, what it wrote to stderr, stdout)."""
    import fcntl
    import pty
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # rows, columns
    proc = subprocess.Popen([str(ANTISPOOF), *map(str, args)], stdout=subprocess.PIPE,
                            stderr=slave, text=False)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # the terminal closed: every writer has exited
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    out, _ = proc.communicate(timeout=timeout)
    return proc.returncode, b"".join(chunks).decode(errors="replace"), out.decode()
