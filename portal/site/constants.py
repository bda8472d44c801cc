"""Names and fixed tables the portal's pages share (no Datasette, no I/O)."""

from __future__ import annotations

DATABASE = "sti"
PORTAL_NAME = "sti-portal"
NATIONAL = "100000"
VENDOR_JS = [
    "/assets/vendor/vega-6.4.0/vega.min.js",
    "/assets/vendor/vega-lite-6.5.0/vega-lite.min.js",
    "/assets/vendor/vega-embed-7.3.0/vega-embed.min.js",
    "/assets/sti-charts.js",
]
MAX_CHOSEN_REGIONS = 12
DEFAULT_MAP_INDICATOR = "rd_intensity"
# Categories in the order the home and region pages list them.
CATEGORY_ZH = {
    "R&D input": "研发投入",
    "Patents": "专利",
    "Technology market": "技术市场",
    "High-tech industry": "高技术产业",
    "Entrepreneurship": "创新创业",
    "Population": "人口",
    "International": "国际比较",
}
LEVEL_LABEL = {
    "national": "全国 National",
    "province": "省级 Province",
    "sar_or_taiwan": "港澳台 HK, Macao, Taiwan",
    "country": "国家 Country",
    "world": "世界 World",
}
# The levels the site's own pages rank, map and chart. Bounded by geography (national, 31 provinces, 3
# SAR/Taiwan, ~220 countries), so their rows are held in memory per publication; rows of any other level
# (counties: millions in a county-level data set) stay in SQLite and are read one region at a time.
SITE_LEVELS = tuple(LEVEL_LABEL)
VALUE_COLUMNS = {
    "value",
    "old_value",
    "new_value",
    "difference",
    "first_release_value",
    "yearbook_value",
    "from_value",
    "to_value",
    "change",
    "first_value",
    "latest_value",
    "revision",
    "national_value",
    "national_average",
    "above_by",
    "difference_from_national",
}

# Tile-grid map: (column, row) of each province-level region, roughly where it lies.
TILE_GRID = {
    "230000": (7, 0),
    "150000": (3, 1),
    "110000": (4, 1),
    "120000": (5, 1),
    "210000": (6, 1),
    "220000": (7, 1),
    "650000": (0, 2),
    "620000": (1, 2),
    "640000": (2, 2),
    "140000": (3, 2),
    "130000": (4, 2),
    "370000": (5, 2),
    "630000": (0, 3),
    "510000": (1, 3),
    "610000": (2, 3),
    "410000": (3, 3),
    "340000": (4, 3),
    "320000": (5, 3),
    "310000": (6, 3),
    "540000": (0, 4),
    "530000": (1, 4),
    "500000": (2, 4),
    "420000": (3, 4),
    "360000": (4, 4),
    "330000": (5, 4),
    "520000": (2, 5),
    "430000": (3, 5),
    "350000": (4, 5),
    "710000": (5, 5),
    "450000": (2, 6),
    "440000": (3, 6),
    "810000": (4, 6),
    "460000": (2, 7),
    "820000": (3, 7),
}
