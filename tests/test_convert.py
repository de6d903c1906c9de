import json

import pytest
from PIL import Image

from raqo_core.data import convert
from raqo_core.data.manifest import load_manifest
from raqo_core.errors import ManifestError, RAQOError


@pytest.fixture
def images(tmp_path):
    root = tmp_path / "imgs"
    (root / "sub").mkdir(parents=True)
    for n in ("1.jpg", "2.jpg", "3.jpg"):
        Image.new("RGB", (10, 10), (0, 0, 255)).save(root / "sub" / n)
    return root


def test_karpathy(tmp_path, images):
    data = {
        "dataset": "flickr30k",
        "images": [
            {"filename": "1.jpg", "filepath": "sub", "split": "train", "imgid": 0, "sentences": [{"raw": f"c{i}"} for i in range(6)]},
            {"filename": "2.jpg", "filepath": "sub", "split": "restval", "imgid": 1, "sentences": [{"raw": "x"}]},
            {"filename": "3.jpg", "filepath": "sub", "split": "test", "imgid": 2, "sentences": [{"tokens": ["a", "dog"]}]},
        ],
    }
    src = tmp_path / "dataset_flickr30k.json"
    src.write_text(json.dumps(data))
    convert.from_karpathy(src, images, tmp_path / "out")
    m = load_manifest(tmp_path / "out")
    assert [r.split for r in m.records] == ["train", "train", "test"]
    assert m.records[0].captions == ["c0", "c1", "c2", "c3", "c4"]  # 5 kept
    assert m.records[2].captions == ["a dog"]
    assert m.records[0].image == "../imgs/sub/1.jpg"  # relative to the manifest folder


def test_karpathy_bad_split(tmp_path, images):
    src = tmp_path / "k.json"
    src.write_text(json.dumps({"images": [{"filename": "1.jpg", "split": "dev", "sentences": [{"raw": "x"}]}]}))
    with pytest.raises(ManifestError, match=r"images\[0\]: unknown split 'dev'"):
        convert.from_karpathy(src, images, tmp_path / "out")


def test_coco(tmp_path, images):
    src = tmp_path / "captions.json"
    src.write_text(
        json.dumps(
            {
                "images": [{"id": 7, "file_name": "sub/1.jpg"}, {"id": 8, "file_name": "sub/2.jpg"}],
                "annotations": [{"image_id": 7, "caption": "a"}, {"image_id": 8, "caption": "b"}, {"image_id": 7, "caption": "c"}],
            }
        )
    )
    convert.from_coco(src, images, tmp_path / "out", split="val")
    m = load_manifest(tmp_path / "out")
    assert [(r.image_id, r.captions, r.split) for r in m.records] == [("7", ["a", "c"], "val"), ("8", ["b"], "val")]


def test_pairs_csv_and_jsonl(tmp_path, images):
    csv_p = tmp_path / "pairs.csv"
    csv_p.write_text("image,caption,split\nsub/1.jpg,one,train\nsub/1.jpg,uno,train\nsub/2.jpg,two,\n")
    convert.from_pairs(csv_p, tmp_path / "o1", image_root=images)
    m = load_manifest(tmp_path / "o1")
    assert [(r.image_id, r.captions, r.split) for r in m.records] == [("1", ["one", "uno"], "train"), ("2", ["two"], "test")]
    jl = tmp_path / "pairs.jsonl"
    jl.write_text('{"path": "sub/3.jpg", "text": "three"}\n')
    convert.from_pairs(jl, tmp_path / "o2", image_root=images, image_column="path", caption_column="text")
    assert load_manifest(tmp_path / "o2").records[0].captions == ["three"]
    bad = tmp_path / "bad.csv"
    bad.write_text("image,caption\nsub/1.jpg,\n")
    with pytest.raises(ManifestError, match=r"bad.csv:2: missing or empty column 'caption'"):
        convert.from_pairs(bad, tmp_path / "o3", image_root=images)
    with pytest.raises(RAQOError, match="expected a .csv or .jsonl"):
        convert.from_pairs(tmp_path / "x.txt", tmp_path / "o4")


def test_hf_dataset_from_disk(tmp_path):
    import datasets

    imgs = [Image.new("RGB", (6, 6), (i * 40, 0, 0)) for i in range(3)]
    features = datasets.Features({"img": datasets.Image(), "text": datasets.Sequence(datasets.Value("string"))})
    ds = datasets.Dataset.from_dict({"img": imgs, "text": [["a", "b"], ["c"], ["d"]]}, features=features)
    ds.save_to_disk(tmp_path / "hf")
    convert.from_hf(str(tmp_path / "hf"), tmp_path / "out", image_column="img", caption_column="text", split="test", progress=False)
    m = load_manifest(tmp_path / "out", check_images="decode")
    assert [r.captions for r in m.records] == [["a", "b"], ["c"], ["d"]]
    with pytest.raises(RAQOError, match=r"has no column 'caption'"):
        convert.from_hf(str(tmp_path / "hf"), tmp_path / "o2", image_column="img", progress=False)


def test_manifest_images_are_confined_to_the_dataset_and_its_declared_roots(tmp_path, images, monkeypatch):
    """A converted dataset declares where its images live; a hand-written '../' or absolute path is refused."""
    from raqo_core.data.manifest import ROOTS_NAME

    src = tmp_path / "pairs.csv"
    src.write_text("image,caption\nsub/1.jpg,a blue square\n")
    convert.from_pairs(src, tmp_path / "out", image_root=images)
    assert json.loads((tmp_path / "out" / ROOTS_NAME).read_text()) == {"image_roots": ["../imgs/sub"]}
    assert load_manifest(tmp_path / "out").records[0].image == "../imgs/sub/1.jpg"
    evil = tmp_path / "evil"
    evil.mkdir()
    for image in ("../imgs/sub/2.jpg", str(images / "sub" / "3.jpg")):
        (evil / "manifest.jsonl").write_text(json.dumps({"image_id": "x", "image": image, "captions": ["c"], "split": "test"}) + "\n")
        with pytest.raises(ManifestError, match=f"image path '{image}' resolves outside the dataset folder .* RAQO_ALLOW_ANY_IMAGE_PATH=1"):
            load_manifest(evil)
        assert load_manifest(evil, confine_images=False).records[0].image == image  # the explicit opt-out
    monkeypatch.setenv("RAQO_ALLOW_ANY_IMAGE_PATH", "1")
    assert len(load_manifest(evil)) == 1
    monkeypatch.delenv("RAQO_ALLOW_ANY_IMAGE_PATH")
    (evil / ROOTS_NAME).write_text(json.dumps({"image_roots": [str(images)]}))
    assert len(load_manifest(evil)) == 1  # declared by the dataset
