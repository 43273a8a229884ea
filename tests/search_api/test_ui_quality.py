"""The quality workspace in real (headless) Chromium, as one working day:

a monitoring rule flags a call when its transcript arrives -> it is in the queue ->
a reviewer opens it, plays it, comments at a moment, fills the scorecard -> the
score shows in the agent statistics chart -> the agent sees and disputes it ->
calibration with two reviewers shows the spread; a backfill of old e-mails is started
and followed to its result. Every page is photographed.
"""

from __future__ import annotations

import math
import re
import struct
import threading
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

from archive.config import Role
from archive.model import Section
from archive.quality import agents, backfill, monitoring, queue, reviews, scorecards
from archive.service import Archive
from archive.users import User
from commarchive.settings import Settings
from commarchive.worker import JobKind, JobWorker
from ingest.audio import write_wav
from ingest.calls import build_call_item, parse_sidecar, recording_from_file
from tests.archive.quality.conftest import CARD_SECTIONS
from tests.conftest import email_item
from tests.search_api.test_ui import browser, served  # noqa: F401  (fixtures)
from tests.search_api.ui_steps import open_result, save_screenshot

AGENT_NUMBER = "+31205550100"


def _flagged_call(archive: Archive) -> str:
    pcm = b"".join(struct.pack("<h", int(6000 * math.sin(i / 5))) for i in range(8000 * 6))
    sidecar = parse_sidecar({"call_id": "q-1", "from": "+31612345678", "from_name": "Kees Klant",
                             "to": AGENT_NUMBER, "agent": AGENT_NUMBER,
                             "direction": "inbound", "start": "2026-11-02T09:00:00Z"})
    item_id = archive.ingest(build_call_item(
        recording_from_file(write_wav(8000, [pcm, pcm]), sidecar, source="test",
                            config=archive.config), archive.config)).item_id
    words = [{"word": w, "start": 3.0 + 0.4 * n, "end": 3.3 + 0.4 * n, "conf": 0.9}
             for n, w in enumerate(["ik", "wil", "mijn", "abonnement", "opzeggen"])]
    transcript = {"language": "nl", "speakers": [
        {"label": "agent", "channel": 0, "words": [],
         "utterances": [{"start": 0.5, "end": 1.5, "text": "goedemorgen waarmee kan ik helpen"}]},
        {"label": "customer", "channel": 1, "words": words,
         "utterances": [{"start": 3.0, "end": 5.0, "text": "ik wil mijn abonnement opzeggen"}]},
    ]}
    archive.attach_transcript(item_id, transcript, [
        Section("transcript", "ik wil mijn abonnement opzeggen", "customer", 3.0)], "text")
    return item_id


def _shot(driver: WebDriver, name: str) -> None:
    """The whole page from its top (the window grown past the page's height)."""
    height = int(driver.execute_script("return document.documentElement.scrollHeight"))
    driver.set_window_size(1200, max(900, height + 160))
    driver.execute_script("window.scrollTo(0, 0)")
    save_screenshot(driver, name)


def _sign_in(driver: WebDriver, wait: WebDriverWait[WebDriver], url: str, token: str) -> None:
    driver.get(url)
    wait.until(lambda d: d.find_element(By.ID, "token").is_displayed()
               or d.find_element(By.ID, "logout").is_displayed())
    if driver.find_element(By.ID, "logout").is_displayed():  # someone else is signed in
        driver.find_element(By.ID, "logout").click()
        wait.until(ec.visibility_of_element_located((By.ID, "token")))
        driver.get(url)
    wait.until(ec.visibility_of_element_located((By.ID, "token")))
    driver.find_element(By.ID, "token").send_keys(token)
    driver.find_element(By.CSS_SELECTOR, "#login-form button").click()
    wait.until(ec.invisibility_of_element_located((By.ID, "login")))


def _fill_card(driver: WebDriver, answers: dict[str, str]) -> None:
    for criterion, answer in answers.items():
        driver.find_element(
            By.CSS_SELECTOR, f"#card-form input[name='{criterion}'][value='{answer}']").click()
    driver.find_element(By.ID, "card-submit").click()


#: The review page's player: the reader component's (reader.js), as on the search page.
AUDIO = "document.querySelector('#review-reader audio')"


def _audio(driver: WebDriver, prop: str) -> float:
    return float(driver.execute_script(f"return {AUDIO}.{prop}"))


