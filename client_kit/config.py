"""Where the client talks to and which files it uses, resolved in one place.

Every setting comes from, in this order: the explicit argument (a CLI flag),
a `FEDSTAKE_*` environment variable, the default. Cluster URLs accept the
Solana CLI's short names so `--url devnet` works as users expect, plus
`embedded` for the in-process SVM the demo and tests use.

| setting | argument | environment | default |
| --- | --- | --- | --- |
| cluster | `url` | `FEDSTAKE_URL` | `embedded` |
| websocket | `ws_url` | `FEDSTAKE_WS_URL` | derived from the cluster URL |
| keypair | `keypair` | `FEDSTAKE_KEYPAIR` | `~/.config/solana/id.json` |
| home | `home` | `FEDSTAKE_HOME` | `~/.fedstake` |
| store | `store` | `FEDSTAKE_STORE` | `local` (objects in `<home>/store`) |
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from client_kit.errors import FedstakeError
from client_kit.keys import DEFAULT_KEYPAIR_PATH

EMBEDDED = "embedded"
CLUSTER_URLS: dict[str, str] = {
    "localnet": "http://127.0.0.1:8899",
    "devnet": "https://api.devnet.solana.com",
    "testnet": "https://api.testnet.solana.com",
    "mainnet": "https://api.mainnet-beta.solana.com",
}
# the Solana CLI's other spellings of the same clusters
CLUSTER_SYNONYMS: dict[str, str] = {
    "l": "localnet",
    "localhost": "localnet",
    "d": "devnet",
    "t": "testnet",
    "m": "mainnet",
    "mainnet-beta": "mainnet",
}
DEFAULT_URL = EMBEDDED
DEFAULT_HOME = Path("~/.fedstake")
DEFAULT_STORE = "local"
ENV_PREFIX = "FEDSTAKE_"


class ConfigError(FedstakeError, ValueError):
    """A setting that cannot be used."""


class UnknownCluster(ConfigError):
    """A `--url` value that is neither a known alias nor an http(s) URL."""


class InvalidUrl(ConfigError):
    """An http(s) or ws(s) URL that cannot be parsed or has no host."""


@dataclass(frozen=True)
class Settings:
    """Resolved client settings; `rpc_url`/`ws_url` are None for the embedded SVM."""

    cluster: str  # the alias used ("devnet", "embedded", ...) or "custom"
    rpc_url: str | None
    ws_url: str | None
    keypair_path: Path
    home: Path
    store: str

    @property
    def embedded(self) -> bool:
        return self.rpc_url is None

    @property
    def store_dir(self) -> Path:
        """Folder of the local store when `store` is `local`."""
        return self.home / "store"

    @property
    def secrets_dir(self) -> Path:
        """Folder of payout secrets (mode 0700)."""
        return self.home / "secrets"


def _check_http_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise UnknownCluster(
            f"unknown cluster {url!r}: use localnet, devnet, testnet, mainnet, embedded "
            "or an http(s) URL"
        )
    try:
        port = parts.port
    except ValueError:
        raise InvalidUrl(f"bad port in {url!r}") from None
    if not parts.hostname or (port is not None and not 0 < port < 65535):
        raise InvalidUrl(f"{url!r} has no usable host and port")
    return url


def resolve_cluster(value: str) -> tuple[str, str | None]:
    """(cluster name, RPC URL) for an alias or a literal URL; `embedded` has no URL."""
    name = value.strip()
    lowered = CLUSTER_SYNONYMS.get(name.lower(), name.lower())
    if lowered == EMBEDDED:
        return EMBEDDED, None
    if lowered in CLUSTER_URLS:
        return lowered, CLUSTER_URLS[lowered]
    return "custom", _check_http_url(name)


def websocket_url(rpc_url: str) -> str:
    """The PubSub URL next to an RPC URL, derived the way the Solana CLI does it.

    http→ws, https→wss; an explicit port moves up by one (8899 → 8900), as
    validators serve PubSub on the RPC port + 1.
    """
    parts = urlsplit(_check_http_url(rpc_url))
    scheme = "wss" if parts.scheme == "https" else "ws"
    netloc = parts.netloc
    if parts.port is not None:
        host = parts.hostname or ""
        if ":" in host:  # IPv6 literal
            host = f"[{host}]"
        userinfo = parts.netloc.rpartition("@")[0]
        netloc = f"{userinfo + '@' if userinfo else ''}{host}:{parts.port + 1}"
    return urlunsplit((scheme, netloc, parts.path, parts.query, ""))


def _check_ws_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise InvalidUrl(f"websocket URL must be ws(s)://host[:port], got {url!r}")
    return url


def resolve_settings(
    url: str | None = None,
    keypair: str | Path | None = None,
    *,
    ws_url: str | None = None,
    home: str | Path | None = None,
    store: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Settings:
    """Settings from explicit arguments, then `FEDSTAKE_*` variables, then defaults.

    `env` defaults to `os.environ` (tests pass their own mapping).
    """
    env = os.environ if env is None else env

    def pick(explicit: object, name: str, default: str) -> str:
        if explicit is not None and str(explicit) != "":
            return str(explicit)
        return env.get(ENV_PREFIX + name) or default

    cluster, rpc_url = resolve_cluster(pick(url, "URL", DEFAULT_URL))
    ws_value = pick(ws_url, "WS_URL", "")
    if rpc_url is None:
        ws = None
    elif ws_value:
        ws = _check_ws_url(ws_value)
    else:
        ws = websocket_url(rpc_url)
    return Settings(
        cluster=cluster,
        rpc_url=rpc_url,
        ws_url=ws,
        keypair_path=Path(pick(keypair, "KEYPAIR", str(DEFAULT_KEYPAIR_PATH))).expanduser(),
        home=Path(pick(home, "HOME", str(DEFAULT_HOME))).expanduser(),
        store=pick(store, "STORE", DEFAULT_STORE),
    )
