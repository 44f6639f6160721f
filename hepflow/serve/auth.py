"""Bearer-token checking: OIDC JWTs verified against the issuer's keys, mapped to roles.

Why the server checks tokens itself, even behind an OIDC proxy: a proxy that
is misconfigured, bypassed (a pod reached directly) or removed must not leave
the models open. TFaaS shipped with its auth commented out; here auth can only
be switched off by an explicit flag.

* Keys come from a configured public key file, the issuer's JWKS URL, or OIDC
  discovery (``{issuer}/.well-known/openid-configuration``). The JWKS is cached;
  a token signed with an unknown ``kid`` triggers a refetch (the issuer rotated
  its keys), at most once per ``jwks_min_refetch_s`` so that a flood of tokens
  with made-up key ids cannot turn the server into a load generator against
  the identity provider. A stale JWKS is refreshed in the background while the
  old keys keep working.
* ``iss``, ``aud``, ``exp`` (required), ``nbf`` and ``iat`` are checked with
  ``leeway_s`` of clock skew; the three times must be JSON numbers (RFC 7519
  NumericDate), not numeric strings. Only asymmetric algorithms from the configured
  list are accepted, so ``alg: none`` and HS256-with-the-public-key tricks fail.
* A verified token is remembered (by its full text, so a forged one can never
  match) until it expires: the signature check costs far more than the rest
  of a small prediction request.
* Scopes (``scope``/``scp``) and groups (``groups``/``wlcg.groups``) map to the
  roles ``predict``, ``admin`` and ``submit`` (jobs); admin implies predict,
  and nothing implies submit (running a user's code is granted on its own).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt

from hepflow.serve.config import AuthConfig, RoleRule, check_key_url
from hepflow.serve.errors import ConfigError, Forbidden, Unauthorized

log = logging.getLogger("hepflow.serve.auth")

PREDICT, ADMIN, SUBMIT = "predict", "admin", "submit"

#: Claims that RFC 7519 defines as a NumericDate: a JSON number, never a string.
_NUMERIC_DATES = ("exp", "nbf", "iat")


@dataclass(frozen=True, slots=True)
class Principal:
    """Who sent a request: the token's subject, its roles and when it stops being valid."""

    subject: str
    roles: frozenset[str]
    expires: float


#: The principal of every request when auth is switched off.
ANONYMOUS = Principal("anonymous", frozenset({PREDICT, ADMIN, SUBMIT}), float("inf"))


def _quoted(text: str) -> str:
    """A value safe inside a quoted WWW-Authenticate parameter."""
    return "".join(c for c in text if c.isprintable() and c not in '"\\')[:200]


