"""Settings resolution: explicit argument > FEDSTAKE_* environment > default."""

from __future__ import annotations

from pathlib import Path

import pytest

from client_kit.config import InvalidUrl, UnknownCluster, resolve_settings, websocket_url


@pytest.mark.parametrize(
    ("alias", "cluster", "rpc", "ws"),
    [
        ("localnet", "localnet", "http://127.0.0.1:8899", "ws://127.0.0.1:8900"),
        ("devnet", "devnet", "https://api.devnet.solana.com", "wss://api.devnet.solana.com"),
        (
            "mainnet",
            "mainnet",
            "https://api.mainnet-beta.solana.com",
            "wss://api.mainnet-beta.solana.com",
        ),
        ("http://10.1.2.3:9000", "custom", "http://10.1.2.3:9000", "ws://10.1.2.3:9001"),
    ],
)
def test_url_aliases(alias, cluster, rpc, ws):
    settings = resolve_settings(alias, env={})
    assert (settings.cluster, settings.rpc_url, settings.ws_url) == (cluster, rpc, ws)


def test_embedded_is_the_default_and_has_no_urls():
    settings = resolve_settings(env={})
    assert settings.embedded
    assert (settings.rpc_url, settings.ws_url) == (None, None)


def test_defaults_for_files():
    settings = resolve_settings(env={})
    assert settings.keypair_path == Path("~/.config/solana/id.json").expanduser()
    assert settings.home == Path("~/.fedstake").expanduser()
    assert settings.store == "local"
    assert settings.store_dir == settings.home / "store"


def test_environment_overrides_defaults_and_arguments_override_environment(tmp_path):
    env = {
        "FEDSTAKE_URL": "devnet",
        "FEDSTAKE_KEYPAIR": str(tmp_path / "env.json"),
        "FEDSTAKE_HOME": str(tmp_path / "home"),
        "FEDSTAKE_STORE": "ipfs",
    }
    from_env = resolve_settings(env=env)
    assert (from_env.cluster, from_env.store) == ("devnet", "ipfs")
    assert from_env.keypair_path == tmp_path / "env.json"
    assert from_env.home == tmp_path / "home"
    explicit = resolve_settings("localnet", tmp_path / "arg.json", store="pinata", env=env)
    assert (explicit.cluster, explicit.store) == ("localnet", "pinata")
    assert explicit.keypair_path == tmp_path / "arg.json"


def test_explicit_websocket_url_wins_over_derivation():
    settings = resolve_settings("localnet", ws_url="ws://127.0.0.1:7000", env={})
    assert settings.ws_url == "ws://127.0.0.1:7000"


def test_websocket_url_keeps_path_and_ipv6_hosts():
    assert websocket_url("http://[::1]:8899/rpc") == "ws://[::1]:8900/rpc"


@pytest.mark.parametrize("value", ["devnot", "ftp://example.com", "127.0.0.1:8899"])
def test_unknown_cluster(value):
    with pytest.raises(UnknownCluster):
        resolve_settings(value, env={})


@pytest.mark.parametrize("value", ["http://", "http://host:notaport", "http://host:70000"])
def test_bad_url(value):
    with pytest.raises(InvalidUrl):
        resolve_settings(value, env={})


def test_bad_websocket_url():
    with pytest.raises(InvalidUrl):
        resolve_settings("localnet", ws_url="http://127.0.0.1:8900", env={})
