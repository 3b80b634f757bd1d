"""The shipped model: ``models/`` of the source tree, linked as ``toolkit/shipped`` and installed
as package data, so ``antispoof demo`` and ``predict`` work from any installation."""
from pathlib import Path

from antispoof.core.rundir import ExportDir

SHIPPED = ExportDir(Path(__file__).resolve().parent.parent / "shipped")
DEFAULT_MODEL = SHIPPED / SHIPPED.INT8
