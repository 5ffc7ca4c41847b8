"""The benchmark's figures and scenarios (tools/bench/figures.py, layout.py, report.py):
what latest.json and the table report, computed from made-up measurements."""

from __future__ import annotations

import pytest
from tests.faults.fleet import SERVER
from tools.bench.figures import queue_figures, requests_delta, rss_per_1000, slope_per_1000
from tools.bench.layout import layouts_from_env, many_servers, one_server
from tools.bench.report import combine
from tools.bench.sampling import summarize as summarize_samples


def test_slope_is_the_least_squares_fit_per_1000() -> None:
    # y = 90 + 0.04 x exactly, and one point 3 MB off the line in each direction
    assert slope_per_1000([(1000, 130), (2000, 170), (3000, 210)]) == 40.0
    assert slope_per_1000([(1000, 133), (2000, 170), (3000, 207)]) == 37.0
    assert slope_per_1000([(1000, 130)]) is None
    assert slope_per_1000([(1000, 130), (1000, 150)]) is None


def _run(objects: int, rss: float, idle: float, baseline_rss: float | None = None,
         scenario: str = "one") -> dict:
    def result(peak: float) -> dict:
        return {"operator_rss_mb": peak, "operator_rss_idle_mb": idle}

    return {"scenario": scenario, "label": f"{scenario}-n{objects}", "objects": objects,
            "servers": {f"{scenario}-server": {}}, "engine": result(rss),
            "baseline": None if baseline_rss is None else result(baseline_rss)}


def test_rss_slope_over_sizes_and_from_idle_with_one_size() -> None:
    sizes = rss_per_1000([_run(1000, 150, 90, 200), _run(3000, 250, 91, 260)])
    assert sizes["from"] == "sizes"
    assert (sizes["operator"], sizes["baseline"]) == (50.0, 30.0)
    one = rss_per_1000([_run(2000, 190, 90)])
    assert one["from"] == "idle and one size"
    assert one["operator"] == 50.0 and one["operator_points"] == [(0, 90), (2000, 190)]
    assert one["baseline"] is None


def test_combine_heads_with_the_largest_one_server_run_and_the_many_servers() -> None:
    runs = [_run(1000, 150, 90), _run(3000, 250, 90), _run(2200, 200, 90, scenario="many")]
    latest = combine(runs)
    assert latest["headline_run"] == "one-n3000" and latest["objects"] == 3000
    assert list(latest["servers"]) == ["many-server"]
    assert latest["rss_mb_per_1000"]["operator"] == 50.0  # the many-server run is not a size
    assert latest["runs"] == runs
    only_many = combine([runs[2]])
    assert only_many["headline_run"] == "many-n2200" and only_many["rss_mb_per_1000"] is None


def test_api_writes_leave_out_the_harness_and_the_reads() -> None:
    before = {"PATCH vpnusers/status": 10, "POST vpnusers": 5}
    after = {"PATCH vpnusers/status": 210, "PATCH vpnusers": 100, "POST vpnusers": 105,
             "POST vpnusergroups": 2, "POST mqusers": 20, "POST secrets": 120,
             "POST events": 30, "DELETE secrets": 4, "LIST vpnusers": 50, "GET secrets": 40,
             "WATCH vpnusers": 6}
    figures = requests_delta(before, after, objects=100)
    assert figures["apiserver_writes_per_object_by_request"] == {
        "DELETE secrets": 0.04, "PATCH vpnusers": 1.0, "PATCH vpnusers/status": 2.0,
        "POST events": 0.3, "POST secrets": 1.2}
    assert figures["apiserver_writes_per_object"] == 4.54
    assert figures["apiserver_patches_per_object"] == 3.0
    assert figures["apiserver_requests_by_operator_per_object"] == 5.0  # + GET and WATCH


