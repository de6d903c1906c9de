"""The embedded benchmark: procedurally rendered scenes with two caption registers.

Each 64×64 image shows two objects (colour, shape, size, fill) in a spatial relation.
*Plain* captions use the vocabulary the embedded retriever is trained on; *user*
captions are what people type: rarer synonyms, verbose framing and distractor words.
Training captions are plain with a small rate of "seen" rare forms, so the retriever
half-knows them; a *held-out* set of rare forms never appears in training captions and
is used only by the ``transfer`` register (the transfer split).

Rendering is deterministic per ``(seed, split, index)``. The synonym tables below are the
generator's private ground truth: RAQO's agents must not read them.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from raqo_core.data.manifest import Record, write_manifest
from raqo_core.errors import RAQOError
from raqo_core.io import atomic_write_json

GENERATOR_VERSION = "1"

# plain word -> (seen rare forms, held-out rare forms)
_COLOURS: dict[str, tuple[tuple[int, int, int], list[str], list[str]]] = {
    "red": ((220, 30, 30), ["crimson", "scarlet"], ["vermilion"]),
    "blue": ((30, 60, 220), ["azure", "cobalt"], ["cerulean"]),
    "green": ((30, 170, 50), ["emerald", "verdant"], ["viridian"]),
    "yellow": ((235, 210, 20), ["golden", "lemon"], ["canary"]),
    "purple": ((130, 40, 170), ["violet", "lilac"], ["amethyst"]),
    "orange": ((245, 130, 20), ["amber", "tangerine"], ["apricot"]),
    "black": ((20, 20, 20), ["ebony", "jet"], ["onyx"]),
    "pink": ((245, 120, 190), ["rose", "fuchsia"], ["magenta"]),
}
_SHAPES: dict[str, tuple[list[str], list[str]]] = {
    "circle": (["orb", "disk"], ["sphere"]),
    "square": (["block", "tile"], ["cube"]),
    "triangle": (["pyramid", "wedge"], ["delta"]),
    "star": (["pentagram", "asterisk"], ["starburst"]),
    "diamond": (["rhombus", "lozenge"], ["rhomb"]),
    "cross": (["plus", "cruciform"], ["crosshair"]),
}
_SIZES: dict[str, tuple[list[str], list[str]]] = {
    "large": (["huge", "giant"], ["enormous"]),
    "small": (["tiny", "little"], ["miniature"]),
}
_FILLS: dict[str, tuple[list[str], list[str]]] = {
    "solid": (["filled", "opaque"], ["shaded"]),
    "outline": (["hollow", "outlined"], ["unfilled"]),
}
# relation of A to B -> (inverse, seen rare forms, held-out rare forms)
_RELATIONS: dict[str, tuple[str, list[str], list[str]]] = {
    "left of": ("right of", ["to the west of", "on the left side of"], ["leftward of"]),
    "right of": ("left of", ["to the east of", "on the right side of"], ["rightward of"]),
    "above": ("below", ["on top of", "over"], ["higher than"]),
    "below": ("above", ["under", "beneath"], ["lower than"]),
}
_FRAMINGS = [
    "i'm looking for a picture showing {x}",
    "can you find me an image of {x}",
    "show me {x} please",
    "a photo where there is {x}",
    "i need the one with {x}",
    "{x}, i think",
]
_DISTRACTORS = ["nice", "cool", "pretty", "simple", "lovely"]


@dataclass(frozen=True)
class SynthConfig:
    """Sizes and rates of the embedded benchmark (defaults fit a 2-core CPU)."""

    seed: int = 0
    n_train: int = 6000
    n_val: int = 500
    n_test: int = 1000
    image_size: int = 64
    captions_per_image: int = 5
    transfer_per_image: int = 2
    train_rare_rate: float = 0.1
    user_rare_rate: float = 0.6
    framing_rate: float = 0.5
    distractor_rate: float = 0.3

    def validate(self) -> None:
        for name in ("n_train", "n_val", "n_test"):
            if getattr(self, name) < 0:
                raise RAQOError(f"SynthConfig.{name} must be >= 0, got {getattr(self, name)}")
        if self.image_size < 32:
            raise RAQOError(f"SynthConfig.image_size must be >= 32 pixels, got {self.image_size}")
        for name in ("train_rare_rate", "user_rare_rate", "framing_rate", "distractor_rate"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise RAQOError(f"SynthConfig.{name} must be in [0, 1], got {v}")
        if self.captions_per_image < 1 or self.captions_per_image > 5:
            raise RAQOError(f"SynthConfig.captions_per_image must be in 1..5, got {self.captions_per_image}")


@dataclass(frozen=True)
class Obj:
    colour: str
    shape: str
    size: str
    fill: str


@dataclass(frozen=True)
class Scene:
    a: Obj
    b: Obj
    relation: str  # relation of a to b
    bg: tuple[int, int, int]
    jitter: tuple[int, int, int, int]


def sample_scene(rng: random.Random) -> Scene:
    def obj() -> Obj:
        return Obj(rng.choice(list(_COLOURS)), rng.choice(list(_SHAPES)), rng.choice(list(_SIZES)), rng.choice(list(_FILLS)))

    a = obj()
    b = obj()
    while b == a:
        b = obj()
    g = rng.randint(215, 245)
    bg = (g + rng.randint(-8, 8), g + rng.randint(-8, 8), g + rng.randint(-8, 8))
    jitter = tuple(rng.randint(-4, 4) for _ in range(4))
    return Scene(a, b, rng.choice(list(_RELATIONS)), bg, jitter)  # type: ignore[arg-type]


def _draw_obj(draw: Any, o: Obj, cx: float, cy: float, scale: float) -> None:
    import math

    r = (12.0 if o.size == "large" else 6.5) * scale
    colour = _COLOURS[o.colour][0]
    solid = o.fill == "solid"
    width = max(1, round(2 * scale))
    fill = colour if solid else None
    if o.shape == "circle":
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fill, outline=colour, width=width)
    elif o.shape == "square":
        s = r * 0.9
        draw.rectangle([cx - s, cy - s, cx + s, cy + s], fill=fill, outline=colour, width=width)
    elif o.shape == "triangle":
        pts = [(cx, cy - r), (cx + r, cy + r * 0.85), (cx - r, cy + r * 0.85)]
        draw.polygon(pts, fill=fill, outline=colour, width=width)
    elif o.shape == "diamond":
        pts = [(cx, cy - r), (cx + r * 0.75, cy), (cx, cy + r), (cx - r * 0.75, cy)]
        draw.polygon(pts, fill=fill, outline=colour, width=width)
    elif o.shape == "star":
        pts = []
        for k in range(10):
            rad = r if k % 2 == 0 else r * 0.45
            ang = -math.pi / 2 + k * math.pi / 5
            pts.append((cx + rad * math.cos(ang), cy + rad * math.sin(ang)))
        draw.polygon(pts, fill=fill, outline=colour, width=width)
    elif o.shape == "cross":
        t = r * 0.38
        pts = [
            (cx - t, cy - r),
            (cx + t, cy - r),
            (cx + t, cy - t),
            (cx + r, cy - t),
            (cx + r, cy + t),
            (cx + t, cy + t),
            (cx + t, cy + r),
            (cx - t, cy + r),
            (cx - t, cy + t),
            (cx - r, cy + t),
            (cx - r, cy - t),
            (cx - t, cy - t),
        ]
        draw.polygon(pts, fill=fill, outline=colour, width=width)
    else:  # pragma: no cover - tables and drawing are kept in sync
        raise AssertionError(o.shape)


def render_scene(scene: Scene, size: int = 64) -> Any:
    """Render a scene as an RGB PIL image of ``size``×``size`` pixels."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (size, size), scene.bg)
    draw = ImageDraw.Draw(img)
    scale = size / 64.0
    j = [v * scale for v in scene.jitter]
    lo, hi, mid = 18 * scale, 46 * scale, 32 * scale
    if scene.relation in ("left of", "right of"):
        pa, pb = (lo + j[0], mid + j[1]), (hi + j[2], mid + j[3])
        if scene.relation == "right of":
            pa, pb = (hi + j[0], mid + j[1]), (lo + j[2], mid + j[3])
    else:
        pa, pb = (mid + j[0], lo + j[1]), (mid + j[2], hi + j[3])
        if scene.relation == "below":
            pa, pb = (mid + j[0], hi + j[1]), (mid + j[2], lo + j[3])
    _draw_obj(draw, scene.a, *pa, scale)
    _draw_obj(draw, scene.b, *pb, scale)
    return img


