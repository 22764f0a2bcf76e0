"""The class report in a real browser: headless Chromium (Debian's `chromium`) opens the page of
the planted class from tests/test_class_report.py, draws it without a console message, and, with
JavaScript switched off, still shows the students, the named mistakes and the numbers.

How the browser is asked (what works in Chromium 156 and is checked below, not assumed):
- console messages: `--enable-logging=stderr` writes each one of the page's console messages to
  stderr as `[...:INFO:CONSOLE:<line>] "<message>", source: <url> (<line>)`, an uncaught
  exception as `"Uncaught Error: ..."`. Every level (console.log, console.error, an uncaught
  error) is logged as INFO, so the detector counts every CONSOLE line, whatever its level: the
  page has no script, anything it logs is wrong. Failed loads of files are not logged there;
  that the page refers to no file at all is checked on the HTML.
- JavaScript off: `--blink-settings=scriptEnabled=false` makes --dump-dom and --screenshot
  print nothing and exit 0 in this version, so the profile switches JavaScript off instead (its
  Preferences block every site's scripts, as the settings page would); a control page whose
  script rewrites its text proves the scripts really do not run.
The detector and the switch are tested on pages made to fail, so a browser that stopped logging
or ignored the setting would fail these tests instead of passing them blindly.

Skipped only where /usr/bin/chromium is missing and CI is not set; under CI a missing browser fails
(.ci/run installs it).
"""

import html
import json
import os
import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import pytest

from grader.classroom.class_report import main
from tests.test_class_report import (
    CRASH_MESSAGE,
    GRADED,
    SCRIPT,
    TRANSPOSED,
    UNGRADEABLE,
    write_planted_class,
)

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
WIDTH, HEIGHT = 1280, 3600  # the plots come after the students' tables: tall enough to hold them
# one console message of the page, in the format of Chromium 156 (`INFO:CONSOLE:12]`) or of older
# versions (`INFO:CONSOLE(12)]`), whatever its level
CONSOLE_LINE = re.compile(r":CONSOLE(?::\d+|\(\d+\))\]")
PLOT_COLOURS = {"mean score / histogram": (0x4C, 0x72, 0xB0), "pass rate": (0xDD, 0x84, 0x52)}


@pytest.fixture(scope="module")
def chromium():
    if not CHROMIUM.exists():
        if "CI" in os.environ:
            pytest.fail(
                f"CI is set and {CHROMIUM} is missing: .ci/run installs it with apt-get install chromium"
            )
        pytest.skip(f"no {CHROMIUM} (apt-get install chromium); under CI this test fails instead")
    return CHROMIUM


