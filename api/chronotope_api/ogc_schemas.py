"""The documents of OGC API – Moving Features as pydantic models, for the OpenAPI description, with examples.

Responses are built by :mod:`chronotope_api.mfjson` and sent as they are (a
track can hold millions of positions); these models describe them for
``/api``. The collection request bodies are validated with them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, field_validator

__all__ = ["Link", "ReferenceSystem", "MovingPoint", "MovingGeometryCollection", "PropertyValues",
           "ParametricValues", "MovingFeature", "MovingFeatures", "TemporalGeometrySequence",
           "TemporalPrimitiveValue", "TemporalProperty", "TemporalProperties", "Collection", "Collections",
           "CollectionBody", "CollectionUpdate", "PropertyDefinition", "MovingPointInput", "MovingFeatureInput",
           "TemporalPrimitiveValueInput", "TemporalPropertyInput", "inline_schema", "EXAMPLES"]

Value = Union[float, int, bool, None]


class Link(BaseModel):
    href: str = Field(description="the target", examples=["http://127.0.0.1:8000/collections/ais/items"])
    rel: str = Field(description="the relation: self, next, items, collection, ...", examples=["next"])
    type: str | None = Field(None, description="the media type of the target")
    title: str | None = None


class _RSProperties(BaseModel):
    name: str | None = None
    href: str | None = None
    type: str | None = None


class ReferenceSystem(BaseModel):
    """An MF-JSON ``crs`` or ``trs`` object: by name (``Name``) or by reference (``Link``)."""

    type: Literal["Name", "Link"]
    properties: _RSProperties


class MovingPoint(BaseModel):
    """An MF-JSON TemporalPrimitiveGeometry of type ``MovingPoint``: positions at instants, linear between."""

    id: str | None = Field(None, description="the temporal geometry id in a TemporalGeometrySequence")
    type: Literal["MovingPoint"]
    datetimes: list[str] = Field(description="RFC 3339 instants, increasing")
    coordinates: list[list[float]] = Field(description="one [x, y] or [x, y, z] per instant, in the collection's CRS")
    interpolation: Literal["Linear"] = "Linear"
    crs: ReferenceSystem | None = None
    trs: ReferenceSystem | None = None


class MovingGeometryCollection(BaseModel):
    """An MF-JSON TemporalComplexGeometry: the moving points of a track cut at its gaps."""

    type: Literal["MovingGeometryCollection"]
    prisms: list[MovingPoint]


class PropertyValues(BaseModel):
    """The values of one temporal property in a ParametricValues object."""

    type: Literal["Measure", "Text"] = Field(description="Measure for numbers, Text for true/false")
    values: list[Value]
    interpolation: Literal["Discrete", "Step", "Linear"] | None = None
    form: str | None = Field(None, description="unit of measure: a UN/CEFACT code (KNT, MTS) or a URI")
    description: str | None = None


class ParametricValues(BaseModel):
    """MF-JSON ParametricValues: ``datetimes`` and one member per property named after it."""

    model_config = ConfigDict(extra="allow",
                              json_schema_extra={"additionalProperties": PropertyValues.model_json_schema()})
    datetimes: list[str] = Field(description="RFC 3339 instants shared by the properties of this object")


class MovingFeature(BaseModel):
    """An MF-JSON MovingFeature."""

    type: Literal["Feature"]
    id: str | int
    properties: dict | None = Field(None, description="the feature's document (as of now)")
    crs: ReferenceSystem | None = None
    trs: ReferenceSystem | None = None
    bbox: list[float] | None = Field(None, description="[minx, miny, maxx, maxy] (or 6 numbers with heights)")
    time: list[str] | None = Field(None, description="the life span [first, last] as RFC 3339 instants")
    temporalGeometry: MovingPoint | MovingGeometryCollection | None = None
    temporalProperties: list[ParametricValues] | None = None
    links: list[Link] | None = None


class MovingFeatures(BaseModel):
    """A page of moving features (MF-JSON FeatureCollection)."""

    type: Literal["FeatureCollection"]
    features: list[MovingFeature]
    crs: ReferenceSystem | None = None
    trs: ReferenceSystem | None = None
    links: list[Link]
    timeStamp: str = Field(description="when the response was made (RFC 3339)")
    numberMatched: int = Field(description="features matching the request, over every page")
    numberReturned: int = Field(description="features on this page")


class TemporalGeometrySequence(BaseModel):
    type: Literal["TemporalGeometrySequence"]
    geometrySequence: list[MovingPoint]
    links: list[Link]
    timeStamp: str
    numberMatched: int
    numberReturned: int


class TemporalPrimitiveValue(BaseModel):
    datetimes: list[str]
    values: list[Value]
    interpolation: Literal["Discrete", "Step", "Linear"]


class TemporalProperty(BaseModel):
    name: str
    type: Literal["TBoolean", "TText", "TInteger", "TReal", "TImage"]
    form: str | None = None
    description: str | None = None
    valueSequence: list[TemporalPrimitiveValue] | None = None
    links: list[Link] | None = None


class TemporalProperties(BaseModel):
    temporalProperties: list[TemporalProperty | ParametricValues] = Field(
        description="the static description of each property, or with subTemporalValue=true MF-JSON "
                    "ParametricValues over the datetime interval")
    links: list[Link]
    timeStamp: str
    numberMatched: int
    numberReturned: int


class _Spatial(BaseModel):
    bbox: list[list[float]]
    crs: str


class _Temporal(BaseModel):
    interval: list[list[str | None]]
    trs: str


class _Extent(BaseModel):
    spatial: _Spatial
    temporal: _Temporal


class Collection(BaseModel):
    """A collection of moving features."""

    id: str
    title: str
    description: str | None = None
    itemType: Literal["movingfeature"]
    updateFrequency: float | None = Field(None, description="the sampling interval in milliseconds, if declared")
    crs: list[str]
    extent: _Extent | None = None
    links: list[Link]
    chronotope: dict | None = Field(None, description="how chronotope stores the collection: temporal properties "
                                                      "(dtype, interpolation, unit), heights, max_gap, partition, "
                                                      "the kind of ids (int, str; null while empty) and the "
                                                      "descriptive metadata")


class Collections(BaseModel):
    collections: list[Collection]
    links: list[Link]


Name = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")]
Duration = Annotated[str, Field(pattern=r"^[1-9][0-9]{0,9}[Dhms]$")]


class PropertyDefinition(BaseModel):
    """A temporal property of a new collection."""

    model_config = ConfigDict(extra="forbid")
    type: str = Field(description="a numeric numpy dtype: float32, float64, int8 ... int64, uint8 ..., bool",
                      examples=["float32"])
    interpolation: Literal["Discrete", "Step", "Linear"] | None = Field(
        None, description="how values between samples are read (default Linear for floats, Step otherwise)")
    form: str | None = Field(None, description="unit of measure: a UN/CEFACT code or a URI", examples=["KNT"])
    description: str | None = None


class CollectionBody(BaseModel):
    """A new collection: the OGC members (title, description, itemType, updateFrequency) and how chronotope
    stores it (id, properties, crs, has_z, max_gap, partition: fixed once created)."""

    id: Name | None = Field(None, description="letters, digits and _ (at most 64, not starting with a digit); "
                                              "generated when absent", examples=["vessels"])
    title: str | None = Field(None, max_length=1000, examples=["AIS vessel positions"])
    description: str | None = Field(None, max_length=100_000)
    itemType: Literal["movingfeature"] = Field(description="required by the standard: always movingfeature")
    updateFrequency: StrictFloat | StrictInt | None = Field(None, ge=0, description="sampling interval in milliseconds")
    properties: dict[Name, str | PropertyDefinition] = Field(
        default_factory=dict, description="temporal properties sampled with the positions: name -> dtype or "
                                          "a definition", examples=[{"sog": {"type": "float32", "form": "KNT"}}])
    crs: str = Field("EPSG:4326", description='"EPSG:4326" (longitude, latitude; distances in metres) or another '
                                              "authority:code (planar)")
    has_z: StrictBool = Field(False, description="whether positions carry a height")
    max_gap: Duration = Field("10m", description="the longest time between samples that is interpolated across "
                                            "(1D, 6h, 30m, 900s): longer gaps split the track into temporal "
                                            "primitives")
    partition: Duration = Field("1D", description="the length of the storage's time partitions")

    @field_validator("max_gap", "partition")
    @classmethod
    def _at_most_a_century(cls, value: str) -> str:
        seconds = int(value[:-1]) * {"D": 86_400, "h": 3_600, "m": 60, "s": 1}[value[-1]]
        if seconds > 100 * 366 * 86_400:  # nanoseconds in int64 reach 292 years
            raise ValueError("at most 100 years")
        return value


class CollectionUpdate(BaseModel):
    """What a PUT may replace: the title and the description (``updateFrequency`` is ignored, as the
    standard says; the storage settings cannot change)."""

    title: str | None = Field(None, max_length=1000)
    description: str | None = Field(None, max_length=100_000)
    itemType: Literal["movingfeature"] = "movingfeature"
    updateFrequency: float | None = None
    metadata: dict[str, Any] | None = Field(None, description="chronotope: replaces the collection's whole "
                                                              "descriptive metadata (then title and description "
                                                              "given beside it apply)")


DateTimes = Annotated[list[Annotated[str, Field(json_schema_extra={"format": "date-time"})]],
                      Field(min_length=1, description="RFC 3339 instants, strictly increasing")]
Position = Annotated[list[float], Field(min_length=2, max_length=3)]


class MovingPointInput(BaseModel):
    """A MovingPoint to store: as many positions as instants."""

    type: Literal["MovingPoint"]
    datetimes: DateTimes
    coordinates: list[Position] = Field(min_length=1, description="one [x, y] (or [x, y, z]) per instant")
    interpolation: Literal["Linear"] = "Linear"


class MovingGeometryCollectionInput(BaseModel):
    type: Literal["MovingGeometryCollection"]
    prisms: list[MovingPointInput] = Field(min_length=1)


class MovingFeatureInput(BaseModel):
    """A MovingFeature to store."""

    type: Literal["Feature"]
    id: str | int | None = Field(None, description="the feature's id (generated for string-id collections when "
                                                   "absent); no '/'")
    temporalGeometry: MovingPointInput | MovingGeometryCollectionInput
    temporalProperties: list[ParametricValues] | None = None
    properties: dict | None = Field(None, description="stored as the feature's document")
    crs: ReferenceSystem | None = None
    trs: ReferenceSystem | None = None


class TemporalPrimitiveValueInput(BaseModel):
    datetimes: DateTimes
    values: list[Value] = Field(min_length=1, description="one value per instant")
    interpolation: Literal["Discrete", "Step", "Linear"]


class TemporalPropertyInput(BaseModel):
    """Values of one temporal property to store."""

    name: str = Field(description="a temporal property the collection declares")
    type: Literal["TBoolean", "TInteger", "TReal"]
    form: str | None = None
    valueSequence: list[TemporalPrimitiveValueInput] = Field(min_length=1)


def inline_schema(model: type[BaseModel]) -> dict:
    """The model's JSON schema with its definitions inlined (for a request body documented, not validated)."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def resolve(node):
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return resolve(defs[ref.split("/")[-1]])
            return {k: resolve(v) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    return resolve(schema)


# ---------------------------------------------------------------- examples (the bundled AIS sample)

_CRS = {"type": "Name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}}
_TRS = {"type": "Link", "properties": {"type": "OGCDEF", "href": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"}}
_ROOT = "http://127.0.0.1:8000/collections/ais"
_POINT = {"type": "MovingPoint",
          "datetimes": ["2020-12-01T04:49:45Z", "2020-12-01T04:51:15Z", "2020-12-01T04:53:19Z"],
          "coordinates": [[-74.01286, 40.65118], [-74.01562, 40.64912], [-74.01903, 40.64677]],
          "interpolation": "Linear"}
_FEATURE = {"type": "Feature", "id": 367000150, "crs": _CRS, "trs": _TRS,
            "properties": {"name": "ATLANTIC SALVOR", "vessel_type": "tug"},
            "temporalGeometry": _POINT,
            "temporalProperties": [{"datetimes": _POINT["datetimes"],
                                    "sog": {"type": "Measure", "values": [8.2, 8.4, 8.1], "interpolation": "Linear",
                                            "form": "KNT"}}]}

EXAMPLES = {
    "feature": _FEATURE,
    "features": {"type": "FeatureCollection", "crs": _CRS, "trs": _TRS, "features": [
        {"type": "Feature", "id": 367000150, "properties": {"name": "ATLANTIC SALVOR"}, "crs": _CRS, "trs": _TRS,
         "bbox": [-74.05, 40.60, -73.95, 40.70], "time": ["2020-12-01T04:49:45Z", "2020-12-07T22:10:01Z"],
         "links": [{"href": f"{_ROOT}/items/367000150", "rel": "self", "type": "application/json"}]}],
        "links": [{"href": f"{_ROOT}/items?limit=1", "rel": "self", "type": "application/json"},
                  {"href": f"{_ROOT}/items?limit=1&cursor=eyJhIjozNjcwMDAxNTB9", "rel": "next",
                   "type": "application/json"}],
        "timeStamp": "2024-05-01T12:00:00Z", "numberMatched": 140, "numberReturned": 1},
    "tgsequence": {"type": "TemporalGeometrySequence", "geometrySequence": [{"id": "0", **_POINT}],
                   "links": [{"href": f"{_ROOT}/items/367000150/tgsequence", "rel": "self",
                              "type": "application/json"}],
                   "timeStamp": "2024-05-01T12:00:00Z", "numberMatched": 1, "numberReturned": 1},
    "moving_point": _POINT,
    "velocity": {"name": "velocity", "type": "TReal", "form": "MTS", "valueSequence": [
        {"datetimes": _POINT["datetimes"], "values": [4.2, 3.1, 3.1], "interpolation": "Step"}]},
    "distance": {"name": "distance", "type": "TReal", "form": "MTR", "valueSequence": [
        {"datetimes": _POINT["datetimes"], "values": [0.0, 322.5, 710.2], "interpolation": "Linear"}]},
    "acceleration": {"name": "acceleration", "type": "TReal", "form": "MSK", "valueSequence": [
        {"datetimes": _POINT["datetimes"], "values": [-0.0103, -0.0103, 0.0], "interpolation": "Linear"}]},
    "tproperties": {"temporalProperties": [{"name": "sog", "type": "TReal", "form": "KNT", "links": [
        {"href": f"{_ROOT}/items/367000150/tproperties/sog", "rel": "self", "type": "application/json"}]}],
        "links": [{"href": f"{_ROOT}/items/367000150/tproperties", "rel": "self", "type": "application/json"}],
        "timeStamp": "2024-05-01T12:00:00Z", "numberMatched": 1, "numberReturned": 1},
    "tproperty": {"name": "sog", "type": "TReal", "form": "KNT", "valueSequence": [
        {"datetimes": _POINT["datetimes"], "values": [8.2, 8.4, 8.1], "interpolation": "Linear"}],
        "links": [{"href": f"{_ROOT}/items/367000150/tproperties/sog", "rel": "self", "type": "application/json"}]},
    "parametric_values": [{"datetimes": ["2020-12-01T04:51:15Z", "2020-12-01T04:53:19Z"],
                           "sog": {"type": "Measure", "values": [8.4, 8.1], "interpolation": "Linear"}}],
    "temporal_primitive_value": {"datetimes": ["2020-12-01T05:00:00Z", "2020-12-01T05:00:30Z"],
                                 "values": [7.9, 7.5], "interpolation": "Linear"},
    "collection": {"id": "ais", "title": "AIS, New York harbour", "itemType": "movingfeature",
                   "crs": ["http://www.opengis.net/def/crs/OGC/1.3/CRS84"],
                   "extent": {"spatial": {"bbox": [[-74.32731, 40.38352, -73.63775, 40.88176]],
                                          "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"},
                              "temporal": {"interval": [["2020-12-01T04:49:45Z", "2020-12-07T23:29:51Z"]],
                                           "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"}},
                   "links": [{"href": _ROOT, "rel": "self", "type": "application/json"},
                             {"href": f"{_ROOT}/items", "rel": "items", "type": "application/geo+json"}],
                   "chronotope": {"properties": {}, "has_z": False, "max_gap": "600s", "partition": "86400s",
                                  "id_kind": "int", "metadata": {"title": "AIS, New York harbour"}}},
}
