"""The peer for scripts/ack-ceiling: Slack Bolt for Python's AsyncApp on its own aiohttp
server (`app.start()`), acknowledging `/marketplace-activity help` the way ours does (verify
the signature and timestamp, parse the form, answer an ephemeral message with the usage) and
nothing else.

`authorize` answers locally, so no request reaches slack.com (Bolt would otherwise call
auth.test). Bolt logs at WARNING, so nothing is written per request (ours runs with
RUST_LOG=warn in the same script).

Usage: SLACK_SIGNING_SECRET=... python bolt_async_app.py PORT
"""
import logging
import os
import sys

from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult

logging.basicConfig(level=logging.WARNING)

# The same usage text ours answers `help` with (src/domain/command.rs USAGE).
USAGE = (
    "*Usage:* `/marketplace-activity [window] [filter] [account:<alias>] [csv] [share]`\n"
    "• *window*: `24h`, `7d` (default), `30d`, `90d`, any `<N>h` or `<N>d`, `since 2026-11-01`, "
    "or `2026-11-01..2026-11-15` (CloudTrail keeps 90 days)\n"
    "• *filter*: `all` (default), `purchases`, `cancellations`, or an agreement id like "
    "`agmt-cx71281flrkxyks8eurk5nlyk` for its history (without a window: the last 90 days, all "
    "CloudTrail keeps)\n"
    "• `account:<alias or id>`: only that AWS account\n"
    "• `csv`: also upload the full result as a CSV file\n"
    "• `share`: post the answer in the channel instead of only to you\n"
    "• `help`: show this\n"
    "Examples: `/marketplace-activity` · `/marketplace-activity 30d purchases` · "
    "`/marketplace-activity since 2026-11-01 cancellations share`"
)


async def authorize(enterprise_id, team_id, logger):
    return AuthorizeResult(
        enterprise_id=enterprise_id,
        team_id=team_id,
        bot_token="xoxb-ack-ceiling",
        bot_id="B0LOAD",
        bot_user_id="U0BOT",
    )


app = AsyncApp(
    signing_secret=os.environ["SLACK_SIGNING_SECRET"],
    authorize=authorize,
    process_before_response=False,
)


@app.command("/marketplace-activity")
async def marketplace_activity(ack, command):
    await ack(
        response_type="ephemeral",
        text=USAGE,
        blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": USAGE}}],
    )


if __name__ == "__main__":
    app.start(port=int(sys.argv[1]), path="/slack/commands", host="127.0.0.1")
