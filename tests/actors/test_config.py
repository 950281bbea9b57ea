import argparse

import pytest

from actors.config import Settings, add_arguments, load_settings
from actors.errors import ConfigError


def parse(argv):
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(argv)


def test_environment_then_flags():
    env = {"PORT": "9000", "MAX_FRAME_BYTES": "1024", "WEBSOCKET_DEBUG": "true", "ALLOWED_ORIGINS": "https://a, https://b",
           "JWT_SECRET": "from-env"}
    settings = load_settings(parse(["--port", "9100", "--jwt-secret", "from-flag"]), env)
    assert settings.port == 9100 and settings.jwt_secret == "from-flag"
    assert settings.max_frame_bytes == 1024 and settings.websocket_debug is True
    assert settings.allowed_origins == ("https://a", "https://b")
    assert load_settings(parse(["--debug"]), {}).websocket_debug is True
    assert load_settings(None, {}) == Settings()


def test_bad_values_name_the_variable():
    with pytest.raises(ConfigError) as err:
        load_settings(None, {"PORT": "eighty"})
    assert "PORT" in err.value.message
    with pytest.raises(ConfigError) as err:
        load_settings(None, {"WEBSOCKET_DEBUG": "maybe"})
    assert "WEBSOCKET_DEBUG" in err.value.message


def test_extra_room_prefixes_and_public_key_from_file(tmp_path):
    pem = tmp_path / "key.pem"
    pem.write_text("-----BEGIN PUBLIC KEY-----\nabc\n-----END PUBLIC KEY-----\n")
    settings = load_settings(None, {"ROOM_PREFIXES": "team,user", "JWT_PUBLIC_KEY": str(pem)})
    assert settings.all_room_prefixes == ("user", "role", "contact", "campaign", "lead", "stats", "team")
    assert settings.jwt_public_key.startswith("-----BEGIN PUBLIC KEY")
    with pytest.raises(ConfigError):
        load_settings(None, {"JWT_PUBLIC_KEY": str(tmp_path / "missing.pem")})
