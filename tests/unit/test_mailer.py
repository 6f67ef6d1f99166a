"""chalicelib.adapters.mail: real SMTP to an aiosmtpd server (plain and with a login), errors as
MailError, and the SES adapter on moto."""

from __future__ import annotations

from collections.abc import Iterator
from email import message_from_bytes, policy
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from chalicelib.adapters import aws, mail
from chalicelib.domain.mail import Mail, MailError
from chalicelib.settings import Settings
from infra.local.stack import free_port

MAIL = Mail(to="ops@example.com", subject="[Slipway] t: execution failed", text="plain body", html="<p>html body</p>")


class Recorder:
    def __init__(self) -> None:
        self.envelopes: list[Any] = []
        self.logins: list[tuple[bytes, bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        return "250 OK"

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        assert isinstance(data, LoginPassword)
        self.logins.append((data.login, data.password))
        return AuthResult(success=data.password == b"right")


@pytest.fixture
def smtp() -> Iterator[tuple[Recorder, int]]:
    recorder = Recorder()
    port = free_port()
    controller = Controller(
        recorder, hostname="127.0.0.1", port=port, authenticator=recorder.authenticate, auth_require_tls=False
    )
    controller.start()
    yield recorder, port
    controller.stop()


def test_a_mail_goes_out_over_smtp_with_text_and_html(smtp: tuple[Recorder, int]) -> None:
    recorder, port = smtp
    mail.send(MAIL, Settings(smtp_host="127.0.0.1", smtp_port=port, mail_from="slipway@example.org"))

    [envelope] = recorder.envelopes
    assert envelope.mail_from == "slipway@example.org" and envelope.rcpt_tos == ["ops@example.com"]
    message = message_from_bytes(envelope.content, policy=policy.default)
    assert message["Subject"] == MAIL.subject and message["Auto-Submitted"] == "auto-generated"
    assert message.get_body(("plain",)).get_content().strip() == "plain body"  # type: ignore[union-attr]
    assert message.get_body(("html",)).get_content().strip() == "<p>html body</p>"  # type: ignore[union-attr]
    assert recorder.logins == []


def test_the_user_and_password_of_the_settings_log_in(smtp: tuple[Recorder, int]) -> None:
    recorder, port = smtp
    settings = Settings(smtp_host="127.0.0.1", smtp_port=port, smtp_user="bot", smtp_password="right")

    mail.send(MAIL, settings)

    assert recorder.logins == [(b"bot", b"right")] and len(recorder.envelopes) == 1


def test_a_refused_login_or_an_absent_server_is_a_mail_error(smtp: tuple[Recorder, int]) -> None:
    recorder, port = smtp
    refused = Settings(
        smtp_host="127.0.0.1", smtp_port=port, smtp_user="bot", smtp_password="wrong", smtp_timeout_seconds=3
    )
    with pytest.raises(MailError):
        mail.send(MAIL, refused)
    assert recorder.logins and recorder.logins[0] == (b"bot", b"wrong")
    with pytest.raises(MailError, match=r"Connection refused|ConnectionRefused"):
        mail.send(MAIL, Settings(smtp_host="127.0.0.1", smtp_port=free_port(), smtp_timeout_seconds=2))
    with pytest.raises(MailError, match="smtp_tls"):
        mail.send(MAIL, Settings(smtp_tls="maybe"))
    with pytest.raises(MailError, match="transport"):
        mail.send(MAIL, Settings(mail_transport="pigeon"))
    assert recorder.envelopes == []


def test_starttls_against_a_server_without_it_is_a_mail_error(smtp: tuple[Recorder, int]) -> None:
    _, port = smtp
    with pytest.raises(MailError, match="STARTTLS"):
        mail.send(MAIL, Settings(smtp_host="127.0.0.1", smtp_port=port, smtp_tls="starttls"))


def test_ses_sends_the_same_message(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto import mock_aws
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    for name, value in {"AWS_ACCESS_KEY_ID": "t", "AWS_SECRET_ACCESS_KEY": "t", "AWS_SESSION_TOKEN": "t"}.items():
        monkeypatch.setenv(name, value)
    aws.forget_clients()
    try:
        with mock_aws():
            settings = Settings(mail_transport="ses", mail_from="slipway@example.org")
            with pytest.raises(MailError, match="SES refused"):
                mail.send(MAIL, settings)  # the sender is not verified yet
            aws.client("ses").verify_email_identity(EmailAddress="slipway@example.org")
            mail.send(MAIL, settings)
            [sent] = ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages
            assert set(sent.destinations) == {"ops@example.com"}
            assert b"[Slipway] t: execution failed" in sent.raw_data.encode()
    finally:
        aws.forget_clients()


def test_the_smtp_password_can_come_from_secrets_manager(smtp: tuple[Recorder, int], monkeypatch: pytest.MonkeyPatch):
    from moto import mock_aws

    recorder, port = smtp
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    for name, value in {"AWS_ACCESS_KEY_ID": "t", "AWS_SECRET_ACCESS_KEY": "t", "AWS_SESSION_TOKEN": "t"}.items():
        monkeypatch.setenv(name, value)
    aws.forget_clients()
    mail._secret.cache_clear()
    try:
        with mock_aws():
            arn = aws.client("secretsmanager").create_secret(Name="slipway/smtp", SecretString="right")["ARN"]
            settings = Settings(smtp_host="127.0.0.1", smtp_port=port, smtp_user="bot", smtp_password_secret=arn)
            mail.send(MAIL, settings)
            gone = Settings(
                smtp_host="127.0.0.1", smtp_port=port, smtp_user="bot", smtp_password_secret=arn.replace("smtp", "gone")
            )
            with pytest.raises(MailError, match=r"the SMTP password: secret .* could not be read"):
                mail.send(MAIL, gone)
    finally:
        aws.forget_clients()
        mail._secret.cache_clear()

    assert recorder.logins == [(b"bot", b"right")] and len(recorder.envelopes) == 1