# --- captions -----------------------------------------------------------------------------

_DETAIL_FULL, _DETAIL_MID, _DETAIL_SHORT = 3, 2, 1


class _Wording:
    """Picks a surface form for each concept word: plain, a seen rare form, or a held-out one."""

    def __init__(self, rng: random.Random, rare_rate: float, held_out: int = 0) -> None:
        self.rng = rng
        self.rare_rate = rare_rate
        self.held_out_left = held_out
        self.used_held_out: list[str] = []
        self.used_rare: list[str] = []

    def pick(self, plain: str, seen: list[str], held: list[str]) -> str:
        if self.held_out_left > 0 and held and self.rng.random() < 0.5:
            self.held_out_left -= 1
            w = self.rng.choice(held)
            self.used_held_out.append(w)
            return w
        if seen and self.rng.random() < self.rare_rate:
            w = self.rng.choice(seen)
            self.used_rare.append(w)
            return w
        return plain

    def obj(self, o: Obj, detail: int) -> str:
        colour = self.pick(o.colour, *_COLOURS[o.colour][1:])
        shape = self.pick(o.shape, *_SHAPES[o.shape])
        words = [colour, shape]
        if detail >= _DETAIL_MID:
            words.insert(0, self.pick(o.size, *_SIZES[o.size]))
        if detail >= _DETAIL_FULL:
            words.insert(1, self.pick(o.fill, *_FILLS[o.fill]))
        return "a " + " ".join(words)

    def rel(self, relation: str) -> str:
        _, seen, held = _RELATIONS[relation]
        return self.pick(relation, seen, held)


