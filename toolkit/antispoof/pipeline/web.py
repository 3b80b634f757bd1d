"""The liveness web page of a model: a static folder (``index.html``, one bundled ``app.js``, the
WebAssembly runtimes of LiteRT.js and MediaPipe Tasks, the model, its ``model.json`` and the
BlazeFace model ``predict`` uses) that works from any static file server, offline.

The page's source is ``toolkit/web`` (a checkout's); its JavaScript dependencies are pinned in
``package-lock.json`` and installed with npm, and esbuild bundles ``src/`` into ``dist/app.js``.
The folder takes the runtimes from those pinned packages when it is made: nothing is fetched
when the page runs.

LiteRT.js 2.5.3 makes float32, int32 and uint8 tensors only, so the page runs the model's
MediaPipe variant: the same int8 graph behind exact uint8 ↔ int8 requantizations
(``pipeline.export.mediapipe_graph``); its own ``model.json`` describes that file.
"""
import fcntl
import functools
import http.server
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from antispoof.core.errors import AntispoofError
from antispoof.core.model_contract import mediapipe_variant, read_contract
from antispoof.core.rundir import ExportDir
from antispoof.core.shipped import SHIPPED
from antispoof.data.faces import blazeface_path

SOURCE = Path(__file__).resolve().parents[2] / "web"  # toolkit/web of a checkout
BUNDLE = ("index.html", "app.js", "app.js.map")  # the page: src/index.html and dist/app.js[.map]
# The WebAssembly each page may load, by what the browser offers: LiteRT.js with relaxed SIMD,
# its threaded build (a cross-origin isolated page), its build for browsers without relaxed
# SIMD; MediaPipe Tasks with and without SIMD.
RUNTIMES = {
    "litert": ("@litertjs/core/wasm", ("litert_wasm_internal", "litert_wasm_threaded_internal",
                                       "litert_wasm_compat_internal")),
    "mediapipe": ("@mediapipe/tasks-vision/wasm", ("vision_wasm_internal", "vision_wasm_nosimd_internal")),
}
MODEL_DIR = "model"  # the page reads model/model.json (src/liveness.js FILES)
NOTICE = """This page bundles LiteRT.js (@litertjs/core, Apache-2.0) and MediaPipe Tasks Vision
(@mediapipe/tasks-vision, Apache-2.0), with MediaPipe's BlazeFace short-range face detector
(Apache-2.0), from their npm packages; the liveness model's licence is in its model card.
"""


def page_bundle(source=SOURCE):
    """``source`` with its npm packages installed (``npm ci``) and ``dist/app.js`` bundled
    from ``src/``, each redone only when its inputs changed; one process at a time."""
    if not (source / "package.json").is_file():
        raise AntispoofError(f"{source}: the web page's source is missing (it comes with a checkout "
                             "of antispoof); pass --no-web to skip the page")
    npm = shutil.which("npm")
    if npm is None:
        raise AntispoofError("npm not found: the web page is bundled with Node.js's npm (the README's "
                             "set-up installs it); pass --no-web to skip the page")
    with open(source / ".bundle.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        installed = source / "node_modules" / ".package-lock.json"
        if _older(installed, [source / "package-lock.json"]):
            _npm(npm, source, "ci", "--no-audit", "--no-fund")
        if _older(source / "dist" / "app.js", [installed, *(source / "src").iterdir()]):
            _npm(npm, source, "run", "build")
    return source


def _older(target, inputs):
    return not target.is_file() or any(p.stat().st_mtime > target.stat().st_mtime for p in inputs)


def _npm(npm, source, *args):
    done = subprocess.run([npm, *args], cwd=source, capture_output=True, text=True)
    if done.returncode:
        lines = (done.stderr or done.stdout).strip().splitlines() or ["no output"]
        raise AntispoofError(f"{source}: npm {' '.join(args)} failed: {lines[-1]}")


def page_contract(contract_file):
    """The contract of the file the page runs: the MediaPipe variant of an exported int8 model;
    a model.json without one names its own file (the page checks that it can feed it)."""
    contract = read_contract(contract_file)
    if contract is None:
        raise AntispoofError(f"{contract_file}: no model.json (the page reads the model's contract)")
    return mediapipe_variant(contract) if contract.mediapipe_model else contract


def write_web(contract_file, out_dir, source=SOURCE):
    """``out_dir``: the page for the model ``contract_file`` (a ``model.json``) describes,
    written whole or not at all (a previous page is replaced only when the new one is done; a
    folder that holds anything else is refused)."""
    contract_file, out_dir = Path(contract_file), Path(out_dir)
    contract = page_contract(contract_file)
    model = contract_file.parent / contract.model
    if not model.is_file():
        raise AntispoofError(f"{model}: missing ({contract_file} names it)")
    if out_dir.exists() and any(out_dir.iterdir()) and not (out_dir / BUNDLE[0]).is_file():
        raise AntispoofError(f"{out_dir}: a folder with other files; the page replaces its folder "
                             "whole, so give a new or empty one")
    bundle = page_bundle(source)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        shutil.copy(source / "src" / BUNDLE[0], staging)
        for name in BUNDLE[1:]:
            shutil.copy(bundle / "dist" / name, staging)
        for folder, (package, stems) in RUNTIMES.items():
            (staging / folder).mkdir()
            for stem in stems:
                for suffix in (".js", ".wasm"):
                    shutil.copy(bundle / "node_modules" / package / (stem + suffix), staging / folder)
        models = staging / MODEL_DIR
        models.mkdir()
        shutil.copy(model, models / contract.model)
        shutil.copy(blazeface_path(), models)
        contract.size_bytes = model.stat().st_size
        contract.write(models)
        (staging / "NOTICE.txt").write_text(NOTICE)
        staging.chmod(0o755)  # mkdtemp made it private
        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.replace(staging, out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out_dir


def write_shipped_web(out_dir):
    """The page of the shipped model (``models/``)."""
    return write_web(SHIPPED / ExportDir.CONTRACT, out_dir)


class PageHandler(http.server.SimpleHTTPRequestHandler):
    """Static files; cross-origin isolated (COOP and COEP headers) unless told otherwise, so
    that the page may run the model on several threads; quiet unless asked."""

    verbose = False
    isolated = True

    def end_headers(self):
        if self.isolated:
            self.send_header("Cross-Origin-Opener-Policy", "same-origin")
            self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def log_message(self, format, *args):
        if self.verbose:
            super().log_message(format, *args)


def page_server(folder, port=8000, host="127.0.0.1", verbose=False, isolated=True):
    """An HTTP server of ``folder`` on ``host:port`` (port 0: any free one); ``serve_forever``
    runs it. ``isolated=False`` serves as plain ``python -m http.server`` does (one thread)."""
    folder = Path(folder)
    if not (folder / BUNDLE[0]).is_file():
        raise AntispoofError(f"{folder}: no {BUNDLE[0]} (make the page with `antispoof web` or "
                             "`antispoof export`)")
    settings = {"verbose": verbose, "isolated": isolated}
    handler = functools.partial(type("Handler", (PageHandler,), settings), directory=str(folder))
    try:
        return http.server.ThreadingHTTPServer((host, port), handler)
    except OSError as exc:
        raise AntispoofError(f"{host}:{port}: cannot serve there ({exc.strerror})") from None
