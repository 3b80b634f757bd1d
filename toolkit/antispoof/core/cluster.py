"""Ray, for work that outgrows one machine: connecting to a cluster and fanning tasks out.

Ray is an optional extra (``pip install antispoof[cluster]``); nothing imports it unless a
command is given ``--ray``. Every node needs antispoof installed in the same environment (with
the Ray cluster launcher or KubeRay: in the node image), since tasks import it by name.
"""
import logging
import os
import secrets
import socket

from antispoof.core.console import quiet_logger
from antispoof.core.errors import AntispoofError

LOCAL = "local"


def require_ray(address=None):
    """The ray module, or a one-line error naming the extra that installs it. For a private
    cluster (``address`` local), Ray's token comes from this process's environment, set before
    Ray loads: Ray then neither writes a token to ~/.ray nor reuses what a token file holds."""
    if address == LOCAL:
        os.environ.setdefault("RAY_AUTH_MODE", "token")
        os.environ.setdefault("RAY_AUTH_TOKEN", secrets.token_hex(16))
    try:
        import ray
    except ImportError:
        raise AntispoofError("this needs Ray: pip install 'antispoof[cluster]'") from None
    quiet_logger("ray")  # Ray set its own level (INFO) as it loaded
    return ray


def connect(address, num_cpus=None):
    """Join the cluster at ``address`` ("auto": the one this node belongs to, "host:port" or
    "ray://host:10001"), or start a private one here with ``num_cpus`` CPUs ("local")."""
    ray = require_ray(address)
    if ray.is_initialized():
        return ray
    _check_reachable(address)
    quiet = {"log_to_driver": False,  # Ray's own lines only at the level our console shows
             "logging_level": logging.getLogger("ray").getEffectiveLevel()}
    try:
        if address == LOCAL:  # a new instance, even where this machine runs a cluster already
            ray.init(address="local", num_cpus=num_cpus, include_dashboard=False, **quiet)
        else:
            ray.init(address=address, **quiet)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise AntispoofError(f"--ray {address}: cannot join the Ray cluster ({first}); start one "
                             "with `ray start --head` or pass --ray local (a cluster with token "
                             "authentication needs RAY_AUTH_MODE=token and its token here)") from None
    return ray


def _check_reachable(address, timeout=5):
    """Fail fast on an address nothing listens on (Ray itself retries for minutes)."""
    if address in (LOCAL, "auto"):
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout).close()
    except (OSError, ValueError) as exc:
        raise AntispoofError(f"--ray {address}: no Ray cluster answers there ({exc}); start one "
                             "with `ray start --head` or pass --ray local") from None


def map_unordered(function, items, address, num_cpus=None):
    """``function(item)`` for every item as Ray tasks of one CPU each; yields the results as
    they finish. At most twice the cluster's CPUs are queued at a time, so a list of millions
    of videos does not flood the scheduler."""
    ray = connect(address, num_cpus)
    remote = ray.remote(num_cpus=1, max_retries=2)(function)
    limit = max(2, 2 * int(ray.cluster_resources().get("CPU", 1)))
    pending, items = [], iter(items)
    while True:
        while len(pending) < limit:
            item = next(items, None)
            if item is None:
                break
            pending.append(remote.remote(item))
        if not pending:
            return
        done, pending = ray.wait(pending, num_returns=1)
        yield ray.get(done[0])