def _caption_plan(n: int) -> list[tuple[bool, int, int]]:
    """(a first?, detail of first, detail of second) for the 5 caption slots."""
    return [(True, 3, 3), (False, 3, 3), (True, 2, 2), (False, 2, 1), (True, 1, 2)][:n]


def _caption(scene: Scene, plan: tuple[bool, int, int], w: _Wording) -> str:
    a_first, d1, d2 = plan
    first, second = (scene.a, scene.b) if a_first else (scene.b, scene.a)
    rel = scene.relation if a_first else _RELATIONS[scene.relation][0]
    return f"{w.obj(first, d1)} {w.rel(rel)} {w.obj(second, d2)}"


def _userise(text: str, rng: random.Random, cfg: SynthConfig) -> str:
    if rng.random() < cfg.distractor_rate:
        words = text.split(" ")
        idx = [i for i, t in enumerate(words) if t == "a"]
        k = rng.choice(idx)
        words.insert(k + 1, rng.choice(_DISTRACTORS))
        text = " ".join(words)
    if rng.random() < cfg.framing_rate:
        text = rng.choice(_FRAMINGS).format(x=text)
    return text


def captions_for(scene: Scene, rng: random.Random, cfg: SynthConfig, split: str) -> tuple[list[str], dict[str, list[str]]]:
    """Plain captions (with the training rare-form rate on the train split) and registers."""
    plans = _caption_plan(cfg.captions_per_image)
    plain_rate = cfg.train_rare_rate if split == "train" else 0.0
    captions = [_caption(scene, p, _Wording(rng, plain_rate)) for p in plans]
    user: list[str] = []
    for p in plans:
        for _ in range(20):  # a user query should differ from the plain wording somewhere
            w = _Wording(rng, cfg.user_rare_rate)
            text = _caption(scene, p, w)
            if w.used_rare or cfg.user_rare_rate == 0.0:
                break
        user.append(_userise(text, rng, cfg))
    registers = {"user": user}
    if split == "test" and cfg.transfer_per_image:
        transfer = []
        for k in range(cfg.transfer_per_image):
            p = plans[k % len(plans)]
            for _ in range(50):
                w = _Wording(rng, cfg.user_rare_rate * 0.5, held_out=2)
                text = _caption(scene, p, w)
                if w.used_held_out:
                    break
            transfer.append(_userise(text, rng, cfg))
        registers["transfer"] = transfer
    if split == "test":
        registers["oracle"] = [_caption(scene, p, _Wording(rng, 0.0)) for p in plans]
    return captions, registers


def generate(out: str | Path, cfg: SynthConfig | None = None, *, progress: bool = True) -> Path:
    """Render the benchmark into ``out`` (images/ + manifest.jsonl + benchmark.json)."""
    cfg = cfg or SynthConfig()
    cfg.validate()
    out = Path(out)
    (out / "images").mkdir(parents=True, exist_ok=True)
    records: list[Record] = []
    total = cfg.n_train + cfg.n_val + cfg.n_test
    bar = tqdm(total=total, desc="rendering embedded benchmark", disable=not progress, unit="img")
    for split, n in (("train", cfg.n_train), ("val", cfg.n_val), ("test", cfg.n_test)):
        for i in range(n):
            rng = random.Random(f"raqo-synth-{GENERATOR_VERSION}-{cfg.seed}-{split}-{i}")
            scene = sample_scene(rng)
            captions, registers = captions_for(scene, rng, cfg, split)
            image_id = f"{split}-{i:06d}"
            rel = f"images/{image_id}.png"
            img = render_scene(scene, cfg.image_size)
            tmp = out / f"{rel}.tmp.png"
            img.save(tmp, format="PNG", optimize=False)
            tmp.replace(out / rel)
            records.append(Record(image_id, rel, captions, split, registers))
            bar.update(1)
    bar.close()
    write_manifest(out, records)
    atomic_write_json(out / "benchmark.json", {"generator": "raqo-embedded", "version": GENERATOR_VERSION, **asdict(cfg)})
    return out / "manifest.jsonl"


def held_out_vocabulary() -> set[str]:
    """Held-out rare forms (for analysis and tests only; agents must not use this)."""
    words: set[str] = set()
    for _, _, held in _COLOURS.values():
        words.update(held)
    for tbl in (_SHAPES, _SIZES, _FILLS):
        for _, held in tbl.values():
            words.update(held)
    for _, _, held in _RELATIONS.values():
        words.update(held)
    return words
