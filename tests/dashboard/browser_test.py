#!/usr/bin/python3
"""The dashboard end to end: a real central and DMZ relay, a real client cycle,
real API tokens, and the real page in headless Chromium.

  browser_test.py --beacon B --beaconctl C --client K --source-dir SRC

What it checks, in order (each step waits with a deadline, never a sleep):
  - no file of beacon/web/ uses an HTML sink (innerHTML & co.);
  - a wrong token shows the API's refusal and stays on the login form;
  - a read token logs in as "read", sees no action form anywhere, and the
    API answers its POST /api/v1/actions with 403 (nothing is queued);
  - an admin token logs in as "admin"; the summary's counts equal
    `beaconctl status --json`, and its charts are drawn;
  - the device list finds the device by its host name; its page shows it;
  - the hardware tab shows the processor, cores, memory and disks that
    `beaconctl device show DEVICE --json` gives, and exactly the inventory
    sections the store holds, free space marked as changing on its own;
  - the software tab finds one of its packages with the version
    `beaconctl software DEVICE --json` gives;
  - an action queued from its page shows up pending, and so does it in
    `beaconctl action list --json`; cancelling it shows it cancelled in both;
  - software search links to the device; beacons and health pages render;
  - a device whose host name and OS are markup shows them as text;
  - a revoked token sends the page back to the login form (a 401);
  - the browser console shows no Content-Security-Policy violation and no
    script error.
With DASHBOARD_SCREENSHOTS=DIR set, screenshots of the main pages (1280x800
PNG) are written to DIR (docs/img/ for the documentation).
"""

import argparse
import os
import re
import sqlite3
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from selenium.webdriver.common.by import By  # noqa: E402

from browser import Browser  # noqa: E402
from estate import Estate  # noqa: E402

# What a hostile device could report as its host name and OS.
HOSTILE = '<img src=x onerror="window.__xss=1">\'"&amp;<script>window.__xss=2</script>'
HOSTILE_DEVICE = "aaaaaaaa-0000-4000-8000-00000000dead"

HTML_SINKS = re.compile(r"\b(innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\s*\(|new Function)")


def check_no_html_sinks(source_dir):
    web = os.path.join(source_dir, "beacon", "web")
    bad = []
    for root, _, files in os.walk(web):
        for name in files:
            if name.endswith((".js", ".html")):
                path = os.path.join(root, name)
                for n, line in enumerate(open(path, encoding="utf-8"), 1):
                    # The sinks may be named in comments (to say they are not used).
                    code = line.split("//")[0]
                    if HTML_SINKS.search(code):
                        bad.append("%s:%d: %s" % (os.path.relpath(path, source_dir), n, line.strip()))
    assert not bad, "HTML sinks in the dashboard:\n" + "\n".join(bad)


