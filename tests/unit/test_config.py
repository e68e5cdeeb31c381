"""Tests for settings resolution: defaults, TOML file, BULLETIN_* environment, then flags."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import SecretStr

from bulletin import config, errors

PASSWORD = "s3cr3t-pa55w0rd"
DATABASE_URL = f"postgresql://bulletin:{PASSWORD}@db.example:5432/bulletin"


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Path.home() points into tmp_path, so no real ~/.local/share/bulletin is ever read."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setattr(os, "geteuid", lambda: 1000)  # an ordinary user, whoever runs the tests
    return home


def write_toml(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# ───────────────────────────── defaults ─────────────────────────────


def test_load__nothing_set__defaults(isolated_home: Path) -> None:
    settings = config.load(None, {})

    assert settings.database_url is None
    assert settings.data_dir == isolated_home / ".local" / "share" / "bulletin"
    assert settings.log_level == "WARNING"
    assert settings.worker == config.WorkerSettings()
    assert settings.worker.batch_size == 500
    assert settings.embedded_pgdata == settings.data_dir / "postgres"


def test_load__xdg_data_home_set__data_dir_under_it(tmp_path: Path) -> None:
    settings = config.load(None, {"XDG_DATA_HOME": str(tmp_path / "xdg")})

    assert settings.data_dir == tmp_path / "xdg" / "bulletin"


def test_load__xdg_data_home_empty__home_default(isolated_home: Path) -> None:
    settings = config.load(None, {"XDG_DATA_HOME": ""})

    assert settings.data_dir == isolated_home / ".local" / "share" / "bulletin"


def test_default_data_dir__root__var_lib_not_its_closed_home(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 0)

    assert config.default_data_dir({}) == Path("/var/lib/bulletin")
    assert config.default_data_dir({"XDG_DATA_HOME": "/srv/data"}) == Path("/srv/data/bulletin")


def test_default_data_dir__reads_only_the_given_environ(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_home: Path
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "process-env"))

    assert config.default_data_dir({}) == isolated_home / ".local" / "share" / "bulletin"


# ───────────────────────────── file, environment, flags ─────────────────────────────


def test_load__toml_file__values_read(tmp_path: Path) -> None:
    path = write_toml(
        tmp_path / "conf.toml",
        f"""
database_url = "{DATABASE_URL}"
data_dir = "{tmp_path / "data"}"
log_level = "INFO"

