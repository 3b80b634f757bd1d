"""Pretrained ImageNet weights: ``"imagenet"`` becomes a file before any work is done, found in
Keras's own cache (``~/.keras/models``) first, else downloaded by Keras, so that a machine that
cannot reach the weights says at once, in one line, which file to fetch and that
``--weights PATH`` takes it (rather than failing minutes later, inside Keras)."""
import re
from pathlib import Path

from antispoof.core.errors import AntispoofError
from antispoof.models.specs import SERVER_ARCH

IMAGENET = "imagenet"


def imagenet_file(arch, alpha=1.0):
    """(file name, origin URL, SHA-256 or None) of Keras's ImageNet no-top weights: EfficientNet-B0
    for the server model, else MobileNetV2 of width ``alpha`` (the 224 files; the weights of a
    no-top MobileNetV2 do not depend on the input size)."""
    if arch == SERVER_ARCH:
        from tf_keras.src.applications import efficientnet as application

        name = "efficientnetb0_notop.h5"
        return name, application.BASE_WEIGHTS_PATH + name, application.WEIGHTS_HASHES["b0"][1]
    from tf_keras.src.applications import mobilenet_v2 as application

    name = f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{float(alpha)}_224_no_top.h5"
    return name, application.BASE_WEIGHT_PATH + name, None


def require_weights_file(weights):
    """One error unless ``weights`` is None, ``"imagenet"`` or a file that exists."""
    if weights not in (None, IMAGENET) and not Path(weights).is_file():
        raise AntispoofError(f"{weights}: weights file not found")


def resolve_weights(weights, arch, alpha=1.0, cache_dir=None):
    """``weights`` as a file: ``"imagenet"`` from Keras's cache, else downloaded (Keras's own
    ``get_file``); a path or None is returned as it is."""
    if weights != IMAGENET:
        return weights
    from tf_keras.utils import get_file

    name, origin, file_hash = imagenet_file(arch, alpha)
    cache = Path(cache_dir or Path.home() / ".keras") / "models"
    try:
        return get_file(name, origin, cache_subdir="models", file_hash=file_hash,
                        cache_dir=str(cache.parent))
    except Exception as exc:  # Keras raises a bare Exception for a failed fetch
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        reason = re.sub(r"^URL fetch failure on \S+: (None -- )?", "", reason)  # the URL comes next
        raise AntispoofError(f"the ImageNet weights {name} are not in {cache} and cannot be "
                             f"downloaded ({reason}): fetch {origin} and give its path with "
                             "--weights PATH") from None
