"""The manifest is generated from bot/manifest.py's one declaration, which says exactly what the bot
registers with Bolt, and stays inside Slack's manifest schema (slack-notes.md §6)."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from slack_bolt.async_app import AsyncApp

from bot import manifest
from bot.app import build
from bot.cli import main
from bot.settings import load_settings
from sandbox.slack.webapi import REQUIRED_SCOPES

MANIFEST_YML = Path(__file__).resolve().parents[2] / "manifest.yml"
EXAMPLE = "https://bot.example.com"
EXAMPLE_INSTANCE = "https://example.service-now.com"


# ---- generated, never edited ---------------------------------------------------------------------


def test_manifest_yml_is_exactly_what_the_generator_prints_for_the_example_address() -> None:
    assert MANIFEST_YML.read_text() == manifest.render(EXAMPLE, EXAMPLE_INSTANCE), (
        "manifest.yml is generated: change bot/manifest.py, then run "
        f"`incident-bot manifest --url {EXAMPLE} --instance {EXAMPLE_INSTANCE} > manifest.yml`"
    )


@pytest.mark.parametrize("url", [EXAMPLE, None], ids=["http", "socket"])
def test_the_yaml_reads_back_as_the_manifest(url: str | None) -> None:
    assert yaml.safe_load(manifest.render(url)) == manifest.build(url)


@given(st.text(), st.lists(st.text(), max_size=3), st.booleans(), st.integers())
def test_the_yaml_writer_keeps_any_string_exactly(
    text: str, items: list[str], flag: bool, number: int
) -> None:
    data = {"a": text, "b": items, "c": {"d": flag, "e": number, "f": [{"g": text, "h": items}]}}
    notes = {("a",): text.replace("\n", " "), ("b", text): "x"}
    assert yaml.safe_load(manifest.to_yaml(data, notes=notes, header=text)) == data


def test_http_mode_sends_everything_to_slack_events_at_the_given_address() -> None:
    for given_url, expected in [
        ("https://bot.example.org", "https://bot.example.org/slack/events"),
        ("https://bot.example.org/", "https://bot.example.org/slack/events"),
        (
            "HTTPS://bot.example.org:8443/incident-bot/",
            "https://bot.example.org:8443/incident-bot/slack/events",
        ),
    ]:
        built = manifest.build(given_url)
        assert set(urls(built)) == {expected}
        assert built["settings"]["socket_mode_enabled"] is False
    built = manifest.build(EXAMPLE)
    assert [c["url"] for c in built["features"]["slash_commands"]] == [f"{EXAMPLE}/slack/events"]
    assert built["settings"]["event_subscriptions"]["request_url"] == f"{EXAMPLE}/slack/events"
    interactivity = built["settings"]["interactivity"]
    assert interactivity["request_url"] == interactivity["message_menu_options_url"]


def test_socket_mode_has_no_url_at_all() -> None:
    built = manifest.build(None)
    assert list(urls(built)) == []
    assert built["settings"]["socket_mode_enabled"] is True
    assert built["settings"]["interactivity"] == {"is_enabled": True}


@pytest.mark.parametrize(
    "bad",
    [
        "ftp://x",
        "bot.example.org",
        "https://",
        "https://bot.example.org:99999",
        "https://bot.example.org/slack/events",
        "https://bot.example.org/?a=1",
        "https://user:pw@bot.example.org",
        "https://bot.example.org/a b",
        "https://bot.example.org/" + "x" * 3000,
    ],
)
def test_an_address_that_cannot_be_a_request_url_is_refused(bad: str) -> None:
    with pytest.raises(manifest.ManifestError, match="--url"):
        manifest.build(bad)


# ---- the command ---------------------------------------------------------------------------------


def test_the_command_prints_the_manifest_without_any_settings(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "manifest", "--url", "https://bot.example.org"],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == manifest.render("https://bot.example.org")


def test_the_unfurl_domain_is_the_instances_host_from_the_flag_or_the_environment(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["manifest", "--socket", "--instance", "https://Dev1.Service-Now.com/"]) == 0
    assert "unfurl_domains:\n    - dev1.service-now.com" in capsys.readouterr().out
    monkeypatch.setenv("SERVICENOW_INSTANCE_URL", "https://dev2.service-now.com")
    assert main(["manifest", "--url", EXAMPLE]) == 0
    assert yaml.safe_load(capsys.readouterr().out)["features"]["unfurl_domains"] == [
        "dev2.service-now.com"
    ]
    assert main(["manifest", "--socket", "--instance", "not a url"]) == 2
    assert "ServiceNow instance" in capsys.readouterr().err


def test_the_command_prints_the_socket_mode_manifest(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["manifest", "--socket"]) == 0
    assert capsys.readouterr().out == manifest.render(None)


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["manifest", "--url", "ftp://x"], "--url must be the bot's public address"),
        (["manifest"], "--url"),
        (["manifest", "--url", "https://a.example", "--socket"], "not allowed with"),
        (["manifest", "--url"], "expected one argument"),
        (["manifest", "--bogus"], "unrecognized arguments"),
    ],
)
def test_bad_input_is_one_line_on_stderr_and_exit_2(
    argv: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code: object
    try:
        code = main(argv)
    except SystemExit as exit:  # argparse's own errors
        code = exit.code
    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    [line] = err.splitlines()
    assert line.startswith("incident-bot: ") and says in line


# ---- one declaration, true to the bot ------------------------------------------------------------

# Bolt registration methods, by what each needs in the manifest.
COMMANDS = {"command"}
EVENTS = {"event"}
SHORTCUTS = {"shortcut", "global_shortcut", "message_shortcut"}
OPTIONS = {"options", "block_suggestion", "dialog_suggestion"}
INTERACTIONS = {
    "action",
    "block_action",
    "attachment_action",
    "view",
    "view_submission",
    "view_closed",
    "dialog_submission",
    "dialog_cancellation",
}
UNSUPPORTED = {"message", "function"}  # need manifest entries this test does not know yet


@pytest.fixture
def registered(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any]]:
    """(method, constraint) for every listener registered on any AsyncApp from now on."""
    seen: list[tuple[str, Any]] = []
    for name in COMMANDS | EVENTS | SHORTCUTS | OPTIONS | INTERACTIONS | UNSUPPORTED:
        original = getattr(AsyncApp, name)

        def spy(
            self: AsyncApp, *args: Any, _name: str = name, _original: Any = original, **kwargs: Any
        ) -> Any:
            seen.append((_name, args[0] if args else next(iter(kwargs.values()), None)))
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(AsyncApp, name, spy)
    return seen


def names(registered: list[tuple[str, Any]], kinds: set[str], key: str) -> set[str]:
    found = set()
    for kind, constraint in registered:
        if kind in kinds:
            value = constraint.get(key) if isinstance(constraint, dict) else constraint
            assert isinstance(value, str), f"{kind}({constraint!r}): declare it by name"
            found.add(value)
    return found


async def test_the_declaration_is_what_the_bot_registers_with_bolt(
    registered: list[tuple[str, Any]], tmp_path: Path
) -> None:
    settings = load_settings(
        "serve",
        slack_bot_token="xoxb-test",
        slack_signing_secret="test",
        servicenow_instance_url="https://instance.example.org",
        servicenow_username="bot",
        servicenow_password="bot",
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
    )
    bot = build(settings)
    bolt = bot.bolt
    await bot.aclose()
    assert len(registered) == len(bolt._async_listeners), "a listener came in some other way"
    assert not [r for r in registered if r[0] in UNSUPPORTED], "teach the manifest about these"

    kinds = {kind for kind, _ in registered}
    assert names(registered, COMMANDS, "command") == {c.command for c in manifest.COMMANDS}
    assert names(registered, EVENTS, "type") == {
        manifest.event_type(e) for e in manifest.BOT_EVENTS
    }
    assert names(registered, SHORTCUTS, "callback_id") == {
        s.callback_id for s in manifest.SHORTCUTS
    }
    assert bool(kinds & (INTERACTIONS | OPTIONS | SHORTCUTS)) == manifest.INTERACTIVITY
    assert bool(kinds & OPTIONS) == manifest.OPTIONS_LOAD


def test_every_scope_is_needed_by_a_call_or_a_feature_and_every_call_is_granted() -> None:
    needed = {scope for scopes in manifest.METHODS.values() for scope in scopes}
    # Every event the bot takes says which scopes Slack needs to send it, and has them.
    assert set(manifest.EVENT_SCOPES) == set(manifest.BOT_EVENTS)
    for event, scopes in manifest.EVENT_SCOPES.items():
        assert set(scopes) <= set(manifest.SCOPES), event
    needed |= {scope for scopes in manifest.EVENT_SCOPES.values() for scope in scopes}
    if manifest.COMMANDS or manifest.SHORTCUTS:
        needed.add("commands")
    assert set(manifest.SCOPES) == needed
    assert all(why.strip() for why in manifest.SCOPES.values())
    assert all(why.strip() for why in manifest.BOT_EVENTS.values())
    # What Slack requires for each method (as the stand-in enforces it) is among what we declare.
    for method, scopes in manifest.METHODS.items():
        assert set(REQUIRED_SCOPES[method]) <= set(scopes), method
    # The Home tab is there to publish; the Messages tab is writable only if the bot listens.
    assert ("views.publish" in manifest.METHODS) == manifest.HOME_TAB
    assert ("message.im" not in manifest.BOT_EVENTS) == manifest.MESSAGES_TAB_READ_ONLY


# ---- Slack's schema ------------------------------------------------------------------------------


@pytest.mark.parametrize("url", [EXAMPLE, None], ids=["http", "socket"])
def test_the_manifest_is_within_slacks_schema(url: str | None) -> None:
    assert schema_problems(manifest.build(url)) == []
    assert schema_problems(manifest.build(url, EXAMPLE_INSTANCE)) == []


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda m: m["features"]["slash_commands"][0].update(command="incident"), "command"),
        (lambda m: m["display_information"].update(name="x" * 36), "name"),
        (lambda m: m["settings"]["interactivity"].pop("is_enabled"), "is_enabled"),
        (lambda m: m["settings"].update(colour=True), "colour"),
        (lambda m: m["oauth_config"]["scopes"]["bot"].append("x" * 51), "bot"),
        (
            lambda m: m["settings"]["event_subscriptions"].update(request_url="ftp://x"),
            "request_url",
        ),
    ],
)
def test_the_schema_check_catches_what_slack_refuses(change: Any, problem: str) -> None:
    built = manifest.build(EXAMPLE)
    change(built)
    assert [p for p in schema_problems(built) if problem in p]


def urls(data: Any) -> Iterator[str]:
    """Every URL-valued field anywhere in the manifest."""
    if isinstance(data, dict):
        for key, value in data.items():
            if key in ("url", "request_url", "message_menu_options_url"):
                yield value
            else:
                yield from urls(value)
    elif isinstance(data, list):
        for item in data:
            yield from urls(item)


# (keys allowed, keys required) per object, and limits per field, from manifest.schema.1.0.0.json.
OBJECTS: dict[str, tuple[set[str], set[str]]] = {
    "": (
        {"_metadata", "display_information", "features", "oauth_config", "settings"},
        {"display_information"},
    ),
    "_metadata": ({"major_version", "minor_version"}, set()),
    "display_information": (
        {"name", "description", "background_color", "long_description"},
        {"name"},
    ),
    "features": ({"app_home", "bot_user", "shortcuts", "slash_commands", "unfurl_domains"}, set()),
    "features.app_home": (
        {"home_tab_enabled", "messages_tab_enabled", "messages_tab_read_only_enabled"},
        set(),
    ),
    "features.bot_user": ({"display_name", "always_online"}, {"display_name"}),
    "features.slash_commands[]": (
        {"command", "url", "description", "usage_hint", "should_escape"},
        {"command", "description"},
    ),
    "features.shortcuts[]": (
        {"name", "type", "callback_id", "description"},
        {"name", "type", "callback_id", "description"},
    ),
    "oauth_config": (
        {"redirect_urls", "scopes", "token_management_enabled", "pkce_enabled"},
        set(),
    ),
    "oauth_config.scopes": ({"bot", "user", "bot_optional", "user_optional"}, set()),
    "settings": (
        {
            "allowed_ip_address_ranges",
            "event_subscriptions",
            "incoming_webhooks",
            "interactivity",
            "org_deploy_enabled",
            "socket_mode_enabled",
            "token_rotation_enabled",
        },
        set(),
    ),
    "settings.event_subscriptions": ({"request_url", "bot_events", "user_events"}, set()),
    "settings.interactivity": (
        {"is_enabled", "request_url", "message_menu_options_url"},
        {"is_enabled"},
    ),
}
URL = r"https?://.*"
# path: (type, min length or items, max length or items, pattern)
FIELDS: dict[str, tuple[type, int, int, str | None]] = {
    "display_information.name": (str, 1, 35, None),
    "display_information.description": (str, 1, 140, None),
    "display_information.background_color": (str, 4, 7, r"#[0-9a-fA-F]{3}([0-9a-fA-F]{3})?"),
    "features.bot_user.display_name": (str, 1, 80, None),
    "features.slash_commands": (list, 1, 50, None),
    "features.slash_commands[].command": (str, 2, 32, r"/.*"),
    "features.slash_commands[].url": (str, 0, 3000, URL),
    "features.slash_commands[].description": (str, 1, 2000, None),
    "features.slash_commands[].usage_hint": (str, 1, 1000, None),
    "features.shortcuts": (list, 1, 10, None),
    "features.shortcuts[].name": (str, 1, 24, None),
    "features.shortcuts[].type": (str, 1, 7, r"message|global"),
    "features.shortcuts[].callback_id": (str, 1, 255, None),
    "features.shortcuts[].description": (str, 1, 150, None),
    "oauth_config.scopes.bot": (list, 0, 255, None),
    "oauth_config.scopes.bot[]": (str, 1, 50, None),
    "settings.event_subscriptions.request_url": (str, 0, 3500, URL),
    "settings.event_subscriptions.bot_events": (list, 0, 100, None),
    "settings.event_subscriptions.bot_events[]": (str, 1, 50, None),
    "settings.interactivity.request_url": (str, 0, 3500, URL),
    "settings.interactivity.message_menu_options_url": (str, 0, 3500, URL),
}
BOOLEANS = re.compile(r".*(_enabled|always_online|should_escape)")


def schema_problems(data: Any, path: str = "") -> list[str]:
    problems: list[str] = []
    if path in FIELDS:
        kind, low, high, pattern = FIELDS[path]
        size = len(data) if isinstance(data, (str, list)) else -1
        if not isinstance(data, kind) or not low <= size <= high:
            problems.append(f"{path}: {data!r} is not a {kind.__name__} of {low}..{high}")
        elif pattern and isinstance(data, str) and not re.fullmatch(pattern, data, re.DOTALL):
            problems.append(f"{path}: {data!r} does not match {pattern}")
    if BOOLEANS.fullmatch(path.rsplit(".", 1)[-1]) and not isinstance(data, bool):
        problems.append(f"{path}: {data!r} is not a boolean")
    if isinstance(data, dict):
        allowed, required = OBJECTS.get(path, (set(), set()))
        problems += [f"{path or 'top level'}: unknown key {k}" for k in set(data) - allowed]
        problems += [f"{path or 'top level'}: {k} is required" for k in required - set(data)]
        for key, value in data.items():
            problems += schema_problems(value, f"{path}.{key}" if path else key)
    elif isinstance(data, list):
        if len(set(map(repr, data))) != len(data):
            problems.append(f"{path}: items repeat")
        for item in data:
            problems += schema_problems(item, f"{path}[]")
    return problems
