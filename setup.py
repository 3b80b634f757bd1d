"""One build step beyond pyproject.toml: the shipped model (``models/`` of the checkout) is
copied into the package as ``antispoof/shipped``, so that a wheel carries it as package data.
An editable install reads ``models/`` where it is (``antispoof.core.shipped``)."""
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

MODELS = Path(__file__).resolve().parent / "models"


class BuildPy(build_py):
    def run(self):
        super().run()
        if self.editable_mode:
            return
        target = Path(self.build_lib) / "antispoof" / "shipped"
        self.mkpath(str(target))
        for path in sorted(MODELS.iterdir()):
            if path.is_file():
                self.copy_file(str(path), str(target / path.name))


setup(cmdclass={"build_py": BuildPy})
