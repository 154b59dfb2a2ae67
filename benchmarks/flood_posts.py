"""The posts of a flood: many people writing about a few dozen incidents at once.

    stories = flood_stories(40)               # 40 incidents in Ziyang's towns, one key
    posts = flood_posts(stories, 200_000, now) # retellings of them, interleaved

Each story is one work-safety, fire, traffic or disaster incident (the config's `safety`
family, so a flood puts them all in one incident key: the worst case for a worker) in a town of
its own, with a detail of its own (a firm, a road, a building) and its own counts. A post
retells one story in one of a dozen voices: a first report, an eyewitness, a repost, a question
to the government, an update, a local account's summary, each with a netizen's tag. Project-
written text (no reference data needed), reproducible from a seed.

Two stories of one kind must not read as near duplicates of each other (the domain joins near
duplicates whatever their place), so no county holds two stories of one kind and each story
names a landmark and a firm or place name of its own; tests/unit/test_assign_pruning.py and
tests/integration/test_flood_run.py check that the flood opens one incident per story.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from monitor.domain.model import Post

# (county, towns): Ziyang's three counties and towns of each (monitor/config gazetteer names)
COUNTIES = (
    ("雁江区", ("宝台镇", "临江镇", "中和镇", "丰裕镇", "松涛镇", "保和镇", "老君镇", "丹山镇",
                "小院镇", "堪嘉镇", "伍隍镇", "石岭镇", "东峰镇", "南津镇")),
    ("安岳县", ("石羊镇", "岳阳镇", "周礼镇", "龙台镇", "姚市镇", "林凤镇", "毛家镇", "永清镇",
                "通贤镇", "护龙镇", "李家镇", "元坝镇", "兴隆镇", "天林镇")),
    ("乐至县", ("童家镇", "回澜镇", "石佛镇", "宝林镇", "大佛镇", "良安镇", "金顺镇", "劳动镇",
                "中天镇", "佛星镇", "蟠龙镇", "东山镇", "通旅镇", "高寺镇")),
)  # fmt: skip

# kind: (what happened, with {d} the story's detail, how many got hurt, what happens next)
KINDS = (
    ("{d}化工厂发生爆炸", "已造成{n}人死亡、{m}人受伤", "周边居民已疏散"),
    ("{d}煤矿发生透水事故", "{n}名矿工被困井下", "救援队正在抽水"),
    ("{d}花园工地基坑坍塌", "{n}名工人被埋", "挖掘机正在施救"),
    ("{d}大厦外墙脚手架垮塌", "{n}名工人高处坠落", "伤者已送医"),
    ("{d}餐馆燃气爆燃", "{n}人烧伤", "整条街已封锁"),
    ("{d}小区一居民楼发生火灾", "{n}人被困、{m}人送医", "消防正在扑救"),
    ("{d}物流仓库起火", "火势凶猛，过火面积约{n}百平方米", "消防车已赶到"),
    ("{d}山上发生山火", "烧毁林地约{n}十亩", "数百人上山扑火"),
    ("{d}路段一辆货车与客车相撞", "{n}人死亡、{m}人受伤", "交警已封闭道路"),
    ("{d}小学一辆校车侧翻", "{n}名学生受伤", "家长赶往医院"),
    ("{d}隧道发生多车连环追尾", "{n}辆车受损、{m}人受伤", "车辆排起长队"),
    ("{d}路口一辆渣土车撞倒电动车", "{n}人当场死亡", "肇事司机已被控制"),
    ("{d}村发生山体滑坡", "{n}户民房被埋", "村民连夜转移"),
    ("{d}烟花爆竹厂爆炸", "{n}人死亡", "方圆一公里震感明显"),
    ("{d}大道一辆危化品罐车泄漏", "{n}名村民头晕送医", "附近学校已停课"),
    ("{d}小区污水井有限空间作业窒息", "{n}名工人死亡", "应急局已介入调查"),
)  # fmt: skip

# one detail per story: words of its own, so two stories of a kind differ beyond the place
DETAILS = (
    "鑫源", "恒达", "金桥", "红星", "永兴", "顺发", "华峰", "蓝天", "德胜", "福临", "兴旺",
    "宏远", "泰和", "汇丰", "长虹", "龙腾", "瑞祥", "光明", "新城", "锦绣", "盛世", "天府",
    "川渝", "沱江", "九曲", "柠檬", "青龙", "白鹤", "凤凰", "玉带", "翠屏", "紫荆", "梧桐",
    "银杏", "松柏", "明月", "朝阳", "春晖", "秋实", "冬青",
)  # fmt: skip

# one landmark per story, so a retelling shares more with its own story than with another of
# its kind elsewhere, in whichever voice
LANDMARKS = (
    "沱江大桥东侧", "九曲河公园旁", "资阳北站附近", "人民医院对面", "滨江路口", "柠檬大道东段",
    "老汽车站后面", "体育中心北门", "汽修厂旁", "电信大楼旁", "加油站对面", "五金城后街",
    "高速收费站附近", "新区工业园内", "老城十字口", "河堤步道旁", "火车站货场", "水库大坝下",
    "商业步行街口", "文化广场西侧", "变电站旁", "物流园南门", "镇政府对面", "邮政所后面",
    "客运站旁", "家具城附近", "砖厂旧址旁", "电站下游", "货运码头附近", "竹林山脚",
    "村委会旁", "老街口", "新桥头", "石拱桥边", "纪念碑旁", "电影院附近", "水塔后山",
    "采石场旁", "供销社对面", "林场入口",
)  # fmt: skip

VOICES = (
    "{c}{t}{what}，{hurt}，{next}。",
    "刚刚路过{t}，{what}，{hurt}，{next}，太吓人了！",
    "转发：{c}{t}{what}，{hurt}。",
    "{c}{t}{what}到底怎么回事？听说{hurt}，请有关部门尽快通报。",
    "最新消息：{c}{t}{what}，{hurt}，{next}。",
    "【{t}突发】{c}{t}{what}，{hurt}，{next}，请大家绕行。",
    "我家就在{c}{t}，{what}，{hurt}，希望伤者平安。",
    "#资阳{t}{short}# {c}{t}{what}，{hurt}，官方为什么还不发布？",
    "{c}{t}{what}，现场视频：{hurt}，{next}。",
    "求证：{c}{t}{what}，{hurt}，是真的吗？",
    "{c}{t}{what}已经一个多小时了，{hurt}，{next}。",
    "朋友圈都在传{c}{t}{what}，{hurt}。",
)  # fmt: skip


@dataclass(frozen=True)
class Story:
    county: str
    town: str
    what: str
    hurt: str
    next: str

    @property
    def short(self) -> str:
        return self.what[-4:]


def flood_stories(n: int = 40) -> list[Story]:
    """`n` incidents (at most 42 in distinct towns with no kind twice in a county)."""
    limit = len(COUNTIES) * len(KINDS)
    if not 1 <= n <= min(limit, len(DETAILS), len(LANDMARKS)):
        raise ValueError(f"flood_stories: n must be 1..{min(limit, len(DETAILS))}, got {n}")
    out = []
    for i in range(n):
        county, towns = COUNTIES[i % len(COUNTIES)]
        what, hurt, nxt = KINDS[i % len(KINDS)]  # (i % 3, i % 16) differ for i < 48
        out.append(Story(
            county=county, town=towns[i // len(COUNTIES)],
            what=LANDMARKS[i] + what.format(d=DETAILS[i]),
            hurt=hurt.format(n=2 + i % 9, m=3 + i % 7), next=nxt,
        ))  # fmt: skip
    return out


def retell(story: Story, voice: int, rng: random.Random) -> str:
    text = VOICES[voice % len(VOICES)].format(
        c=story.county, t=story.town, what=story.what, hurt=story.hurt, next=story.next,
        short=story.short,
    )  # fmt: skip
    return f"{text}（网友{rng.randrange(1_000_000)}）"


def flood_posts(
    stories: list[Story], n: int, at: datetime, seed: int = 11, prefix: str = "fl"
) -> Iterator[Post]:
    """`n` posts about `stories`, in random order, every one stamped `at` (a live flood: the
    monitor's wall clock bounds event times anyway). Ids `prefix` + number."""
    rng = random.Random(seed)
    for i in range(n):
        story = stories[rng.randrange(len(stories))]
        yield Post(
            id=f"{prefix}{i}", text=retell(story, rng.randrange(len(VOICES)), rng),
            source="weibo", published_at=at, observed_at=at,
            author_followers=rng.randrange(50_000),
        )  # fmt: skip


def flagged_ids(posts: Iterable[Post]) -> set[str]:
    """The ids of the posts the shipped classifier calls incidents: what the pipeline must
    apply (it ignores the rest by design), whatever the model's accuracy on these voices."""
    from monitor.config import load_config
    from monitor.service import Classifier

    classifier = Classifier.from_config(load_config(), engine="fast")
    return {p.id for p in posts if classifier.classify_text(p.id, p.text).is_incident}
