"""Properties of the emulator's rules and of its two-view state (no server needed)."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from hwcloud_emulator import passwords, rules
from hwcloud_emulator.config import load_config
from hwcloud_emulator.state import VpnServerState, VpnUser, VpnView, page_after

UPPER, LOWER, DIGIT = "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz", "0123456789"
CLASSES = [UPPER, LOWER, DIGIT, rules.VPN_SPECIALS]


@settings(max_examples=200)
@given(st.data())
def test_vpn_password_classes(data) -> None:
    chosen = data.draw(st.lists(st.sampled_from(range(4)), min_size=1, max_size=4, unique=True))
    alphabet = "".join(CLASSES[i] for i in chosen)
    password = data.draw(st.text(alphabet=alphabet, min_size=8, max_size=32))
    used = sum(any(ch in CLASSES[i] for ch in password) for i in range(4))
    reason = rules.check_vpn_password(password, "someone")
    if used >= 2 and password not in ("someone", "enoemos"):
        assert reason is None
    else:
        assert reason is not None


@given(st.text(min_size=0, max_size=40))
def test_vpn_password_length_bounds(password) -> None:
    if not 8 <= len(password) <= 32:
        assert rules.check_vpn_password(password, "someone") is not None


@given(st.text(alphabet=UPPER + LOWER + DIGIT + "-_", min_size=0, max_size=70))
def test_mq_access_key(access_key) -> None:
    ok = 7 <= len(access_key) <= 64 and access_key[:1].isalpha()
    assert (rules.check_mq_access_key(access_key) is None) == ok


@given(st.text(min_size=1, max_size=20), st.lists(st.text(min_size=1, max_size=20), max_size=6))
def test_password_history_keeps_the_last_five(current, older) -> None:
    history: tuple[str, ...] = ()
    for pw in [*older, current]:
        history = passwords.push_history(pw, history)
    assert len(history) == min(5, len(older) + 1)
    assert passwords.in_history(current, history)
    assert all("$" in h and current not in h.split("$") for h in history)  # salted hashes only


_ops = st.lists(
    st.tuples(
        st.sampled_from(["create", "update", "delete"]),
        st.integers(min_value=0, max_value=15),
        st.floats(min_value=0, max_value=3),
    ),
    max_size=60,
)


@settings(max_examples=100, deadline=None)
@given(_ops)
def test_visible_view_converges_to_the_accepted_one(ops) -> None:
    server = VpnServerState(load_config(None).vpn_servers[0])
    now = 0.0
    for kind, n, delay in ops:
        now += 0.5
        name = f"user-{n:02d}"
        uid = server.future.user_by_name.get(name)
        if kind == "create" and uid is None:
            stamp = server.stamper()
            user = VpnUser(
                id=f"id-{server.seq + 1}",
                seq=server.next_seq(),
                name=name,
                description="",
                user_group_id=server.default_group_id,
                static_ip="disable",
                created_at=stamp,
                updated_at=stamp,
                pw_history=(),
                pw_version=1,
                pw_fingerprint=None,
            )
            server.commit([("put_user", user)], now, delay)
        elif kind == "update" and uid is not None:
            old = server.future.users[uid]
            server.commit([("put_user", replace(old, description=str(now)))], now, delay)
        elif kind == "delete" and uid is not None:
            server.commit([("del_user", uid)], now, delay)
        # FIFO: the queue's due times never decrease
        dues = [due for due, _ in server.queue]
        assert dues == sorted(dues)
    server.settle(now + 10)
    assert server.queue == type(server.queue)()
    _assert_same(server.future, server.visible)


def _assert_same(a: VpnView, b: VpnView) -> None:
    assert a.users == b.users
    assert a.user_by_name == b.user_by_name
    assert {k: v for k, v in a.members.items() if v} == {k: v for k, v in b.members.items() if v}
    assert a.ordered_users() == b.ordered_users()
    stamps, ids = a.ordered_users()
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    assert ids == [u.id for u in sorted(a.users.values(), key=lambda u: u.seq)]
    # paging through every page yields every id once
    seen, marker = [], None
    while True:
        page, marker = page_after(stamps, ids, marker, 3)
        seen += page
        if marker is None:
            break
    assert seen == ids