def test_a_flagged_call_from_queue_to_review_to_dispute_to_calibration(
    browser: WebDriver, served: str, archive: Archive, tmp_path: Path,  # noqa: F811
) -> None:
    rita = archive.users.add("rita", Role.QUALITY)
    ramon = archive.users.add("ramon", Role.QUALITY)
    smith = archive.users.add("smith", Role.AGENT)
    agents.link(archive, "smith", [AGENT_NUMBER], team="Blue", actor="admin", role="admin")
    scorecards.save(archive, name="Calls", sections=CARD_SECTIONS, actor="rita", role="quality")
    monitoring.save(archive, "churn", {"lists": {"nl": ["abonnement opzeggen"]}}, enabled=True,
                    actor="rita", role="quality")
    monitoring.install(archive)
    call_id = _flagged_call(archive)
    wait = WebDriverWait(browser, 20)

    # The flagged call waits in the queue, with its policy and one hit.
    # The reviewer signs in on the main page and goes to the workspace by its link.
    _sign_in(browser, wait, served + "/", rita)
    wait.until(ec.element_to_be_clickable((By.ID, "quality-link"))).click()
    wait.until(ec.url_to_be(served + "/quality/queue"))
    row = wait.until(ec.presence_of_element_located(
        (By.CSS_SELECTOR, f"#queue-table tr[data-item='{call_id}']")))
    cells = [td.text for td in row.find_elements(By.TAG_NAME, "td")]
    assert cells[1:5] == ["policy churn", AGENT_NUMBER, "1", "open"], cells
    _shot(browser, "quality-queue")

    # The reviewer opens it in the reader's player (waveform, transcript, speed): the hit
    # is highlighted in the transcript and on the waveform.
    row.find_element(By.CLASS_NAME, "q-start").click()
    wait.until(lambda d: re.search(r"/quality/reviews/\d+$", d.current_url))
    hit = wait.until(ec.presence_of_element_located(
        (By.CSS_SELECTOR, "#review-reader li.utterance.hit")))
    assert "opzeggen" in hit.text
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#review-reader .hit-span")))
    assert browser.find_elements(By.CSS_SELECTOR, "#review-reader .reader-speed")
    wait.until(lambda d: _audio(d, "duration") > 5)
    browser.find_element(By.CSS_SELECTOR, "#review-reader .reader-play").click()
    wait.until(lambda d: _audio(d, "currentTime") > 0.3)  # it plays
    browser.execute_script(f"const a = {AUDIO}; a.pause(); a.currentTime = 3.2;")
    # The word under the playhead is highlighted, as on the search page.
    current = wait.until(ec.presence_of_element_located(
        (By.CSS_SELECTOR, "#review-reader .word.current")))
    assert current.text == "ik"
    wait.until(ec.text_to_be_present_in_element((By.ID, "comment-button"), "Comment at 0:03"))
    browser.find_element(By.ID, "comment-text").send_keys("Customer wants to cancel here")
    browser.find_element(By.ID, "comment-button").click()
    marker = wait.until(ec.presence_of_element_located(
        (By.CSS_SELECTOR, "#review-reader .markers .marker")))
    assert "0:03" in browser.find_element(By.ID, "comments").text
    assert "Customer wants to cancel here" in marker.find_element(
        By.TAG_NAME, "title").get_attribute("textContent")
    browser.execute_script(f"{AUDIO}.currentTime = 0;")
    marker.click()  # the marker on the timeline seeks the player to the comment's moment
    wait.until(lambda d: 3.1 <= _audio(d, "currentTime") <= 3.3)
    browser.execute_script(f"{AUDIO}.currentTime = 0;")
    browser.find_element(By.CSS_SELECTOR, "#comments button.at").click()  # so does its time
    wait.until(lambda d: 3.1 <= _audio(d, "currentTime") <= 3.3)
    _fill_card(browser, {"greeting": "yes", "identify": "yes", "solved": "partial"})
    wait.until(ec.text_to_be_present_in_element((By.ID, "review-score"), "Score 83.3"))
    _shot(browser, "quality-review")

    # The score shows in the agent statistics chart.
    browser.find_element(By.CSS_SELECTOR, "#q-nav a[data-nav='stats']").click()
    label = wait.until(ec.presence_of_element_located(
        (By.CSS_SELECTOR, "#chart-trend .score-label")))
    assert label.text == "83.3"
    assert browser.find_elements(By.CSS_SELECTOR, "#chart-criteria .fail-bar")
    agent_row = browser.find_element(By.CSS_SELECTOR, "#stats-agents tbody tr").text
    assert agent_row.startswith(f"{AGENT_NUMBER} Blue 1 83.3"), agent_row
    _shot(browser, "quality-stats")
    browser.find_element(By.CSS_SELECTOR, "#q-nav a[data-nav='scorecards']").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "card-list"), "Calls v1"))
    _shot(browser, "quality-scorecards")

    # The agent sees its review (never the call) and disputes it.
    # An agent reads no content: signing in on the main page leads to its own reviews.
    _sign_in(browser, wait, served + "/", smith)
    wait.until(ec.url_to_be(served + "/agent/reviews"))
    open_button = wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, "#agent-list button")))
    open_button.click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "agent-comments"),
                                                "Customer wants to cancel here"))
    browser.find_element(By.ID, "agent-text").send_keys("I offered a discount first")
    browser.find_element(By.ID, "agent-dispute").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "agent-review-title"),
                                                "agent disputed"))
    assert "I offered a discount first" in browser.find_element(By.ID, "agent-comments").text
    assert not browser.find_elements(By.CSS_SELECTOR, "audio[src]")  # no recording for agents
    _shot(browser, "quality-agent")

    # Calibration: two reviewers score blind, then see the spread per criterion.
    for token, answers in ((rita, {"greeting": "yes", "identify": "yes", "solved": "yes"}),
                           (ramon, {"greeting": "yes", "identify": "yes", "solved": "no"})):
        _sign_in(browser, wait, f"{served}/quality/calibration/{call_id}", token)
        wait.until(ec.text_to_be_present_in_element((By.ID, "spread-note"), "Blind"))
        browser.find_element(By.CSS_SELECTOR, "#calibrate-form button").click()
        wait.until(ec.presence_of_element_located((By.ID, "card-submit")))
        wait.until(ec.text_to_be_present_in_element((By.ID, "review-meta"), "calibration"))
        _fill_card(browser, answers)
        wait.until(ec.visibility_of_element_located((By.ID, "spread")))
    rows = {tr.find_element(By.TAG_NAME, "td").text: tr.text
            for tr in browser.find_elements(By.CSS_SELECTOR, "#spread tbody tr")}
    # Columns: criterion, ramon, rita, spread.
    assert rows["Solves the problem"] == "Solves the problem 0 100 100", rows
    assert rows["Greets the customer"] == "Greets the customer 100 100 0", rows
    assert rows["score"] == "score 66.7 100 33.3", rows
    _shot(browser, "quality-calibration")


