#!/usr/bin/env python3
"""Writes the requests `wrk` replays (read by requests.lua), one a line:
PATH <TAB> BODY <TAB> Header: value <TAB> Header: value ...

  requests.py commands TEXT N SLACK_URL   N slash commands (distinct trigger_id/response_url),
                                          signed with $SIGNING_SECRET at the current time: they
                                          stay valid for Slack's 5-minute window, so write the
                                          file right before each run
  requests.py events-original K           the K purchases that events-dup repeats (post these
                                          first, one at a time)
  requests.py events-dup K N              N distinct EventBridge deliveries (distinct `id`) of
                                          those K purchases: each is a duplicate by its
                                          CloudTrail eventID, so it is answered 200 `duplicate`
  requests.py events-new N SEED           N new purchases (distinct ids and agreements)
  requests.py mix FILE_A FILE_B           interleaves two files line by line

Events carry `x-api-key: $EVENTS_API_KEY`.
"""
import hashlib
import hmac
import json
import os
import sys
import time
from urllib.parse import urlencode


def command(text, n, slack_url, ts, secret):
    body = urlencode(
        {
            "token": "deprecated",
            "team_id": "T0LOAD",
            "team_domain": "acme",
            "channel_id": "C0LOAD",
            "channel_name": "procurement",
            "user_id": f"U{n % 97:05d}",
            "user_name": "someone",
            "command": "/marketplace-activity",
            "text": text,
            "response_url": f"{slack_url}/commands/lt-{n}",
            "trigger_id": f"{ts}.{n}.loadtest",
            "api_app_id": "A0LOAD",
        }
    )
    base = f"v0:{ts}:{body}".encode()
    sig = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return "\t".join(
        [
            "/slack/commands",
            body,
            "Content-Type: application/x-www-form-urlencoded",
            f"X-Slack-Request-Timestamp: {ts}",
            f"X-Slack-Signature: {sig}",
        ]
    )


def purchase(eb_id, change):
    """An EventBridge delivery of CloudTrail's AcceptAgreementRequest number `change`."""
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    event = {
        "version": "0",
        "id": eb_id,
        "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.agreement-marketplace",
        "account": "111122223333",
        "time": now,
        "region": "us-east-1",
        "resources": [],
        "detail": {
            "eventVersion": "1.08",
            "userIdentity": {
                "type": "IAMUser",
                "arn": "arn:aws:iam::111122223333:user/alice@example.com",
                "accountId": "111122223333",
            },
            "eventTime": now,
            "eventSource": "agreement-marketplace.amazonaws.com",
            "eventName": "AcceptAgreementRequest",
            "awsRegion": "us-east-1",
            "sourceIPAddress": "203.0.113.7",
            "requestParameters": {"agreementRequestId": f"ar-load-{change}"},
            "responseElements": {"agreementId": f"agmt-load{change:08d}"},
            "eventID": f"ct-load-{change}",
            "readOnly": False,
            "recipientAccountId": "111122223333",
        },
    }
    body = json.dumps(event, separators=(",", ":"))
    return "\t".join(
        [
            "/events",
            body,
            "Content-Type: application/json; charset=utf-8",
            "User-Agent: Amazon/EventBridge/ApiDestinations",
            f"x-api-key: {os.environ['EVENTS_API_KEY']}",
        ]
    )


def main(args):
    kind = args[0]
    if kind == "commands":
        text, n, slack_url = args[1], int(args[2]), args[3]
        ts = int(time.time())
        secret = os.environ["SIGNING_SECRET"]
        lines = [command(text, i, slack_url, ts, secret) for i in range(n)]
    elif kind == "events-original":
        lines = [purchase(f"eb-orig-{c}", c) for c in range(int(args[1]))]
    elif kind == "events-dup":
        k, n = int(args[1]), int(args[2])
        lines = [purchase(f"eb-dup-{i}", i % k) for i in range(n)]
    elif kind == "events-new":
        n, seed = int(args[1]), int(args[2])
        lines = [purchase(f"eb-new-{seed}-{i}", seed + i) for i in range(n)]
    elif kind == "mix":
        a = open(args[1]).read().splitlines()
        b = open(args[2]).read().splitlines()
        lines = [line for pair in zip(a, b) for line in pair]
    else:
        sys.exit(__doc__)
    sys.stdout.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
