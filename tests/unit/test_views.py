"""Views: one shared listing per (account, collection, scope), listed with the session the
account was last used with, and dropped with the account."""

from __future__ import annotations

import time

from hwcloud_access.reconcile.views import CollectionView, ViewKey, Views

KEY = ViewKey("team-a", "vpn-users", "server-1")


class Listings:
    """A lister that records which session each listing went through."""

    def __init__(self) -> None:
        self.sessions: list[str] = []

    async def list_with(self, session: str, page_size: int):
        self.sessions.append(session)
        yield {"id": f"{session}-1", "name": "alice"}


def view_of(views: Views, listings: Listings, session: str,
            key: ViewKey = KEY) -> CollectionView[dict]:
    return views.get(key, session, listings.list_with, page_size=10,
                     id_of=lambda item: item["id"], name_of=lambda item: item["name"])


async def test_a_replaced_session_s_view_lists_with_the_new_session() -> None:
    views, listings = Views(), Listings()
    first = view_of(views, listings, "old-session")
    await first.snapshot(newer_than=time.monotonic())
    again = view_of(views, listings, "new-session")  # the account's Secret changed
    assert again is first  # the listing and its waiters are kept
    snapshot = await again.snapshot(newer_than=time.monotonic())
    assert listings.sessions == ["old-session", "new-session"]
    assert list(snapshot.by_id) == ["new-session-1"]


async def test_release_drops_the_account_s_views_and_keeps_the_others() -> None:
    views, listings = Views(), Listings()
    other_key = ViewKey("team-b", "vpn-users", "server-1")
    released = view_of(views, listings, "a-session")
    kept = view_of(views, listings, "b-session", other_key)
    views.release("team-a")
    assert view_of(views, listings, "a-session") is not released
    assert view_of(views, listings, "b-session", other_key) is kept
    await kept.snapshot(newer_than=time.monotonic())
    assert listings.sessions == ["b-session"]  # team-b still lists with its own session
