"""Tokens for trying the server on one's own machine: a local key pair, and tokens it signs.

A real deployment checks tokens from the site's OIDC issuer. To try the
server without one, `hepflow serve keygen` writes an RSA key pair; the
server is pointed at its public half (`auth.public_key_file`), and
`hepflow serve token` signs tokens with the private half. `mint` refuses
unless the server's config names exactly that public key, so a token is only
ever made for a server that was deliberately configured to accept it.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hepflow.serve.config import ServeConfig
from hepflow.serve.errors import ConfigError

#: The scopes a plain `hepflow serve token` grants; admin is asked for explicitly.
DEFAULT_SCOPES = ("hepflow:predict",)


def public_path(key_file: str | os.PathLike[str]) -> Path:
    """Where `keygen` puts the public half: `local.key` -> `local.pub`."""
    return Path(key_file).with_suffix(".pub")


def keygen(key_file: str | os.PathLike[str]) -> tuple[Path, Path]:
    """Write a new RSA private key (readable by its owner only) and its public half."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    private = Path(key_file)
    if private.exists():
        raise ConfigError(f"{private} exists; remove it or choose another name (a new key "
                          "would invalidate every token signed with the old one)")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    public = public_path(private)
    public.write_bytes(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return private, public


def _private_key(key_file: str | os.PathLike[str]) -> Any:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    try:
        key = serialization.load_pem_private_key(Path(key_file).read_bytes(), password=None)
    except OSError as err:
        raise ConfigError(f"cannot read the key {key_file}: {err.strerror}") from err
    except (ValueError, TypeError) as err:
        raise ConfigError(f"{key_file} holds no unencrypted PEM private key ({err})") from err
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ConfigError(f"{key_file}: hepflow serve token signs with RSA keys (RS256)")
    return key


def _same_key(a: Any, b: Any) -> bool:
    from cryptography.hazmat.primitives import serialization

    def der(key: Any) -> bytes:
        data: bytes = key.public_bytes(serialization.Encoding.DER,
                                       serialization.PublicFormat.SubjectPublicKeyInfo)
        return data

    return der(a) == der(b)


def mint(config: ServeConfig, key_file: str | os.PathLike[str], *,
         scopes: Sequence[str] = DEFAULT_SCOPES, subject: str = "local-user",
         lifetime_s: float = 3600.0) -> str:
    """A token for `config`'s server, signed with `key_file`; refused for any other server."""
    import jwt

    from hepflow.serve.auth import _read_public_key

    auth = config.auth
    if auth is None or not auth.public_key_file:
        raise ConfigError("this server does not accept local tokens: its config has no "
                          "auth.public_key_file (a site's server takes tokens from its "
                          "OIDC issuer, not from hepflow serve token)")
    key = _private_key(key_file)
    if not _same_key(key.public_key(), _read_public_key(Path(auth.public_key_file))):
        raise ConfigError(f"the server checks tokens against {auth.public_key_file}, which is "
                          f"not the public half of {key_file}; no token was made")
    if not 0 < lifetime_s <= 7 * 86400:
        raise ConfigError("the token lifetime must be between 1 s and 7 days")
    now = int(time.time())
    claims = {"iss": auth.issuer, "aud": auth.audience[0], "sub": subject, "iat": now,
              "nbf": now, "exp": now + int(lifetime_s), "jti": uuid.uuid4().hex,
              "scope": " ".join(scopes)}
    token: str = jwt.encode(claims, key, algorithm="RS256")
    return token


__all__ = ["DEFAULT_SCOPES", "keygen", "mint", "public_path"]
