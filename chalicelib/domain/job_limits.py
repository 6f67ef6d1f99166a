"""Caps on what one job may ask of the notification channels (abuse limits)."""

from __future__ import annotations

from typing import Any

from chalicelib.domain.errors import ValidationError


def refuse_too_many_deliveries(
    webhooks: dict[str, list[dict[str, Any]]], notify: dict[str, list[str]], max_webhooks: int, max_recipients: int
) -> None:
    """400 when a job declares more webhooks, or more e-mail recipients, than allowed (every
    event counted: each is a POST or a mail on every run)."""
    hooks = sum(len(each) for each in webhooks.values())
    if hooks > max_webhooks:
        raise ValidationError(f"a job may declare at most {max_webhooks} webhooks, not {hooks}", field="webhooks")
    recipients = sum(len(each) for each in notify.values())
    if recipients > max_recipients:
        raise ValidationError(
            f"a job may declare at most {max_recipients} e-mail recipients, not {recipients}", field="notify"
        )