def test_an_email_review_shows_the_message_and_comments_on_it(
    browser: WebDriver, served: str, archive: Archive, tmp_path: Path,  # noqa: F811
) -> None:
    rita = archive.users.add("rita", Role.QUALITY)
    card = scorecards.save(archive, name="Mail", actor="rita", role="quality", sections=[
        {"title": "Tone", "criteria": [{"id": "polite", "label": "Polite"}]}])
    item = archive.ingest(email_item(subject="Refund", body="Where is my <b>refund</b>?")).item_id
    review = reviews.start(archive, User("rita", Role.QUALITY), item, card.id)
    wait = WebDriverWait(browser, 20)
    _sign_in(browser, wait, f"{served}/quality/reviews/{review}", rita)
    # The reader's e-mail view: a header card and the text body (as text, not HTML).
    mail = wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR,
                                                        "#review-reader .mail-text")))
    wait.until(lambda d: "Where is my <b>refund</b>?" in mail.text)
    assert "Refund" in browser.find_element(By.CSS_SELECTOR, "#review-reader .mail-card").text
    assert not browser.find_elements(By.CSS_SELECTOR, "#review-reader audio")
    assert browser.find_element(By.ID, "comment-button").text == "Comment on the message"
    browser.find_element(By.ID, "comment-text").send_keys("Answer within a day")
    browser.find_element(By.ID, "comment-button").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "comments"), "rita: Answer within a day"))
    assert browser.find_elements(By.CSS_SELECTOR, "#comments button.at") == []
    _fill_card(browser, {"polite": "yes"})
    wait.until(ec.text_to_be_present_in_element((By.ID, "review-score"), "Score 100"))
    _shot(browser, "quality-review-email")


def _results(driver: WebDriver) -> list[str]:
    """The item ids the result list shows (read at once: the list is redrawn per search)."""
    return list(driver.execute_script(
        "return [...document.querySelectorAll('#results li')].map((li) => li.dataset.id)"))


