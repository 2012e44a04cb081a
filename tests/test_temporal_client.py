"""Temporal connection settings: address and namespace from our settings, TLS,
mTLS files and an API key from Temporal's environment configuration."""

from __future__ import annotations

from pathlib import Path

import pytest

from tenderdesk.config import Settings
from tenderdesk.temporal_client import connect_config


def test_defaults_are_the_embedded_dev_server() -> None:
    assert connect_config(Settings(), {}) == {"target_host": "127.0.0.1:7233", "namespace": "default"}


def test_api_key_turns_tls_on() -> None:
    config = connect_config(Settings(temporal_address="ns.a1b2c.tmprl.cloud:7233", temporal_namespace="ns.a1b2c"),
                            {"TEMPORAL_API_KEY": "secret-key"})
    assert config["api_key"] == "secret-key" and config["tls"] is True
    assert config["target_host"] == "ns.a1b2c.tmprl.cloud:7233" and config["namespace"] == "ns.a1b2c"


def test_mtls_files_and_server_name(tmp_path: Path) -> None:
    cert, key, ca = (tmp_path / n for n in ("client.pem", "client.key", "ca.pem"))
    cert.write_bytes(b"CERT")
    key.write_bytes(b"KEY")
    ca.write_bytes(b"CA")
    config = connect_config(Settings(), {
        "TEMPORAL_TLS_CLIENT_CERT_PATH": str(cert), "TEMPORAL_TLS_CLIENT_KEY_PATH": str(key),
        "TEMPORAL_TLS_SERVER_CA_CERT_PATH": str(ca), "TEMPORAL_TLS_SERVER_NAME": "temporal.internal",
    })
    tls = config["tls"]
    assert (tls.client_cert, tls.client_private_key, tls.server_root_ca_cert) == (b"CERT", b"KEY", b"CA")
    assert tls.domain == "temporal.internal"


def test_a_toml_profile_is_read(tmp_path: Path) -> None:
    profile = tmp_path / "temporal.toml"
    profile.write_text('[profile.prod]\naddress = "ignored:7233"\napi_key = "from-file"\n', encoding="utf-8")
    config = connect_config(Settings(), {"TEMPORAL_CONFIG_FILE": str(profile), "TEMPORAL_PROFILE": "prod"})
    assert config["api_key"] == "from-file" and config["tls"] is True
    assert config["target_host"] == "127.0.0.1:7233"  # TEMPORAL_ADDRESS (settings) decides


def test_a_missing_certificate_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        connect_config(Settings(), {"TEMPORAL_TLS_CLIENT_CERT_PATH": str(tmp_path / "nope.pem"),
                                    "TEMPORAL_TLS_CLIENT_KEY_PATH": str(tmp_path / "nope.key")})
