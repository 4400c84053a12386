#!/usr/bin/env python3
"""Drive `mekong console` in headless Chromium over the DevTools protocol (websocket-client) for ConsoleTests.

    console_check.py URL --expect TEXT... --publish CMD_JSON --event-id ID

Loads URL, waits until the page's text holds every --expect text (the projection, the dead letter's reason, the
source), then runs the --publish command (a JSON array) and measures how long after it returned the tail shows the
event with --event-id. Prints `appeared after N ms`; exit 1 if anything is missing or the event takes over a second.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

import websocket


class Page:
    def __init__(self, url):
        self.profile = tempfile.mkdtemp(prefix="mekong-chromium-")
        self.browser = subprocess.Popen(
            ["chromium", "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--no-first-run", "--remote-debugging-port=0", f"--user-data-dir={self.profile}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = os.path.join(self.profile, "DevToolsActivePort")
        deadline = time.time() + 30
        while not os.path.exists(port_file) or not open(port_file).read().strip():
            if time.time() > deadline or self.browser.poll() is not None:
                raise SystemExit("chromium did not start")
            time.sleep(0.1)
        port = int(open(port_file).read().split()[0])
        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list"))
        page = next(t for t in targets if t["type"] == "page")
        self.socket = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=30)
        self.next_id = 0
        self.call("Page.navigate", url=url)

    def call(self, method, **params):
        self.next_id += 1
        self.socket.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise SystemExit(f"{method}: {message['error']}")
                return message["result"]

    def text(self, element_id=None):
        expression = "document.body ? document.body.innerText : ''" if element_id is None else \
            f"(document.getElementById({json.dumps(element_id)}) || {{innerText: ''}}).innerText"
        return self.call("Runtime.evaluate", expression=expression, returnByValue=True)["result"].get("value", "")

    def close(self):
        try:
            self.socket.close()
        finally:
            self.browser.terminate()
            self.browser.wait(10)
            shutil.rmtree(self.profile, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--expect", action="append", default=[])
    parser.add_argument("--publish", required=True)
    parser.add_argument("--event-id", required=True)
    arguments = parser.parse_args()
    page = Page(arguments.url)
    try:
        deadline = time.time() + 30
        while True:
            text = page.text()
            missing = [expected for expected in arguments.expect if expected not in text]
            if not missing and "following" in page.text("tail-state"):
                break
            if time.time() > deadline:
                print(f"the page never showed {missing} (tail: {page.text('tail-state')!r}):\n{text}")
                sys.exit(1)
            time.sleep(0.1)
        if arguments.event_id in page.text("tail"):
            print("the event was on the page before it was published")
            sys.exit(1)
        subprocess.run(json.loads(arguments.publish), check=True, stdout=subprocess.DEVNULL)
        published = time.time()
        while arguments.event_id not in page.text("tail"):
            if time.time() - published > 1.0:
                print(f"the event did not appear within a second:\n{page.text('tail')}")
                sys.exit(1)
            time.sleep(0.02)
        print(f"appeared after {int((time.time() - published) * 1000)} ms")
    finally:
        page.close()


if __name__ == "__main__":
    main()
