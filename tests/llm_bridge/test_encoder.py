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


def _windows_by_hand(encoder: TextEncoder, text: str) -> np.ndarray:
    """Token-mean pooled vector of ``text`` read in windows, computed with plain
    transformers (independent of the encoder's own batching and pooling code)."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(encoder.model_path, local_files_only=True)
    model = AutoModel.from_pretrained(encoder.model_path, local_files_only=True).eval()
    ids = tok(text, add_special_tokens=False, verbose=False)["input_ids"]
    body = encoder.window - 2  # [CLS] ... [SEP]
    total, tokens = torch.zeros(model.config.hidden_size), 0
    for start in range(0, len(ids), body):
        window = [tok.cls_token_id, *ids[start:start + body], tok.sep_token_id]
        with torch.inference_mode():
            hidden = model(input_ids=torch.tensor([window])).last_hidden_state[0]
        total += hidden.sum(dim=0)
        tokens += len(window)
    mean = (total / tokens).numpy()
    return mean / np.linalg.norm(mean)


LONG = ("This sturdy stapler binds up to forty sheets and never jams. The steel base keeps "
        "it steady on the desk while the soft grip spares the hand. Refills load from the "
        "top, and a gauge shows how many staples are left. It comes in black, blue or red, "
        "with a box of one thousand staples and a five year warranty. ")


@pytest.fixture(scope="module")
def small_window() -> TextEncoder:
    """The packaged model reading every 16-token window, so that chunking is cheap to test."""
    return TextEncoder(EncoderSettings(device="cpu", max_length=16), long_text="chunk")


def test_long_text_is_the_pooled_embedding_of_its_windows(small_window: TextEncoder) -> None:
    (x,) = small_window.encode([LONG], show_progress=False)
    report = small_window.length_report([LONG])
    assert report.over_window == 1 and report.windows > 4
    np.testing.assert_allclose(x, _windows_by_hand(small_window, LONG), atol=1e-5)
    # the second half of the text now counts: the vector differs from the first window's
    first = TextEncoder(EncoderSettings(device="cpu", max_length=16))
    assert float(x @ first.encode([LONG], show_progress=False)[0]) < 0.99


@pytest.fixture(scope="module")
def chunking() -> TextEncoder:
    """The packaged model with its 128-token window, reading every window."""
    return TextEncoder(EncoderSettings(device="cpu"), long_text="chunk")


def test_short_text_is_unchanged_by_chunking(encoder: TextEncoder, chunking: TextEncoder
                                             ) -> None:
    assert encoder.long_text == "truncate"  # the default
    short = [t for t in TEXTS if chunking.length_report([t]).over_window == 0]
    assert short == TEXTS  # all of them fit the 128-token window
    np.testing.assert_allclose(chunking.encode(short, show_progress=False),
                               encoder.encode(short, show_progress=False), atol=1e-6)
    np.testing.assert_allclose(chunking.encode(TEXTS[4:5], show_progress=False)[0],
                               _windows_by_hand(chunking, TEXTS[4]), atol=1e-5)
    assert chunking.fingerprint != encoder.fingerprint


def test_long_text_with_default_window_matches_by_hand(chunking: TextEncoder) -> None:
    text = LONG * 3  # about 220 word pieces: two 128-token windows
    assert chunking.length_report([text]).windows == 2
    np.testing.assert_allclose(chunking.encode([text], show_progress=False)[0],
                               _windows_by_hand(chunking, text), atol=1e-5)


def test_truncate_keeps_the_first_window_only(encoder: TextEncoder) -> None:
    base = "a long story about a dragon " * 40
    x = encoder.encode([base * 1000, base], show_progress=False)
    np.testing.assert_allclose(x[0], x[1], atol=1e-5)  # both cut at the 128-token window
    report = encoder.length_report([base, "a dragon"])
    assert (report.over_window, report.windows, report.long_text) == (1, 2, "truncate")
    with pytest.raises(EncoderError, match="long_text must be"):
        TextEncoder(EncoderSettings(device="cpu"), long_text="summarise")  # type: ignore[arg-type]


def test_length_report_counts_texts_over_the_window(small_window: TextEncoder) -> None:
    texts = ["a stapler", LONG, "", "word " * 3_000, b"blue ink"]
    report = small_window.length_report(texts)
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(small_window.model_path, local_files_only=True)
    pieces = [len(tok(t, add_special_tokens=False, verbose=False)["input_ids"])
              for t in small_window.prepare(texts) if t]
    by_hand = [-(-n // (16 - 2)) for n in pieces]  # ceil: 14 word pieces per window
    assert by_hand[0] == by_hand[3] == 1 and by_hand[1] > 1 and by_hand[2] > 1
    assert (report.texts, report.over_window, report.clipped) == (4, 2, 1)
    assert report.windows == sum(by_hand)
    assert report.window == small_window.window == 16
    assert report.share == 0.5 and report.as_dict()["long_text"] == "chunk"
    assert small_window.length_report([]).share == 0.0


def test_window_is_capped_by_the_model_positions() -> None:
    wide = TextEncoder(EncoderSettings(device="cpu", max_length=4096))
    assert wide.window == 512  # MiniLM has 512 position embeddings
    (x,) = wide.encode([LONG * 30], show_progress=False)
    assert np.isfinite(x).all() and abs(float(np.linalg.norm(x)) - 1.0) < 1e-5


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
