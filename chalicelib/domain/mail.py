"""An e-mail as the service writes it: the message, and the error of a transport that refused it
(pure; the transports, SMTP and SES, are ``adapters/mail.py``)."""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage

TLS_MODES = ("none", "starttls", "ssl")


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    text: str
    html: str


class MailError(Exception):
    """The message could not be handed to the mail server."""


def build_message(mail: Mail, sender: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = mail.to
    message["Subject"] = mail.subject
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(mail.text)
    message.add_alternative(mail.html, subtype="html")
    return message