class DashboardTest:
    def __init__(self, estate, browser, shots):
        self.e, self.b, self.d, self.shots = estate, browser, browser.driver, shots
        self.console_problems = []

    # -- helpers ---------------------------------------------------------------
    def find(self, css):
        found = self.d.find_elements(By.CSS_SELECTOR, css)
        return found[0] if found else None

    def shown(self, css):
        el = self.find(css)
        return el is not None and el.is_displayed()

    def text(self, css):
        el = self.find(css)
        return el.text if el is not None else None

    def go(self, hash_):
        self.d.execute_script("location.hash = arguments[0]", hash_)

    def page_loaded(self, name):
        """Waits until page `name` has rendered its data (data-loaded)."""
        self.b.wait("page %s to load" % name,
                    lambda d: self.find('[data-page="%s"][data-loaded]' % name) is not None)

    def screenshot(self, name):
        if self.shots:
            os.makedirs(self.shots, exist_ok=True)
            self.d.save_screenshot(os.path.join(self.shots, "dashboard-%s.png" % name))

    def drain_console(self):
        for entry in self.b.console():
            message = entry.get("message", "")
            if "Content Security Policy" in message or "Refused to" in message or "Uncaught" in message or \
                    (entry.get("source") == "javascript" and entry.get("level") == "SEVERE"):
                self.console_problems.append(message)

    def session_token(self):
        return self.d.execute_script("return sessionStorage.getItem('beacon.token')")

    def log_in(self, token):
        self.d.get(self.e.url)
        self.b.wait("the login form", lambda d: self.shown("#login") or self.shown("#nav"))
        if self.shown("#nav"):
            self.find("#logout").click()
            self.b.wait("the login form", lambda d: self.shown("#login"))
        box = self.find("#token")
        box.clear()
        box.send_keys(token)
        self.find("#login-submit").click()

    def log_out(self):
        self.find("#logout").click()
        self.b.wait("the login form after logging out", lambda d: self.shown("#login"))
        assert self.session_token() is None, "the token outlived the log-out"

    def api_status(self, method, path, token, body=None):
        """The status the API answers a fetch() from the page with this token."""
        return self.d.execute_async_script("""
            const [method, path, token, body, done] = arguments;
            const init = {method, headers: {'Authorization': 'Bearer ' + token}};
            if (body !== null) {
              init.headers['Content-Type'] = 'application/json';
              init.body = JSON.stringify(body);
            }
            fetch(path, init).then((r) => done(r.status), (e) => done(String(e)));
        """, method, path, token, body)

    # -- steps -------------------------------------------------------------------
    def wrong_token(self):
        for bad in ("bkt_" + "0" * 64, "not a token"):
            self.log_in(bad)
            self.b.wait("the refusal of a wrong token", lambda d: self.shown("#login-error"))
            message = self.text("#login-error")
            assert "refused" in message, "unexpected login error: " + message
            assert self.shown("#login") and not self.shown("#nav"), "a wrong token left the login form"
            assert self.session_token() is None, "a refused token was kept"
        self.screenshot("login")

    def read_token(self, token, device):
        self.log_in(token)
        self.b.wait("the read role", lambda d: self.text("#role-name") == "read")
        self.go("#/actions")
        self.page_loaded("actions")
        assert self.find("#action-form") is None, "a read token sees the action form"
        assert self.find("#actions-read-only") is not None
        self.go("#/device/%s/actions" % device)
        self.b.wait("the device's actions tab", lambda d: self.find('[data-tab-body="actions"]') is not None)
        assert self.find("#action-form") is None, "a read token sees the device's action form"
        assert self.find(".cancel-action") is None
        status = self.api_status("POST", "/api/v1/actions", token, {"kind": "inventory", "device": device})
        assert status == 403, "POST /api/v1/actions with a read token answered %s" % status
        assert self.e.ctl_json("action", "list") == [], "a read token queued an action"
        self.log_out()

    def summary_matches_store(self):
        """The summary's counts equal beaconctl status --json (polled: both
        move while beacons report; the page is refreshed each time)."""
        names = {("devices", "total"): "devices:total", ("beacons", "online"): "beacons:online",
                 ("beacons", "offline"): "beacons:offline", ("health", "open-errors"): "health:open_errors",
                 ("health", "open-warnings"): "health:open_warnings"}
        last = {}

        def matches(d):
            expected = {}
            for row in self.e.ctl_json("status"):
                key = names.get((row["group"], row["name"]))
                if key is None and row["group"] in ("status", "condition"):
                    key = row["group"] + ":" + row["name"]
                if key:
                    expected[key] = row["count"]
            shown = {}
            for el in d.find_elements(By.CSS_SELECTOR, "[data-count]"):
                shown[el.get_attribute("data-count")] = int(el.text.replace(",", ""))
            last["expected"], last["shown"] = expected, shown
            if all(shown.get(k) == v for k, v in expected.items()) and len(expected) >= 14:
                return True
            self.find("#refresh").click()
            return False

        try:
            self.b.wait("the summary to match beaconctl status", matches, timeout=60)
        except Exception:
            print("beaconctl status:", last.get("expected"), "\nsummary:", last.get("shown"), file=sys.stderr)
            raise
        assert last["shown"]["status:active"] >= 1

    def admin_summary(self, token):
        self.log_in(token)
        self.b.wait("the admin role", lambda d: self.text("#role-name") == "admin")
        self.page_loaded("summary")
        self.summary_matches_store()
        # The history (recorded every second here) gives both charts points.
        self.b.wait("both charts drawn", lambda d: d.execute_script(
            "return !!(window.Chart && Chart.getChart('chart-checkins') && Chart.getChart('chart-status'))")
            or (self.find("#refresh").click() and False))
        if self.shots:  # the last hour: this estate's history is a minute long
            self.go("#/summary?range=1h")
            self.b.wait("the last hour's charts", lambda d: d.execute_script(
                "return document.getElementById('summary-range').value === '1h' && !!Chart.getChart('chart-status')"))
            self.screenshot("summary")

    def find_device(self, device, hostname):
        self.find('#nav [data-route="devices"]').click()
        self.page_loaded("devices")
        box = self.find("#devices-q")
        box.send_keys(hostname)
        row = 'tr[data-device-id="%s"]' % device
        self.b.wait("the device in the search results",
                    lambda d: "q=" in d.current_url and self.find(row) is not None)
        rows = self.d.find_elements(By.CSS_SELECTOR, "table.devices tbody tr")
        assert all(hostname.lower() in r.text.lower() for r in rows), "a result does not match the search"
        # Sorting by last contact keeps the search.
        self.find('th button[data-sort="last_seen"]').click()
        self.b.wait("the list sorted by last contact",
                    lambda d: "sort=last_seen" in d.current_url and self.find(row) is not None
                    and self.find('th[aria-sort="ascending"] button[data-sort="last_seen"]') is not None)
        self.screenshot("devices")
        self.find(row + " a").click()
        self.b.wait("the device page", lambda d: self.text("#device-hostname") == hostname)
        assert self.text("#device-id") == device
        self.screenshot("device")

    def every_tab(self):
        """Each tab of the device page shows its data (or says there is none), no error."""
        for tab in ("overview", "hardware", "usage", "uploads", "health", "policy", "files", "changes", "software", "actions"):
            self.find('[data-tab="%s"]' % tab).click()
            body = '[data-tab-body="%s"]' % tab
            self.b.wait("the %s tab" % tab, lambda d: self.find(body) is not None and
                        self.find(body + " .loading") is None and self.find(body + " p, " + body + " table, " +
                                                                             body + " dl, " + body + " .alert"))
            assert self.find(body + " .alert-danger") is None, "%s tab: %s" % (tab, self.text(body))
        # A few facts the store has too.
        self.find('[data-tab="uploads"]').click()
        self.b.wait("the uploads", lambda d: self.find('[data-tab-body="uploads"] table'))
        assert "inventory" in self.text('[data-tab-body="uploads"]')
        self.find('[data-tab="policy"]').click()
        self.b.wait("the policy's groups", lambda d: "Groups: default" in (self.text("#resolution") or ""))

    def hardware_matches_store(self, device):
        shown = self.e.ctl_json("device", "show", device)
        self.find('[data-tab="hardware"]').click()
        self.b.wait("the hardware summary", lambda d: self.find("#hw-memory") is not None)
        assert self.text("#hw-cpu") == shown["cpu_model"], (self.text("#hw-cpu"), shown["cpu_model"])
        assert self.text("#hw-cores") == str(shown["cpu_cores"]), (self.text("#hw-cores"), shown["cpu_cores"])
        memory = self.find("#hw-memory").get_attribute("data-bytes")
        assert memory == str(shown["memory_bytes"]), (memory, shown["memory_bytes"])
        disks = [row.find_elements(By.TAG_NAME, "td")[0].text
                 for row in self.d.find_elements(By.CSS_SELECTOR, "table.disks tbody tr")]
        assert disks == [d["name"] for d in shown["disks"]], (disks, shown["disks"])
        # The sections: the store's own list, read beside the central.
        with sqlite3.connect(os.path.join(self.e.central_dir, "store.sqlite"), timeout=30) as db:
            stored = [r[0] for r in db.execute("SELECT name FROM sections WHERE device_id = ? ORDER BY name",
                                               (device,))]
        assert stored, "the store holds no section for the device"
        self.b.wait("the inventory sections", lambda d: self.find("#sections details.section") is not None)
        names = [e.get_attribute("data-section")
                 for e in self.d.find_elements(By.CSS_SELECTOR, "#sections details.section")]
        assert names == stored, (names, stored)
        fs = self.find('details[data-section="filesystems"]')
        summary = fs.find_element(By.TAG_NAME, "summary")
        # A DOM click: ChromeDriver's pointer misplaces a <summary> far down the page (Bootstrap's smooth scrolling).
        self.d.execute_script("arguments[0].click()", summary)
        self.b.wait("the file systems table", lambda d: fs.find_element(By.TAG_NAME, "table").is_displayed())
        headers = [th.text for th in fs.find_elements(By.TAG_NAME, "th")]
        assert "free_bytes ~" in headers and "type" in headers, headers
        self.screenshot("device-hardware")

    def find_package(self, device):
        packages = self.e.ctl_json("software", device)
        assert packages, "the device has no packages"
        # A package with a distinctive name: one that no other package's name contains.
        names = [p["name"] for p in packages]
        pick = next((p for p in packages if len(p["name"]) >= 4 and
                     sum(p["name"] in n for n in names) == 1), packages[0])
        self.find('[data-tab="software"]').click()
        self.b.wait("the software list", lambda d: self.find("#software-list table") is not None)
        total = self.text("#software-count")
        assert total.endswith("of %s packages" % format(len(packages), ",")), "count: " + total
        self.find("#software-filter").send_keys(pick["name"])
        row = 'tr[data-package="%s"]' % pick["name"]
        self.b.wait("package %s in the filtered list" % pick["name"], lambda d: self.find(row) is not None
                    and len(d.find_elements(By.CSS_SELECTOR, "#software-list tbody tr")) <= 3)
        cells = [td.text for td in self.find(row).find_elements(By.TAG_NAME, "td")]
        assert cells[0] == pick["name"] and cells[1] == pick["version"], "shown %s, stored %s" % (cells, pick)
        self.screenshot("software-tab")
        return pick

    def action_round_trip(self, device):
        self.find('[data-tab="actions"]').click()
        self.b.wait("the action form", lambda d: self.find("#action-form") is not None)
        self.find('#action-kind option[value="inventory"]').click()
        self.find("#action-create").click()
        pending = 'tr[data-state="pending"]'
        self.b.wait("the new action, pending", lambda d: self.find(pending) is not None)
        action = self.find(pending).get_attribute("data-action-id")
        stored = {a["id"]: a for a in self.e.ctl_json("action", "list")}
        assert action in stored, "the action is not in beaconctl action list"
        assert stored[action]["state"] == "pending" and stored[action]["device_id"] == device, stored[action]
        assert stored[action]["kind"] == "inventory"
        self.screenshot("device-actions")
        self.find('tr[data-action-id="%s"] .cancel-action' % action).click()
        self.b.wait("the action cancelled",
                    lambda d: self.find('tr[data-action-id="%s"][data-state="cancelled"]' % action) is not None)
        stored = {a["id"]: a for a in self.e.ctl_json("action", "list")}
        assert stored[action]["state"] == "cancelled", stored[action]
        # The actions page lists it too.
        self.go("#/actions")
        self.page_loaded("actions")
        self.b.wait("the action on the actions page",
                    lambda d: self.find('tr[data-action-id="%s"][data-state="cancelled"]' % action) is not None)
        self.screenshot("actions")

    def software_search(self, device, package):
        self.go("#/software?name=" + package["name"])
        self.page_loaded("software")
        row = '#software-results tr[data-device-id="%s"]' % device
        self.b.wait("the device among the package's devices", lambda d: self.find(row) is not None)
        self.screenshot("software")
        self.find(row + " a").click()
        self.b.wait("the device page from software search",
                    lambda d: self.find('[data-page="device"] #device-id') is not None)

    def beacons_and_health(self):
        self.go("#/beacons")
        self.page_loaded("beacons")
        stored = {b["name"] for b in self.e.ctl_json("beacons")}
        shown = {r.get_attribute("data-beacon") for r in self.d.find_elements(By.CSS_SELECTOR, "tr[data-beacon]")}
        assert shown == stored, "beacons shown %s, stored %s" % (shown, stored)
        self.screenshot("beacons")
        self.go("#/health?open=0")
        self.page_loaded("health")
        self.screenshot("health")

    def hostile_text(self):
        """A device whose host name and OS are markup is shown as that text.
        The row is written into the store directly (as the importer would
        store such an inventory): the client reports this machine's real
        host name, which the test cannot choose."""
        with sqlite3.connect(os.path.join(self.e.central_dir, "store.sqlite"), timeout=30) as db:
            db.execute("INSERT INTO devices (device_id, hostname, os, last_seen) VALUES (?, ?, ?, ?)",
                       (HOSTILE_DEVICE, HOSTILE, HOSTILE, int(time.time())))
        row = 'tr[data-device-id="%s"]' % HOSTILE_DEVICE
        tries = [0]

        def listed(d):
            # The estate view is read again within seconds: ask again until it is.
            if self.find(row) is None:
                tries[0] += 1
                self.go("#/devices?q=%s&try=%d" % (urllib.parse.quote("<img", safe=""), tries[0]))
                return False
            return True
        self.b.wait("the hostile device in the list", listed)
        link = self.find(row + " a")
        assert link.text == HOSTILE, "host name shown as " + repr(link.text)
        assert self.d.find_elements(By.CSS_SELECTOR, "table.devices img, table.devices script") == []
        link.click()
        self.b.wait("the hostile device's page", lambda d: self.text("#device-hostname") == HOSTILE)
        self.find('[data-tab="overview"]').click()
        assert self.d.find_elements(By.CSS_SELECTOR, "[data-page] img, [data-page] script") == []
        assert self.d.execute_script("return window.__xss === undefined"), "device text ran as script"

    def revoked_token(self):
        self.e.ctl("token", "revoke", "admin")
        self.go("#/beacons?again")
        self.b.wait("the login form after a 401", lambda d: self.shown("#login"))
        assert "refused" in self.text("#login-error")
        assert self.session_token() is None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--beacon", required=True)
    ap.add_argument("--beaconctl", required=True)
    ap.add_argument("--client", required=True)
    ap.add_argument("--source-dir", required=True)
    args = ap.parse_args()
    check_no_html_sinks(args.source_dir)
    shots = os.environ.get("DASHBOARD_SCREENSHOTS")
    estate = Estate(args.beacon, args.beaconctl, args.client, args.source_dir)
    browser = None
    ok = False
    try:
        estate.create()
        estate.start()
        device = estate.run_client()
        estate.wait_imported(device)
        hostname = estate.ctl_json("device", "show", device)["hostname"]
        read, admin = estate.token("reader", "read"), estate.token("admin", "admin")
        browser = Browser(estate.central_spki_sha256())
        t = DashboardTest(estate, browser, shots)
        steps = [("wrong token", t.wrong_token), ("read token", lambda: t.read_token(read, device)),
                 ("summary", lambda: t.admin_summary(admin)), ("device list", lambda: t.find_device(device, hostname))]
        for name, step in steps:
            print("--", name, flush=True)
            step()
            t.drain_console()
        print("-- every tab", flush=True)
        t.every_tab()
        print("-- hardware tab", flush=True)
        t.hardware_matches_store(device)
        print("-- software tab", flush=True)
        package = t.find_package(device)
        for name, step in [("actions", lambda: t.action_round_trip(device)),
                           ("software search", lambda: t.software_search(device, package)),
                           ("beacons and health", t.beacons_and_health), ("hostile text", t.hostile_text),
                           ("revoked token", t.revoked_token)]:
            print("--", name, flush=True)
            step()
            t.drain_console()
        assert not t.console_problems, "browser console:\n" + "\n".join(t.console_problems)
        ok = True
        print("dashboard browser test passed")
    finally:
        if browser:
            if not ok:
                try:
                    browser.driver.save_screenshot(os.path.join(estate.dir, "failure.png"))
                    print("console:", browser.console(), file=sys.stderr)
                except Exception:  # the browser may be the failure
                    pass
            browser.quit()
        if not ok:
            for log in ("central.log", "dmz.log"):
                path = os.path.join(estate.dir, log)
                if os.path.exists(path):
                    print("==", log, "(last lines)\n" + "".join(open(path).readlines()[-30:]), file=sys.stderr)
            estate.keep = True
            print("estate kept in", estate.dir, file=sys.stderr)
        estate.stop()


if __name__ == "__main__":
    main()
