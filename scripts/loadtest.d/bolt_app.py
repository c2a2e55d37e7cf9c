"""The peer: a minimal Slack Bolt for Python app that does what the slash command's
acknowledgement does (verify the signature, parse the form, answer an ephemeral message)
and nothing else. Served by gunicorn (see scripts/loadtest).

`process_before_response=False` is Bolt's default for a long-running server: the listener
runs on Bolt's thread pool and the HTTP response goes out as soon as it calls `ack()`.
`authorize` answers locally, so no request reaches slack.com (Bolt would otherwise call
auth.test).
"""
import os

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_bolt.authorization import AuthorizeResult


def authorize(enterprise_id, team_id, logger):
    return AuthorizeResult(
        enterprise_id=enterprise_id,
        team_id=team_id,
        bot_token="xoxb-loadtest",
        bot_id="B0LOAD",
        bot_user_id="U0BOT",
    )


app = App(
    signing_secret=os.environ["SLACK_SIGNING_SECRET"],
    authorize=authorize,
    process_before_response=False,
)


@app.command("/marketplace-activity")
def marketplace_activity(ack, command):
    ack(
        response_type="ephemeral",
        text=f"Looking up Marketplace activity ({command.get('text') or '7d'})…",
    )


api = SlackRequestHandler(app, path="/slack/commands")
