from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kgrec.errors import EncoderError
from kgrec.settings import EncoderSettings
from llm_bridge import TextEncoder

TEXTS = [
    "a funny romantic comedy",
    "a light-hearted love story",
    "a brutal war documentary",
    "Space",
    ("An astronaut stranded on Mars grows potatoes and waits for a rescue mission while "
     "the whole world watches; based on the novel by Andy Weir."),
    "detective",
    "A quiet drama about a family running a noodle shop in Tokyo over three generations.",
    "heist thriller with a twist",
]


def test_shape_dtype_norm(encoder: TextEncoder) -> None:
    x = encoder.encode(TEXTS, show_progress=False)
    assert x.shape == (len(TEXTS), 384) and x.dtype == np.float32
    assert encoder.dim == 384
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-5)
    assert encoder.device == "cpu" and encoder.model_id.endswith("all-MiniLM-L6-v2")
    assert len(encoder.fingerprint) == 64


@pytest.mark.parametrize(("anchor", "near", "far"), [
    ("a funny romantic comedy", "a light-hearted love story", "a brutal war documentary"),
    ("a heist movie about robbing a bank", "thieves plan to steal from a vault",
     "a cooking show about French pastries"),
    ("genre: Horror", "a terrifying ghost story", "a children's cartoon about ponies"),
])
def test_similar_texts_are_closer(encoder: TextEncoder, anchor: str, near: str, far: str) -> None:
    a, n, f = encoder.encode([anchor, near, far], show_progress=False)
    assert float(a @ n) > float(a @ f) + 0.05


def test_deterministic_and_batch_invariant(encoder: TextEncoder) -> None:
    x1 = encoder.encode(TEXTS, batch_size=1, show_progress=False)
    x32 = encoder.encode(TEXTS, batch_size=32, show_progress=False)
    again = encoder.encode(TEXTS, batch_size=32, show_progress=False)
    np.testing.assert_array_equal(x32, again)
    np.testing.assert_allclose(x1, x32, atol=1e-5)
    # input order is kept despite the length sort
    np.testing.assert_allclose(encoder.encode(TEXTS[::-1], show_progress=False), x32[::-1],
                               atol=1e-5)


def test_empty_and_non_utf8(encoder: TextEncoder) -> None:
    x = encoder.encode(["", "  \n\t", b"caf\xe9 au lait", "caf\ufffd au lait",
                        "tab\tand\x00nul", "tab and nul"], show_progress=False)
    assert not x[0].any() and not x[1].any()  # documented: empty text -> zero vector
    np.testing.assert_array_equal(x[2], x[3])  # bytes decoded with errors="replace"
    np.testing.assert_allclose(x[4], x[5], atol=1e-6)  # control characters -> space
    assert encoder.encode([], show_progress=False).shape == (0, 384)
    assert encoder.encode([""], show_progress=False).shape == (1, 384)


def test_long_text_is_truncated(encoder: TextEncoder) -> None:
    base = "a long story about a dragon " * 40
    x = encoder.encode([base * 1000, base], show_progress=False)
    np.testing.assert_allclose(x[0], x[1], atol=1e-5)  # both cut at max_length tokens


def test_bad_input(encoder: TextEncoder) -> None:
    with pytest.raises(EncoderError, match="single str"):
        encoder.encode("not a list")  # type: ignore[arg-type]
    with pytest.raises(EncoderError, match=r"texts\[1\]: expected str or bytes, got int"):
        encoder.encode(["ok", 3])  # type: ignore[list-item]
    with pytest.raises(EncoderError, match="kind must be"):
        encoder.encode(["ok"], kind="doc")  # type: ignore[arg-type]


def test_missing_model_path_names_it(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-model"
    with pytest.raises(EncoderError, match=str(missing)):
        TextEncoder(EncoderSettings(model=str(missing)))
    (tmp_path / "empty").mkdir()
    with pytest.raises(EncoderError, match=r"config\.json.*is missing"):
        TextEncoder(EncoderSettings(model=str(tmp_path / "empty")))
    with pytest.raises(EncoderError, match=r"'nobody/no-such-model' not found.*Hugging Face cache"):
        TextEncoder(EncoderSettings(model="nobody/no-such-model"))


def test_local_dir_prefix_and_fingerprint(encoder: TextEncoder) -> None:
    same = TextEncoder(EncoderSettings(model=encoder.model_path, device="cpu"))
    assert same.fingerprint == encoder.fingerprint  # content, not location, decides
    prefixed = TextEncoder(EncoderSettings(model=encoder.model_path, device="cpu",
                                           query_prefix="query: "))
    assert prefixed.fingerprint != encoder.fingerprint
    shorter = TextEncoder(EncoderSettings(device="cpu", max_length=32))
    assert shorter.fingerprint != encoder.fingerprint


def test_bfloat16_on_cpu_is_close_and_keyed_apart(encoder: TextEncoder) -> None:
    fast = TextEncoder(EncoderSettings(device="cpu"), dtype="bfloat16")
    assert fast.dtype == "bfloat16" and fast.fingerprint != encoder.fingerprint
    x16 = fast.encode(TEXTS, show_progress=False)
    x32 = encoder.encode(TEXTS, show_progress=False)
    assert x16.dtype == np.float32
    assert float(np.min(np.sum(x16 * x32, axis=1))) > 0.99
    with pytest.raises(EncoderError, match="float16"):
        TextEncoder(EncoderSettings(device="cpu"), dtype="float16")
