from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.settings import SettingsError, load_settings

BASE = {
    "SLACK_BOT_TOKEN": "xoxb-1",
    "SLACK_SIGNING_SECRET": "s",
    "SERVICENOW_INSTANCE_URL": "https://dev1.service-now.com/",
    "SERVICENOW_USERNAME": "u",
    "SERVICENOW_PASSWORD": "p",
}


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name in [
        *BASE,
        "SLACK_APP_TOKEN",
        "DATABASE_URL",
        "PORT",
        "SLACK_API_URL",
        "SERVICENOW_LINKING",
        "TOKEN_ENCRYPTION_KEYS",
        "PUBLIC_URL",
    ]:
        monkeypatch.delenv(name, raising=False)
    for name, value in BASE.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


def test_design_defaults_apply(env: pytest.MonkeyPatch) -> None:
    settings = load_settings("serve")
    assert settings.slack_api_url == "https://slack.com/api/"
    assert settings.servicenow_instance_url == "https://dev1.service-now.com"
    assert settings.servicenow_poll_seconds == 30
    assert settings.database_url == "sqlite+aiosqlite:///./incident-bot.db"
    assert (settings.host, settings.port) == ("0.0.0.0", 3000)
    assert settings.incident_channel is None and settings.servicenow_webhook_secret is None


def test_every_problem_is_one_line_naming_the_variable(env: pytest.MonkeyPatch) -> None:
    env.delenv("SLACK_SIGNING_SECRET")
    env.setenv("PORT", "eighty")
    env.setenv("DATABASE_URL", "mysql://x")
    env.setenv("SERVICENOW_INSTANCE_URL", "dev1.service-now.com")
    with pytest.raises(SettingsError) as caught:
        load_settings("serve")
    problems = caught.value.problems
    assert any(p.startswith("PORT:") for p in problems)
    assert any(p.startswith("DATABASE_URL:") for p in problems)
    assert any(p.startswith("SERVICENOW_INSTANCE_URL:") for p in problems)
    assert all("\n" not in p for p in problems)


def test_port_zero_asks_for_any_free_port_and_out_of_range_is_refused(
    env: pytest.MonkeyPatch,
) -> None:
    env.setenv("PORT", "0")
    assert load_settings("serve").port == 0
    env.setenv("PORT", "65536")
    with pytest.raises(SettingsError) as caught:
        load_settings("serve")
    assert [p.split(":")[0] for p in caught.value.problems] == ["PORT"]


def test_empty_variables_count_as_unset(env: pytest.MonkeyPatch) -> None:
    for name in ("SLACK_APP_TOKEN", "SERVICENOW_CLIENT_ID", "INCIDENT_CHANNEL", "PORT"):
        env.setenv(name, "")
    settings = load_settings("serve")
    assert settings.slack_app_token is None and settings.servicenow_client_id is None
    assert (settings.incident_channel, settings.port) == (None, 3000)
    env.setenv("SLACK_SIGNING_SECRET", "")
    with pytest.raises(SettingsError) as caught:
        load_settings("serve")
    assert caught.value.problems == [
        "SLACK_SIGNING_SECRET: required for `incident-bot serve` but not set"
    ]


def test_mode_decides_what_is_required(env: pytest.MonkeyPatch) -> None:
    env.delenv("SLACK_SIGNING_SECRET")
    with pytest.raises(SettingsError) as caught:
        load_settings("serve")
    assert caught.value.problems == [
        "SLACK_SIGNING_SECRET: required for `incident-bot serve` but not set"
    ]
    with pytest.raises(SettingsError) as socket:
        load_settings("socket")
    assert socket.value.problems == [
        "SLACK_APP_TOKEN: required for `incident-bot socket` but not set"
    ]
    env.setenv("SLACK_APP_TOKEN", "xapp-1")
    assert load_settings("socket").slack_app_token == "xapp-1"


def test_servicenow_credentials_must_be_complete(env: pytest.MonkeyPatch) -> None:
    env.delenv("SERVICENOW_PASSWORD")
    env.setenv("SERVICENOW_CLIENT_ID", "id")
    with pytest.raises(SettingsError) as caught:
        load_settings("serve")
    assert sorted(caught.value.problems) == [
        "SERVICENOW_CLIENT_SECRET: required when the other OAuth client setting is set",
        "SERVICENOW_PASSWORD: required when the other one is set",
    ]


def test_tokens_of_the_wrong_kind_are_refused(env: pytest.MonkeyPatch) -> None:
    env.setenv("SLACK_BOT_TOKEN", "xoxp-user-token")
    with pytest.raises(SettingsError) as caught:
        load_settings("serve")
    assert caught.value.problems == ["SLACK_BOT_TOKEN: must be a bot token starting with xoxb-"]


def test_cli_prints_one_line_per_problem_and_no_traceback(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "serve"],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "SERVICENOW_INSTANCE_URL": "nope"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert "Traceback" not in result.stderr
    assert lines and all(line.startswith("incident-bot: ") for line in lines)
    assert any("SLACK_BOT_TOKEN" in line for line in lines)
    assert any("SERVICENOW_INSTANCE_URL" in line for line in lines)


