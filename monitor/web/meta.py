"""What the dashboard shows beside the incidents, from the city config: category labels, the
bodies an incident can be shared with or a department user can belong to, and the counties."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from monitor.config import CityConfig, load_config
from monitor.domain.model import GRADE_LABELS
from monitor.domain.permissions import RULES


@dataclass(frozen=True)
class Meta:
    city: str
    categories: dict[str, str]  # key → 中文
    bodies: tuple[str, ...]
    counties: tuple[str, ...]

    @classmethod
    def of(cls, cfg: CityConfig) -> Meta:
        counties = tuple(c.name for c in cfg.jurisdiction.counties)
        county_bodies = [c.body for c in cfg.jurisdiction.counties]
        departments = [d.name for d in cfg.departments]
        return cls(
            city=cfg.jurisdiction.name,
            categories={k: m.label for k, m in cfg.categories.items()},
            bodies=tuple(dict.fromkeys([*departments, *county_bodies])),
            counties=counties,
        )

    @classmethod
    def default(cls) -> Meta:
        return cls.of(load_config())

    def as_json(self) -> dict[str, Any]:
        return {
            "city": self.city, "categories": self.categories, "bodies": list(self.bodies),
            "counties": list(self.counties),
            "grades": {g.value: label for g, label in GRADE_LABELS.items()},
            "kinds": {k.value: rule.label for k, rule in RULES.items()},
        }  # fmt: skip
