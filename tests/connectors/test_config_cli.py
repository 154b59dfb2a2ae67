"""The sources file (validation with lines) and `monitor sources check` against real servers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connectors.app import build_source
from connectors.config import MissingCredential, load_sources
from connectors.replay import FileSource
from connectors.wechat import WechatSource
from monitor.cli.main import main
from monitor.config.loader import ConfigError
from tests.connectors.conftest import FIXTURES, Reply, city_accounts, city_config


def test_good_file_loads_every_type() -> None:
    cfg = load_sources(FIXTURES / "sources_good.yaml")
    assert [s.type for s in cfg.sources] == ["rss", "weibo", "wechat", "wechat", "push", "file"]
    assert [s.interval for s in cfg.sources[:3]] == [300.0, 90.0, 3600.0]
    assert cfg.sources[2].freq_control_wait == 7200.0
    assert cfg.sources[5].url == str(FIXTURES / "history.jsonl")  # beside the sources file
    assert [s.name for s in cfg.enabled()][-1] == "hotline12345"


def test_official_accounts_in_the_sources_file_are_refused_with_where_they_moved(capsys) -> None:
    """One fact, one place: a department's own accounts are the city config's official_accounts.
    The sources file's old fields are refused, each at its line with the entry to write there,
    alongside the file's other errors, in file order."""
    path = FIXTURES / "sources_moved.yaml"
    file = str(path)
    with pytest.raises(ConfigError) as info:
        load_sources(path)
    moved = "official accounts are set in the city config's official_accounts"
    assert [str(i) for i in info.value.issues] == [
        f"{file}:6: sources[0].department: {moved} ({{department: 资阳市人民政府办公室, "
        "feeds: [资阳市政府-政务动态]}) — move it there",
        f"{file}:11: sources[1].department: {moved} ({{department: 市应急管理局, "
        "weibo_uid: [2000000001]}) — move it there",
        f"{file}:15: sources[2].department: {moved} ({{department: 市应急管理局, "
        "push: [yingji-gov]}) — move it there",
        f"{file}:19: sources[3].interval: Value error, not a duration: 'soon' (use seconds, "
        "or 30s, 5m, 1h)",
        f"{file}:21: official_accounts: {moved}, where each department must be a body of the "
        "city — move it there",
    ]
    # the command says the same and refuses to start
    assert main(["sources", "check", "--sources", file]) == 2
    err = capsys.readouterr().err
    assert f"{file}:6: sources[0].department: {moved}" in err
    assert f"{file}:21: official_accounts: {moved}" in err


def test_bad_file_lists_every_problem_with_its_line() -> None:
    with pytest.raises(ConfigError) as info:
        load_sources(FIXTURES / "sources_bad.yaml")
    lines = {str(i) for i in info.value.issues}
    file = str(FIXTURES / "sources_bad.yaml")
    assert (
        f"{file}:5: sources[0].interval: Value error, not a duration: 'soon' (use seconds, or 30s, 5m, 1h)"
        in lines
    )
    assert f"{file}:6: sources[1].name: duplicate source name 'feed-a'" in lines
    assert (
        f"{file}:10: sources[2].type: type must be one of rss, weibo, wechat, push, file" in lines
    )
    assert f"{file}:12: sources[3].url: Field required" in lines
    assert any(s.startswith(f"{file}:17: sources[4].cookie_env:") for s in lines)
    assert f"{file}:18: sources[4].colour: Extra inputs are not permitted" in lines
    assert len(lines) == 6


def test_credentials_come_from_the_environment_by_name() -> None:
    cfg = load_sources(FIXTURES / "sources_good.yaml")
    wechat = cfg.sources[2]
    with pytest.raises(MissingCredential, match="environment variable WECHAT_COOKIE") as info:
        build_source(wechat, {"WECHAT_TOKEN": "t"})
    assert "t" not in str(info.value).split("WECHAT_COOKIE")[1].split()[0:1]
    source = build_source(wechat, {"WECHAT_TOKEN": "tok-123", "WECHAT_COOKIE": "ck=1"})
    assert isinstance(source, WechatSource)
    assert source.headers["Cookie"] == "ck=1" and source.params["token"] == "tok-123"
    assert "ck=1" not in repr(wechat) and "tok-123" not in repr(wechat)
    assert isinstance(build_source(cfg.sources[5], {}), FileSource)


def write_sources(tmp_path: Path, entries: list[dict]) -> Path:
    path = tmp_path / "sources.yaml"
    path.write_text(json.dumps({"sources": entries}, ensure_ascii=False), encoding="utf-8")
    return path


