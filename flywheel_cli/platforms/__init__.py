"""The platform interface and its implementations (one per platform generation)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flywheel_cli.config import Settings
    from flywheel_cli.platforms.base import Platform


def connect(settings: Settings) -> Platform:
    """The platform named by `[platform] kind` (or --platform)."""
    if settings.platform.kind == "helix":
        from flywheel_cli.platforms.helix import HelixPlatform

        return HelixPlatform(settings)
    from flywheel_cli.platforms.nmp import NmpPlatform

    return NmpPlatform(settings)


def endpoint_of(settings: Settings) -> str:
    """Where jobs run: part of every job's key, so state from one cluster never attaches to another."""
    if settings.platform.kind == "helix":
        return settings.platform.base_url.rstrip("/")
    return settings.nmp.nemo_url.rstrip("/")


def scope_of(settings: Settings) -> str:
    """The platform-side scope resources live in: an NMP namespace or a Helix workspace."""
    if settings.platform.kind == "helix":
        return settings.platform.workspace
    return settings.nmp.namespace
