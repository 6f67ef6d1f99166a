"""The SES adapter of the mailer: a raw MIME message through the SES API."""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.adapters.aws import client
from chalicelib.adapters.mail import MailError


def send_raw(sender: str, to: str, raw: bytes) -> str:
    """Send ``raw`` (a whole MIME message) to ``to``; answers the SES message id."""
    try:
        response = client("ses").send_raw_email(Source=sender, Destinations=[to], RawMessage={"Data": raw})
    except (ClientError, BotoCoreError) as exc:
        raise MailError(f"SES refused the message: {exc}") from exc
    return str(response["MessageId"])
