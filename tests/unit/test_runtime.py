"""The operator's settings: what `hwcloud-access run` passes on to the kopf start-up."""

from __future__ import annotations

import pytest

from hwcloud_access.runtime import OperatorSettings, kopf_connections, operator_settings


def test_kopf_connections_leave_room_for_every_watch() -> None:
    cluster_wide = kopf_connections([])
    assert cluster_wide == 64 + 5 + 3
    assert kopf_connections(["a", "b", "c"]) == cluster_wide + 2 * 5


def test_kopf_connections_are_unlimited_for_namespace_patterns() -> None:
    assert kopf_connections(["team-*"]) == 0
    assert kopf_connections(["!kube-system"]) == 0


def test_settings_come_from_options_then_variables_then_the_defaults() -> None:
    settings = operator_settings(namespaces=["a"], resync_interval=60.0,
                                 env={"HWCLOUD_KOPF_CONNECTIONS": "80",
                                      "HWCLOUD_CREATE_TURNS": "16",
                                      "POD_NAMESPACE": "ops"})
    assert (settings.kopf_connections, settings.create_turns, settings.resync_interval,
            settings.state_namespace) == (80, 16, 60.0, "ops")
    defaults = operator_settings(namespaces=[], env={})
    assert defaults == OperatorSettings(kopf_connections=kopf_connections([]))
    assert operator_settings(namespaces=[], state_namespace="mine",
                             env={"HWCLOUD_STATE_NAMESPACE": "other"}).state_namespace == "mine"


def test_a_variable_that_is_not_a_number_is_named() -> None:
    with pytest.raises(ValueError, match="HWCLOUD_CLOUD_BUDGET='soon' is not a number"):
        operator_settings(namespaces=[], env={"HWCLOUD_CLOUD_BUDGET": "soon"})


def test_a_default_account_with_a_key_missing_stops_the_start_with_its_names() -> None:
    """Before kopf starts: otherwise the start-up is retried for good and the liveness probe
    never answers, with the reason deep in the log."""
    with pytest.raises(ValueError, match="HW_REGION_NAME is set but HW_ACCESS_KEY not"):
        operator_settings(namespaces=[], env={"HW_REGION_NAME": "r", "HW_PROJECT_ID": "p",
                                              "HW_SECRET_KEY": "s"})
    account = operator_settings(namespaces=[], env={
        "HW_REGION_NAME": "r", "HW_PROJECT_ID": "p", "HW_ACCESS_KEY": "AK",
        "HW_SECRET_KEY": "not-shown"}).default_account
    assert account is not None and account.region == "r"
    assert "not-shown" not in repr(account)
