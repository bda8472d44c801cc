"""A synthetic county-level data set in the statisticians' upload format, deterministic for a seed.

* regions: about 2,850 county-level units (districts 01-20, counties 21-, county-level cities 81-) under
  prefectures of the 31 real provinces, with six-digit GB/T 2260-style codes (e.g. 130523), written as an
  extra region catalogue (the columns of catalogue/regions.csv, level ``county``) for STI_EXTRA_REGIONS;
* observations: the catalogue's non-derived indicators for Chinese regions, in their catalogue units (R&D
  expenditure in 万元, which the pipeline converts to 亿元), plausible values that grow a few per cent a
  year within the catalogue bounds, about 0.5 % gaps (empty value, obs_status ``m``), about 1 %
  provisional (``p``) and 0.5 % estimated (``e``) flags;
* one upload-format CSV per release (an edition of a county yearbook covering the same years, with
  small revisions from one edition to the next), as many editions as the size needs;
* one extra "province-year" file (every county of one province, one new year) for the incremental load.

    uv run --frozen python -m benchmarks.synthetic --rows 1000000 --out /tmp/sti-synthetic
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from sti_portal.core import catalogue

UPLOAD_COLUMNS = ["region", "indicator", "year", "value", "unit", "obs_status", "source", "note"]
FIRST_YEAR = 2000
N_YEARS = 24  # 2000-2023; the province-year file adds 2024
TARGET_UNITS = 2850
MISSING_SHARE, PROVISIONAL_SHARE, ESTIMATED_SHARE = 0.005, 0.01, 0.005
# Written in another unit than the catalogue's, to exercise the conversion (10 000 万元 = 1 亿元).
WRITTEN_UNIT = {"rd_expenditure": ("万元", 1e4)}
# A typical county where a fraction of the catalogue's (provincial) upper bound would be implausible.
TYPICAL_COUNTY = {
    "population": 50.0,
    "invention_patents_in_force": 300.0,
    "invention_patent_applications": 200.0,
    "invention_patent_grants": 60.0,
}


@dataclass
class SyntheticSet:
    folder: Path
    regions_csv: Path
    release_files: list[Path]
    increment_file: Path
    n_rows: int
    n_units: int
    indicators: list[str]

    def to_dict(self) -> dict:
        return {
            "folder": str(self.folder),
            "regions_csv": str(self.regions_csv),
            "release_files": [str(p) for p in self.release_files],
            "increment_file": str(self.increment_file),
            "n_rows": self.n_rows,
            "n_units": self.n_units,
            "indicators": self.indicators,
        }

    @classmethod
    def load(cls, folder: Path) -> SyntheticSet:
        data = json.loads((folder / "synthetic.json").read_text(encoding="utf-8"))
        return cls(
            Path(data["folder"]),
            Path(data["regions_csv"]),
            [Path(p) for p in data["release_files"]],
            Path(data["increment_file"]),
            data["n_rows"],
            data["n_units"],
            data["indicators"],
        )


def county_regions(seed: int = 2260, n_units: int = TARGET_UNITS) -> pd.DataFrame:
    """County-level units under the real provinces: codes PPFFCC (province, prefecture, county)."""
    rng = np.random.default_rng(seed)
    provinces = catalogue.china_regions()
    provinces = provinces[provinces["level"] == "province"].reset_index(drop=True)
    weights = rng.uniform(0.4, 1.6, len(provinces))
    per_province = np.maximum(1, np.round(weights / weights.sum() * n_units)).astype(int)
    per_province[np.argmax(per_province)] += n_units - per_province.sum()
    rows = []
    for province, count in zip(provinces.itertuples(), per_province):
        prefix = province.region_code[:2]
        made, prefecture = 0, 0
        while made < count:
            prefecture += 1
            in_prefecture = min(count - made, int(rng.integers(6, 16)))
            districts = int(rng.integers(1, max(2, in_prefecture // 3) + 1))
            for k in range(in_prefecture):
                if k < districts:
                    suffix, kind_zh, kind_en = 1 + k, "区", "District"
                elif k < in_prefecture - 1 or in_prefecture < 4:
                    suffix, kind_zh, kind_en = 21 + k - districts, "县", "County"
                else:
                    suffix, kind_zh, kind_en = 81, "市", "City"
                code = f"{prefix}{prefecture:02d}{suffix:02d}"
                number = made + 1
                rows.append(
                    {
                        "region_code": code,
                        "name_zh": f"{province.name_zh}第{number}{kind_zh}",
                        "name_zh_full": f"{province.name_zh_full}第{number}{kind_zh}",
                        "name_en": f"{province.name_en} {kind_en} {number}",
                        "level": "county",
                        "macro_region": province.macro_region,
                    }
                )
                made += 1
    return pd.DataFrame(rows, columns=list(catalogue.china_regions().columns))


def _indicators() -> pd.DataFrame:
    table = catalogue.indicators()
    return table[~table["derived"] & table["full_coverage"]].reset_index(drop=True)


def _base_values(rng: np.random.Generator, indicators: pd.DataFrame, n_units: int) -> np.ndarray:
    """(units, indicators) starting values in the catalogue unit: a county is a small share of the bound."""
    top = indicators["max_value"].to_numpy()
    scale = np.where(indicators["unit"].to_numpy() == "%", 1.5, top / 20000.0)
    for j, indicator in enumerate(indicators["indicator_id"]):
        scale[j] = TYPICAL_COUNTY.get(indicator, scale[j])
    return scale * rng.lognormal(0.0, 0.6, (n_units, len(indicators)))


def _frame(
    regions: np.ndarray,
    indicators: pd.DataFrame,
    years: np.ndarray,
    values: np.ndarray,
    rng: np.random.Generator,
    source: str,
) -> pd.DataFrame:
    """Long upload-format frame for every region x indicator x year (values: units x indicators x years)."""
    n_r, n_i, n_y = len(regions), len(indicators), len(years)
    ids = indicators["indicator_id"].to_numpy()
    units = indicators["unit"].to_numpy().astype(object)
    factor = np.ones(n_i)
    for j, ind in enumerate(ids):
        if ind in WRITTEN_UNIT:
            units[j], factor[j] = WRITTEN_UNIT[ind][0], WRITTEN_UNIT[ind][1]
    value = (values * factor[None, :, None]).reshape(-1)
    top = np.repeat(np.tile(indicators["max_value"].to_numpy() * factor, n_r), n_y)
    value = np.minimum(value, top * 0.99)
    draw = rng.random(value.size)
    status = np.full(value.size, "", dtype=object)
    status[draw < MISSING_SHARE] = "m"
    status[(draw >= MISSING_SHARE) & (draw < MISSING_SHARE + PROVISIONAL_SHARE)] = "p"
    status[
        (draw >= MISSING_SHARE + PROVISIONAL_SHARE) & (draw < MISSING_SHARE + PROVISIONAL_SHARE + ESTIMATED_SHARE)
    ] = "e"
    decimals = np.repeat(np.tile(np.where(indicators["unit"].to_numpy() == "%", 2, 1), n_r), n_y)
    text = np.where(decimals == 2, np.char.mod("%.2f", value), np.char.mod("%.1f", value)).astype(object)
    text[status == "m"] = ""
    return pd.DataFrame(
        {
            "region": np.repeat(regions, n_i * n_y),
            "indicator": np.tile(np.repeat(ids, n_y), n_r),
            "year": np.tile(years, n_r * n_i),
            "value": text,
            "unit": np.tile(np.repeat(units, n_y), n_r),
            "obs_status": status,
            "source": source,
            "note": "",
        },
        columns=UPLOAD_COLUMNS,
    )


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    con = duckdb.connect()
    try:
        con.register("frame", frame)
        con.execute(f"COPY frame TO '{path}' (HEADER, DELIMITER ',', QUOTE '\"')")
    finally:
        con.close()


def generate(out: Path, n_rows: int, seed: int = 2024, n_units: int = TARGET_UNITS) -> SyntheticSet:
    """Write about `n_rows` observations (whole editions) to `out`; returns what was written."""
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    regions = county_regions(seed, n_units)
    regions_csv = out / "county_regions.csv"
    regions.to_csv(regions_csv, index=False)
    indicators = _indicators()
    codes = regions["region_code"].to_numpy()
    full_edition = len(codes) * len(indicators) * N_YEARS
    n_years = N_YEARS if n_rows >= full_edition else max(2, math.ceil(n_rows / (len(codes) * len(indicators))))
    n_units = len(codes)
    per_edition = n_units * len(indicators) * n_years
    editions = max(1, round(n_rows / per_edition))
    years = np.arange(FIRST_YEAR + N_YEARS - n_years, FIRST_YEAR + N_YEARS)
    base = _base_values(rng, indicators, n_units)
    growth = 1.0 + rng.normal(0.05, 0.03, (n_units, len(indicators), n_years))
    values = base[:, :, None] * np.cumprod(growth, axis=2)
    files, written = [], 0
    for edition in range(editions):
        revised = values * (1.0 + rng.normal(0.0, 0.002, values.shape)) if edition else values
        frame = _frame(codes, indicators, years, revised, rng, f"县域科技统计年鉴（合成）第{edition + 1}版")
        path = out / f"county_edition_{edition + 1:02d}.csv"
        _write_csv(frame, path)
        files.append(path)
        written += len(frame)
    # One province (the first), one new year: what a provincial statistician would load.
    province = codes[0][:2]
    in_province = np.array([c for c in codes if c.startswith(province)])
    last = values[[i for i, c in enumerate(codes) if c.startswith(province)], :, -1:] * 1.04
    increment = _frame(
        in_province, indicators, np.array([years[-1] + 1]), last, rng, "省统计局县域科技统计公报（合成）"
    )
    increment_file = out / f"province_{province}0000_{years[-1] + 1}.csv"
    _write_csv(increment, increment_file)
    synthetic = SyntheticSet(
        out, regions_csv, files, increment_file, written, len(codes), indicators["indicator_id"].tolist()
    )
    (out / "synthetic.json").write_text(json.dumps(synthetic.to_dict(), ensure_ascii=False, indent=1), encoding="utf-8")
    return synthetic


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--units", type=int, default=TARGET_UNITS, help="county-level units (default %(default)s)")
    args = parser.parse_args(argv)
    made = generate(args.out, args.rows, args.seed, args.units)
    print(
        f"{made.n_rows:,} observations of {made.n_units:,} county-level units in {len(made.release_files)} "
        f"file(s) under {made.folder}; increment: {made.increment_file.name}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
