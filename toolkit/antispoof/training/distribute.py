"""tf.distribute for training: several GPUs of one host, or several hosts.

``mirrored``: ``MirroredStrategy`` over this host's GPUs (or its CPU). ``multiworker``:
``MultiWorkerMirroredStrategy`` across the processes that ``TF_CONFIG`` lists, every one of
them running the same ``antispoof train`` command. Keras splits each global batch (``--batch-size``)
across the replicas. Worker 0 (or the ``chief`` task) writes the run directory; every other
worker writes its own copy under ``RUN_DIR/worker-<index>/``, which is also what it resumes
from after a restart (all workers must save: saving is a collective step).
"""
import json
import os
from pathlib import Path

from antispoof.core.errors import AntispoofError

STRATEGIES = ("default", "mirrored", "multiworker")


def make_strategy(name):
    """The strategy of that name. Create it before any other TensorFlow work: the multi-worker
    one configures the process's collective runtime."""
    import tensorflow as tf

    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        cluster_spec()
        _configure_coordination()
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()


# how long a worker may go without a heartbeat before the job fails: TensorFlow's default, 10 s,
# failed a worker busy loading weights on a shared CPU (the strategy configures the service only
# where none is, as ParameterServerStrategyV2 sets its own timeout)
HEARTBEAT_TIMEOUT_S = 120


def _configure_coordination():
    """The coordination service MultiWorkerMirroredStrategy would configure, with
    ``HEARTBEAT_TIMEOUT_S``."""
    from tensorflow.compiler.xla.tsl.protobuf import coordination_config_pb2
    from tensorflow.python.distribute import multi_worker_util
    from tensorflow.python.distribute.cluster_resolver import TFConfigClusterResolver
    from tensorflow.python.eager import context

    spec = TFConfigClusterResolver().cluster_spec()
    jobs = [coordination_config_pb2.CoordinatedJob(name=job, num_tasks=spec.num_tasks(job))
            for job in ("chief", "worker") if job in spec.jobs]
    context.context().configure_coordination_service(
        service_type="standalone", service_leader=multi_worker_util.coordination_leader(spec),
        coordinated_jobs=jobs, heartbeat_timeout_in_ms=HEARTBEAT_TIMEOUT_S * 1000)


def cluster_spec():
    """(cluster dict, task type, task index) from ``TF_CONFIG``, checked."""
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        raise AntispoofError('--strategy multiworker needs TF_CONFIG, e.g. {"cluster": {"worker": '
                             '["host1:12345", "host2:12345"]}, "task": {"type": "worker", "index": 0}}')
    try:
        config = json.loads(raw)
        cluster, task = config["cluster"], config["task"]
        task_type, index = task["type"], int(task["index"])
        if index >= len(cluster[task_type]):
            raise ValueError(f"task index {index} but {len(cluster[task_type])} {task_type} address(es)")
    except (ValueError, KeyError, TypeError) as exc:
        raise AntispoofError(f"TF_CONFIG is not a valid cluster description ({exc})") from None
    return cluster, task_type, index


def worker_dir(out, strategy_name):
    """Where this process writes: the run directory itself, or a non-chief worker's copy."""
    if strategy_name != "multiworker":
        return Path(out)
    cluster, task_type, index = cluster_spec()
    chief = task_type == "chief" or (task_type == "worker" and index == 0 and "chief" not in cluster)
    return Path(out) if chief else Path(out) / f"{task_type}-{index}"
