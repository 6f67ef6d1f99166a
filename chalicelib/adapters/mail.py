"""Sending e-mail: over SMTP (host, port, TLS, user, password from the settings, or from the
Secrets Manager secret ``smtp_password_secret``, read at the first use) or through SES
(``mail_transport = "ses"``, with the Lambda's IAM role)."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from functools import cache

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.adapters.aws import client
from chalicelib.adapters.secrets import SecretUnavailable, read_secret
from chalicelib.domain.mail import TLS_MODES, Mail, MailError, build_message
from chalicelib.settings import Settings, get_settings


def send(mail: Mail, settings: Settings | None = None) -> None:
    """Hand ``mail`` to the configured transport; MailError when it was not accepted."""
    settings = settings or get_settings()
    message = build_message(mail, settings.mail_from)
    if settings.mail_transport == "ses":
        send_raw(settings.mail_from, mail.to, message.as_bytes())
        return
    if settings.mail_transport != "smtp":
        raise MailError(f"unknown mail transport {settings.mail_transport!r} (smtp or ses)")
    _send_smtp(message, settings)


def _send_smtp(message: EmailMessage, settings: Settings) -> None:
    if settings.smtp_tls not in TLS_MODES:
        raise MailError(f"smtp_tls must be one of {TLS_MODES}, not {settings.smtp_tls!r}")
    try:
        if settings.smtp_tls == "ssl":
            server: smtplib.SMTP = smtplib.SMTP_SSL(
                settings.smtp_host,
                settings.smtp_port,
                timeout=settings.smtp_timeout_seconds,
                context=ssl.create_default_context(),
            )
        else:
            server = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout_seconds)
        with server:
            if settings.smtp_tls == "starttls":
                server.starttls(context=ssl.create_default_context())
            if settings.smtp_user:
                server.login(settings.smtp_user, _smtp_password(settings))
            server.send_message(message)
    except (smtplib.SMTPException, OSError) as exc:
        raise MailError(f"{type(exc).__name__}: {exc}") from exc


def _smtp_password(settings: Settings) -> str:
    if not settings.smtp_password_secret:
        return settings.smtp_password
    try:
        return _secret(settings.smtp_password_secret)
    except SecretUnavailable as exc:
        raise MailError(f"the SMTP password: {exc}") from exc


@cache
def _secret(arn: str) -> str:
    # Read once per process: a Lambda container sends many mails with one password.
    return read_secret(arn)


def send_raw(sender: str, to: str, raw: bytes) -> str:
    """Send ``raw`` (a whole MIME message) to ``to`` through the SES API; answers its message id."""
    try:
        response = client("ses").send_raw_email(Source=sender, Destinations=[to], RawMessage={"Data": raw})
    except (ClientError, BotoCoreError) as exc:
        raise MailError(f"SES refused the message: {exc}") from exc
    return str(response["MessageId"])
