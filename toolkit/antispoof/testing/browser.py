"""The liveness page in real headless Chromium (Debian's, driven by Playwright), its camera a
clip played by Chromium's fake capture device: a y4m file made from face crops, each held for
a few frames at a place of its own in the frame, so that a face box tells which crop it is."""
import contextlib
import shutil
import threading
from pathlib import Path

import cv2
import numpy as np

from antispoof.pipeline.web import page_server

FRAME = (480, 640)  # height, width of the clip
TILE = 160  # side of each face crop in the clip
STEP = 100  # between the places of the crops: 5 × 4 places, far apart next to detector jitter
PLACES = [(10 + STEP * i, 10 + STEP * j) for j in range(4) for i in range(5)]  # (x, y)
BACKGROUND = 90
# Chromium as the tool library's probe starts it here: no first-run, background networking,
# component updates or sync, so it opens no connection of its own (tests talk to 127.0.0.1 only).
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium_path():
    path = shutil.which("chromium")
    assert path, "chromium is missing: `make test` installs it (apt-get install chromium)"
    return path


def clip_frame(crop, place):
    """A 640×480 RGB frame, grey, with the RGB crop scaled into the tile at ``PLACES[place]``."""
    frame = np.full((*FRAME, 3), BACKGROUND, np.uint8)
    height, width = crop.shape[:2]
    scale = TILE / max(height, width)
    h, w = round(height * scale), round(width * scale)
    x, y = PLACES[place][0] + (TILE - w) // 2, PLACES[place][1] + (TILE - h) // 2
    frame[y:y + h, x:x + w] = cv2.resize(crop, (w, h), interpolation=cv2.INTER_AREA)
    return frame


def write_y4m(path, frames, fps=10, hold=1):
    """A YUV4MPEG2 clip (I420, BT.601 limited range: what Chromium's fake camera assumes) of
    RGB frames, each shown ``hold`` times."""
    height, width = frames[0].shape[:2]
    with open(path, "wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for frame in frames:
            planes = cv2.cvtColor(frame, cv2.COLOR_RGB2YUV_I420).tobytes()
            for _ in range(hold):
                out.write(b"FRAME\n" + planes)
    return Path(path)


def decoded(frame):
    """The RGB frame as the clip carries it (I420 and back, as OpenCV converts)."""
    return cv2.cvtColor(cv2.cvtColor(frame, cv2.COLOR_RGB2YUV_I420), cv2.COLOR_YUV2RGB_I420)


def place_of(box):
    """Index of the clip place whose tile contains the centre of a face box."""
    cx, cy = box[0] + box[2] / 2, box[1] + box[3] / 2
    return int(np.argmin([(cx - x - TILE / 2) ** 2 + (cy - y - TILE / 2) ** 2 for x, y in PLACES]))


@contextlib.contextmanager
def served(folder, isolated=True):
    """The folder on an HTTP server at 127.0.0.1 (any free port), cross-origin isolated as
    ``antispoof serve`` makes it, or plain; yields the page's URL."""
    server = page_server(folder, port=0, isolated=isolated)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def chromium(camera=None):
    """A headless Chromium browser (Playwright); ``camera``: a y4m clip as its camera."""
    from playwright.sync_api import sync_playwright

    args = list(CHROMIUM_ARGS)
    if camera is not None:
        args += ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                 f"--use-file-for-fake-video-capture={camera}"]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=args)
        try:
            yield browser
        finally:
            browser.close()


def open_page(browser, url, timeout_s=60):
    """The page at ``url`` once it is ready or has failed; requests are recorded in
    ``page.requested``."""
    page = browser.new_page(viewport={"width": 800, "height": 1000})
    page.requested = []
    page.on("request", lambda request: page.requested.append(request.url))
    page.goto(url)
    page.wait_for_function("window.antispoof && window.antispoof.state !== 'loading'",
                           timeout=timeout_s * 1000)
    return page


def page_frames(page, count, timeout_s=120):
    """The page's results once it has processed ``count`` frames with a face."""
    page.wait_for_function(f"window.antispoof.frames.filter(f => f.faces.length).length >= {count}"
                           " || window.antispoof.state === 'error'", timeout=timeout_s * 1000)
    return page.evaluate("window.antispoof.frames")