def test_queue_utilisation_is_applies_per_second_over_capacity_per_second() -> None:
    queue = {"writes": 400, "refused": 100, "changes": 502, "applied": 502,
             "first_accepted": 1000.5, "last_applied": 1032.0, "active_s": 31.5}
    figures = queue_figures(queue, queue_capacity=10, apply_delay=0.5, started_wall=1000.0)
    assert figures["applies_per_s"] == 15.94 and figures["queue_rate_per_s"] == 20.0
    assert figures["queue_utilisation"] == round(502 / 31.5 / 20, 3)
    assert figures["busy_share"] == 0.2
    assert (figures["first_accepted_s"], figures["last_applied_s"]) == (0.5, 32.0)
    idle = {**queue, "applied": 0, "changes": 0, "writes": 0, "refused": 0,
            "first_accepted": None, "last_applied": None, "active_s": None}
    assert queue_figures(idle, 10, 0.5, 1000.0)["queue_utilisation"] is None


def test_many_servers_spread_evenly_and_start_every_queue_at_once() -> None:
    layout = many_servers(servers=3, users=4, groups=2, instances=2, mq_users=3)
    assert (layout.vpn_users, layout.groups, layout.mq_users, layout.objects) == (12, 6, 6, 24)
    objects = layout.manifests()
    kinds = [o["kind"] for o in objects]
    assert kinds == ["VpnUserGroup"] * 6 + ["VpnUser"] * 12 + ["MqUser"] * 6
    server_ids = [s.id for s in layout.servers]
    assert len(set(server_ids)) == 3
    users = [o for o in objects if o["kind"] == "VpnUser"]
    assert [u["spec"]["vpnServerId"] for u in users[:3]] == server_ids  # in turn
    for user in users:
        server = server_ids.index(user["spec"]["vpnServerId"])
        assert user["spec"]["groupRef"]["name"].startswith(f"s{server}-")
    assert len({o["metadata"]["name"] for o in objects}) == 24
    assert len({o["spec"]["accessKey"] for o in objects if o["kind"] == "MqUser"}) == 6
    config = layout.emulator_config(apply_delay=0.5, queue_capacity=4)
    assert [s["id"] for s in config["vpn_servers"]] == server_ids
    assert len(config["rocketmq_instances"]) == 2
    assert layout.theoretical_min_s(queue_capacity=4, apply_delay=0.5) == 1.0  # 6 changes
    assert layout.sweep_pages() == {"list_users": 3, "list_groups": 3, "list_mq_users": 2}


def test_one_server_is_the_emulator_default_and_the_slowest_server_sets_the_minimum() -> None:
    layout = one_server(users=1000, groups=2, mq_users=200)
    assert [s.id for s in layout.servers] == [SERVER]
    assert layout.theoretical_min_s(queue_capacity=10, apply_delay=0.5) == 50.5
    assert layout.label == "one-n1202"


def test_scenarios_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("BENCH_N", "BENCH_MQ_N", "BENCH_GROUPS", "BENCH_SERVERS", "BENCH_INSTANCES",
                 "BENCH_USERS_PER_SERVER", "BENCH_MQ_PER_INSTANCE", "BENCH_GROUPS_PER_SERVER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("BENCH_SCENARIOS", raising=False)
    monkeypatch.delenv("BENCH_SIZES", raising=False)
    assert [layout.label for layout in layouts_from_env()] == ["one-n1202", "many-n2208"]
    monkeypatch.setenv("BENCH_SIZES", "2500, 1000")
    monkeypatch.setenv("BENCH_SCENARIOS", "one")
    assert [layout.vpn_users for layout in layouts_from_env()] == [1000, 2500]
    for name, value, message in [("BENCH_SCENARIOS", "all", "choose one, many or both"),
                                 ("BENCH_SIZES", "1000,lots", "separated by commas"),
                                 ("BENCH_MQ_N", "-5", "must be at least 0"),
                                 ("BENCH_N", "1.5", "not a whole number")]:
        with monkeypatch.context() as env:
            env.setenv(name, value)
            with pytest.raises(SystemExit, match=message):
                layouts_from_env()


def test_a_sampling_profile_counts_own_and_inclusive_samples_once_per_stack() -> None:
    raw = "main;loop;handler;cloud 30\nmain;loop;handler 10\nmain;loop;kopf;handler 5\n\n"
    text = summarize_samples(raw, top=5)
    assert text.startswith("45 samples at 50 Hz (0.9 s")
    own, inclusive = text.split("samples in the function or what it called:")
    assert "     30  66.7%  cloud" in own and "     15  33.3%  handler" in own
    assert "     45 100.0%  handler" in inclusive  # in all three stacks, once each
    assert summarize_samples("") == "no samples\n"
