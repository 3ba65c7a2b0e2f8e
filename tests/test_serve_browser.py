"""The web page of ``zsaudio serve`` in a real browser (headless Chromium, driven by Selenium).

The page is served on 127.0.0.1; the browser uploads an ESC-50 clip of a class the model never
trained on, types the candidate labels, clicks Classify and must show the right label first;
a ~22 s recording of three unseen classes must get its timeline drawn (a line per label, a bar
per event) with the events listed in order. Screenshots of the results are saved under the
tests' tmp folders (``ZSAUDIO_SCREENSHOT`` and ``ZSAUDIO_TIMELINE_SCREENSHOT`` name other files
to write, e.g. the README's ``docs/serve-page.png``).

In CI (``CI`` set) this test never skips: ``.ci/run`` installs Debian's ``chromium`` and
``chromium-driver``. Elsewhere it skips when no Chromium is found.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
from serve_support import LONG_ORDER, UNSEEN_LABELS, long_recording, require, running_server, unseen_clips

require("selenium")
require("uvicorn")
from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from zsaudio.serve.app import create_app  # noqa: E402

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
DRIVERS = ("chromedriver",)


def _find(names) -> str | None:
    for name in names:
        bundled = Path("/usr/lib/chromium") / name  # Debian's own folder, when not on PATH
        found = shutil.which(name) or (str(bundled) if bundled.is_file() else None)
        if found:
            return found
    return None


@pytest.fixture(scope="module")
def browser():
    binary, driver = _find(BROWSERS), _find(DRIVERS)
    if not (binary and driver):
        if os.environ.get("CI"):
            pytest.fail("Chromium or chromedriver missing in CI: .ci/run installs chromium chromium-driver")
        pytest.skip("no Chromium/chromedriver found (apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=960,1280", "--disable-extensions", "--no-first-run",
                # a fake microphone (a beeping tone) that needs no permission prompt
                "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"):
        options.add_argument(arg)
    chrome = webdriver.Chrome(service=Service(executable_path=driver), options=options)
    chrome.set_page_load_timeout(60)
    yield chrome
    chrome.quit()


def test_page_ranks_an_unseen_class_first(browser, serve_model, tmp_path):
    clf, model_path = serve_model
    label = UNSEEN_LABELS[0]
    clip = unseen_clips(per_class=1)[label][0]
    with running_server(create_app(clf, model_name=model_path.name)) as url:
        browser.get(url + "/")
        wait = WebDriverWait(browser, 90)
        wait.until(lambda b: "Model: conse" in b.find_element(By.ID, "model-info").text)
        browser.find_element(By.ID, "file-input").send_keys(clip)
        assert browser.find_element(By.ID, "file-name").text == Path(clip).name
        browser.find_element(By.ID, "labels").send_keys("\n".join(reversed(UNSEEN_LABELS)))
        browser.find_element(By.ID, "classify").click()
        wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, "#ranking .prediction")))
        rows = browser.find_elements(By.CSS_SELECTOR, "#ranking .prediction")
        ranked = [r.get_attribute("data-label") for r in rows]
        assert ranked[0] == label, ranked
        assert sorted(ranked) == sorted(UNSEEN_LABELS)
        probs = [float(r.get_attribute("data-probability")) for r in rows]
        assert probs == sorted(probs, reverse=True)
        assert browser.find_element(By.ID, "error").get_attribute("hidden") is not None
        # the spectrogram was drawn (server-side log-mel: 64 bands, columns over time)
        width, height = browser.execute_script(
            "const c = document.getElementById('spectrogram'); return [c.width, c.height];")
        assert height == 64 and width > 100
        assert "5.00 s" in browser.find_element(By.ID, "spectrogram-axis").text
        assert not browser.find_element(By.ID, "timeline-panel").is_displayed()  # a short clip
        # an error is shown on the page, not as a crash: classify with no labels
        browser.find_element(By.ID, "labels").clear()
        browser.find_element(By.ID, "classify").click()
        assert "at least one candidate label" in browser.find_element(By.ID, "error").text
        browser.find_element(By.ID, "labels").send_keys("\n".join(reversed(UNSEEN_LABELS)))
        browser.find_element(By.ID, "classify").click()
        wait.until(lambda b: b.find_element(By.ID, "error").get_attribute("hidden") is not None)
        wait.until(lambda b: b.find_element(By.ID, "status").text.startswith("done"))
        shot = tmp_path / "serve-page.png"
        assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
        extra = os.environ.get("ZSAUDIO_SCREENSHOT")
        if extra:
            shutil.copyfile(shot, extra)


def test_page_records_from_the_microphone(browser, serve_model):
    clf, model_path = serve_model
    with running_server(create_app(clf, model_name=model_path.name)) as url:
        browser.get(url + "/")
        wait = WebDriverWait(browser, 90)
        record = browser.find_element(By.ID, "record")
        record.click()
        wait.until(lambda b: "Stop" in b.find_element(By.ID, "record").text)
        time.sleep(1.5)  # Chromium's fake microphone: a beeping tone
        record.click()
        wait.until(lambda b: b.find_element(By.ID, "file-name").text == "recording.wav")
        browser.find_element(By.ID, "labels").send_keys(", ".join(UNSEEN_LABELS))
        browser.find_element(By.ID, "classify").click()
        wait.until(lambda b: b.find_element(By.ID, "status").text.startswith("done")
                   or b.find_element(By.ID, "error").text)
        assert browser.find_element(By.ID, "error").text == ""
        rows = browser.find_elements(By.CSS_SELECTOR, "#ranking .prediction")
        assert sorted(r.get_attribute("data-label") for r in rows) == sorted(UNSEEN_LABELS)
        seconds = float(browser.find_element(By.ID, "spectrogram-axis").text.split(": ")[1].split(" s")[0])
        assert 0.5 < seconds < 10


def test_page_draws_the_timeline_of_a_long_recording(browser, serve_model, tmp_path):
    clf, model_path = serve_model
    clips = unseen_clips(per_class=1)
    path, truth = long_recording(tmp_path / "three.flac", clips)
    with running_server(create_app(clf, model_name=model_path.name)) as url:
        browser.get(url + "/")
        wait = WebDriverWait(browser, 90)
        browser.find_element(By.ID, "file-input").send_keys(str(path))
        browser.find_element(By.ID, "labels").send_keys("\n".join(UNSEEN_LABELS))
        assert not browser.find_element(By.ID, "timeline-toggle").is_selected()
        browser.find_element(By.ID, "classify").click()  # over 10 s: the timeline comes by itself
        wait.until(lambda b: b.find_element(By.ID, "status").text.startswith("done")
                   or b.find_element(By.ID, "error").text)
        assert browser.find_element(By.ID, "error").text == ""
        assert browser.find_element(By.ID, "timeline-panel").is_displayed()
        lines = browser.find_elements(By.CSS_SELECTOR, "#timeline polyline.prob-line")
        assert sorted(x.get_attribute("data-label") for x in lines) == sorted(UNSEEN_LABELS)
        assert all(len(x.get_attribute("points").split()) > 30 for x in lines)
        legend = browser.find_elements(By.CSS_SELECTOR, "#timeline-legend li")
        assert [x.get_attribute("data-label") for x in legend][:3] == LONG_ORDER  # events first
        bars = browser.find_elements(By.CSS_SELECTOR, "#timeline rect.event-bar")
        assert [b.get_attribute("data-label") for b in bars] == LONG_ORDER
        rows = browser.find_elements(By.CSS_SELECTOR, "#timeline-events tr.event")
        assert [r.get_attribute("data-label") for r in rows] == LONG_ORDER
        for row, (onset, offset, label) in zip(rows, truth, strict=True):
            assert abs(float(row.get_attribute("data-onset")) - onset) <= 1.0
            assert abs(float(row.get_attribute("data-offset")) - offset) <= 1.0
            assert label in row.text and " s" in row.text
        # the bars sit where the events are: x / width = onset / duration
        geometry = browser.execute_script(
            "const s = document.getElementById('timeline'); const w = s.viewBox.baseVal.width;"
            "return [...s.querySelectorAll('rect.event-bar')].map(r => r.x.baseVal.value / w);")
        duration = truth[-1][1] + 2.0
        for x, (onset, _, _) in zip(geometry, truth, strict=True):
            assert abs(x * duration - onset) <= 1.0
        assert "22.0" in browser.find_element(By.ID, "timeline-axis").text
        browser.execute_script("document.getElementById('result-panel').scrollIntoView()")
        shot = tmp_path / "serve-timeline.png"
        assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
        extra = os.environ.get("ZSAUDIO_TIMELINE_SCREENSHOT")
        if extra:
            shutil.copyfile(shot, extra)
        # a short clip gets a timeline too when "timeline" is ticked
        browser.find_element(By.ID, "file-input").send_keys(clips[LONG_ORDER[0]][0])
        browser.find_element(By.ID, "timeline-toggle").click()
        browser.find_element(By.ID, "classify").click()
        wait.until(lambda b: "5.00 s" in b.find_element(By.ID, "timeline-axis").text
                   or b.find_element(By.ID, "error").text)
        assert browser.find_element(By.ID, "error").text == ""
        assert len(browser.find_elements(By.CSS_SELECTOR, "#timeline polyline.prob-line")) == 4