def test_a_reviewer_finds_an_agents_unreviewed_mail_reviews_it_and_finds_it_reviewed(
    browser: WebDriver, served: str, archive: Archive, tmp_path: Path,  # noqa: F811
) -> None:
    rita = archive.users.add("rita", Role.QUALITY)
    for name, address in (("smith", "smith@example.com"), ("jones", "jones@example.com")):
        archive.users.add(name, Role.AGENT)
        agents.link(archive, name, [address], team="Blue", actor="admin", role="admin")
    card = scorecards.save(archive, name="Mail", actor="rita", role="quality", sections=[
        {"title": "Tone", "criteria": [{"id": "polite", "label": "Polite"}]}])
    fresh = archive.ingest(email_item(subject="Modem kapot", body="mijn modem is kapot",
                                      agent="smith@example.com")).item_id
    done = archive.ingest(email_item(subject="Factuur", body="de factuur klopt niet",
                                     agent="smith@example.com")).item_id
    queued = archive.ingest(email_item(subject="Verhuizing", body="ik ga verhuizen",
                                       agent="jones@example.com")).item_id
    reviewer = User("rita", Role.QUALITY)
    reviews.submit(archive, reviewer, reviews.start(archive, reviewer, done, card.id),
                   {"polite": "yes"}, "")
    queue.add_manual(archive, reviewer, queued)
    wait = WebDriverWait(browser, 20)

    # Not reviewed + agent, picked by name from the list.
    _sign_in(browser, wait, served + "/", rita)
    wait.until(ec.visibility_of_element_located((By.ID, "agent-filter")))
    Select(browser.find_element(By.ID, "reviewed")).select_by_visible_text("not reviewed")
    Select(browser.find_element(By.ID, "agent")).select_by_visible_text("smith (Blue)")
    wait.until(lambda d: _results(d) == [fresh])
    wait.until(ec.text_to_be_present_in_element((By.ID, "summary"), "1 item"))
    assert "reviewed=false" in browser.current_url and "agent=smith" in browser.current_url
    _shot(browser, "quality-search-not-reviewed")

    # It opens and is reviewed from the item page.
    open_result(browser, fresh)
    start = wait.until(ec.visibility_of_element_located((By.ID, "review-start")))
    assert Select(browser.find_element(By.ID, "review-card")).first_selected_option.text \
        == "Mail v1"
    wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, "#reader .mail-text")))
    _shot(browser, "quality-search-item")
    start.find_element(By.TAG_NAME, "button").click()
    wait.until(lambda d: re.search(r"/quality/reviews/\d+$", d.current_url))
    wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, "#review-reader .mail-text")))
    _fill_card(browser, {"polite": "partial"})
    wait.until(ec.text_to_be_present_in_element((By.ID, "review-score"), "Score 50"))

    # Back to the search at its address: not reviewed finds nothing of smith's now,
    # reviewed finds it beside the older one.
    browser.get(served + "/?agent=smith&reviewed=false")
    wait.until(ec.text_to_be_present_in_element((By.ID, "summary"), "0 items"))
    Select(browser.find_element(By.ID, "reviewed")).select_by_visible_text("reviewed")
    wait.until(lambda d: sorted(_results(d)) == sorted([fresh, done]))
    wait.until(ec.text_to_be_present_in_element((By.ID, "summary"), "2 items"))
    _shot(browser, "quality-search-reviewed")

    # The queue filter: what waits in the queue, put there by hand.
    Select(browser.find_element(By.ID, "reviewed")).select_by_visible_text("any")
    Select(browser.find_element(By.ID, "agent")).select_by_visible_text("any")
    Select(browser.find_element(By.ID, "queue")).select_by_visible_text("queued by hand")
    Select(browser.find_element(By.ID, "queue_status")).select_by_visible_text("open")
    wait.until(lambda d: _results(d) == [queued])
    assert "queue=manual" in browser.current_url


