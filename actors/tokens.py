"""JWT verification with one fixed algorithm list (PyJWT), shared by /ws, /sse, REST and AUTH frames."""

from __future__ import annotations

import time
from typing import Any

import jwt
from jwt.algorithms import HMACAlgorithm

from .config import Settings
from .errors import Unauthorized
from .identity import Identity
from .protocol.rooms import ROOM_ID

CACHE_SIZE = 4096
_TIME_CLAIMS = ("exp", "iat", "nbf")
"""NumericDate claims: PyJWT reads them with ``int()``, so it would take ``"exp": "9999999999"``; we do not."""
_HMAC_HASHES = {"HS256": HMACAlgorithm.SHA256, "HS384": HMACAlgorithm.SHA384, "HS512": HMACAlgorithm.SHA512}


class _PreparedHMAC(HMACAlgorithm):
    """PyJWT's HMAC with its key checks done once per key instead of once per token.

    ``HMACAlgorithm.prepare_key`` checks that the secret is not a PEM, SSH or DER key on every
    decode; that was 6 % of the server's CPU while 10,000 browsers connected. The secret never
    changes, so the first answer (or error) is kept.
    """

    def __init__(self, hash_alg: Any) -> None:
        super().__init__(hash_alg)
        self._prepared: dict[Any, bytes] = {}

    def prepare_key(self, key: Any) -> bytes:
        if not isinstance(key, (str, bytes)):
            return super().prepare_key(key)
        prepared = self._prepared.get(key)
        if prepared is None:
            prepared = super().prepare_key(key)
            if len(self._prepared) < 4:
                self._prepared[key] = prepared
        return prepared


def _decoder(algorithm: str, options: Any) -> jwt.PyJWT:
    """A PyJWT of our own: our options merged once (not per token), and the prepared-key HMAC for HS*.

    PyJWT keeps its algorithms on the instance's signature codec (``_jws``); if a later PyJWT moves
    it, this falls back to PyJWT's own HMAC, which is slower but the same check.
    """
    decoder = jwt.PyJWT(options=options)
    codec = getattr(decoder, "_jws", None)
    hash_alg = _HMAC_HASHES.get(algorithm)
    if hash_alg is not None and codec is not None and hasattr(codec, "unregister_algorithm"):
        codec.unregister_algorithm(algorithm)
        codec.register_algorithm(algorithm, _PreparedHMAC(hash_alg))
    return decoder


class TokenVerifier:
    """Turns a token into an Identity or raises Unauthorized; never trusts the token's own ``alg``.

    A backend service sends the same token with every REST call; checking its signature each time was
    the largest single cost of ``POST /api/live-sync`` (15 % of the request). Verified tokens are kept
    (bounded, oldest first out) and a hit re-checks only the expiry, with the same leeway.
    """

    def __init__(self, settings: Settings) -> None:
        self._algorithms = [settings.algorithm]
        self._key = settings.jwt_public_key if settings.jwt_public_key else settings.jwt_secret
        self._audience = settings.jwt_audience or None
        self._issuer = settings.jwt_issuer or None
        self._leeway = settings.jwt_leeway
        self._roles = frozenset(settings.roles)
        required = ["exp", "iat", "sub"]
        if self._audience:
            required.append("aud")
        if self._issuer:
            required.append("iss")
        self._cache: dict[str, Identity] = {}
        self._decoder = _decoder(settings.algorithm, {"require": required, "verify_aud": self._audience is not None})

    def verify(self, token: str | None) -> Identity:
        if not token:
            raise Unauthorized("missing token: pass ?token=<JWT> or an Authorization: Bearer header")
        cached = self._cache.get(token)
        if cached is not None:
            if cached.exp + self._leeway > time.time():
                return cached
            del self._cache[token]
            raise Unauthorized("token expired")
        identity = self._verify(token)
        if len(self._cache) >= CACHE_SIZE:
            del self._cache[next(iter(self._cache))]
        self._cache[token] = identity
        return identity

    def _verify(self, token: str) -> Identity:
        try:
            claims = self._decoder.decode(
                token, self._key, algorithms=self._algorithms, audience=self._audience, issuer=self._issuer,
                leeway=self._leeway,
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("token expired") from None
        except jwt.InvalidTokenError as exc:
            raise Unauthorized(f"invalid token: {exc}") from None
        for name in _TIME_CLAIMS:
            value = claims.get(name)
            if name in claims and (isinstance(value, bool) or not isinstance(value, (int, float))):
                raise Unauthorized(f"invalid token: '{name}' must be a number (NumericDate, RFC 7519 2)")
        sub, role = claims.get("sub"), claims.get("role")
        if not isinstance(sub, str) or not ROOM_ID.match(sub):
            raise Unauthorized("invalid token: 'sub' must be 1-64 characters from A-Z a-z 0-9 _ -")
        if role not in self._roles:
            raise Unauthorized(f"invalid token: role must be one of {', '.join(sorted(self._roles))}")
        rooms = claims.get("rooms", [])
        if not isinstance(rooms, list) or not all(isinstance(r, str) for r in rooms):
            raise Unauthorized("invalid token: 'rooms' must be a list of strings")
        return Identity(user_id=sub, role=role, exp=int(claims["exp"]), room_patterns=tuple(rooms))


def issue_token(settings: Settings, sub: str, role: str, ttl: int = 3600, rooms: list[str] | None = None,
                private_key: str | None = None) -> str:
    """Sign a token the server accepts; for the CLI, the tests and the dev sign-in."""
    now = int(time.time())
    claims: dict[str, Any] = {"sub": sub, "role": role, "iat": now, "exp": now + ttl}
    if rooms:
        claims["rooms"] = rooms
    if settings.jwt_audience:
        claims["aud"] = settings.jwt_audience
    if settings.jwt_issuer:
        claims["iss"] = settings.jwt_issuer
    key = private_key if private_key is not None else settings.jwt_secret
    return jwt.encode(claims, key, algorithm=settings.algorithm)
