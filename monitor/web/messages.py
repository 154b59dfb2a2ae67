"""Refusals in Chinese for the people who read them.

The domain names what is wrong in English for developers and logs (`ActionError`: field and
reason). Officials get a Chinese sentence per field, with the domain's words kept after it, so
a report to developers still carries the exact reason.
"""

from __future__ import annotations

_FIELD = {
    "url": "证据链接缺失或无效（须为 http/https 网址）",
    "at": "发生时间无效（须带时区，且不晚于当前时间、不早于事件首帖）",
    "grade": "请选择调整后的级别（I、II、III 或 IV）",
    "reason": "请填写理由",
    "target": "合并目标无效（须为另一个未关闭的事件）",
    "post_ids": "拆分的帖子无效（须勾选本事件的部分帖子）",
    "kind": "处置类型无效",
    "by": "处置人无效",
    "id": "处置编号已被另一项处置使用",
    "place": "请填写发布会地点或链接",
    "channel": "发布渠道无效",
    "candidate_id": "没有待确认的候选发布",
}

_REASONS = (
    ("is closed", "事件已关闭，不能再登记处置"),
    ("was merged into", "事件已并入其他事件，请在合并后的事件上登记"),
    ("no incident", "事件不存在"),
    ("unknown incident", "事件不存在"),
    ("in the future", "发生时间晚于当前时间"),
    ("before the incident's first post", "发生时间早于事件首帖，不可能是对本事件的处置"),
    ("no time zone", "发生时间缺少时区"),
    ("cannot split off every post", "不能拆出全部帖子，如需结束请关闭事件"),
    ("not in this incident", "所选帖子不属于本事件"),
    ("already used for a different action", "处置编号已被另一项处置使用"),
    ("cannot merge into it", "合并目标已关闭或已合并"),
)


def in_chinese(message: str, field: str | None) -> str:
    """A Chinese sentence for a refusal, the original words after it in brackets."""
    if any("\u4e00" <= ch <= "\u9fff" for ch in message):
        return message
    lead = next((zh for words, zh in _REASONS if words in message), None)
    lead = lead or _FIELD.get(field or "", "请求未被受理")
    return f"{lead}（{message}）"
