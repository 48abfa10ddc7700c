"""The report renders in a real browser: headless Chromium loads it from disk, with no network.

Needs Debian's ``chromium`` package (``.ci/run`` installs it); skipped only when no Chromium
binary can be found.
"""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from modelcheck.report import model_page_name, render_report

from tests.test_report import EVIL, _run

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "chrome", "headless_shell")
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars", "--force-device-scale-factor=1",
)


@pytest.fixture(scope="module")
def browser() -> str:
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    pytest.skip(f"no Chromium binary on PATH (looked for {', '.join(BROWSERS)}); "
                "install Debian's `chromium` package to run the browser test")


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    return render_report(_run(), tmp_path_factory.mktemp("browser-report"))


def _chromium(browser: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [browser, *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True, text=True, timeout=180, check=False,
    )
    assert done.returncode == 0, f"chromium exited with {done.returncode}: {done.stderr[-2000:]}"
    return done


def test_index_renders_its_table_of_verdicts(browser, report, tmp_path):
    dom = _chromium(browser, tmp_path / "profile", "--dump-dom", report.as_uri()).stdout
    assert "<table class=\"grid results\">" in dom
    assert len(re.findall(r'<span class="badge v-(?:passed|failed|error|skipped)"', dom)) == 8
    assert "<script" not in dom  # the user's `<script>` stayed text
    assert "deep&lt;script&gt;alert(1)&lt;/script&gt;" in dom


def test_model_page_renders_its_layer_table_and_svg_charts(browser, report, tmp_path):
    page = report.parent / "models" / model_page_name("mlp")
    dom = _chromium(browser, tmp_path / "profile", "--dump-dom", page.as_uri()).stdout
    assert "<table class=\"grid layers\">" in dom
    assert dom.count('data-mismatch="true"') == 3  # shape, parameters, total
    charts = re.findall(r'<svg class="chart chart-(\w+)"', dom)
    assert sorted(charts) == ["grad", "loss", "loss"]
    assert EVIL.replace("<", "&lt;").replace(">", "&gt;") in dom


def _png_pixels(path: Path) -> tuple[int, int, list[bytes]]:
    """Width, height and RGB rows of an 8-bit, non-interlaced RGB/RGBA PNG (what Chromium writes)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, chunks, header = 8, [], b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            chunks.append(body)
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and colour in (2, 6) and interlace == 0, "unexpected PNG format"
    step = 3 if colour == 2 else 4
    raw = zlib.decompress(b"".join(chunks))
    stride = width * step
    rows, previous = [], bytearray(stride)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - step] if i >= step else 0
            up, corner = previous[i], previous[i - step] if i >= step else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 0xFF
        rows.append(bytes(b for i, b in enumerate(line) if i % step < 3))
        previous = line
    return width, height, rows


def test_screenshot_shows_coloured_verdicts(browser, report, tmp_path):
    shot = tmp_path / "index.png"
    _chromium(browser, tmp_path / "profile", "--window-size=1000,700", f"--screenshot={shot}", report.as_uri())
    width, height, rows = _png_pixels(shot)
    assert (width, height) == (1000, 700)
    colours = {row[i:i + 3] for row in rows for i in range(0, len(row), 3)}
    # badge backgrounds from the stylesheet: passed, failed, error, skipped
    for name, rgb in {"passed": "dafbe1", "failed": "ffebe9", "error": "ffedd5", "skipped": "eff2f5"}.items():
        assert bytes.fromhex(rgb) in colours, f"no {name} colour (#{rgb}) in the screenshot"
