"""The operator's settings: what `hwcloud-access run` passes on to the kopf start-up."""

from __future__ import annotations

from hwcloud_access.runtime import kopf_connections, settings_from_env


def test_kopf_connections_leave_room_for_every_watch() -> None:
    cluster_wide = kopf_connections([])
    assert cluster_wide == 64 + 5 + 3
    assert kopf_connections(["a", "b", "c"]) == cluster_wide + 2 * 5


def test_kopf_connections_are_unlimited_for_namespace_patterns() -> None:
    assert kopf_connections(["team-*"]) == 0
    assert kopf_connections(["!kube-system"]) == 0


def test_settings_from_env() -> None:
    settings = settings_from_env({"HWCLOUD_KOPF_CONNECTIONS": "80",
                                  "HWCLOUD_CREATE_TURNS": "16"})
    assert (settings.kopf_connections, settings.create_turns) == (80, 16)
    defaults = settings_from_env({})
    assert (defaults.kopf_connections, defaults.create_turns) == (0, 512)
