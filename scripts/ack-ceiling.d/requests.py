#!/usr/bin/env python3
"""Writes the signed slash commands scripts/ack-ceiling replays with wrk (ack.lua).

  requests.py PREFIX THREADS PER_THREAD TEXT [TAG]

writes PREFIX.1 … PREFIX.THREADS, each PER_THREAD raw HTTP/1.1 requests (`POST
/slack/commands`, as Slack sends a slash command), separated by a NUL byte. Every request is a
different body (its own trigger_id, response_url and user) signed with $SIGNING_SECRET at the
current time, so no two signatures are the same: the app refuses a replayed signature with
401. They stay inside Slack's 5-minute window, so write them right before the runs. TAG keeps
two sets apart (the warm-up's and the measured run's).
"""
import hashlib
import hmac
import os
import sys
import time
from urllib.parse import quote


def main(prefix, threads, per_thread, text, tag="run"):
    secret = os.environ["SIGNING_SECRET"].encode()
    ts = int(time.time())
    text = quote(text, safe="")
    # What Slack sends (https://api.slack.com/interactivity/slash-commands), about 500 bytes.
    head = (
        "token=deprecated&team_id=T0LOAD&team_domain=acme&channel_id=C0LOAD"
        "&channel_name=procurement&user_id=U{user:05d}&user_name=someone"
        "&command=%2Fmarketplace-activity&text=" + text
        + "&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT0LOAD%2F{n:012d}%2F{tag}{n:020x}"
        "&trigger_id={n:012d}.47445629121.{tag}{n:028x}&api_app_id=A0LOAD"
    )
    base = hmac.new(secret, digestmod=hashlib.sha256)
    base.update(f"v0:{ts}:".encode())
    for t in range(1, threads + 1):
        with open(f"{prefix}.{t}", "wb") as out:
            chunks = []
            for i in range(per_thread):
                n = (t - 1) * per_thread + i
                body = head.format(user=n % 97, n=n, tag=tag[:4]).encode()
                mac = base.copy()
                mac.update(body)
                chunks.append(
                    b"POST /slack/commands HTTP/1.1\r\nHost: localhost\r\n"
                    b"User-Agent: Slackbot 1.0 (+https://api.slack.com/robots)\r\n"
                    b"Content-Type: application/x-www-form-urlencoded\r\n"
                    b"X-Slack-Request-Timestamp: " + str(ts).encode() + b"\r\n"
                    b"X-Slack-Signature: v0=" + mac.hexdigest().encode() + b"\r\n"
                    b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
                )
            out.write(b"\0".join(chunks))


if __name__ == "__main__":
    if len(sys.argv) not in (5, 6):
        sys.exit(__doc__)
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), *sys.argv[4:])