[worker]
batch_size = 50
resend_uncertain = true
backoff_cap_s = 60.5
""",
    )

    settings = config.load(path, {})

    assert settings.database_url is not None
    assert settings.database_url.get_secret_value() == DATABASE_URL
    assert settings.data_dir == tmp_path / "data"
    assert settings.log_level == "INFO"
    assert settings.worker.batch_size == 50
    assert settings.worker.resend_uncertain is True
    assert settings.worker.backoff_cap_s == 60.5
    assert settings.worker.max_in_flight == 64  # untouched keys keep their defaults


def test_load__data_dir_with_tilde__expanded(tmp_path: Path, isolated_home: Path) -> None:
    path = write_toml(tmp_path / "conf.toml", 'data_dir = "~/bulletin-data"\n')

    assert config.load(path, {}).data_dir == isolated_home / "bulletin-data"


def test_load__environment__overrides_file(tmp_path: Path) -> None:
    path = write_toml(
        tmp_path / "conf.toml",
        'log_level = "INFO"\n[worker]\nbatch_size = 50\nmax_in_flight = 8\n',
    )
    environ = {
        "BULLETIN_LOG_LEVEL": "DEBUG",
        "BULLETIN_WORKER__BATCH_SIZE": "10",
        "BULLETIN_DATABASE_URL": DATABASE_URL,
    }

    settings = config.load(path, environ)

    assert settings.log_level == "DEBUG"
    assert settings.worker.batch_size == 10
    assert settings.worker.max_in_flight == 8  # the rest of the file's [worker] table stays
    assert settings.database_url == SecretStr(DATABASE_URL)


def test_load__nested_environment_without_file__applied() -> None:
    environ = {"BULLETIN_WORKER__BATCH_SIZE": "7", "BULLETIN_WORKER__RESEND_UNCERTAIN": "true"}

    settings = config.load(None, environ)

    assert settings.worker.batch_size == 7
    assert settings.worker.resend_uncertain is True


def test_load__comma_separated_lists_in_environment__split() -> None:
    environ = {
        "BULLETIN_TELEGRAM__PROXIES": "socks5://127.0.0.1:1080, direct,",
        "BULLETIN_LISTENER__STOP_KEYWORDS": "stop,cancel",
    }

    settings = config.load(None, environ)

    assert settings.telegram.proxies == ("socks5://127.0.0.1:1080", "direct")
    assert settings.listener.stop_keywords == ("stop", "cancel")


def test_load__unrelated_environment__ignored() -> None:
    environ = {"PATH": "/bin", "BULLETIN_TEST_DATABASE_URL": "postgresql://x", "BULLETINX": "1"}

    assert config.load(None, environ).database_url is None


def test_load__flags__override_environment_and_file(tmp_path: Path) -> None:
    path = write_toml(tmp_path / "conf.toml", 'database_url = "postgresql://file/db"\n')
    environ = {
        "BULLETIN_DATABASE_URL": "postgresql://env/db",
        "BULLETIN_DATA_DIR": str(tmp_path / "env-data"),
    }
    overrides = {"database_url": DATABASE_URL, "data_dir": tmp_path / "flag-data"}

    settings = config.load(path, environ, overrides)

    assert settings.database_url == SecretStr(DATABASE_URL)
    assert settings.data_dir == tmp_path / "flag-data"


def test_load__flags_none__do_not_override(tmp_path: Path) -> None:
    environ = {"BULLETIN_DATABASE_URL": DATABASE_URL, "BULLETIN_DATA_DIR": str(tmp_path / "env")}

    settings = config.load(None, environ, {"database_url": None, "data_dir": None})

    assert settings.database_url == SecretStr(DATABASE_URL)
    assert settings.data_dir == tmp_path / "env"


def test_load__bulletin_config_env__names_the_file(tmp_path: Path) -> None:
    path = write_toml(tmp_path / "elsewhere.toml", 'log_level = "ERROR"\n')

    settings = config.load(None, {"BULLETIN_CONFIG": str(path)})

    assert settings.log_level == "ERROR"


def test_load__path_argument__wins_over_bulletin_config(tmp_path: Path) -> None:
    named = write_toml(tmp_path / "named.toml", 'log_level = "ERROR"\n')
    from_env = write_toml(tmp_path / "env.toml", 'log_level = "DEBUG"\n')

    settings = config.load(named, {"BULLETIN_CONFIG": str(from_env)})

    assert settings.log_level == "ERROR"


def test_load__bulletin_toml_in_default_data_dir__read(isolated_home: Path) -> None:
    write_toml(
        isolated_home / ".local" / "share" / "bulletin" / config.CONFIG_FILE_NAME,
        'log_level = "CRITICAL"\n',
    )

    assert config.load(None, {}).log_level == "CRITICAL"


@pytest.mark.parametrize("source", ["environ", "flag"])
def test_load__bulletin_toml_in_chosen_data_dir__read(tmp_path: Path, source: str) -> None:
    data_dir = tmp_path / "data"
    write_toml(data_dir / config.CONFIG_FILE_NAME, "[worker]\nbatch_size = 3\n")
    environ = {"BULLETIN_DATA_DIR": str(data_dir)} if source == "environ" else {}
    overrides = {"data_dir": str(data_dir)} if source == "flag" else {}

    settings = config.load(None, environ, overrides)

    assert settings.worker.batch_size == 3
    assert settings.data_dir == data_dir


def test_load__file_named__data_dir_bulletin_toml_not_read(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    write_toml(data_dir / config.CONFIG_FILE_NAME, 'log_level = "CRITICAL"\n')
    named = write_toml(tmp_path / "named.toml", "")

    settings = config.load(named, {"BULLETIN_DATA_DIR": str(data_dir)})

    assert settings.log_level == "WARNING"


# ───────────────────────────── errors ─────────────────────────────


def test_load__unknown_top_level_key__config_error_naming_it(tmp_path: Path) -> None:
    path = write_toml(tmp_path / "conf.toml", 'databse_url = "postgresql://x"\n')

    with pytest.raises(errors.ConfigError, match="databse_url"):
        config.load(path, {})


def test_load__unknown_worker_key__config_error_naming_it(tmp_path: Path) -> None:
    path = write_toml(tmp_path / "conf.toml", "[worker]\nbatch_sise = 3\n")

    with pytest.raises(errors.ConfigError, match=r"worker\.batch_sise"):
        config.load(path, {})


def test_load__unknown_nested_environment_key__config_error_naming_it() -> None:
    with pytest.raises(errors.ConfigError, match=r"worker\.bogus"):
        config.load(None, {"BULLETIN_WORKER__BOGUS": "1"})


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        pytest.param('[worker]\nbatch_size = "lots"\n', r"worker\.batch_size", id="not-int"),
        pytest.param("[worker]\nbatch_size = 0\n", r"worker\.batch_size", id="below-min"),
        pytest.param("[worker]\nlease_s = 0.5\n", r"worker\.lease_s", id="lease-too-short"),
        pytest.param("log_level = 3\n", "log_level", id="not-str"),
        pytest.param("worker = 5\n", "worker", id="not-a-table"),
    ],
)
def test_load__bad_value_type__config_error_naming_the_key(
    tmp_path: Path, toml: str, key: str
) -> None:
    path = write_toml(tmp_path / "conf.toml", toml)

    with pytest.raises(errors.ConfigError, match=key):
        config.load(path, {})


def test_load__bad_environment_value__config_error_naming_the_key() -> None:
    with pytest.raises(errors.ConfigError, match=r"worker\.max_in_flight"):
        config.load(None, {"BULLETIN_WORKER__MAX_IN_FLIGHT": "many"})


def test_load__missing_named_file__config_error_naming_the_path(tmp_path: Path) -> None:
    path = tmp_path / "nope" / "bulletin.toml"

    with pytest.raises(errors.ConfigError) as raised:
        config.load(path, {})

    assert str(path) in raised.value.message


def test_load__missing_file_from_bulletin_config__config_error_naming_the_path(
    tmp_path: Path,
) -> None:
    path = tmp_path / "absent.toml"

    with pytest.raises(errors.ConfigError) as raised:
        config.load(None, {"BULLETIN_CONFIG": str(path)})

    assert str(path) in raised.value.message


def test_load__invalid_toml__config_error_naming_the_path(tmp_path: Path) -> None:
    path = write_toml(tmp_path / "broken.toml", "[worker\nbatch_size = = 3\n")

    with pytest.raises(errors.ConfigError) as raised:
        config.load(path, {})

    assert str(path) in raised.value.message


def test_load__toml_not_utf8__config_error_naming_the_path(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes('log_level = "d\u00e9bug"\n'.encode("latin-1"))

    with pytest.raises(errors.ConfigError) as raised:
        config.load(path, {})

    assert str(path) in raised.value.message


# ───────────────────────────── secrets ─────────────────────────────


def test_settings__database_url__secret_never_shown(tmp_path: Path) -> None:
    settings = config.load(None, {"BULLETIN_DATABASE_URL": DATABASE_URL})

    assert isinstance(settings.database_url, SecretStr)
    assert settings.database_url.get_secret_value() == DATABASE_URL
    assert PASSWORD not in str(settings)
    assert PASSWORD not in repr(settings)
    assert PASSWORD not in str(settings.database_url)
    assert PASSWORD not in repr(settings.database_url)


def test_load__invalid_setting_next_to_the_url__error_hides_the_password() -> None:
    environ = {"BULLETIN_DATABASE_URL": DATABASE_URL, "BULLETIN_WORKER__BATCH_SIZE": "x"}

    with pytest.raises(errors.ConfigError) as raised:
        config.load(None, environ)

    assert PASSWORD not in str(raised.value)


def test_settings__frozen() -> None:
    settings = config.load(None, {})

    with pytest.raises(ValueError, match="frozen"):
        settings.log_level = "DEBUG"  # type: ignore[misc]


def test_load__empty_data_dir_environment__treated_as_unset(isolated_home: Path) -> None:
    settings = config.load(None, {"BULLETIN_DATA_DIR": ""})

    assert settings.data_dir == isolated_home / ".local" / "share" / "bulletin"
