import json

import pytest

from raqo_core.errors import RAQOError
from raqo_core.io import atomic_open, atomic_write_json, read_jsonl


def test_atomic_write_leaves_old_file_on_crash(tmp_path):
    target = tmp_path / "out.json"
    atomic_write_json(target, {"v": 1})
    with pytest.raises(RuntimeError), atomic_open(target) as fh:
        fh.write('{"v": 2, "half')
        raise RuntimeError("crash mid-write")
    assert json.loads(target.read_text()) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]  # no temp file left behind


def test_read_jsonl_names_the_bad_line(tmp_path):
    p = tmp_path / "x.jsonl"
    p.write_text('{"a": 1}\n\n{"a": 2\n')
    with pytest.raises(RAQOError, match=r"x.jsonl:3: malformed JSON"):
        read_jsonl(p)
    p.write_text('{"a": 1}\n[1, 2]\n')
    with pytest.raises(RAQOError, match=r":2: expected a JSON object, got list"):
        read_jsonl(p)
