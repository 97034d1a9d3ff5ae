#!/usr/bin/python3
"""The dashboard's first page load in headless Chromium (docs/benchmarks.md,
"Dashboard"), against a running central:

  page_load.py --url https://127.0.0.1:ADMIN/ --token TOKEN --cert CENTRAL.pem [--runs 5]

Each run starts a new Chromium with an empty cache and profile, already
logged in (the token is put in sessionStorage before the page's scripts run,
as the login form would leave it), and navigates straight to the page:
  - "summary": https://.../#/summary until the summary shows its figures;
  - "devices": https://.../#/devices until the first page of the list shows;
  - "summary -> devices": in the same tab, after the summary, a click on
    "Devices" until the list shows (files cached: the API call and render).
The time is the dashboard's own mark "dashboard:loaded:PAGE" (dom.js
loaded()) from the navigation's start (or from the click). Beside it: the
API request's own duration (Resource Timing) and the bytes transferred.
References in the same run, each in a new browser too: one small file of the
same listener (/ui/favicon.svg: a TLS handshake and one request), and the
login form without a token (the static files alone, to its load event).
"""

import argparse
import os
import statistics
import subprocess
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "..", "tests", "dashboard"))

from browser import Browser  # noqa: E402

MARK = "return (performance.getEntriesByName('dashboard:loaded:' + arguments[0])[0] || {}).startTime || null"
API_TIME = """
  const api = performance.getEntriesByType('resource').filter((r) => r.name.includes(arguments[0]));
  return api.length ? api[api.length - 1].duration : null"""
DOM_READY = "return performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd"
BYTES = """
  const nav = performance.getEntriesByType('navigation')[0];
  return performance.getEntriesByType('resource').reduce((n, r) => n + r.transferSize, nav.transferSize)"""


def spki(cert):
    pub = subprocess.run(["openssl", "x509", "-in", cert, "-noout", "-pubkey"], check=True,
                         stdout=subprocess.PIPE).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "der"], input=pub, check=True,
                         stdout=subprocess.PIPE).stdout
    import base64
    import hashlib
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


def logged_in_browser(pin, token, role):
    b = Browser(pin)
    b.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": (
        "sessionStorage.setItem('beacon.token', %r); sessionStorage.setItem('beacon.role', %r);" % (token, role))})
    return b


def load(b, url, page, api):
    b.driver.get(url + "#/" + page)
    b.wait(page + " loaded", lambda d: d.execute_script(MARK, page), timeout=120)
    return (b.driver.execute_script(MARK, page), b.driver.execute_script(DOM_READY),
            b.driver.execute_script(API_TIME, api), b.driver.execute_script(BYTES))


def reference(pin, url):
    """A new browser's load event for url, in ms from the navigation's start."""
    b = Browser(pin)
    try:
        b.driver.get(url)
        b.wait("the load event", lambda d: d.execute_script(
            "return performance.getEntriesByType('navigation')[0].loadEventEnd > 0"))
        return b.driver.execute_script("return performance.getEntriesByType('navigation')[0].loadEventEnd")
    finally:
        b.quit()


def in_app(b):
    """Summary, then a click on Devices: ms from the click to the list shown,
    and the API request's own duration."""
    # Clicked by the page's own script, so the time starts at the click, not
    # at a WebDriver round trip before it.
    b.driver.execute_script("performance.clearMarks(); window.__clicked = performance.now();"
                            "document.querySelector('#nav [data-route=\"devices\"]').click()")
    b.wait("devices loaded", lambda d: d.execute_script(MARK, "devices"), timeout=120)
    return (b.driver.execute_script(MARK, "devices") - b.driver.execute_script("return window.__clicked"),
            b.driver.execute_script(API_TIME, "/api/v1/devices"))


def report(name, values, unit="ms"):
    values = [v for v in values if v is not None]
    if not values:
        return "%-28s no data" % name
    return "%-28s median %7.0f %s   max %7.0f %s   (%s)" % (
        name, statistics.median(values), unit, max(values), unit, ", ".join("%.0f" % v for v in values))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--role", default="read")
    ap.add_argument("--cert", required=True, help="the central's certificate (its key is pinned)")
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    pin = spki(args.cert)
    results = {k: [] for k in ("summary", "summary ready", "summary api", "summary bytes", "devices",
                                 "devices ready", "devices api", "devices bytes", "click", "click api")}
    for _ in range(args.runs):
        results.setdefault("favicon", []).append(reference(pin, args.url + "ui/favicon.svg"))
        results.setdefault("login", []).append(reference(pin, args.url))
        for page, api in (("summary", "/api/v1/summary"), ("devices", "/api/v1/devices")):
            b = logged_in_browser(pin, args.token, args.role)
            try:
                total, ready, api_ms, transferred = load(b, args.url, page, api)
                results[page].append(total)
                results[page + " ready"].append(ready)
                results[page + " api"].append(api_ms)
                results[page + " bytes"].append(transferred / 1024)
                if page == "summary":
                    click, click_api = in_app(b)
                    results["click"].append(click)
                    results["click api"].append(click_api)
            finally:
                b.quit()
    for page in ("summary", "devices"):
        print(report(page + ", cold load", results[page]))
        print(report("  DOMContentLoaded", results[page + " ready"]))
        print(report("  GET /api/v1/" + page, results[page + " api"]))
        print(report("  transferred", results[page + " bytes"], "KiB"))
    print(report("summary -> devices (click)", results["click"]))
    print(report("  GET /api/v1/devices", results["click api"]))
    print(report("reference: favicon.svg", results["favicon"]))
    print(report("reference: login form", results["login"]))


if __name__ == "__main__":
    main()
