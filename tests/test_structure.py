"""The package's shape: stage sub-packages whose imports point one way down the pipeline, one
owner for each file name of a run folder, and package data that installs the shipped model."""
import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
TOOLKIT = REPO / "toolkit" / "antispoof"  # the package folder, named as it is imported
# bottom to top: a sub-package imports only from itself and the ones before it; ``testing``
# (what the tests and the benchmarks share) sits on top and nothing of the package imports it
LAYERS = ("core", "data", "models", "runtime", "training", "compress", "bench", "evaluation",
          "pipeline", "cli", "testing")
# function-level imports kept on purpose: Keras (TensorFlow) only for a .keras file, so that
# running a .tflite file never loads TensorFlow
LAZY = {("runtime/interpreter.py", "antispoof.models.builders"),
        ("runtime/info.py", "antispoof.models.builders")}


def _modules():
    for path in sorted(TOOLKIT.rglob("*.py")):
        rel = path.relative_to(TOOLKIT)
        parts = rel.with_suffix("").parts
        name = ".".join(("antispoof",) + (parts[:-1] if parts[-1] == "__init__" else parts))
        yield name, rel, ast.parse(path.read_text())


def _imports(tree):
    """(module imported, at top level?) for every antispoof import."""
    top = {id(node) for node in tree.body}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("antispoof"):
            assert node.level == 0
            yield node.module, id(node) in top
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("antispoof"):
                    yield alias.name, id(node) in top


def _layer(module):
    parts = module.split(".")
    return LAYERS.index(parts[1]) if len(parts) > 1 and parts[1] in LAYERS else -1


def test_every_module_lives_in_a_stage_package():
    for name, rel, _ in _modules():
        assert len(rel.parts) == 2 or rel.name in ("__init__.py", "cli.py"), rel
        assert rel.parts[0] in LAYERS or rel.name == "__init__.py" or rel.name == "cli.py", rel


def test_the_toolkit_folder_holds_only_the_package():
    """toolkit/antispoof is the package (found by setuptools, no mapping, no links) and
    toolkit/web the web page's JavaScript source, which no Python imports; the shipped model is
    copied in when a wheel is built, never linked into the tree."""
    assert sorted(p.name for p in (REPO / "toolkit").iterdir()
                  if not p.name.endswith(".egg-info") and p.name != "__pycache__") == ["antispoof", "web"]
    assert not [p for p in (REPO / "toolkit" / "web").rglob("*.py") if "node_modules" not in p.parts]
    assert not [p for p in TOOLKIT.rglob("*") if p.is_symlink()]
    assert "package-dir" not in (REPO / "pyproject.toml").read_text()


def _top_level_imports(path):
    """Every module name that ``path`` imports (absolute imports only), wherever it does."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module.split(".")[0]
        elif isinstance(node, ast.Import):
            yield from (alias.name.split(".")[0] for alias in node.names)


def test_benchmarks_and_tests_import_neither_each_other():
    """What both need (paths of ../shared, the loopback servers, NUAA videos, the recipes) lives
    in the package; a benchmark imports benchmarks' own modules, a test only conftest."""
    benchmarks = {p.stem for p in (REPO / "benchmarks").glob("*.py")}
    tests = {p.stem for p in (REPO / "tests").glob("*.py")}
    for path in sorted((REPO / "benchmarks").glob("*.py")):
        assert not set(_top_level_imports(path)) & (tests - benchmarks), path.name
        assert "sys.path" not in path.read_text(), f"{path.name} edits sys.path"
    for path in sorted((REPO / "tests").glob("*.py")):
        assert not set(_top_level_imports(path)) & (benchmarks - tests), path.name
        assert not set(_top_level_imports(path)) & (tests - {"conftest"}), path.name


def test_every_benchmark_imports_common_first_and_the_libraries_stay_quiet():
    """Importing ``common`` hides the libraries' log lines as the CLI does (TensorFlow's C++
    start-up lines go to descriptor 2 when it loads): every script imports it before any module
    outside the standard library; a script's --help then writes nothing on stderr, and takes
    --verbose (which shows them)."""
    import subprocess
    import sys

    def root(node):
        name = node.module if isinstance(node, ast.ImportFrom) else node.names[0].name
        return name.split(".")[0]

    for path in sorted((REPO / "benchmarks").glob("*.py")):
        if path.stem == "common":
            continue
        first = next(node for node in ast.parse(path.read_text()).body
                     if isinstance(node, (ast.Import, ast.ImportFrom))
                     and root(node) not in sys.stdlib_module_names)
        assert root(first) == "common", f"{path.name} imports {root(first)} before common"
    for extra in ([], ["--verbose"]):
        proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "quantization.py"),
                               *extra, "--help"], capture_output=True, text=True, cwd=REPO)
        assert proc.returncode == 0 and "--verbose" in proc.stdout, proc.stderr[-2000:]
        if not extra:
            assert proc.stderr == ""


def test_the_testing_helpers_are_for_tests_and_benchmarks_only():
    for name, rel, tree in _modules():
        if rel.parts[0] != "testing":
            assert not any(target.startswith("antispoof.testing") for target, _ in _imports(tree)), rel


def test_imports_point_down_the_pipeline_and_form_no_circle():
    graph = {}
    for name, rel, tree in _modules():
        graph[name] = set()
        for target, top in _imports(tree):
            if target == "antispoof":
                continue
            assert _layer(target) <= _layer(name), f"{rel} imports {target}, a later stage"
            if not top and rel.name != "cli.py":
                assert (rel.as_posix(), target) in LAZY, f"{rel}: function-level import of {target}"
            graph[name].add(target)
    seen, on_path = set(), []

    def visit(node):
        assert node not in on_path, "import circle: " + " → ".join(on_path[on_path.index(node):] + [node])
        if node in seen:
            return
        on_path.append(node)
        for target in graph.get(node, ()):
            visit(target)
        on_path.pop()
        seen.add(node)

    for node in graph:
        visit(node)


def _string_constants(tree):
    """String literals that are not docstrings."""
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
            if node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant):
                docstrings.add(id(node.body[0].value))
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            yield node


def test_run_folder_file_names_have_one_owner():
    from antispoof.core.rundir import ExportDir, RunDir

    names = {getattr(cls, a) for cls in (RunDir, ExportDir) for a in dir(cls)
             if a.isupper() and isinstance(getattr(cls, a), str)}
    names.discard(RunDir.CHECKPOINT_GLOB)
    names |= {"checkpoint-epoch"}
    for name, rel, tree in _modules():
        if rel.as_posix() == "core/rundir.py":
            continue
        for node in _string_constants(tree):
            value = node.value
            hits = [n for n in names if value == n or value.endswith("/" + n)
                    or (n == "checkpoint-epoch" and n in value)]
            assert not hits, f"{rel}:{node.lineno}: writes the run-folder name {hits[0]!r}; ask RunDir"


@pytest.mark.parametrize("name", ["antispoof_int8.tflite", "antispoof_mediapipe.tflite",
                                  "model.json", "labels.txt", "MODEL_CARD.md"])
def test_the_shipped_model_is_package_data(name):
    from antispoof.core.shipped import SHIPPED

    assert (SHIPPED / name).is_file()
    assert (SHIPPED / name).resolve() == (REPO / "models" / name).resolve()
