import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from actors import Settings, TokenVerifier, issue_token
from actors.errors import ConfigError, Unauthorized
from tests.conftest import SECRET

SETTINGS = Settings(jwt_secret=SECRET)


def claims(**overrides):
    now = int(time.time())
    base = {"sub": "42", "role": "EMPLOYEE", "iat": now, "exp": now + 60}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def test_valid_token_gives_identity():
    identity = TokenVerifier(SETTINGS).verify(issue_token(SETTINGS, "42", "EMPLOYEE", rooms=["lead:*"]))
    assert (identity.user_id, identity.role, identity.room_patterns) == ("42", "EMPLOYEE", ("lead:*",))
    assert identity.home_rooms == ("user:42", "role:EMPLOYEE")


@pytest.mark.parametrize("make, fragment", [
    (lambda: None, "missing token"),
    (lambda: "not-a-jwt", "invalid token"),
    (lambda: jwt.encode(claims(exp=int(time.time()) - 3600), SECRET, algorithm="HS256"), "expired"),
    (lambda: jwt.encode(claims(), "another-secret-that-is-long-enough-0123456789", algorithm="HS256"), "invalid"),
    (lambda: jwt.encode(claims(), None, algorithm="none"), "invalid"),
    (lambda: jwt.encode(claims(exp=None), SECRET, algorithm="HS256"), "exp"),
    (lambda: jwt.encode(claims(iat=None), SECRET, algorithm="HS256"), "iat"),
    (lambda: jwt.encode(claims(sub=None), SECRET, algorithm="HS256"), "sub"),
    (lambda: jwt.encode(claims(sub=42), SECRET, algorithm="HS256"), "invalid"),
    (lambda: jwt.encode(claims(role="ROOT"), SECRET, algorithm="HS256"), "role"),
    (lambda: jwt.encode(claims(rooms="lead:*"), SECRET, algorithm="HS256"), "rooms"),
    (lambda: jwt.encode(claims(), SECRET * 2, algorithm="HS512"), "invalid"),
])
def test_bad_tokens_are_refused(make, fragment):
    with pytest.raises(Unauthorized) as err:
        TokenVerifier(SETTINGS).verify(make())
    assert fragment in err.value.message


def test_audience_and_issuer_are_checked_when_configured():
    settings = Settings(jwt_secret=SECRET, jwt_audience="dash", jwt_issuer="crm")
    verifier = TokenVerifier(settings)
    assert verifier.verify(issue_token(settings, "7", "ADMIN")).user_id == "7"
    for bad in (claims(aud="other", iss="crm"), claims(aud="dash", iss="other"), claims(iss="crm")):
        with pytest.raises(Unauthorized):
            verifier.verify(jwt.encode(bad, SECRET, algorithm="HS256"))


def test_rs256_with_a_public_key_and_no_hmac_confusion():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    settings = Settings(jwt_public_key=public)
    settings.validate()
    assert settings.algorithm == "RS256"
    verifier = TokenVerifier(settings)
    assert verifier.verify(issue_token(settings, "9", "ADMIN", private_key=private)).role == "ADMIN"
    with pytest.raises(Unauthorized):  # an HS256 token "signed" with the public key must not pass
        verifier.verify(jwt.encode(claims(), "x" * 40, algorithm="HS256"))


@pytest.mark.parametrize("settings, fragment", [
    (Settings(), "JWT_SECRET is required"),
    (Settings(jwt_secret="short"), "at least 32 bytes"),
    (Settings(jwt_algorithm="RS256"), "JWT_PUBLIC_KEY is required"),
    (Settings(jwt_secret=SECRET, jwt_algorithm="none"), "never accepted"),
    (Settings(jwt_secret=SECRET, max_frame_bytes=0), "MAX_FRAME_BYTES"),
    (Settings(jwt_secret=SECRET, heartbeat_interval=30, heartbeat_timeout=20), "HEARTBEAT_TIMEOUT"),
])
def test_insecure_or_broken_settings_are_refused(settings, fragment):
    with pytest.raises(ConfigError) as err:
        settings.validate()
    assert fragment in err.value.message


def test_a_cached_token_still_expires():
    import time as clock

    settings = Settings(jwt_secret=SECRET, jwt_leeway=0)
    verifier = TokenVerifier(settings)
    short = issue_token(settings, "42", "EMPLOYEE", ttl=1)
    assert verifier.verify(short).user_id == "42"
    assert verifier.verify(short).user_id == "42"  # from the cache
    clock.sleep(1.1)
    with pytest.raises(Unauthorized) as err:
        verifier.verify(short)
    assert "expired" in err.value.message


@pytest.mark.parametrize("algorithm", ["HS256", "HS384", "HS512"])
def test_hmac_key_checks_run_once_and_signatures_are_still_checked(algorithm, monkeypatch):
    from jwt.algorithms import HMACAlgorithm

    settings = Settings(jwt_secret=SECRET, jwt_algorithm=algorithm)
    verifier = TokenVerifier(settings)
    tokens = {sub: issue_token(settings, sub, "EMPLOYEE") for sub in ("1", "2", "3")}
    forged = jwt.encode(claims(), "another-secret-that-is-long-enough-0123456789", algorithm=algorithm)
    calls = []
    original = HMACAlgorithm.prepare_key
    monkeypatch.setattr(HMACAlgorithm, "prepare_key", lambda self, key: calls.append(key) or original(self, key))
    for sub, token in tokens.items():  # distinct tokens: the verified-token cache does not answer these
        assert verifier.verify(token).user_id == sub
    assert len(calls) == 1
    with pytest.raises(Unauthorized, match="invalid"):
        verifier.verify(forged)
