"""The HTML report, rendered by real headless Chromium: no console errors, every image shows."""
import re
import subprocess

import pytest

from antispoof.testing import browser
from conftest import REPO

ARTIFACTS = REPO / "test-artifacts"
CHECK = """<script>
window.addEventListener('error', e => document.body.setAttribute('data-error', e.message));
window.addEventListener('load', () => {
  const images = [...document.images];
  document.body.setAttribute('data-images', images.length);
  document.body.setAttribute('data-broken', images.filter(i => !(i.naturalWidth > 0)).length);
});
</script>"""


def _chromium(*args):
    return subprocess.run([browser.chromium_path(), "--headless", *browser.CHROMIUM_ARGS,
                           "--enable-logging=stderr", "--v=0", *args],
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def report_html(small_build):
    page = small_build / "report.html"
    assert page.exists(), "antispoof build writes report.html"
    return page


def test_report_renders_all_images_without_console_errors(report_html, tmp_path):
    checked = tmp_path / "checked.html"
    checked.write_text(report_html.read_text().replace("</body>", CHECK + "</body>"))
    result = _chromium("--virtual-time-budget=10000", "--dump-dom", checked.as_uri())
    body = re.search(r"<body[^>]*>", result.stdout).group(0)
    assert 'data-broken="0"' in body, body
    assert re.search(r'data-images="(\d+)"', body).group(1) == "16"  # 4 plots + 12 crops
    assert "data-error" not in body
    console = [line for line in result.stderr.splitlines() if "CONSOLE" in line]
    assert not console, console


def test_report_sections_and_screenshot(report_html):
    text = report_html.read_text()
    for section in ("Metrics on the test split", "APCER per attack type", "Operating points",
                    "Size, latency and int8 parity", "Confusion matrix", "Training", "ROC and DET",
                    "Score distributions", "Where the model looks", "Configuration"):
        assert f">{section}" in text, section
    assert "http://" not in text.replace("http://www.w3.org", "")  # self-contained
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "report.png"
    shot.unlink(missing_ok=True)
    _chromium("--hide-scrollbars", "--window-size=1200,5000", f"--screenshot={shot}",
              report_html.as_uri())
    assert shot.exists() and shot.stat().st_size > 50_000


def test_one_epoch_curves_are_points_and_dark_cells_have_white_numbers():
    """A one-epoch run draws its figures as markers (a line of one point draws nothing), and
    the confusion matrix's darkest cell writes its count in white."""
    from antispoof.evaluation.report import _confusion, _curves

    epoch = {"epoch": 1, "loss": 0.5, "val_loss": 0.4, "auc": 0.9, "val_auc": 0.95,
             "precision": 0.8, "recall": 0.7, "val_precision": 0.8, "val_recall": 0.9}
    figure = _curves({"epochs": [epoch]})
    assert all(line.get_marker() not in (None, "None", "") for ax in figure.axes for line in ax.lines)
    axis = _confusion([[50, 3], [2, 40]]).axes[0]
    colours = {text.get_text(): text.get_color() for text in axis.texts}
    assert colours["50"] == "white" and colours["3"] == "black"
