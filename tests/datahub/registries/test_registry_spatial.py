"""Spatial registry: point-in-district on the real boundaries, standard addresses, geocoding, the API."""

from __future__ import annotations

from sqlalchemy import select

from xingcheng.datahub.registries import spatial
from xingcheng.datahub.registries.models import StandardAddress

CODES = ["430102", "430103", "430104", "430105", "430111", "430112", "430121", "430181", "430182"]


def test_every_district_contains_its_own_centre_and_nothing_outside_the_city_matches():
    assert [s.code for s in spatial.district_shapes()] == CODES
    for shape in spatial.district_shapes():
        assert spatial.division_at(*shape.center) == shape.code
    assert spatial.division_at(112.9388, 28.2282) == "430104"  # 岳麓山 is west of the Xiang river
    assert spatial.division_at(116.397, 39.909) is None  # Beijing
    assert spatial.division_at(float("nan"), 28.2) is None


def test_geocode_levels():
    house = spatial.geocode("湖南省长沙市岳麓区麓山南路932号麓山花园3栋")
    assert house is not None and house.level == "house" and house.division_code == "430104"
    assert house.road == "麓山南路" and house.house_number == 932
    assert spatial.division_at(house.lon, house.lat) == "430104"
    road = spatial.geocode("长沙市开福区湘雅路")
    assert road is not None and road.level == "road" and road.division_code == "430105"
    street = spatial.geocode("芙蓉区东湖街道")
    assert street is not None and street.level == "street" and street.street == "东湖街道"
    county = spatial.geocode("湖南省长沙县")
    assert county is not None and county.level == "division" and county.division_code == "430121"
    assert spatial.geocode("北京市朝阳区建国路88号") is None
    assert spatial.geocode("   ") is None
    # Full-width digits and spaces are normalised; a road of another district is not taken.
    assert spatial.geocode("雨花区 韶山中路 ８８号").house_number == 88  # type: ignore[union-attr]
    assert spatial.geocode("芙蓉区麓山南路5号").level == "division"  # type: ignore[union-attr]


def test_standard_addresses_match_the_geocoder(db):
    addresses = db.scalars(select(StandardAddress).order_by(StandardAddress.id).limit(200)).all()
    assert len(addresses) == 200
    for address in addresses:
        assert spatial.division_at(address.lon, address.lat) == address.division_code
        match = spatial.geocode(address.full_address, session=db)
        assert match is not None and match.level == "address" and match.address_code == address.code
        assert (match.lon, match.lat) == (address.lon, address.lat)


def test_divisions_api(client, auth):
    divisions = client.get("/api/v1/registries/divisions").json()
    assert [d["code"] for d in divisions] == CODES
    boundary = client.get("/api/v1/registries/divisions/430104/boundary")
    assert boundary.status_code == 200 and boundary.headers["content-type"].startswith("application/geo+json")
    feature = boundary.json()
    assert feature["type"] == "Feature" and feature["properties"]["name"] == "岳麓区"
    assert feature["geometry"]["type"] in ("Polygon", "MultiPolygon")
    assert client.get("/api/v1/registries/divisions/110105/boundary").status_code == 404
    located = client.get("/api/v1/registries/divisions/locate?lon=112.9388&lat=28.2282").json()
    assert located["division_code"] == "430104" and located["division_name"] == "岳麓区"
    found = client.get("/api/v1/registries/geocode", params={"q": "长沙县星沙大道12号"}, headers=auth("clerk")).json()
    assert found["division_code"] == "430121" and found["road"] == "星沙大道"
    assert client.get("/api/v1/registries/geocode", params={"q": "长沙县"}).status_code == 401
    page = client.get("/api/v1/registries/addresses?division_code=430102&limit=5", headers=auth("clerk")).json()
    assert page["total"] > 0 and all(a["division_code"] == "430102" for a in page["items"])
