"""Settings come from the environment once; a bad value names its variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from culto.errors import ConfigError
from culto_app.settings import Settings

DEV = {"CULTO_ENV": "dev"}


def test_defaults_follow_the_contract() -> None:
    s = Settings.from_env(DEV)
    assert s.port == 8000
    assert s.frontend_url == "http://localhost:5173"
    assert s.csrf_exempt_paths == ("/api/v2/events/stream", "/health", "/docs")
    assert s.sse_heartbeat_interval == 30
    assert s.nats_url is None
    assert s.allowed_origins == frozenset({"http://localhost:5173"})


def test_values_are_parsed() -> None:
    s = Settings.from_env(
        {
            **DEV,
            "NATS_URL": "nats://a:4222, nats://b:4222",
            "PORT": "9000",
            "CORS_ORIGINS": "https://app.example, http://127.0.0.1:3000/",
            "CSRF_EXEMPT_PATHS": "/health,/hooks",
            "SSE_HEARTBEAT_INTERVAL": "15s",
            "EVENTS_MAX_AGE": "7d",
            "CULTO_DATA_DIR": "/tmp/culto-x",
        }
    )
    assert s.nats_url == "nats://a:4222,nats://b:4222"
    assert s.port == 9000
    assert "https://app.example" in s.allowed_origins
    assert "http://127.0.0.1:3000" in s.allowed_origins
    assert s.csrf_exempt_paths == ("/health", "/hooks")
    assert s.sse_heartbeat_interval == 15
    assert s.events_max_age == 7 * 86400
    assert s.data_dir == Path("/tmp/culto-x")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PORT", "eighty"),
        ("PORT", "70000"),
        ("PORT", "-1"),
        ("NATS_URL", "http://nats:4222"),
        ("NATS_URL", "nats://:4222"),
        ("FRONTEND_URL", "localhost:5173"),
        ("CORS_ORIGINS", "ftp://x"),
        ("CSRF_EXEMPT_PATHS", "health"),
        ("SSE_HEARTBEAT_INTERVAL", "soon"),
        ("SSE_HEARTBEAT_INTERVAL", "0"),
        ("EVENTS_MAX_AGE", "-1"),
        ("CULTO_ENV", "staging"),
        ("COOKIE_SECRET", "short"),
        ("CULTO_JOB_MAX_DELIVER", "0"),
        ("TRUSTED_PROXIES", "ingress-nginx"),
        ("CULTO_ALLOWED_HOSTS", "localhost:8000"),
        ("CULTO_ALLOWED_HOSTS", "https://culto.example.com"),
        ("CULTO_ALLOWED_HOSTS", "culto.example.com/app"),
        ("TRUSTED_PROXIES", "10.0.0.0/33"),
        ("CULTO_ADMIN_EMAIL", "admin"),
        ("CULTO_ADMIN_EMAIL", "a@b@c"),
    ],
)
def test_bad_values_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError) as info:
        Settings.from_env({**DEV, name: value})
    assert info.value.message.startswith(f"{name}:")
    assert "\n" not in info.value.message


def test_cookie_secret_required_outside_dev_and_never_shown() -> None:
    with pytest.raises(ConfigError, match=r"^COOKIE_SECRET:"):
        Settings.from_env({}).with_dev_cookie_secret()
    s = Settings.from_env({"COOKIE_SECRET": "x" * 32})
    assert "x" * 32 not in repr(s) and "x" * 32 not in s.model_dump_json()


def test_dev_cookie_secret_is_generated_once_and_persisted(tmp_path: Path) -> None:
    s = Settings.from_env({**DEV, "CULTO_DATA_DIR": str(tmp_path)})
    first = s.with_dev_cookie_secret()
    second = Settings.from_env({**DEV, "CULTO_DATA_DIR": str(tmp_path)}).with_dev_cookie_secret()
    assert first.cookie_secret is not None and second.cookie_secret is not None
    assert first.cookie_secret.get_secret_value() == second.cookie_secret.get_secret_value()
    assert (tmp_path / "cookie_secret").stat().st_mode & 0o777 == 0o600


def test_admin_email_defaults_to_admin_at_localhost_and_is_normalised() -> None:
    assert Settings.from_env(DEV).admin_email == "admin@localhost"
    custom = Settings.from_env({**DEV, "CULTO_ADMIN_EMAIL": " Pastor@Example.org "})
    assert custom.admin_email == "pastor@example.org"


def test_settings_are_immutable() -> None:
    s = Settings.from_env(DEV)
    with pytest.raises(ValueError):
        s.port = 1  # type: ignore[misc]


def test_ipv6_frontend_url_keeps_cors() -> None:
    # Regression: two normalisers disagreed and dropped the brackets of an IPv6 origin.
    settings = Settings.from_env({"FRONTEND_URL": "http://[::1]:5173", "CULTO_ENV": "dev"})
    assert "http://[::1]:5173" in settings.allowed_origins
    from culto.origins import normalize_origin

    assert normalize_origin("http://[::1]:5173") in settings.allowed_origins


def test_components_get_small_configs_built_from_the_settings() -> None:
    env = {
        "CULTO_ENV": "dev",
        "COOKIE_SECRET": "x" * 20,
        "CULTO_JOB_ACK_WAIT": "7",
        "CULTO_JOB_MAX_DELIVER": "3",
        "SSE_CLIENT_BUFFER": "9",
        "CULTO_STREAM_REPLICAS": "3",
    }
    settings = Settings.from_env(env)
    assert settings.stream_policy().job_max_deliver == 3
    assert settings.stream_policy().replicas == 3
    assert settings.worker_config().ack_wait == 7.0
    edge = settings.edge_config()
    assert edge.hub.client_buffer == 9
    assert "x" * 20 not in repr(edge)  # the secret never shows in a repr (or a log line)


def test_allowed_video_hosts_default_to_youtube_and_are_configurable() -> None:
    default = Settings.from_env(DEV).api_config().allowed_video_hosts
    assert default == {
        "youtube.com",
        "www.youtube.com",
        "m.youtube.com",
        "youtu.be",
        "music.youtube.com",
    }
    custom = Settings.from_env({**DEV, "CULTO_ALLOWED_VIDEO_HOSTS": "YouTube.com, vimeo.com"})
    assert custom.api_config().allowed_video_hosts == {"youtube.com", "vimeo.com"}
    for bad in ("https://vimeo.com", "vimeo.com/x", "-bad-.com"):
        with pytest.raises(ConfigError, match=r"^CULTO_ALLOWED_VIDEO_HOSTS: "):
            Settings.from_env({**DEV, "CULTO_ALLOWED_VIDEO_HOSTS": bad})


def test_trusted_proxies_default_to_nobody_and_reach_the_listener() -> None:
    assert Settings.from_env(DEV).listen_config().trusted_proxies == ()
    custom = Settings.from_env({**DEV, "TRUSTED_PROXIES": "10.0.0.0/8, 192.168.1.5, fd00::/8"})
    assert custom.edge_config().listen.trusted_proxies == ("10.0.0.0/8", "192.168.1.5", "fd00::/8")


def test_allowed_hosts_defaults_and_parsing() -> None:
    loopback = {"localhost", "127.0.0.1", "::1"}
    assert Settings.from_env(DEV).edge_config().allowed_hosts == loopback
    # Outside dev: FRONTEND_URL's host too (the public name when this edge serves the page).
    prod = Settings.from_env(
        {"COOKIE_SECRET": "x" * 20, "FRONTEND_URL": "https://Culto.Example.com"}
    )
    assert prod.edge_config().allowed_hosts == loopback | {"culto.example.com"}
    custom = Settings.from_env(
        {**DEV, "CULTO_ALLOWED_HOSTS": "Culto.Example.com., [::1], 10.0.0.5"}
    )
    assert custom.allowed_hosts == {"culto.example.com", "::1", "10.0.0.5"}
    assert Settings.from_env({**DEV, "CULTO_ALLOWED_HOSTS": "*"}).allowed_hosts == {"*"}


def test_nats_credentials_come_in_pairs_and_are_never_shown(tmp_path: Path) -> None:
    assert Settings.from_env({}).nats_credentials() is None
    settings = Settings.from_env({"NATS_USER": "worker", "NATS_PASSWORD": "pa$$ word"})
    creds = settings.nats_credentials()
    assert creds is not None and (creds.user, creds.password) == ("worker", "pa$$ word")
    assert "pa$$" not in repr(settings) and "pa$$" not in repr(creds)
    bad = {
        "NATS_PASSWORD": {"NATS_USER": "worker"},
        "NATS_USER": {"NATS_PASSWORD": "secret"},
    }
    for name, env in bad.items():
        with pytest.raises(ConfigError, match=rf"^{name}: required when"):
            Settings.from_env(env)
    with pytest.raises(ConfigError, match=r"^NATS_USER: expected a user name"):
        Settings.from_env({"NATS_USER": "a b", "NATS_PASSWORD": "x"})
    with pytest.raises(ConfigError, match=r"^NATS_PASSWORD: must not contain") as refused:
        Settings.from_env({"NATS_USER": "api", "NATS_PASSWORD": "secret-value\n"})
    assert "secret-value" not in refused.value.message
    with pytest.raises(ConfigError, match=r"^NATS_CA_FILE: no readable file"):
        Settings.from_env({"NATS_CA_FILE": str(tmp_path / "missing.pem")})
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    assert Settings.from_env({"NATS_CA_FILE": str(ca)}).nats_ca_file == ca


def test_secrets_may_come_from_files(tmp_path: Path) -> None:
    # Compose and Kubernetes mount secrets as files; the value never enters the environment.
    password, cookie = tmp_path / "nats-password", tmp_path / "cookie-secret"
    password.write_text("s3cret-from-a-file\n")  # the trailing newline of `echo` is dropped
    cookie.write_text("a-cookie-secret-of-enough-length")
    s = Settings.from_env(
        {
            "NATS_USER": "worker",
            "NATS_PASSWORD_FILE": str(password),
            "COOKIE_SECRET_FILE": str(cookie),
        }
    )
    credentials = s.nats_credentials()
    assert credentials is not None and credentials.password == "s3cret-from-a-file"
    assert s.cookie_secret is not None
    assert s.cookie_secret.get_secret_value() == "a-cookie-secret-of-enough-length"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"NATS_USER": "api", "NATS_PASSWORD_FILE": "{missing}"},
            "NATS_PASSWORD_FILE: cannot read '{missing}' (No such file or directory)",
        ),
        ({"COOKIE_SECRET_FILE": "{empty}"}, "COOKIE_SECRET_FILE: '{empty}' is empty"),
        (
            {"COOKIE_SECRET_FILE": "{empty}", "COOKIE_SECRET": "x" * 20},
            "COOKIE_SECRET_FILE: set either COOKIE_SECRET or COOKIE_SECRET_FILE, not both",
        ),
        ({"COOKIE_SECRET_FILE": "{short}"}, "COOKIE_SECRET: must be at least 16 characters"),
    ],
)
def test_bad_secret_files_name_the_variable(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    (tmp_path / "empty").write_text("\n")
    (tmp_path / "short").write_text("short")
    paths = {k: str(tmp_path / k) for k in ("missing", "empty", "short")}
    filled = {k: v.format(**paths) for k, v in env.items()}
    with pytest.raises(ConfigError) as info:
        Settings.from_env(filled)
    assert info.value.message.startswith(message.format(**paths))


def test_the_ops_surface_settings(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {"CULTO_METRICS_TOKEN": "a" * 20, "CULTO_OPS_PORT": "9100", "COOKIE_SECRET": "s" * 20}
    )
    edge = settings.edge_config()
    assert edge.metrics.token == "a" * 20 and not edge.metrics.open
    assert edge.ops_listen is not None and edge.ops_listen.port == 9100
    dev = Settings.from_env({"CULTO_DATA_DIR": str(tmp_path)}, environment="dev")
    assert dev.edge_config().metrics.open and dev.edge_config().ops_listen is None
    for env, name in (
        ({"CULTO_METRICS_TOKEN": "short"}, "CULTO_METRICS_TOKEN"),
        ({"CULTO_OPS_PORT": "70000"}, "CULTO_OPS_PORT"),
    ):
        with pytest.raises(ConfigError, match=name):
            Settings.from_env(env)


def test_the_metrics_token_may_come_from_a_file(tmp_path: Path) -> None:
    token = tmp_path / "metrics-token"
    token.write_text("a-metrics-token-of-20\n")
    settings = Settings.from_env(
        {"CULTO_METRICS_TOKEN_FILE": str(token), "COOKIE_SECRET": "s" * 20}
    )
    assert settings.edge_config().metrics.token == "a-metrics-token-of-20"
