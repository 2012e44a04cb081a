"""How every process connects to Temporal: address, namespace, TLS or mTLS
files and an API key.

Temporal's own environment configuration (``temporalio.envconfig``) supplies
the connection: a TOML profile (``TEMPORAL_CONFIG_FILE``, ``TEMPORAL_PROFILE``)
and the standard variables ``TEMPORAL_API_KEY``, ``TEMPORAL_TLS``,
``TEMPORAL_TLS_CLIENT_CERT_PATH``, ``TEMPORAL_TLS_CLIENT_KEY_PATH``,
``TEMPORAL_TLS_SERVER_CA_CERT_PATH`` and ``TEMPORAL_TLS_SERVER_NAME``, so the
same settings work for the ``temporal`` CLI, Temporal Cloud and a self-hosted
cluster. Our own ``TEMPORAL_ADDRESS`` and ``TEMPORAL_NAMESPACE`` (settings)
decide address and namespace. An API key alone turns TLS on, as Temporal
Cloud expects.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from temporalio.client import Client
from temporalio.envconfig import ClientConfigProfile
from temporalio.runtime import Runtime

from tenderdesk.config import Settings


def connect_config(settings: Settings, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Keyword arguments for :meth:`Client.connect` (never logged: they may hold the API key)."""
    env = dict(os.environ if environ is None else environ)
    config_file = env.get("TEMPORAL_CONFIG_FILE")
    profile = ClientConfigProfile.load(
        profile=env.get("TEMPORAL_PROFILE") or None,
        config_source=Path(config_file) if config_file else None,  # a str would be read as the TOML itself
        disable_file=not config_file,
        override_env_vars=env,
    )
    config: dict[str, Any] = dict(profile.to_client_connect_config())
    config["target_host"] = settings.temporal_address
    config["namespace"] = settings.temporal_namespace
    return config


async def connect(settings: Settings, *, runtime: Runtime | None = None) -> Client:
    config = connect_config(settings)
    if runtime is not None:
        config["runtime"] = runtime
    return await Client.connect(**config)


__all__ = ["connect", "connect_config"]