def test_a_reviewer_starts_a_backfill_and_follows_it_to_its_result(
    browser: WebDriver, served: str, archive: Archive, tmp_path: Path,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Old e-mails, a new policy: the reviewer asks for a backfill of a range, the page
    follows the worker's progress (held after its first batch) to the result, and the
    hits wait in the queue."""
    rita = archive.users.add("rita", Role.QUALITY)
    # Within quality's retention, or the queue would not show them.
    day = datetime.combine((datetime.now(UTC) - timedelta(days=10)).date(), time(9),
                           tzinfo=UTC)
    since, until = (day - timedelta(days=1)).date(), (day + timedelta(days=1)).date()
    flagged = [archive.ingest(email_item(
        body="Please cancel my contract." if n % 2 else "Where is my invoice?",
        started_at=day + timedelta(hours=n))).item_id for n in range(6)][1::2]
    archive.ingest(email_item(body="Please cancel my contract.",
                              started_at=day - timedelta(days=5)))  # outside the range
    monitoring.save(archive, "churn", {"lists": {"*": ["cancel my contract"]}}, enabled=True,
                    actor="rita", role="quality")
    monitoring.save(archive, "trial", {"lists": {"*": ["lawyer"]}}, enabled=False,
                    actor="rita", role="quality")
    # The worker reads two items a batch and waits after the first batch until let go.
    monkeypatch.setattr(backfill, "BATCH_ITEMS", 2)
    gate, read = threading.Event(), [0]
    real_find = monitoring.find_hits

    def held_find(*args: Any, **kwargs: Any) -> Any:
        read[0] += 1
        if read[0] == 3:
            assert gate.wait(60), "never let go"
        return real_find(*args, **kwargs)

    monkeypatch.setattr(monitoring, "find_hits", held_find)
    wait = WebDriverWait(browser, 20)
    _sign_in(browser, wait, served + "/quality/queue", rita)
    browser.find_element(By.CSS_SELECTOR, "#q-nav a[data-nav='backfills']").click()
    wait.until(ec.url_to_be(served + "/quality/backfills"))
    wait.until(ec.text_to_be_present_in_element((By.ID, "backfill-policies"),
                                                "trial (disabled)"))
    _date(browser, "backfill-since", since.isoformat())
    _date(browser, "backfill-until", until.isoformat())
    assert browser.find_element(By.ID, "backfill-none").is_displayed()
    _shot(browser, "quality-backfill-form")
    browser.find_element(By.CSS_SELECTOR, "#backfill-form button[type=submit]").click()
    wait.until(lambda d: re.search(r"/quality/backfills/\d+$", d.current_url))
    wait.until(ec.text_to_be_present_in_element((By.ID, "backfill-status"),
                                                "Waiting for a worker"))

    worker = JobWorker(archive, Settings(), router=lambda: None, name="worker",
                       kinds=[JobKind.BACKFILL_MONITOR])
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,))
    thread.start()
    try:
        wait.until(ec.text_to_be_present_in_element(
            (By.ID, "backfill-status"), "Running: 2 of 6 items read, 1 queued for review"))
        progress = browser.find_element(By.ID, "backfill-progress")
        assert (progress.get_attribute("value"), progress.get_attribute("max")) == ("2", "6")
        wait.until(ec.text_to_be_present_in_element(
            (By.CSS_SELECTOR, "#backfill-table tbody tr"), "running 2 of 6 1"))
        _shot(browser, "quality-backfill-running")
        gate.set()
        wait.until(ec.text_to_be_present_in_element(
            (By.ID, "backfill-status"), "Done: 6 items read, 3 queued for review"))
    finally:
        gate.set()
        stop.set()
        thread.join(60)
    row = wait.until(ec.presence_of_element_located(
        (By.CSS_SELECTOR, "#backfill-table tbody tr td:nth-child(6)")))
    wait.until(lambda d: row.text == "done")
    cells = [td.text for td in browser.find_elements(By.CSS_SELECTOR,
                                                      "#backfill-table tbody tr td")]
    assert cells[2:] == ["rita", f"{since} to {until}", "every enabled", "done",
                         "6 of 6", "3"], cells
    _shot(browser, "quality-backfill-done")

    # The hits wait in the review queue.
    browser.find_element(By.CSS_SELECTOR, "#q-nav a[data-nav='queue']").click()
    for item_id in flagged:
        wait.until(ec.presence_of_element_located(
            (By.CSS_SELECTOR, f"#queue-table tr[data-item='{item_id}']")))


def _date(driver: WebDriver, element_id: str, value: str) -> None:
    """Set a date input the way its picker would (typing depends on the locale)."""
    driver.execute_script(
        "const i = document.getElementById(arguments[0]); i.value = arguments[1];"
        "i.dispatchEvent(new Event('input', {bubbles: true}));", element_id, value)
