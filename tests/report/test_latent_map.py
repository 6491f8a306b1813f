"""The interactive latent map: inline data that is valid JSON with the right points, images in a
sprite sheet, nothing loaded from the network, a page that parses, and (with Chromium) a script
that runs and shows the image under the pointer."""
from __future__ import annotations

import base64
import io
import json
import re
import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image

from aekit.report.html import Section, page_html
from aekit.report.latent_map import latent_map_data, latent_map_html

from test_report_page import parse


def map_data(block: str, element_id: str) -> dict:
    m = re.search(rf"<script type='application/json' id='{element_id}-data'>(.*?)</script>", block, re.S)
    return json.loads(m.group(1))


def sheet_tiles(data: dict) -> np.ndarray:
    s = data["sprite"]
    sheet = np.asarray(Image.open(io.BytesIO(base64.b64decode(s["src"].split(",", 1)[1]))))
    return np.array([sheet[(k // s["cols"]) * s["h"]:(k // s["cols"] + 1) * s["h"],
                           (k % s["cols"]) * s["w"]:(k % s["cols"] + 1) * s["w"]] for k in range(len(data["points"]))])


def test_the_map_holds_every_point_with_its_own_image_and_label():
    rng = np.random.default_rng(0)
    images = rng.random((50, 1, 6, 6))
    labels = rng.integers(0, 3, 50)
    block = latent_map_html("M1", rng.normal(size=(50, 2)), labels=labels, classes=["zero", "one", "two"],
                            images=images)
    data = map_data(block, "M1")
    assert len(data["points"]) == 50 and data["n_total"] == 50 and data["axes"] == "code"
    assert data["classes"] == ["zero", "one", "two"]
    tiles = sheet_tiles(data)
    for x, y, lab, tile, i in data["points"]:
        assert tile >= 0 and data["classes"][lab] == ["zero", "one", "two"][labels[i]]
        assert np.abs(tiles[tile].astype(int) - np.round(images[i, 0] * 255)).max() <= 1  # the sample's own image


def test_many_points_are_sampled_and_the_map_says_so():
    rng = np.random.default_rng(1)
    block = latent_map_html("M1", rng.normal(size=(5000, 7)), labels=rng.integers(0, 10, 5000),
                            images=rng.random((5000, 64)), max_points=2000)
    data = map_data(block, "M1")
    idx = [p[4] for p in data["points"]]
    assert len(idx) == 2000 == len(set(idx)) and data["n_total"] == 5000
    assert "a seeded random 2,000 of the 5,000 test samples" in block
    assert "first 2 PCs of the 7-D code" in block


def test_large_images_are_shrunk_in_the_sprite_sheet():
    data = latent_map_data(np.zeros((3, 2)), images=np.random.default_rng(0).random((3, 1, 200, 200)))
    assert max(data["sprite"]["h"], data["sprite"]["w"]) <= 64


def test_table_data_has_no_pictures_but_keeps_labels():
    data = latent_map_data(np.random.default_rng(0).random((20, 2)), labels=np.arange(20) % 2,
                           images=np.zeros((20, 5)))
    assert data["sprite"] is None and all(p[3] == -1 for p in data["points"])


def test_page_has_no_external_url_parses_and_prints_the_static_scatter_only():
    rng = np.random.default_rng(0)
    block = latent_map_html("M1", rng.normal(size=(40, 2)), labels=rng.integers(0, 2, 40),
                            classes=["</script><script>alert(1)</script>", "a & b"], images=rng.random((40, 64)))
    text = page_html("t", [Section("map", blocks=[block])])
    parse(text)
    assert not re.search(r"https?:|ftp:|(src|href)\s*=\s*['\"]?//", text)  # nothing from the network
    assert "<script>alert" not in text                                   # label text cannot end the data script
    assert map_data(text, "M1")["classes"] == ["</script><script>alert(1)</script>", "a & b"]
    assert "@media print{.interactive{display:none}" in text and "class='interactive aekit-map'" in text


def test_a_bad_element_id_is_refused():
    with pytest.raises(ValueError, match="element_id"):
        latent_map_html("a'b", np.zeros((2, 2)))


@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs headless Chromium")
def test_in_chromium_the_script_runs_and_hover_shows_the_image_of_the_point(tmp_path):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 300)
    block = latent_map_html("M1", rng.normal(size=(300, 4)), labels=labels, images=rng.random((300, 64)))
    xy = np.array([p[:2] for p in map_data(block, "M1")["points"]])
    gaps = np.linalg.norm(xy[:, None] - xy[None], axis=-1) + np.eye(len(xy)) * 1e9
    k = int(gaps.min(1).argmax())  # the most isolated point: the pointer on it hovers no other
    probe = """<script>window.onerror=function(m){document.title='error '+m;};setTimeout(function(){
    var r=document.getElementById('M1'),c=r.querySelector('canvas.map'),b=c.getBoundingClientRect();
    c.dispatchEvent(new WheelEvent('wheel',{deltaY:-200,clientX:b.left+50,clientY:b.top+50}));
    var p=r.aekitPos(K);c.dispatchEvent(new MouseEvent('mousemove',{clientX:b.left+p[0],clientY:b.top+p[1]}));
    var t=r.querySelector('.tip');document.title='tip '+t.style.display+' '+t.querySelector('canvas').width+' '+
    t.querySelector('span').textContent;},300);</script>""".replace("K", str(k))
    page = tmp_path / "map.html"
    page.write_text(page_html("t", [Section("map", blocks=[block + probe])]))
    out = subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=3000", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=90).stdout
    title = re.search(r"<title>(.*?)</title>", out).group(1)
    point = map_data(block, "M1")["points"][k]
    assert 'data-ready="300"' in out
    assert title.startswith(f"tip block {8 * 12} label {labels[point[4]]} · sample {point[4]} ·"), title