class Authenticator:
    """Turns an ``Authorization`` header into a `Principal`, or raises 401/403 errors."""

    def __init__(self, config: AuthConfig) -> None:
        self.config = config
        self._static_key: Any = None
        if config.public_key_file:
            self._static_key = _read_public_key(Path(config.public_key_file))
        self._keys: dict[str, Any] = {}
        self._fetched_at = float("-inf")
        self._jwks_url = config.jwks_url
        self._fetch_lock: asyncio.Lock | None = None
        self._refresh_task: asyncio.Task[None] | None = None
        self._cache: OrderedDict[str, Principal] = OrderedDict()
        self._http: Any = None
        self.fetches = 0
        self.on_failure: Any = None

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Fetch the JWKS once up front; a failure is logged and retried on demand."""
        if self._static_key is None:
            try:
                await self._refetch(force=True)
            except Unauthorized as err:
                log.warning("could not fetch the issuer's keys at start-up (%s); will "
                            "retry when a token arrives", err.message)

    async def close(self) -> None:
        if self._refresh_task is not None:
            self._refresh_task.cancel()
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    # -- the check ------------------------------------------------------------------------

    def challenge(self, error: str | None = None, description: str | None = None,
                  scope: str | None = None) -> str:
        """The ``WWW-Authenticate`` value for a 401 or 403 answer (RFC 6750)."""
        parts = [f'Bearer realm="{self.config.realm}"']
        if error:
            parts.append(f'error="{error}"')
        if description:
            parts.append(f'error_description="{_quoted(description)}"')
        if scope:
            parts.append(f'scope="{_quoted(scope)}"')
        return ", ".join(parts)

    def _unauthorized(self, reason: str, description: str) -> Unauthorized:
        if self.on_failure is not None:
            self.on_failure(reason)
        return Unauthorized(description, headers={
            "WWW-Authenticate": self.challenge("invalid_token", description)})

    async def authenticate(self, header: str | None) -> Principal:
        """The principal of a request with this ``Authorization`` header."""
        token = _bearer(header)
        if token is None:
            if self.on_failure is not None:
                self.on_failure("missing")
            raise Unauthorized("this endpoint needs a bearer token (Authorization: Bearer "
                               "<JWT>)", headers={"WWW-Authenticate": self.challenge()})
        now = time.time()
        known = self._cache.get(token)
        if known is not None:
            if now <= known.expires + self.config.leeway_s:
                return known
            del self._cache[token]
            raise self._unauthorized("expired", "token expired")
        principal = await self._verify(token, now)
        self._cache[token] = principal
        if len(self._cache) > self.config.token_cache_size:
            self._cache.popitem(last=False)
        return principal

    def authorize(self, principal: Principal, role: str) -> None:
        """Raise 403 unless the principal holds `role`."""
        if role in principal.roles:
            return
        rule: RoleRule = getattr(self.config, role)
        wanted = " ".join(rule.scopes) or None
        if self.on_failure is not None:
            self.on_failure("forbidden")
        what = " or ".join(filter(None, [
            f"scope {' / '.join(rule.scopes)}" if rule.scopes else "",
            f"group {' / '.join(rule.groups)}" if rule.groups else ""])) or "a mapped role"
        raise Forbidden(f"this needs the {role} role ({what}); the token of "
                        f"{principal.subject!r} does not carry it",
                        headers={"WWW-Authenticate": self.challenge(
                            "insufficient_scope", f"{role} role required", wanted)})

    async def _verify(self, token: str, now: float) -> Principal:
        cfg = self.config
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise self._unauthorized("malformed", "malformed token") from None
        alg = header.get("alg")
        if alg not in cfg.algorithms:
            raise self._unauthorized("algorithm", f"signing algorithm {alg!r} not accepted")
        key = await self._key_for(header.get("kid"))
        try:
            claims = jwt.decode(token, key, algorithms=[alg], audience=list(cfg.audience),
                                issuer=cfg.issuer, leeway=cfg.leeway_s,
                                options={"require": ["exp", "iss", "aud"]})
        except jwt.ExpiredSignatureError:
            raise self._unauthorized("expired", "token expired") from None
        except jwt.ImmatureSignatureError:
            raise self._unauthorized("not_yet_valid", "token not yet valid (nbf/iat)") from None
        except jwt.InvalidAudienceError:
            raise self._unauthorized("audience", "token not meant for this audience") from None
        except jwt.InvalidIssuerError:
            raise self._unauthorized("issuer", "token from another issuer") from None
        except jwt.InvalidSignatureError:
            raise self._unauthorized("signature", "bad token signature") from None
        except jwt.MissingRequiredClaimError as err:
            raise self._unauthorized("claims", f"token lacks the {err.claim} claim") from None
        except (jwt.PyJWTError, ValueError, TypeError, OverflowError):
            raise self._unauthorized("invalid", "invalid token") from None
        for claim in _NUMERIC_DATES:
            if claim in claims and not _is_numeric_date(claims[claim]):
                raise self._unauthorized("claims", f"token claim {claim} is not a NumericDate "
                                         "(a JSON number of seconds, RFC 7519)")
        subject = str(claims.get("sub") or claims.get("client_id") or claims.get("azp") or "?")
        return Principal(subject, self._roles(claims), float(claims["exp"]))

    def _roles(self, claims: Mapping[str, Any]) -> frozenset[str]:
        scopes = _strings(claims, self.config.scope_claims, split=True)
        groups = _strings(claims, self.config.group_claims, split=False)
        roles = {role for role in (PREDICT, ADMIN, SUBMIT)
                 if scopes & set(getattr(self.config, role).scopes)
                 or groups & set(getattr(self.config, role).groups)}
        if ADMIN in roles:
            roles.add(PREDICT)
        return frozenset(roles)

    # -- keys -----------------------------------------------------------------------------

    async def _key_for(self, kid: Any) -> Any:
        if self._static_key is not None:
            return self._static_key
        if kid is not None and not isinstance(kid, str):
            raise self._unauthorized("kid", "malformed key id")
        loop_now = time.monotonic()
        if loop_now - self._fetched_at > self.config.jwks_cache_s:
            self._refresh_in_background()
        key = self._lookup(kid)
        if key is None:
            await self._refetch(force=False)
            key = self._lookup(kid)
        if key is None and not self._keys:
            raise self._unauthorized("jwks", "signing keys unavailable (the issuer's JWKS "
                                     "could not be fetched)")
        if key is None:
            raise self._unauthorized("unknown_key", "token signed with an unknown key")
        return key

    def _lookup(self, kid: str | None) -> Any:
        if kid is None:
            return next(iter(self._keys.values())) if len(self._keys) == 1 else None
        return self._keys.get(kid)

    def _refresh_in_background(self) -> None:
        if self._refresh_task is not None and not self._refresh_task.done():
            return

        async def refresh() -> None:
            try:
                await self._refetch(force=False)
            except Unauthorized as err:
                log.warning("background JWKS refresh failed: %s", err.message)

        self._refresh_task = asyncio.get_running_loop().create_task(refresh())

    async def _refetch(self, *, force: bool) -> None:
        if self._fetch_lock is None:
            self._fetch_lock = asyncio.Lock()
        async with self._fetch_lock:
            since = time.monotonic() - self._fetched_at
            if not force and since < self.config.jwks_min_refetch_s:
                return
            try:
                keys = await self._download()
            except Exception as err:  # noqa: BLE001 - any network or parse failure
                self._fetched_at = time.monotonic()
                log.warning("fetching the issuer's keys failed: %s", err)
                raise self._unauthorized("jwks", "signing keys unavailable") from None
            self._keys = keys
            self._fetched_at = time.monotonic()
            self.fetches += 1

    async def _download(self) -> dict[str, Any]:
        import httpx

        if self._http is None:
            self._http = httpx.AsyncClient(timeout=self.config.jwks_timeout_s,
                                           follow_redirects=False)
        if self._jwks_url is None:
            url = self.config.issuer.rstrip("/") + "/.well-known/openid-configuration"
            answer = await self._http.get(url)
            answer.raise_for_status()
            jwks_uri = answer.json().get("jwks_uri")
            if not isinstance(jwks_uri, str):
                raise ValueError(f"{url} names no jwks_uri")
            check_key_url(jwks_uri)
            self._jwks_url = jwks_uri
        answer = await self._http.get(self._jwks_url)
        answer.raise_for_status()
        return parse_jwks(answer.json())


def parse_jwks(data: Any) -> dict[str, Any]:
    """Public keys by ``kid`` from a JWKS document (signing keys only)."""
    if not isinstance(data, Mapping) or not isinstance(data.get("keys"), list):
        raise ValueError("not a JWKS document (no `keys` list)")
    keys: dict[str, Any] = {}
    for index, entry in enumerate(data["keys"]):
        if not isinstance(entry, Mapping) or entry.get("use", "sig") != "sig":
            continue
        try:
            jwk = jwt.PyJWK(dict(entry))
        except (jwt.PyJWTError, ValueError, TypeError, KeyError) as err:
            log.warning("skipping JWKS key %s: %s", entry.get("kid", index), err)
            continue
        keys[str(entry.get("kid", f"#{index}"))] = jwk.key
    if not keys:
        raise ValueError("the JWKS holds no usable signing key")
    return keys


def _read_public_key(path: Path) -> Any:
    from cryptography.hazmat.primitives import serialization

    try:
        data = path.read_bytes()
    except OSError as err:
        raise ConfigError(f"auth.public_key_file: cannot read {path}: {err.strerror}") from err
    try:
        if data.lstrip().startswith(b"{"):
            import json

            return jwt.PyJWK(json.loads(data)).key
        return serialization.load_pem_public_key(data)
    except (ValueError, TypeError, jwt.PyJWTError) as err:
        raise ConfigError(f"auth.public_key_file: {path} holds no PEM or JWK public key "
                          f"({err})") from err


def _bearer(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        return None
    return token


def _is_numeric_date(value: Any) -> bool:
    """A finite JSON number. PyJWT's own check is `int(value)`, which takes "1700000000"."""
    return type(value) in (int, float) and math.isfinite(value)


def _strings(claims: Mapping[str, Any], names: tuple[str, ...], *, split: bool) -> set[str]:
    out: set[str] = set()
    for name in names:
        value = claims.get(name)
        if isinstance(value, str):
            out.update(value.split() if split else [value])
        elif isinstance(value, list):
            out.update(v for v in value if isinstance(v, str))
    return out


__all__ = ["ADMIN", "ANONYMOUS", "PREDICT", "SUBMIT", "Authenticator", "Principal", "check_key_url",
           "parse_jwks"]