def test_acting_as_people_needs_the_key_id_and_the_oauth_client(env: pytest.MonkeyPatch) -> None:
    from servicenow.auth import generate_key_pair

    private, _, key_id = generate_key_pair()
    env.setenv("SERVICENOW_JWT_PRIVATE_KEY", private)  # the PEM itself
    with pytest.raises(SettingsError) as error:
        load_settings("serve")
    assert [p.split(":")[0] for p in error.value.problems] == [
        "SERVICENOW_JWT_KEY_ID",
        "SERVICENOW_CLIENT_ID",
    ]
    env.setenv("SERVICENOW_JWT_KEY_ID", key_id)
    env.setenv("SERVICENOW_CLIENT_ID", "c")
    env.setenv("SERVICENOW_CLIENT_SECRET", "s")
    settings = load_settings("serve")
    assert settings.acts_as_person and private not in repr(settings)


def test_a_bad_jwt_key_is_one_line_that_never_repeats_it(
    env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env.setenv("SERVICENOW_JWT_KEY_ID", "k")
    env.setenv("SERVICENOW_CLIENT_ID", "c")
    env.setenv("SERVICENOW_CLIENT_SECRET", "s")
    secret = "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LW5vdC1hLWtleQ==\n-----END PRIVATE KEY-----"
    env.setenv("SERVICENOW_JWT_PRIVATE_KEY", secret)
    with pytest.raises(SettingsError) as error:
        load_settings("serve")
    assert error.value.problems == [
        "SERVICENOW_JWT_PRIVATE_KEY: must be an RSA private key in PEM, or the path of one"
    ]
    env.setenv("SERVICENOW_JWT_PRIVATE_KEY", str(tmp_path / "missing.pem"))
    with pytest.raises(SettingsError) as error:
        load_settings("serve")
    assert error.value.problems == [
        "SERVICENOW_JWT_PRIVATE_KEY: can't read the key file (No such file or directory)"
    ]


def test_jwt_keypair_writes_a_private_key_only_its_owner_reads_and_prints_the_rest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import main
    from servicenow.auth import key_id_of, load_private_key

    path = tmp_path / "jwt.pem"
    assert main(["jwt-keypair", str(path)]) == 0
    printed = capsys.readouterr().out
    assert path.stat().st_mode & 0o777 == 0o600
    key_id = key_id_of(load_private_key(str(path)))
    assert f"SERVICENOW_JWT_KEY_ID={key_id}" in printed
    assert f"SERVICENOW_JWT_PRIVATE_KEY={path}" in printed
    assert "BEGIN CERTIFICATE" in printed and "PRIVATE KEY" not in printed
    before = path.read_text()
    assert main(["jwt-keypair", str(path)]) == 1  # never over an existing key
    assert path.read_text() == before


def test_account_linking_needs_keys_a_public_url_and_the_oauth_client(
    env: pytest.MonkeyPatch,
) -> None:
    env.setenv("SERVICENOW_LINKING", "true")
    with pytest.raises(SettingsError) as error:
        load_settings("serve")
    assert [p.split(":")[0] for p in error.value.problems] == [
        "TOKEN_ENCRYPTION_KEYS",
        "PUBLIC_URL",
        "SERVICENOW_CLIENT_ID",
    ]
    from cryptography.fernet import Fernet

    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    env.setenv("TOKEN_ENCRYPTION_KEYS", f"{new}, {old}")
    env.setenv("PUBLIC_URL", "https://bot.example.com/")
    env.setenv("SERVICENOW_CLIENT_ID", "c")
    env.setenv("SERVICENOW_CLIENT_SECRET", "s")
    settings = load_settings("serve")
    assert settings.acts_as_person and settings.public_url == "https://bot.example.com"
    assert new not in repr(settings) and old not in repr(settings)


def test_linking_and_the_jwt_grant_together_are_refused_in_one_line(
    env: pytest.MonkeyPatch,
) -> None:
    from servicenow.auth import generate_key_pair

    private, _, key_id = generate_key_pair()
    for name, value in {
        "SERVICENOW_LINKING": "true",
        "SERVICENOW_JWT_PRIVATE_KEY": private,
        "SERVICENOW_JWT_KEY_ID": key_id,
        "SERVICENOW_CLIENT_ID": "c",
        "SERVICENOW_CLIENT_SECRET": "s",
    }.items():
        env.setenv(name, value)
    with pytest.raises(SettingsError) as error:
        load_settings("serve")
    assert error.value.problems == [
        "SERVICENOW_LINKING: choose one way of acting as the person, account linking or the "
        "JWT bearer grant (SERVICENOW_JWT_PRIVATE_KEY), not both"
    ]


def test_a_bad_encryption_key_is_one_line_that_never_repeats_it(env: pytest.MonkeyPatch) -> None:
    from cryptography.fernet import Fernet

    good = Fernet.generate_key().decode()
    env.setenv("TOKEN_ENCRYPTION_KEYS", f"{good},not-a-key-at-all")
    with pytest.raises(SettingsError) as error:
        load_settings("serve")
    [line] = error.value.problems
    assert line.startswith("TOKEN_ENCRYPTION_KEYS: key 2 is not a Fernet key")
    assert "not-a-key-at-all" not in line and good not in line


def test_encryption_key_prints_a_new_fernet_key(capsys: pytest.CaptureFixture[str]) -> None:
    from cryptography.fernet import Fernet

    from bot.cli import main

    assert main(["encryption-key"]) == 0
    printed = capsys.readouterr()
    key = printed.out.strip()
    assert Fernet(key).decrypt(Fernet(key).encrypt(b"x")) == b"x"
    assert "TOKEN_ENCRYPTION_KEYS=new,old" in printed.err
