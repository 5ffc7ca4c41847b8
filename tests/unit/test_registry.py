"""One forget(key) reaches every part that keeps state per object."""

from __future__ import annotations

from hwcloud_access import metrics
from hwcloud_access.reconcile.admission import Admission
from hwcloud_access.reconcile.dependencies import Dependencies
from hwcloud_access.reconcile.drift import DriftSweeper
from hwcloud_access.reconcile.ownership import CloudKey, Ownership
from hwcloud_access.reconcile.registry import ObjectKey, ObjectRegistry
from hwcloud_access.reconcile.secret_refs import SecretRefs
from hwcloud_access.reconcile.views import CollectionView, ViewKey

USER = ObjectKey("VpnUser", "team-a", "alice")
OTHER = ObjectKey("VpnUser", "team-a", "bob")
GROUP = ObjectKey("VpnUserGroup", "team-a", "devs")


class Item:
    id = "id-1"
    name = "alice"

    def model_dump_json(self, exclude: object = None) -> str:
        return "{}"


async def no_wake(key: ObjectKey, why: str) -> None:
    pass


async def test_forget_drops_the_object_everywhere_and_nothing_else() -> None:
    drift, admission = DriftSweeper(no_wake), Admission(no_wake, limit=1)
    refs, dependencies, ownership = SecretRefs(), Dependencies(None, no_wake), Ownership()  # type: ignore[arg-type]
    registry = ObjectRegistry(no_wake)
    for holder in (drift, admission, refs, dependencies, ownership, metrics.READY):
        registry.holds(holder)
    scope = ViewKey("", "vpn-users", "server")
    view = CollectionView(scope, lambda size: None, page_size=10,  # type: ignore[arg-type]
                          id_of=lambda i: i.id, name_of=lambda i: i.name)
    for key in (USER, OTHER):
        drift.track(key, view, lambda i: i.id, Item())
        refs.track(key, "creds", "1")
        dependencies.wait_for_group("team-a", "devs", key)
        ownership.wait(CloudKey("VpnUser", "server", "shared"), key)
        metrics.READY.set(key, False)
    assert admission.enter(scope, OTHER) == 0
    assert admission.enter(scope, USER) == 1  # in line behind OTHER
    before = metrics.OBJECTS.labels("VpnUser", "false")._value.get()

    registry.forget(USER)

    assert metrics.OBJECTS.labels("VpnUser", "false")._value.get() == before - 1
    assert refs.changed("team-a", "creds", "2") == {OTHER}
    assert ownership.release(CloudKey("VpnUser", "server", "shared"), "uid") == {OTHER}
    woken: list[ObjectKey] = []

    async def wake(key: ObjectKey, why: str) -> None:
        woken.append(key)

    dependencies.wake = wake
    await dependencies.passed(GROUP, {}, {"conditions": [{"type": "Ready", "status": "True"}]})
    assert woken == [OTHER]
    assert list(drift._listings[scope].members) == [OTHER]
    admission.leave(scope, OTHER)
    assert admission.enter(scope, ObjectKey("VpnUser", "team-a", "carol")) == 0  # USER gone
    registry.forget(OTHER)
    assert scope not in drift._listings
