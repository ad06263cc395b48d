"""The EASE item–item term and its columns predicted from content for items without
interactions."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from gnn.item_item import MU_FRACTIONS, TEXT_WEIGHTS, choose_content, fit_content_map, fit_ease
from gnn.trained import content_matrix


def _communities(seed: int = 0) -> tuple[sp.csr_matrix, sp.csr_matrix, np.ndarray]:
    """40 users in two communities, 60 items (30 per community, attributes ``c-g0``,
    ``c-g1`` and ``c-s`` by community); each user holds 20 of its community's first 29
    items, so items 29 (community a) and 59 (b) have no interactions. Text features
    cluster by community."""
    rng = np.random.default_rng(seed)
    rows, cols = [], []
    for u in range(40):
        c = u // 20
        for j in rng.choice(29, 20, replace=False):
            rows.append(u)
            cols.append(30 * c + j)
    x = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(40, 60))
    attr_rows, attr_cols = [], []
    for i in range(60):
        c = i // 30
        attr_rows += [i, i]
        attr_cols += [3 * c + i % 2, 3 * c + 2]
    attrs = sp.csr_matrix((np.ones(len(attr_rows), np.float32), (attr_rows, attr_cols)),
                          shape=(60, 6))
    centres = rng.normal(size=(2, 8))
    text = centres[np.arange(60) // 30] + 0.3 * rng.normal(size=(60, 8))
    return x, attrs, text.astype(np.float32)


def test_predicted_column_follows_the_community() -> None:
    x, attrs, text = _communities()
    b = fit_ease(x, 5.0)
    warm = np.asarray(x.sum(axis=0)).ravel() > 0
    assert not warm[29] and not warm[59] and b[:, [29, 59]].sum() == 0
    content = content_matrix(attrs, text, 1.0)
    assert content.shape == (60, 6 + 8 + 1)
    np.testing.assert_allclose(np.linalg.norm(content[:, 6:14], axis=1), 1.0, rtol=1e-6)
    w = fit_content_map(b, warm, content, 1.0)
    cols = w @ content[[29, 59]].T.astype(np.float32)  # predicted B[:, 29], B[:, 59]
    scores = np.asarray(x @ cols)  # [40 users, 2 cold items]
    a_users, b_users = scores[:20], scores[20:]
    assert a_users[:, 0].min() > b_users[:, 0].max()  # the cold a item: a users first
    assert b_users[:, 1].min() > a_users[:, 1].max()


def test_choose_content_picks_from_the_grids_and_calibrates() -> None:
    x, attrs, text = _communities()
    b = fit_ease(x, 5.0)
    mu, t, scale, val = choose_content(x, b, 5.0, attrs, text, seed=3)
    n_warm = int((np.asarray(x.sum(axis=0)).ravel() > 0).sum())
    assert any(np.isclose(mu, f * n_warm) for f in MU_FRACTIONS) and t in TEXT_WEIGHTS
    assert scale > 0 and val > 0.5  # the held-out items' users are found in each community
    assert choose_content(x, b, 5.0, attrs, text, seed=3) == (mu, t, scale, val)
    mu2, t2, _, _ = choose_content(x, b, 5.0, attrs, None, seed=3)  # attributes only
    assert t2 == 0.0 and mu2 > 0