def test_sources_check_reports_each_and_fails_if_any_failed(
    http_server, tmp_path, capsys, monkeypatch
) -> None:
    gov = http_server.route("/gov.xml", Reply(body=(FIXTURES / "gbk_feed.xml").read_bytes()))
    weibo = http_server.route("/getIndex", Reply(body=(FIXTURES / "weibo_forms.json").read_bytes()))
    http_server.route("/statuses/extend", Reply(404, b""))
    blocked = http_server.route("/blocked", Reply(403, b"no"))
    monkeypatch.setenv("TEST_WEIBO_COOKIE", "SUB=very-secret-cookie")
    path = write_sources(
        tmp_path,
        [
            {"name": "资阳政务", "type": "rss", "url": gov},
            {
                "name": "微博",
                "type": "weibo",
                "url": weibo,
                "extend_url": http_server.url("/statuses/extend?id={id}"),
            },
            {"name": "被拒", "type": "weibo", "url": blocked, "cookie_env": "TEST_WEIBO_COOKIE"},
            {"name": "无密钥", "type": "push", "secret_env": "TEST_UNSET_SECRET_VAR"},
        ],
    )
    code = main(["sources", "check", "--sources", str(path)])
    out = capsys.readouterr()
    assert code == 1
    lines = out.out.splitlines()
    assert (
        lines[0]
        == "✓ 资阳政务 [rss]: 3 posts; newest 2026-04-18T23:26:01+08:00 安岳县强降雨致县道塌方 交通临时管制"
    )
    # `sources check` reads the real clock: the newest is the status sent "刚刚" (just now).
    assert lines[1].startswith("✓ 微博 [weibo]: 10 posts; newest ")
    assert lines[1].endswith(
        "这是一条很长的微博，列表里只显示开头 ...全文 (1 long texts kept cut (extend endpoint failed or per-page limit))"
    )
    assert lines[2].startswith("✗ 被拒 [weibo]: refused: HTTP 403 from")
    assert (
        lines[3]
        == "✗ 无密钥 [push]: source '无密钥': environment variable TEST_UNSET_SECRET_VAR (the HMAC secret) is not set"
    )
    assert "very-secret-cookie" not in out.out + out.err
    assert http_server.hits("/blocked")[0].headers["cookie"] == "SUB=very-secret-cookie"


def test_sources_check_all_good_exits_0(http_server, tmp_path, capsys) -> None:
    gov = http_server.route("/gov.xml", Reply(body=(FIXTURES / "atom_utf8.xml").read_bytes()))
    path = write_sources(tmp_path, [{"name": "atom", "type": "rss", "url": gov}])
    assert main(["sources", "check", "--sources", str(path)]) == 0
    assert "✓ atom [rss]: 1 posts" in capsys.readouterr().out


def test_sources_run_refuses_a_city_config_that_names_no_body(tmp_path, capsys) -> None:
    """What the deployment's feed said (资阳市人民政府办公室) may not simply move to the city
    config: there every department must be a body of the city, and `sources run` checks it."""
    accounts = "[{department: 资阳市人民政府办公室, feeds: [gov]}]"
    city = city_config(tmp_path, accounts)
    text = city.read_text(encoding="utf-8").splitlines()
    line = text.index(f"official_accounts: {accounts}") + 1
    sources = write_sources(tmp_path, [{"name": "gov", "type": "rss", "url": "http://x.test/a"}])
    out = tmp_path / "posts.jsonl"
    code = main(["sources", "run", "--sources", str(sources), "--config", str(city),
                 "--out", str(out), "--checkpoint", f"sqlite:///{tmp_path / 'cp.db'}"])  # fmt: skip
    assert code == 2 and not out.exists()
    assert (
        f"{city}:{line}: official_accounts[0].department: '资阳市人民政府办公室' is not a body "
        "of this city" in capsys.readouterr().err
    )


def test_sources_check_bad_file_exits_2(capsys) -> None:
    assert main(["sources", "check", "--sources", str(FIXTURES / "sources_bad.yaml")]) == 2
    assert "sources[0].interval" in capsys.readouterr().err


async def test_connector_app_runs_sources_from_a_file_and_serves_push(
    http_server, tmp_path, store, sink, registry
) -> None:
    import asyncio
    import time

    import httpx

    from connectors.app import ConnectorApp
    from connectors.config import load_sources
    from connectors.push import SIGNATURE_HEADER, TIMESTAMP_HEADER, create_push_app, sign

    gov = http_server.route("/gov.xml", Reply(body=(FIXTURES / "gbk_feed.xml").read_bytes()))
    history = tmp_path / "h.jsonl"
    history.write_text(
        '{"id": "1", "text": "回放", "published_at": "2026-04-18T08:00:00+08:00"}\n',
        encoding="utf-8",
    )
    path = write_sources(
        tmp_path,
        [
            {"name": "gov", "type": "rss", "url": gov, "interval": 3600},
            {"name": "hist", "type": "file", "url": "h.jsonl", "interval": 3600},
            {"name": "hotline", "type": "push", "secret_env": "HOTLINE_SECRET"},
        ],
    )
    # the city config says the feed "gov" is 市应急管理局's own; the sources file cannot
    official = city_accounts(tmp_path, "[{department: 市应急管理局, feeds: [gov]}]")
    app = ConnectorApp(
        load_sources(path), sink=sink, store=store, registry=registry,
        env={"HOTLINE_SECRET": "k"}, city_official=official,
    )  # fmt: skip
    task = asyncio.create_task(app.run())
    for _ in range(500):
        if len(sink.posts) >= 4:
            break
        await asyncio.sleep(0.01)
    app.stop()
    await asyncio.wait_for(task, 5)
    assert len(sink.posts) == 4 and "file:1" in {p.id for p in sink.posts}
    assert {(p.official, p.department) for p in sink.posts if p.source == "gov"} == {
        (True, "市应急管理局")
    }
    assert not any(p.official or p.department for p in sink.posts if p.source != "gov")
    web = create_push_app(app.push_service())
    body = (
        '{"id": "a1", "text": "12345 工单", "published_at": "2026-04-18T08:00:00+08:00"}'.encode()
    )
    stamp = str(int(time.time()))
    headers = {TIMESTAMP_HEADER: stamp, SIGNATURE_HEADER: sign("k", stamp, body)}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=web), base_url="http://t"
    ) as client:
        resp = await client.post("/push/hotline", content=body, headers=headers)
    assert resp.status_code == 202, resp.text
    assert sink.posts[-1].id == "push:hotline:a1"
