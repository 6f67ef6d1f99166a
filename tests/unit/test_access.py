"""chalicelib.domain.access and the scoped keys of chalicelib.api.auth: who may do what."""

from __future__ import annotations

import json

import pytest

from chalicelib.api.auth import (
    ANONYMOUS,
    Identity,
    authorize,
    authorize_connect,
    connect_refusal,
    hash_secret,
    identify,
    require,
    require_front_door,
)
from chalicelib.domain.access import FULL, Forbidden, Scope, parse_scoped_keys, visible_tasks
from chalicelib.domain.credentials import Credentials
from chalicelib.settings import FRONT_DOOR_HEADER, Settings

TEAM = Scope("producta-.*", frozenset({"read", "write"}))


def _keys(*entries: dict[str, object]) -> str:
    return json.dumps(list(entries))


def test_a_scope_matches_task_ids_whole() -> None:
    assert TEAM.covers_task("producta-nightly")
    assert not TEAM.covers_task("productb-nightly")
    assert not TEAM.covers_task("x-producta-nightly")  # a full match, not a search
    assert visible_tasks(TEAM, ["producta-1", "productb-1", "producta-2"]) == ["producta-1", "producta-2"]


def test_check_names_the_missing_verb_or_the_foreign_task() -> None:
    TEAM.check("read", "producta-1", "key:a")
    with pytest.raises(Forbidden) as verb:
        TEAM.check("admin", None, "key:a")
    with pytest.raises(Forbidden) as task:
        TEAM.check("read", "productb-1", "key:a")

    assert verb.value.status_code == 403
    assert verb.value.to_dict() == {"error": "key:a may not admin (it may read, write)", "verb": "admin"}
    assert task.value.to_dict()["taskId"] == "productb-1"
    assert FULL.unlimited and not TEAM.unlimited


