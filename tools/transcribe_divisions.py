"""Transcribe division names and codes (facts) from ../shared/data into the project.

Writes monitor/config/data/cn_divisions.tsv (every province, city and county of China, plus
county names retired by renames, pointing at today's code) and prints the `jurisdiction:` YAML
block for a city. Run once when the source data changes; the outputs are committed.

    python tools/transcribe_divisions.py ../shared/data/divisions > /tmp/jurisdiction.yaml
"""

from __future__ import annotations

import csv
import json
import re
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "monitor/config/data/cn_divisions.tsv"
PLACEHOLDER = {"市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"}


def national(src: Path) -> list[tuple[str, str, str, str]]:
    rows: list[tuple[str, str, str, str]] = []
    with open(src / "modood_provinces.csv", encoding="utf-8") as f:
        rows += [("province", r["code"], r["name"], "") for r in csv.DictReader(f)]
    with open(src / "modood_cities.csv", encoding="utf-8") as f:
        rows += [
            ("city", r["code"], r["name"], r["provinceCode"])
            for r in csv.DictReader(f)
            if r["name"] not in PLACEHOLDER
        ]
    names: dict[str, str] = {}
    with open(src / "modood_areas.csv", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            if r["name"] in PLACEHOLDER:
                continue
            rows.append(("county", r["code"], r["name"], r["cityCode"]))
            names[r["name"]] = r["code"]
    rows += renamed_counties(src, names)
    rows += former_counties(names, {r[2] for r in rows})
    return rows


def former_counties(current: dict[str, str], taken: set[str]) -> list[tuple[str, str, str, str]]:
    """撤县设区/撤县设市: 密云区 and 简阳市 were 密云县 and 简阳县, names still in older text.

    Only where the old form names no other place today.
    """
    out = []
    for name, code in current.items():
        if name[-1] in "区市" and len(name) >= 3:
            old = name[:-1] + "县"
            if old not in taken and old not in current:
                out.append(("county_old", code, old, code[:4]))
    return out


def renamed_counties(src: Path, current: dict[str, str]) -> list[tuple[str, str, str, str]]:
    """Old county names still used in text (密云县 → today's 密云区)."""
    out = []
    with open(src / "jionlp_china_location_change.txt", encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 8:
                continue
            old, new = parts[6], parts[7].split("=>")[-1]
            new_name = parts[-1]
            if old and old not in current and new_name in current and "=>" in parts[7]:
                code = current[new_name]
                out.append(("county_old", code, old, code[:4]))
    _ = new
    return out


def jurisdiction_yaml(src: Path, bodies: dict[str, str]) -> str:
    d = json.loads((src / "ziyang_divisions.json").read_text(encoding="utf-8"))

    def stem(n: str) -> str:
        return re.sub(r"(街道|镇|乡)$", "", n)

    lines = [
        "jurisdiction:",
        f"  name: {d['city']['name']}",
        f"  code: \"{d['city']['code']}\"",
        f"  province: {d['province']['name']}",
        f"  province_code: \"{d['province']['code']}\"",
        "  counties:",
    ]
    for c in d["counties"]:
        lines += [
            f"    - name: {c['name']}",
            f"      code: \"{c['code']}\"",
            f"      body: {bodies[c['name']]}",
            "      towns:",
        ]
        current = {stem(t["name"]): t["name"] for t in c["towns_2023"]}
        for t in c["towns_2023"]:
            lines.append(f"        - {{name: {t['name']}, code: \"{t['code']}\"}}")
        lines.append("      legacy_towns:")
        for name in c["legacy_names_not_in_2023"]:
            now = current.get(stem(name)) or current.get(stem(name)[:-1])
            lines.append(f"        - {{name: {name}, now: {now or 'null'}}}")
    return "\n".join(lines) + "\n"


def main() -> None:
    src = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/divisions")
    rows = national(src)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with open(OUT, "w", encoding="utf-8") as f:
        f.write("# level\tcode\tname\tparent_code  (NBS 2023 via modood; renames via jionlp)\n")
        for row in rows:
            f.write("\t".join(row) + "\n")
    bodies = {"雁江区": "雁江区人民政府", "安岳县": "安岳县人民政府", "乐至县": "乐至县人民政府"}
    sys.stdout.write(jurisdiction_yaml(src, bodies))


if __name__ == "__main__":
    main()
