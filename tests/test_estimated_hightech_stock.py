"""hightech_enterprises_valid_est: three years of recognitions, per release, status e (worked by hand)."""

from __future__ import annotations

import pandas as pd

from sti_portal.transform.derive import hightech_enterprises_valid_est


def flow(region, year, value, release="innocom", vintage=None, kind="compilation"):
    return {
        "source_id": "innocom_hitech_enterprises",
        "release": release,
        "release_kind": kind,
        "vintage": vintage,
        "indicator_id": "hightech_enterprises_certified",
        "year": year,
        "value": value,
        "unit": "家",
        "obs_status": "",
        "source_ref": f"{release}#{region}-{year}",
        "note": "",
        "region_code": region,
    }


def test_three_years_summed_only_when_all_three_exist():
    obs = pd.DataFrame(
        [flow("440000", y, v) for y, v in ((2018, 100.0), (2019, 200.0), (2020, 300.0), (2021, 400.0))]
        + [flow("110000", 2020, 50.0), flow("110000", 2021, 60.0)]
    )
    est = hightech_enterprises_valid_est(obs).set_index(["region_code", "year"])
    assert est["value"].to_dict() == {("440000", 2020): 600.0, ("440000", 2021): 900.0}  # Beijing: 2 years only
    assert set(est["obs_status"]) == {"e"} and set(est["unit"]) == {"家"}
    assert est.loc[("440000", 2021), "source_ref"] == "innocom#440000-2019 + innocom#440000-2020 + innocom#440000-2021"


def test_an_upload_adds_its_estimates_and_the_full_release_keeps_its_own():
    base = [flow("440000", y, v) for y, v in ((2018, 100.0), (2019, 200.0), (2020, 300.0), (2021, 400.0))]
    upload = flow("440000", 2020, 330.0, release="upload_x", vintage="2026-06-30", kind="upload")
    est = hightech_enterprises_valid_est(pd.DataFrame(base + [upload]))
    by_release = {(r.release, r.year): r.value for r in est.itertuples()}
    assert by_release == {
        ("innocom", 2020): 600.0,
        ("innocom", 2021): 900.0,
        ("upload_x", 2020): 630.0,
        ("upload_x", 2021): 930.0,
    }  # 2021 still counts 2020
