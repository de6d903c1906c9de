import json

import pytest
from PIL import Image

from raqo_core.data.manifest import Record, load_manifest, queries_and_targets, write_manifest
from raqo_core.errors import ManifestError


def _ds(tmp_path, records, images=("a.png", "b.png")):
    for name in images:
        Image.new("RGB", (8, 8), (255, 0, 0)).save(tmp_path / name)
    (tmp_path / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return tmp_path


def _rec(i, **kw):
    r = {"image_id": i, "image": f"{i}.png", "captions": ["a red square"], "split": "test"}
    r.update(kw)
    return r


def test_round_trip_and_registers(tmp_path):
    recs = [Record("a", "a.png", ["x", "y"], "train", {"user": ["u1", "u2"]}), Record("b", "b.png", ["z"], "test")]
    _ds(tmp_path, [])
    write_manifest(tmp_path, recs)
    m = load_manifest(tmp_path)
    assert m.records == recs
    assert m.registers() == ["captions", "plain", "user"]
    assert m.records[0].texts("plain") == ["x", "y"] and m.records[0].texts("user") == ["u1", "u2"]
    with pytest.raises(ManifestError, match=r"record 'b' has no caption register 'user'"):
        m.records[1].texts("user")
    assert queries_and_targets(m.records) == (["x", "y", "z"], [0, 0, 1])


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (_rec("a", image="missing.png"), r"manifest.jsonl:1 \(image_id='a'\): field 'image' points at a missing file"),
        (_rec("a", captions=[]), r"image_id='a'\): field 'captions' must be a non-empty list"),
        (_rec("a", captions=["ok", "  "]), r"field 'captions' holds an empty or non-string caption"),
        (_rec("a", split="dev"), r"unknown split 'dev'; expected one of \('train', 'val', 'test'\)"),
        ({"image_id": "a", "image": "a.png", "split": "test"}, r"missing field 'captions'"),
    ],
)
def test_validation_errors_name_record_and_field(tmp_path, bad, message):
    _ds(tmp_path, [bad])
    with pytest.raises(ManifestError, match=message):
        load_manifest(tmp_path)


def test_duplicate_image_id(tmp_path):
    _ds(tmp_path, [_rec("a"), _rec("a")])
    with pytest.raises(ManifestError, match=r"manifest.jsonl:2: duplicate image_id 'a' \(first seen on record 1\)"):
        load_manifest(tmp_path)


def test_corrupt_image_caught_on_decode(tmp_path):
    _ds(tmp_path, [_rec("a"), _rec("b")])
    (tmp_path / "b.png").write_bytes(b"not a png at all")
    assert len(load_manifest(tmp_path)) == 2  # existence check passes
    with pytest.raises(Exception, match=r"image_id='b'\) field 'image' '.*b.png': cannot decode image"):
        load_manifest(tmp_path, check_images="decode")


def test_missing_manifest(tmp_path):
    with pytest.raises(ManifestError, match="no dataset manifest at"):
        load_manifest(tmp_path / "nope")