def browse(chromium, page, profile, *flags, javascript=True):
    """Run headless Chromium on the file `page` with a fresh profile folder; the finished process."""
    profile.mkdir(parents=True)
    if not javascript:
        (profile / "Default").mkdir()
        blocked = {"profile": {"default_content_setting_values": {"javascript": 2}}}
        (profile / "Default" / "Preferences").write_text(json.dumps(blocked), encoding="utf-8")
    command = [
        str(chromium),
        "--headless",
        "--no-sandbox",  # CI runs as root
        "--disable-gpu",
        "--disable-dev-shm-usage",  # containers have a small /dev/shm
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
        *flags,
        Path(page).resolve().as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, f"chromium exited with {done.returncode}:\n{done.stderr[-3000:]}"
    return done


def console_messages(stderr):
    """The page's console messages among Chromium's log lines."""
    return [line for line in stderr.splitlines() if CONSOLE_LINE.search(line)]


def dump_dom(chromium, page, profile, javascript=True):
    """The DOM after loading `page`, serialized by Chromium (--dump-dom), and the process."""
    done = browse(chromium, page, profile, "--dump-dom", javascript=javascript)
    assert "<html" in done.stdout, f"--dump-dom printed no page:\n{done.stderr[-3000:]}"
    return done.stdout, done


class Text(HTMLParser):
    """The text of an HTML body as a reader sees it: entities resolved, a space between blocks
    and table cells, none inside a line of text; style and title left out."""

    BLOCKS = {"p", "li", "td", "th", "tr", "h1", "h2", "h3", "blockquote", "section", "ul", "ol", "table"}
    HIDDEN = {"style", "title", "head"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts, self.hidden = [], 0

    def handle_starttag(self, tag, attrs):
        self.hidden += tag in self.HIDDEN
        if tag in self.BLOCKS:
            self.parts.append(" ")

    def handle_endtag(self, tag):
        self.hidden -= tag in self.HIDDEN
        if tag in self.BLOCKS:
            self.parts.append(" ")

    def handle_data(self, data):
        if not self.hidden:
            self.parts.append(data)


def text_of(markup):
    parser = Text()
    parser.feed(markup)
    return " ".join("".join(parser.parts).split())


def read_png(path):
    """The PNG at `path` as an (height, width, channels) array of floats in [0, 1]."""
    from matplotlib.image import imread

    return imread(path)


# -- the planted class's page -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """The planted class graded, its report written by the command: (folder, report dict, html path)."""
    out = write_planted_class(tmp_path_factory.mktemp("browser") / "graded")
    assert main([str(out), "--json", str(out / "report.json"), "--quiet"]) == 0
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    return out, report, out / "report.html"


@pytest.fixture(scope="module")
def screenshot(chromium, graded, tmp_path_factory):
    """The page drawn at WIDTH x HEIGHT with JavaScript on: (PNG path, Chromium's stderr)."""
    _, _, page = graded
    work = tmp_path_factory.mktemp("shot")
    png = work / "report.png"
    done = browse(chromium, page, work / "profile", f"--screenshot={png}", f"--window-size={WIDTH},{HEIGHT}")
    return png, done.stderr


@pytest.fixture(scope="module")
def dom_without_javascript(chromium, graded, tmp_path_factory):
    """The page's DOM as Chromium built it with JavaScript off: (serialized DOM, stderr)."""
    _, _, page = graded
    dom, done = dump_dom(chromium, page, tmp_path_factory.mktemp("nojs") / "profile", javascript=False)
    return dom, done.stderr


def test_the_screenshot_shows_a_drawn_page_with_its_plots(screenshot):
    png, _ = screenshot
    assert png.is_file() and png.stat().st_size > 20_000
    pixels = read_png(png)
    assert pixels.shape[:2] == (HEIGHT, WIDTH)
    rgb = (pixels[..., :3] * 255).round().astype(int)
    colours = {tuple(c) for c in rgb[::4, ::4].reshape(-1, 3)}
    assert len(colours) > 50, "the screenshot is (nearly) one colour"
    white = (rgb == 255).all(axis=-1)
    assert 0.02 < 1 - white.mean() < 0.9, "the screenshot is (nearly) blank"
    for what, colour in PLOT_COLOURS.items():  # the embedded PNG plots were decoded and drawn
        near = (abs(rgb - colour) <= 3).all(axis=-1)
        assert near.sum() > 2_000, f"no {what} bars in the screenshot"


def test_the_page_logs_nothing_to_the_console(screenshot, dom_without_javascript):
    for stderr in (screenshot[1], dom_without_javascript[1]):
        assert console_messages(stderr) == []
        assert "Uncaught" not in stderr


def test_the_page_holds_no_script_and_needs_no_file(graded):
    """Its images are embedded; its only links are to the students' feedback files, beside it."""
    out, _, page = graded
    markup = page.read_text(encoding="utf-8")
    assert "<script" not in markup.lower()
    assert not re.search(r"\son[a-z]+\s*=", markup, re.IGNORECASE)  # no onload= and the like
    assert "javascript:" not in markup.lower()
    sources = re.findall(r"""src\s*=\s*["']([^"']*)""", markup, re.IGNORECASE)
    assert sources and all(r.startswith("data:image/png;base64,") for r in sources)
    links = re.findall(r"""href\s*=\s*["']([^"']*)""", markup, re.IGNORECASE)
    assert len(links) == GRADED + 1  # every student, the ungradeable one too
    for link in links:
        assert link.startswith("feedback/") and (out / unquote(html.unescape(link))).is_file(), link
    assert "@import" not in markup and "url(" not in markup


def test_without_javascript_the_dom_shows_students_mistakes_and_numbers(graded, dom_without_javascript):
    _, report, _ = graded
    dom, _ = dom_without_javascript
    text = text_of(dom)
    assert "<script" not in dom.lower()  # the student named <script>... stays text
    everyone = [s["student"] for s in report["scores"]["students"]]
    assert len(everyone) == GRADED and SCRIPT in everyone
    for student in [*everyone, UNGRADEABLE[0]]:
        assert student in text, student
    assert UNGRADEABLE[2] in text and CRASH_MESSAGE in text  # as text, not as markup

    affine = next(e for e in report["exercises"] if e["exercise"] == "Affine")
    (first, second) = affine["mistakes"]  # the planted ranking, asserted in test_class_report.py
    assert first["students"] == sorted(TRANSPOSED) and second["students"] == ["dan"]
    mistakes_at = text.index("Named mistakes per exercise")
    shown = [
        text.index(f"{m['mistake']}: {m['count']} of {GRADED} graded students", mistakes_at)
        for m in (first, second)
    ]
    assert shown == sorted(shown), "the mistakes are not shown most students first"
    assert ", ".join(first["students"]) in text and first["hint"] in text

    scores = report["scores"]
    assert (
        f"mean {scores['mean_percent']:.1f} %" in text and f"median {scores['median_percent']:.1f} %" in text
    )
    assert f"{report['submissions']} submissions, {report['graded']} graded" in text
    worst = report["checks"][0]
    marked = " hidden" if worst["visibility"] != "visible" else ""
    assert (
        f"{worst['id']}{marked} {100 * worst['pass_rate']:.0f} % {worst['passed']} {worst['failed']}" in text
    )
    everyone = sum(c["pass_rate"] == 1.0 for c in report["checks"])
    assert f"{everyone} checks passed by everyone" in text
    assert f"Class report: graded {report['submissions']} submissions · graded" in text
    at = [
        text.index(heading)
        for heading in (
            "Summary",
            "Named mistakes per exercise",
            "Students, lowest score first",
            "Submissions that could not be graded",
            "Score distribution",
            "Checks, worst first",
        )
    ]
    assert at == sorted(at), "the sections are not in the order an instructor acts on"
    assert f"Affine {affine['checks']} {affine['mean_points']:.2f} / {affine['max_points']:g}" in text
    crashes = report["crashes"]
    assert f"{crashes['results']} checks crashed in 1 submission: gus" in text


def test_the_page_reads_the_same_with_javascript_on(chromium, graded, dom_without_javascript, tmp_path):
    _, _, page = graded
    with_javascript, done = dump_dom(chromium, page, tmp_path / "profile")
    assert text_of(with_javascript) == text_of(dom_without_javascript[0])
    assert console_messages(done.stderr) == []


# -- the detector and the switch, on pages made to fail -------------------------------------------
def test_the_detector_catches_a_thrown_error_and_console_error(chromium, graded, tmp_path):
    """The report's own page with a script planted in it: the detector must see what it logs."""
    _, _, report_page = graded
    planted = '<script>console.error("planted console error"); throw new Error("x")</script>'
    page = tmp_path / "throws.html"
    page.write_text(
        report_page.read_text(encoding="utf-8").replace("</body>", planted + "</body>"), encoding="utf-8"
    )
    png = tmp_path / "throws.png"
    done = browse(chromium, page, tmp_path / "profile", f"--screenshot={png}", "--window-size=800,600")
    messages = console_messages(done.stderr)
    assert any('"Uncaught Error: x"' in m for m in messages), done.stderr[-3000:]
    assert any("planted console error" in m for m in messages), done.stderr[-3000:]
    assert png.is_file()


def test_javascript_is_really_off_in_the_no_javascript_profile(chromium, tmp_path):
    page = tmp_path / "rewrites.html"
    page.write_text(
        '<!DOCTYPE html><html><head><meta charset="utf-8"><title>t</title></head><body>'
        '<p id="p">as written</p><script>document.getElementById("p").textContent = "rewritten"</script>'
        "</body></html>",
        encoding="utf-8",
    )
    on, _ = dump_dom(chromium, page, tmp_path / "on")
    off, done = dump_dom(chromium, page, tmp_path / "off", javascript=False)
    assert ">rewritten</p>" in on and ">as written</p>" in off
    assert console_messages(done.stderr) == []
