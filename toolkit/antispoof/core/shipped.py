"""The shipped model: ``models/`` of the source tree, copied into an installed package as
``antispoof/shipped`` (``setup.py``), so ``antispoof demo`` and ``predict`` work from any
installation; an editable install reads the checkout's ``models/``."""
from pathlib import Path

from antispoof.core.rundir import ExportDir

_PACKAGE = Path(__file__).resolve().parent.parent
_INSTALLED = _PACKAGE / "shipped"  # a wheel: copied in at build time
_CHECKOUT = _PACKAGE.parent.parent / "models"  # an editable install: toolkit/antispoof/../../models

SHIPPED = ExportDir(_INSTALLED if _INSTALLED.is_dir() else _CHECKOUT)
DEFAULT_MODEL = SHIPPED / SHIPPED.INT8