def test_scoped_keys_are_parsed_with_their_defaults() -> None:
    [full, team] = parse_scoped_keys(
        _keys({"name": "all", "key": "k1"}, {"name": "team", "key": "k2", "tasks": "t-.*", "verbs": ["read"]})
    )

    assert (full.name, full.secret, full.scope) == ("all", "k1", FULL)
    assert team.scope == Scope("t-.*", frozenset({"read"}))
    assert parse_scoped_keys("") == ()


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("not json", "must be a JSON list"),
        ('{"name": "a"}', "JSON list of objects"),
        (_keys({"name": "a"}), "non-empty name and key"),
        (_keys({"name": "a", "key": "k", "tasks": "("}), "not a regular expression"),
        (_keys({"name": "a", "key": "k", "verbs": ["delete"]}), "verbs must be a non-empty list"),
        (_keys({"name": "a", "key": "k", "verbs": []}), "verbs must be a non-empty list"),
        (_keys({"name": "a", "key": "k", "team": "x"}), "must be an object of name, key"),
        (_keys({"name": "a", "key": "k"}, {"name": "a", "key": "k2"}), "a name of its own"),
    ],
)
def test_a_bad_scoped_key_stops_the_process_at_start(raw: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Settings(auth_scoped_keys=raw)


def test_a_scoped_key_written_as_a_digest_must_be_a_whole_one() -> None:
    with pytest.raises(ValueError, match="64 hex digits"):
        Settings(auth_scoped_keys=_keys({"name": "a", "key": "sha256:abc"}))


def test_a_scoped_key_identifies_its_caller_with_its_scope() -> None:
    settings = Settings(
        auth_api_keys="ops-key",
        auth_scoped_keys=_keys(
            {"name": "team", "key": hash_secret("team-key"), "tasks": "producta-.*", "verbs": ["read"]}
        ),
    )
    credentials: Credentials = settings.credentials

    team = identify({"X-Api-Key": "team-key"}, credentials)
    by_bearer = identify({"Authorization": "Bearer team-key"}, credentials)
    ops = identify({"X-Api-Key": "ops-key"}, credentials)

    assert team == by_bearer == Identity("key:team", Scope("producta-.*", frozenset({"read"})))
    assert ops == Identity("api-key")
    assert identify({"X-Api-Key": "other"}, credentials) is None
    assert credentials.enabled and 'Bearer realm="slipway"' in credentials.challenge
    assert team is not None
    authorize(team, "read", "producta-1")
    with pytest.raises(Forbidden):
        authorize(team, "write", "producta-1")
    authorize(ops, "admin")  # type: ignore[arg-type]


def test_scoped_keys_alone_turn_auth_on() -> None:
    credentials = Settings(auth_scoped_keys=_keys({"name": "a", "key": "k"})).credentials

    assert credentials.enabled
    with pytest.raises(Exception, match="authentication required"):
        require({}, credentials)
    assert require({}, Settings().credentials) is ANONYMOUS


def test_a_websocket_connect_needs_read_on_its_task(monkeypatch: pytest.MonkeyPatch) -> None:
    scoped = _keys({"name": "team", "key": "team-key", "tasks": "producta-.*", "verbs": ["read"]})
    monkeypatch.setattr("chalicelib.api.auth.get_settings", lambda: Settings(auth_scoped_keys=scoped))
    event = {"headers": {"X-Api-Key": "team-key"}, "queryStringParameters": {"taskId": "productb-1", "jobId": "j"}}

    refusal = connect_refusal(event)

    assert refusal is not None and refusal["statusCode"] == 403
    assert "WWW-Authenticate" not in refusal["headers"]  # type: ignore[operator]
    assert json.loads(str(refusal["body"]))["taskId"] == "productb-1"
    own = authorize_connect({"X-Api-Key": "team-key"}, {"taskId": "producta-1"})
    assert own.name == "key:team"


def test_the_front_door_header_is_required_only_when_configured() -> None:
    require_front_door({}, secret="")
    require_front_door({FRONT_DOOR_HEADER.upper(): "s3cret"}, secret="s3cret")
    for headers in ({}, {FRONT_DOOR_HEADER: "guess"}):
        with pytest.raises(Forbidden, match="through its front door only"):
            require_front_door(headers, secret="s3cret")


# -- IAM and Cognito callers (API Gateway's authorizer established who they are) -----------------

PRINCIPALS = _keys(
    {"name": "team-role", "principal": "arn:aws:sts::123456789012:assumed-role/producta-.*", "tasks": "producta-.*"},
    {"name": "viewers", "principal": "group:viewers", "tasks": ".*", "verbs": ["read"]},
)


def _iam(arn: str) -> dict[str, object]:
    return {"identity": {"userArn": arn, "sourceIp": "10.0.0.1"}}


def _cognito(username: str, groups: object) -> dict[str, object]:
    return {
        "identity": {"userArn": None},
        "authorizer": {"claims": {"cognito:username": username, "cognito:groups": groups}},
    }


def test_an_iam_caller_is_scoped_by_its_arn() -> None:
    credentials = Settings(auth_scoped_keys=PRINCIPALS).credentials
    arn = "arn:aws:sts::123456789012:assumed-role/producta-ci/session"

    identity = require({}, credentials, context=_iam(arn))

    assert identity == Identity("principal:team-role", Scope("producta-.*"))
    with pytest.raises(Forbidden, match="matches no scoped principal"):
        require({}, credentials, context=_iam("arn:aws:sts::123456789012:assumed-role/other/session"))


@pytest.mark.parametrize("groups", [["staff", "viewers"], "[staff viewers]", "staff,viewers"])
def test_a_cognito_caller_is_scoped_by_its_groups(groups: object) -> None:
    credentials = Settings(auth_scoped_keys=PRINCIPALS).credentials

    identity = require({}, credentials, context=_cognito("ann", groups))

    assert identity.name == "principal:viewers" and identity.scope.verbs == frozenset({"read"})


def test_without_principal_entries_a_gateway_caller_has_every_right() -> None:
    identity = require({}, Settings().credentials, context=_iam("arn:aws:iam::123456789012:user/ann"))

    assert identity == Identity("principal:arn:aws:iam::123456789012:user/ann")
    assert require({}, Settings().credentials, context={"identity": {"sourceIp": "1.2.3.4"}}) is ANONYMOUS


def test_an_entry_has_a_key_or_a_principal_not_both() -> None:
    with pytest.raises(ValueError, match="or a principal instead"):
        Settings(auth_scoped_keys=_keys({"name": "a", "key": "k", "principal": "p"}))
    with pytest.raises(ValueError, match="or a principal instead"):
        Settings(auth_scoped_keys=_keys({"name": "a"}))
