#!/usr/bin/env python3
"""Loopback fakes for the container check: CloudTrail LookupEvents (JSON 1.1, no events) and a
Slack response_url receiver that appends each message it gets to a file.

Usage: fakes.py PORT RECEIVED_FILE
"""
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = int(sys.argv[1])
RECEIVED = sys.argv[2]


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        target = self.headers.get("x-amz-target", "")
        if target.endswith(".LookupEvents"):
            self.reply(200, "application/x-amz-json-1.1", json.dumps({"Events": []}))
        elif self.path.startswith("/response"):
            with open(RECEIVED, "ab") as f:
                f.write(body + b"\n")
            self.reply(200, "text/plain", "ok")
        else:
            self.reply(404, "text/plain", "not faked")

    def reply(self, status, content_type, text):
        data = text.encode()
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
